#!/usr/bin/env bash
# A single node reads its own writes: PUT then GET (JSON and ?raw, default
# and ?stale), an overwrite is seen at once, and the data survives a clean
# restart and a kill -9 restart (acknowledged means durable).
. "$(dirname "$0")/lib.sh"

it_start 1
it_wait_leader 10
api=$(it_api 1)

it_put "$api" greeting hello
http GET "http://$api/v1/kv/greeting"
[ "$HTTP_CODE" = 200 ] || fail "GET greeting: HTTP $HTTP_CODE $HTTP_BODY"
case "$HTTP_BODY" in
*'"key":"greeting","value":"hello"'*'"version":1'*) ;;
*) fail "GET greeting: unexpected entry $HTTP_BODY" ;;
esac
it_expect_kv "$api" greeting hello
it_expect_kv "$api" greeting hello stale

# Read-your-write on every overwrite, no sleep in between.
for i in 1 2 3 4 5 6 7 8 9 10; do
	it_put "$api" counter "$i"
	it_expect_kv "$api" counter "$i"
done
http GET "http://$api/v1/kv/counter"
case "$HTTP_BODY" in *'"version":10'*) ;; *) fail "counter after 10 writes: $HTTP_BODY" ;; esac

# A key never written is 404.
http GET "http://$api/v1/kv/missing"
[ "$HTTP_CODE" = 404 ] || fail "GET missing: HTTP $HTTP_CODE, want 404"

log "clean restart"
it_stop_node 1
it_restart 1
it_wait_leader 10
it_expect_kv "$api" greeting hello
it_expect_kv "$api" counter 10

log "kill -9 restart"
it_put "$api" after-restart yes
it_kill9 1
it_restart 1
it_wait_leader 10
it_expect_kv "$api" greeting hello
it_expect_kv "$api" after-restart yes
it_expect_kv "$api" after-restart yes stale

it_done
