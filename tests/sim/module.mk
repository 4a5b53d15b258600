# tests/sim: the deterministic cluster simulator (see tests/sim/sim.h).
#
#   make sim SEEDS=N [SIM_START=S0] [SIM_JOBS=J]   run N seeds, print the rates
#   make sim-mutants    build raftcore once per planted bug (-DRC_MUTANT_X)
#                       and show the simulator catches every one
#   $(B)/tests/sim/sim --seed=S --trace              replay one seed
SIM_SRCS := $(wildcard tests/sim/*.c)
SIM_OBJS := $(SIM_SRCS:%.c=$(B)/%.o)
SIM_BIN := $(B)/tests/sim/sim
BINS += $(SIM_BIN)

SEEDS ?= 500
SIM_START ?= 1
SIM_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SIM_MUTANTS ?= COMMIT_OLD_TERM DOUBLE_VOTE VOTE_STALE_LOG ACK_BEFORE_PERSIST \
	READ_BEFORE_NOOP TRUNCATE_STALE NO_CHECK_QUORUM SELF_COUNT_BEFORE_PERSIST
SIM_MUTANT_SEEDS ?= 3000
SIM_MUTANT_SECONDS ?= 60

$(SIM_BIN): $(SIM_OBJS) $(RAFTCORE_LIB)
	$(CC) $(LDFLAGS_ALL) $^ -o $@

sim: $(SIM_BIN)
	$(SIM_BIN) --seeds=$(SEEDS) --start=$(SIM_START) --jobs=$(SIM_JOBS)

sim-mutants:
	@MAKE="$(MAKE)" B="$(B)" CFLAGS="$(CFLAGS)" SIM_JOBS="$(SIM_JOBS)" \
	SIM_MUTANT_SEEDS="$(SIM_MUTANT_SEEDS)" SIM_MUTANT_SECONDS="$(SIM_MUTANT_SECONDS)" \
	tests/sim/mutants.sh $(SIM_MUTANTS)
