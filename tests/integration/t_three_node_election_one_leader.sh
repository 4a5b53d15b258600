#!/usr/bin/env bash
# A 3-node cluster elects exactly one leader and every node agrees on it
# (same leader id, same term in /v1/status, same X-Cairn-Leader header);
# the leader lists all three members; every node is healthy; and the
# leadership holds still for a while (no election churn when idle).
. "$(dirname "$0")/lib.sh"

it_start 3
it_wait_leader 10
log "leader is node $LEADER in term $TERM"

for id in 1 2 3; do
	status "$id"
	role=$(jfield "$STATUS" role)
	if [ "$id" = "$LEADER" ]; then
		[ "$role" = leader ] || fail "node $id: role '$role', want leader"
	else
		[ "$role" = follower ] || fail "node $id: role '$role', want follower"
	fi
	hdr=$(curl -s -D - -o /dev/null --max-time "$(slow 5)" "http://$(it_api "$id")/v1/status" | tr -d '\r')
	printf '%s\n' "$hdr" | grep -qi "^X-Cairn-Leader: $LEADER\$" ||
		fail "node $id: X-Cairn-Leader is not $LEADER: $(printf '%s\n' "$hdr" | grep -i x-cairn)"
	printf '%s\n' "$hdr" | grep -qi "^X-Cairn-Node: $id\$" ||
		fail "node $id: X-Cairn-Node is not $id"
done

# The leader knows every member and how far each has replicated.
status "$LEADER"
for id in 1 2 3; do
	printf '%s' "$STATUS" | grep -q "{\"id\":$id,\"api\":\"$(it_api "$id")\",\"peer\":\"$(it_peer "$id")\",\"voter\":true" ||
		fail "leader's members list lacks node $id: $STATUS"
done

# Every node is healthy once it has heard the leader's commit.
deadline=$(($(now_ms) + $(slow 5) * 1000))
for id in 1 2 3; do
	while :; do
		http GET "http://$(it_api "$id")/v1/health"
		[ "$HTTP_CODE" = 200 ] && [ "$HTTP_BODY" = ok ] && break
		[ "$(now_ms)" -lt "$deadline" ] || fail "node $id /v1/health: HTTP $HTTP_CODE $HTTP_BODY"
		sleep 0.05
	done
done

# No churn: the same leader and term for 1.5 s (30 heartbeats).
first_leader=$LEADER first_term=$TERM
for _ in 1 2 3 4 5 6; do
	sleep 0.25
	it_wait_leader 5
	[ "$LEADER" = "$first_leader" ] && [ "$TERM" = "$first_term" ] ||
		fail "leadership changed while idle: node $first_leader term $first_term -> node $LEADER term $TERM"
done

it_done
