# Fuzzing: libFuzzer targets, built by clang with
# -fsanitize=fuzzer,address,undefined into $(FUZZ_B).
#
#   make fuzz          every target for FUZZ_SECONDS (default 300) each
#   make fuzz-short    every target for FUZZ_SHORT_SECONDS (default 10) each;
#                      `make test` runs it
#   make fuzz-NAME     one target for FUZZ_SECONDS
#   make fuzz-corpus   regenerate the checked-in seeds (tests/fuzz/gen_corpus.c)
#
# A target NAME is tests/fuzz/fuzz_NAME.c compiled together with the sources
# listed in FUZZ_SRCS_NAME (and linked with FUZZ_LIBS_NAME). The sources are
# compiled again by clang rather than taken from the gcc-built libraries, so
# that the code under test carries the coverage instrumentation. Seeds live
# in tests/fuzz/corpus/NAME/; tests/fuzz/run.sh runs the fuzzer on a copy in
# $(FUZZ_B)/NAME/ and fails, printing the crashing input, when it crashes.
#
# To add a target: write tests/fuzz/fuzz_NAME.c, add NAME to FUZZ_TARGETS,
# set FUZZ_SRCS_NAME, and check in a few seeds under tests/fuzz/corpus/NAME/.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 10
FUZZ_B := $(B)/fuzz
FUZZ_CFLAGS := $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer -Iraftcore

FUZZ_CODEC_SRCS := raftcore/codec.c raftcore/membership.c raftcore/crc32c.c \
	raftcore/errors.c tests/unit/rc_msg_equal.c

FUZZ_TARGETS += codec membership
FUZZ_SRCS_codec := $(FUZZ_CODEC_SRCS)
FUZZ_SRCS_membership := $(FUZZ_CODEC_SRCS)

# The HTTP request path without sockets (api/ minus the libmicrohttpd glue).
FUZZ_TARGETS += api_request
FUZZ_SRCS_api_request := $(filter-out api/http.c,$(wildcard api/*.c))
FUZZ_LIBS_api_request := -lcjson

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)
FUZZ_HDRS := $(wildcard raftcore/*.h) tests/unit/rc_msg_equal.h $(wildcard api/*.h)

# One rule per target, from this template ($(1) is the target's NAME).
define FUZZ_TARGET_RULE
$(FUZZ_B)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) $(FUZZ_HDRS)
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $$(filter %.c,$$^) $(FUZZ_LIBS_$(1)) -o $$@
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET_RULE,$(t))))

# run_fuzzers(seconds, targets): runs each, then fails if any failed.
run_fuzzers = fail=0; for t in $(2); do \
	tests/fuzz/run.sh $(FUZZ_B)/fuzz_$$t $$t $(1) tests/fuzz/corpus/$$t \
		$(FUZZ_B)/$$t || fail=1; \
	done; exit $$fail

.PHONY: fuzz fuzz-short fuzz-corpus $(FUZZ_TARGETS:%=fuzz-%)

fuzz: $(FUZZ_BINS)
	@$(call run_fuzzers,$(FUZZ_SECONDS),$(FUZZ_TARGETS))

fuzz-short: $(FUZZ_BINS)
	@$(call run_fuzzers,$(FUZZ_SHORT_SECONDS),$(FUZZ_TARGETS))

$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FUZZ_B)/fuzz_%
	@$(call run_fuzzers,$(FUZZ_SECONDS),$*)

fuzz-corpus: tests/fuzz/gen_corpus.c $(FUZZ_CODEC_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(FUZZ_B) tests/fuzz/corpus/codec tests/fuzz/corpus/membership
	$(FUZZ_CC) $(CSTD) $(WARN) -g -Iraftcore tests/fuzz/gen_corpus.c \
		$(filter raftcore/%.c,$(FUZZ_CODEC_SRCS)) -o $(FUZZ_B)/gen_corpus
	$(FUZZ_B)/gen_corpus tests/fuzz/corpus
