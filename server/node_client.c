/*
 * The node as the api's backend (api/backend.h), and request forwarding.
 *
 * HTTP threads hand requests over through the inbox (a mutex-guarded list)
 * and a loop wake-up; the loop proposes or forwards them. Stale reads never
 * reach the loop: the store answers them on the HTTP thread.
 *
 * Forwarding a write: a follower sends the encoded command to the leader
 * (FRAME_FORWARD); the leader proposes it and answers at once with the
 * entry's (index, term) (FRAME_FORWARD_ACK); the follower then waits for
 * its own replica to apply that entry and answers from its own store,
 * which holds the same result (apply is deterministic). A linearizable
 * read on a follower asks the leader for a read index (the Replica's
 * RC_MSG_READ_INDEX) and is answered locally once applied that far.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "node_internal.h"
#include "transport.h"

#define FORWARD_ACK_BYTES 25

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t node_boot_nonce(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)getpid() << 40;
	}
	return v >> 1;
}

/* ---- HTTP threads ---- */

static void push_inbox(struct node *n, struct request *rq)
{
	pthread_mutex_lock(&n->inbox_mu);
	bool stopping = n->stopping;
	bool was_empty = n->inbox == NULL;
	if (!stopping) {
		rq->next = n->inbox;
		n->inbox = rq;
	}
	pthread_mutex_unlock(&n->inbox_mu);
	if (!stopping) {
		/* The loop takes the whole inbox at once: one wake-up per batch. */
		if (was_empty)
			loop_wake(n->loop);
		return;
	}
	/* The loop is gone: answer here (the node's state is still intact). */
	if (rq->is_query)
		req_answer_query(n, rq, API_NO_LEADER, "the node is shutting down");
	else
		req_answer_cmd(n, rq, API_UNKNOWN_OUTCOME, "the node is shutting down");
}

static void published_meta(struct node *n, struct api_meta *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_lock(&n->pub_mu);
	m->node_id = n->published.id;
	m->leader_id = n->published.leader;
	m->last_contact_ms = n->pub_last_contact;
	m->index = n->published.applied_index;
	pthread_mutex_unlock(&n->pub_mu);
}

static void be_submit(void *impl, const struct cmd *c, api_cmd_done done, void *arg)
{
	struct node *n = impl;
	struct request *rq = calloc(1, sizeof(*rq));
	if (!rq || cmd_encode(c, &rq->cmd, &rq->cmd_len) != 0) {
		struct cmd_result res = {.status = API_INTERNAL};
		snprintf(res.message, sizeof(res.message), "cannot encode the command");
		struct api_meta meta;
		published_meta(n, &meta);
		free(rq);
		done(arg, &res, &meta);
		return;
	}
	rq->cdone = done;
	rq->arg = arg;
	push_inbox(n, rq);
}

static void be_query(void *impl, const struct query *q, api_query_done done, void *arg)
{
	struct node *n = impl;
	if (q->consistency == CONSISTENCY_STALE && q->wait_ms == 0) {
		struct api_meta meta;
		published_meta(n, &meta);
		meta.stale = true;
		node_answer_from_store(n, q, done, arg, &meta);
		return;
	}
	struct request *rq = calloc(1, sizeof(*rq));
	uint8_t *key = malloc(q->key.len ? q->key.len : 1);
	if (!rq || !key)
		abort(); /* the node's OOM policy: see docs/ARCHITECTURE.md */
	memcpy(key, q->key.p, q->key.len);
	rq->is_query = true;
	rq->q = *q;
	rq->key = key;
	rq->q.key.p = key;
	rq->qdone = done;
	rq->arg = arg;
	push_inbox(n, rq);
}

static void be_status(void *impl, struct api_node_status *out)
{
	struct node *n = impl;
	pthread_mutex_lock(&n->pub_mu);
	*out = n->published;
	pthread_mutex_unlock(&n->pub_mu);
}

