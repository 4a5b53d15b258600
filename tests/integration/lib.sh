# shellcheck shell=bash
# Shared helpers for the integration tests (tests/integration/t_*.sh).
# Sourced by every test, never run on its own:
#
#   . "$(dirname "$0")/lib.sh"
#   it_start 3                      # cluster.sh start 3 in the test's own dir
#   it_wait_leader 10               # -> LEADER, LEADER_API, TERM
#   it_put "$LEADER_API" k v        # PUT, fail the test unless 200 "ok":true
#   it_expect_kv "$(it_api 2)" k v  # GET ?raw, fail unless it answers v
#   it_done                         # every node still alive, stop, pass
#
# Environment (run.sh sets it; a test can also be run by hand):
#   CAIRND       the cairnd binary (required)
#   PEER_FLOOD   the peer_flood tool (default: next to CAIRND, tests/tools/)
#   WATCHERS, HOSTILE  the watchers and hostile tools (the same default)
#   IT_WORK      where per-test directories go (default: next to CAIRND, it/)
#   CAIRND_FLAGS flags for every node (default: short timeouts, below)
#   IT_SLOW      multiplier for every deadline (default 1, 3 for a
#                sanitizer build, detected from the binary)
#
# Every wait has a deadline; every curl has --max-time. A failing check
# prints one FAIL line with the reason and the tail of every node's log. On
# any exit the cluster is stopped (trap), and a sanitizer report in a node
# log fails the test even when every check passed.

set -u

IT_NAME=$(basename "$0" .sh)
IT_HERE=$(cd "$(dirname "$0")" && pwd)
IT_ROOT=$(cd "$IT_HERE/../.." && pwd)
CLUSTER_SH=$IT_ROOT/deploy/cluster.sh

: "${CAIRND:?set CAIRND to the cairnd binary}"
case "$CAIRND" in /*) ;; *) CAIRND=$PWD/$CAIRND ;; esac
[ -x "$CAIRND" ] || { echo "$IT_NAME: no cairnd at $CAIRND" >&2; exit 1; }
export CAIRND
PEER_FLOOD=${PEER_FLOOD:-$(dirname "$CAIRND")/tests/tools/peer_flood}
WATCHERS=${WATCHERS:-$(dirname "$CAIRND")/tests/tools/watchers}
HOSTILE=${HOSTILE:-$(dirname "$CAIRND")/tests/tools/hostile}
IT_WORK=${IT_WORK:-$(dirname "$CAIRND")/it}
export CAIRND_FLAGS=${CAIRND_FLAGS:---election-timeout=300ms --heartbeat=50ms}

# A sanitizer build is several times slower: stretch every deadline.
if [ -z "${IT_SLOW:-}" ]; then
	if grep -qa -e AddressSanitizer -e UndefinedBehaviorSanitizer -e __asan_init -e __ubsan_handle "$CAIRND"; then
		IT_SLOW=3
	else
		IT_SLOW=1
	fi
fi
# Halt on the first report, so a memory error cannot go unnoticed.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

TDIR=$IT_WORK/$IT_NAME
rm -rf "$TDIR"
mkdir -p "$TDIR"
IT_STARTED=0
CDIR=$TDIR/cluster   # the cluster's directory (cluster.sh --dir)
IT_DOWN=" "     # ids of nodes the test stopped or killed on purpose
IT_T0=${EPOCHREALTIME/./}

# ---------------------------------------------------------------- basics

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# Seconds scaled by IT_SLOW (integer seconds in, integer seconds out).
slow() { echo $(($1 * IT_SLOW)); }

log() { echo "  [$IT_NAME +$(($(now_ms) - IT_T0 / 1000))ms] $*"; }

# Prints the tail of every node log (and sanitizer reports in full).
it_dump_logs() {
	local f
	for f in "$TDIR"/cluster*/node-*.log "$TDIR"/*.log; do
		[ -f "$f" ] || continue
		echo "  ---- $f (last 40 lines) ----"
		tail -n 40 "$f" | sed 's/^/  | /'
	done
}

fail() {
	echo "FAIL [$IT_NAME]: $*"
	it_dump_logs
	exit 1
}

# Any sanitizer report in a log under the test dir? Prints it, returns 0.
it_sanitizer_reports() {
	local f found=1
	for f in "$TDIR"/cluster*/node-*.log "$TDIR"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$f"; then
			echo "  sanitizer report in $f:"
			grep -E -A 25 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 60 | sed 's/^/  | /'
			found=0
		fi
	done
	return $found
}

