#!/usr/bin/env bash
# `cairnd --help` exits 0 and lists every setting of the settings table in
# server/config.c (read from the source, so a new setting is covered
# automatically) as `--name`, with `(default VALUE)` when it has one; every
# printed default is accepted back, both as a flag and as a `name = value`
# line in a --config file.
. "$(dirname "$0")/lib.sh"

src=$IT_ROOT/server/config.c
[ -f "$src" ] || fail "no $src"
# "name default" per setting, from lines like:  {"heartbeat", NUM(K_MS, heartbeat_ms), "100ms", "..."},
sed -n 's/^[[:space:]]*{"\([a-z-]*\)", [A-Z_0-9]*([^)]*), "\([^"]*\)".*/\1 \2/p; s/^[[:space:]]*{"\([a-z-]*\)", K_[A-Z]*,.*/\1 /p' \
	"$src" >"$TDIR/settings"
n=$(wc -l <"$TDIR/settings")
[ "$n" -ge 10 ] || fail "found only $n settings in $src: the table's layout changed? $(tr '\n' ' ' <"$TDIR/settings")"

timeout "$(slow 5)" "$CAIRND" --help >"$TDIR/help" 2>"$TDIR/help.err"
rc=$?
[ $rc -eq 0 ] || fail "cairnd --help exited $rc: $(head -n 3 "$TDIR/help.err")"
[ -s "$TDIR/help.err" ] && fail "cairnd --help wrote to stderr: $(head -n 3 "$TDIR/help.err")"

missing=""
: >"$TDIR/all.conf"
while read -r name def; do
	line=$(grep -E -- "^ *--$name( |$)" "$TDIR/help")
	if [ -z "$line" ]; then
		missing="$missing --$name(not listed)"
		continue
	fi
	if [ -n "$def" ]; then
		case "$line" in
		*"(default $def)"*) ;;
		*) missing="$missing --$name(no '(default $def)')" ;;
		esac
		case "$name" in help | config) continue ;; esac
		"$CAIRND" "--$name=$def" --help >/dev/null 2>"$TDIR/flag.err" ||
			missing="$missing --$name=$def(refused: $(cat "$TDIR/flag.err"))"
		echo "$name = '$def'" >>"$TDIR/all.conf"
	fi
done <"$TDIR/settings"
[ -z "$missing" ] || fail "cairnd --help:$missing"

"$CAIRND" --config="$TDIR/all.conf" --help >/dev/null 2>"$TDIR/conf.err" ||
	fail "a config file of every default is refused: $(cat "$TDIR/conf.err")"
log "$n settings listed with their defaults"
it_done
