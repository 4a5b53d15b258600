/*
 * Linearizable reads without log writes (dissertation 6.4, ReadIndex).
 *
 * Rules kept here:
 * - A leader serves no read before an entry of its own term has committed:
 *   until then its commit index may lag what earlier leaders committed.
 * - A read's index is the commit index once that holds; it is confirmed by
 *   a heartbeat round sent after the read arrived: each round carries a
 *   leader-side sequence number, and a round acknowledged by a majority
 *   confirms every read queued before it (one round serves many reads).
 * - A follower forwards its reads to the leader and gets the index back; a
 *   change of leader fails the reads it had forwarded.
 * - Every read is answered exactly once: ready, or failed.
 */
#include <stdlib.h>

#include "replica.h"
#include "util.h"

bool rp_own_term_committed(const struct rc_replica *r)
{
	rc_term t;
	return rlog_term_at(&r->log, r->commit, &t) && t == r->term;
}

static bool reads_allowed(const struct rc_replica *r)
{
#ifdef RC_MUTANT_READ_BEFORE_NOOP
	return r->role == RC_LEADER;
#else
	return rp_own_term_committed(r);
#endif
}

static void assign(struct rc_replica *r, struct pending_read *rd)
{
	rd->index = r->commit;
	rd->seq = r->hb_seq + 1; /* the next round, sent when the update is taken */
	r->read_round_wanted = true;
}

static void answer(struct rc_replica *r, const struct pending_read *rd, rc_index index, int status)
{
	if (rd->from == 0) {
		outbox_read(&r->out, rd->ctx, index, status);
		return;
	}
	struct rc_message *m = rp_msg(r, RC_MSG_READ_INDEX_RESP, rd->from, false);
	m->u.read_index_resp.ctx = rd->ctx;
	m->u.read_index_resp.index = index;
	m->u.read_index_resp.ok = status == 0;
}

static void enqueue(struct rc_replica *r, uint64_t ctx, rc_id from)
{
	if (r->n_reads == r->cap_reads) {
		r->cap_reads = r->cap_reads ? r->cap_reads * 2 : 16;
		r->reads = rc_xrealloc(r->reads, r->cap_reads * sizeof(*r->reads));
	}
	struct pending_read *rd = &r->reads[r->n_reads++];
	*rd = (struct pending_read){.ctx = ctx, .from = from};
	if (reads_allowed(r))
		assign(r, rd);
}

int rc_read_index(struct rc_replica *r, uint64_t ctx)
{
	if (r->role == RC_LEADER) {
		enqueue(r, ctx, 0);
		return 0;
	}
	if (r->role != RC_FOLLOWER || r->leader == 0) {
		outbox_read(&r->out, ctx, 0, -RC_ENOLEADER);
		return 0;
	}
	if (r->n_fwd_reads == r->cap_fwd_reads) {
		r->cap_fwd_reads = r->cap_fwd_reads ? r->cap_fwd_reads * 2 : 16;
		r->fwd_reads = rc_xrealloc(r->fwd_reads, r->cap_fwd_reads * sizeof(*r->fwd_reads));
	}
	r->fwd_reads[r->n_fwd_reads++] = (struct fwd_read){ctx, r->now};
	struct rc_message *m = rp_msg(r, RC_MSG_READ_INDEX, r->leader, false);
	m->u.read_index.ctx = ctx;
	return 0;
}

void rp_reads_on_commit(struct rc_replica *r)
{
	if (!reads_allowed(r))
		return;
	for (size_t i = 0; i < r->n_reads; i++)
		if (r->reads[i].seq == 0)
			assign(r, &r->reads[i]);
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The newest round a majority of voters has acknowledged. */
static uint64_t quorum_seq(const struct rc_replica *r)
{
	uint64_t acks[RC_MAX_MEMBERS];
	uint32_t n = 0;
	if (rp_is_voter(r, r->o.id))
		acks[n++] = r->hb_seq;
	for (uint32_t i = 0; i < r->n_progress; i++)
		if (rp_is_voter(r, r->progress[i].id))
			acks[n++] = r->progress[i].acked_seq;
	uint32_t q = rp_quorum(r);
	if (n < q || q == 0)
		return 0;
	qsort(acks, n, sizeof(acks[0]), cmp_desc);
	return acks[q - 1];
}

void rp_reads_on_ack(struct rc_replica *r)
{
	if (r->n_reads == 0)
		return;
	uint64_t confirmed = quorum_seq(r);
	size_t k = 0;
	for (size_t i = 0; i < r->n_reads; i++) {
		struct pending_read *rd = &r->reads[i];
		if (rd->seq != 0 && rd->seq <= confirmed)
			answer(r, rd, rd->index, 0);
		else
			r->reads[k++] = *rd;
	}
	r->n_reads = k;
}

void rp_reads_fail_all(struct rc_replica *r, int status)
{
	for (size_t i = 0; i < r->n_reads; i++)
		answer(r, &r->reads[i], 0, status);
	r->n_reads = 0;
	r->read_round_wanted = false;
}

void rp_handle_read_index(struct rc_replica *r, const struct rc_message *m)
{
	if (r->role == RC_LEADER) {
		enqueue(r, m->u.read_index.ctx, m->from);
		return;
	}
	struct pending_read rd = {.ctx = m->u.read_index.ctx, .from = m->from};
	answer(r, &rd, 0, -RC_ENOTLEADER);
}

void rp_handle_read_index_resp(struct rc_replica *r, const struct rc_message *m)
{
	const struct rc_msg_read_index_resp *a = &m->u.read_index_resp;
	for (size_t i = 0; i < r->n_fwd_reads; i++) {
		if (r->fwd_reads[i].ctx != a->ctx)
			continue;
		r->fwd_reads[i] = r->fwd_reads[--r->n_fwd_reads];
		outbox_read(&r->out, a->ctx, a->ok ? a->index : 0, a->ok ? 0 : -RC_ENOLEADER);
		return;
	}
}

void rp_fail_forwarded_reads(struct rc_replica *r, int status)
{
	for (size_t i = 0; i < r->n_fwd_reads; i++)
		outbox_read(&r->out, r->fwd_reads[i].ctx, 0, status);
	r->n_fwd_reads = 0;
}

void rp_expire_forwarded_reads(struct rc_replica *r)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n_fwd_reads; i++) {
		if (r->now >= r->fwd_reads[i].sent_at + r->o.election_timeout_ms)
			outbox_read(&r->out, r->fwd_reads[i].ctx, 0, -RC_ELEADERLOST);
		else
			r->fwd_reads[k++] = r->fwd_reads[i];
	}
	r->n_fwd_reads = k;
}
