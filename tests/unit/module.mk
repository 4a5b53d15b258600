# Unit tests (cmocka): tests/unit/test_rc_*.c link raftcore alone. Other
# folders add their own test binaries to TEST_BINS in their module.mk.
RC_UNIT_SRCS := $(wildcard tests/unit/test_rc_*.c)
RC_UNIT_HELPERS := $(filter-out tests/unit/test_rc_%,$(wildcard tests/unit/rc_*.c))
RC_UNIT_BINS := $(RC_UNIT_SRCS:%.c=$(B)/%)
TEST_BINS += $(RC_UNIT_BINS)

$(RC_UNIT_BINS): $(B)/tests/unit/%: $(B)/tests/unit/%.o $(RC_UNIT_HELPERS:%.c=$(B)/%.o) $(RAFTCORE_LIB)
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka -o $@
