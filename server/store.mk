# server/store: the SQLite state machine (server/store*.c), its unit tests
# and its benchmark. Included by the top-level Makefile.
#
#   make bench-store     applied PUTs/s for batches of 1, 64 and 1024
#
# The store decodes commands with api/command.c (which uses api/parse.c);
# until api/ has a library of its own, those objects are linked directly.

STORE_SRCS := $(wildcard server/store*.c)
STRICT_SRCS += $(STORE_SRCS)
STORE_OBJS := $(STORE_SRCS:%.c=$(B)/%.o)
STORE_LIB := $(B)/libstore.a
STORE_API_OBJS := $(B)/api/command.o $(B)/api/parse.o
STORE_LDLIBS := -lsqlite3 -lpthread
LIBS += $(STORE_LIB)

# command.h lives in api/.
$(STORE_OBJS): CFLAGS_ALL += -Iapi

$(STORE_LIB): $(STORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

STORE_TEST_SRCS := $(wildcard tests/unit/test_store*.c)
STORE_TEST_HELPERS := tests/unit/store_harness.c
STORE_TEST_BINS := $(STORE_TEST_SRCS:%.c=$(B)/%)
TEST_BINS += $(STORE_TEST_BINS)

$(STORE_TEST_SRCS:%.c=$(B)/%.o) $(STORE_TEST_HELPERS:%.c=$(B)/%.o): CFLAGS_ALL += -Iapi

$(STORE_TEST_BINS): $(B)/tests/unit/%: $(B)/tests/unit/%.o \
		$(STORE_TEST_HELPERS:%.c=$(B)/%.o) $(STORE_LIB) $(STORE_API_OBJS)
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka $(STORE_LDLIBS) -o $@

BENCH_STORE := $(B)/tests/bench/bench_store
$(B)/tests/bench/bench_store.o: CFLAGS_ALL += -Iapi

$(BENCH_STORE): $(B)/tests/bench/bench_store.o $(STORE_LIB) $(STORE_API_OBJS)
	$(CC) $(LDFLAGS_ALL) $^ $(STORE_LDLIBS) -o $@

.PHONY: bench-store
bench-store: $(BENCH_STORE)
	@$(BENCH_STORE) $(B)
