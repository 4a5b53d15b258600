#!/usr/bin/env bash
# Bad configuration is refused at start: cairnd exits non-zero, quickly,
# with one line saying what is wrong (log lines at INFO level before it are
# tolerated), does not start serving, and leaves no data directory behind. Covers flags, values, membership,
# the config file, addresses, ports already in use and a data directory
# another cairnd holds. Every case is checked; all failures are listed.
. "$(dirname "$0")/lib.sh"

# A running single node holds an API port, a peer port and a data dir.
it_start 1
it_wait_leader 10
held_api=$(it_api 1) held_peer=$(it_peer 1) held_data=$CDIR/node-1

# Free ports for the nodes that should not start (refused before binding,
# or binding these is harmless since they exit at once).
base=${held_peer#*:}
p1=127.0.0.1:$((base + 100)) p2=127.0.0.1:$((base + 101))
printf '# a config file with an unknown setting\nheartbeat = 50ms\nbogus = 1\n' >"$TDIR/bad.conf"
printf "election-timeout = 'soon'\n" >"$TDIR/bad-value.conf"

failures=""
n_cases=0
# refused DESCRIPTION EXPECTED-SUBSTRING ARGS...: cairnd with ARGS (plus a
# fresh data dir and free ports unless ARGS set them) must exit non-zero
# within the deadline, with exactly one non-INFO line on stderr+stdout
# containing EXPECTED-SUBSTRING (case-insensitive).
refused() {
	local desc=$1 want=$2 out=$TDIR/case.out pid rc deadline lines
	shift 2
	n_cases=$((n_cases + 1))
	rm -rf "$TDIR/data"
	(cd "$TDIR" && exec "$CAIRND" --data="$TDIR/data" --api="$p1" --peer="$p2" "$@") >"$out" 2>&1 &
	pid=$!
	deadline=$(($(now_ms) + $(slow 5) * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		if grep -q 'cairnd up' "$out" || [ "$(now_ms)" -ge "$deadline" ]; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			failures="$failures
  - $desc ($*): NOT refused, it started: $(grep -m1 'cairnd up' "$out" | sed 's/.*node=[0-9]* //')"
			return
		fi
		sleep 0.02
	done
	wait "$pid"
	rc=$?
	lines=$(grep -v ' INFO ' "$out" | grep -c .)
	if [ $rc -eq 0 ]; then
		failures="$failures
  - $desc ($*): exit status 0"
	elif [ "$lines" -ne 1 ]; then
		failures="$failures
  - $desc ($*): $lines message lines, want 1: $(head -c 400 "$out" | tr '\n' '|')"
	elif ! grep -v ' INFO ' "$out" | grep -qi -- "$want"; then
		failures="$failures
  - $desc ($*): message does not mention '$want': $(grep -v ' INFO ' "$out")"
	elif [ -e "$TDIR/data" ]; then
		failures="$failures
  - $desc ($*): refused, but created the data directory first: $(ls "$TDIR/data" | tr '\n' ' ')"
	else
		echo "  ok: $desc -> exit $rc: $(grep -v ' INFO ' "$out")" >>"$TDIR/cases.log"
	fi
}

refused "unknown flag" "unknown setting" --bogus=1
refused "flag without a value" "needs a value" --id
refused "stray argument" "unexpected argument" stray
refused "duration without a unit" "election-timeout" --election-timeout=10
refused "duration that is not a number" "heartbeat" --heartbeat=fast
refused "negative number" "snapshot-entries" --snapshot-entries=-5
refused "bad size" "max-value" --max-value=lots
refused "heartbeat above half the election timeout" "heartbeat" --heartbeat=600ms
refused "election timeout above 1m" "election-timeout" --election-timeout=2m
refused "bad log level" "log-level" --log-level=loud
refused "id 0" "id" --id=0
refused "id not in members" "not in the list" --id=4 --members="1=$p2,2=127.0.0.1:1,3=127.0.0.1:2"
refused "malformed members" "members" --members=garbage
refused "member listed twice" "twice" --members="1=$p2,1=127.0.0.1:1"
refused "missing config file" "no such file" --config="$TDIR/nonexistent.conf"
refused "unknown setting in the config file" "bad.conf:3" --config="$TDIR/bad.conf"
refused "bad value in the config file" "bad-value.conf:1" --config="$TDIR/bad-value.conf"
refused "API port with no number" "api" --api=127.0.0.1:notaport
refused "API port empty" "api" --api=127.0.0.1:
refused "API port with trailing garbage" "api" --api="${p1}x"
refused "API port out of range" "api" --api=127.0.0.1:70000
refused "peer port with no number" "port" --peer=127.0.0.1:notaport
refused "API port in use" "in use" --api="$held_api"
refused "peer port in use" "in use" --peer="$held_peer"
refused "data dir held by another cairnd" "lock" --data="$held_data"

# The node holding the ports and the data dir is unharmed.
it_put "$held_api" still serving
it_expect_kv "$held_api" still serving

log "$n_cases cases"
[ -z "$failures" ] || fail "bad configuration not refused properly:$failures"
it_done
