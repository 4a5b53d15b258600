/*
 * wgl: the linearizability checker for one register (the contract is in
 * wgl.h). Wing & Gong's search with the improvements of Lowe ("Testing for
 * linearizability", 2017): the history is a doubly linked list of call and
 * return entries in time order; the search linearizes an operation by
 * lifting its call and return out of the list and backtracks by putting
 * them back, driven by an explicit stack (histories hold thousands of
 * operations, too many for recursion). A cache of the (set of linearized
 * operations, register state) pairs already reached stops the search from
 * exploring any configuration twice.
 *
 * Invariants of the search:
 *   - The list holds exactly the operations not yet linearized, in time
 *     order, calls before returns at equal times, so touching intervals are
 *     concurrent. Returns of indeterminate operations come after every
 *     other entry: such an operation may always be linearized last, which
 *     is the same as never taking effect.
 *   - stack[0..depth) holds the linearized operations in order, each with
 *     the register state before it and the outcome chosen for it; `lin`
 *     holds exactly their slots (and the XOR of their random keys, the
 *     set's hash, kept up to date in O(1) a step); `state` is the register
 *     after them.
 *   - An operation may be linearized only while no return entry precedes
 *     its call in the list: the scan from the head stops at the first
 *     return, the operation that had to come next and could not.
 *   - At a point reached just now, an operation that leaves the register
 *     as it is and can go next is tried first and alone (see leaves_state):
 *     if some order from there works, one starting with it does.
 *   - Every configuration pushed is in the cache. The linearized set grows
 *     along a path, so a configuration found in the cache was reached
 *     before, on another path, and its whole subtree is known to fail.
 */
#include "wgl.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLOCK_EVERY 1024 /* entries looked at between looks at the clock */
#define KEY_SEED 0x6a09e667f3bcc909ull

struct entry {
	struct entry *prev, *next;
	struct entry *match; /* a call's return, a return's call */
	uint32_t slot;       /* the operation: its bit in the linearized set */
	bool is_call;
};

/*
 * The set of linearized operations: a bit per slot, slots numbered in the
 * order of the calls. The search linearizes roughly in that order, so the
 * set is mostly a run of ones, a short mixed window, then zeros; the cache
 * stores only the window, which keeps its memory linear in the history
 * rather than quadratic.
 */
struct linset {
	uint64_t *bits;
	size_t words;  /* m / 64 + 1: the last word always has a bit never set */
	size_t lo, hi; /* words before lo are full, words from hi on are empty */
	uint64_t hash; /* XOR of the keys of the operations in the set */
};

/* One linearized operation on the stack. */
struct frame {
	struct entry *call;
	int64_t before;   /* the register before the operation */
	unsigned outcome; /* which of the operation's outcomes was chosen */
	size_t lo, hi;    /* the linset's window before the operation */
};

struct memo_pair {
	uint64_t hash;
	int64_t state;
	size_t at;      /* where the window's words are in memo.words */
	size_t lo, len; /* the window: first word and number of words */
};

/* Open-addressing set of (linearized set, state) pairs. */
struct memo {
	struct memo_pair *pairs;
	size_t count, cap;
	uint64_t *words; /* the pairs' windows, one after another */
	size_t used, room;
	uint32_t *slots; /* pair index + 1; 0 is an empty slot */
	size_t mask;     /* number of slots - 1, a power of two - 1 */
};

struct search {
	const struct wgl_op *ops;
	size_t m;        /* operations searched (n less reads of unknown outcome) */
	size_t *op_of;   /* slot -> index into ops[] */
	uint64_t *keys;  /* slot -> random key, XORed into the linset's hash */
	struct entry *e; /* 2 * m entries: call of slot k at 2k, return at 2k + 1 */
	struct entry head, tail;
	struct frame *stack;
	size_t depth;
	struct linset lin;
	int64_t state;
	struct memo memo;
	uint64_t steps;           /* entries looked at */
	uint64_t deadline_ns;     /* 0: no limit */
	uint64_t clock_countdown; /* entries to look at before the next look */
	bool out_of_memory;
	bool stuck_seen;
	size_t longest; /* depth at the deepest point the search got stuck */
	uint32_t bad;   /* slot of the operation it got stuck on there */
};

/* ---- the register ---- */

static bool indeterminate(const struct wgl_op *op)
{
	return op->return_us == WGL_NEVER;
}

/* A CAS of unknown outcome either swapped (outcome 0) or did nothing (1);
 * every other operation had exactly the outcome its answer reports. */
