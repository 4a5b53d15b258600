#!/usr/bin/env bash
# API conformance: every example in docs/API.md, run against live 3-node
# clusters, plus every error status of the docs' table that can occur
# without auth, locks or sessions, and the shell ergonomics of issue 5.
#
# The examples are taken from docs/API.md mechanically, so the docs and this
# test cannot drift apart:
#   - an example is a line `$ command` inside a ```sh fence (an indented
#     fence too); a command goes on over the next lines until it is complete
#     for `sh -n`; the lines after it, up to the next `$ ` or the fence's
#     end, are its expected output. A fence without any `$ ` line (the
#     `A=...` setting, the forever loop) is prose, not an example.
#   - words after ```sh are options: `shape` (compare JSON by member names
#     only, not values: the status example, whose numbers depend on
#     timing), `no-leader` (run against a node that knows no leader: the
#     503 example). Any other word fails the test (a typo would otherwise
#     silently drop checks).
#   - the examples run in the docs' order, in POSIX sh (dash), in one shell
#     (so a function or variable an example defines is there for the
#     next), with A=http://<node>, in a scratch directory. Consecutive
#     commands of one fence of which only the last shows output are one
#     group whose combined output is compared (a background job's output
#     shows up where the docs put it).
#   - output lines are compared exactly, except: a line of JSON is compared
#     structurally (member order and spacing ignored); a header dump
#     (`curl -si`) is compared as a set of headers, without Date and
#     Content-Length (the docs leave them out), with X-Cairn-Node the id of
#     the node asked, X-Cairn-Leader the leader's id and
#     X-Cairn-Last-Contact any small number of milliseconds; a missing
#     final newline is forgiven (the docs cannot show one).
#   - index numbers are compared as they are: each pass runs on a fresh
#     cluster, where (as on the docs' fresh single node) index 1 is the
#     leader's no-op and the first write is index 2.
# The examples run twice, each time on a fresh cluster: once with every
# request sent to a follower, once to the leader. Every curl they run goes
# through a recording wrapper (first in PATH), and every answer recorded is
# checked as well: X-Cairn-Node is the node asked, X-Cairn-Leader the
# leader, X-Cairn-Index a number equal to the body's "index" and to a read
# entry's modify_index, never below a modify_index in the body, 0 on a
# read that failed (503/504), at least 1 on other errors; a PUT answer's
# entry has modify_index = index (and create_index = index on version 1);
# Content-Type; errors are exactly {"error":<non-empty string>,"code":<the
# status's code>} (plus "current" for cas_failed), 405 has Allow, 503
# no_leader has Retry-After: 1; create_index <= modify_index, version >= 1.
#
# Then, in each pass: the error table (400, 404, 405, 409 with current,
# 413 for key, value and body), `curl -sf ...?raw` byte-exact (binary,
# trailing newline) and failing on a missing key, `eval` of format=env with
# hostile values and keys in sh and bash subshells, format=lines escapes,
# HEAD, and /v1/status of every node. Last, two of three nodes are stopped
# and the one left must answer 503 no_leader (Retry-After: 1) to reads,
# writes, transactions and /v1/health, and still serve ?stale.
#
# Mismatches are collected and all printed; the test fails if there is any.
# About 20-25 s on 2 cores (plain or ASan+UBSan build). CONF_DOC=FILE runs
# the examples of FILE instead of docs/API.md (to check this test: alter an
# output there and it must fail).
. "$(dirname "$0")/lib.sh"

export LC_ALL=C
DOC=${CONF_DOC:-$IT_ROOT/docs/API.md}   # another file: to test this test
JFLAT=$IT_HERE/jflat.awk
REAL_CURL=$(command -v curl) || fail "no curl"
BIN=$TDIR/bin
mkdir -p "$BIN"
NBAD=0

# bad WHAT: one failed check (the test goes on, and fails at the end).
bad() {
	NBAD=$((NBAD + 1))
	echo "  MISMATCH: $*"
}

# indent: a block of text for a mismatch message (at most 12 lines).
indent() {
	sed -n '1,12{s/^/      | /;p}' "$@"
}

# ---------------------------------------------------------------- recorder

# Every curl of the examples (and of the checks below) is this wrapper: it
# runs the real curl with a time limit and its own -D (unless the caller
# gave one), passes the output through, and records the request (node,
# method, URL, headers, body) in $CONF_REC for check_records.
cat >"$BIN/curl" <<'EOF'
#!/bin/sh
rec=$(mktemp "$CONF_REC/r.XXXXXX") || exit 98
udump="" uout="" url="" prev="" incl=0 method=""
for a in "$@"; do
	case "$prev" in
	-D | --dump-header) udump=$a ;;
	-o | --output) uout=$a ;;
	-X | --request) method=$a ;;
	esac
	case "$a" in
	http://*) url=$a ;;
	-i | --include) incl=1 ;;
	-I | --head) method=HEAD ;;
	--*) ;;
	-*i*) incl=1 ;;
	esac
	prev=$a
done
[ -n "$udump" ] || set -- -D "$rec.hdr" "$@"
"$CONF_REAL_CURL" --max-time "$CONF_MAX_TIME" "$@" >"$rec.out"
rc=$?
cat "$rec.out"
[ -n "$udump" ] && cp "$udump" "$rec.hdr" 2>/dev/null
[ -n "$uout" ] && [ "$uout" != - ] && cp "$uout" "$rec.out" 2>/dev/null
printf 'rc=%s\nincl=%s\nmethod=%s\nex=%s\nurl=%s\n' "$rc" "$incl" "$method" "${CONF_EX:-}" "$url" >"$rec.meta"
exit "$rc"
EOF
# `reboot` appears in a hostile value: should eval ever run it, this runs.
cat >"$BIN/reboot" <<'EOF'
#!/bin/sh
echo "reboot ran" >>"$CONF_SANDBOX/REBOOT-RAN"
EOF
chmod +x "$BIN/curl" "$BIN/reboot"
CONF_MAX_TIME=$(slow 15)
export CONF_REAL_CURL=$REAL_CURL CONF_MAX_TIME

# ---------------------------------------------------------------- the docs

# sh_complete TEXT: TEXT is a complete shell command (for sh -n).
sh_complete() { sh -n -c "$1" 2>/dev/null; }

