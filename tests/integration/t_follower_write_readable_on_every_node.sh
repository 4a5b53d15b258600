#!/usr/bin/env bash
# A write sent to a follower (forwarded to the leader) is acknowledged and
# then readable on every node: at once with the default linearizable read,
# and with ?stale after a bounded wait. Also for a batch of 100 keys written
# through the other follower, compared with ?recurse on every node.
. "$(dirname "$0")/lib.sh"

it_start 3
it_wait_leader 10
f1=$(it_follower)
f2=""
for id in 1 2 3; do [ "$id" != "$LEADER" ] && [ "$id" != "$f1" ] && f2=$id; done
log "leader $LEADER, followers $f1 and $f2"

hdr=$(curl -s -D - -o "$TDIR/put.out" --max-time "$(slow 5)" -X PUT --data-binary from-follower \
	"http://$(it_api "$f1")/v1/kv/app/color" | tr -d '\r')
printf '%s\n' "$hdr" | grep -q '^HTTP/1.1 200' || fail "PUT on follower $f1: $hdr $(cat "$TDIR/put.out")"
grep -q '"ok":true' "$TDIR/put.out" || fail "PUT on follower $f1: $(cat "$TDIR/put.out")"
printf '%s\n' "$hdr" | grep -qi "^X-Cairn-Node: $f1\$" || fail "PUT on follower: X-Cairn-Node is not $f1"
printf '%s\n' "$hdr" | grep -qi "^X-Cairn-Leader: $LEADER\$" || fail "PUT on follower: X-Cairn-Leader is not $LEADER"

# Linearizable (default): every node must see the acknowledged write now.
for id in 1 2 3; do
	it_expect_kv "$(it_api "$id")" app/color from-follower
done

# Stale: local replica, eventually.
wait_stale() { # ID KEY VALUE
	local deadline=$(($(now_ms) + $(slow 5) * 1000))
	while :; do
		it_get "$(it_api "$1")" "$2" stale
		[ "$HTTP_CODE" = 200 ] && [ "$HTTP_BODY" = "$3" ] && return 0
		[ "$(now_ms)" -lt "$deadline" ] ||
			fail "node $1 ?stale $2: HTTP $HTTP_CODE '$HTTP_BODY', want '$3' within $(slow 5)s"
		sleep 0.05
	done
}
for id in 1 2 3; do wait_stale "$id" app/color from-follower; done

# A stale read says how long ago the node heard from the leader.
hdr=$(curl -s -D - -o /dev/null --max-time "$(slow 5)" "http://$(it_api "$f2")/v1/kv/app/color?stale" | tr -d '\r')
printf '%s\n' "$hdr" | grep -qi '^X-Cairn-Last-Contact: [0-9]' || fail "?stale on $f2: no X-Cairn-Last-Contact header"

# A batch through the other follower, then the same 100 entries everywhere.
it_put_batch "$(it_api "$f2")" batch 1 100
for ((i = 1; i <= 100; i++)); do echo "batch/$i=val-$i"; done | sort >"$TDIR/want"
for id in 1 2 3; do
	it_dump "$(it_api "$id")" batch >"$TDIR/got.$id" || fail "?recurse on node $id: HTTP $HTTP_CODE"
	cmp -s "$TDIR/want" "$TDIR/got.$id" ||
		fail "node $id (linearizable ?recurse): $(comm -3 "$TDIR/want" "$TDIR/got.$id" | head -n 5 | tr '\n' ' ')"
done
status "$LEADER"
commit=$(jfield "$STATUS" commit_index)
for id in 1 2 3; do
	it_wait_caught_up "$id" "$commit" 5
	it_dump "$(it_api "$id")" batch stale >"$TDIR/got.$id" || fail "?recurse&stale on node $id: HTTP $HTTP_CODE"
	cmp -s "$TDIR/want" "$TDIR/got.$id" ||
		fail "node $id (?stale ?recurse): $(comm -3 "$TDIR/want" "$TDIR/got.$id" | head -n 5 | tr '\n' ' ')"
done

it_done
