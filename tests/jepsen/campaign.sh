#!/usr/bin/env bash
# Campaigns of fault-harness runs (tests/jepsen/run.sh) and their summary.
#
#   tests/jepsen/campaign.sh full    BIN OUT   make jepsen: RUNS runs (default 10)
#                                              of SECONDS (default 300) on 5 nodes,
#                                              every fault kind, every workload
#   tests/jepsen/campaign.sh short   BIN OUT   make test: one 3-node run with a fixed
#                                              schedule (partitions, kills, pauses)
#   tests/jepsen/campaign.sh mutants BIN OUT   make jepsen-mutants: each planted bug
#                                              (a cairnd built with -DCAIRN_MUTANT_X,
#                                              in BIN/jmut-x/) must fail its run
#   tests/jepsen/campaign.sh mutants-short BIN OUT   the same with 30 s runs (make test)
#
# BIN is the build directory (cairnd and tests/jepsen/ tools). Environment:
# SEED (the first run's seed; default random, printed), RUNS, SECONDS_PER_RUN,
# NODES. Every run's files stay in OUT/<run>/; the summary table goes to
# OUT/summary.txt and to stdout. Exit 0 only if every run passed (for
# mutants: only if every planted bug was caught).
set -u

# The whole script is one block, parsed before it runs: editing this file
# while a campaign runs cannot change what the running shell executes.
{

here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-}
BIN=${2:-}
OUT=${3:-}
[ -n "$mode" ] && [ -n "$BIN" ] && [ -n "$OUT" ] || {
	echo "usage: campaign.sh full|short|mutants|mutants-short BIN OUT" >&2
	exit 2
}
SEED=${SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}

# Jepsen needs root for its namespaces. Elsewhere (a developer's shell),
# the short campaign says so and steps aside; CI runs as root and
# JEPSEN_REQUIRED=1 turns the skip into a failure.
if [ "$(id -u)" -ne 0 ]; then
	case "$mode" in short | *-short) can_skip=1 ;; *) can_skip=0 ;; esac
	if [ "${JEPSEN_REQUIRED:-0}" = 1 ] || [ $can_skip = 0 ]; then
		echo "jepsen: needs root (network namespaces, iptables)" >&2
		exit 2
	fi
	echo "jepsen: SKIPPED (needs root for network namespaces; CI runs it as root)"
	exit 0
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/results.tsv"

run() {
	local name=$1
	shift
	"$here/run.sh" --bin "$BIN" --out "$OUT/$name" --name "$name" "$@"
	local rc=$?
	[ -f "$OUT/$name/result.tsv" ] && cat "$OUT/$name/result.tsv" >>"$OUT/results.tsv"
	return $rc
}

# The table: one row per run and workload, then the totals per workload.
summary() {
	{
		echo "jepsen summary ($1)"
		awk -F'\t' '
		BEGIN {
			fmt = "%-14s %-9s %5s %6s %8s %8s %6s %6s %6s %8s  %s\n"
			printf fmt, "run", "workload", "nodes", "secs", "ops", "ok", "fail", "info", "faults", "check_ms", "verdict"
		}
		{
			printf fmt, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
			w = $2; runs[w]++; ops[w] += $5; ok[w] += $6; fl[w] += $7; info[w] += $8
			faults[w] += $9; ms[w] += $10; if ($11 == "valid") good[w]++
		}
		END {
			print ""
			printf "%-9s %5s %8s %8s %7s %7s %7s %9s  %s\n", "workload", "runs", "ops", "ok", "fail", "info", "faults", "check_ms", "verdict"
			for (w in runs)
				printf "%-9s %5d %8d %8d %7d %7d %7d %9d  %s\n", w, runs[w], ops[w], ok[w], fl[w], info[w], faults[w], ms[w],
					(good[w] == runs[w] ? "valid in every run" : (runs[w] - good[w]) " run(s) NOT valid")
		}' "$OUT/results.tsv"
		echo
		echo "faults injected, by kind:"
		cat "$OUT"/*/nemesis.log 2>/dev/null | sed -n 's/^ *[0-9.]* [0-9:.]* start \([a-z-]*\):.*/\1/p' |
			sort | uniq -c | awk '{printf "  %-15s %d\n", $2, $1}'
	} | tee "$OUT/summary.txt"
}