doc_bad() { fail "docs/API.md line $*"; }

# Fills EX_CMD, EX_EXP (expected output, one "\n" per line), EX_LINE (the
# doc line of the `$`), EX_BLOCK (fence number), EX_OPTS; NEX examples.
parse_docs() {
	local line lineno=0 inblock=0 indent=0 opts="" block=0 state=none pre=0 k o
	local re_open='^( *)```sh( +(.*))?$' re_close='^ *```[[:space:]]*$'
	NEX=0
	while IFS= read -r line || [ -n "$line" ]; do
		lineno=$((lineno + 1))
		if [ $inblock = 0 ]; then
			if [[ $line =~ $re_open ]]; then
				inblock=1 indent=${#BASH_REMATCH[1]} opts=${BASH_REMATCH[3]:-}
				block=$((block + 1)) state=none pre=0
				for o in $opts; do
					case "$o" in shape | no-leader) ;; *) doc_bad "$lineno: unknown example option '$o'" ;; esac
				done
			fi
			continue
		fi
		if [[ $line =~ $re_close ]]; then
			[ $state = cmd ] && doc_bad "${EX_LINE[$NEX]}: the command never ends (sh -n) before the fence closes"
			inblock=0
			continue
		fi
		for ((k = 0; k < indent; k++)); do
			[ "${line:0:1}" = " " ] && line=${line:1}
		done
		if [ $state = cmd ]; then
			EX_CMD[NEX]+=$'\n'"$line"
			sh_complete "${EX_CMD[$NEX]}" && state=out
			continue
		fi
		case "$line" in
		'$ '*)
			[ $pre = 1 ] && doc_bad "$lineno: text before the first \`\$ \` in an example fence"
			NEX=$((NEX + 1))
			EX_CMD[NEX]=${line#\$ } EX_EXP[NEX]="" EX_LINE[NEX]=$lineno
			EX_BLOCK[NEX]=$block EX_OPTS[NEX]=" $opts "
			if sh_complete "${EX_CMD[$NEX]}"; then state=out; else state=cmd; fi
			;;
		*)
			if [ $state = out ]; then
				EX_EXP[NEX]+="$line"$'\n'
			elif [ -n "$line" ]; then
				pre=1
			fi
			;;
		esac
	done <"$DOC"
	[ $inblock = 0 ] || doc_bad "$lineno: a fence is not closed"
	[ "$NEX" -ge 20 ] || fail "docs/API.md: only $NEX examples found; is the \`\$ \` convention still used?"
}

# in_phase I PHASE: example I runs in PHASE (main or no-leader).
in_phase() {
	case "$2:${EX_OPTS[$1]}" in
	main:*" no-leader "*) return 1 ;;
	main:*) return 0 ;;
	no-leader:*" no-leader "*) return 0 ;;
	esac
	return 1
}

# gen_script PHASE DIR API: DIR/run.sh runs PHASE's examples against API,
# each group's output into DIR/out/G. Sets NG, G_FIRST, G_LAST.
gen_script() {
	local phase=$1 dir=$2 i next g=""
	NG=0
	{
		echo 'cd "$CONF_SANDBOX" || exit 99'
		echo "A=http://$3"
		for ((i = 1; i <= NEX; i++)); do
			in_phase $i "$phase" || continue
			if [ -z "$g" ]; then
				NG=$((NG + 1)) g=$NG
				G_FIRST[g]=$i
				: >"$dir/out/$g"
			fi
			printf 'CONF_EX=%s; export CONF_EX\n{ %s\n} >>"$CONF_OUT/%s" 2>&1\n' "${EX_LINE[$i]}" "${EX_CMD[$i]}" "$g"
			next=$((i + 1))
			if [ -n "${EX_EXP[$i]}" ] || [ $next -gt "$NEX" ] || [ "${EX_BLOCK[$next]}" != "${EX_BLOCK[$i]}" ] ||
				! in_phase $next "$phase"; then
				G_LAST[g]=$i
				g=""
			fi
		done
	} >"$dir/run.sh"
}

# ---------------------------------------------------------------- comparing

# jnorm FILE SHAPE: FILE's JSON flattened and sorted (SHAPE=1: member
# paths only, array positions dropped). Non-zero if FILE is not JSON.
jnorm() {
	local flat
	flat=$(awk -f "$JFLAT" "$1" 2>/dev/null) || return 1
	if [ "$2" = 1 ]; then
		printf '%s\n' "$flat" | sed -e 's/\[[0-9]*\]/[]/g' -e 's/\t.*//' | sort -u
	else
		printf '%s\n' "$flat" | sort
	fi
}

