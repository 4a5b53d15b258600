#!/usr/bin/env bash
# Blocking queries (API.md "Blocking queries") see every change and only
# changes. On a 3-node cluster:
#
# 1. tests/tools/watchers.c: 60 watchers spread over the three nodes (a
#    third of them ?stale, some with wait=1s so timeouts happen) loop on
#    ?index=<last X-Cairn-Index>&wait=... over overlapping prefixes and
#    keys ('' recurse, app/, app/ ?keys, app/db/, app/db/host as a prefix
#    and as a key, app/db/x/, web/, web, app/late, apple, nothing/), while
#    4 writers make 400 writes through every node: PUTs, PUT ?cas=0, failed
#    CAS, DELETEs of present and missing keys, recursive DELETEs (also of
#    everything, and of prefixes holding nothing), transactions, and writes
#    to keys only the root watcher covers; then 16 single writes of every
#    kind, 250 ms (x IT_SLOW, at most 500 ms) apart, each of which must
#    wake every watcher it concerns before the next is sent (so a missed
#    wake-up cannot hide behind a later change). The tool replays the writes in
#    index order and checks, for every watcher (watchers.c's header has the
#    exact definitions): every X-Cairn-Index it got is the index of a write
#    that changed what it covers; every body is exactly the state at that
#    index; every answer before the wait ran out moved the index (no
#    spurious wake-ups, so unrelated writes woke nobody); every change
#    showed up in some answer, within 2 s (x IT_SLOW) of the write's
#    answer; the last answer is the true final state.
# 2. With curl: a watcher on a missing key wakes on its creation; a watcher
#    on a key wakes on its deletion (404, the delete's index); index=0 on a
#    never-written key blocks until the wait runs out and answers the same
#    index (0); a wait timeout answers with the same index; a wait over 10m
#    is accepted and holds (the cut to 10m itself is not observable without
#    waiting 10 minutes: a wait of 2^64-1 ms still holding shows at least
#    that the deadline did not overflow); bad waits are 400 bad_request.
. "$(dirname "$0")/lib.sh"

[ -x "$WATCHERS" ] || fail "no watchers tool at $WATCHERS (make \$(B)/tests/tools/watchers)"

it_start 3
it_wait_leader 10
lead=$LEADER
f=$(it_follower)
log "leader $lead, follower $f"

# Transactions (POST /v1/txn) are in the writers' mix when the node has them.
http POST "http://$LEADER_API/v1/txn" '{"success":[]}'
txn=0
[ "$HTTP_CODE" = 200 ] && txn=1
[ $txn = 1 ] || log "POST /v1/txn answers $HTTP_CODE: no transactions in the writers' mix"

# ---------------------------------------------------------------- 1. watchers

"$WATCHERS" --api "$(it_api 1),$(it_api 2),$(it_api 3)" --watchers 60 --writers 4 --ops 100 \
	--gap-ms 40 --seed "${IT_SEED:-1}" --slow "$IT_SLOW" --txn $txn >"$TDIR/watchers.out" 2>&1 &
wpid=$!
# Bounded: the tool has its own deadlines; this one is the safety net.
deadline=$(($(now_ms) + $(slow 60) * 1000))
while kill -0 $wpid 2>/dev/null; do
	[ "$(now_ms)" -lt "$deadline" ] || { kill $wpid; fail "watchers still running after $(slow 60)s"; }
	sleep 0.1
done
wait $wpid
rc=$?
sed 's/^/  | /' "$TDIR/watchers.out"
[ $rc -eq 0 ] || fail "watchers: exit $rc (problems above)"
it_check_alive

# ---------------------------------------------------------------- 2. edge cases

# hdr_index FILE: the X-Cairn-Index of a curl -D dump.
hdr_index() { sed -n 's/^[Xx]-[Cc]airn-[Ii]ndex: *\([0-9]*\).*/\1/p' "$1" | tail -n 1; }

