/*
 * wgl: a linearizability checker for one register (Wing & Gong's search
 * with Lowe's memoization).
 *
 * The register holds an int64 or nothing (WGL_NIL: the key is absent).
 * Operations are reads, writes and compare-and-swaps, each with the time
 * it was invoked and the time its answer arrived (the client's monotonic
 * clock, microseconds). The search looks for one total order that
 * respects real time (an operation that returned before another was
 * invoked comes first) and the register's rules.
 *
 * Indeterminate operations (timeouts, unknown_outcome, dropped
 * connections) have return_us == WGL_NEVER: they may take effect at any
 * moment after their invocation, or never. A write or CAS of unknown
 * outcome is therefore optional; a read of unknown outcome says nothing
 * and callers leave it out.
 *
 * Two operations whose intervals touch (a.return_us == b.call_us) count as
 * concurrent: the checker never claims an order the clock cannot prove.
 *
 * The checker does not own or change ops[]. It is for one key: callers
 * split a history by key (linearizability is compositional) and call it
 * once per key.
 */
#ifndef CAIRN_JEPSEN_WGL_H
#define CAIRN_JEPSEN_WGL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WGL_NIL INT64_MIN    /* the register holds nothing */
#define WGL_NEVER UINT64_MAX /* return time of an operation of unknown outcome */

enum wgl_kind {
	WGL_READ,  /* value: what was read (WGL_NIL: absent) */
	WGL_WRITE, /* value: what was written */
	WGL_CAS,   /* if register == expect then register = value; cas_ok: whether it swapped */
};

struct wgl_op {
	enum wgl_kind kind;
	int64_t value;
	int64_t expect;     /* WGL_CAS only (may be WGL_NIL: "only if absent") */
	bool cas_ok;        /* WGL_CAS that completed: true swapped, false compare failed */
	uint64_t call_us;   /* invocation */
	uint64_t return_us; /* completion; WGL_NEVER: outcome unknown */
	uint32_t id;        /* the caller's handle, not used by the search */
};

enum wgl_verdict {
	WGL_OK,        /* linearizable */
	WGL_VIOLATION, /* no linearization exists */
	WGL_UNKNOWN,   /* the time limit ran out first: callers count it as a failure */
};

struct wgl_result {
	enum wgl_verdict verdict;
	/* WGL_VIOLATION: index into ops[] of the completed operation the
	 * deepest partial linearization could not get past (the first one that
	 * cannot be linearized), for the caller to print with its neighbours. */
	size_t bad;
	size_t longest;         /* operations in the longest partial linearization */
	uint64_t steps;         /* search steps taken */
	uint64_t cache_entries; /* (linearized set, state) pairs remembered */
};

/* Checks ops[0..n) against a register that starts as init, giving up after
 * time_limit_ms of search (0: no limit). Returns res->verdict. Returns
 * WGL_UNKNOWN with errno = ENOMEM if memory runs out. */
enum wgl_verdict wgl_check(const struct wgl_op *ops, size_t n, int64_t init, uint64_t time_limit_ms,
			   struct wgl_result *res);

const char *wgl_verdict_name(enum wgl_verdict v);

#endif
