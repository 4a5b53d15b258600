#!/usr/bin/env bash
# The node benchmark (`make bench`): a 3-node loopback cluster of CAIRND
# (build it with -O2, no sanitizers), loaded with wrk and tests/bench/kv.lua
# (keys drawn from 1,000, values 64 bytes).
#
#   tests/bench/bench.sh CAIRND
#
# Rows: PUT at 1, 16 and 64 connections, linearizable GET at 64 and stale
# GET at 64 (all to the leader), stale GET at 64 to a follower, PUT at 64
# to a follower. Each row prints requests/s, p50 and p99 latency and the
# cairnd processes' CPU seconds per 1,000 requests (utime+stime from
# /proc/PID/stat before and after), in all and split leader/followers.
# Then: no spurious elections (the term and leader in /v1/status unchanged)
# over an idle run and over the whole loaded run; failover: kill -9 the
# leader while a client writes every 10 ms through a follower, time until
# the first write sent after the kill succeeds, over several rounds
# (the killed node is restarted and caught up between rounds).
#
# Settings (environment):
#   BENCH_SECONDS=10         seconds per load row (0: no load rows)
#   BENCH_IDLE_SECONDS=60    the idle no-election check (0: skip it)
#   BENCH_FAILOVER_ROUNDS=5  (0: skip failover)
#   BENCH_THREADS=2          wrk threads (at most the connections)
#   BENCH_FLAGS=             extra cairnd flags (default: cairnd's defaults,
#                            election-timeout 1s, heartbeat 100ms)
#   BENCH_PERF=0             1: `perf record` the leader during PUT@64 and
#                            print its top functions
#   BENCH_DIR                work directory (default: next to CAIRND,
#                            bench-run/; node logs are kept there)
#   BENCH_LONGPOLLS=10000    last: that many idle long-polls on one node
#                            (tests/bench/longpoll.sh; 0: skip it)
#   BENCH_LONGPOLL_RATE=2000 PUTs per second that wake them
# Traffic goes to 127.0.0.1 only; the cluster is stopped on exit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 CAIRND" >&2; exit 2; }
CAIRND=$1
case "$CAIRND" in /*) ;; *) CAIRND=$PWD/$CAIRND ;; esac
[ -x "$CAIRND" ] || { echo "bench: no cairnd at $CAIRND" >&2; exit 2; }
for tool in wrk curl ss; do
	command -v "$tool" >/dev/null || { echo "bench: '$tool' is needed (scripts/deps.sh bench)" >&2; exit 2; }
done
if grep -qa -e AddressSanitizer -e UndefinedBehaviorSanitizer -e __asan_init -e __ubsan_handle "$CAIRND"; then
	echo "bench: warning: $CAIRND is a sanitizer build; figures will be meaningless" >&2
fi

SECS=${BENCH_SECONDS:-10}
IDLE=${BENCH_IDLE_SECONDS:-60}
ROUNDS=${BENCH_FAILOVER_ROUNDS:-5}
THREADS=${BENCH_THREADS:-2}
DIR=${BENCH_DIR:-$(dirname "$CAIRND")/bench-run}
CDIR=$DIR/cluster
export CAIRND
export CAIRND_FLAGS=${BENCH_FLAGS:-}
CLK_TCK=$(getconf CLK_TCK)
CLUSTER_SH=$root/deploy/cluster.sh

rm -rf "$DIR"
mkdir -p "$DIR"
TABLE=$DIR/table.txt
: >"$TABLE"

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	"$CLUSTER_SH" stop --dir "$CDIR" >/dev/null 2>&1
	rm -rf "$CDIR"/node-*/ # the data; logs stay
	exit $rc
}
trap cleanup EXIT
trap 'echo "bench: interrupted"; exit 1' INT TERM

