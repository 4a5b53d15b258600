# api: the HTTP front (libmicrohttpd), built as $(B)/libcairnapi.a for the
# node to link with $(API_LDLIBS). It holds the command codec too
# (api/command.c), which server/store uses.
#
# Unit tests: tests/unit/test_api_*.c, each linked with the api_* helpers
# (a fake backend and a raw-socket HTTP client) and the library.
API_SRCS := $(wildcard api/*.c)
STRICT_SRCS += $(API_SRCS)
API_OBJS := $(API_SRCS:%.c=$(B)/%.o)
API_LIB := $(B)/libcairnapi.a
LIBS += $(API_LIB)

API_MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
API_LDLIBS := $(or $(shell pkg-config --libs libmicrohttpd 2>/dev/null),-lmicrohttpd) -pthread

$(API_LIB): $(API_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

API_UNIT_SRCS := $(wildcard tests/unit/test_api_*.c)
API_UNIT_HELPERS := $(wildcard tests/unit/api_*.c)
API_UNIT_BINS := $(API_UNIT_SRCS:%.c=$(B)/%)
TEST_BINS += $(API_UNIT_BINS)

# The generic rule compiles with $(CFLAGS_ALL); these objects add -Iapi.
$(API_OBJS) $(API_UNIT_SRCS:%.c=$(B)/%.o) $(API_UNIT_HELPERS:%.c=$(B)/%.o): \
	CFLAGS_ALL += -Iapi $(API_MHD_CFLAGS)

$(API_UNIT_BINS): $(B)/tests/unit/%: $(B)/tests/unit/%.o $(API_UNIT_HELPERS:%.c=$(B)/%.o) $(API_LIB)
	$(CC) $(LDFLAGS_ALL) $^ $(API_LDLIBS) -lcjson -lcmocka -o $@
