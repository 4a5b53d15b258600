/*
 * Unit tests of the linearizability checker (tests/jepsen/wgl.c): small
 * hand-made histories with a known answer, the time limit, and a
 * randomized cross-check against a brute-force search over every order of
 * tiny histories.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "wgl.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NEVER WGL_NEVER
#define NIL WGL_NIL

static struct wgl_op rd(int64_t value, uint64_t call, uint64_t ret)
{
	return (struct wgl_op){.kind = WGL_READ, .value = value, .call_us = call, .return_us = ret};
}

static struct wgl_op wr(int64_t value, uint64_t call, uint64_t ret)
{
	return (struct wgl_op){
	    .kind = WGL_WRITE, .value = value, .call_us = call, .return_us = ret};
}

static struct wgl_op cas(int64_t expect, int64_t value, bool ok, uint64_t call, uint64_t ret)
{
	return (struct wgl_op){.kind = WGL_CAS,
			       .expect = expect,
			       .value = value,
			       .cas_ok = ok,
			       .call_us = call,
			       .return_us = ret};
}

static struct wgl_result last;

static enum wgl_verdict check(const struct wgl_op *ops, size_t n, int64_t init)
{
	return wgl_check(ops, n, init, 0, &last);
}

/* ---- basics ---- */

static void empty_history_is_linearizable(void **state)
{
	(void)state;
	assert_int_equal(wgl_check(NULL, 0, NIL, 0, &last), WGL_OK);
	assert_int_equal(last.verdict, WGL_OK);
	assert_int_equal(last.longest, 0);
}

static void sequential_write_then_read_of_it_is_linearizable(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(1, 0, 10), rd(1, 20, 30), wr(2, 40, 50), rd(2, 60, 70)};
	assert_int_equal(check(h, N(h), NIL), WGL_OK);
	assert_int_equal(last.longest, 4);
	assert_true(last.cache_entries >= 4);
	assert_true(last.steps >= 4);
}

static void read_of_the_initial_value_is_linearizable(void **state)
{
	(void)state;
	const struct wgl_op absent[] = {rd(NIL, 0, 10)};
	const struct wgl_op seven[] = {rd(7, 0, 10)};
	assert_int_equal(check(absent, N(absent), NIL), WGL_OK);
	assert_int_equal(check(seven, N(seven), 7), WGL_OK);
	assert_int_equal(check(seven, N(seven), NIL), WGL_VIOLATION);
}

static void read_after_a_completed_overwrite_cannot_see_the_old_value(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(1, 0, 10), wr(2, 20, 30), rd(2, 40, 50), rd(1, 60, 70),
				   rd(2, 80, 90)};
	assert_int_equal(check(h, N(h), NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, 3);
	assert_int_equal(last.longest, 3);
}