static enum api_status be_health(void *impl, char *reason, size_t cap)
{
	struct node *n = impl;
	pthread_mutex_lock(&n->pub_mu);
	uint64_t leader = n->published.leader;
	uint64_t applied = n->published.applied_index;
	uint64_t commit = n->pub_leader_commit;
	pthread_mutex_unlock(&n->pub_mu);
	if (leader == 0) {
		snprintf(reason, cap, "no leader known");
		return API_NO_LEADER;
	}
	if (applied < commit) {
		/* 503 like no_leader: this node cannot serve current data yet. */
		snprintf(reason, cap, "catching up: applied %llu of %llu",
			 (unsigned long long)applied, (unsigned long long)commit);
		return API_NO_LEADER;
	}
	return API_OK;
}

static void be_meta(void *impl, struct api_meta *out)
{
	published_meta(impl, out);
}

void node_backend_init(struct node *n, struct api_backend *be)
{
	*be = (struct api_backend){
	    .impl = n,
	    .submit = be_submit,
	    .query = be_query,
	    .status = be_status,
	    .health = be_health,
	    .meta = be_meta,
	};
}

/* ---- the loop ---- */

static enum api_status propose_status(int rv)
{
	switch (rv) {
	case -RC_ETOOBIG:
		return API_TOO_LARGE;
	case -RC_ENOTLEADER:
	case -RC_ETRANSFER:
		return API_NO_LEADER;
	default:
		return API_INTERNAL;
	}
}

static void submit(struct node *n, struct request *rq)
{
	if (n->role == RC_LEADER) {
		rc_index index;
		rc_term term;
		int rv = rc_propose(n->r, rq->cmd, (uint32_t)rq->cmd_len, &index, &term);
		if (rv != 0) {
			req_answer_cmd(n, rq, propose_status(rv), rc_strerror(rv));
			return;
		}
		rq->index = index;
		rq->term = term;
#ifdef CAIRN_MUTANT_ACK_BEFORE_COMMIT
		/* Planted bug (tests/jepsen, make jepsen-mutants): a plain PUT
		 * is acknowledged as soon as it is proposed. */
		struct cmd c;
		if (cmd_decode(rq->cmd, rq->cmd_len, &c) == 0 && c.type == CMD_KV_PUT &&
		    !c.u.put.has_cas) {
			struct cmd_result res = {.status = API_OK, .index = index};
			struct api_meta meta;
			node_meta(n, &meta);
			rq->cdone(rq->arg, &res, &meta);
			req_free(rq);
			return;
		}
#endif
		req_list_push(&n->proposed, rq);
		return;
	}
	if (n->leader == 0) {
		req_answer_cmd(n, rq, API_NO_LEADER, "no leader known");
		return;
	}
	rq->id = ++n->next_req_id;
	rq->fwd_to = n->leader;
	uint8_t *frame = malloc(8 + rq->cmd_len);
	if (!frame)
		abort();
	put_u64(frame, rq->id);
	memcpy(frame + 8, rq->cmd, rq->cmd_len);
	int rv = transport_send(n->tp, n->leader, FRAME_FORWARD, frame, 8 + rq->cmd_len, 0);
	free(frame);
	if (rv != 0) {
		req_answer_cmd(n, rq, API_NO_LEADER, "the leader cannot be reached");
		return;
	}
	req_list_push(&n->forwarded, rq);
}

static struct request *take_inbox(struct node *n)
{
	pthread_mutex_lock(&n->inbox_mu);
	struct request *list = n->inbox;
	n->inbox = NULL;
	pthread_mutex_unlock(&n->inbox_mu);
	/* Pushed at the head: reverse into arrival order. */
	struct request *fifo = NULL;
	while (list) {
		struct request *next = list->next;
		list->next = fifo;
		fifo = list;
		list = next;
	}
	return fifo;
}

void node_fail_all(struct node *n)
{
	pthread_mutex_lock(&n->inbox_mu);
	n->stopping = true;
	pthread_mutex_unlock(&n->inbox_mu);
	struct request *rq = take_inbox(n);
	while (rq) {
		struct request *next = rq->next;
		if (rq->is_query)
			req_answer_query(n, rq, API_NO_LEADER, "the node is shutting down");
		else
			req_answer_cmd(n, rq, API_UNKNOWN_OUTCOME, "the node is shutting down");
		rq = next;
	}
	node_fail_writes(n, API_UNKNOWN_OUTCOME, "the node is shutting down");
	node_fail_reads(n, API_NO_LEADER, "the node is shutting down");
}

