#!/usr/bin/env bash
# A hostile peer connection never hurts a node. While a client keeps
# writing, peer_flood (tests/tools/peer_flood.c) plays every attack against
# a follower's and the leader's peer ports: random bytes, half a hello, a
# hello with a bad CRC or the wrong cluster id, a truncated frame, a frame
# header claiming 4 GiB, a bad frame CRC, an unknown frame kind, garbage
# after a good hello; plus raw random bytes over bash's /dev/tcp on the
# peer and API ports. Each connection must be dropped (peer_flood checks,
# within 10 s), the node must log why, keep answering the API, and the
# cluster must keep committing: writes during and after the flood are
# acknowledged and readable everywhere.
. "$(dirname "$0")/lib.sh"

[ -x "$PEER_FLOOD" ] || fail "no peer_flood tool at $PEER_FLOOD (make \$(B)/tests/tools/peer_flood)"

it_start 3
it_wait_leader 10
lead=$LEADER
f=$(it_follower)
g=""
for id in 1 2 3; do [ "$id" != "$lead" ] && [ "$id" != "$f" ] && g=$id; done
cluster=0x$(sed -n 's/^cluster //p' "$CDIR/node-$f/identity")
[ "$cluster" != 0x ] || fail "no cluster id in $CDIR/node-$f/identity"
log "leader $lead; attacking follower $f (posing as node $g) and the leader (posing as node $f); cluster $cluster"

# A client writing through the leader the whole time.
writer() {
	local i=0 stop=$(($(now_ms) + $(slow 40) * 1000))
	while [ ! -e "$TDIR/stop" ] && [ "$(now_ms)" -lt "$stop" ]; do
		i=$((i + 1))
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$(slow 3)" -X PUT \
			--data-binary "val-$i" "http://$(it_api "$lead")/v1/kv/fl/$i" 2>/dev/null)
		if [ "$code" = 200 ]; then echo "fl/$i=val-$i" >>"$TDIR/acks"; else echo "$code" >>"$TDIR/nacks"; fi
		sleep 0.02
	done
}
: >"$TDIR/acks"
: >"$TDIR/nacks"
writer &
wpid=$!

# flood NAME ARGS...: one peer_flood run in the background, output to NAME.out.
fpids=""
flood() {
	local name=$1
	shift
	timeout "$(slow 60)" "$PEER_FLOOD" "$@" >"$TDIR/flood-$name.out" 2>&1 &
	fpids="$fpids $name:$!"
}
fpeer=$(it_peer "$f")
lpeer=$(it_peer "$lead")
flood f-halfhello "$fpeer" --cluster "$cluster" --from "$g" --to "$f" --mode halfhello --rounds 1
flood l-halfhello "$lpeer" --cluster "$cluster" --from "$f" --to "$lead" --mode halfhello --rounds 1
flood f-wrong-cluster "$fpeer" --cluster 0x1 --from "$g" --to "$f" --mode truncated --rounds 3
flood f-wrong-to "$fpeer" --cluster "$cluster" --from "$g" --to 77 --mode badcrc --rounds 3
flood f-stranger "$fpeer" --cluster "$cluster" --from 77 --to "$f" --mode badkind --rounds 3
flood f-garbage-many "$fpeer" --cluster "$cluster" --from "$g" --to "$f" --mode garbage --rounds 60 --seed 3
for mode in garbage badhello truncated oversize badcrc badkind postgarbage; do
	flood "f-$mode" "$fpeer" --cluster "$cluster" --from "$g" --to "$f" --mode "$mode" --rounds 4 --seed 7
done
for mode in garbage oversize truncated postgarbage; do
	flood "l-$mode" "$lpeer" --cluster "$cluster" --from "$f" --to "$lead" --mode "$mode" --rounds 2 --seed 11
done

# Raw bytes by hand: 64 KiB of random data at the peer and the API ports.
raw() { # HOST:PORT
	(
		exec 3<>"/dev/tcp/${1%:*}/${1#*:}" || exit 1
		head -c 65536 /dev/urandom >&3 2>/dev/null
		exec 3>&-
	) 2>/dev/null
}
for _ in 1 2 3; do raw "$fpeer"; raw "$lpeer"; raw "$(it_api "$f")"; done

# The API keeps answering while the flood goes on.
for id in 1 2 3; do
	http GET "http://$(it_api "$id")/v1/status"
	[ "$HTTP_CODE" = 200 ] || fail "node $id /v1/status during the flood: HTTP $HTTP_CODE"
done

# Every attacked connection was dropped.
for fp in $fpids; do
	name=${fp%%:*}
	wait "${fp#*:}"
	rc=$?
	[ $rc -eq 0 ] || fail "peer_flood $name exited $rc (1: a connection stayed open; 124: timed out): $(grep -v dropped "$TDIR/flood-$name.out" | head -n 5)"
done
log "all $(cat "$TDIR"/flood-*.out | grep -c dropped) flood connections dropped"
touch "$TDIR/stop"
wait "$wpid"

# Still one leader, every node alive, and the cluster still commits.
it_check_alive
it_wait_leader 10
n_acks=$(wc -l <"$TDIR/acks")
log "writes during the flood: $n_acks acknowledged, $(wc -l <"$TDIR/nacks") not ($(sort "$TDIR/nacks" | uniq -c | tr '\n' ' ' | tr -s ' '))"
[ "$n_acks" -gt 0 ] || fail "no write acknowledged during the flood"
for id in 1 2 3; do it_put "$(it_api "$id")" "fl/after-$id" "ok-$id"; done
commit=$(it_commit_index "$LEADER")
{
	cat "$TDIR/acks"
	for id in 1 2 3; do echo "fl/after-$id=ok-$id"; done
} | sort >"$TDIR/want"
for id in 1 2 3; do
	it_wait_caught_up "$id" "$commit" 10
	it_dump "$(it_api "$id")" fl stale >"$TDIR/got.$id" || fail "?recurse&stale on node $id: HTTP $HTTP_CODE"
	lost=$(comm -23 "$TDIR/want" "$TDIR/got.$id")
	[ -z "$lost" ] || fail "node $id misses acknowledged writes: $(echo "$lost" | head -n 5 | tr '\n' ' ')"
done

# The attacked nodes said why they dropped the connections.
for id in "$f" "$lead"; do
	n=$(grep -cE 'closed connection from|refused connection from|dropped|closed .* before its hello' "$(it_log "$id")")
	[ "$n" -gt 0 ] || fail "node $id logged no dropped or refused connection"
	log "node $id logged $n dropped/refused connections, e.g.: $(grep -E 'closed connection from|refused connection from' "$(it_log "$id")" | grep -v 'closed by the peer' | sed 's/.*node=[0-9]* //' | sort | uniq | head -n 3 | tr '\n' '|')"
done

it_done
