# tests/bench: the node benchmark, `make bench` (tests/bench/bench.sh):
# wrk against a 3-node loopback cluster of an -O2 cairnd without sanitizers,
# built in its own directory (build/bench), whatever flavour is selected.
#
#   make bench                                   the full run (about 3 min)
#   make bench BENCH_SECONDS=3 BENCH_IDLE_SECONDS=10 BENCH_FAILOVER_ROUNDS=3   a quick one
#   make bench BENCH_PERF=1                      also perf-profile the leader during PUT@64
#   make bench-longpoll                          only the long-poll part (tests/bench/longpoll.sh):
#                                                10,000 idle long-polls on one node, RSS, wake latency
#   make bench BENCH_LONGPOLLS=0                 the full run without it
#
# Included from the top-level Makefile with
#   -include tests/bench/module.mk
BENCH_SECONDS ?= 10
BENCH_IDLE_SECONDS ?= 60
BENCH_FAILOVER_ROUNDS ?= 5
BENCH_PERF ?= 0
BENCH_LONGPOLLS ?= 10000
BENCH_LONGPOLL_RATE ?= 2000
.PHONY: bench bench-longpoll

# The long-poll client (tests/tools/longpoll.c, with the tools' httpc.c).
LONGPOLL := $(B)/tests/tools/longpoll
BINS += $(LONGPOLL)
$(LONGPOLL): $(B)/tests/tools/longpoll.o $(B)/tests/tools/httpc.o
	$(CC) $(LDFLAGS_ALL) $^ -pthread -o $@

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory B=build/bench SANITIZE= OPT=-O2 build/bench/cairnd \
		build/bench/tests/tools/longpoll
	BENCH_SECONDS=$(BENCH_SECONDS) BENCH_IDLE_SECONDS=$(BENCH_IDLE_SECONDS) \
	BENCH_FAILOVER_ROUNDS=$(BENCH_FAILOVER_ROUNDS) BENCH_PERF=$(BENCH_PERF) \
	BENCH_LONGPOLLS=$(BENCH_LONGPOLLS) BENCH_LONGPOLL_RATE=$(BENCH_LONGPOLL_RATE) \
	tests/bench/bench.sh build/bench/cairnd

bench-longpoll:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory B=build/bench SANITIZE= OPT=-O2 build/bench/cairnd \
		build/bench/tests/tools/longpoll
	BENCH_LONGPOLLS=$(BENCH_LONGPOLLS) BENCH_LONGPOLL_RATE=$(BENCH_LONGPOLL_RATE) \
	tests/bench/longpoll.sh build/bench/cairnd