# cmp_lines EXP ACT SHAPE WHERE: line by line, JSON lines structurally.
cmp_lines() {
	local exp=$1 act=$2 shape=$3 where=$4 k
	local -a EL AL
	mapfile -t EL <"$exp"
	mapfile -t AL <"$act"
	if [ ${#EL[@]} -ne ${#AL[@]} ]; then
		bad "$where: ${#AL[@]} lines of output, the docs show ${#EL[@]}"
		echo "    docs:"; indent "$exp"
		echo "    got:"; indent "$act"
		return
	fi
	for ((k = 0; k < ${#EL[@]}; k++)); do
		if [ "${EL[k]}" = "${AL[k]}" ] && [ "$shape" = 0 ]; then continue; fi
		case "${EL[k]}" in
		'{'* | '['*)
			printf '%s\n' "${EL[k]}" >"$TDIR/cmp.e"
			printf '%s\n' "${AL[k]}" >"$TDIR/cmp.a"
			if jnorm "$TDIR/cmp.e" "$shape" >"$TDIR/cmp.en"; then
				if ! jnorm "$TDIR/cmp.a" "$shape" >"$TDIR/cmp.an"; then
					bad "$where: line $((k + 1)) is not JSON"
					echo "    docs: ${EL[k]}"; echo "    got:  ${AL[k]}"
				elif ! cmp -s "$TDIR/cmp.en" "$TDIR/cmp.an"; then
					bad "$where: line $((k + 1)) differs (JSON$([ "$shape" = 1 ] && echo ' shape'))"
					echo "    docs: ${EL[k]}"; echo "    got:  ${AL[k]}"
					diff "$TDIR/cmp.en" "$TDIR/cmp.an" | grep '^[<>]' | head -n 8 | sed 's/^/      /'
				fi
				continue
			fi
			;;
		esac
		[ "${EL[k]}" = "${AL[k]}" ] && continue
		bad "$where: line $((k + 1)) differs"
		echo "    docs: ${EL[k]}"
		echo "    got:  ${AL[k]}"
	done
}

# dump_headers FILE NODE LEADER: the header lines of a `curl -si` dump (the
# part before the first empty line, minus the status line), normalised and
# sorted: names lower-cased, Date and Content-Length left out, the node,
# leader and last-contact values replaced by @node, @leader, @ms when they
# are right (NODE empty: FILE is the docs' side, taken as right).
dump_headers() {
	awk -v node="$2" -v leader="$3" -v maxms=$((1000 * IT_SLOW)) '
		{ sub(/\r$/, "") }
		NR == 1 { next }
		$0 == "" { exit }
		{
			i = index($0, ":")
			name = tolower(substr($0, 1, i - 1))
			v = substr($0, i + 1)
			gsub(/^[ \t]+|[ \t]+$/, "", v)
			if (name == "date" || name == "content-length") next
			if (name == "x-cairn-node" && (node == "" || v == node)) v = "@node"
			if (name == "x-cairn-leader" && (node == "" || v == leader)) v = "@leader"
			if (name == "x-cairn-last-contact" && (node == "" || (v ~ /^[0-9]+$/ && v + 0 < maxms))) v = "@ms"
			print name ": " v
		}' "$1" | sort
}

# body_of FILE: what follows the first empty line.
body_of() { awk 'b { print; next } /^\r?$/ { b = 1 }' "$1"; }

# cmp_group G DIR NODE LEADER: group G's output against the docs.
cmp_group() {
	local g=$1 dir=$2 node=$3 leader=$4 i=${G_LAST[$1]} first=${G_FIRST[$1]}
	local exp=$dir/exp.$g act=$dir/out/$g shape=0 where
	where="docs/API.md:${EX_LINE[$first]} \`$(printf '%s' "${EX_CMD[$first]}" | head -n 1 | cut -c1-70)\`"
	case "${EX_OPTS[$i]}" in *" shape "*) shape=1 ;; esac
	printf '%s' "${EX_EXP[$i]}" >"$exp"
	# The docs cannot show a missing final newline.
	[ -s "$act" ] && [ -n "$(tail -c 1 "$act")" ] && echo >>"$act"
	if [ "$(head -c 5 "$exp")" = HTTP/ ]; then
		local se sa
		se=$(head -n 1 "$exp")
		sa=$(head -n 1 "$act" | tr -d '\r')
		[ "$se" = "$sa" ] || { bad "$where: status line '$sa', the docs show '$se'"; return; }
		dump_headers "$exp" "" "" >"$exp.h"
		dump_headers "$act" "$node" "$leader" >"$act.h"
		cmp -s "$exp.h" "$act.h" ||
			{ bad "$where: headers differ (< docs, > got; node $node, leader $leader)"; diff "$exp.h" "$act.h" | grep '^[<>]' | sed 's/^/      /'; }
		body_of "$exp" >"$exp.b"
		body_of "$act" >"$act.b"
		[ -s "$act.b" ] && [ -n "$(tail -c 1 "$act.b")" ] && echo >>"$act.b"
		cmp_lines "$exp.b" "$act.b" "$shape" "$where (body)"
	else
		cmp_lines "$exp" "$act" "$shape" "$where"
	fi
}

# ---------------------------------------------------------------- answers

# node_of URL: sets NODE_OF to the id of the node whose API address URL
# names ("?" when none).
node_of() {
	local hp=${1#http://} i
	hp=${hp%%/*}
	NODE_OF="?"
	for ((i = 1; i <= N; i++)); do
		eval "[ \"\$API_$i\" = \"\$hp\" ]" && { NODE_OF=$i; return; }
	done
}

# read_headers FILE: the last header block of a curl -D dump (after a
# 100 Continue, the final answer's) into HSTATUS and H (lower-case names;
# the first value of a name, spaces trimmed). No subprocess: this runs for
# every answer.
read_headers() {
	local line name v
	HSTATUS="" HNAMES=" "
	H=()
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		if [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]+) ]]; then
			HSTATUS=${BASH_REMATCH[1]} HNAMES=" "
			H=()
			continue
		fi
		[[ $line == *:* ]] || continue
		name=${line%%:*} v=${line#*:}
		name=${name,,}
		v=${v#"${v%%[![:space:]]*}"}
		v=${v%"${v##*[![:space:]]}"}
		case "$HNAMES" in *" $name "*) continue ;; esac
		HNAMES="$HNAMES$name "
		H[$name]=$v
	done <"$1"
}
declare -A H

# check_record REC WANT_LEADER: the generic checks on one recorded answer.
check_record() {
	local rec=$1 want_leader=$2 k v rc="" incl=0 method="" ex="" url=""
	while IFS='=' read -r k v; do
		case $k in rc) rc=$v ;; incl) incl=$v ;; method) method=$v ;; ex) ex=$v ;; url) url=$v ;; esac
	done <"$rec.meta"
	local where="[$ex] ${method:-GET} ${url#http://*/}"
	case "$rc" in 0 | 22) ;; *) bad "$where: curl exit $rc (no HTTP answer)"; return ;; esac
	local status node
	read_headers "$rec.hdr"
	status=${HSTATUS:-0}
	node_of "$url"
	node=$NODE_OF
	local h_node h_leader h_index h_ct
	h_node=${H[x-cairn-node]:-} h_leader=${H[x-cairn-leader]:-} h_index=${H[x-cairn-index]:-} h_ct=${H[content-type]:-}
	case "$HNAMES" in *" x-cairn-leader "*) ;; *) bad "$where: no X-Cairn-Leader header" ;; esac
	[ "$h_node" = "$node" ] || bad "$where: X-Cairn-Node '$h_node', asked node $node"
	[ "$h_leader" = "$want_leader" ] || bad "$where: X-Cairn-Leader '$h_leader', the leader is '$want_leader'"
	[[ $h_index =~ ^[0-9]+$ ]] || { bad "$where: X-Cairn-Index '$h_index' is not a number"; h_index=0; }
	# Content-Type.
	local want_ct=application/json
	if [ "$status" -lt 400 ]; then
		case "$url" in
		*[?\&]raw | *[?\&]raw\&* | *[?\&]raw=[t1]*) want_ct="text/plain|application/octet-stream" ;;
		*format=env* | *format=lines* | */v1/health) want_ct=text/plain ;;
		esac
	fi
	[[ ${h_ct%%;*} =~ ^($want_ct)$ ]] || bad "$where: Content-Type '$h_ct', want $want_ct"
	[ "$status" = 405 ] && [ -z "${H[allow]:-}" ] && bad "$where: 405 without Allow"
	[ "$method" = HEAD ] && return
	local body=$rec.out
	if [ "$incl" = 1 ]; then
		body_of "$rec.out" >"$rec.body"
		body=$rec.body
	fi
	[ "${h_ct%%;*}" = application/json ] || return
	# curl -f prints no body for an error.
	[ "$rc" = 22 ] && [ ! -s "$body" ] && return
	local out
	out=$({ awk -f "$JFLAT" "$body" 2>&1 || echo "JFLAT-FAILED"; } | awk -v status="$status" -v hidx="$h_index" -v method="${method:-GET}" -v node="$node" \
		-v url="$url" -v retry="${H[retry-after]:-}" -F '\t' '
		/^jflat: |^JFLAT-FAILED$/ { notjson = notjson " " $0; next }
		{ p = $1; t = substr($0, length(p) + 2); val[p] = t; paths[++n] = p }
		function num(p) { return val[p] + 0 }
		function str(p) { return substr(val[p], 2, length(val[p]) - 2) }
		END {
			if (notjson != "") {
				print "the body is not JSON:" notjson
				exit
			}
			if (status >= 400) {
				want["400"] = "bad_request"; want["404"] = "not_found"; want["405"] = "method_not_allowed"
				want["409"] = "cas_failed"; want["413"] = "too_large"; want["503"] = "no_leader|unknown_outcome"
				want["504"] = "timeout"; want["500"] = "internal"
				code = str("$.code")
				if (!("$.code" in val) || substr(val["$.code"], 1, 1) != "\"")
					print "error body without a string \"code\""
				else if (code !~ "^(" want[status] ")$")
					print "HTTP " status " with code \"" code "\", want " want[status]
				if (!("$.error" in val) || val["$.error"] !~ /^".+"$/)
					print "error body without a non-empty string \"error\""
				for (i = 1; i <= n; i++) {
					p = paths[i]
					if (p == "$.error" || p == "$.code") continue
					if (code == "cas_failed" && (p == "$.current" || index(p, "$.current.") == 1)) continue
					print "error body has \"" p "\" (only error and code" (code == "cas_failed" ? ", current" : "") ")"
				}
				if (code == "cas_failed" && !("$.current" in val || "$.current.key" in val))
					print "cas_failed without \"current\""
				if (code == "no_leader" && retry != "1")
					print "503 no_leader with Retry-After \"" retry "\", want 1"
				# A read that failed (503, 504) carries 0 (docs: so that a
				# watch loop cannot skip changes); other errors the
				# applied index of the node, at least 1 here.
				kvread = (method == "GET" || method == "HEAD") && url ~ /\/v1\/kv\//
				if (kvread && status >= 500 && hidx != "0")
					print "X-Cairn-Index " hidx " on a failed read, want 0"
				if (status != 404 && status != 409 && !(kvread && status >= 500) && hidx + 0 < 1)
					print "X-Cairn-Index " hidx " on an error (the node has applied at least index 1)"
			}
			if ("$.index" in val && num("$.index") != hidx + 0)
				print "body index " val["$.index"] " != X-Cairn-Index " hidx
			# A PUT answer: the entry as written at the answer index.
			if (method == "PUT" && status == 200) {
				if (val["$.ok"] != "true") print "PUT answer without \"ok\":true"
				if (num("$.entry.modify_index") != num("$.index"))
					print "entry modify_index " val["$.entry.modify_index"] " != index " val["$.index"]
				if (val["$.entry.version"] == "1" && num("$.entry.create_index") != num("$.index"))
					print "version 1 with create_index " val["$.entry.create_index"] " != index " val["$.index"]
				if (val["$.entry.version"] != "1" && num("$.entry.create_index") >= num("$.index"))
					print "version " val["$.entry.version"] " with create_index " val["$.entry.create_index"] " not below index " val["$.index"]
			}
			if (method == "DELETE" && status == 200 && (val["$.ok"] != "true" || val["$.deleted"] !~ /^[0-9]+$/))
				print "DELETE answer without \"ok\":true and a \"deleted\" count"
			if (method == "GET" && "$.modify_index" in val && num("$.modify_index") != hidx + 0)
				print "entry modify_index " val["$.modify_index"] " != X-Cairn-Index " hidx
			for (i = 1; i <= n; i++) {
				p = paths[i]
				if (p ~ /\.modify_index$/) {
					if (val[p] !~ /^[0-9]+$/ || num(p) > hidx + 0)
						print p " " val[p] " above X-Cairn-Index " hidx
					c = substr(p, 1, length(p) - 13) ".create_index"
					if (!(c in val) || num(c) > num(p) || num(c) < 1)
						print c " " val[c] " not in 1.." val[p]
					v = substr(p, 1, length(p) - 13) ".version"
					if (!(v in val) || num(v) < 1)
						print v " " val[v] " not >= 1"
				}
			}
			if (url ~ /\/v1\/status$/ && status == 200) {
				if (num("$.applied_index") != hidx + 0)
					print "/v1/status applied_index " val["$.applied_index"] " != X-Cairn-Index " hidx
				if (val["$.id"] != node)
					print "/v1/status id " val["$.id"] " of node " node
			}
		}')
	[ -z "$out" ] || while IFS= read -r v; do bad "$where (HTTP $status): $v"; done <<<"$out"
}