die() {
	echo "bench: $*" >&2
	for f in "$CDIR"/node-*.log; do
		[ -f "$f" ] && { echo "---- $f" >&2; tail -n 15 "$f" >&2; }
	done
	exit 1
}
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
api() { eval "echo \$API_$1"; }
pid() { cat "$CDIR/node-$1.pid"; }
# A top-level field of /v1/status (before the members array).
jfield() { printf '%s' "$1" | sed -n "s/^{[^[]*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }
status() { curl -sf --max-time 2 "http://$(api "$1")/v1/status" 2>/dev/null; }

DOWN=" "
up_ids() {
	local i
	for ((i = 1; i <= N; i++)); do
		case "$DOWN" in *" $i "*) ;; *) printf '%s ' $i ;; esac
	done
}

# wait_leader SECONDS: every running node names the same leader and term.
# Sets LEADER and TERM.
wait_leader() {
	local deadline=$(($(now_ms) + $1 * 1000)) id s l t ok
	while [ "$(now_ms)" -lt "$deadline" ]; do
		LEADER="" TERM="" ok=1
		for id in $(up_ids); do
			s=$(status "$id") || { ok=0; break; }
			l=$(jfield "$s" leader) t=$(jfield "$s" term)
			if [ -z "$LEADER" ]; then LEADER=$l TERM=$t; fi
			if [ -z "$l" ] || [ "$l" = 0 ] || [ "$l" != "$LEADER" ] || [ "$t" != "$TERM" ]; then ok=0; fi
		done
		if [ $ok = 1 ]; then
			case " $(up_ids)" in *" $LEADER "*) return 0 ;; esac
		fi
		sleep 0.05
	done
	die "no agreed leader within $1 s"
}

# max_term: the highest term any running node reports.
max_term() {
	local id s t m=0
	for id in $(up_ids); do
		s=$(status "$id") || continue
		t=$(jfield "$s" term)
		[ -n "$t" ] && [ "$t" -gt "$m" ] && m=$t
	done
	echo "$m"
}

# cpu_ticks ID: utime+stime of node ID so far, in clock ticks.
cpu_ticks() {
	sed 's/^.*) //' "/proc/$(pid "$1")/stat" | awk '{ print $12 + $13 }'
}

# host_cpu: "busy total" jiffies of the whole machine (from /proc/stat).
host_cpu() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# wait_caught_up ID SECONDS: node ID has applied the leader's commit index.
wait_caught_up() {
	local deadline=$(($(now_ms) + $2 * 1000)) commit applied
	commit=$(jfield "$(status "$LEADER")" commit_index)
	while [ "$(now_ms)" -lt "$deadline" ]; do
		applied=$(jfield "$(status "$1")" applied_index)
		[ -n "$applied" ] && [ "$applied" -ge "$commit" ] && return 0
		sleep 0.05
	done
	die "node $1 did not catch up with commit $commit within $2 s"
}

# ---------------------------------------------------------------- start

load_start_avg=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $CAIRND"
echo "bench: $(nproc) CPUs, ${SECS}s per row, idle check ${IDLE}s, $ROUNDS failover rounds, wrk $THREADS threads, cairnd flags: ${CAIRND_FLAGS:-(defaults)}"
"$CLUSTER_SH" start 3 --dir "$CDIR" >"$DIR/cluster.out" 2>&1 || die "cluster.sh start: $(cat "$DIR/cluster.out")"
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
wait_leader 20
follower=""
for id in 1 2 3; do [ "$id" != "$LEADER" ] && [ -z "$follower" ] && follower=$id; done
echo "bench: leader node $LEADER, follower for the follower rows: node $follower"

# Every key exists before the reads (a GET of a missing key is a 404).
cfg=$DIR/fill.curl
printf 'parallel\nparallel-max = 16\n' >"$cfg"
for ((i = 0; i < 1000; i++)); do
	[ $i -gt 0 ] && echo next >>"$cfg"
	printf 'url = "http://%s/v1/kv/bench/k%04d"\nrequest = "PUT"\ndata-binary = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nmax-time = 10\n' \
		"$(api "$LEADER")" "$i" "$(printf 'x%.0s' $(seq 64))" >>"$cfg"
done
n_ok=$(curl -s -K "$cfg" 2>/dev/null | grep -c '^200$')
[ "$n_ok" -eq 1000 ] || die "filling the 1,000 keys: only $n_ok acknowledged"