/* Planted bugs (tests/jepsen, make jepsen-mutants): a linearizable read
 * answered from this node's own state, without the ReadIndex round, by the
 * leader (LEADER_LOCAL_READ) or by a follower (FOLLOWER_LOCAL_READ). */
static bool mutant_local_read(const struct node *n)
{
	(void)n;
#if defined(CAIRN_MUTANT_LEADER_LOCAL_READ)
	return n->role == RC_LEADER;
#elif defined(CAIRN_MUTANT_FOLLOWER_LOCAL_READ)
	return n->role != RC_LEADER;
#else
	return false;
#endif
}

void node_on_wake(void *arg)
{
	struct node *n = arg;
	node_collect_durable(n);
	uint64_t now = loop_now_ms(n->loop);
	struct request *rq = take_inbox(n);
	while (rq) {
		struct request *next = rq->next;
		rq->next = NULL;
		rq->deadline = now + n->cfg.request_timeout_ms;
		if (rq->is_query && rq->q.consistency == CONSISTENCY_STALE) {
			/* A blocking stale query: no read index, only the wait. */
			req_list_push(&n->ready, rq);
			node_serve_reads(n);
		} else if (rq->is_query && mutant_local_read(n)) {
			req_list_push(&n->ready, rq); /* read_index 0: served at once */
			node_serve_reads(n);
		} else if (rq->is_query) {
			rq->id = ++n->next_req_id;
			req_list_push(&n->reading, rq);
			rc_read_index(n->r, rq->id);
		} else {
			submit(n, rq);
		}
		rq = next;
	}
}

/* Leader side of FRAME_FORWARD: [u64 id][command bytes]. */
void node_on_forward(struct node *n, rc_id from, const uint8_t *p, size_t len)
{
	uint8_t ack[FORWARD_ACK_BYTES] = {0};
	if (len < 8)
		return;
	uint64_t id = get_u64(p);
	enum api_status st = API_OK;
	rc_index index = 0;
	rc_term term = 0;
	struct cmd c;
	if (len - 8 > UINT32_MAX || cmd_decode(p + 8, len - 8, &c) != 0) {
		/* Never let a bad command into the log: every replica would
		 * refuse to apply it. */
		log_warn("refused a malformed forwarded command from node %llu",
			 (unsigned long long)from);
		st = API_BAD_REQUEST;
	} else if (n->role != RC_LEADER) {
		st = API_NO_LEADER;
	} else {
		int rv = rc_propose(n->r, p + 8, (uint32_t)(len - 8), &index, &term);
		if (rv != 0)
			st = propose_status(rv);
	}
	put_u64(ack, id);
	ack[8] = (uint8_t)st;
	put_u64(ack + 9, index);
	put_u64(ack + 17, term);
	transport_send(n->tp, from, FRAME_FORWARD_ACK, ack, sizeof(ack), 0);
}

/* Follower side of FRAME_FORWARD_ACK: [u64 id][u8 status][u64 index][u64 term]. */
void node_on_forward_ack(struct node *n, rc_id from, const uint8_t *p, size_t len)
{
	if (len != FORWARD_ACK_BYTES)
		return;
	/* Only the node the write went to may answer it: an ack from anyone
	 * else (a queue that outlived a restart) is not about this write. */
	struct request *rq = req_list_take(&n->forwarded, get_u64(p));
	if (!rq)
		return;
	if (rq->fwd_to != from) {
		req_list_push(&n->forwarded, rq);
		return;
	}
	enum api_status st = p[8] < API_STATUS_COUNT ? (enum api_status)p[8] : API_INTERNAL;
	if (st != API_OK) {
		req_answer_cmd(n, rq, st,
			       st == API_NO_LEADER ? "the leader changed; retry"
						   : "refused by the leader");
		return;
	}
	rq->index = get_u64(p + 9);
	rq->term = get_u64(p + 17);
	if (rq->index <= n->applied) {
		/* Already applied here (a slow ack): its result is gone. */
		req_answer_cmd(n, rq, API_UNKNOWN_OUTCOME,
			       "applied before the leader's answer came");
		return;
	}
	req_list_push(&n->proposed, rq);
}
