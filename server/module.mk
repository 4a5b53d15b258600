# server: cairnd's pieces. Storage (issue 3): the log, hard state,
# snapshots and data-directory lock, in libcairnstorage.a. It needs only
# raftcore's crc32c.o, linked beside it, not the whole raftcore library.
STORAGE_SRCS := server/sysio.c server/datadir.c server/hardstate.c server/wal_record.c \
	server/wal.c server/wal_stage.c server/wal_sync.c server/snapfile.c server/storage.c
STRICT_SRCS += $(STORAGE_SRCS)
STORAGE_OBJS := $(STORAGE_SRCS:%.c=$(B)/%.o)
STORAGE_LIB := $(B)/libcairnstorage.a
STORAGE_DEPS := $(STORAGE_LIB) $(B)/raftcore/crc32c.o
LIBS += $(STORAGE_LIB)

$(STORAGE_LIB): $(STORAGE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Unit tests: tests/unit/test_storage_*.c with the st_* helpers (an
# in-memory file system that simulates power cuts, and a fault injector).
ST_UNIT_SRCS := $(wildcard tests/unit/test_storage_*.c)
ST_UNIT_HELPERS := $(wildcard tests/unit/st_*.c)
ST_UNIT_BINS := $(ST_UNIT_SRCS:%.c=$(B)/%)
TEST_BINS += $(ST_UNIT_BINS)

$(ST_UNIT_BINS): $(B)/tests/unit/%: $(B)/tests/unit/%.o $(ST_UNIT_HELPERS:%.c=$(B)/%.o) $(STORAGE_DEPS)
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka -pthread -o $@

# Programs under tests/storage: crash-consistency search, the kill -9
# appender, and the benchmark.
ST_CRASH := $(B)/tests/storage/crash
ST_KILLER := $(B)/tests/storage/killer
ST_BENCH := $(B)/tests/storage/bench
BINS += $(ST_CRASH) $(ST_KILLER)

$(ST_CRASH): $(B)/tests/storage/crash.o $(B)/tests/unit/st_memfs.o $(STORAGE_DEPS)
	$(CC) $(LDFLAGS_ALL) $^ -pthread -o $@
$(ST_KILLER): $(B)/tests/storage/killer.o $(STORAGE_DEPS)
	$(CC) $(LDFLAGS_ALL) $^ -pthread -o $@
$(ST_BENCH): $(B)/tests/storage/bench.o $(STORAGE_DEPS)
	$(CC) $(LDFLAGS_ALL) $^ -pthread -o $@

CRASH_SEEDS ?= $(if $(SANITIZE),40,100)
KILL9_ROUNDS ?= 30
TEST_EXTRA += check-storage-crash check-storage-kill9
.PHONY: check-storage-crash check-storage-kill9 bench-storage

check-storage-crash: $(ST_CRASH)
	$(ST_CRASH) --seeds $(CRASH_SEEDS)

check-storage-kill9: $(ST_KILLER)
	tests/storage/kill9.sh $(ST_KILLER) $(B)/kill9-data $(KILL9_ROUNDS)

# The benchmark always runs an -O2 build without sanitizers, on the file
# system of the build directory (not /tmp, often a tmpfs).
bench-storage:
	@$(MAKE) --no-print-directory B=build/bench-storage SANITIZE= OPT=-O2 build/bench-storage/tests/storage/bench
	build/bench-storage/tests/storage/bench build/bench-storage/bench-data
