/*
 * Log replication (Raft 5.3) with per-follower flow control (dissertation
 * 10.2): a follower is probed one AppendEntries at a time until a match is
 * found, then entries stream to it, up to max_inflight messages, each
 * holding at most max_append_entries entries and max_append_bytes bytes.
 *
 * Rules kept here:
 * - A follower truncates only on a real term conflict: entries it already
 *   holds with the same term are skipped, so a duplicated or reordered old
 *   AppendEntries never erases entries it has acknowledged.
 * - It never truncates below its commit index.
 * - Its acknowledgement leaves after the persist of what it acknowledges.
 * - The leader counts itself toward commit by its durable index only, and
 *   commits only an entry of its own term by counting (5.4.2, Figure 8).
 * - Nothing is handed out for apply beyond min(commit, durable).
 * - Rejections carry a hint (index, term) so the leader skips a whole
 *   conflicting term per round trip.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "replica.h"
#include "util.h"

struct progress *rp_progress(struct rc_replica *r, rc_id id)
{
	for (uint32_t i = 0; i < r->n_progress; i++)
		if (r->progress[i].id == id)
			return &r->progress[i];
	return NULL;
}

void rp_progress_reset(struct progress *pr, rc_id id, rc_index next)
{
	memset(pr, 0, sizeof(*pr));
	pr->id = id;
	pr->next = next;
	pr->state = PR_PROBE;
}

void rp_progress_free(struct progress *pr)
{
	free(pr->inflight);
	pr->inflight = NULL;
	pr->n_inflight = 0;
}

void rp_become_probe(struct progress *pr)
{
	pr->state = PR_PROBE;
	pr->probe_sent = false;
	pr->n_inflight = 0;
	pr->next = pr->match + 1;
}

static void become_replicate(struct rc_replica *r, struct progress *pr)
{
	pr->state = PR_REPLICATE;
	pr->next = pr->match + 1;
	pr->n_inflight = 0;
	if (!pr->inflight)
		pr->inflight = rc_xcalloc(r->o.max_inflight, sizeof(*pr->inflight));
}

static bool paused(const struct rc_replica *r, const struct progress *pr)
{
	switch (pr->state) {
	case PR_PROBE:
		return pr->probe_sent;
	case PR_REPLICATE:
		return pr->n_inflight >= r->o.max_inflight;
	case PR_SNAPSHOT:
		return true;
	}
	return true;
}

static void inflight_free_to(struct progress *pr, rc_index index)
{
	uint32_t k = 0;
	while (k < pr->n_inflight && pr->inflight[k] <= index)
		k++;
	memmove(pr->inflight, pr->inflight + k, (pr->n_inflight - k) * sizeof(*pr->inflight));
	pr->n_inflight -= k;
}

/* How many entries from index `from` fit in one AppendEntries. */
static size_t batch_size(const struct rc_replica *r, rc_index from)
{
	rc_index last = rlog_last_index(&r->log);
	size_t n = 0;
	uint64_t bytes = 0;
	for (rc_index i = from; i <= last && n < r->o.max_append_entries; i++) {
		const struct rc_entry *e = rlog_get(&r->log, i);
		if (n > 0 && bytes + e->len > r->o.max_append_bytes)
			break;
		bytes += e->len;
		n++;
	}
	return n;
}

void rp_send_append(struct rc_replica *r, struct progress *pr, bool heartbeat)
{
	rc_index prev;
	rc_term prev_term = 0;
	size_t n = 0;
	if (heartbeat) {
		/* Checks nothing the follower could reject: the prefix up to
		 * match is known to agree (or 0, which always agrees). */
		prev = pr->match;
		if (!rlog_term_at(&r->log, prev, &prev_term))
			prev = prev_term = 0;
	} else {
		prev = pr->next - 1;
		if (!rlog_term_at(&r->log, prev, &prev_term)) {
			rp_start_snapshot(r, pr);
			return;
		}
		n = batch_size(r, pr->next);
	}
	struct rc_message *m = rp_msg(r, RC_MSG_APPEND, pr->id, false);
	m->u.append.prev_index = prev;
	m->u.append.prev_term = prev_term;
	m->u.append.commit = r->commit;
	m->u.append.seq = r->hb_seq;
	m->u.append.n_entries = (uint32_t)n;
	if (n) {
		const struct rc_entry *first = rlog_get(&r->log, prev + 1);
		m->u.append.entries = outbox_entry_array(&r->out, first, n);
	}
	/* What the follower can learn from this message: Raft 5.3, commit
	 * up to the last entry it is known to share with the leader. */
	rc_index shared = heartbeat ? pr->match : prev + n;
	pr->commit_sent = r->commit < shared ? r->commit : shared;
	if (heartbeat)
		return;
	if (pr->state == PR_PROBE) {
		pr->probe_sent = true;
	} else if (n > 0) {
		pr->next = prev + n + 1;
		pr->inflight[pr->n_inflight++] = prev + n;
	}
}