static void stale_read_is_reported_by_its_index_in_the_callers_array(void **state)
{
	(void)state;
	/* The same history listed out of time order. */
	const struct wgl_op h[] = {rd(2, 80, 90), rd(1, 60, 70), wr(2, 20, 30), rd(2, 40, 50),
				   wr(1, 0, 10)};
	assert_int_equal(check(h, N(h), NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, 1);
	assert_int_equal(last.longest, 3);
}

static void read_concurrent_with_a_write_may_see_either_value(void **state)
{
	(void)state;
	const struct wgl_op before[] = {wr(1, 0, 10), rd(NIL, 5, 15)};
	const struct wgl_op after[] = {wr(1, 0, 10), rd(1, 5, 15)};
	const struct wgl_op inside[] = {wr(1, 0, 100), rd(1, 20, 30), rd(1, 40, 50)};
	assert_int_equal(check(before, N(before), NIL), WGL_OK);
	assert_int_equal(check(after, N(after), NIL), WGL_OK);
	assert_int_equal(check(inside, N(inside), NIL), WGL_OK);
}

static void read_of_a_value_never_written_is_a_violation(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(1, 0, 10), wr(2, 5, 15), rd(3, 8, 20)};
	assert_int_equal(check(h, N(h), NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, 2);
}

static void two_readers_seeing_new_then_old_value_is_a_violation(void **state)
{
	(void)state;
	/* Both reads are concurrent with the write, but the second began after
	 * the first had seen the new value. */
	const struct wgl_op h[] = {wr(1, 0, 100), rd(1, 10, 20), rd(0, 30, 40)};
	const struct wgl_op old_then_new[] = {wr(1, 0, 100), rd(0, 10, 20), rd(1, 30, 40)};
	assert_int_equal(check(h, N(h), 0), WGL_VIOLATION);
	assert_int_equal(last.bad, 2);
	assert_int_equal(check(old_then_new, N(old_then_new), 0), WGL_OK);
}

static void touching_intervals_are_concurrent(void **state)
{
	(void)state;
	/* The read was invoked at the microsecond the write returned: the
	 * clock cannot prove the write came first. */
	const struct wgl_op touching[] = {wr(1, 0, 10), rd(NIL, 10, 20)};
	const struct wgl_op apart[] = {wr(1, 0, 10), rd(NIL, 11, 20)};
	const struct wgl_op instants[] = {wr(1, 5, 5), rd(NIL, 5, 5)};
	assert_int_equal(check(touching, N(touching), NIL), WGL_OK);
	assert_int_equal(check(apart, N(apart), NIL), WGL_VIOLATION);
	assert_int_equal(check(instants, N(instants), NIL), WGL_OK);
}

static void write_touching_an_earlier_write_may_take_effect_before_it(void **state)
{
	(void)state;
	/* Both writes are over before the read: it can see 1 only if 2 went
	 * first, which the touching intervals allow and the apart ones do not. */
	const struct wgl_op touching[] = {wr(1, 0, 10), wr(2, 10, 20), rd(1, 21, 30)};
	const struct wgl_op apart[] = {wr(1, 0, 9), wr(2, 10, 20), rd(1, 21, 30)};
	assert_int_equal(check(touching, N(touching), NIL), WGL_OK);
	assert_int_equal(check(apart, N(apart), NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, 2);
}

static void return_stamped_before_call_counts_as_an_instant(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(1, 10, 5), rd(1, 20, 30)};
	assert_int_equal(check(h, N(h), NIL), WGL_OK);
}

/* ---- compare-and-swap ---- */

static void successful_cas_requires_the_expected_value(void **state)
{
	(void)state;
	const struct wgl_op ok[] = {wr(1, 0, 10), cas(1, 2, true, 20, 30), rd(2, 40, 50)};
	const struct wgl_op wrong[] = {wr(1, 0, 10), cas(5, 2, true, 20, 30)};
	assert_int_equal(check(ok, N(ok), NIL), WGL_OK);
	assert_int_equal(check(wrong, N(wrong), NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, 1);
}

static void failed_cas_requires_a_different_value_and_changes_nothing(void **state)
{
	(void)state;
	const struct wgl_op ok[] = {wr(1, 0, 10), cas(5, 2, false, 20, 30), rd(1, 40, 50)};
	const struct wgl_op equal[] = {wr(1, 0, 10), cas(1, 2, false, 20, 30)};
	const struct wgl_op changed[] = {wr(1, 0, 10), cas(5, 2, false, 20, 30), rd(2, 40, 50)};
	assert_int_equal(check(ok, N(ok), NIL), WGL_OK);
	assert_int_equal(check(equal, N(equal), NIL), WGL_VIOLATION);
	assert_int_equal(check(changed, N(changed), NIL), WGL_VIOLATION);
}

static void failed_cas_forces_a_concurrent_write_to_land_before_it(void **state)
{
	(void)state;
	/* The CAS could fail only if the long write of 2 landed between the
	 * write of 1 and the CAS; the register then ends at 2. */
	const struct wgl_op ends_at_2[] = {wr(1, 0, 10), wr(2, 0, 100), cas(1, 3, false, 20, 30),
					   rd(2, 110, 120)};
	const struct wgl_op ends_at_1[] = {wr(1, 0, 10), wr(2, 0, 100), cas(1, 3, false, 20, 30),
					   rd(1, 110, 120)};
	assert_int_equal(check(ends_at_2, N(ends_at_2), NIL), WGL_OK);
	assert_int_equal(check(ends_at_1, N(ends_at_1), NIL), WGL_VIOLATION);
}

static void cas_expecting_nil_swaps_only_if_absent(void **state)
{
	(void)state;
	const struct wgl_op absent[] = {cas(NIL, 5, true, 0, 10), rd(5, 20, 30)};
	const struct wgl_op present[] = {wr(1, 0, 10), cas(NIL, 5, true, 20, 30)};
	const struct wgl_op refused[] = {wr(1, 0, 10), cas(NIL, 5, false, 20, 30), rd(1, 40, 50)};
	const struct wgl_op refused_absent[] = {cas(NIL, 5, false, 0, 10)};
	assert_int_equal(check(absent, N(absent), NIL), WGL_OK);
	assert_int_equal(check(present, N(present), NIL), WGL_VIOLATION);
	assert_int_equal(check(refused, N(refused), NIL), WGL_OK);
	assert_int_equal(check(refused_absent, N(refused_absent), NIL), WGL_VIOLATION);
}

/* ---- operations of unknown outcome ---- */

static void indeterminate_write_may_explain_a_later_read(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(7, 0, NEVER), rd(NIL, 50, 60), rd(7, 100, 110)};
	assert_int_equal(check(h, N(h), NIL), WGL_OK);
}

static void indeterminate_write_may_never_take_effect(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(7, 0, NEVER), rd(NIL, 50, 60), rd(NIL, 100, 110)};
	assert_int_equal(check(h, N(h), NIL), WGL_OK);
}