static unsigned outcomes(const struct wgl_op *op)
{
	return op->kind == WGL_CAS && indeterminate(op) ? 2 : 1;
}

static bool apply_cas(const struct wgl_op *op, unsigned outcome, int64_t *state)
{
	if (indeterminate(op) && outcome == 1)
		return true;
	if (indeterminate(op) || op->cas_ok) {
		if (*state != op->expect)
			return false;
		*state = op->value;
		return true;
	}
	return *state != op->expect;
}

/* Applies op with the given outcome to *state. Returns false when the
 * register's rules forbid it there (*state is then meaningless). */
static bool apply(const struct wgl_op *op, unsigned outcome, int64_t *state)
{
	switch (op->kind) {
	case WGL_READ:
		return *state == op->value;
	case WGL_WRITE:
		*state = op->value;
		return true;
	case WGL_CAS:
		return apply_cas(op, outcome, state);
	}
	return false;
}

/*
 * A completed read, or a CAS that failed, leaves the register as it was.
 * When one can go next and any order of the remaining operations works,
 * an order that starts with it works too: moving it to the front breaks
 * neither the register's rules nor real time (nothing left had to come
 * before it). So at each point the search tries such an operation first
 * if there is one, and once that has failed nothing else is worth trying
 * there (a partial-order reduction on top of Lowe's search). Not so for a
 * CAS of unknown outcome: it may have to swap.
 */
static bool leaves_state(const struct wgl_op *op)
{
	return !indeterminate(op) && (op->kind == WGL_READ || (op->kind == WGL_CAS && !op->cas_ok));
}

/* ---- the linearized set ---- */

static void linset_add(struct linset *ls, uint32_t slot, uint64_t key)
{
	size_t w = slot / 64;
	assert(ls->lo == 0 || ls->bits[ls->lo - 1] == UINT64_MAX);
	assert(!(ls->bits[w] & (1ull << (slot % 64))));
	ls->bits[w] |= 1ull << (slot % 64);
	ls->hash ^= key;
	if (w >= ls->hi)
		ls->hi = w + 1;
	while (ls->bits[ls->lo] == UINT64_MAX)
		ls->lo++;
	assert(ls->lo < ls->words);
	if (ls->hi < ls->lo)
		ls->hi = ls->lo;
}

/* Undoes linset_add(ls, slot, key); lo and hi are the window before it. */
static void linset_remove(struct linset *ls, uint32_t slot, uint64_t key, size_t lo, size_t hi)
{
	assert(ls->bits[slot / 64] & (1ull << (slot % 64)));
	ls->bits[slot / 64] &= ~(1ull << (slot % 64));
	ls->hash ^= key;
	ls->lo = lo;
	ls->hi = hi;
}

/* ---- the cache ---- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static int memo_init(struct memo *mc)
{
	memset(mc, 0, sizeof(*mc));
	mc->mask = 1023;
	mc->slots = calloc(mc->mask + 1, sizeof(*mc->slots));
	return mc->slots ? 0 : -1;
}

static void memo_free(struct memo *mc)
{
	free(mc->slots);
	free(mc->words);
	free(mc->pairs);
	memset(mc, 0, sizeof(*mc));
}

static bool pair_equal(const struct memo *mc, const struct memo_pair *p, const struct linset *ls,
		       int64_t state)
{
	size_t len = ls->hi - ls->lo;
	return p->state == state && p->lo == ls->lo && p->len == len &&
	       memcmp(mc->words + p->at, ls->bits + ls->lo, len * sizeof(uint64_t)) == 0;
}

/* The slot holding the pair, or the empty slot where it belongs. */
static uint32_t *memo_slot(const struct memo *mc, uint64_t h, const struct linset *ls,
			   int64_t state)
{
	for (size_t i = (size_t)h & mc->mask;; i = (i + 1) & mc->mask) {
		uint32_t *slot = &mc->slots[i];
		if (*slot == 0)
			return slot;
		const struct memo_pair *p = &mc->pairs[*slot - 1u];
		if (p->hash == h && pair_equal(mc, p, ls, state))
			return slot;
	}
}

static int memo_grow_slots(struct memo *mc)
{
	size_t n = (mc->mask + 1) * 2;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return -1;
	free(mc->slots);
	mc->slots = slots;
	mc->mask = n - 1;
	for (size_t pair = 0; pair < mc->count; pair++) {
		size_t i = (size_t)mc->pairs[pair].hash & mc->mask;
		while (slots[i] != 0)
			i = (i + 1) & mc->mask;
		slots[i] = (uint32_t)(pair + 1);
	}
	return 0;
}