it_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# Stop every background job the test started (writers, flooders).
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	if [ "$IT_STARTED" = 1 ]; then
		"$CLUSTER_SH" stop --dir "$CDIR" >/dev/null 2>&1
	fi
	if it_sanitizer_reports; then
		echo "FAIL [$IT_NAME]: sanitizer report in a node log"
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		rm -rf "$TDIR"
	else
		echo "  (logs and data kept in $TDIR)"
	fi
	exit $rc
}
trap it_cleanup EXIT
trap 'fail "interrupted"' INT TERM

# ---------------------------------------------------------------- HTTP

# http METHOD URL [BODY]: sets HTTP_CODE (000 on no answer) and HTTP_BODY.
http() {
	local out
	if [ $# -ge 3 ]; then
		out=$(curl -s --max-time "$(slow 5)" -X "$1" --data-binary "$3" -w '\n%{http_code}' "$2" 2>/dev/null)
	else
		out=$(curl -s --max-time "$(slow 5)" -X "$1" -w '\n%{http_code}' "$2" 2>/dev/null)
	fi
	HTTP_CODE=${out##*$'\n'}
	HTTP_BODY=${out%$'\n'*}
	[ -n "$HTTP_CODE" ] || HTTP_CODE=000
}

# A top-level field of a /v1/status-like object (before any array).
jfield() {
	printf '%s' "$1" | sed -n "s/^{[^[]*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}

# status ID: /v1/status of node ID into STATUS (empty when it does not answer).
status() {
	STATUS=$(curl -sf --max-time 2 "http://$(it_api "$1")/v1/status" 2>/dev/null) || STATUS=""
}

# it_put API KEY VALUE: the write must be acknowledged (200, "ok":true).
it_put() {
	http PUT "http://$1/v1/kv/$2" "$3"
	case "$HTTP_CODE $HTTP_BODY" in
	'200 '*'"ok":true'*) ;;
	*) fail "PUT $2 on $1: HTTP $HTTP_CODE $HTTP_BODY" ;;
	esac
}

# it_get API KEY [QUERY]: GET ?raw (plus QUERY); sets HTTP_CODE, HTTP_BODY.
it_get() {
	local q=${3:+&$3}
	http GET "http://$1/v1/kv/$2?raw$q"
}

# it_expect_kv API KEY VALUE [QUERY]: the read answers 200 with VALUE.
it_expect_kv() {
	it_get "$1" "$2" "${4:-}"
	[ "$HTTP_CODE" = 200 ] || fail "GET $2${4:+?$4} on $1: HTTP $HTTP_CODE $HTTP_BODY"
	[ "$HTTP_BODY" = "$3" ] || fail "GET $2${4:+?$4} on $1: got '$HTTP_BODY', want '$3'"
}

# it_put_batch API PREFIX FROM TO: writes PREFIX/i = val-i for i in FROM..TO
# from one curl process (keep-alive, 8 transfers in parallel, so the node
# commits them in groups); every write must be acknowledged.
it_put_batch() {
	local api=$1 prefix=$2 i cfg=$TDIR/batch.curl out
	printf 'parallel\nparallel-max = 8\n' >"$cfg"
	for ((i = $3; i <= $4; i++)); do
		# `next` between transfers, not after the last (an empty one fails).
		[ "$i" -gt "$3" ] && echo next >>"$cfg"
		printf 'url = "http://%s/v1/kv/%s/%d"\nrequest = "PUT"\ndata-binary = "val-%d"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nmax-time = %d\n' \
			"$api" "$prefix" "$i" "$i" "$(slow 5)" >>"$cfg"
	done
	out=$(curl -s -K "$cfg" 2>/dev/null)
	local n_ok
	n_ok=$(printf '%s\n' "$out" | grep -c '^200$')
	[ "$n_ok" -eq $(($4 - $3 + 1)) ] ||
		fail "batch PUT $prefix/$3..$4 on $api: $n_ok of $(($4 - $3 + 1)) acknowledged (codes: $(printf '%s\n' "$out" | sort | uniq -c | tr '\n' ' '))"
}

# it_dump API PREFIX [QUERY]: every key=value under PREFIX/, sorted, one a
# line (?recurse). Non-zero unless 200.
it_dump() {
	local q=${3:+&$3}
	http GET "http://$1/v1/kv/$2/?recurse$q"
	[ "$HTTP_CODE" = 200 ] || return 1
	printf '%s' "$HTTP_BODY" | grep -o '"key":"[^"]*","value":"[^"]*"' |
		sed 's/^"key":"\([^"]*\)","value":"\([^"]*\)"$/\1=\2/' | sort
}

# ---------------------------------------------------------------- cluster

# it_start N [FLAGS...]: a fresh N-node cluster in $CDIR; extra flags go to
# every node. Sets N and API_i/PEER_i from cluster.env. Waits until every
# node answers HTTP. If a node could not bind its port (another program
# took it between cluster.sh's check and the bind), starts over once or
# twice in a new directory, hence on other ports.
it_start() {
	local n=$1 attempt
	shift
	[ $# -gt 0 ] && CAIRND_FLAGS="$CAIRND_FLAGS $*"
	IT_STARTED=1
	for attempt in 1 2 3; do
		[ "$attempt" -gt 1 ] && CDIR=$TDIR/cluster.$attempt
		"$CLUSTER_SH" start "$n" --dir "$CDIR" >"$TDIR/cluster.out" 2>&1 ||
			fail "cluster.sh start $n: $(cat "$TDIR/cluster.out")"
		# shellcheck disable=SC1090
		. "$CDIR/cluster.env"
		it_wait_up && return 0
		grep -q "Address already in use" "$CDIR"/node-*.log ||
			fail "a node died at start"
		log "a port was taken (attempt $attempt): starting over on other ports"
		"$CLUSTER_SH" stop --dir "$CDIR" >/dev/null 2>&1
	done
	fail "could not start a cluster on free ports"
}

# it_wait_up: until every running node answers HTTP; non-zero if one died.
it_wait_up() {
	local deadline=$(($(now_ms) + $(slow 10) * 1000)) id pending
	while :; do
		pending=0
		for id in $(it_up_ids); do
			it_running "$(it_pid "$id")" || return 1
			curl -s -o /dev/null --max-time 2 "http://$(it_api "$id")/v1/status" || pending=1
		done
		[ $pending = 0 ] && return 0
		[ "$(now_ms)" -lt "$deadline" ] || fail "nodes not answering HTTP within $(slow 10)s"
		sleep 0.05
	done
}

it_api() { eval "echo \$API_$1"; }
it_peer() { eval "echo \$PEER_$1"; }
it_pid() { cat "$CDIR/node-$1.pid" 2>/dev/null || echo 0; }
it_log() { echo "$CDIR/node-$1.log"; }
it_up_ids() {
	local i
	for ((i = 1; i <= N; i++)); do
		case "$IT_DOWN" in *" $i "*) ;; *) printf '%s ' $i ;; esac
	done
}

