# cairnd: the node (main, settings, the loop turn, persistence, apply,
# forwarding, snapshots), linked with storage, store, transport and api.
NODE_SRCS := server/main.c server/config.c server/log.c server/identity.c server/node.c \
	server/node_persist.c server/node_apply.c server/node_client.c server/node_snapshot.c server/node_watch.c server/watch.c
STRICT_SRCS += $(NODE_SRCS)
NODE_OBJS := $(NODE_SRCS:%.c=$(B)/%.o)
CAIRND := $(B)/cairnd
BINS += $(CAIRND)

$(NODE_OBJS): CFLAGS_ALL += -Iapi

$(CAIRND): $(NODE_OBJS) $(STORE_LIB) $(API_LIB) $(NET_LIB) $(STORAGE_LIB) $(RAFTCORE_LIB)
	$(CC) $(LDFLAGS_ALL) $^ -lsqlite3 $(API_LDLIBS) -lcjson -pthread -o $@

# Unit tests of node pieces that stand alone.
WATCH_TEST := $(B)/tests/unit/test_watch
TEST_BINS += $(WATCH_TEST)
$(B)/tests/unit/test_watch.o: CFLAGS_ALL += -Iapi
$(WATCH_TEST): $(B)/tests/unit/test_watch.o $(B)/server/watch.o
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka -o $@

# The node's forwarding rules, with the node's objects (all but main.o).
NODE_FORWARD_TEST := $(B)/tests/unit/test_node_forward
TEST_BINS += $(NODE_FORWARD_TEST)
$(B)/tests/unit/test_node_forward.o: CFLAGS_ALL += -Iapi
$(NODE_FORWARD_TEST): $(B)/tests/unit/test_node_forward.o $(filter-out $(B)/server/main.o,$(NODE_OBJS)) \
		$(STORE_LIB) $(API_LIB) $(NET_LIB) $(STORAGE_LIB) $(RAFTCORE_LIB)
	$(CC) $(LDFLAGS_ALL) $^ -lcmocka -lsqlite3 $(API_LDLIBS) -lcjson -pthread -o $@
