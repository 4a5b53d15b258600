#!/usr/bin/env bash
# One run of the fault harness: a cluster in network namespaces
# (netns.sh), a client per workload recording a history (jepsen-client),
# the nemesis for the run's duration (nemesis.sh), then heal, final reads
# and the checkers (jepsen-check).
#
#   tests/jepsen/run.sh --bin DIR --out DIR [options]
#     --bin DIR          where cairnd and tests/jepsen/jepsen-{client,check} are
#     --cairnd PATH      a different cairnd (a planted-bug build)
#     --out DIR          the run's files: run.log, nemesis.log, node-I.log,
#                        WORKLOAD.history, WORKLOAD.check, result.tsv
#     --nodes N          cluster size (default 5)
#     --duration S       seconds of faults and operations (default 60)
#     --seed S           the nemesis' and the clients' seed (default: random, printed)
#     --workloads "..."  default "register set"
#     --faults "..."     the faults to draw from (nemesis.sh lists them)
#     --schedule "..."   run these faults in order instead ("a+b": together)
#     --hold A-B         seconds a fault lasts (default 3-8)
#     --calm A-B         seconds between faults (default 2-4)
#     --clients N        client threads per workload (default 10)
#     --rate R           operations per second per client (default 20)
#     --name NAME        the run's name in result.tsv (default: the out dir's name)
#
# result.tsv gets one line per workload:
#   name workload nodes seconds ops ok fail info faults check_ms verdict
# Exit: 0 every checker said valid; 1 an anomaly, a crashed node or a
# sanitizer report; 2 the harness itself failed. The namespaces are always
# removed on exit, also after a failure or Ctrl-C.
set -u

# The whole script is one block, parsed before it runs: editing this file
# while a campaign runs cannot change what the running shell executes.
{

here=$(cd "$(dirname "$0")" && pwd)
. "$here/netns.sh"
. "$here/nemesis.sh"

BIN="" CAIRND="" OUT="" NODES=5 DURATION=60 SEED="" WORKLOADS="register set"
SCHEDULE="" CLIENTS=10 RATE=20 NAME="" HOLD=3-8 CALM=2-4
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) BIN=$2; shift 2 ;;
	--cairnd) CAIRND=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--nodes) NODES=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--seed) SEED=$2; shift 2 ;;
	--workloads) WORKLOADS=$2; shift 2 ;;
	--faults) NEMESIS_FAULTS=$2; shift 2 ;;
	--schedule) SCHEDULE=$2; shift 2 ;;
	--hold) HOLD=$2; shift 2 ;;
	--calm) CALM=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--rate) RATE=$2; shift 2 ;;
	--name) NAME=$2; shift 2 ;;
	*) jn_die "run.sh: unknown option '$1'" ;;
	esac