/* Makes room for one more pair with a window of len words. */
static int memo_reserve(struct memo *mc, size_t len)
{
	if (mc->count == mc->cap) {
		size_t cap = mc->cap ? mc->cap * 2 : 1024;
		if (cap >= UINT32_MAX || cap > SIZE_MAX / sizeof(*mc->pairs))
			return -1;
		struct memo_pair *pairs = realloc(mc->pairs, cap * sizeof(*pairs));
		if (!pairs)
			return -1;
		mc->pairs = pairs;
		mc->cap = cap;
	}
	if (mc->room - mc->used < len) {
		size_t room = mc->room ? mc->room : 1024;
		while (room - mc->used < len) {
			if (room > SIZE_MAX / 2 / sizeof(*mc->words))
				return -1;
			room *= 2;
		}
		uint64_t *words = realloc(mc->words, room * sizeof(*words));
		if (!words)
			return -1;
		mc->words = words;
		mc->room = room;
	}
	if ((mc->count + 1) * 2 > mc->mask + 1)
		return memo_grow_slots(mc);
	return 0;
}

/* Remembers the pair (the window is copied). Returns 1 if it is new, 0 if
 * it was already there, -1 when out of memory. */
static int memo_add(struct memo *mc, const struct linset *ls, int64_t state)
{
	uint64_t h = ls->hash ^ mix64((uint64_t)state);
	if (*memo_slot(mc, h, ls, state) != 0)
		return 0;
	size_t len = ls->hi - ls->lo;
	if (memo_reserve(mc, len) != 0)
		return -1;
	uint32_t *slot = memo_slot(mc, h, ls, state);
	struct memo_pair *p = &mc->pairs[mc->count];
	*p =
	    (struct memo_pair){.hash = h, .state = state, .at = mc->used, .lo = ls->lo, .len = len};
	memcpy(mc->words + mc->used, ls->bits + ls->lo, len * sizeof(uint64_t));
	mc->used += len;
	*slot = (uint32_t)++mc->count;
	return 1;
}

/* ---- the list of entries ---- */

