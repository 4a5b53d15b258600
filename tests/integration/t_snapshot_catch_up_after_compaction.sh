#!/usr/bin/env bash
# Catching up through a snapshot: with --snapshot-entries=50, a follower is
# stopped, enough writes let the leader snapshot and compact its log past
# everything the follower has (the Replica keeps TRAILING=1024 entries behind
# a snapshot, raftcore's default), and the restarted follower catches
# up by installing a snapshot (its log says so, its snapshot_index > 0),
# then keeps replicating normally, and boots again from that snapshot.
. "$(dirname "$0")/lib.sh"

TRAILING=1024
TOTAL=$((TRAILING + 150))

it_start 3 --snapshot-entries=50
it_wait_leader 10
it_put_batch "$LEADER_API" sn 1 20
lag=$(it_follower)
status "$lag"
lag_last=$(jfield "$STATUS" last_log_index)
it_stop_node "$lag"
log "stopped follower $lag at last_log_index $lag_last; leader $LEADER"

it_put_batch "$LEADER_API" sn 21 "$TOTAL"
status "$LEADER"
snap=$(jfield "$STATUS" snapshot_index)
commit=$(jfield "$STATUS" commit_index)
log "leader: commit $commit, snapshot_index $snap"
[ -n "$snap" ] && [ $((snap - TRAILING)) -gt "$lag_last" ] ||
	fail "the leader's snapshot_index ($snap) minus $TRAILING trailing entries is not past the stopped follower's log ($lag_last)"

it_restart "$lag"
it_wait_caught_up "$lag" "$commit" 15
status "$lag"
lag_snap=$(jfield "$STATUS" snapshot_index)
grep -q "installed snapshot" "$(it_log "$lag")" ||
	fail "node $lag caught up but its log says no 'installed snapshot' (snapshot_index $lag_snap)"
[ "$lag_snap" -gt 0 ] || fail "node $lag: snapshot_index $lag_snap after installing a snapshot"
log "node $lag caught up: $(grep "installed snapshot" "$(it_log "$lag")" | tail -n 1 | sed 's/.*INFO *//')"

for ((i = 1; i <= TOTAL; i++)); do echo "sn/$i=val-$i"; done | sort >"$TDIR/want"
it_dump "$(it_api "$lag")" sn stale >"$TDIR/got" || fail "?recurse&stale on node $lag: HTTP $HTTP_CODE"
cmp -s "$TDIR/want" "$TDIR/got" ||
	fail "node $lag after the snapshot: $(comm -3 "$TDIR/want" "$TDIR/got" | head -n 5 | tr '\n' ' ')"

# Ordinary replication continues after the snapshot.
it_put_batch "$LEADER_API" sn $((TOTAL + 1)) $((TOTAL + 50))
commit=$(it_commit_index "$LEADER")
it_wait_caught_up "$lag" "$commit" 10
it_expect_kv "$(it_api "$lag")" sn/$((TOTAL + 50)) val-$((TOTAL + 50)) stale

# And the node boots from its installed snapshot plus log.
it_stop_node "$lag"
it_restart "$lag"
it_wait_leader 10
it_wait_caught_up "$lag" "$commit" 10
for ((i = TOTAL + 1; i <= TOTAL + 50; i++)); do echo "sn/$i=val-$i"; done | sort -m - "$TDIR/want" | sort >"$TDIR/want2"
it_dump "$(it_api "$lag")" sn stale >"$TDIR/got" || fail "?recurse&stale on node $lag: HTTP $HTTP_CODE"
cmp -s "$TDIR/want2" "$TDIR/got" ||
	fail "node $lag after a restart: $(comm -3 "$TDIR/want2" "$TDIR/got" | head -n 5 | tr '\n' ' ')"

it_done