# bg_get NAME URL MAXTIME: a GET in the background; NAME.code, NAME.hdr,
# NAME.body, NAME.ms (how long it took) appear when it ends.
bg_get() {
	(
		t0=$(now_ms)
		code=$(curl -s --max-time "$3" -D "$TDIR/$1.hdr" -o "$TDIR/$1.body" -w '%{http_code}' "$2" 2>/dev/null)
		echo "$(($(now_ms) - t0))" >"$TDIR/$1.ms"
		echo "${code:-000}" >"$TDIR/$1.code"
	) &
}

# bg_wait NAME SECONDS: until NAME's GET ended (fails after SECONDS).
bg_wait() {
	local deadline=$(($(now_ms) + $2 * 1000))
	while [ ! -s "$TDIR/$1.code" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || fail "$1: no answer within $2 s"
		sleep 0.02
	done
}

# still_waiting NAME: the GET has not answered yet.
still_waiting() { [ ! -e "$TDIR/$1.code" ] || fail "$1: answered early: $(cat "$TDIR/$1.code") $(cat "$TDIR/$1.body")"; }

A=http://$(it_api "$f")
L=http://$LEADER_API

# A missing key's watcher wakes on its creation (linearizable on a follower).
bg_get create "$A/v1/kv/edge/new?index=0&wait=20s" "$(slow 25)"
sleep 0.5
still_waiting create
http PUT "$L/v1/kv/edge/new" born
[ "$HTTP_CODE" = 200 ] || fail "PUT edge/new: $HTTP_CODE $HTTP_BODY"
put_idx=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
bg_wait create "$(slow 2)"
[ "$(cat "$TDIR/create.code")" = 200 ] || fail "watcher of a missing key: HTTP $(cat "$TDIR/create.code") on its creation"
[ "$(hdr_index "$TDIR/create.hdr")" = "$put_idx" ] ||
	fail "watcher of a missing key: X-Cairn-Index $(hdr_index "$TDIR/create.hdr"), want the PUT's $put_idx"
grep -q '"value":"born"' "$TDIR/create.body" || fail "watcher of a missing key: body $(cat "$TDIR/create.body")"
log "a missing key's watcher woke on its creation (index $put_idx)"

# A watcher on a key wakes on its deletion: 404 with the delete's index.
bg_get del "$A/v1/kv/edge/new?stale&index=$put_idx&wait=20s" "$(slow 25)"
sleep 0.5
still_waiting del
http DELETE "$L/v1/kv/edge/new"
[ "$HTTP_CODE" = 200 ] || fail "DELETE edge/new: $HTTP_CODE $HTTP_BODY"
del_idx=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"index":\([0-9]*\).*/\1/p')
bg_wait del "$(slow 2)"
[ "$(cat "$TDIR/del.code")" = 404 ] || fail "watcher of a deleted key: HTTP $(cat "$TDIR/del.code"), want 404"
[ "$(hdr_index "$TDIR/del.hdr")" = "$del_idx" ] ||
	fail "watcher of a deleted key: X-Cairn-Index $(hdr_index "$TDIR/del.hdr"), want the DELETE's $del_idx"
grep -q '"code":"not_found"' "$TDIR/del.body" || fail "watcher of a deleted key: body $(cat "$TDIR/del.body")"
log "a key's watcher woke on its deletion (404, index $del_idx)"

# index=0 on a never-written key blocks, then answers the same index.
bg_get zero "$A/v1/kv/edge/never?index=0&wait=1s" "$(slow 10)"
sleep 0.5
still_waiting zero
bg_wait zero "$(slow 5)"
ms=$(cat "$TDIR/zero.ms")
[ "$(cat "$TDIR/zero.code")" = 404 ] && [ "$(hdr_index "$TDIR/zero.hdr")" = 0 ] ||
	fail "index=0 on a never-written key: HTTP $(cat "$TDIR/zero.code") index $(hdr_index "$TDIR/zero.hdr") after ${ms}ms, want 404 index 0"
[ "$ms" -ge 950 ] || fail "index=0 on a never-written key answered after ${ms}ms, before its 1s wait"
log "index=0 on a never-written key held ${ms}ms (wait=1s), answered 404 index 0"

# The same for a prefix that holds nothing, through the leader.
bg_get zerop "$L/v1/kv/edge/none/?recurse&index=0&wait=500ms" "$(slow 10)"
bg_wait zerop "$(slow 5)"
ms=$(cat "$TDIR/zerop.ms")
[ "$(cat "$TDIR/zerop.code")" = 200 ] && [ "$(hdr_index "$TDIR/zerop.hdr")" = 0 ] &&
	[ "$(cat "$TDIR/zerop.body")" = "[]" ] && [ "$ms" -ge 450 ] ||
	fail "index=0 on an empty prefix: HTTP $(cat "$TDIR/zerop.code") index $(hdr_index "$TDIR/zerop.hdr") body $(cat "$TDIR/zerop.body") after ${ms}ms"

# A wait timeout on an existing key answers its unchanged state and index.
it_put "$LEADER_API" edge/k v1
k_idx=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"modify_index":\([0-9]*\).*/\1/p')
bg_get tmo "$A/v1/kv/edge/k?index=$k_idx&wait=700ms" "$(slow 10)"
# Unrelated writes meanwhile (also to a key with this one as its prefix).
it_put "$LEADER_API" edge/kk x
it_put "$LEADER_API" edge/other y
bg_wait tmo "$(slow 5)"
ms=$(cat "$TDIR/tmo.ms")
[ "$(cat "$TDIR/tmo.code")" = 200 ] && [ "$(hdr_index "$TDIR/tmo.hdr")" = "$k_idx" ] && [ "$ms" -ge 650 ] ||
	fail "wait timeout: HTTP $(cat "$TDIR/tmo.code") index $(hdr_index "$TDIR/tmo.hdr") after ${ms}ms, want 200 index $k_idx after >= 700ms"
grep -q '"value":"v1"' "$TDIR/tmo.body" || fail "wait timeout: body $(cat "$TDIR/tmo.body")"
log "wait=700ms timed out after ${ms}ms with the same index $k_idx, unrelated writes did not wake it"

# A wait over 10m is accepted (cut to 10m) and holds; so does the largest.
for w in 11m 1h 18446744073709551615ms; do
	t0=$(now_ms)
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$A/v1/kv/edge/k?index=$k_idx&wait=$w" 2>/dev/null)
	rc=$?
	[ $rc -eq 28 ] || fail "wait=$w: answered at once (curl exit $rc, HTTP $code after $(($(now_ms) - t0))ms), want it held"
done
log "wait=11m, 1h and 2^64-1 ms are accepted and hold (the 10m cut itself is not observable here)"

# Bad waits: 400 bad_request.
for q in "wait=10" "wait=1.5s" "wait=5d" "wait=-1s" "wait=" "wait=s" "wait=1%20s" "wait=18446744073709551616ms" \
	"wait=18446744073709551615h" "wait=1S" "wait=0x10s"; do
	http GET "$A/v1/kv/edge/k?index=$k_idx&$q"
	[ "$HTTP_CODE" = 400 ] && case "$HTTP_BODY" in *'"code":"bad_request"'*) true ;; *) false ;; esac ||
		fail "?index=$k_idx&$q: HTTP $HTTP_CODE $HTTP_BODY, want 400 bad_request"
done
# wait without index, and a bad index.
for q in "wait=1s" "index=-1&wait=1s" "index=abc" "index=1e3" "index=18446744073709551616"; do
	http GET "$A/v1/kv/edge/k?$q"
	[ "$HTTP_CODE" = 400 ] && case "$HTTP_BODY" in *'"code":"bad_request"'*) true ;; *) false ;; esac ||
		fail "?$q: HTTP $HTTP_CODE $HTTP_BODY, want 400 bad_request"
done
log "bad waits and indexes: 400 bad_request"

it_done