done
[ -n "$BIN" ] && [ -n "$OUT" ] || jn_die "run.sh: --bin and --out are required"
CAIRND=${CAIRND:-$BIN/cairnd}
CLIENT=$BIN/tests/jepsen/jepsen-client
CHECK=$BIN/tests/jepsen/jepsen-check
for f in "$CAIRND" "$CLIENT" "$CHECK"; do [ -x "$f" ] || jn_die "run.sh: no $f (build it first)"; done
case "$NODES" in 3 | 5 | 7) ;; *) jn_die "run.sh: --nodes must be 3, 5 or 7" ;; esac
SEED=${SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}
RANDOM=$SEED
NEMESIS_SCHEDULE=$SCHEDULE
NEM_HOLD_MIN=${HOLD%-*} NEM_HOLD_MAX=${HOLD#*-}
NEM_CALM_MIN=${CALM%-*} NEM_CALM_MAX=${CALM#*-}
# Only a previous run's directory (or an empty one) is cleared.
if [ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ] && [ ! -f "$OUT/run.log" ]; then
	jn_die "run.sh: $OUT holds files that are not a previous run's; pick another --out"
fi
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
NAME=${NAME:-$(basename "$OUT")}
NEM_LOG=$OUT/nemesis.log
: >"$NEM_LOG"

say() { echo "jepsen[$NAME]: $*" | tee -a "$OUT/run.log"; }

# A sanitizer build is several times slower: give it more time to settle.
SLOW=1
grep -qa -e __asan_init -e __ubsan_handle "$CAIRND" && SLOW=3

declare -A NODE_PID
MEMBERS=""
for i in $(seq 1 "$NODES"); do MEMBERS="$MEMBERS${MEMBERS:+,}$i=$(jn_ip "$i"):7701"; done
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Never 0 or empty for a node that was started: `kill 0` would signal the
# harness's own process group.
jn_node_pid() { echo "${NODE_PID[$1]:?node $1 was never started}"; }

jn_node_start() {
	local i=$1
	echo "--- start $(date +%T.%N)" >>"$OUT/node-$i.log"
	ip netns exec "$JN_PREFIX$i" "$CAIRND" --id="$i" --api="$(jn_ip "$i"):7700" \
		--peer="$(jn_ip "$i"):7701" --members="$MEMBERS" --data="$OUT/node-$i" \
		--snapshot-entries=2000 >>"$OUT/node-$i.log" 2>&1 9>&- &
	NODE_PID[$i]=$!
	disown "$!" # killed on purpose: no "Killed" notice from the shell
}

# SIGTERM every node and wait for them to exit, so a sanitizer build gets
# to run its leak check; a node still there after 20 s is killed.
jn_stop_nodes() {
	local i t
	for i in $(seq 1 "$NODES"); do kill "$(jn_node_pid "$i")" 2>/dev/null || true; done
	for t in $(seq 1 200); do
		local any=0
		for i in $(seq 1 "$NODES"); do kill -0 "$(jn_node_pid "$i")" 2>/dev/null && any=1; done
		[ $any -eq 0 ] && return 0
		sleep 0.1
	done
	say "a node did not stop within 20 s of SIGTERM; killing it"
	return 1
}

CLIENT_PIDS=""
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# Interrupted: the clients' histories are of no use now.
	for p in $CLIENT_PIDS; do kill -9 "$p" 2>/dev/null || true; done
	jn_teardown
	exit $rc
}
trap cleanup EXIT
trap 'say "interrupted"; exit 2' INT TERM

say "seed $SEED, $NODES nodes, ${DURATION}s, workloads: $WORKLOADS"
say "faults: ${SCHEDULE:-$NEMESIS_FAULTS}"
jn_setup "$NODES"
for i in $(seq 1 "$NODES"); do jn_node_start "$i"; done

t=0
while [ "$(nem_leader)" = 0 ]; do
	t=$((t + 1))
	[ $t -lt $((30 * SLOW)) ] || jn_die "run.sh: no leader within $((30 * SLOW)) s (see $OUT/node-*.log)"
	sleep 1
done
say "leader: node $(nem_leader)"

addrs=""
for i in $(seq 1 "$NODES"); do addrs="$addrs${addrs:+,}$(jn_ip "$i"):7700"; done
prefix="j$SEED-$(date +%s)/"
NEM_T0=$(date +%s.%N)
wseed=$SEED
for w in $WORKLOADS; do
	"$CLIENT" --nodes="$addrs" --workload="$w" --prefix="$prefix" --clients="$CLIENTS" \
		--rate="$RATE" --duration="$DURATION" --seed="$wseed" --out="$OUT/$w.history" \
		--healed-file="$OUT/healed" --final-timeout=$((60 * SLOW)) >"$OUT/$w.client.log" 2>&1 9>&- &
	CLIENT_PIDS="$CLIENT_PIDS $!"
	wseed=$((wseed + 1000003))
done

nemesis_run "$DURATION"
nem_heal_all
nem_log "healed everything"
touch "$OUT/healed" # the clients' final reads start now
say "healed; waiting for the clients' final reads"

failed=0
client_failed=0
for p in $CLIENT_PIDS; do
	wait "$p" || { say "a client exited with status $?"; client_failed=1; }
done
CLIENT_PIDS=""

# A node that is not running now died on its own (every fault is healed).
for i in $(seq 1 "$NODES"); do
	if ! kill -0 "$(jn_node_pid "$i")" 2>/dev/null; then
		say "node $i is not running: it crashed (tail of node-$i.log below)"
		tail -5 "$OUT/node-$i.log" | sed 's/^/    /' | tee -a "$OUT/run.log"
		failed=1
	fi
done
jn_stop_nodes || failed=1
if grep -l -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' \
	"$OUT"/node-*.log >/dev/null 2>&1; then
	say "a sanitizer report in $(grep -l -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' -e 'runtime error:' "$OUT"/node-*.log | xargs -n1 basename | tr '\n' ' ')"
	failed=1
fi

faults=0
for f in "${!NEM_COUNT[@]}"; do faults=$((faults + NEM_COUNT[$f])); done
for w in $WORKLOADS; do
	"$CHECK" --workload="$w" "$OUT/$w.history" >"$OUT/$w.check" 2>&1
	rc=$?
	last=$(tail -1 "$OUT/$w.check")
	field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$last"; }
	verdict=$(field verdict)
	[ -n "$verdict" ] || verdict=error
	# 1: the checker found an anomaly (or could not decide); anything else
	# is the harness's own failure.
	case $rc in 0) ;; 1) failed=1 ;; *) client_failed=1 ;; esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$NAME" "$w" "$NODES" "$DURATION" \
		"$(field ops)" "$(field ok)" "$(field fail)" "$(field info)" "$faults" \
		"$(field check_ms)" "$verdict" >>"$OUT/result.tsv"
	say "$w: $last"
	if [ $rc -ne 0 ]; then
		sed -n '1,40p' "$OUT/$w.check" | sed 's/^/    /'
	fi
done
say "faults injected: $faults ($(for f in "${!NEM_COUNT[@]}"; do echo -n "$f=${NEM_COUNT[$f]} "; done))"
if [ $failed -eq 0 ] && [ $client_failed -eq 0 ]; then
	say "PASS"
	exit 0
fi
say "FAIL (files in $OUT)"
[ $failed -ne 0 ] && exit 1
exit 2
exit
}