/* Sends whatever each follower can take now; called once per update so that
 * every proposal of a loop turn travels in the same AppendEntries. A
 * follower that got nothing but could learn a newer commit index (its match
 * or the commit moved) gets an empty AppendEntries at once, so it applies
 * (and answers the clients waiting on it) without waiting for the next
 * heartbeat. */
void rp_flush_appends(struct rc_replica *r)
{
	rc_index last = rlog_last_index(&r->log);
	for (uint32_t i = 0; i < r->n_progress; i++) {
		struct progress *pr = &r->progress[i];
		while (!paused(r, pr) && pr->next <= last) {
			rp_send_append(r, pr, false);
			if (pr->state != PR_REPLICATE)
				break;
		}
		rc_index learnable = r->commit < pr->match ? r->commit : pr->match;
		if (pr->state != PR_SNAPSHOT && pr->commit_sent < learnable)
			rp_send_append(r, pr, true);
	}
}

static void broadcast_round(struct rc_replica *r)
{
	r->hb_seq++;
	for (uint32_t i = 0; i < r->n_progress; i++) {
		struct progress *pr = &r->progress[i];
		if (pr->state == PR_PROBE && !pr->probe_sent)
			rp_send_append(r, pr, false);
		else
			rp_send_append(r, pr, true);
	}
	rp_reads_on_ack(r); /* a leader alone confirms its rounds by itself */
}

void rp_heartbeat_tick(struct rc_replica *r)
{
	rc_index last = rlog_last_index(&r->log);
	for (uint32_t i = 0; i < r->n_progress; i++) {
		struct progress *pr = &r->progress[i];
		switch (pr->state) {
		case PR_REPLICATE:
			/* No progress for a whole interval while entries are in
			 * flight: some were lost; find the match again. */
			if (pr->n_inflight > 0 && pr->match == pr->match_at_tick &&
			    pr->match < last)
				rp_become_probe(pr);
			break;
		case PR_PROBE:
			pr->probe_sent = false;
			break;
		case PR_SNAPSHOT:
			if (r->now >= pr->snap_sent_at + r->o.election_timeout_ms)
				rp_send_snapshot_chunk(r, pr);
			break;
		}
		pr->match_at_tick = pr->match;
	}
	broadcast_round(r);
}

void rp_reads_flush(struct rc_replica *r)
{
	if (r->read_round_wanted) {
		r->read_round_wanted = false;
		broadcast_round(r);
	}
}

void rp_emit_committed(struct rc_replica *r)
{
	rc_index to = r->commit < r->durable ? r->commit : r->durable;
	while (r->applied_emitted < to) {
		const struct rc_entry *e = rlog_get(&r->log, r->applied_emitted + 1);
		assert(e);
		outbox_committed(&r->out, e);
		r->applied_emitted++;
	}
}

void rp_set_commit(struct rc_replica *r, rc_index commit)
{
	assert(commit <= rlog_last_index(&r->log));
	if (commit <= r->commit)
		return;
	r->commit = commit;
	rp_emit_committed(r);
	if (r->role == RC_LEADER) {
		rp_reads_on_commit(r);
		rp_maybe_step_down_removed(r);
		if (r->role == RC_LEADER)
			rp_maybe_promote(r);
	}
}