/* calloc that never asks for zero bytes (which may return NULL). */
static void *alloc_array(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

struct stamp {
	uint64_t time;
	size_t op;    /* index into ops[] */
	uint8_t rank; /* 0 call, 1 return, 2 return of unknown outcome (last) */
};

static int cmp_stamp(const void *a, const void *b)
{
	const struct stamp *x = a, *y = b;
	bool x_last = x->rank == 2, y_last = y->rank == 2;
	if (x_last != y_last)
		return x_last ? 1 : -1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

/* Reads of unknown outcome say nothing and are left out. */
static bool searched(const struct wgl_op *op)
{
	return !(op->kind == WGL_READ && indeterminate(op));
}

/* Stamps the call and the return of every searched operation. A return
 * stamped before its call (a broken clock) is moved to the call: the list
 * must hold every call before its return. */
static void stamp_ops(struct stamp *st, const struct wgl_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct wgl_op *op = &ops[i];
		if (!searched(op))
			continue;
		*st++ = (struct stamp){.time = op->call_us, .op = i, .rank = 0};
		if (indeterminate(op))
			*st++ = (struct stamp){.time = WGL_NEVER, .op = i, .rank = 2};
		else
			*st++ = (struct stamp){.time = op->return_us < op->call_us ? op->call_us
										   : op->return_us,
					       .op = i,
					       .rank = 1};
	}
}

/* Links the entries in the order of the stamps, numbering the operations'
 * slots in the order of their calls. slot_of maps ops[] to slots. */
static void link_entries(struct search *s, const struct stamp *st, uint32_t *slot_of)
{
	struct entry *prev = &s->head;
	uint32_t next_slot = 0;
	for (size_t i = 0; i < 2 * s->m; i++) {
		bool is_call = st[i].rank == 0;
		if (is_call) {
			slot_of[st[i].op] = next_slot++;
			s->op_of[slot_of[st[i].op]] = st[i].op;
		}
		uint32_t slot = slot_of[st[i].op];
		struct entry *e = &s->e[2 * (size_t)slot + (is_call ? 0 : 1)];
		*e = (struct entry){.prev = prev,
				    .match = &s->e[2 * (size_t)slot + (is_call ? 1 : 0)],
				    .slot = slot,
				    .is_call = is_call};
		prev->next = e;
		prev = e;
	}
	prev->next = &s->tail;
	s->tail.prev = prev;
}

static int build_list(struct search *s, size_t n)
{
	struct stamp *st = alloc_array(2 * s->m, sizeof(*st));
	uint32_t *slot_of = alloc_array(n, sizeof(*slot_of));
	if (!st || !slot_of) {
		free(slot_of);
		free(st);
		return -1;
	}
	stamp_ops(st, s->ops, n);
	qsort(st, 2 * s->m, sizeof(*st), cmp_stamp);
	link_entries(s, st, slot_of);
	free(slot_of);
	free(st);
	return 0;
}

/* Takes a call and its return out of the list. */
static void lift(struct entry *call)
{
	struct entry *ret = call->match;
	call->prev->next = call->next;
	call->next->prev = call->prev;
	ret->prev->next = ret->next;
	ret->next->prev = ret->prev;
}

/* Puts back what lift(call) took out; lifts are undone in reverse order,
 * so the neighbours the entries remember are in the list again. */
static void unlift(struct entry *call)
{
	struct entry *ret = call->match;
	ret->prev->next = ret;
	ret->next->prev = ret;
	call->prev->next = call;
	call->next->prev = call;
}

/* ---- the search ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void search_free(struct search *s)
{
	memo_free(&s->memo);
	free(s->lin.bits);
	free(s->stack);
	free(s->e);
	free(s->keys);
	free(s->op_of);
}

static int search_alloc(struct search *s)
{
	s->lin.words = s->m / 64 + 1;
	s->op_of = alloc_array(s->m, sizeof(*s->op_of));
	s->keys = alloc_array(s->m, sizeof(*s->keys));
	s->e = alloc_array(2 * s->m, sizeof(*s->e));
	s->stack = alloc_array(s->m, sizeof(*s->stack));
	s->lin.bits = alloc_array(s->lin.words, sizeof(*s->lin.bits));
	if (!s->op_of || !s->keys || !s->e || !s->stack || !s->lin.bits)
		return -1;
	if (memo_init(&s->memo) != 0)
		return -1;
	uint64_t x = KEY_SEED;
	for (size_t k = 0; k < s->m; k++)
		s->keys[k] = mix64(x += 0x9e3779b97f4a7c15ull);
	return 0;
}

static int search_init(struct search *s, const struct wgl_op *ops, size_t n, int64_t init,
		       uint64_t time_limit_ms)
{
	memset(s, 0, sizeof(*s));
	if (n >= UINT32_MAX || n > SIZE_MAX / 4 / sizeof(struct entry))
		return -1;
	s->ops = ops;
	s->state = init;
	for (size_t i = 0; i < n; i++)
		s->m += searched(&ops[i]);
	/* Limits beyond a few centuries are no limit. */
	if (time_limit_ms > 0 && time_limit_ms < UINT64_MAX / 4000000u)
		s->deadline_ns = now_ns() + time_limit_ms * 1000000u;
	s->clock_countdown = CLOCK_EVERY;
	if (search_alloc(s) != 0 || build_list(s, n) != 0) {
		search_free(s);
		return -1;
	}
	return 0;
}

static void count_step(struct search *s)
{
	s->steps++;
	if (s->clock_countdown > 0)
		s->clock_countdown--;
}

static const struct wgl_op *op_at(const struct search *s, const struct entry *e)
{
	return &s->ops[s->op_of[e->slot]];
}

/* What the search does after looking at one entry. */
enum move {
	PUSHED,    /* linearized an operation: scan the new point from the head */
	NEXT,      /* nothing here: go on to the next entry */
	DEAD_END,  /* nothing from this point on works: backtrack */
	NO_MEMORY, /* give up */
};

/* Tries to linearize call next, with its outcomes from `first` on: PUSHED
 * if it did (the call is lifted and pushed), NEXT if no outcome is allowed
 * or new. */
static enum move try_linearize(struct search *s, struct entry *call, unsigned first)
{
	const struct wgl_op *op = op_at(s, call);
	uint64_t key = s->keys[call->slot];
	size_t lo = s->lin.lo, hi = s->lin.hi;
	for (unsigned outcome = first; outcome < outcomes(op); outcome++) {
		int64_t after = s->state;
		if (!apply(op, outcome, &after))
			continue;
		linset_add(&s->lin, call->slot, key);
		int added = memo_add(&s->memo, &s->lin, after);
		if (added <= 0) {
			linset_remove(&s->lin, call->slot, key, lo, hi);
			if (added < 0)
				return NO_MEMORY;
			continue;
		}
		s->stack[s->depth++] = (struct frame){
		    .call = call, .before = s->state, .outcome = outcome, .lo = lo, .hi = hi};
		s->state = after;
		lift(call);
		return PUSHED;
	}
	return NEXT;
}

