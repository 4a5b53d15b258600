#!/usr/bin/env bash
# The long-poll benchmark (`make bench-longpoll`, and the last part of
# `make bench`): one cairnd node (build it with -O2, no sanitizers), N idle
# blocking queries from tests/tools/longpoll.c (10,000 by default, every
# 4th on a prefix), the node's RSS before and with them parked, and the
# wake latency when their keys change (PUTs at BENCH_LONGPOLL_RATE per
# second). Target (issue 5): 10,000 long-polls add at most 64 MiB RSS, each
# wakes within 50 ms of the change.
#
#   tests/bench/longpoll.sh CAIRND
#
# Settings (environment):
#   BENCH_LONGPOLLS=10000       how many (0: skip)
#   BENCH_LONGPOLL_RATE=2000    PUTs per second that wake them
#   LONGPOLL                    the client (default: next to CAIRND, tests/tools/longpoll)
#   BENCH_DIR                   work directory (default: next to CAIRND, bench-run/);
#                               this part uses BENCH_DIR/longpoll
#
# File descriptors: the node needs one per long-poll, and so does the
# client. cairnd raises its soft limit to the hard limit at start, the
# client does the same; when the hard limit (ulimit -Hn) is below N + 512,
# this script raises it for itself and its children when it may (root with
# CAP_SYS_RESOURCE), and otherwise says so and runs fewer long-polls. To
# raise it by hand: `ulimit -Hn 65536` as root in the shell that runs make,
# a nofile line in /etc/security/limits.conf, LimitNOFILE= for a systemd
# unit, `docker run --ulimit nofile=65536:65536` for a container (root in
# a container usually lacks CAP_SYS_RESOURCE and cannot raise it itself).
#
# Prints the client's figures and ends with one line:
#   long-polls: <N> parked, RSS +X MiB (Y bytes each), wake p50 A ms p99 B ms max C ms, woke W of N: PASS|FAIL
# Exit 0 when the run happened (the verdict is in the line), 1 on a setup
# failure. Traffic goes to 127.0.0.1 only; the node is stopped on exit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 CAIRND" >&2; exit 2; }
CAIRND=$1
case "$CAIRND" in /*) ;; *) CAIRND=$PWD/$CAIRND ;; esac
[ -x "$CAIRND" ] || { echo "long-polls: no cairnd at $CAIRND" >&2; exit 1; }
LONGPOLL=${LONGPOLL:-$(dirname "$CAIRND")/tests/tools/longpoll}
[ -x "$LONGPOLL" ] || { echo "long-polls: no client at $LONGPOLL (make \$(B)/tests/tools/longpoll)" >&2; exit 1; }
NLP=${BENCH_LONGPOLLS:-10000}
RATE=${BENCH_LONGPOLL_RATE:-2000}
[ "$NLP" -gt 0 ] || { echo "long-polls: skipped (BENCH_LONGPOLLS=0)"; exit 0; }
if grep -qa -e AddressSanitizer -e UndefinedBehaviorSanitizer -e __asan_init -e __ubsan_handle "$CAIRND"; then
	echo "long-polls: warning: $CAIRND is a sanitizer build; figures will be meaningless" >&2
fi
DIR=${BENCH_DIR:-$(dirname "$CAIRND")/bench-run}/longpoll
CDIR=$DIR/cluster
CLUSTER_SH=$root/deploy/cluster.sh
export CAIRND
export CAIRND_FLAGS=${BENCH_FLAGS:-}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -f "$CDIR/cluster.env" ] && "$CLUSTER_SH" stop --dir "$CDIR" >/dev/null 2>&1
	rm -rf "$CDIR"/node-*/
	exit $rc
}
trap cleanup EXIT
trap 'echo "long-polls: interrupted"; exit 1' INT TERM
rm -rf "$DIR"
mkdir -p "$DIR"

# File descriptors: N for the node's connections (plus its own files), N
# for the client's.
need=$((NLP + 512))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
	if [ "$(id -u)" = 0 ] && ulimit -Hn "$need" 2>/dev/null; then
		echo "long-polls: raised the hard fd limit from $hard to $need (running as root)"
	else
		echo "long-polls: the hard fd limit is $hard, below the $need that $NLP long-polls need;"
		echo "   raise it: as root (with CAP_SYS_RESOURCE) ulimit -Hn $need in the shell that runs make;"
		echo "   a nofile line in /etc/security/limits.conf; LimitNOFILE= for a systemd unit;"
		echo "   docker run --ulimit nofile=$need:$need for a container."
		NLP=$((hard - 512))
		[ "$NLP" -ge 100 ] || { echo "long-polls: FAIL (fd limit $hard: too low to run)"; exit 1; }
		echo "   running $NLP long-polls instead"
	fi
fi
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null
echo "long-polls: fd limits: soft $(ulimit -Sn), hard $(ulimit -Hn); $NLP long-polls on one node"

"$CLUSTER_SH" start 1 --dir "$CDIR" >"$DIR/cluster.out" 2>&1 || { echo "long-polls: cluster.sh start 1: $(cat "$DIR/cluster.out")"; exit 1; }
# shellcheck disable=SC1091
. "$CDIR/cluster.env"
pid=$(cat "$CDIR/node-1.pid")
deadline=$((SECONDS + 20))
until curl -sf --max-time 1 "http://$API_1/v1/health" >/dev/null 2>&1; do
	[ $SECONDS -lt $deadline ] || { echo "long-polls: the node is not healthy after 20 s"; tail -n 20 "$CDIR/node-1.log"; exit 1; }
	sleep 0.1
done
echo "long-polls: node pid $pid, fd limit $(sed -n 's/^Max open files *\([0-9a-z]*\).*/\1/p' "/proc/$pid/limits")"

"$LONGPOLL" --api "$API_1" --pid "$pid" --watchers "$NLP" --rate "$RATE" --max-seconds 180 \
	--target-mib 64 --target-ms 50 2>&1 | tee "$DIR/longpoll.out"
kill -0 "$pid" 2>/dev/null || { echo "long-polls: FAIL (the node died)"; tail -n 20 "$CDIR/node-1.log"; exit 1; }

res=$(grep '^longpoll: RESULT' "$DIR/longpoll.out")
verdict=$(grep -E '^longpoll: (PASS|FAIL)' "$DIR/longpoll.out" | sed 's/^longpoll: //')
[ -n "$res" ] || { echo "long-polls: FAIL (no result: ${verdict:-the client failed})"; exit 1; }
v() { printf '%s' "$res" | sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
awk -v n="$(v watchers)" -v parked="$(v parked)" -v d="$(v rss_delta_kib)" -v p50="$(v p50_us)" \
	-v p99="$(v p99_us)" -v mx="$(v max_us)" -v woke="$(v woke)" -v verdict="${verdict:-?}" 'BEGIN {
	printf "long-polls: %d parked, RSS +%.1f MiB (%.0f bytes each), wake p50 %.2f ms p99 %.2f ms max %.2f ms, woke %d of %d: %s\n",
		parked, d / 1024, parked ? d * 1024 / parked : 0, p50 / 1000, p99 / 1000, mx / 1000, woke, n, verdict
}' | tee "$DIR/summary.txt"
