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
#   jn_teardown       kill whatever runs in them and delete them (idempotent)
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

# Everything the harness may have created, whether or not this run did.
jn_teardown() {
	local ns
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$JN_PREFIX" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	ip link del "${JN_PREFIX}h" 2>/dev/null || true
}

jn_check_host() {
	[ "$(id -u)" -eq 0 ] || jn_die "needs root (network namespaces and iptables)"
	command -v ip >/dev/null || jn_die "needs 'ip' (apt-get install iproute2)"
	command -v iptables >/dev/null || jn_die "needs 'iptables' (apt-get install iptables)"
	if ip -4 addr show | grep -q "inet $JN_NET\.[0-9]*/" &&
		! ip link show "${JN_PREFIX}h" >/dev/null 2>&1; then
		jn_die "$JN_NET.0/24 is already in use on this machine; pick another with JN_NET=a.b.c"
	fi
}

jn_setup() {
	local n=$1 i sw="${JN_PREFIX}sw"
	jn_check_host
	jn_teardown
	ip netns add "$sw" || jn_die "cannot create network namespaces"
	ip -n "$sw" link set lo up
	ip -n "$sw" link add br0 type bridge
	ip -n "$sw" link set br0 up
	# The root side.
	ip link add "${JN_PREFIX}h" type veth peer name hport netns "$sw"
	ip addr add "$JN_NET.254/24" dev "${JN_PREFIX}h"
	ip link set "${JN_PREFIX}h" up
	ip -n "$sw" link set hport master br0 up
	for i in $(seq 1 "$n"); do
		ip netns add "$JN_PREFIX$i"
		ip -n "$JN_PREFIX$i" link set lo up
		ip link add eth0 netns "$JN_PREFIX$i" type veth peer name "port$i" netns "$sw"
		ip -n "$sw" link set "port$i" master br0 up
		ip -n "$JN_PREFIX$i" addr add "$JN_NET.$i/24" dev eth0
		ip -n "$JN_PREFIX$i" link set eth0 up
	done
}
