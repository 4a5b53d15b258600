# tests/jepsen: the Jepsen-style fault harness. Included by the top-level
# Makefile. Each part keeps its rules under its own heading.

# --- checker (wgl) ---
# The linearizability checker (wgl.c), its unit tests and its benchmark.
#
#   make bench-wgl     check 10,000 generated operations over 10 keys
#                      (BENCH_WGL_FLAGS adds e.g. --seed=N or --plant-stale)
WGL_SRCS := tests/jepsen/wgl.c tests/jepsen/bench_wgl.c
STRICT_SRCS += $(WGL_SRCS)
WGL_OBJ := $(B)/tests/jepsen/wgl.o

WGL_TEST := $(B)/tests/unit/test_jepsen_wgl
TEST_BINS += $(WGL_TEST)
$(B)/tests/unit/test_jepsen_wgl.o: CFLAGS_ALL += -Itests/jepsen
$(WGL_TEST): $(B)/tests/unit/test_jepsen_wgl.o $(WGL_OBJ)
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka -o $@

BENCH_WGL := $(B)/tests/jepsen/bench-wgl
BENCH_WGL_FLAGS ?=
BINS += $(BENCH_WGL)
$(BENCH_WGL): $(B)/tests/jepsen/bench_wgl.o $(WGL_OBJ)
	$(CC) $(LDFLAGS_ALL) $^ -o $@

.PHONY: bench-wgl
bench-wgl: $(BENCH_WGL)
	$(BENCH_WGL) $(BENCH_WGL_FLAGS)

# --- client, workloads, check ---
# jepsen-client runs a workload against a cluster and records a history;
# jepsen-check checks one (both: tests/jepsen/client.c, check.c). The
# workloads (wl_*.c, listed in workloads.c) hold both halves, so both
# binaries link them; the register checker needs wgl.o.
# test_jepsen_history: the history parser and the set and register
# checkers on hand-made histories.
JEPSEN_SRCS := $(addprefix tests/jepsen/,history.c workloads.c wl_register.c wl_set.c client.c \
	check.c)
STRICT_SRCS += $(JEPSEN_SRCS)
JEPSEN_OBJS := $(addprefix $(B)/tests/jepsen/,history.o workloads.o wl_register.o wl_set.o wgl.o) \
	$(B)/tests/tools/httpc.o
JEPSEN_CLIENT := $(B)/tests/jepsen/jepsen-client
JEPSEN_CHECK := $(B)/tests/jepsen/jepsen-check
BINS += $(JEPSEN_CLIENT) $(JEPSEN_CHECK)

$(JEPSEN_CLIENT): $(B)/tests/jepsen/client.o $(JEPSEN_OBJS)
	$(CC) $(LDFLAGS_ALL) $^ -pthread -o $@

$(JEPSEN_CHECK): $(B)/tests/jepsen/check.o $(JEPSEN_OBJS)
	$(CC) $(LDFLAGS_ALL) $^ -pthread -o $@

JEPSEN_HISTORY_TEST := $(B)/tests/unit/test_jepsen_history
TEST_BINS += $(JEPSEN_HISTORY_TEST)
$(B)/tests/unit/test_jepsen_history.o: CFLAGS_ALL += -Itests/jepsen
$(JEPSEN_HISTORY_TEST): $(B)/tests/unit/test_jepsen_history.o $(JEPSEN_OBJS)
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka -pthread -o $@

# --- harness (netns cluster, nemesis, campaigns) ---
# Needs root (network namespaces, iptables); docs/JEPSEN.md.
#
#   make jepsen          10 runs x 5 min on 5 nodes, every fault and workload
#   make jepsen-short    one 3-node run with a fixed schedule (in make test)
#   make jepsen-mutants  each planted cairnd bug must fail the run targeting it
#   make jepsen-mutants-short   the same with 30 s runs (in make test)
# SEED=, RUNS=, SECONDS_PER_RUN= and NODES= are passed on to campaign.sh.
JEPSEN_TOOLS := $(CAIRND) $(JEPSEN_CLIENT) $(JEPSEN_CHECK)
JEPSEN_OUT ?= $(B)/jepsen
JEPSEN_MUTANTS := LEADER_LOCAL_READ ACK_BEFORE_COMMIT APPLY_BEFORE_MAJORITY FOLLOWER_LOCAL_READ
TEST_EXTRA += bench-wgl-short jepsen-short jepsen-mutants-short
.PHONY: jepsen jepsen-short jepsen-mutants jepsen-mutants-short jepsen-mutant-builds bench-wgl-short

jepsen: $(JEPSEN_TOOLS)
	tests/jepsen/campaign.sh full $(B) $(JEPSEN_OUT)/full

jepsen-short: $(JEPSEN_TOOLS)
	tests/jepsen/campaign.sh short $(B) $(JEPSEN_OUT)/short

# One cairnd per planted bug, in $(B)/jmut-<name>/ (raftcore, store, api
# and all, built with -DCAIRN_MUTANT_<NAME>).
jepsen-mutant-builds:
	@for m in $(JEPSEN_MUTANTS); do \
		d=$(B)/jmut-$$(echo $$m | tr 'A-Z' 'a-z'); \
		$(MAKE) --no-print-directory B=$$d CFLAGS="$(CFLAGS) -DCAIRN_MUTANT_$$m" $$d/cairnd \
			>/dev/null || exit 1; \
	done

jepsen-mutants: $(JEPSEN_TOOLS) jepsen-mutant-builds
	tests/jepsen/campaign.sh mutants $(B) $(JEPSEN_OUT)/mutants

jepsen-mutants-short: $(JEPSEN_TOOLS) jepsen-mutant-builds
	tests/jepsen/campaign.sh mutants-short $(B) $(JEPSEN_OUT)/mutants-short

# The checker's benchmark as a test: a generated history must check ok,
# and the same history with one stale read planted must not.
bench-wgl-short: $(BENCH_WGL)
	$(BENCH_WGL) | tail -1
	$(BENCH_WGL) --plant-stale | tail -1
