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
