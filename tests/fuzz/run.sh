#!/bin/sh
# Runs one libFuzzer target for a while on a copy of its seed corpus.
#   tests/fuzz/run.sh BINARY NAME SECONDS SEED_DIR WORK_DIR
# The working corpus WORK_DIR/corpus starts as a copy of SEED_DIR and keeps
# what the fuzzer finds between runs (until `make clean`); the fuzzer's
# output goes to WORK_DIR/fuzz.log. Prints one summary line. On a crash or
# a broken property, prints the crashing input's path and how to replay it,
# and exits non-zero.
set -u
bin=$1 name=$2 secs=$3 seeds=$4 work=$5
log=$work/fuzz.log
mkdir -p "$work/corpus" "$work/crashes"
cp "$seeds"/* "$work/corpus/"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/crashes/" "$work/corpus" >"$log" 2>&1
rc=$?
final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
done_line=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1)
cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
corp=$(echo "$done_line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
if [ "$rc" -ne 0 ]; then
	echo "FAIL  fuzz_$name (exit $rc); full output in $log"
	grep -E 'property failed|ERROR:|runtime error|SUMMARY' "$log" | head -n 5
	crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	echo "crash input: ${crash:-none written, see $log}"
	[ -n "$crash" ] && echo "replay:      $bin $crash"
	exit 1
fi
echo "ok    fuzz_$name: ${secs}s, $(final_stat number_of_executed_units) runs" \
	"($(final_stat average_exec_per_sec) exec/s), cov $cov, ft $ft, corpus $corp"