# ---------------------------------------------------------------- idle

idle_result="skipped (BENCH_IDLE_SECONDS=0)"
if [ "$IDLE" -gt 0 ]; then
	echo "bench: idle for ${IDLE}s (no election expected)"
	t0=$(max_term) l0=$LEADER
	sleep "$IDLE"
	wait_leader 10
	t1=$(max_term)
	if [ "$t1" = "$t0" ] && [ "$LEADER" = "$l0" ]; then
		idle_result="ok (term $t0, leader $l0 for ${IDLE}s)"
	else
		idle_result="FAIL: term $t0 -> $t1, leader $l0 -> $LEADER in ${IDLE}s idle"
	fi
	echo "bench: idle: $idle_result"
fi

# ---------------------------------------------------------------- load rows

# row NAME NODE CONNECTIONS MODE DEST: one wrk run against NODE (DEST says
# leader or follower); prints and records a row.
row() {
	local name=$1 node=$2 conns=$3 mode=$4 th=$THREADS out id
	[ "$conns" -lt "$th" ] && th=$conns
	declare -A b a
	for id in 1 2 3; do b[$id]=$(cpu_ticks "$id"); done
	local h0 h1
	h0=$(host_cpu)
	local perf_pid=""
	if [ "${BENCH_PERF:-0}" = 1 ] && [ "$name" = "PUT@64" ] && command -v perf >/dev/null; then
		perf record -F 999 -g -o "$DIR/perf.data" -p "$(pid "$LEADER")" -- sleep "$SECS" >"$DIR/perf.out" 2>&1 &
		perf_pid=$!
	fi
	out=$(wrk -t "$th" -c "$conns" -d "${SECS}s" --timeout 5s -s "$here/kv.lua" \
		"http://$(api "$node")" -- "$mode" 1000 2>&1)
	[ -n "$perf_pid" ] && wait "$perf_pid"
	for id in 1 2 3; do a[$id]=$(cpu_ticks "$id"); done
	h1=$(host_cpu)
	local res
	res=$(printf '%s\n' "$out" | grep '^RESULT ')
	[ -n "$res" ] || die "wrk for $name printed no result: $out"
	local req dur p50 p99 non2xx errs
	req=$(echo "$res" | sed 's/.*requests=\([0-9]*\).*/\1/')
	dur=$(echo "$res" | sed 's/.*duration_us=\([0-9]*\).*/\1/')
	p50=$(echo "$res" | sed 's/.*p50_us=\([0-9]*\).*/\1/')
	p99=$(echo "$res" | sed 's/.*p99_us=\([0-9]*\).*/\1/')
	non2xx=$(echo "$res" | sed 's/.*non2xx=\([0-9]*\).*/\1/')
	errs=$(echo "$res" | sed 's/.* errors=\([0-9]*\).*/\1/')
	local cpu_l=0 cpu_f=0
	for id in 1 2 3; do
		if [ "$id" = "$LEADER" ]; then cpu_l=$((cpu_l + a[$id] - b[$id])); else cpu_f=$((cpu_f + a[$id] - b[$id])); fi
	done
	local line
	line=$(awk -v n="$name" -v req="$req" -v dur="$dur" -v p50="$p50" -v p99="$p99" \
		-v cl="$cpu_l" -v cf="$cpu_f" -v tck="$CLK_TCK" -v bad="$non2xx" -v errs="$errs" -v dest="$5" \
		-v h0="$h0" -v h1="$h1" '
		BEGIN {
			rps = req / (dur / 1e6)
			k = req / 1000
			tot = (cl + cf) / tck
			if (k <= 0) k = 1e-9
			split(h0, x, " "); split(h1, y, " ")
			busy = (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0
			printf "%-22s %-9s %10.0f %9.2f %9.2f %9.3f %9.3f %9.3f %7.0f%%", n, dest, rps, p50 / 1000, p99 / 1000,
				tot / k, cl / tck / k, cf / tck / k, busy
			if (bad + errs > 0) printf "  (%d non-2xx, %d socket errors)", bad, errs
			printf "\n"
		}')
	echo "$line" | tee -a "$TABLE"
	if [ -n "$perf_pid" ] && [ -s "$DIR/perf.data" ]; then
		{
			echo "by thread:"
			perf report -i "$DIR/perf.data" --stdio --no-children -g none --sort comm 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -n 5
			echo "by library:"
			perf report -i "$DIR/perf.data" --stdio --no-children -g none --sort dso 2>/dev/null |
				grep -E '^ +[0-9.]+%' | head -n 6
			echo "by function:"
			perf report -i "$DIR/perf.data" --stdio --no-children -g none --sort dso,symbol 2>/dev/null |
				grep -E '^ +[0-9.]+%' | sed 's/[ -]*$//' | head -n 20
		} >"$DIR/perf-top.txt"
	fi
}

header=$(printf '%-22s %-9s %10s %9s %9s %9s %9s %9s %8s' row to "req/s" "p50 ms" "p99 ms" "cpu/1k" "leader" "follwrs" "host")
load_result="skipped (BENCH_SECONDS=0)"
if [ "$SECS" -gt 0 ]; then
	echo "$header"
	t_load0=$(max_term) l_load0=$LEADER
	load_start=$(now_ms)
	row "PUT@1" "$LEADER" 1 put leader
	row "PUT@16" "$LEADER" 16 put leader
	row "PUT@64" "$LEADER" 64 put leader
	row "GET@64 linearizable" "$LEADER" 64 get leader
	row "GET@64 stale" "$LEADER" 64 stale leader
	row "GET@64 stale" "$follower" 64 stale follower
	row "PUT@64 via follower" "$follower" 64 put follower
	load_secs=$((($(now_ms) - load_start) / 1000))
	wait_leader 10
	t_load1=$(max_term)
	if [ "$t_load1" = "$t_load0" ] && [ "$LEADER" = "$l_load0" ]; then
		load_result="ok (term $t_load0, leader $l_load0 for ${load_secs}s of load)"
	else
		load_result="FAIL: term $t_load0 -> $t_load1, leader $l_load0 -> $LEADER in ${load_secs}s of load"
	fi
	echo "bench: loaded: $load_result"
fi

# ---------------------------------------------------------------- failover

# writer NODE FILE: PUT every 10 ms to NODE, one "start_ms end_ms code"
# line per request, until FILE.stop exists (at most 60 s).
writer() {
	local node=$1 file=$2 i=0 s e code stop=$(($(now_ms) + 60000))
	while [ ! -e "$file.stop" ] && [ "$(now_ms)" -lt "$stop" ]; do
		i=$((i + 1))
		s=$(now_ms)
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X PUT --data-binary "f$i" \
			"http://$(api "$node")/v1/kv/failover/k$((i % 1000))" 2>/dev/null)
		e=$(now_ms)
		echo "$s $e ${code:-000}" >>"$file"
		local left=$((s + 10 - e))
		[ $left -gt 0 ] && sleep "0.0$(printf '%02d' $left)"
	done
}

fo_times=""
fo_detail=""
for ((r = 1; r <= ROUNDS; r++)); do
	wait_leader 20
	victim=$LEADER
	via=""
	for id in $(up_ids); do [ "$id" != "$victim" ] && [ -z "$via" ] && via=$id; done
	term_before=$(max_term)
	f=$DIR/failover.$r
	: >"$f"
	writer "$via" "$f" &
	wpid=$!
	sleep 0.5 # the client is writing steadily
	kill -9 "$(pid "$victim")"
	kill_ms=$(now_ms)
	DOWN="$DOWN$victim "
	deadline=$((kill_ms + 10000))
	first=""
	while [ -z "$first" ] && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.02
		first=$(awk -v k="$kill_ms" '$1 >= k && $3 == 200 { print $2; exit }' "$f")
	done
	touch "$f.stop"
	wait "$wpid"
	[ -n "$first" ] || die "failover round $r: no successful write within 10 s of killing leader $victim"
	ms=$((first - kill_ms))
	fails=$(awk -v k="$kill_ms" -v f="$first" '$2 > k && $2 < f && $3 != 200 { n++ } END { print n + 0 }' "$f")
	wait_leader 10
	term_after=$(max_term)
	echo "bench: failover round $r: killed leader $victim, writes through node $via, first success after ${ms} ms ($fails failed writes meanwhile), new leader $LEADER, term $term_before -> $term_after"
	fo_times="$fo_times $ms"
	fo_detail="$fo_detail ${ms}ms(+$((term_after - term_before)) terms)"
	# Bring the node back and let it catch up before the next round.
	"$CLUSTER_SH" start-node "$victim" --dir "$CDIR" >>"$DIR/cluster.out" 2>&1 || die "restarting node $victim"
	DOWN=${DOWN/ $victim / }
	sleep 0.3
	wait_leader 20
	wait_caught_up "$victim" 20
	sleep 1
done
fo_stats="skipped (BENCH_FAILOVER_ROUNDS=0)"
[ "$ROUNDS" -gt 0 ] && fo_stats=$(echo "$fo_times" | tr ' ' '\n' | grep . | sort -n | awk '
	{ v[NR] = $1 }
	END {
		med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "min %d ms, median %d ms, max %d ms", v[1], med, v[NR]
	}')

[ "$SECS" -gt 0 ] && wait_leader 20 && BENCH_TABLE=$TABLE "$here/bench_kv.sh" "$(api "$LEADER")" "$(for id in $(up_ids); do [ "$id" != "$LEADER" ] && { api "$id"; break; }; done)" "$SECS" # issue 5: CAS and prefix rows (the cluster must still run)

# ---------------------------------------------------------------- long-polls

lp_result="skipped (BENCH_LONGPOLLS=0)"
if [ "${BENCH_LONGPOLLS:-10000}" -gt 0 ]; then
	# One node of its own: stop the cluster first (the table needs none).
	"$CLUSTER_SH" stop --dir "$CDIR" >/dev/null 2>&1
	echo "bench: long-polls (tests/bench/longpoll.sh)"
	BENCH_DIR=$DIR "$here/longpoll.sh" "$CAIRND" 2>&1 | sed 's/^/   /'
	lp_result=$(sed 's/^long-polls: //' "$DIR/longpoll/summary.txt" 2>/dev/null)
	[ -n "$lp_result" ] || lp_result="FAIL: no result (see above)"
fi

# ---------------------------------------------------------------- table

echo
echo "== cairn node benchmark: 3 nodes on loopback, $(nproc) CPUs shared with wrk; ${SECS}s per row =="
echo "   (load average at the start: $load_start_avg; at the end: $(cut -d' ' -f1-3 /proc/loadavg): other programs on the machine skew the figures)"
echo "   (cpu/1k: CPU seconds of all cairnd processes per 1,000 requests, then the leader's and the followers' part;"
echo "    host: how busy the machine's CPUs were, wrk included)"
if [ "$SECS" -gt 0 ]; then
	echo "$header"
	cat "$TABLE"
fi
echo "failover ($ROUNDS rounds, kill -9 leader, client writing every 10 ms): $fo_stats"
echo "   rounds:$fo_detail"
echo "no spurious elections, idle ${IDLE}s: $idle_result"
echo "no spurious elections, loaded: $load_result"
echo "long-polls on one node: $lp_result"
if [ -s "$DIR/perf-top.txt" ]; then
	echo "where the leader's CPU time goes during PUT@64 (perf record, self time):"
	sed 's/^/   /' "$DIR/perf-top.txt"
fi
echo "targets (issue 5): ${BENCH_LONGPOLLS:-10000} idle long-polls add at most 64 MiB RSS (per 10,000), each wakes within 50 ms of its change"
echo "targets (issue 4): PUT@64 >= 30000/s with p99 <= 10 ms; PUT@1 p50 <= 0.4 ms; GET@64 linearizable >= 40000/s;"
echo "   GET@64 stale >= 45000/s; failover median <= 500 ms, no round over 1 s; no spurious elections in 60 s"
echo "bench: logs in $CDIR"