ALL_FAULTS="isolate-leader halves bridge one-way loss kill-leader kill-random pause-leader pause-random"

case "$mode" in
full)
	RUNS=${RUNS:-10}
	SECS=${SECONDS_PER_RUN:-300}
	NODES=${NODES:-5}
	echo "jepsen: full campaign, $RUNS runs of ${SECS}s on $NODES nodes, first seed $SEED"
	failed=0
	for r in $(seq 1 "$RUNS"); do
		run "$(printf 'run-%02d' "$r")" --nodes "$NODES" --duration "$SECS" \
			--seed $((SEED + r - 1)) --faults "$ALL_FAULTS" || failed=$((failed + 1))
	done
	summary "$RUNS runs of ${SECS}s, $NODES nodes, seeds $SEED..$((SEED + RUNS - 1))"
	[ $failed -eq 0 ] || { echo "jepsen: $failed run(s) failed"; exit 1; }
	echo "jepsen: every run passed"
	;;
short)
	# Every kind of fault at least once, in a fixed order, on 3 nodes.
	run short --nodes 3 --duration "${SECONDS_PER_RUN:-50}" --seed "$SEED" --hold 3-4 --calm 2-3 \
		--schedule "isolate-leader kill-leader pause-leader halves+kill-random one-way loss bridge+pause-random"
	rc=$?
	summary "short: 3 nodes, seed $SEED"
	exit $rc
	;;
mutants | mutants-short)
	[ "$mode" = mutants ] || SECONDS_PER_RUN=${SECONDS_PER_RUN:-30}
	# Each planted bug, the run that targets it: its fault, repeated.
	survived=0
	for spec in \
		"LEADER_LOCAL_READ|register|isolate-leader+pause-leader" \
		"ACK_BEFORE_COMMIT|set register|isolate-leader" \
		"APPLY_BEFORE_MAJORITY|register set|isolate-leader" \
		"FOLLOWER_LOCAL_READ|register|halves"; do
		IFS='|' read -r m workloads fault <<<"$spec"
		lower=$(echo "$m" | tr 'A-Z' 'a-z')
		cairnd=$BIN/jmut-$lower/cairnd
		sched=""
		for _ in $(seq 1 8); do sched="$sched $fault"; done
		caught=""
		for attempt in 1 2 3; do
			name="mutant-$lower-$attempt"
			run "$name" --cairnd "$cairnd" --nodes 3 --duration "${SECONDS_PER_RUN:-60}" \
				--seed $((SEED + attempt - 1)) --workloads "$workloads" --schedule "$sched" \
				--hold 4-5 --calm 2-3 >"$OUT/$name.log" 2>&1
			rc=$?
			# Caught means a checker found an anomaly, not that a node
			# crashed or the harness broke.
			how=$(awk -F'\t' -v r="$name" '$1 == r && $11 == "invalid" {printf "%s%s=%s", sep, $2, $11; sep=", "}' "$OUT/results.tsv")
			if [ -n "$how" ]; then
				caught=$name
				break
			fi
			[ $rc -eq 0 ] || { echo "MUTANT $m: run $name failed without an anomaly (status $rc; $OUT/$name.log)"; break; }
		done
		if [ -n "$caught" ]; then
			echo "MUTANT $m caught by run $caught (seed $((SEED + attempt - 1)); $how)" | tee -a "$OUT/summary.txt"
		else
			echo "MUTANT $m SURVIVED" | tee -a "$OUT/summary.txt"
			survived=$((survived + 1))
		fi
	done
	[ $survived -eq 0 ] || { echo "jepsen-mutants: $survived planted bug(s) survived"; exit 1; }
	echo "jepsen-mutants: every planted bug was caught"
	;;
*)
	echo "campaign.sh: unknown mode '$mode'" >&2
	exit 2
	;;
esac
exit
}
