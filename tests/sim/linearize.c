/*
 * Client operations and the check that the completed ones are linearizable.
 *
 * Writes are "put key = wid" entries proposed with rc_propose, which returns
 * (index, term). A write completes when that entry is committed (h, the
 * committed frontier of checks.c, reaches it; a client is answered when its
 * entry applies, which happens at or after commit). It failed if rc_propose
 * refused it; otherwise, until it commits, it is indeterminate (it may still
 * commit, or never). Reads call rc_read_index(ctx); when the update returns
 * (ctx, I, ok) the read is served from that node's state machine once it has
 * applied some A >= I: it returns the value of the key in the state at A.
 *
 * Why the following checks are enough. Every write that takes effect has a
 * unique log index, and the state at index A is the result of applying the
 * committed log up to A in order (State Machine Safety is checked
 * separately). Order all committed writes by log index and place each read
 * just after the log index A whose state it returned (reads at the same A in
 * the order they completed). This total order is a linearization iff it
 * respects real time and every read returns the newest preceding write:
 *   (1) read value: the returned value is the newest committed write to the
 *       key at index <= A (from the committed log, not the node's own KV:
 *       this also rules out values never written and failed writes);
 *   (2) read after write: for every operation completed before a read R was
 *       invoked, its index is <= R's read index I <= A. We check I >= h(inv):
 *       every index committed when R was invoked is below its read index.
 *       This is exactly what ReadIndex guarantees: the leader's commit index
 *       covers every entry committed before it received the request, once it
 *       has committed an entry of its own term (Raft 6.4), and a deposed
 *       leader cannot pass the heartbeat round.
 *   (3) write after op: a write W invoked after an operation completed must
 *       come later in the order: W's index > h(inv of W) (a legitimate
 *       leader's log holds every committed entry, so it appends above them;
 *       a deposed leader's entry never commits, so it is never checked).
 *   (4) read after read: if R1 completed before R2 was invoked, then
 *       A1 <= h(inv of R2) <= I2 <= A2 follows from (2) because R1's node had
 *       applied (so committed) A1. Checked directly too, per key: a read
 *       never returns an older write than any read that completed before it
 *       was invoked.
 * (1)-(4) place every completed operation between its invocation and its
 * completion: a write's point is its commit, a read's point is in
 * [max(inv, commit time of A), completion]. Indeterminate writes either
 * commit (and are then placed by index, after their invocation by (3)) or
 * never take effect. So checking (1)-(4) on the fly is a full
 * linearizability check for this model; no search is needed because the log
 * already fixes the order of all writes.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

void lin_free(struct lin *l)
{
	free(l->w);
	free(l->r);
	for (int k = 0; k < KV_MAX_KEYS; k++) {
		free(l->key[k].index);
		free(l->key[k].wid);
	}
	memset(l, 0, sizeof(*l));
}

uint64_t lin_write_invoke(struct sim *s, uint8_t key, struct node *n)
{
	struct lin *l = &s->lin;
	if (l->nw == l->cap_w) {
		l->cap_w = l->cap_w ? 2 * l->cap_w : 256;
		l->w = xrealloc(l->w, l->cap_w * sizeof(*l->w));
	}
	l->w[l->nw++] = (struct wop){.key = key,
				     .status = W_PENDING,
				     .node = (int8_t)(n->id - 1),
				     .h_inv = s->chk.h,
				     .t_inv = s->now};
	return l->nw;
}

void lin_write_proposed(struct sim *s, uint64_t wid, int rv, rc_index index, rc_term term)
{
	struct wop *w = &s->lin.w[wid - 1];
	if (rv != 0) {
		w->status = W_FAILED;
		return;
	}
	w->index = index;
	w->term = term;
}

/* The newest committed write to key at index <= at, or 0. */
static size_t newest_at(const struct keyhist *k, rc_index at)
{
	size_t lo = 0, hi = k->n; /* answer: number of writes with index <= at */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (k->index[mid] <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void lin_committed(struct sim *s, rc_index index, const struct rc_entry *e)
{
	uint8_t key;
	uint64_t wid;
	if (e->type != RC_ENTRY_COMMAND || !kv_cmd_parse(e->data, e->len, &key, &wid))
		return;
	struct lin *l = &s->lin;
	if (wid > l->nw) {
		sim_fail(s, "Linearizability", "committed write %" PRIu64 " was never proposed",
			 wid);
		return;
	}
	struct wop *w = &l->w[wid - 1];
	if (w->status == W_APPLIED) {
		sim_fail(s, "Linearizability",
			 "write %" PRIu64 " committed twice (at %" PRIu64 " and %" PRIu64 ")", wid,
			 w->index, index);
		return;
	}
	if (w->status == W_FAILED) {
		sim_fail(s, "Linearizability",
			 "write %" PRIu64 " that rc_propose refused is committed at %" PRIu64, wid,
			 index);
		return;
	}
	if (w->index != index || w->term != e->term) {
		sim_fail(s, "contract",
			 "rc_propose said write %" PRIu64 " is %" PRIu64 "/t%" PRIu64
			 " but it committed as %" PRIu64 "/t%" PRIu64,
			 wid, w->index, w->term, index, e->term);
		return;
	}
	if (index <= w->h_inv) {
		sim_fail(s, "Linearizability",
			 "write %" PRIu64 " invoked when %" PRIu64
			 " was committed took index %" PRIu64,
			 wid, w->h_inv, index);
		return;
	}
	w->status = W_APPLIED;
	l->writes_ok++;
	struct keyhist *k = &l->key[key];
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 64;
		k->index = xrealloc(k->index, k->cap * sizeof(*k->index));
		k->wid = xrealloc(k->wid, k->cap * sizeof(*k->wid));
	}
	k->index[k->n] = index;
	k->wid[k->n++] = wid;
}

uint64_t lin_read_invoke(struct sim *s, uint8_t key, struct node *n)
{
	struct lin *l = &s->lin;
	if (l->nr == l->cap_r) {
		l->cap_r = l->cap_r ? 2 * l->cap_r : 256;
		l->r = xrealloc(l->r, l->cap_r * sizeof(*l->r));
	}
	l->r[l->nr++] = (struct rop){.key = key,
				     .state = R_WAIT_INDEX,
				     .node = (int8_t)(n->id - 1),
				     .life = n->life,
				     .h_inv = s->chk.h,
				     .frontier_inv = l->frontier[key],
				     .t_inv = s->now};
	return l->nr;
}

void lin_read_refused(struct sim *s, uint64_t rid)
{
	s->lin.r[rid - 1].state = R_FAILED;
	s->lin.reads_failed++;
}

void lin_read_result(struct sim *s, struct node *n, const struct rc_read *rd)
{
	struct lin *l = &s->lin;
	uint64_t rid = rd->ctx;
	if (rid == 0 || rid > l->nr) {
		sim_fail(s, "contract", "n%" PRIu64 " answers read ctx %" PRIu64 " nobody asked",
			 n->id, rid);
		return;
	}
	struct rop *r = &l->r[rid - 1];
	if (r->node != (int8_t)(n->id - 1) || r->life != n->life || r->state != R_WAIT_INDEX) {
		sim_fail(s, "contract",
			 "n%" PRIu64 " answers read %" PRIu64
			 " (asked of n%d in life %u, state %u)",
			 n->id, rid, r->node + 1, r->life, r->state);
		return;
	}
	if (rd->status != 0) {
		r->state = R_FAILED;
		l->reads_failed++;
		TRACE(s, n, "read %" PRIu64 " failed: %s", rid, rc_strerror(rd->status));
		return;
	}
	if (rd->index < r->h_inv) {
		sim_fail(s, "Linearizability",
			 "n%" PRIu64 " gives read %" PRIu64 " the read index %" PRIu64
			 " but %" PRIu64 " was committed before the read was invoked (stale read)",
			 n->id, rid, rd->index, r->h_inv);
		return;
	}
	r->index = rd->index;
	r->state = R_WAIT_APPLY;
	TRACE(s, n, "read %" PRIu64 " key %u gets read index %" PRIu64, rid, r->key, rd->index);
	if (n->kv.applied >= rd->index) {
		lin_read_serve(s, n, rid);
		return;
	}
	if (n->n_reads == n->cap_reads) {
		n->cap_reads = n->cap_reads ? 2 * n->cap_reads : 16;
		n->reads = xrealloc(n->reads, n->cap_reads * sizeof(*n->reads));
	}
	n->reads[n->n_reads++] = (struct pread){rid, rd->index};
}

void lin_read_serve(struct sim *s, struct node *n, uint64_t rid)
{
	struct lin *l = &s->lin;
	struct rop *r = &l->r[rid - 1];
	const struct kv *kv = &n->kv;
	rc_index a = kv->applied;
	uint64_t got = kv->val[r->key];
	rc_index got_index = kv->widx[r->key];
	const struct keyhist *k = &l->key[r->key];
	size_t c = newest_at(k, a);
	uint64_t want = c ? k->wid[c - 1] : 0;
	rc_index want_index = c ? k->index[c - 1] : 0;
	r->state = R_DONE;
	TRACE(s, n, "read %" PRIu64 " key %u at %" PRIu64 " -> write %" PRIu64 "@%" PRIu64, rid,
	      r->key, a, got, got_index);
	if (got != want || got_index != want_index) {
		sim_fail(s, "Linearizability",
			 "n%" PRIu64 " read %" PRIu64 " of key %u at state %" PRIu64
			 " returned write %" PRIu64 "@%" PRIu64 ", the committed log says %" PRIu64
			 "@%" PRIu64,
			 n->id, rid, r->key, a, got, got_index, want, want_index);
		return;
	}
	size_t before = newest_at(k, r->h_inv);
	if (before && k->index[before - 1] > got_index) {
		sim_fail(s, "Linearizability",
			 "read %" PRIu64 " of key %u returned write@%" PRIu64
			 " older than write@%" PRIu64 " completed before it was invoked",
			 rid, r->key, got_index, k->index[before - 1]);
		return;
	}
	if (got_index < r->frontier_inv) {
		sim_fail(s, "Linearizability",
			 "read %" PRIu64 " of key %u returned write@%" PRIu64
			 " older than write@%" PRIu64
			 " another read returned before it was invoked",
			 rid, r->key, got_index, r->frontier_inv);
		return;
	}
	if (got_index > l->frontier[r->key])
		l->frontier[r->key] = got_index;
	l->reads_ok++;
}

void lin_node_down(struct sim *s, struct node *n)
{
	struct lin *l = &s->lin;
	for (size_t i = 0; i < l->nr; i++) {
		struct rop *r = &l->r[i];
		if (r->node == (int8_t)(n->id - 1) && r->life == n->life &&
		    (r->state == R_WAIT_INDEX || r->state == R_WAIT_APPLY))
			r->state = R_ABANDONED;
	}
	n->n_reads = 0;
}