static int cmp_desc(const void *a, const void *b)
{
	rc_index x = *(const rc_index *)a, y = *(const rc_index *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

void rp_maybe_commit(struct rc_replica *r)
{
	rc_index matches[RC_MAX_MEMBERS];
	uint32_t n = 0;
	if (rp_is_voter(r, r->o.id)) {
#ifdef RC_MUTANT_SELF_COUNT_BEFORE_PERSIST
		matches[n++] = rlog_last_index(&r->log);
#else
		matches[n++] = r->durable;
#endif
	}
	for (uint32_t i = 0; i < r->n_progress; i++)
		if (rp_is_voter(r, r->progress[i].id))
			matches[n++] = r->progress[i].match;
	uint32_t q = rp_quorum(r);
	if (n < q || q == 0)
		return;
	qsort(matches, n, sizeof(matches[0]), cmp_desc);
	rc_index idx = matches[q - 1];
	if (idx <= r->commit)
		return;
	rc_term t = 0;
	if (!rlog_term_at(&r->log, idx, &t))
		return;
#ifndef RC_MUTANT_COMMIT_OLD_TERM
	if (t != r->term)
		return; /* Raft 5.4.2: never commit an older term by counting */
#endif
	rp_set_commit(r, idx);
}

void rc_persisted(struct rc_replica *r, rc_index index, rc_term term)
{
	rc_term t;
	if (index <= r->durable || index > rlog_last_index(&r->log))
		return;
	if (!rlog_term_at(&r->log, index, &t) || t != term)
		return; /* that write was truncated since; its successor will report */
	r->durable = index;
	if (r->role == RC_LEADER)
		rp_maybe_commit(r);
	rp_emit_committed(r);
}

void rp_append_local(struct rc_replica *r, uint8_t type, const void *data, uint32_t len)
{
	rlog_append(&r->log, r->term, type, data, len);
	const struct rc_entry *e = rlog_get(&r->log, rlog_last_index(&r->log));
	outbox_persist_entry(&r->out, e);
	rp_config_after_append(r, e);
}

void rp_truncate(struct rc_replica *r, rc_index from)
{
	assert(from > r->commit);
	rlog_truncate(&r->log, from, &r->out);
	outbox_truncate(&r->out, from);
	if (r->durable >= from)
		r->durable = from - 1;
	rp_config_after_truncate(r);
}

void rp_reply_append_success(struct rc_replica *r, rc_id to, rc_index match)
{
	struct rc_message *resp = rp_msg(r, RC_MSG_APPEND_RESP, to, true);
	resp->u.append_resp.success = true;
	resp->u.append_resp.match_index = match;
}

static void reply_append(struct rc_replica *r, const struct rc_message *m, bool success,
			 rc_index match)
{
#ifdef RC_MUTANT_ACK_BEFORE_PERSIST
	bool after = !success;
#else
	bool after = true;
#endif
	struct rc_message *resp = rp_msg(r, RC_MSG_APPEND_RESP, m->from, after);
	resp->u.append_resp.success = success;
	resp->u.append_resp.seq = m->u.append.seq;
	if (success) {
		resp->u.append_resp.match_index = match;
		return;
	}
	/* Fast backtracking: the last index at or below the leader's prev
	 * whose term is not above the leader's prev term. */
	rc_index idx = m->u.append.prev_index;
	rc_index last = rlog_last_index(&r->log);
	if (idx > last)
		idx = last;
	rc_term t = 0;
	while (rlog_term_at(&r->log, idx, &t) && t > m->u.append.prev_term &&
	       idx > r->log.prev_index)
		idx--;
	rlog_term_at(&r->log, idx, &t);
	resp->u.append_resp.reject_index = m->u.append.prev_index;
	resp->u.append_resp.hint_index = idx;
	resp->u.append_resp.hint_term = t;
}

void rp_note_leader(struct rc_replica *r, const struct rc_message *m)
{
	if (r->role != RC_FOLLOWER || r->leader != m->from)
		rp_become_follower(r, r->term, m->from);
	r->last_leader_contact = r->now;
	r->leader_unreachable = false;
	rp_reset_election_timer(r);
}

void rp_handle_append(struct rc_replica *r, const struct rc_message *m)
{
	rp_note_leader(r, m);
	if (r->recv.awaiting_install)
		return; /* the state machine is being replaced; the leader retries */
	const struct rc_msg_append *a = &m->u.append;
	rc_index prev = a->prev_index;
	rc_term prev_term = a->prev_term;
	const struct rc_entry *entries = a->entries;
	size_t n = a->n_entries;

	/* What lies in our compacted prefix is committed, so it matches. */
	if (prev < r->log.prev_index) {
		rc_index skip = r->log.prev_index - prev;
		if (skip >= n) {
			reply_append(r, m, true, r->log.prev_index);
			return;
		}
		entries += skip;
		n -= skip;
		prev = r->log.prev_index;
		prev_term = r->log.prev_term;
	}
	rc_term t;
	if (!rlog_term_at(&r->log, prev, &t) || t != prev_term) {
		reply_append(r, m, false, 0);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rc_entry *e = &entries[i];
		if (e->index <= rlog_last_index(&r->log)) {
			rlog_term_at(&r->log, e->index, &t);
			if (t == e->term)
				continue; /* already held: a duplicate changes nothing */
			if (e->index <= r->commit)
				return; /* would erase a committed entry: not a leader of ours */
			rp_truncate(r, e->index);
		}
		rlog_append(&r->log, e->term, e->type, e->data, e->len);
		const struct rc_entry *mine = rlog_get(&r->log, e->index);
		outbox_persist_entry(&r->out, mine);
		rp_config_after_append(r, mine);
	}
	rc_index match = prev + n;
#ifdef RC_MUTANT_TRUNCATE_STALE
	if (rlog_last_index(&r->log) > match && match >= r->commit)
		rp_truncate(r, match + 1);
#endif
	if (a->commit > r->commit) {
		rc_index c = a->commit < match ? a->commit : match;
		rp_set_commit(r, c);
	}
	reply_append(r, m, true, match);
}

void rp_handle_append_resp(struct rc_replica *r, const struct rc_message *m)
{
	if (r->role != RC_LEADER)
		return;
	struct progress *pr = rp_progress(r, m->from);
	if (!pr)
		return;
	const struct rc_msg_append_resp *a = &m->u.append_resp;
	pr->recent_active = true;
	pr->last_contact = r->now;
	if (a->seq > pr->acked_seq && a->seq <= r->hb_seq)
		pr->acked_seq = a->seq;

	if (!a->success) {
		bool stale = (pr->state == PR_REPLICATE && a->reject_index <= pr->match) ||
			     (pr->state == PR_PROBE && a->reject_index != pr->next - 1) ||
			     pr->state == PR_SNAPSHOT;
		if (!stale) {
			rc_index idx = a->hint_index;
			rc_index last = rlog_last_index(&r->log);
			if (idx > last)
				idx = last;
			rc_term t = 0;
			while (idx > r->log.prev_index && rlog_term_at(&r->log, idx, &t) &&
			       t > a->hint_term)
				idx--;
			/* Stopped at the compaction point without finding a term
			 * the follower could share: only a snapshot can help, so
			 * probe below it (rp_send_append then sends one). */
			rc_index next = idx + 1;
			if (rlog_term_at(&r->log, idx, &t) && t > a->hint_term && idx > 0)
				next = idx;
			if (next < pr->match + 1)
				next = pr->match + 1;
			/* A duplicate of the rejection just handled changes nothing:
			 * the probe it asks for is already in flight. */
			bool duplicate =
			    pr->state == PR_PROBE && pr->probe_sent && next == pr->next;
			if (!duplicate) {
				rp_become_probe(pr);
				pr->next = next;
				rp_send_append(r, pr, false);
			}
		}
	} else {
		bool progressed = a->match_index > pr->match;
		if (a->match_index <= rlog_last_index(&r->log) && progressed)
			pr->match = a->match_index;
		else
			progressed = false;
		if (pr->next < pr->match + 1)
			pr->next = pr->match + 1;
		switch (pr->state) {
		case PR_PROBE:
			become_replicate(r, pr);
			break;
		case PR_REPLICATE:
			inflight_free_to(pr, a->match_index);
			break;
		case PR_SNAPSHOT:
			if (pr->match >= pr->snap_index)
				become_replicate(r, pr);
			break;
		}
		if (progressed) {
			rp_maybe_commit(r);
			if (r->role != RC_LEADER)
				return;
			rp_transfer_check(r, pr);
			rp_maybe_promote(r);
		}
	}
	if (r->role == RC_LEADER)
		rp_reads_on_ack(r);
}
