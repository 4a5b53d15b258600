/*
 * Blocking queries (API.md "Blocking queries"): a query with ?index=N and
 * a wait is answered at once when what it covers changed after N;
 * otherwise it is parked in the watch set (watch.c) until an applied entry
 * touches what it covers, or its wait runs out, and holds no thread
 * meanwhile. Woken queries re-run against the store and answer only if
 * their index really moved; others park again with the same deadline.
 *
 * A parked query is answered from this node's store, which has applied at
 * least the read index the query obtained first, so a linearizable
 * blocking query stays linearizable: the state it returns was the
 * committed state at some moment after it was asked.
 */
#include <stdlib.h>

#include "loop.h"
#include "node_internal.h"
#include "store.h"
#include "watch.h"

static void query_meta(struct node *n, const struct request *rq, struct api_meta *meta)
{
	node_meta(n, meta);
	if (rq->q.consistency == CONSISTENCY_STALE) {
		meta->stale = true;
		meta->last_contact_ms =
		    n->role == RC_LEADER ? 0 : loop_now_ms(n->loop) - n->last_leader_contact;
	}
}

/* Answers rq from the store, whatever the index (a deadline passed). */
static void answer_now(struct node *n, struct request *rq)
{
	struct api_meta meta;
	query_meta(n, rq, &meta);
	node_answer_from_store(n, &rq->q, rq->qdone, rq->arg, &meta);
	req_free(rq);
}

/* API.md "Blocking queries": answer at once when what the query covers
 * changed after min_index; otherwise park it until it does or its wait
 * runs out. The store is at least at the read index here, so the answer
 * is linearizable whenever it is given. */
void node_answer_or_park(struct node *n, struct request *rq)
{
	if (rq->q.wait_ms == 0) {
		answer_now(n, rq);
		return;
	}
	struct query_result *res = node_new_result();
	store_query(n->store, &rq->q, res);
	node_hold_result(res);
	if (res->status != API_OK && res->status != API_NOT_FOUND) {
		struct api_meta meta;
		query_meta(n, rq, &meta);
		rq->qdone(rq->arg, res, &meta);
		req_free(rq);
		return;
	}
	if (res->index > rq->q.min_index) {
		struct api_meta meta;
		query_meta(n, rq, &meta);
		rq->qdone(rq->arg, res, &meta);
		req_free(rq);
		return;
	}
	res->release(res);
	if (!rq->parked) {
		rq->parked = true;
		rq->deadline = loop_now_ms(n->loop) + rq->q.wait_ms;
	}
	watch_add(n->watches, rq);
}

/* A transaction may change the keys of its puts and deletes; which branch
 * ran is not known here, so both count (a spurious wake only re-checks). */
static void match_txn(struct node *n, const struct cmd_txn *t, struct req_list *out)
{
	static struct cmd_txn_op ops[2][CMD_TXN_MAX]; /* loop thread only */
	if (cmd_txn_unpack(t, NULL, ops[0], ops[1]) != 0) {
		watch_match_all(n->watches, out);
		return;
	}
	uint32_t count[2] = {t->n_success, t->n_failure};
	for (int b = 0; b < 2; b++) {
		for (uint32_t i = 0; i < count[b]; i++) {
			const struct cmd_txn_op *o = &ops[b][i];
			if (o->kind == CMD_OP_GET)
				continue;
			if (o->recurse)
				watch_match_prefix(n->watches, o->key.p, o->key.len, out);
			else
				watch_match_key(n->watches, o->key.p, o->key.len, out);
		}
	}
}

/* Which parked queries may the committed entries concern? */
static void match_changes(struct node *n, const struct rc_entry *entries, size_t count,
			  struct req_list *out)
{
	uint64_t floor = store_tombstone_floor(n->store);
	if (floor != n->tombstone_floor) {
		/* Pruned tombstones raise what a missing key reports. */
		n->tombstone_floor = floor;
		watch_match_all(n->watches, out);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const struct rc_entry *e = &entries[i];
		struct cmd c;
		if (e->type != RC_ENTRY_COMMAND)
			continue;
		if (cmd_decode(e->data, e->len, &c) != 0) {
			watch_match_all(n->watches, out);
			continue;
		}
		switch (c.type) {
		case CMD_KV_PUT:
			watch_match_key(n->watches, c.u.put.key.p, c.u.put.key.len, out);
			break;
		case CMD_KV_DELETE:
			if (c.u.del.recurse)
				watch_match_prefix(n->watches, c.u.del.key.p, c.u.del.key.len, out);
			else
				watch_match_key(n->watches, c.u.del.key.p, c.u.del.key.len, out);
			break;
		case CMD_TXN:
			match_txn(n, &c.u.txn, out);
			break;
		default:
			/* A command whose keys the node does not know: be safe. */
			watch_match_all(n->watches, out);
			break;
		}
	}
}

void node_wake_watchers(struct node *n, const struct rc_entry *entries, size_t count)
{
	if (watch_count(n->watches) == 0)
		return;
	struct req_list matched = {0};
	match_changes(n, entries, count, &matched);
	watch_clear_marks(&matched);
	for (size_t i = 0; i < matched.n; i++) {
		struct request *rq = matched.v[i];
		watch_remove(n->watches, rq);
		node_answer_or_park(n, rq);
	}
	free(matched.v);
}

void node_expire_watchers(struct node *n, uint64_t now)
{
	struct req_list expired = {0};
	watch_expire(n->watches, now, &expired);
	for (size_t i = 0; i < expired.n; i++)
		answer_now(n, expired.v[i]);
	free(expired.v);
}

void node_unpark_all(struct node *n, struct req_list *to)
{
	struct req_list parked = {0};
	watch_match_all(n->watches, &parked);
	for (size_t i = 0; i < parked.n; i++) {
		watch_remove(n->watches, parked.v[i]);
		req_list_push(to, parked.v[i]);
	}
	free(parked.v);
}
