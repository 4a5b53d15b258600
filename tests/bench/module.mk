# tests/bench: the node benchmark, `make bench` (tests/bench/bench.sh):
# wrk against a 3-node loopback cluster of an -O2 cairnd without sanitizers,
# built in its own directory (build/bench), whatever flavour is selected.
#
#   make bench                                   the full run (about 3 min)
#   make bench BENCH_SECONDS=3 BENCH_IDLE_SECONDS=10 BENCH_FAILOVER_ROUNDS=3   a quick one
#   make bench BENCH_PERF=1                      also perf-profile the leader during PUT@64
#
# Included from the top-level Makefile with
#   -include tests/bench/module.mk
BENCH_SECONDS ?= 10
BENCH_IDLE_SECONDS ?= 60
BENCH_FAILOVER_ROUNDS ?= 5
BENCH_PERF ?= 0
.PHONY: bench

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory B=build/bench SANITIZE= OPT=-O2 build/bench/cairnd
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_IDLE_SECONDS=$(BENCH_IDLE_SECONDS) \
	BENCH_FAILOVER_ROUNDS=$(BENCH_FAILOVER_ROUNDS) BENCH_PERF=$(BENCH_PERF) \
	tests/bench/bench.sh build/bench/cairnd
