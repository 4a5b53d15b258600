#!/bin/sh
# Runs a cairn cluster on loopback from the build tree, for people and for
# test tools alike.
#
#   deploy/cluster.sh start N [--dir DIR]     start N nodes in the background
#   deploy/cluster.sh start-node ID [--dir DIR]   restart one stopped node
#   deploy/cluster.sh stop-node ID [--dir DIR]    stop one node (SIGTERM)
#   deploy/cluster.sh status [--dir DIR]      one line per node, with its role
#   deploy/cluster.sh stop [--dir DIR]        stop every node
#
# start, start-node and status print one line per node:
#   node ID api=HOST:PORT peer=HOST:PORT pid=PID data=DIR
# (status adds role=ROLE). DIR defaults to ./cairn-cluster; each node's
# data, log (node-ID.log) and pid file live under it, so several clusters
# can run side by side with different --dir. Free ports are picked at
# start and kept in DIR/cluster.env. CAIRND overrides the binary
# (default: build/default/cairnd next to this script); extra flags for
# every node can be given in CAIRND_FLAGS.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
CAIRND=${CAIRND:-$here/build/default/cairnd}
CAIRND_FLAGS=${CAIRND_FLAGS:-}

die() { echo "cluster.sh: $*" >&2; exit 1; }

cmd=${1:-}
[ -n "$cmd" ] || die "usage: cluster.sh start N | start-node ID | stop-node ID | status | stop [--dir DIR]"
shift
arg=""
case "$cmd" in
start | start-node | stop-node)
	[ $# -ge 1 ] || die "$cmd needs a number"
	arg=$1
	shift
	case "$arg" in '' | *[!0-9]*) die "$cmd: '$arg' is not a number" ;; esac
	;;
esac
dir=./cairn-cluster
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) [ $# -ge 2 ] || die "--dir needs a value"; dir=$2; shift 2 ;;
	--dir=*) dir=${1#--dir=}; shift ;;
	*) die "unknown option '$1'" ;;
	esac
done

port_free() {
	! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# Picks 2*N free ports starting from a spot derived from the directory,
# in 20000-32767: below Linux's ephemeral range (32768-60999), where a
# client's outgoing connection could be holding the port.
pick_ports() {
	n=$1
	p=$((20000 + $(printf '%s' "$(cd "$dir" && pwd)" | cksum | cut -d' ' -f1) % 12000))
	ports=""
	while [ "$(echo $ports | wc -w)" -lt $((2 * n)) ]; do
		if port_free "$p"; then ports="$ports $p"; fi
		p=$((p + 1))
	done
	echo $ports
}

node_line() {
	id=$1
	eval "api=\$API_$id peer=\$PEER_$id"
	pid=$(cat "$dir/node-$id.pid" 2>/dev/null || echo 0)
	printf 'node %s api=%s peer=%s pid=%s data=%s' "$id" "$api" "$peer" "$pid" "$dir/node-$id"
}

# A zombie (exited, not yet reaped: its parent was this script, so init
# reaps it, sometimes seconds later) is not alive.
alive() {
	pid=$(cat "$dir/node-$1.pid" 2>/dev/null || echo "")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	state=$(sed -n 's/^[0-9]* (.*) \(.\).*/\1/p' "/proc/$pid/stat" 2>/dev/null)
	[ "$state" != Z ]
}

start_node() {
	id=$1
	alive "$id" && die "node $id is already running"
	eval "api=\$API_$id peer=\$PEER_$id"
	# shellcheck disable=SC2086
	"$CAIRND" --id="$id" --api="$api" --peer="$peer" --members="$MEMBERS" \
		--data="$dir/node-$id" $CAIRND_FLAGS >>"$dir/node-$id.log" 2>&1 &
	echo $! >"$dir/node-$id.pid"
	node_line "$id"
	echo
}

load_env() {
	[ -f "$dir/cluster.env" ] || die "no cluster in $dir (run: cluster.sh start N --dir $dir)"
	. "$dir/cluster.env"
}

case "$cmd" in
start)
	[ "$arg" -ge 1 ] && [ "$arg" -le 9 ] || die "start: N must be 1..9"
	[ -x "$CAIRND" ] || die "no cairnd at $CAIRND (run make first)"
	mkdir -p "$dir"
	if [ -f "$dir/cluster.env" ]; then
		. "$dir/cluster.env"
		i=1
		while [ $i -le "$N" ]; do
			alive $i && die "a cluster is running in $dir (cluster.sh stop --dir $dir)"
			i=$((i + 1))
		done
	fi
	set -- $(pick_ports "$arg")
	{
		echo "N=$arg"
		members=""
		i=1
		while [ $i -le "$arg" ]; do
			echo "API_$i=127.0.0.1:$1"
			echo "PEER_$i=127.0.0.1:$2"
			members="$members${members:+,}$i=127.0.0.1:$2"
			shift 2
			i=$((i + 1))
		done
		echo "MEMBERS=$members"
	} >"$dir/cluster.env"
	. "$dir/cluster.env"
	i=1
	while [ $i -le "$N" ]; do
		start_node $i
		i=$((i + 1))
	done
	;;
start-node)
	load_env
	[ "$arg" -ge 1 ] && [ "$arg" -le "$N" ] || die "no node $arg in $dir"
	start_node "$arg"
	;;
stop-node)
	load_env
	if alive "$arg"; then
		kill "$(cat "$dir/node-$arg.pid")"
	fi
	;;
status)
	load_env
	i=1
	while [ $i -le "$N" ]; do
		role=stopped
		if alive $i; then
			eval "api=\$API_$i"
			role=$(curl -s --max-time 2 "http://$api/v1/status" |
				sed -n 's/.*"role":"\([a-z]*\)".*/\1/p')
			role=${role:-unknown}
		fi
		node_line $i
		echo " role=$role"
		i=$((i + 1))
	done
	;;
stop)
	load_env
	i=1
	while [ $i -le "$N" ]; do
		if alive $i; then kill "$(cat "$dir/node-$i.pid")" 2>/dev/null || true; fi
		i=$((i + 1))
	done
	# wait up to 5 s, then SIGKILL
	t=0
	while [ $t -lt 50 ]; do
		any=0
		i=1
		while [ $i -le "$N" ]; do alive $i && any=1; i=$((i + 1)); done
		[ $any -eq 0 ] && break
		sleep 0.1
		t=$((t + 1))
	done
	i=1
	while [ $i -le "$N" ]; do
		if alive $i; then kill -9 "$(cat "$dir/node-$i.pid")" 2>/dev/null || true; fi
		i=$((i + 1))
	done
	;;
*) die "unknown command '$cmd'" ;;
esac
