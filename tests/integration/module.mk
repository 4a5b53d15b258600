# tests/integration: real cairnd processes on loopback, driven by curl and
# deploy/cluster.sh (tests/integration/run.sh; one t_*.sh per behaviour).
#
#   make check-integration                         with this flavour's cairnd
#   make SANITIZE=address,undefined check-integration   under ASan+UBSan (CI)
#   tests/integration/run.sh CAIRND [PEER_FLOOD] [-- t_name ...]   by hand
#
# Included from the top-level Makefile, after server/node.mk and
# server/transport.mk (they define CAIRND and PEER_FLOOD), with
#   -include tests/integration/module.mk
ifeq ($(CAIRND),)
$(error tests/integration/module.mk: include it after server/node.mk (CAIRND is not set))
endif
TEST_EXTRA += check-integration
.PHONY: check-integration

check-integration: $(CAIRND) $(PEER_FLOOD)
	tests/integration/run.sh $(CAIRND) $(PEER_FLOOD)

# The test tools the integration tests drive (tests/tools/, sharing the
# small HTTP client httpc.c): watchers (many blocking-query loops and
# writers, t_blocking_queries_see_every_change) and hostile (raw malformed
# requests and slow connections, t_bad_input_is_refused_and_node_keeps_serving).
WATCHERS := $(B)/tests/tools/watchers
HOSTILE := $(B)/tests/tools/hostile
BINS += $(WATCHERS) $(HOSTILE)

$(WATCHERS): $(B)/tests/tools/watchers.o $(B)/tests/tools/httpc.o
	$(CC) $(LDFLAGS_ALL) $^ -pthread -o $@

$(HOSTILE): $(B)/tests/tools/hostile.o $(B)/tests/tools/httpc.o
	$(CC) $(LDFLAGS_ALL) $^ -o $@

check-integration: $(WATCHERS) $(HOSTILE)
