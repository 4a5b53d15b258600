# cairn: the one build. `make test` and `make run` install what is missing.
#
#   make                 build everything (into build/<flavour>/)
#   make test            install deps, build with -Werror, run every test
#   make SANITIZE=address,undefined test    the same under ASan+UBSan (CI)
#   make sim SEEDS=N     run N simulator seeds and print the rates
#   make sim-mutants     show the simulator catches planted raftcore bugs
#   make fuzz            run the libFuzzer targets (FUZZ_SECONDS each)
#
# Each folder adds its own rules in module.mk; this file holds the shared
# flags and the top-level targets.

CC ?= cc
SANITIZE ?=
OPT ?= -O2
SIM_SEEDS_TEST ?= 2000

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wformat=2 -Werror
CSTD := -std=c11 -D_GNU_SOURCE
BASE_CFLAGS := $(CSTD) $(WARN) -g $(OPT) -fno-strict-aliasing -MMD -MP
STRICT := -Wconversion

comma := ,
ifneq ($(SANITIZE),)
FLAVOUR := san-$(subst $(comma),-,$(SANITIZE))
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
else
FLAVOUR := default
SAN_FLAGS :=
endif
B ?= build/$(FLAVOUR)
CFLAGS_ALL := $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SAN_FLAGS) $(LDFLAGS)

# Collected by the module.mk files.
LIBS :=
TEST_BINS :=
BINS :=
TEST_EXTRA :=   # further make targets that `make test` runs (module.mk adds)

.PHONY: all deps test check-unit sim sim-mutants fuzz fuzz-short clean format format-check run
all:

include raftcore/module.mk
-include server/module.mk
-include server/store.mk
-include server/transport.mk
-include api/module.mk
-include server/node.mk
include tests/unit/module.mk
-include tests/sim/module.mk
-include tests/fuzz/module.mk
-include tests/integration/module.mk
-include tests/bench/module.mk
-include tests/jepsen/module.mk

all: $(LIBS) $(BINS) $(TEST_BINS)

# Objects: one rule for every folder. Files listed in STRICT_SRCS get
# -Wconversion as well (production code; tests may drop it).
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(if $(filter $<,$(STRICT_SRCS)),$(STRICT)) -Iraftcore -Iserver -c $< -o $@

deps:
	@scripts/deps.sh build

test: deps
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory sim SEEDS=$(SIM_SEEDS_TEST)
	@$(MAKE) --no-print-directory sim-mutants
	@$(MAKE) --no-print-directory fuzz-short
	@for t in $(TEST_EXTRA); do $(MAKE) --no-print-directory $$t || exit 1; done
	@echo "make test: all suites passed"

check-unit: $(TEST_BINS)
	@scripts/run-tests.sh $(TEST_BINS)

# Builds and starts a single-node cairnd in the foreground (Ctrl-C stops it
# cleanly). RUN_FLAGS adds cairnd settings, e.g. RUN_FLAGS=--api=0.0.0.0:7700.
RUN_FLAGS ?=
run: deps
	@$(MAKE) --no-print-directory $(B)/cairnd
	@echo "cairn: single node, API at http://127.0.0.1:7700/ , data in ./cairn-data (Ctrl-C stops)"
	@exec $(B)/cairnd $(RUN_FLAGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h') && echo "format: clean"

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
