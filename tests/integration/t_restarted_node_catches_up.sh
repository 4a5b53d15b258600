#!/usr/bin/env bash
# A node killed with kill -9 (the leader), restarted after the cluster
# moved on without it, catches up: its applied_index reaches the leader's
# commit index, its ?stale reads show every write, and it follows the new
# leader.
. "$(dirname "$0")/lib.sh"

it_start 3
it_wait_leader 10
old=$LEADER
it_put_batch "$LEADER_API" cu 1 50
it_kill9 "$old"
log "killed leader $old"
it_wait_leader 10
log "new leader $LEADER in term $TERM; writing while node $old is down"
it_put_batch "$LEADER_API" cu 51 200
it_put "$LEADER_API" cu/last before-restart

it_restart "$old"
commit=$(it_commit_index "$LEADER")
[ -n "$commit" ] || fail "leader $LEADER does not answer /v1/status"
it_wait_caught_up "$old" "$commit" 10
log "node $old applied up to the leader's commit $commit"

{
	for ((i = 1; i <= 200; i++)); do echo "cu/$i=val-$i"; done
	echo "cu/last=before-restart"
} | sort >"$TDIR/want"
it_dump "$(it_api "$old")" cu stale >"$TDIR/got" || fail "?recurse&stale on node $old: HTTP $HTTP_CODE"
cmp -s "$TDIR/want" "$TDIR/got" ||
	fail "node $old after catching up: $(comm -3 "$TDIR/want" "$TDIR/got" | head -n 5 | tr '\n' ' ')"

# It is a follower of the new leader, and new writes reach it.
it_wait_leader 10
[ "$LEADER" != "$old" ] || log "note: node $old became leader again"
it_put "$(it_api "$old")" cu/after after-restart
commit=$(it_commit_index "$LEADER")
it_wait_caught_up "$old" "$commit" 5
it_expect_kv "$(it_api "$old")" cu/after after-restart stale

it_done