static void indeterminate_write_may_take_effect_before_later_writes(void **state)
{
	(void)state;
	/* 7 must land before the read of 7, well before the end. */
	const struct wgl_op h[] = {wr(7, 0, NEVER), rd(7, 10, 20), wr(8, 30, 40), rd(8, 50, 60)};
	assert_int_equal(check(h, N(h), NIL), WGL_OK);
}

static void indeterminate_write_cannot_be_read_before_its_invocation(void **state)
{
	(void)state;
	const struct wgl_op h[] = {rd(7, 0, 10), wr(7, 20, NEVER)};
	assert_int_equal(check(h, N(h), NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, 0);
}

static void indeterminate_write_once_seen_cannot_be_unseen(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(7, 0, NEVER), rd(7, 10, 20), rd(NIL, 30, 40)};
	assert_int_equal(check(h, N(h), NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, 2);
}

static void indeterminate_cas_may_or_may_not_have_swapped(void **state)
{
	(void)state;
	const struct wgl_op did[] = {cas(1, 2, false, 0, NEVER), rd(2, 10, 20)};
	const struct wgl_op did_not[] = {cas(1, 2, false, 0, NEVER), rd(1, 10, 20)};
	const struct wgl_op later[] = {cas(1, 2, false, 0, NEVER), rd(1, 10, 20), rd(2, 30, 40)};
	const struct wgl_op undone[] = {cas(1, 2, false, 0, NEVER), rd(2, 10, 20), rd(1, 30, 40)};
	assert_int_equal(check(did, N(did), 1), WGL_OK);
	assert_int_equal(check(did_not, N(did_not), 1), WGL_OK);
	assert_int_equal(check(later, N(later), 1), WGL_OK);
	assert_int_equal(check(undone, N(undone), 1), WGL_VIOLATION);
	assert_int_equal(last.bad, 2);
}

static void indeterminate_cas_swaps_only_from_the_expected_value(void **state)
{
	(void)state;
	const struct wgl_op h[] = {cas(1, 2, true, 0, NEVER), rd(2, 10, 20)};
	assert_int_equal(check(h, N(h), 5), WGL_VIOLATION);
}

static void indeterminate_cas_that_cannot_swap_is_harmless(void **state)
{
	(void)state;
	/* Once 3 is in, the CAS can only have failed, which is allowed. */
	const struct wgl_op h[] = {cas(1, 2, false, 0, NEVER), cas(1, 3, true, 10, 20),
				   rd(3, 30, 40)};
	assert_int_equal(check(h, N(h), 1), WGL_OK);
}

static void indeterminate_reads_are_ignored(void **state)
{
	(void)state;
	const struct wgl_op h[] = {rd(99, 0, NEVER), wr(1, 10, 20), rd(42, 25, NEVER),
				   rd(1, 30, 40)};
	assert_int_equal(check(h, N(h), NIL), WGL_OK);
	assert_int_equal(last.longest, 2);
}

/* ---- limits ---- */

static void long_sequential_history_is_checked_without_recursion(void **state)
{
	(void)state;
	size_t n = 200000;
	struct wgl_op *h = calloc(n, sizeof(*h));
	assert_non_null(h);
	for (size_t i = 0; i < n; i += 2) {
		h[i] = wr((int64_t)i, 10 * i, 10 * i + 5);
		h[i + 1] = rd((int64_t)i, 10 * i + 10, 10 * i + 15);
	}
	assert_int_equal(check(h, n, NIL), WGL_OK);
	assert_int_equal(last.longest, n);
	h[n - 1].value = -1;
	assert_int_equal(check(h, n, NIL), WGL_VIOLATION);
	assert_int_equal(last.bad, n - 1);
	free(h);
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 2000 fully concurrent writes, each read back by a concurrent read, then
 * a read of a value nobody wrote: every order of the writes has to fail at
 * the last read, and there are far too many to try. Sets *n. */
static struct wgl_op *pathological_history(size_t *n)
{
	size_t writes = 2000;
	*n = 2 * writes + 1;
	struct wgl_op *h = calloc(*n, sizeof(*h));
	assert_non_null(h);
	for (size_t i = 0; i < writes; i++) {
		h[2 * i] = wr((int64_t)i, 0, 1000);
		h[2 * i + 1] = rd((int64_t)i, 0, 1000);
	}
	h[*n - 1] = rd(-1, 2000, 2010);
	return h;
}

static void time_limit_on_a_pathological_history_gives_unknown(void **state)
{
	(void)state;
	size_t n;
	struct wgl_op *h = pathological_history(&n);
	double t0 = seconds();
	assert_int_equal(wgl_check(h, n, NIL, 1, &last), WGL_UNKNOWN);
	double took = seconds() - t0;
	assert_int_equal(last.verdict, WGL_UNKNOWN);
	assert_true(last.steps > 0);
	assert_true(took < 0.5);
	/* A hundred times the time is not enough either, after much work. */
	assert_int_equal(wgl_check(h, n, NIL, 100, &last), WGL_UNKNOWN);
	assert_true(last.steps > 10000);
	free(h);
}

static void history_too_large_to_allocate_gives_unknown_with_enomem(void **state)
{
	(void)state;
	const struct wgl_op h[] = {wr(1, 0, 10)};
	errno = 0;
	/* The size is refused before ops[] is read past its end. */
	assert_int_equal(wgl_check(h, SIZE_MAX / 2, NIL, 0, &last), WGL_UNKNOWN);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(last.verdict, WGL_UNKNOWN);
}

/* Bytes of address space the process uses now. */
static size_t address_space_in_use(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static void memory_running_out_mid_search_gives_unknown_with_enomem(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* ASan reserves more address space than the limit allows */
#endif
	size_t n;
	struct wgl_op *h = pathological_history(&n);
	struct rlimit old;
	size_t in_use = address_space_in_use();
	if (in_use == 0 || getrlimit(RLIMIT_AS, &old) != 0)
		skip();
	/* Room for the setup and a few thousand cached pairs, no more. */
	struct rlimit low = {.rlim_cur = in_use + (64u << 20), .rlim_max = old.rlim_max};
	if (old.rlim_max != RLIM_INFINITY && low.rlim_cur > old.rlim_max)
		skip();
	assert_int_equal(setrlimit(RLIMIT_AS, &low), 0);
	errno = 0;
	/* The time limit only stops a run that never fills the memory. */
	enum wgl_verdict v = wgl_check(h, n, NIL, 20000, &last);
	int err = errno;
	assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
	assert_int_equal(v, WGL_UNKNOWN);
	assert_int_equal(err, ENOMEM);
	assert_true(last.cache_entries > 1000);
	free(h);
}

static void verdict_names_say_ok_violation_unknown(void **state)
{
	(void)state;
	assert_string_equal(wgl_verdict_name(WGL_OK), "ok");
	assert_string_equal(wgl_verdict_name(WGL_VIOLATION), "violation");
	assert_string_equal(wgl_verdict_name(WGL_UNKNOWN), "unknown");
}

/* ---- cross-check against brute force ---- */

#define BF_MAX 7
/* Override with -D for a longer soak. */
#ifndef CROSS_CASES
#define CROSS_CASES 5000
#endif
#ifndef CROSS_SEED
#define CROSS_SEED 20240601u
#endif

/* Whether ops[i] may go next: no remaining completed operation returned
 * strictly before it was invoked. */
static bool bf_may_go_next(const struct wgl_op *ops, size_t n, unsigned done, size_t i)
{
	for (size_t j = 0; j < n; j++)
		if (j != i && !(done & (1u << j)) && ops[j].return_us != NEVER &&
		    ops[j].return_us < ops[i].call_us)
			return false;
	return true;
}

/* Tries every order of the remaining operations, and for each write or CAS
 * of unknown outcome both "took effect" and "did not". No cache, no list:
 * only the definitions. */
static bool bf_linearizable(const struct wgl_op *ops, size_t n, unsigned done, int64_t reg)
{
	if (done == (1u << n) - 1)
		return true;
	for (size_t i = 0; i < n; i++) {
		if ((done & (1u << i)) || !bf_may_go_next(ops, n, done, i))
			continue;
		const struct wgl_op *op = &ops[i];
		unsigned now = done | (1u << i);
		bool unknown = op->return_us == NEVER;
		if (unknown && bf_linearizable(ops, n, now, reg))
			return true;
		switch (op->kind) {
		case WGL_READ:
			if (reg == op->value && bf_linearizable(ops, n, now, reg))
				return true;
			break;
		case WGL_WRITE:
			if (bf_linearizable(ops, n, now, op->value))
				return true;
			break;
		case WGL_CAS:
			if ((unknown || op->cas_ok) && reg == op->expect &&
			    bf_linearizable(ops, n, now, op->value))
				return true;
			if (!unknown && !op->cas_ok && reg != op->expect &&
			    bf_linearizable(ops, n, now, reg))
				return true;
			break;
		}
	}
	return false;
}

static bool brute_force(const struct wgl_op *ops, size_t n, int64_t init)
{
	unsigned done = 0;
	for (size_t i = 0; i < n; i++)
		if (ops[i].kind == WGL_READ && ops[i].return_us == NEVER)
			done |= 1u << i; /* says nothing */
	return bf_linearizable(ops, n, done, init);
}

static uint64_t rng_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *x, uint64_t n)
{
	return rng_next(x) % n;
}

static int64_t small_value(uint64_t *x)
{
	uint64_t v = below(x, 4);
	return v == 3 ? NIL : (int64_t)v;
}

/* How random histories are drawn: calls in [0, span), intervals up to
 * max_len long, one operation in unknown_in of unknown outcome. */
struct shape {
	uint64_t span, max_len, unknown_in;
};

/* Random operations with small values, so that equal values, touching
 * intervals and indeterminate operations are common; at[i] is a point in
 * the interval of ops[i] where it may take effect. */
static void random_ops(uint64_t *x, struct shape sh, struct wgl_op *ops, uint64_t *at, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t call = below(x, sh.span), len = below(x, sh.max_len + 1);
		ops[i] =
		    (struct wgl_op){.kind = (enum wgl_kind)below(x, 3),
				    .value = small_value(x),
				    .expect = small_value(x),
				    .cas_ok = below(x, 2) == 0,
				    .call_us = call,
				    .return_us = below(x, sh.unknown_in) == 0 ? NEVER : call + len};
		at[i] = call + below(x, len + 1);
	}
}

/* Answers the reads and CASes from a register that takes each operation at
 * its point at[i] (an operation of unknown outcome may never take effect):
 * the history is linearizable by construction. */
static void answer_from_register(uint64_t *x, struct wgl_op *ops, const uint64_t *at, size_t n,
				 int64_t init)
{
	size_t *order = calloc(n, sizeof(*order));
	assert_non_null(order);
	for (size_t i = 0; i < n; i++) { /* insertion sort by effect time */
		size_t j = i;
		for (; j > 0 && at[order[j - 1]] > at[i]; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	int64_t reg = init;
	for (size_t k = 0; k < n; k++) {
		struct wgl_op *op = &ops[order[k]];
		if (op->return_us == NEVER && below(x, 2) == 0)
			continue; /* never took effect */
		if (op->kind == WGL_READ)
			op->value = reg;
		else if (op->kind == WGL_WRITE)
			reg = op->value;
		else if ((op->cas_ok = reg == op->expect))
			reg = op->value;
	}
	free(order);
}

/* A random tiny history: three in four are linearizable by construction,
 * and a third of those then get one value corrupted. */
static void random_tiny_history(uint64_t *x, struct wgl_op *ops, size_t n, int64_t init)
{
	static const struct shape tiny = {.span = 12, .max_len = 5, .unknown_in = 7};
	uint64_t at[BF_MAX];
	random_ops(x, tiny, ops, at, n);
	if (below(x, 4) == 0)
		return;
	answer_from_register(x, ops, at, n, init);
	if (below(x, 3) == 0)
		ops[below(x, n)].value = small_value(x);
}

static void print_history(const struct wgl_op *ops, size_t n, int64_t init)
{
	static const char *kinds[] = {"read", "write", "cas"};
	print_message("init %" PRId64 "\n", init);
	for (size_t i = 0; i < n; i++)
		print_message("  [%zu] %s value %" PRId64 " expect %" PRId64 " ok %d [%" PRIu64
			      ", %" PRId64 "]\n",
			      i, kinds[ops[i].kind], ops[i].value, ops[i].expect, ops[i].cas_ok,
			      ops[i].call_us,
			      ops[i].return_us == NEVER ? (int64_t)-1 : (int64_t)ops[i].return_us);
}

static void verdict_matches_brute_force_on_random_tiny_histories(void **state)
{
	(void)state;
	uint64_t x = CROSS_SEED;
	unsigned ok = 0, violations = 0;
	print_message("cross-check: seed %u, %d cases\n", (unsigned)CROSS_SEED, (int)CROSS_CASES);
	for (int c = 0; c < CROSS_CASES; c++) {
		struct wgl_op ops[BF_MAX];
		size_t n = 1 + below(&x, BF_MAX);
		int64_t init = small_value(&x);
		random_tiny_history(&x, ops, n, init);
		bool expect = brute_force(ops, n, init);
		enum wgl_verdict got = check(ops, n, init);
		if (got != (expect ? WGL_OK : WGL_VIOLATION)) {
			print_message("case %d: wgl says %s, brute force %s\n", c,
				      wgl_verdict_name(got), expect ? "ok" : "violation");
			print_history(ops, n, init);
			fail();
		}
		if (got == WGL_VIOLATION) {
			assert_true(last.bad < n);
			assert_true(ops[last.bad].return_us != NEVER);
			assert_true(last.longest < n);
		}
		if (expect)
			ok++;
		else
			violations++;
	}
	print_message("cross-check: %u ok, %u violations\n", ok, violations);
	assert_true(ok > CROSS_CASES / 5);
	assert_true(violations > CROSS_CASES / 5);
}

static void linearizable_histories_of_hundreds_of_ops_check_ok(void **state)
{
	(void)state;
	/* Long enough that the linearized set spans several words and the
	 * search backtracks across them; few values, so it has to. */
	static const struct shape sh = {.span = 3000, .max_len = 60, .unknown_in = 20};
	size_t n = 300;
	struct wgl_op *ops = calloc(n, sizeof(*ops));
	uint64_t *at = calloc(n, sizeof(*at));
	assert_non_null(ops);
	assert_non_null(at);
	uint64_t x = CROSS_SEED;
	uint64_t steps = 0;
	for (int c = 0; c < 300; c++) {
		int64_t init = small_value(&x);
		random_ops(&x, sh, ops, at, n);
		answer_from_register(&x, ops, at, n, init);
		if (check(ops, n, init) != WGL_OK) {
			print_message("case %d (seed %u): %s\n", c, (unsigned)CROSS_SEED,
				      wgl_verdict_name(last.verdict));
			fail();
		}
		steps += last.steps;
	}
	print_message("300 histories of %zu ops: %" PRIu64 " steps\n", n, steps);
	free(at);
	free(ops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_history_is_linearizable),
	    cmocka_unit_test(sequential_write_then_read_of_it_is_linearizable),
	    cmocka_unit_test(read_of_the_initial_value_is_linearizable),
	    cmocka_unit_test(read_after_a_completed_overwrite_cannot_see_the_old_value),
	    cmocka_unit_test(stale_read_is_reported_by_its_index_in_the_callers_array),
	    cmocka_unit_test(read_concurrent_with_a_write_may_see_either_value),
	    cmocka_unit_test(read_of_a_value_never_written_is_a_violation),
	    cmocka_unit_test(two_readers_seeing_new_then_old_value_is_a_violation),
	    cmocka_unit_test(touching_intervals_are_concurrent),
	    cmocka_unit_test(write_touching_an_earlier_write_may_take_effect_before_it),
	    cmocka_unit_test(return_stamped_before_call_counts_as_an_instant),
	    cmocka_unit_test(successful_cas_requires_the_expected_value),
	    cmocka_unit_test(failed_cas_requires_a_different_value_and_changes_nothing),
	    cmocka_unit_test(failed_cas_forces_a_concurrent_write_to_land_before_it),
	    cmocka_unit_test(cas_expecting_nil_swaps_only_if_absent),
	    cmocka_unit_test(indeterminate_write_may_explain_a_later_read),
	    cmocka_unit_test(indeterminate_write_may_never_take_effect),
	    cmocka_unit_test(indeterminate_write_may_take_effect_before_later_writes),
	    cmocka_unit_test(indeterminate_write_cannot_be_read_before_its_invocation),
	    cmocka_unit_test(indeterminate_write_once_seen_cannot_be_unseen),
	    cmocka_unit_test(indeterminate_cas_may_or_may_not_have_swapped),
	    cmocka_unit_test(indeterminate_cas_swaps_only_from_the_expected_value),
	    cmocka_unit_test(indeterminate_cas_that_cannot_swap_is_harmless),
	    cmocka_unit_test(indeterminate_reads_are_ignored),
	    cmocka_unit_test(long_sequential_history_is_checked_without_recursion),
	    cmocka_unit_test(time_limit_on_a_pathological_history_gives_unknown),
	    cmocka_unit_test(history_too_large_to_allocate_gives_unknown_with_enomem),
	    cmocka_unit_test(memory_running_out_mid_search_gives_unknown_with_enomem),
	    cmocka_unit_test(verdict_names_say_ok_violation_unknown),
	    cmocka_unit_test(verdict_matches_brute_force_on_random_tiny_histories),
	    cmocka_unit_test(linearizable_histories_of_hundreds_of_ops_check_ok),
	};
	return cmocka_run_group_tests_name("jepsen_wgl", tests, NULL, NULL);
}
