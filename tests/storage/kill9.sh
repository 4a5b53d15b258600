#!/bin/sh
# kill -9 test for storage: starts `killer run DIR`, which appends and
# prints each durable index, kills it with SIGKILL at a random moment,
# checks with `killer check` that every entry it reported durable is there,
# and repeats ROUNDS times on the same directory.
#   kill9.sh KILLER DIR ROUNDS [SEED]
# The delays come from SEED (printed); the same seed gives the same delays
# (what the killed process had done by then still depends on timing).
set -eu
killer=$1
dir=$2
rounds=$3
seed=${4:-$(date +%s)}
echo "kill9: seed $seed, $rounds rounds (replay: $0 $killer $dir $rounds $seed)"
rm -rf "$dir" "$dir.out"
state=$seed
r=1
while [ "$r" -le "$rounds" ]; do
	state=$(( (state * 1103515245 + 12345) % 2147483648 ))
	ms=$(( 30 + state % 400 ))
	"$killer" run "$dir" >"$dir.out" &
	pid=$!
	sleep "$(printf '0.%03d' "$ms")"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	max=$(awk '/^durable/ { m = $2 } END { print m + 0 }' "$dir.out")
	if ! out=$("$killer" check "$dir" "$max" 2>&1); then
		echo "$out"
		echo "kill9: FAILED in round $r after ${ms} ms (seed $seed)"
		exit 1
	fi
	r=$((r + 1))
done
echo "kill9: $rounds kills, every reported durable entry present ($out)"
rm -rf "$dir" "$dir.out"
