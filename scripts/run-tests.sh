#!/bin/sh
# Runs each test binary given; prints one line per binary and a closing
# "N passed, N failed" line. Exits non-zero when any binary failed.
passed=0
failed=0
failed_names=""
for t in "$@"; do
	name=$(basename "$t")
	log=$(mktemp)
	if "$t" >"$log" 2>&1; then
		n=$(grep -c '^\[       OK \]' "$log")
		echo "ok    $name ($n tests)"
		passed=$((passed + 1))
	else
		echo "FAIL  $name"
		cat "$log"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
	rm -f "$log"
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "failed:$failed_names"; exit 1; }
