# raftcore: the Replica and the peer codec, libc only.
RAFTCORE_SRCS := $(wildcard raftcore/*.c)
STRICT_SRCS += $(RAFTCORE_SRCS)
RAFTCORE_OBJS := $(RAFTCORE_SRCS:%.c=$(B)/%.o)
RAFTCORE_LIB := $(B)/libraftcore.a
LIBS += $(RAFTCORE_LIB)

$(RAFTCORE_LIB): $(RAFTCORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
