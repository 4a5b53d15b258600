#!/usr/bin/env bash
# Benchmark rows of issue 5 against a running cluster: CAS PUT at 64
# connections and prefix GET (?recurse, 100 entries) at 64 connections,
# each to the leader and to a follower.
#
#   tests/bench/bench_kv.sh LEADER_API FOLLOWER_API [SECONDS]
#       LEADER_API, FOLLOWER_API: host:port of the API of the leader and of
#       a follower (127.0.0.1 only); SECONDS per row (default 10)
#
# Called by tests/bench/bench.sh (`make bench`) with the cluster it runs;
# works as well against any cluster, e.g. one of deploy/cluster.sh.
#
# CAS PUT: every connection compare-and-sets its own key (bench/cas/kNNN):
# PUT ?cas=<the modify_index the previous answer gave> (tests/bench/
# kv_cas.lua; one wrk thread per connection, as wrk's response hook has no
# connection of its own). req/s counts successful CAS writes only; the 409s
# (none expected: one writer per key) and other failures are printed after
# the row. Prefix GET: `GET /v1/kv/bench/pfx/?recurse` of 100 keys with
# 64-byte values (written first), linearizable.
#
# Rows print as in bench.sh's table: requests/s, p50 and p99 latency (ms),
# CPU seconds of the cairnd processes per 1,000 requests, in all and split
# leader/followers, and how busy the host's CPUs were. The processes are
# found from the leader's /v1/status (members' API ports) and `ss -ltnp`;
# if they cannot be, the CPU columns show "-".
#
# Environment:
#   BENCH_THREADS=2    wrk threads for the prefix rows
#   BENCH_TABLE=FILE   also append the rows to FILE (bench.sh's table)
# Traffic goes to 127.0.0.1 only; wrk runs under a time limit and is
# stopped on exit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 LEADER_API FOLLOWER_API [SECONDS]" >&2; exit 2; }
LEADER_API=$1 FOLLOWER_API=$2 SECS=${3:-10}
THREADS=${BENCH_THREADS:-2}
CONNS=64
for a in "$LEADER_API" "$FOLLOWER_API"; do
	case "$a" in 127.0.0.1:[0-9]*) ;; *) echo "bench_kv: '$a' is not 127.0.0.1:PORT" >&2; exit 2 ;; esac
done
case "$SECS" in '' | *[!0-9]* | 0) echo "bench_kv: SECONDS must be a positive integer" >&2; exit 2 ;; esac
for tool in wrk curl ss timeout; do
	command -v "$tool" >/dev/null || { echo "bench_kv: '$tool' is needed (scripts/deps.sh bench)" >&2; exit 2; }
done
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench_kv.XXXXXX")

cleanup() {
	local rc=$? j
	trap - EXIT INT TERM
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'echo "bench_kv: interrupted" >&2; exit 1' INT TERM

die() { echo "bench_kv: $*" >&2; exit 1; }

# ---------------------------------------------------------------- processes

# The cairnd PIDs, from the members' API ports: PIDS[api]=pid.
declare -A PIDS
status=$(curl -sf --max-time 5 "http://$LEADER_API/v1/status") || die "no /v1/status from $LEADER_API"
case "$status" in *'"role":"leader"'*) ;; *) die "$LEADER_API is not the leader: $status" ;; esac
for api in $(printf '%s' "$status" | grep -o '"api":"[^"]*"' | sed 's/"api":"\(.*\)"/\1/'); do
	port=${api##*:}
	pid=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] && PIDS[$api]=$pid