# it_kill9 ID: SIGKILL, wait until the process is gone.
it_kill9() {
	local pid
	pid=$(it_pid "$1")
	kill -9 "$pid" 2>/dev/null || fail "kill -9 node $1 (pid $pid): not running"
	IT_DOWN="$IT_DOWN$1 "
	it_wait_gone "$pid" "node $1"
}

# it_stop_node ID: SIGTERM (clean stop), wait until the process is gone.
it_stop_node() {
	local pid
	pid=$(it_pid "$1")
	"$CLUSTER_SH" stop-node "$1" --dir "$CDIR" || fail "cluster.sh stop-node $1"
	IT_DOWN="$IT_DOWN$1 "
	it_wait_gone "$pid" "node $1 after SIGTERM"
}

# A process is gone when it no longer exists or is a zombie (its parent,
# cluster.sh, has exited; init reaps it when it gets round to it).
it_running() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(sed -n 's/^[0-9]* (.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

it_wait_gone() {
	local deadline=$(($(now_ms) + $(slow 10) * 1000))
	while it_running "$1"; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "$2 (pid $1) still running after $(slow 10)s"
		sleep 0.05
	done
}

# it_restart ID: start a stopped node again (same data, same ports) and
# wait until it answers HTTP. Its ports may be held for a moment by another
# program's connection: then it tries again, a few times.
it_restart() {
	local attempt deadline
	for attempt in 1 2 3 4 5; do
		"$CLUSTER_SH" start-node "$1" --dir "$CDIR" >>"$TDIR/cluster.out" 2>&1 ||
			fail "cluster.sh start-node $1: $(tail -n 3 "$TDIR/cluster.out")"
		IT_DOWN=${IT_DOWN/ $1 / }
		deadline=$(($(now_ms) + $(slow 10) * 1000))
		while it_running "$(it_pid "$1")"; do
			curl -s -o /dev/null --max-time 2 "http://$(it_api "$1")/v1/status" && return 0
			[ "$(now_ms)" -lt "$deadline" ] || fail "node $1 not answering HTTP $(slow 10)s after restart"
			sleep 0.05
		done
		IT_DOWN="$IT_DOWN$1 "
		tail -n 2 "$(it_log "$1")" | grep -q "Address already in use" ||
			fail "node $1 died at restart"
		log "node $1: a port was taken (attempt $attempt), retrying"
		sleep 0.5
	done
	fail "node $1: ports still taken after 5 attempts"
}

# it_wait_leader SECONDS: until every running node answers /v1/status, exactly
# one says it is the leader, and all name it with the same term. Sets LEADER,
# LEADER_API, TERM. The deadline is scaled by IT_SLOW.
it_wait_leader() {
	local deadline=$(($(now_ms) + $(slow "$1") * 1000)) id why
	while :; do
		LEADER="" TERM="" why=""
		local leaders=0 first=1
		for id in $(it_up_ids); do
			status "$id"
			if [ -z "$STATUS" ]; then why="node $id does not answer /v1/status"; break; fi
			local role lead term
			role=$(jfield "$STATUS" role)
			lead=$(jfield "$STATUS" leader)
			term=$(jfield "$STATUS" term)
			[ "$role" = leader ] && leaders=$((leaders + 1))
			if [ $first = 1 ]; then
				LEADER=$lead TERM=$term first=0
			elif [ "$lead" != "$LEADER" ] || [ "$term" != "$TERM" ]; then
				why="nodes disagree (node $id: leader '$lead' term $term; others: leader '$LEADER' term $TERM)"
			fi
		done
		if [ -z "$why" ]; then
			if [ "$leaders" -ne 1 ]; then
				why="$leaders nodes say they are the leader"
			elif [ -z "$LEADER" ] || [ "$LEADER" = 0 ]; then
				why="no leader known"
			else
				case " $(it_up_ids)" in
				*" $LEADER "*) LEADER_API=$(it_api "$LEADER"); return 0 ;;
				*) why="the leader named ($LEADER) is not a running node" ;;
				esac
			fi
		fi
		[ "$(now_ms)" -lt "$deadline" ] || fail "no agreed leader within $(slow "$1")s: $why"
		sleep 0.05
	done
}

