/*
 * Snapshots and InstallSnapshot (Raft 7, dissertation 5).
 *
 * The Replica holds no snapshot bytes. The caller says when its state
 * machine was snapshotted (rc_snapshot_taken); the log before it is then
 * compacted, keeping snapshot_trailing entries for followers that are only
 * a little behind. A follower that needs compacted entries is sent the
 * snapshot in chunks of snapshot_chunk_bytes, one chunk in flight: outgoing
 * chunks carry no data, the caller fills them from its newest snapshot. The
 * receiver hands each chunk to its caller, acknowledges it after the write
 * is durable, and after the last one waits for rc_snapshot_installed before
 * it touches its log again. The configuration committed at the snapshot's
 * index travels with every chunk.
 */
#include <string.h>

#include "replica.h"

int rc_snapshot_taken(struct rc_replica *r, rc_index index, uint64_t size)
{
	rc_term term;
	if (index <= r->snap.index)
		return 0;
	if (index > r->applied_emitted || !rlog_term_at(&r->log, index, &term))
		return -RC_EINVAL;
	struct rc_snapshot_meta meta = {.index = index, .term = term, .size = size};
	rp_config_at(r, index, &meta.membership);
	r->snap = meta;
	rc_index keep = r->o.snapshot_trailing;
	rc_index upto = index > keep ? index - keep : 0;
	if (upto > r->log.prev_index) {
		rlog_compact(&r->log, upto, &r->out);
		outbox_pending(&r->out)->compact_to = upto;
	}
	/* The caller keeps only its newest snapshot: restart transfers. */
	for (uint32_t i = 0; r->role == RC_LEADER && i < r->n_progress; i++)
		if (r->progress[i].state == PR_SNAPSHOT)
			rp_start_snapshot(r, &r->progress[i]);
	return 0;
}

void rp_start_snapshot(struct rc_replica *r, struct progress *pr)
{
	pr->state = PR_SNAPSHOT;
	pr->n_inflight = 0;
	pr->snap_index = r->snap.index;
	pr->snap_offset = 0;
	rp_send_snapshot_chunk(r, pr);
}

void rp_send_snapshot_chunk(struct rc_replica *r, struct progress *pr)
{
	if (pr->snap_index != r->snap.index) {
		pr->snap_index = r->snap.index;
		pr->snap_offset = 0;
	}
	uint64_t left = r->snap.size - pr->snap_offset;
	uint32_t len =
	    left < r->o.snapshot_chunk_bytes ? (uint32_t)left : r->o.snapshot_chunk_bytes;
	struct rc_message *m = rp_msg(r, RC_MSG_SNAPSHOT, pr->id, false);
	struct rc_msg_snapshot *s = &m->u.snapshot;
	s->index = r->snap.index;
	s->snap_term = r->snap.term;
	s->membership = r->snap.membership;
	s->size = r->snap.size;
	s->offset = pr->snap_offset;
	s->len = len;
	s->last = pr->snap_offset + len == r->snap.size;
	s->data = NULL;
	pr->snap_sent_at = r->now;
}

void rp_handle_snapshot_resp(struct rc_replica *r, const struct rc_message *m)
{
	if (r->role != RC_LEADER)
		return;
	struct progress *pr = rp_progress(r, m->from);
	if (!pr)
		return;
	pr->recent_active = true;
	pr->last_contact = r->now;
	const struct rc_msg_snapshot_resp *a = &m->u.snapshot_resp;
	if (pr->state != PR_SNAPSHOT || a->index != pr->snap_index ||
	    pr->snap_index != r->snap.index)
		return;
	/* Only an answer that moves the transfer sends a chunk: duplicated
	 * answers must not multiply the chunks in flight (a lost chunk is
	 * resent by the heartbeat tick). */
	if (a->rejected)
		pr->snap_offset = 0;
	else if (a->next_offset != pr->snap_offset && a->next_offset <= r->snap.size)
		pr->snap_offset = a->next_offset;
	else
		return;
	if (pr->snap_offset < r->snap.size || a->rejected)
		rp_send_snapshot_chunk(r, pr);
}