done
HAVE_CPU=1
[ ${#PIDS[@]} -ge 1 ] && [ -n "${PIDS[$LEADER_API]:-}" ] || HAVE_CPU=0

# cpu_ticks PID: utime+stime so far, in clock ticks (0 if gone).
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0
}
# host_cpu: "busy total" jiffies of the whole machine.
host_cpu() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

# ---------------------------------------------------------------- data

# The 100 prefix keys.
curl -sf --max-time 10 -X DELETE "http://$LEADER_API/v1/kv/bench/pfx/?recurse" >/dev/null ||
	die "could not delete bench/pfx/"
cfg=$WORK/fill.curl
printf 'parallel\nparallel-max = 16\n' >"$cfg"
val=$(printf 'p%.0s' $(seq 64))
for ((i = 0; i < 100; i++)); do
	[ $i -gt 0 ] && echo next >>"$cfg"
	printf 'url = "http://%s/v1/kv/bench/pfx/k%03d"\nrequest = "PUT"\ndata-binary = "%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\nmax-time = 10\n' \
		"$LEADER_API" "$i" "$val" >>"$cfg"
done
n_ok=$(curl -s -K "$cfg" 2>/dev/null | grep -c '^200$')
[ "$n_ok" -eq 100 ] || die "writing the 100 prefix keys: only $n_ok acknowledged"
for api in "$LEADER_API" "$FOLLOWER_API"; do
	n=$(curl -sf --max-time 10 "http://$api/v1/kv/bench/pfx/?recurse" | grep -o '"key":' | wc -l)
	[ "$n" -eq 100 ] || die "GET bench/pfx/?recurse on $api: $n entries, want 100"
done

# ---------------------------------------------------------------- rows

# row NAME API DEST MODE: one wrk run; prints (and records) a row.
row() {
	local name=$1 api=$2 dest=$3 mode=$4 th=$THREADS out a
	[ "$mode" = cas ] && th=$CONNS
	[ "$th" -gt "$CONNS" ] && th=$CONNS
	local prefix=bench/pfx
	[ "$mode" = cas ] && prefix=bench/cas
	# Fresh CAS keys: every connection starts with cas=0.
	if [ "$mode" = cas ]; then
		curl -sf --max-time 10 -X DELETE "http://$LEADER_API/v1/kv/bench/cas/?recurse" >/dev/null ||
			die "could not delete bench/cas/"
	fi
	declare -A b e
	for a in "${!PIDS[@]}"; do b[$a]=$(cpu_ticks "${PIDS[$a]}"); done
	local h0 h1
	h0=$(host_cpu)
	out=$(timeout -k 5 $((SECS + 30)) wrk -t "$th" -c "$CONNS" -d "${SECS}s" --timeout 5s \
		-s "$here/kv_cas.lua" "http://$api" -- "$mode" "$prefix" 2>&1)
	h1=$(host_cpu)
	for a in "${!PIDS[@]}"; do e[$a]=$(cpu_ticks "${PIDS[$a]}"); done
	local res
	res=$(printf '%s\n' "$out" | grep '^RESULT ')
	[ -n "$res" ] || die "wrk for $name printed no result: $out"
	f() { printf '%s\n' "$res" | sed "s/.* $1=\([0-9]*\).*/\1/"; }
	local req dur p50 p99 non2xx errs ok c409 other
	req=$(f requests) dur=$(f duration_us) p50=$(f p50_us) p99=$(f p99_us)
	non2xx=$(f non2xx) errs=$(f errors) ok=$(f cas_ok) c409=$(f cas_409) other=$(f cas_other)
	local cl=0 cf=0
	for a in "${!PIDS[@]}"; do
		if [ "$a" = "$LEADER_API" ]; then cl=$((cl + e[$a] - b[$a])); else cf=$((cf + e[$a] - b[$a])); fi
	done
	# The CAS row's req/s counts successful writes; latency and CPU are per
	# request sent.
	local good=$req
	[ "$mode" = cas ] && good=$ok
	local line
	line=$(awk -v n="$name" -v dest="$dest" -v req="$req" -v good="$good" -v dur="$dur" -v p50="$p50" -v p99="$p99" \
		-v cl="$cl" -v cf="$cf" -v tck="$CLK_TCK" -v cpu="$HAVE_CPU" -v h0="$h0" -v h1="$h1" \
		-v mode="$mode" -v bad="$non2xx" -v errs="$errs" -v c409="$c409" -v other="$other" '
		BEGIN {
			rps = good / (dur / 1e6)
			k = req / 1000
			if (k <= 0) k = 1e-9
			split(h0, x, " "); split(h1, y, " ")
			busy = (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0
			if (cpu)
				c = sprintf("%9.3f %9.3f %9.3f", (cl + cf) / tck / k, cl / tck / k, cf / tck / k)
			else
				c = sprintf("%9s %9s %9s", "-", "-", "-")
			printf "%-22s %-9s %10.0f %9.2f %9.2f %s %7.0f%%", n, dest, rps, p50 / 1000, p99 / 1000, c, busy
			if (mode == "cas")
				printf "  (%d CAS ok, %d 409, %d other, %d socket errors)", good, c409, other, errs
			else if (bad + errs > 0)
				printf "  (%d non-2xx, %d socket errors)", bad, errs
			printf "\n"
		}')
	echo "$line"
	[ -n "${BENCH_TABLE:-}" ] && echo "$line" >>"$BENCH_TABLE"
	# Every successful CAS is one version of its key: the versions must add
	# up to the successes (plus at most one write per connection that wrk
	# cut off at the end), else a CAS was lost or applied twice.
	if [ "$mode" = cas ]; then
		local sum
		sum=$(curl -sf --max-time 10 "http://$LEADER_API/v1/kv/bench/cas/?recurse" | grep -o '"version":[0-9]*' |
			awk -F: '{ s += $2 } END { print s + 0 }')
		if [ "$sum" -ge "$ok" ] && [ "$sum" -le $((ok + CONNS)) ]; then
			echo "   $name to the $dest: the keys' versions add up to $sum for $ok successful CAS: consistent"
		else
			echo "   $name to the $dest: MISMATCH: the keys' versions add up to $sum for $ok successful CAS"
		fi
	fi
	return 0
}

printf '%-22s %-9s %10s %9s %9s %9s %9s %9s %8s\n' row to "req/s" "p50 ms" "p99 ms" "cpu/1k" "leader" "follwrs" "host"
row "CAS PUT@64" "$LEADER_API" leader cas
row "CAS PUT@64" "$FOLLOWER_API" follower cas
row "GET@64 prefix 100" "$LEADER_API" leader prefix
row "GET@64 prefix 100" "$FOLLOWER_API" follower prefix
curl -sf --max-time 10 -X DELETE "http://$LEADER_API/v1/kv/bench/cas/?recurse" >/dev/null
exit 0
