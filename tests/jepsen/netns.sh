# shellcheck shell=bash
# The cluster under test: one network namespace per node, so faults act on
# real packets. Sourced by tests/jepsen/run.sh, never run on its own.
#
#   node i (namespace ${JN_PREFIX}i) ── veth ──┐
#                                             bridge (namespace ${JN_PREFIX}sw)
#   clients (root namespace, ${JN_PREFIX}h) ──┘
#
# Addresses: $JN_NET.i/24 for node i, $JN_NET.254 for the root side. The
# bridge lives in its own namespace, not in the root one, so the host's
# firewall (bridge netfilter, a FORWARD policy of DROP) never sees the
# cluster's packets; the root namespace only gains one veth and its /24.
#
# Faults (nemesis.sh) add iptables rules inside the node namespaces only:
# the host's rules are never touched, and deleting the namespaces removes
# every rule, veth and process the harness made.
#
#   jn_setup N        create the namespaces, links and addresses
#   jn_teardown       kill whatever runs in them and delete them (idempotent;
#                     only after jn_setup took the prefix's lock)
#   jn_exec I CMD...  run CMD inside node I's namespace
#   jn_ip I           node I's address

: "${JN_PREFIX:=cjn}"
: "${JN_NET:=10.199.77}"

jn_ip() { echo "$JN_NET.$1"; }

jn_exec() {
	local i=$1
	shift
	ip netns exec "$JN_PREFIX$i" "$@"
}

jn_die() {
	echo "jepsen: $*" >&2
	exit 2
}

# One harness per prefix at a time: a second one would tear down the
# first's namespaces. The lock is held (fd 9) until the shell exits.
jn_lock() {
	local dir=/run/lock
	[ -d "$dir" ] && [ -w "$dir" ] || dir=/tmp
	exec 9>"$dir/cairn-jepsen-$JN_PREFIX.lock" || jn_die "cannot create the run lock"
	flock -n 9 || jn_die "another fault-harness run holds the namespaces $JN_PREFIX* (JN_PREFIX=... JN_NET=... runs one beside it)"
	JN_LOCKED=1
}

# Everything the harness may have created under this prefix, whether or
# not this run did: names are matched exactly (${JN_PREFIX}1.., ${JN_PREFIX}sw).
# Only the holder of the lock tears down: a run refused at the lock must
# not take the running one's namespaces with it.
jn_teardown() {
	local ns
	[ "${JN_LOCKED:-0}" = 1 ] || return 0
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${JN_PREFIX}([0-9]+|sw)\$" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	ip link del "${JN_PREFIX}h" 2>/dev/null || true
}

jn_check_host() {
	[ "$(id -u)" -eq 0 ] || jn_die "needs root (network namespaces and iptables)"
	command -v ip >/dev/null || jn_die "needs 'ip' (apt-get install iproute2)"
	command -v iptables >/dev/null || jn_die "needs 'iptables' (apt-get install iptables)"
	if ip -4 addr show | grep -q "inet ${JN_NET//./\\.}\.[0-9]*/" &&
		! ip link show "${JN_PREFIX}h" >/dev/null 2>&1; then
		jn_die "$JN_NET.0/24 is already in use on this machine; pick another with JN_NET=a.b.c"
	fi
}

# Runs an ip command; any failure stops the run (the trap tears down).
jn_ip_cmd() { ip "$@" || jn_die "setup failed: ip $*"; }

jn_setup() {
	local n=$1 i sw="${JN_PREFIX}sw"
	jn_check_host
	jn_lock
	jn_teardown
	jn_ip_cmd netns add "$sw"
	jn_ip_cmd -n "$sw" link set lo up
	jn_ip_cmd -n "$sw" link add br0 type bridge
	jn_ip_cmd -n "$sw" link set br0 up
	# The root side.
	jn_ip_cmd link add "${JN_PREFIX}h" type veth peer name hport netns "$sw"
	jn_ip_cmd addr add "$JN_NET.254/24" dev "${JN_PREFIX}h"
	jn_ip_cmd link set "${JN_PREFIX}h" up
	jn_ip_cmd -n "$sw" link set hport master br0 up
	for i in $(seq 1 "$n"); do
		jn_ip_cmd netns add "$JN_PREFIX$i"
		jn_ip_cmd -n "$JN_PREFIX$i" link set lo up
		jn_ip_cmd link add eth0 netns "$JN_PREFIX$i" type veth peer name "port$i" netns "$sw"
		jn_ip_cmd -n "$sw" link set "port$i" master br0 up
		jn_ip_cmd -n "$JN_PREFIX$i" addr add "$JN_NET.$i/24" dev eth0
		jn_ip_cmd -n "$JN_PREFIX$i" link set eth0 up
	done
}
