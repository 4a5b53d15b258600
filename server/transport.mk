# Peer transport and the event loop: $(B)/libcairnnet.a, its unit test and
# the peer_flood tool. Included from the top-level Makefile with
#   -include server/transport.mk
# (after raftcore/module.mk: the test links $(RAFTCORE_LIB) for rc_crc32c).
NET_SRCS := server/loop.c server/transport.c server/transport_in.c \
	server/transport_out.c server/transport_queue.c server/transport_wire.c \
	server/transport_addr.c
STRICT_SRCS += $(NET_SRCS)
NET_OBJS := $(NET_SRCS:%.c=$(B)/%.o)
NET_LIB := $(B)/libcairnnet.a
LIBS += $(NET_LIB)

$(NET_LIB): $(NET_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Unit tests: test_transport (real sockets on 127.0.0.1, one loop),
# test_transport_queue and test_transport_wire (no I/O).
TRANSPORT_TESTS := $(B)/tests/unit/test_transport $(B)/tests/unit/test_transport_queue \
	$(B)/tests/unit/test_transport_wire
TEST_BINS += $(TRANSPORT_TESTS)

$(TRANSPORT_TESTS): $(B)/tests/unit/%: $(B)/tests/unit/%.o $(NET_LIB) $(RAFTCORE_LIB)
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka -o $@

# Writes garbage, truncated and hostile frames at a peer port: for the
# node's process-level flood test (tests/integration).
PEER_FLOOD := $(B)/tests/tools/peer_flood
BINS += $(PEER_FLOOD)

$(PEER_FLOOD): $(B)/tests/tools/peer_flood.o $(NET_LIB) $(RAFTCORE_LIB)
	$(CC) $(LDFLAGS_ALL) $^ -o $@