# it_follower: prints the id of a running node that is not the leader.
it_follower() {
	local id
	for id in $(it_up_ids); do
		[ "$id" != "$LEADER" ] && { echo "$id"; return 0; }
	done
	return 1
}

# it_wait_caught_up ID INDEX SECONDS: until node ID has applied INDEX.
it_wait_caught_up() {
	local deadline=$(($(now_ms) + $(slow "$3") * 1000)) applied=""
	while :; do
		status "$1"
		applied=$(jfield "$STATUS" applied_index)
		[ -n "$applied" ] && [ "$applied" -ge "$2" ] && return 0
		[ "$(now_ms)" -lt "$deadline" ] ||
			fail "node $1 did not apply index $2 within $(slow "$3")s (applied: '${applied:-no answer}')"
		sleep 0.05
	done
}

# it_commit_index ID: the commit index node ID reports.
it_commit_index() {
	status "$1"
	jfield "$STATUS" commit_index
}

# it_check_alive: every node the test did not stop must still be running.
it_check_alive() {
	local id
	for id in $(it_up_ids); do
		it_running "$(it_pid "$id")" || fail "node $id died (pid $(it_pid "$id"))"
	done
}

# it_done: the test passed its checks; stop the cluster (the trap scans the
# logs for sanitizer reports) and exit 0.
it_done() {
	[ "$IT_STARTED" = 1 ] && it_check_alive
	exit 0
}
