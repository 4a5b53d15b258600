/*
 * Applying committed entries and answering the clients that wait on them.
 *
 * A write is answered when the entry it became is applied: the store's
 * result for (index, term) is the answer. If a different entry turns out to
 * sit at that index, or the leader changed while it waited, its fate is not
 * known here: 503 unknown_outcome, never a false "ok" or "failed".
 *
 * A linearizable read waits first for its read index (ReadIndex, in the
 * Replica), then for the store to have applied that index; then it is
 * answered from the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "node_internal.h"
#include "store.h"

void req_list_push(struct req_list *l, struct request *rq)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		struct request **v = realloc(l->v, l->cap * sizeof(*v));
		if (!v)
			abort(); /* the node's OOM policy: see docs/ARCHITECTURE.md */
		l->v = v;
	}
	l->v[l->n++] = rq;
}

static void list_remove_at(struct req_list *l, size_t i)
{
	l->v[i] = l->v[--l->n];
}

struct request *req_list_take(struct req_list *l, uint64_t id)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i]->id == id) {
			struct request *rq = l->v[i];
			list_remove_at(l, i);
			return rq;
		}
	}
	return NULL;
}

void req_free(struct request *rq)
{
	free(rq->cmd);
	free(rq->key);
	free(rq);
}

void node_meta(struct node *n, struct api_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->node_id = n->id.node_id;
	m->leader_id = n->leader;
	m->index = n->applied;
}

void req_answer_cmd(struct node *n, struct request *rq, enum api_status st, const char *why)
{
	struct cmd_result res;
	memset(&res, 0, sizeof(res));
	res.status = st;
	snprintf(res.message, sizeof(res.message), "%s", why);
	struct api_meta meta;
	node_meta(n, &meta);
	rq->cdone(rq->arg, &res, &meta);
	req_free(rq);
}

/* A query result on the heap, so the api may release it later from its
 * own thread: the store's release (if any) runs, then the shell is freed. */
struct held_result {
	struct query_result res; /* first: the api sees only this */
	void (*inner)(struct query_result *res);
};

static void release_held(struct query_result *res)
{
	struct held_result *h = (struct held_result *)res;
	if (h->inner)
		h->inner(res);
	free(h);
}

struct query_result *node_new_result(void)
{
	struct held_result *h = calloc(1, sizeof(*h));
	if (!h)
		abort();
	return &h->res;
}

/* Takes over the release hook the store set, putting ours in front. */
void node_hold_result(struct query_result *res)
{
	struct held_result *h = (struct held_result *)res;
	h->inner = res->release;
	res->release = release_held;
}

void node_answer_from_store(struct node *n, const struct query *q, api_query_done done, void *arg,
			    const struct api_meta *meta)
{
	struct query_result *res = node_new_result();
	store_query(n->store, q, res);
	node_hold_result(res);
	done(arg, res, meta);
}

void req_answer_query(struct node *n, struct request *rq, enum api_status st, const char *why)
{
	struct query_result *res = node_new_result();
	res->status = st;
	snprintf(res->message, sizeof(res->message), "%s", why);
	node_hold_result(res);
	struct api_meta meta;
	node_meta(n, &meta);
	rq->qdone(rq->arg, res, &meta);
	req_free(rq);
}

static void on_result(void *arg, uint64_t index, uint64_t term, const struct cmd_result *res)
{
	struct node *n = arg;
	for (size_t i = 0; i < n->proposed.n; i++) {
		struct request *rq = n->proposed.v[i];
		if (rq->index != index)
			continue;
		list_remove_at(&n->proposed, i);
		if (rq->term != term) {
			req_answer_cmd(n, rq, API_UNKNOWN_OUTCOME,
				       "another leader's entry took its place; it may be retried");
			return;
		}
		struct api_meta meta;
		node_meta(n, &meta);
		rq->cdone(rq->arg, res, &meta);
		req_free(rq);
		return;
	}
}

void node_apply(struct node *n, const struct rc_entry *entries, size_t count)
{
	if (count == 0)
		return;
	struct store_entry small[64];
	struct store_entry *se = count <= 64 ? small : malloc(count * sizeof(*se));
	if (!se)
		abort();
	for (size_t i = 0; i < count; i++)
		se[i] = (struct store_entry){
		    .index = entries[i].index,
		    .term = entries[i].term,
		    .type = entries[i].type,
		    .data = entries[i].data,
		    .len = entries[i].len,
		};
	int rv = store_apply_batch(n->store, se, count, on_result, n);
	if (se != small)
		free(se);
	if (rv != 0)
		node_fatal(n, "applying committed entries", store_errmsg(n->store));
	n->applied = store_applied_index(n->store);
	node_wake_watchers(n, entries, count);
	/* Waiters whose index passed without their command: a no-op or a
	 * configuration of another leader landed there. */
	for (size_t i = 0; i < n->proposed.n;) {
		struct request *rq = n->proposed.v[i];
		if (rq->index && rq->index <= n->applied) {
			list_remove_at(&n->proposed, i);
			req_answer_cmd(n, rq, API_UNKNOWN_OUTCOME,
				       "another leader's entry took its place; it may be retried");
		} else {
			i++;
		}
	}
	node_serve_reads(n);
}

void node_reads_ready(struct node *n, const struct rc_read *reads, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		struct request *rq = req_list_take(&n->reading, reads[i].ctx);
		if (!rq)
			continue;
		if (reads[i].status != 0) {
			req_answer_query(n, rq, API_NO_LEADER,
					 "leadership changed before the read could be confirmed");
			continue;
		}
		rq->read_index = reads[i].index;
		req_list_push(&n->ready, rq);
	}
	node_serve_reads(n);
}

void node_serve_reads(struct node *n)
{
	for (size_t i = 0; i < n->ready.n;) {
		struct request *rq = n->ready.v[i];
		if (rq->read_index > n->applied) {
			i++;
			continue;
		}
		list_remove_at(&n->ready, i);
		node_answer_or_park(n, rq);
	}
}

static void fail_list(struct node *n, struct req_list *l, enum api_status st, const char *why)
{
	while (l->n) {
		struct request *rq = l->v[--l->n];
		if (rq->is_query)
			req_answer_query(n, rq, st, why);
		else
			req_answer_cmd(n, rq, st, why);
	}
}

void node_fail_writes(struct node *n, enum api_status st, const char *why)
{
	fail_list(n, &n->proposed, st, why);
	fail_list(n, &n->forwarded, st, why);
}

void node_fail_reads(struct node *n, enum api_status st, const char *why)
{
	node_unpark_all(n, &n->reading);
	fail_list(n, &n->reading, st, why);
	fail_list(n, &n->ready, st, why);
}

static void expire_list(struct node *n, struct req_list *l, uint64_t now)
{
	for (size_t i = 0; i < l->n;) {
		struct request *rq = l->v[i];
		if (rq->deadline > now) {
			i++;
			continue;
		}
		list_remove_at(l, i);
		if (rq->is_query)
			req_answer_query(n, rq, API_TIMEOUT, "the read did not complete in time");
		else
			req_answer_cmd(
			    n, rq, API_TIMEOUT,
			    "the write did not commit in time; it may still take effect");
	}
}

void node_expire(struct node *n, uint64_t now)
{
	node_expire_watchers(n, now);
	expire_list(n, &n->proposed, now);
	expire_list(n, &n->forwarded, now);
	expire_list(n, &n->reading, now);
	expire_list(n, &n->ready, now);
}
