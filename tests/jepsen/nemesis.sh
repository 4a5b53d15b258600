# shellcheck shell=bash
# The nemesis: faults on the cluster of netns.sh, one at a time or two
# together (a network fault with a process fault). Sourced by run.sh, which
# provides jn_node_pid I, jn_node_start I and NODES (the node count).
#
# Faults (names as in NEMESIS_FAULTS and the log):
#   isolate-leader  the leader loses every peer (both directions, silent drops)
#   halves          a random minority against the majority
#   bridge          two halves that only one node in the middle sees both of
#   one-way         the leader hears nobody, but everybody still hears it
#                   (over TCP this turns two-way once the unacknowledged
#                   windows fill, within a second or so: what it tests is
#                   the asymmetric start of a failure)
#   loss            20% of peer packets dropped at random, everywhere
#   kill-leader     kill -9 the leader; restarted when the fault heals
#   kill-random     kill -9 one or two random nodes (never a majority)
#   pause-leader    SIGSTOP the leader for longer than an election timeout
#   pause-random    SIGSTOP a random node
# Network faults drop packets with iptables INPUT rules inside the node
# namespaces, so a partition is silent, as a cut cable is: no reset, no
# error, only missing packets. Clients in the root namespace always reach
# every node that runs (Jepsen's model: the faults are between servers).
#
# Every schedule is drawn from bash's RANDOM, seeded by the run's seed, so
# the same seed gives the same choices (the cluster's timing still varies).

NEMESIS_NET="isolate-leader halves bridge one-way loss"
NEMESIS_PROC="kill-leader kill-random pause-leader pause-random"
: "${NEMESIS_FAULTS:=$NEMESIS_NET $NEMESIS_PROC}"

declare -A NEM_COUNT    # fault name -> times injected
NEM_KILLED=""           # nodes killed by the current fault
NEM_PAUSED=""           # nodes paused by the current fault
NEM_T0=${NEM_T0:-$(date +%s.%N)}

nem_log() {
	local now
	now=$(date +%s.%N)
	awk -v t0="$NEM_T0" -v now="$now" -v wall="$(date -u -d "@$now" +%H:%M:%S.%3N)" -v msg="$*" \
		'BEGIN { printf "%8.3f %s %s\n", now - t0, wall, msg }' >>"$NEM_LOG"
}

# The node that claims leadership in the highest term (0: none answered).
nem_leader() {
	local i best=0 bestterm=-1 s role term
	for i in $(seq 1 "$NODES"); do
		s=$(curl -s --max-time 1 "http://$(jn_ip "$i"):7700/v1/status" 2>/dev/null) || continue
		role=$(sed -n 's/.*"role":"\([a-z]*\)".*/\1/p' <<<"$s")
		term=$(sed -n 's/.*"term":\([0-9]*\).*/\1/p' <<<"$s")
		if [ "$role" = leader ] && [ "${term:-0}" -gt "$bestterm" ]; then
			best=$i
			bestterm=$term
		fi
	done
	echo "$best"
}

# Functions that draw from RANDOM leave their answer in NEM_R instead of
# printing it: a $(...) subshell would not advance the parent's RANDOM, and
# the schedule would stop following the seed.
nem_random_node() { NEM_R=$((RANDOM % NODES + 1)); }

# The leader, or a random node when there is none. The random node is
# drawn either way, so RANDOM advances the same whatever the cluster's
# timing, and a seed replays the same schedule.
nem_target_leader() {
	local leader
	leader=$(nem_leader)
	nem_random_node
	[ "$leader" -eq 0 ] || NEM_R=$leader
}

# Runs iptables in node I's namespace; a rule that does not load stops the
# run, rather than counting a fault that never happened.
nem_iptables() {
	local i=$1
	shift
	jn_exec "$i" iptables -w "$@" || jn_die "nemesis: iptables $* failed in node $i's namespace"
}

# Node I drops every packet that comes from node J.
nem_drop_from() { nem_iptables "$1" -A INPUT -s "$(jn_ip "$2")" -j DROP; }

# No packet passes between any node of A and any node of B.
nem_cut() {
	local a b
	for a in $1; do
		for b in $2; do
			nem_drop_from "$a" "$b"
			nem_drop_from "$b" "$a"
		done
	done
}

nem_others() {
	local i
	for i in $(seq 1 "$NODES"); do [ "$i" = "$1" ] || echo -n "$i "; done
}

# A random permutation of 1..NODES.
nem_shuffle() {
	local -a a
	local i j t
	mapfile -t a < <(seq 1 "$NODES")
	for ((i = NODES - 1; i > 0; i--)); do
		j=$((RANDOM % (i + 1)))
		t=${a[i]}
		a[i]=${a[j]}
		a[j]=$t
	done
	NEM_R="${a[*]}"
}

nem_heal_net() {
	local i
	for i in $(seq 1 "$NODES"); do nem_iptables "$i" -F INPUT; done
}

nem_resume_paused() {
	local i
	for i in $NEM_PAUSED; do kill -CONT "$(jn_node_pid "$i")" 2>/dev/null || true; done
	NEM_PAUSED=""
}

nem_restart_killed() {
	local i
	for i in $NEM_KILLED; do jn_node_start "$i"; done
	NEM_KILLED=""
}