static void reply_chunk(struct rc_replica *r, const struct rc_message *m, bool rejected)
{
	struct rc_message *resp = rp_msg(r, RC_MSG_SNAPSHOT_RESP, m->from, true);
	resp->u.snapshot_resp.index = m->u.snapshot.index;
	resp->u.snapshot_resp.next_offset = rejected ? 0 : r->recv.offset;
	resp->u.snapshot_resp.rejected = rejected;
}

void rp_handle_snapshot(struct rc_replica *r, const struct rc_message *m)
{
	rp_note_leader(r, m);
	const struct rc_msg_snapshot *s = &m->u.snapshot;
	if (r->recv.awaiting_install)
		return; /* busy installing the previous one; the leader retries */
	if (s->index <= r->commit) {
		/* We already have all it holds: the leader can go on from here. */
		rp_reply_append_success(r, m->from, r->commit);
		return;
	}
	rc_term t;
	if (s->offset == 0 && rlog_term_at(&r->log, s->index, &t) && t == s->snap_term) {
		/* Our log already holds the snapshot's last entry (the leader's
		 * view of us lagged): installing would only drop entries we may
		 * have acknowledged. The prefix is committed, and matches. */
		rp_set_commit(r, s->index);
		rp_reply_append_success(r, m->from, s->index);
		return;
	}
	bool sane = s->offset <= s->size && s->len <= s->size - s->offset &&
		    s->last == (s->offset + s->len == s->size) && (s->len == 0 || s->data);
	if (!sane)
		return;
	if (s->offset == 0) {
		memset(&r->recv, 0, sizeof(r->recv));
		r->recv.active = true;
		r->recv.meta = (struct rc_snapshot_meta){.index = s->index,
							 .term = s->snap_term,
							 .size = s->size,
							 .membership = s->membership};
	} else if (!r->recv.active || r->recv.meta.index != s->index) {
		reply_chunk(r, m, true);
		return;
	}
	if (s->offset != r->recv.offset) {
		reply_chunk(r, m, false); /* tell the leader where we are */
		return;
	}
	if (outbox_pending(&r->out)->has_chunk)
		return; /* one chunk per update; the leader resends this one */
	outbox_chunk(&r->out, &r->recv.meta, s->offset, s->data, s->len, s->last);
	r->recv.offset += s->len;
	if (s->last)
		r->recv.awaiting_install = true;
	else
		reply_chunk(r, m, false);
}

void rc_snapshot_installed(struct rc_replica *r, rc_index index, rc_term term)
{
	if (!r->recv.awaiting_install || r->recv.meta.index != index || r->recv.meta.term != term)
		return;
	struct rc_snapshot_meta meta = r->recv.meta;
	memset(&r->recv, 0, sizeof(r->recv));
	rc_term t;
	if (rlog_term_at(&r->log, index, &t) && t == term && index > r->log.prev_index) {
		/* Raft Figure 13, step 6: the log holds the snapshot's last
		 * entry, so the entries after it stay (they may have been
		 * acknowledged); only the prefix goes. */
		rlog_compact(&r->log, index, &r->out);
		if (r->durable < index)
			r->durable = index;
	} else {
		outbox_drop_entries(&r->out);
		rlog_reset(&r->log, index, term, &r->out);
		r->durable = index;
	}
	r->snap = meta;
	if (r->cfg_index <= index || r->cfg_index > rlog_last_index(&r->log)) {
		/* Unless a configuration entry after the snapshot survived in
		 * the kept log, the snapshot's is the newest. */
		r->cfg = meta.membership;
		r->cfg_index = index;
		outbox_pending(&r->out)->membership_changed = true;
	}
	if (r->commit < index)
		r->commit = index;
	r->applied_emitted = index;
	if (r->leader)
		rp_reply_append_success(r, r->leader, index);
}
