# jflat.awk: flattens one JSON text into one line per leaf, for comparing
# JSON in the integration tests with plain sort/diff/grep (POSIX awk):
#
#   awk -f jflat.awk file.json        (or on stdin)
#
# Each leaf prints as PATH<TAB>TOKEN, in document order:
#   $.ok	true
#   $.entry.key	"app/db/host"
#   $.results[1].deleted	0
#   $.current	null
#   $.members	[]            (an empty array or object prints [] or {})
# A member name made of [A-Za-z0-9_] is written .name, any other as ."..."
# (its JSON string token, escapes kept). Strings and numbers are the tokens
# as they appear in the text. Sorting the output compares two documents
# structurally (member order and whitespace ignored).
#
# The text must be exactly one JSON value (RFC 8259: no trailing commas, no
# comments, nothing after the value); otherwise prints "jflat: <why> at
# byte N" on stderr and exits 2. Input is read as bytes.

function fail(msg) {
	printf "jflat: %s at byte %d\n", msg, P > "/dev/stderr"
	BAD = 1
	exit 2
}

function ws() {
	while (P <= L && index(" \t\r\n", substr(S, P, 1)) > 0)
		P++
}

function member(k) {
	if (k ~ /^"[A-Za-z0-9_]+"$/)
		return "." substr(k, 2, length(k) - 2)
	return "." k
}

function str(   r) {
	# A string token: no raw control bytes, only the escapes JSON allows.
	if (!match(substr(S, P), /^"([^"\\\001-\037]|\\["\\\/bfnrt]|\\u[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f])*"/))
		fail("bad string")
	r = substr(S, P, RLENGTH)
	P += RLENGTH
	return r
}

function value(path, depth,   c, k, n, t) {
	if (depth > 200)
		fail("nesting too deep")
	ws()
	if (P > L)
		fail("unexpected end of input")
	c = substr(S, P, 1)
	if (c == "{") {
		P++
		ws()
		if (substr(S, P, 1) == "}") {
			P++
			print path "\t{}"
			return
		}
		for (;;) {
			ws()
			if (substr(S, P, 1) != "\"")
				fail("expected a member name")
			k = str()
			ws()
			if (substr(S, P, 1) != ":")
				fail("expected ':'")
			P++
			value(path member(k), depth + 1)
			ws()
			c = substr(S, P, 1)
			P++
			if (c == "}")
				return
			if (c != ",")
				fail("expected ',' or '}'")
		}
	}
	if (c == "[") {
		P++
		ws()
		if (substr(S, P, 1) == "]") {
			P++
			print path "\t[]"
			return
		}
		for (n = 0;; n++) {
			value(path "[" n "]", depth + 1)
			ws()
			c = substr(S, P, 1)
			P++
			if (c == "]")
				return
			if (c != ",")
				fail("expected ',' or ']'")
		}
	}
	if (c == "\"") {
		print path "\t" str()
		return
	}
	if (match(substr(S, P, 400), /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) {
		t = substr(S, P, RLENGTH)
		P += RLENGTH
		print path "\t" t
		return
	}
	if (substr(S, P, 4) == "true" || substr(S, P, 4) == "null") {
		print path "\t" substr(S, P, 4)
		P += 4
		return
	}
	if (substr(S, P, 5) == "false") {
		print path "\tfalse"
		P += 5
		return
	}
	fail("unexpected character")
}

{ S = S $0 "\n" }

END {
	if (BAD)
		exit 2
	L = length(S)
	# The last line's newline is ours when the text had none: whitespace.
	P = 1
	value("$", 0)
	ws()
	if (P <= L)
		fail("text after the value")
}