# Paused nodes wake first, into whatever partition still holds, for a
# second: a leader that was paused (a long GC, a stalled VM) wakes up
# believing it still leads, which is exactly when stale answers happen.
nem_heal_all() {
	if [ -n "$NEM_PAUSED" ]; then
		nem_resume_paused
		sleep 1
	fi
	nem_heal_net
	nem_restart_killed
}

# Starts fault $1 and logs what it did.
nem_start() {
	local f=$1 l p what minority majority mid
	case "$f" in
	isolate-leader)
		nem_target_leader
		l=$NEM_R
		nem_cut "$l" "$(nem_others "$l")"
		what="node $l cut off"
		;;
	halves)
		nem_shuffle
		read -ra p <<<"$NEM_R"
		minority="${p[*]:0:$(((NODES - 1) / 2))}"
		majority="${p[*]:$(((NODES - 1) / 2))}"
		nem_cut "$minority" "$majority"
		what="{$minority} | {$majority}"
		;;
	bridge)
		nem_shuffle
		read -ra p <<<"$NEM_R"
		mid=${p[0]}
		minority="${p[*]:1:$(((NODES - 1) / 2))}"
		majority="${p[*]:$((1 + (NODES - 1) / 2))}"
		nem_cut "$minority" "$majority"
		what="{$minority} | $mid | {$majority}"
		;;
	one-way)
		nem_target_leader
		l=$NEM_R
		for p in $(nem_others "$l"); do nem_drop_from "$l" "$p"; done
		what="node $l hears nobody"
		;;
	loss)
		for l in $(seq 1 "$NODES"); do
			nem_iptables "$l" -A INPUT -s "$JN_NET.254" -j ACCEPT
			nem_iptables "$l" -A INPUT -s "$JN_NET.0/24" \
				-m statistic --mode random --probability 0.2 -j DROP
		done
		what="20% of peer packets dropped"
		;;
	kill-leader)
		nem_target_leader
		l=$NEM_R
		kill -9 "$(jn_node_pid "$l")" 2>/dev/null
		NEM_KILLED="$NEM_KILLED $l"
		what="node $l killed"
		;;
	kill-random)
		nem_shuffle
		read -ra p <<<"$NEM_R"
		p=("${p[@]:0:$((1 + RANDOM % ((NODES - 1) / 2)))}")
		for l in "${p[@]}"; do kill -9 "$(jn_node_pid "$l")" 2>/dev/null; done
		NEM_KILLED="$NEM_KILLED ${p[*]}"
		what="nodes ${p[*]} killed"
		;;
	pause-leader | pause-random)
		if [ "$f" = pause-leader ]; then nem_target_leader; else nem_random_node; fi
		l=$NEM_R
		kill -STOP "$(jn_node_pid "$l")" 2>/dev/null
		NEM_PAUSED="$NEM_PAUSED $l"
		what="node $l paused"
		;;
	*)
		jn_die "unknown fault '$f' (faults: $NEMESIS_NET $NEMESIS_PROC)"
		;;
	esac
	NEM_COUNT[$f]=$((${NEM_COUNT[$f]:-0} + 1))
	nem_log "start $f: $what"
}

nem_is_net() { [[ " $NEMESIS_NET " == *" $1 "* ]]; }

nem_pick() {
	local -a all
	read -ra all <<<"$1"
	NEM_R=${all[RANDOM % ${#all[@]}]}
}

# Runs faults until $1 seconds from now: hold a fault (or a network fault
# and a process fault together, one time in three) for HOLD seconds, heal,
# stay calm for CALM seconds, repeat. With NEMESIS_SCHEDULE set, its faults
# run in that order instead ("a+b" runs a and b together), once each.
nemesis_run() {
	local end=$(($(date +%s) + $1)) f g hold calm net proc step
	local -a sched=()
	[ -n "${NEMESIS_SCHEDULE:-}" ] && read -ra sched <<<"$NEMESIS_SCHEDULE"
	net="" proc=""
	for f in $NEMESIS_FAULTS; do
		if nem_is_net "$f"; then net="$net $f"; else proc="$proc $f"; fi
	done
	step=0
	while [ "$(date +%s)" -lt "$end" ]; do
		calm=$((NEM_CALM_MIN + RANDOM % (NEM_CALM_MAX - NEM_CALM_MIN + 1)))
		hold=$((NEM_HOLD_MIN + RANDOM % (NEM_HOLD_MAX - NEM_HOLD_MIN + 1)))
		if [ ${#sched[@]} -gt 0 ]; then
			[ $step -lt ${#sched[@]} ] || { sleep 1; continue; }
			f=${sched[step]%%+*}
			g=""
			[[ "${sched[step]}" == *+* ]] && g=${sched[step]#*+}
			step=$((step + 1))
		else
			nem_pick "$NEMESIS_FAULTS"
			f=$NEM_R
			g=""
			if [ -n "$net" ] && [ -n "$proc" ] && [ $((RANDOM % 3)) -eq 0 ]; then
				if nem_is_net "$f"; then nem_pick "$proc"; else nem_pick "$net"; fi
				g=$NEM_R
			fi
		fi
		# The network fault first: it looks up the leader while the
		# leader still answers (a paused or killed one does not).
		if [ -n "$g" ] && ! nem_is_net "$f"; then
			nem_start "$g"
			nem_start "$f"
		else
			nem_start "$f"
			[ -z "$g" ] || nem_start "$g"
		fi

		sleep "$hold"
		nem_heal_all
		nem_log "heal"
		sleep "$calm"
	done
}