/* At a point reached just now, linearizes first an operation that leaves
 * the register as it is, if one can go next (see leaves_state): PUSHED if
 * it did, NEXT if there is none, DEAD_END if the cache says that way was
 * tried before and failed, which means every way from here fails. */
static enum move take_state_preserving(struct search *s)
{
	for (struct entry *e = s->head.next; e->is_call; e = e->next) {
		count_step(s);
		const struct wgl_op *op = op_at(s, e);
		int64_t after = s->state;
		if (!leaves_state(op) || !apply(op, 0, &after))
			continue;
		enum move mv = try_linearize(s, e, 0);
		return mv == NEXT ? DEAD_END : mv;
	}
	return NEXT;
}

/* Undoes the last linearization; returns its frame. */
static struct frame backtrack(struct search *s)
{
	assert(s->depth > 0);
	struct frame f = s->stack[--s->depth];
	unlift(f.call);
	linset_remove(&s->lin, f.call->slot, s->keys[f.call->slot], f.lo, f.hi);
	s->state = f.before;
	return f;
}

/* Backtracks to the latest point with something left to try there: the
 * next outcome or the next entry after the call undone. Returns false when
 * there is none: no linearization exists. */
static bool retreat(struct search *s, struct entry **cur, unsigned *first)
{
	while (s->depth > 0) {
		struct frame f = backtrack(s);
		if (!leaves_state(op_at(s, f.call))) {
			*cur = f.call;
			*first = f.outcome + 1;
			return true;
		}
	}
	return false;
}

/* The search cannot get past the return ret with depth operations
 * linearized; remembers the deepest such point for the report. */
static void note_stuck(struct search *s, const struct entry *ret)
{
	if (s->stuck_seen && s->depth <= s->longest)
		return;
	s->stuck_seen = true;
	s->longest = s->depth;
	s->bad = ret->slot;
}

static bool out_of_time(struct search *s)
{
	if (s->deadline_ns == 0 || s->clock_countdown > 0)
		return false;
	s->clock_countdown = CLOCK_EVERY;
	return now_ns() > s->deadline_ns;
}

static enum wgl_verdict run(struct search *s)
{
	struct entry *cur = s->head.next;
	unsigned first = 0; /* the first outcome of cur still to try */
	bool fresh = true;  /* a point reached just now, not yet scanned */
	while (s->head.next != &s->tail) {
		count_step(s);
		if (out_of_time(s))
			return WGL_UNKNOWN;
		enum move mv;
		if (fresh) {
			fresh = false;
			mv = take_state_preserving(s);
			if (mv == NEXT)
				continue;
		} else if (cur->is_call) {
			mv = try_linearize(s, cur, first);
			if (mv == NEXT) {
				cur = cur->next;
				first = 0;
				continue;
			}
		} else {
			note_stuck(s, cur);
			mv = DEAD_END;
		}
		if (mv == NO_MEMORY) {
			s->out_of_memory = true;
			return WGL_UNKNOWN;
		}
		if (mv == PUSHED) {
			cur = s->head.next;
			first = 0;
			fresh = true;
		} else if (!retreat(s, &cur, &first)) {
			return WGL_VIOLATION;
		}
	}
	s->longest = s->m;
	return WGL_OK;
}

enum wgl_verdict wgl_check(const struct wgl_op *ops, size_t n, int64_t init, uint64_t time_limit_ms,
			   struct wgl_result *res)
{
	assert(res != NULL);
	assert(ops != NULL || n == 0);
	memset(res, 0, sizeof(*res));
	struct search s;
	if (search_init(&s, ops, n, init, time_limit_ms) != 0) {
		errno = ENOMEM;
		res->verdict = WGL_UNKNOWN;
		return res->verdict;
	}
	res->verdict = run(&s);
	res->steps = s.steps;
	res->cache_entries = s.memo.count;
	res->longest = s.longest;
	if (res->verdict != WGL_OK && s.stuck_seen)
		res->bad = s.op_of[s.bad];
	bool out_of_memory = s.out_of_memory;
	search_free(&s);
	if (out_of_memory)
		errno = ENOMEM;
	return res->verdict;
}

const char *wgl_verdict_name(enum wgl_verdict v)
{
	switch (v) {
	case WGL_OK:
		return "ok";
	case WGL_VIOLATION:
		return "violation";
	case WGL_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}
