#!/usr/bin/env bash
# kill -9 the leader in the middle of a stream of writes: a new leader is
# elected among the survivors within a bound, writes succeed again within a
# bound, and every write acknowledged before (and after) the kill is there,
# read linearizably from the new leader and from each survivor.
#
# WRITERS concurrent loops (curl per write, through a follower) write
# PER_WRITER keys each; the leader is killed once KILL_AFTER are acknowledged.
. "$(dirname "$0")/lib.sh"

WRITERS=${WRITERS:-4}
PER_WRITER=${PER_WRITER:-75}
KILL_AFTER=${KILL_AFTER:-120}
it_start 3
it_wait_leader 10
old=$LEADER
via=$(it_api "$(it_follower)")
log "leader $old; $WRITERS writers x $PER_WRITER keys through $via; kill -9 after $KILL_AFTER acks"

# writer W: keys fo/W-1..fo/W-PER_WRITER; one "key=value ms" line per ack.
writer() {
	local w=$1 i code stop=$(($(now_ms) + $(slow 30) * 1000))
	for ((i = 1; i <= PER_WRITER; i++)); do
		[ "$(now_ms)" -lt "$stop" ] || break
		code=$(curl -s -o "$TDIR/w$w.out" -w '%{http_code}' --max-time "$(slow 3)" -X PUT \
			--data-binary "val-$w-$i" "http://$via/v1/kv/fo/$w-$i" 2>/dev/null)
		if [ "$code" = 200 ] && grep -q '"ok":true' "$TDIR/w$w.out"; then
			echo "fo/$w-$i=val-$w-$i $(now_ms)" >>"$TDIR/acks.$w"
		else
			echo "${code:-000}" >>"$TDIR/nacks.$w"
		fi
	done
}
pids=""
for ((w = 1; w <= WRITERS; w++)); do
	: >"$TDIR/acks.$w"
	: >"$TDIR/nacks.$w"
	writer "$w" &
	pids="$pids $!"
done

deadline=$(($(now_ms) + $(slow 20) * 1000))
while [ "$(cat "$TDIR"/acks.* | wc -l)" -lt "$KILL_AFTER" ]; do
	[ "$(now_ms)" -lt "$deadline" ] || fail "fewer than $KILL_AFTER writes acknowledged in $(slow 20)s"
	sleep 0.02
done
it_kill9 "$old"
kill_ms=$(now_ms)
log "killed leader $old"
for p in $pids; do wait "$p"; done

cat "$TDIR"/acks.* >"$TDIR/acks"
n_acks=$(wc -l <"$TDIR/acks")
first_after=$(awk -v k="$kill_ms" '$2 > k && (m == "" || $2 < m) { m = $2 } END { print m }' "$TDIR/acks")
[ -n "$first_after" ] || fail "no write acknowledged after the kill"
gap=$((first_after - kill_ms))
log "$n_acks of $((WRITERS * PER_WRITER)) writes acknowledged; first after the kill: ${gap} ms;" \
	"not acknowledged: $(cat "$TDIR"/nacks.* | sort | uniq -c | tr '\n' ' ' | tr -s ' ')"
[ "$gap" -le $(($(slow 3) * 1000)) ] || fail "writes came back ${gap} ms after the kill (bound $(slow 3)s)"
[ "$n_acks" -ge $((WRITERS * PER_WRITER - 100)) ] || fail "only $n_acks writes acknowledged"

it_wait_leader 10
[ "$LEADER" != "$old" ] || fail "the killed node $old is still named leader"
log "new leader $LEADER in term $TERM"

# Every acknowledged write is there (a write not acknowledged may or may not be).
cut -d' ' -f1 "$TDIR/acks" | sort >"$TDIR/want"
for id in $(it_up_ids); do
	it_dump "$(it_api "$id")" fo >"$TDIR/got.$id" || fail "?recurse on node $id: HTTP $HTTP_CODE $HTTP_BODY"
	lost=$(comm -23 "$TDIR/want" "$TDIR/got.$id")
	[ -z "$lost" ] || fail "node $id lost $(echo "$lost" | wc -l) acknowledged writes: $(echo "$lost" | head -n 5 | tr '\n' ' ')"
	extra=$(comm -13 "$TDIR/want" "$TDIR/got.$id" | grep -v '^fo/\([0-9]*-[0-9]*\)=val-\1$')
	[ -z "$extra" ] || fail "node $id has entries nobody wrote: $extra"
done

it_done
