#!/usr/bin/env bash
# Runs the integration tests: real cairnd processes on loopback.
#
#   tests/integration/run.sh CAIRND [PEER_FLOOD] [-- t_name ...]
#
# Runs every tests/integration/t_*.sh (or the ones named after --), one at a
# time, each under a time limit (IT_TEST_TIMEOUT seconds, default 100, times
# 3 for a sanitizer build). Prints one line per test, then exactly
#   integration: N passed, N failed
# and exits non-zero if any failed. A failing test's output (its reason and
# the tail of every node log) is printed below its line; its directory
# (logs, data) is kept under IT_WORK (default: next to CAIRND, it/).
# IT_VERBOSE=1 prints every test's output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 CAIRND [PEER_FLOOD] [-- t_name ...]" >&2; exit 2; }
CAIRND=$1
shift
case "$CAIRND" in /*) ;; *) CAIRND=$PWD/$CAIRND ;; esac
PEER_FLOOD=$(dirname "$CAIRND")/tests/tools/peer_flood
if [ $# -ge 1 ] && [ "$1" != -- ]; then
	PEER_FLOOD=$1
	shift
	case "$PEER_FLOOD" in /*) ;; *) PEER_FLOOD=$PWD/$PEER_FLOOD ;; esac
fi
[ "${1:-}" = -- ] && shift
[ -x "$CAIRND" ] || { echo "integration: no cairnd at $CAIRND" >&2; exit 2; }
for tool in curl ss timeout sed awk; do
	command -v "$tool" >/dev/null || { echo "integration: '$tool' is needed" >&2; exit 2; }
done

if [ -z "${IT_SLOW:-}" ]; then
	IT_SLOW=1
	grep -qa -e AddressSanitizer -e UndefinedBehaviorSanitizer -e __asan_init -e __ubsan_handle "$CAIRND" && IT_SLOW=3
fi
IT_WORK=${IT_WORK:-$(dirname "$CAIRND")/it}
export CAIRND PEER_FLOOD IT_SLOW IT_WORK
mkdir -p "$IT_WORK"
# Two runs sharing IT_WORK would wipe each other's directories and
# clusters: the second waits for the first.
if command -v flock >/dev/null; then
	exec 9>"$IT_WORK/.lock"
	if ! flock -n 9; then
		echo "integration: another run is using $IT_WORK; waiting for it (at most 10 min)"
		flock -w 600 9 || { echo "integration: $IT_WORK still busy" >&2; exit 2; }
	fi
fi

if [ $# -gt 0 ]; then
	tests=""
	for t in "$@"; do tests="$tests $here/${t%.sh}.sh"; done
else
	tests=$(ls "$here"/t_*.sh)
fi
limit=$((${IT_TEST_TIMEOUT:-100} * IT_SLOW))

passed=0 failed=0 failed_names=""
t_all=${EPOCHREALTIME/./}
for t in $tests; do
	name=$(basename "$t" .sh)
	out=$IT_WORK/$name.out
	t0=${EPOCHREALTIME/./}
	timeout -k 10 "$limit" bash "$t" >"$out" 2>&1
	rc=$?
	t1=${EPOCHREALTIME/./}
	# Safety net: a test killed by the time limit had no chance to stop
	# its cluster.
	for d in "$IT_WORK/$name"/cluster*; do
		[ -f "$d/cluster.env" ] && "$here/../../deploy/cluster.sh" stop --dir "$d" >/dev/null 2>&1
	done
	secs=$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1e6 }')
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		printf 'ok    %-50s %6ss\n' "$name" "$secs"
		[ "${IT_VERBOSE:-0}" = 1 ] && sed 's/^/      /' "$out"
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		why=""
		[ $rc -eq 124 ] && why=" (killed after ${limit}s)"
		printf 'FAIL  %-50s %6ss%s\n' "$name" "$secs" "$why"
		sed 's/^/      /' "$out"
	fi
done
t_end=${EPOCHREALTIME/./}
total=$(awk -v d=$((t_end - t_all)) 'BEGIN { printf "%.0f", d / 1e6 }')
[ $failed -gt 0 ] && echo "failed:$failed_names (${total}s in all)" || echo "(${total}s in all)"
echo "integration: $passed passed, $failed failed"
[ $failed -eq 0 ]