# check_records DIR WANT_LEADER: every answer recorded in DIR.
check_records() {
	local m n=0
	for m in "$1"/*.meta; do
		[ -f "$m" ] || continue
		check_record "${m%.meta}" "$2"
		n=$((n + 1))
	done
	NREC=$n
}

# ---------------------------------------------------------------- requests

# req LABEL CURL-ARGS...: a request of the checks below, recorded like the
# examples' (so the generic checks apply). Sets CODE, BODY (file), HDR.
req() {
	local label=$1
	shift
	BODY=$CONF_REC/body.$RANDOM$RANDOM HDR=$BODY.hdr
	CODE=$(CONF_EX=$label "$BIN/curl" -s -o "$BODY" -D "$HDR" -w '%{http_code}' "$@" 2>/dev/null)
	[ -n "$CODE" ] || CODE=000
}

# expect_err LABEL STATUS CODE CURL-ARGS...: an error answer with that code.
expect_err() {
	local label=$1 st=$2 code=$3
	shift 3
	req "$label" "$@"
	[ "$CODE" = "$st" ] || { bad "$label: HTTP $CODE, want $st: $(head -c 300 "$BODY")"; return; }
	grep -q "\"code\":\"$code\"" "$BODY" || bad "$label: body $(head -c 300 "$BODY"), want code $code"
}

# expect_ok LABEL CURL-ARGS...: a 200.
expect_ok() {
	local label=$1
	shift
	req "$label" "$@"
	[ "$CODE" = 200 ] || bad "$label: HTTP $CODE, want 200: $(head -c 300 "$BODY")"
}

# jval FILE PATH: one leaf of FILE's JSON (as its token).
jval() { awk -f "$JFLAT" "$1" 2>/dev/null | awk -F '\t' -v p="$2" '$1 == p { print substr($0, length(p) + 2); exit }'; }

# The error table: every status that needs no auth, lock or session.
check_errors() {
	local A=$1 big=$TDIR/big
	# 400
	expect_err "400 NUL in key" 400 bad_request -X PUT --data-binary x "$A/v1/kv/a%00b"
	expect_err "400 bad percent-encoding" 400 bad_request "$A/v1/kv/a%zz"
	expect_err "400 key not UTF-8" 400 bad_request "$A/v1/kv/a%FF"
	expect_err "400 empty key" 400 bad_request -X PUT --data-binary x "$A/v1/kv/"
	expect_err "400 leading slash" 400 bad_request -X PUT --data-binary x "$A/v1/kv//x"
	expect_err "400 unknown parameter" 400 bad_request "$A/v1/kv/a?bogus"
	expect_err "400 parameter twice" 400 bad_request "$A/v1/kv/a?raw&raw"
	expect_err "400 cas on GET" 400 bad_request "$A/v1/kv/a?cas=1"
	expect_err "400 raw on PUT" 400 bad_request -X PUT --data-binary x "$A/v1/kv/a?raw"
	expect_err "400 negative cas" 400 bad_request -X PUT --data-binary x "$A/v1/kv/a?cas=-1"
	expect_err "400 cas over 2^64" 400 bad_request -X PUT --data-binary x "$A/v1/kv/a?cas=18446744073709551616"
	expect_err "400 bad flag" 400 bad_request "$A/v1/kv/a?raw=yes"
	expect_err "400 duration without unit" 400 bad_request "$A/v1/kv/a?index=1&wait=10"
	expect_err "400 fractional duration" 400 bad_request "$A/v1/kv/a?index=1&wait=1.5s"
	expect_err "400 wait without index" 400 bad_request "$A/v1/kv/a?wait=1s"
	expect_err "400 format without recurse" 400 bad_request "$A/v1/kv/a?format=env"
	expect_err "400 unknown format" 400 bad_request "$A/v1/kv/a?recurse&format=YAML"
	expect_err "400 cas with recurse" 400 bad_request -X DELETE "$A/v1/kv/a?recurse&cas=1"
	expect_err "400 txn not JSON" 400 bad_request -X POST --data-binary '{"compare":[' "$A/v1/txn"
	expect_err "400 txn unknown field" 400 bad_request -X POST --data-binary '{"success":[],"nope":1}' "$A/v1/txn"
	expect_err "400 txn trailing comma" 400 bad_request -X POST --data-binary '{"success":[{"op":"get","key":"a"},]}' "$A/v1/txn"
	expect_err "400 txn bad op" 400 bad_request -X POST --data-binary '{"success":[{"op":"frob","key":"a"}]}' "$A/v1/txn"
	local ops="" i
	for ((i = 0; i < 128; i++)); do ops="$ops${ops:+,}{\"op\":\"get\",\"key\":\"k$i\"}"; done
	expect_ok "200 txn 128 ops" -X POST --data-binary "{\"success\":[$ops]}" "$A/v1/txn"
	expect_err "400 txn 129 ops" 400 bad_request -X POST --data-binary "{\"success\":[$ops,{\"op\":\"get\",\"key\":\"k\"}]}" "$A/v1/txn"
	local cmps=""
	for ((i = 0; i < 129; i++)); do cmps="$cmps${cmps:+,}{\"key\":\"k$i\",\"absent\":true}"; done
	expect_err "400 txn 129 compares" 400 bad_request -X POST --data-binary "{\"compare\":[$cmps]}" "$A/v1/txn"
	expect_err "400 txn 129 failure ops" 400 bad_request -X POST --data-binary "{\"failure\":[$ops,{\"op\":\"get\",\"key\":\"k\"}]}" "$A/v1/txn"
	# 404
	expect_err "404 missing key" 404 not_found "$A/v1/kv/conf/missing"
	expect_err "404 no such endpoint" 404 not_found "$A/v1/nope"
	expect_err "404 not built (locks)" 404 not_found "$A/v1/locks"
	# 405
	expect_err "405 POST kv" 405 method_not_allowed -X POST "$A/v1/kv/a"
	grep -qi '^Allow: GET, HEAD, PUT, DELETE' "$HDR" || bad "405 POST kv: Allow is not 'GET, HEAD, PUT, DELETE': $(grep -i '^Allow' "$HDR")"
	expect_err "405 GET txn" 405 method_not_allowed "$A/v1/txn"
	grep -qi '^Allow: POST' "$HDR" || bad "405 GET txn: Allow is not POST"
	expect_err "405 PUT status" 405 method_not_allowed -X PUT --data-binary x "$A/v1/status"
	# 409, with the current entry or null.
	expect_ok "PUT conf/c" -X PUT --data-binary one "$A/v1/kv/conf/c"
	local mi
	mi=$(jval "$BODY" '$.index')
	expect_err "409 PUT cas=0 on an existing key" 409 cas_failed -X PUT --data-binary two "$A/v1/kv/conf/c?cas=0"
	[ "$(jval "$BODY" '$.current.modify_index')" = "$mi" ] && [ "$(jval "$BODY" '$.current.value')" = '"one"' ] ||
		bad "409: current is not the entry written at $mi: $(cat "$BODY")"
	expect_err "409 PUT stale cas" 409 cas_failed -X PUT --data-binary two "$A/v1/kv/conf/c?cas=$((mi + 1000))"
	expect_err "409 DELETE stale cas" 409 cas_failed -X DELETE "$A/v1/kv/conf/c?cas=$((mi + 1000))"
	expect_err "409 PUT cas on a missing key" 409 cas_failed -X PUT --data-binary x "$A/v1/kv/conf/none?cas=7"
	[ "$(jval "$BODY" '$.current')" = null ] || bad "409 on a missing key: current is not null: $(cat "$BODY")"
	expect_err "409 DELETE cas on a missing key" 409 cas_failed -X DELETE "$A/v1/kv/conf/none?cas=7"
	[ "$(jval "$BODY" '$.current')" = null ] || bad "409 DELETE on a missing key: current is not null: $(cat "$BODY")"
	expect_ok "PUT cas=modify_index" -X PUT --data-binary two "$A/v1/kv/conf/c?cas=$mi"
	[ "$(jval "$BODY" '$.entry.version')" = 2 ] && [ "$(jval "$BODY" '$.entry.create_index')" = "$mi" ] ||
		bad "PUT cas=$mi: entry is not version 2 created at $mi: $(cat "$BODY")"
	# 413: key, value (--max-value, default 1 MiB), body (4 MiB).
	local k512 k513
	k512=$(printf 'k%.0s' $(seq 512))
	k513=${k512}k
	expect_ok "512-byte key" -X PUT --data-binary x "$A/v1/kv/$k512"
	expect_err "413 513-byte key" 413 too_large -X PUT --data-binary x "$A/v1/kv/$k513"
	expect_err "413 513-byte key on GET" 413 too_large "$A/v1/kv/$k513"
	head -c 1048576 /dev/zero | tr '\0' v >"$big"
	expect_ok "1 MiB value" -X PUT --data-binary @"$big" "$A/v1/kv/conf/big"
	echo >>"$big"
	expect_err "413 1 MiB + 1 value" 413 too_large -X PUT --data-binary @"$big" "$A/v1/kv/conf/big"
	head -c $((4 * 1048576 + 1)) /dev/zero | tr '\0' v >"$big"
	expect_err "413 body over 4 MiB" 413 too_large -X PUT --data-binary @"$big" "$A/v1/kv/conf/big"
	expect_err "413 txn body over 4 MiB" 413 too_large -X POST --data-binary @"$big" "$A/v1/txn"
	expect_ok "DELETE 1 MiB value" -X DELETE "$A/v1/kv/conf/big"
	rm -f "$big"
	# HEAD: GET's status and headers, no body.
	# (curl -I writes the headers where the body would go.)
	req "HEAD kv" -I "$A/v1/kv/conf/c"
	[ "$CODE" = 200 ] && [ -z "$(body_of "$BODY")" ] || bad "HEAD: HTTP $CODE, body $(body_of "$BODY" | head -c 100)"
	req "HEAD missing" -I "$A/v1/kv/conf/missing"
	[ "$CODE" = 404 ] || bad "HEAD of a missing key: HTTP $CODE"
}

# Shell ergonomics: ?raw byte-exact, format=env through eval, format=lines.
check_shell() {
	local A=$1 d=$TDIR/shell.$2 k out rc
	mkdir -p "$d"
	# ?raw: exactly the bytes (every byte value, NUL included, and a final
	# newline), and a non-zero exit with no output for a missing key.
	awk 'BEGIN { for (i = 0; i < 256; i++) printf "%c", i; printf "\n" }' >"$d/bin"
	[ "$(wc -c <"$d/bin")" = 257 ] || fail "could not make the 257-byte test value"
	printf 'line one\nline two\n\n' >"$d/text"
	expect_ok "PUT binary" -X PUT --data-binary @"$d/bin" "$A/v1/kv/erg/bin"
	expect_ok "PUT text" -X PUT --data-binary @"$d/text" "$A/v1/kv/erg/text"
	for k in bin text; do
		CONF_EX="raw $k" "$BIN/curl" -sf "$A/v1/kv/erg/$k?raw" >"$d/got.$k"
		rc=$?
		[ $rc = 0 ] || bad "curl -sf ?raw of erg/$k: exit $rc"
		cmp -s "$d/$k" "$d/got.$k" || bad "curl -sf ?raw of erg/$k: not the bytes written ($(cmp "$d/$k" "$d/got.$k" 2>&1))"
	done
	out=$(CONF_EX="raw missing" "$BIN/curl" -sf "$A/v1/kv/erg/missing?raw")
	rc=$?
	[ $rc != 0 ] && [ -z "$out" ] || bad "curl -sf ?raw of a missing key: exit $rc, output '$out'"
	host=$(CONF_EX="raw text" "$BIN/curl" -sf "$A/v1/kv/erg/text?raw") || bad "host=\$(curl -sf ...?raw) failed"
	[ "$host" = "$(printf 'line one\nline two')" ] || bad "\$(curl -sf ?raw): '$host'"

	# format=env: hostile values come back exactly through eval, in sh and
	# bash, and nothing runs.
	local -a keys=(quote cmd tick nl dollar sq empty close db-host 9lives Mixed.Case)
	printf '%s' "it's \"quoted\" \\back\\slash" >"$d/v.quote"
	printf '%s' '$(touch pwned)' >"$d/v.cmd"
	printf '%s' '`touch pwned` `reboot`' >"$d/v.tick"
	printf 'one\ntwo\n\n' >"$d/v.nl"
	printf '%s' '$HOME ${PATH} $0 $$ !! %s \n' >"$d/v.dollar"
	printf "'" >"$d/v.sq"
	: >"$d/v.empty"
	printf '%s' "'; touch pwned; echo '" >"$d/v.close"
	printf '10.0.0.5' >"$d/v.db-host"
	printf 'nine' >"$d/v.9lives"
	printf 'mixed' >"$d/v.Mixed.Case"
	for k in "${keys[@]}"; do
		expect_ok "PUT erg/env/$k" -X PUT --data-binary @"$d/v.$k" "$A/v1/kv/erg/env/$k"
	done
	# Skipped with a comment: the prefix itself; a NUL in the value, under
	# a key with a newline that must not end the comment.
	expect_ok "PUT erg/env/" -X PUT --data-binary 'self' "$A/v1/kv/erg/env/"
	printf 'a\0b' >"$d/v.nul"
	expect_ok "PUT key with newline, NUL value" -X PUT --data-binary @"$d/v.nul" "$A/v1/kv/erg/env/x%0Atouch%20pwned%0A"
	local -A name=([quote]=QUOTE [cmd]=CMD [tick]=TICK [nl]=NL [dollar]=DOLLAR [sq]=SQ [empty]=EMPTY
		[close]=CLOSE [db-host]=DB_HOST [9lives]=_9LIVES [Mixed.Case]=MIXED_CASE)
	local sh script
	for sh in sh bash; do
		rm -rf "${d:?}/$sh"
		mkdir -p "$d/$sh"
		script='cd "$1" || exit 1
			eval "$(curl -s "$2/v1/kv/erg/env/?recurse&format=env")" || exit 1'
		for k in "${keys[@]}"; do
			script="$script
			printf '%s' \"\$${name[$k]}\" >'v.$k'"
		done
		script="$script
			[ -z \"\${X_TOUCH_PWNED_+set}\" ] || echo 'a skipped key was set' >skipped"
		CONF_EX="eval format=env in $sh" PATH=$BIN:$PATH CONF_SANDBOX=$d/$sh \
			timeout "$(slow 20)" "$sh" -c "$script" "$sh" "$d/$sh" "$A" >"$d/$sh.out" 2>&1 ||
			bad "eval of format=env in $sh failed: $(head -c 300 "$d/$sh.out")"
		for k in "${keys[@]}"; do
			cmp -s "$d/v.$k" "$d/$sh/v.$k" ||
				bad "eval of format=env in $sh: \$${name[$k]} is '$(cat "$d/$sh/v.$k" 2>/dev/null)', want '$(cat "$d/v.$k")'"
		done
		for k in pwned REBOOT-RAN skipped; do
			[ -e "$d/$sh/$k" ] && bad "eval of format=env in $sh: '$k' exists: something in a value ran"
		done
	done
	# The listing itself, for the rules eval cannot show.
	req "format=env" "$A/v1/kv/erg/env/?recurse&format=env"
	grep -qx '# skipped: erg/env/' "$BODY" || bad "format=env: no '# skipped: erg/env/' line: $(head -c 600 "$BODY")"
	grep -qx '# skipped: erg/env/x\\ntouch pwned\\n' "$BODY" ||
		bad "format=env: the NUL-valued key is not skipped with an escaped comment: $(head -c 600 "$BODY")"
	grep -qx "SQ=''\\\\'''" "$BODY" || bad "format=env: a lone quote is not written SQ=''\\'''"
	# format=lines: tab, newline and backslash escaped in keys and values.
	printf 'a\tb\\c\nd' >"$d/v.esc"
	expect_ok "PUT erg/lines" -X PUT --data-binary @"$d/v.esc" "$A/v1/kv/erg/lines/k%09ey%5C"
	req "format=lines" "$A/v1/kv/erg/lines/?recurse&format=lines"
	printf 'erg/lines/k\\tey\\\\\ta\\tb\\\\c\\nd\n' >"$d/want.lines"
	cmp -s "$d/want.lines" "$BODY" || bad "format=lines: got '$(cat "$BODY")', want '$(cat "$d/want.lines")'"
	expect_ok "DELETE erg" -X DELETE "$A/v1/kv/erg/?recurse"
	[ "$(jval "$BODY" '$.deleted')" = 16 ] || bad "DELETE erg/?recurse: $(cat "$BODY"), want deleted 16"
}

# check_status LEADER: /v1/status of every running node, against the run.
check_status() {
	local id f
	for id in $(it_up_ids); do
		req "status $id" "http://$(it_api "$id")/v1/status"
		f=$BODY.flat
		awk -f "$JFLAT" "$BODY" >"$f" 2>/dev/null || { bad "/v1/status of node $id is not JSON"; continue; }
		awk -F '\t' -v id="$id" -v leader="$1" -v term="$TERM" -v n="$N" -v apis="$(for ((i = 1; i <= N; i++)); do printf '%s=%s=%s ' $i "$(it_api $i)" "$(it_peer $i)"; done)" '
			{ p = $1; val[p] = substr($0, length(p) + 2) }
			function q(s) { return "\"" s "\"" }
			END {
				role = (id == leader) ? "leader" : "follower"
				if (val["$.id"] != id) print "id " val["$.id"]
				if (val["$.role"] != q(role)) print "role " val["$.role"] ", want " role
				if (val["$.leader"] != leader) print "leader " val["$.leader"] ", want " leader
				if (val["$.term"] != term) print "term " val["$.term"] ", want " term
				if (!(val["$.applied_index"] + 0 <= val["$.commit_index"] + 0 && val["$.commit_index"] + 0 <= val["$.last_log_index"] + 0))
					print "not applied <= commit <= last_log: " val["$.applied_index"] ", " val["$.commit_index"] ", " val["$.last_log_index"]
				if (val["$.snapshot_index"] !~ /^[0-9]+$/) print "snapshot_index " val["$.snapshot_index"]
				split(apis, m, " ")
				for (i = 0; i < n; i++) {
					split(m[i + 1], a, "=")
					e = "$.members[" i "]"
					if (val[e ".id"] != a[1] || val[e ".api"] != q(a[2]) || val[e ".peer"] != q(a[3]) || val[e ".voter"] != "true")
						print "member " i ": " val[e ".id"] " " val[e ".api"] " " val[e ".peer"] " voter " val[e ".voter"] ", want " a[1] " " a[2] " " a[3] " true"
					if (role == "leader" && (val[e ".match_index"] !~ /^[0-9]+$/ || val[e ".last_contact_ms"] !~ /^[0-9]+$/))
						print "member " i " on the leader: match_index " val[e ".match_index"] ", last_contact_ms " val[e ".last_contact_ms"]
					if (role == "follower" && (val[e ".match_index"] != "null" || val[e ".last_contact_ms"] != "null"))
						print "member " i " on a follower: match_index " val[e ".match_index"] ", last_contact_ms " val[e ".last_contact_ms"] " (want null)"
				}
				if (("$.members[" n "].id") in val) print "more than " n " members"
			}' "$f" | while IFS= read -r l; do echo "  MISMATCH: /v1/status of node $id: $l"; done | tee "$f.bad"
		[ -s "$f.bad" ] && NBAD=$((NBAD + $(wc -l <"$f.bad")))
	done
}

# ---------------------------------------------------------------- passes

# run_examples PHASE DIR NODE LEADER: the docs' examples of PHASE against
# NODE, compared; then every recorded answer checked.
run_examples() {
	local phase=$1 dir=$2 node=$3 leader=$4 g rc
	mkdir -p "$dir/out" "$dir/rec" "$dir/sandbox"
	gen_script "$phase" "$dir" "$(it_api "$node")"
	log "$phase: $NG groups of examples against node $node (leader ${leader:-none})"
	CONF_REC=$dir/rec CONF_OUT=$dir/out CONF_SANDBOX=$dir/sandbox PATH=$BIN:$PATH \
		timeout -k 5 "$(slow 60)" sh "$dir/run.sh" >"$dir/run.out" 2>&1
	rc=$?
	[ $rc = 124 ] || [ $rc = 137 ] && bad "$phase: the examples did not finish within $(slow 60)s"
	[ -s "$dir/run.out" ] && { bad "$phase: the examples printed outside their groups:"; indent "$dir/run.out"; }
	log "$phase: examples ran"
	for ((g = 1; g <= NG; g++)); do cmp_group $g "$dir" "$node" "$leader"; done
	log "$phase: outputs compared"
	for f in pwned REBOOT-RAN; do
		[ -e "$dir/sandbox/$f" ] && bad "$phase: '$f' exists: a hostile value ran"
	done
	check_records "$dir/rec" "$leader"
	log "$phase: $NREC answers checked"
}

# pass LABEL WHICH: a fresh cluster; every example through WHICH (leader or
# follower), then the error table, the shell checks and /v1/status.
pass() {
	local label=$1 node
	local flags=$CAIRND_FLAGS
	CDIR=$TDIR/cluster-$label
	# shellcheck disable=SC2034 # lib.sh's: no node stopped in this cluster
	IT_DOWN=" "
	# Elections slower than lib.sh's default: one during a pass would
	# shift every index after it.
	it_start 3 --election-timeout=1s --heartbeat=100ms
	CAIRND_FLAGS=$flags
	it_wait_leader 15
	local id
	for id in 1 2 3; do it_wait_caught_up "$id" 1 10; done
	if [ "$2" = leader ]; then node=$LEADER; else node=$(it_follower); fi
	run_examples main "$TDIR/$label" "$node" "$LEADER"
	export CONF_REC=$TDIR/$label/rec.checks
	mkdir -p "$CONF_REC"
	check_errors "http://$(it_api "$node")"
	log "$label: error table checked"
	check_shell "http://$(it_api "$node")" "$label"
	log "$label: shell ergonomics checked"
	check_status "$LEADER"
	local t0=$TERM
	it_wait_leader 5
	[ "$TERM" = "$t0" ] || bad "$label: an election happened during the pass (term $t0 -> $TERM)"
	check_records "$TDIR/$label/rec.checks" "$LEADER"
	log "$label: $NREC answers of the checks checked; $NBAD mismatches so far"
}

parse_docs
log "docs/API.md: $NEX examples"
command -v sh >/dev/null || fail "no sh"

pass via-follower follower
"$CLUSTER_SH" stop --dir "$CDIR" >/dev/null 2>&1
pass via-leader leader

# No leader: stop the leader and one follower; the node left must say so.
lone=$(it_follower)
for id in 1 2 3; do [ "$id" != "$lone" ] && it_stop_node "$id"; done
deadline=$(($(now_ms) + $(slow 10) * 1000))
while :; do
	status "$lone"
	[ "$(jfield "$STATUS" leader)" = null ] && break
	[ "$(now_ms)" -lt "$deadline" ] || fail "node $lone still names a leader $(slow 10)s after two of three stopped: $STATUS"
	sleep 0.1
done
applied=$(jfield "$STATUS" applied_index)
run_examples no-leader "$TDIR/no-leader" "$lone" ""
export CONF_REC=$TDIR/no-leader/rec.checks
mkdir -p "$CONF_REC"
A=http://$(it_api "$lone")
expect_err "no leader: GET" 503 no_leader "$A/v1/kv/app/db/host"
expect_err "no leader: GET ?recurse" 503 no_leader "$A/v1/kv/?recurse"
expect_err "no leader: PUT" 503 no_leader -X PUT --data-binary x "$A/v1/kv/k"
expect_err "no leader: DELETE" 503 no_leader -X DELETE "$A/v1/kv/k"
expect_err "no leader: txn" 503 no_leader -X POST --data-binary '{"success":[{"op":"get","key":"k"}]}' "$A/v1/txn"
expect_err "no leader: health" 503 no_leader "$A/v1/health"
# X-Cairn-Index: a failed read says 0, other errors the node's applied index.
for r in "$CONF_REC"/*.meta; do
	h=$(sed -n 's/^X-Cairn-Index: *\([0-9]*\).*/\1/ip' "${r%.meta}.hdr")
	want=$applied
	grep -q '^method=$' "$r" && grep -q '^url=.*/v1/kv/' "$r" && want=0
	[ "$h" = "$want" ] || bad "$(sed -n 's/^ex=//p' "$r"): X-Cairn-Index $h, want $want (applied index $applied)"
done
expect_ok "no leader: ?stale" "$A/v1/kv/erg?stale&recurse"
grep -qi '^X-Cairn-Last-Contact: [0-9]' "$HDR" || bad "no leader: ?stale without X-Cairn-Last-Contact"
expect_err "no leader: 400 still first" 400 bad_request "$A/v1/kv/a?bogus"
check_records "$TDIR/no-leader/rec.checks" ""

if [ "$NBAD" -gt 0 ]; then
	fail "$NBAD mismatches (above)"
fi
log "every example and check passed"
it_done
