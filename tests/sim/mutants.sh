#!/bin/sh
# Proves the simulator has teeth: for each planted bug NAME (a compile-time
# switch RC_MUTANT_NAME in raftcore/), builds raftcore and the simulator
# into $B/mutant-<name>/ and runs seeds until one fails, printing
#   MUTANT NAME caught by seed S     or     MUTANT NAME SURVIVED
# Exits non-zero if any mutant survived. Called by `make sim-mutants`, which
# passes MAKE, B, CFLAGS, SIM_JOBS, SIM_MUTANT_SEEDS and SIM_MUTANT_SECONDS.
set -u
: "${MAKE:=make}" "${B:=build/default}" "${CFLAGS:=}" "${SIM_JOBS:=2}"
: "${SIM_MUTANT_SEEDS:=3000}" "${SIM_MUTANT_SECONDS:=60}"
[ $# -gt 0 ] || { echo "usage: $0 NAME..." >&2; exit 2; }

dir_of() { echo "$B/mutant-$(echo "$1" | tr 'A-Z' 'a-z')"; }

# Build them all first: one make per mutant, each in its own build dir, and
# the unmutated simulator as the baseline (a seed that fails there too does
# not count as catching a mutant).
base="$B/tests/sim/sim"
$MAKE --no-print-directory -j"$SIM_JOBS" "$base" >/dev/null ||
	{ echo "sim-mutants: building $base failed" >&2; exit 2; }
for m in "$@"; do
	if ! grep -rqs "RC_MUTANT_$m\b" raftcore/; then
		continue
	fi
	d=$(dir_of "$m")
	$MAKE --no-print-directory -j"$SIM_JOBS" B="$d" CFLAGS="$CFLAGS -DRC_MUTANT_$m" \
		"$d/tests/sim/sim" >"$d.log" 2>&1 ||
		{ mkdir -p "$d"; echo "sim-mutants: building $m failed, see $d.log" >&2; exit 2; }
done

survived=0
for m in "$@"; do
	if ! grep -rqs "RC_MUTANT_$m\b" raftcore/; then
		echo "MUTANT $m SURVIVED (no switch RC_MUTANT_$m in raftcore/)"
		survived=$((survived + 1))
		continue
	fi
	d=$(dir_of "$m")
	"$d/tests/sim/sim" --seeds="$SIM_MUTANT_SEEDS" --start=1 --jobs="$SIM_JOBS" --until-fail \
		--time-limit="$SIM_MUTANT_SECONDS" --mutant="$m" --baseline="$base" --quiet ||
		survived=$((survived + 1))
done
[ "$survived" -eq 0 ] || { echo "sim-mutants: $survived mutant(s) survived" >&2; exit 1; }
echo "sim-mutants: every planted bug was caught"
