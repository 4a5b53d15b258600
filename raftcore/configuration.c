/*
 * Cluster membership (dissertation 4.1: single-server changes).
 *
 * Rules kept here:
 * - A server uses the newest configuration in its log, committed or not;
 *   when that entry is truncated away it falls back to the one before.
 * - The leader allows one change at a time (the previous configuration
 *   entry must be committed) and none before an entry of its own term has
 *   committed (the fix to the single-server change described on raft-dev,
 *   dissertation 4.1 errata).
 * - A new server joins as a non-voter and is promoted by the leader once it
 *   has caught up with the commit index, so it cannot stall commits.
 * - A leader that is not in the configuration it committed steps down.
 */
#include <string.h>

#include "replica.h"
#include "util.h"

bool rp_is_voter(const struct rc_replica *r, rc_id id)
{
	const struct rc_member *m = rc_membership_find(&r->cfg, id);
	return m && m->voter;
}

/* Dissertation 4.2.2: a server that is not part of its own latest
 * configuration should still start elections while that configuration is
 * uncommitted: the servers of the previous one may need it (a leader that
 * removed itself and lost leadership before the removal committed). */
bool rp_may_campaign(const struct rc_replica *r)
{
	if (rp_is_voter(r, r->o.id))
		return true;
	if (r->cfg_index <= r->commit || r->cfg_index == 0)
		return false;
	struct rc_membership prev;
	rp_config_at(r, r->cfg_index - 1, &prev);
	const struct rc_member *m = rc_membership_find(&prev, r->o.id);
	return m && m->voter;
}

uint32_t rp_voter_count(const struct rc_replica *r)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->cfg.n; i++)
		if (r->cfg.members[i].voter)
			n++;
	return n;
}

uint32_t rp_quorum(const struct rc_replica *r)
{
	return rp_voter_count(r) / 2 + 1;
}

static void adopt(struct rc_replica *r, const struct rc_membership *m, rc_index index)
{
	r->cfg = *m;
	r->cfg_index = index;
	outbox_pending(&r->out)->membership_changed = true;
	if (r->role == RC_LEADER)
		rp_sync_progress(r);
}

void rp_config_after_append(struct rc_replica *r, const struct rc_entry *e)
{
	struct rc_membership m;
	if (e->type != RC_ENTRY_CONFIG)
		return;
	if (rc_membership_decode(e->data, e->len, &m) != 0)
		return; /* proposals are validated; a bad one changes nothing */
	adopt(r, &m, e->index);
}

/* The configuration in force at index: the newest config entry at or below
 * it, else the snapshot's (valid for index >= the snapshot's index). */
void rp_config_at(const struct rc_replica *r, rc_index index, struct rc_membership *out)
{
	for (rc_index i = index; i > r->log.prev_index; i--) {
		const struct rc_entry *e = rlog_get(&r->log, i);
		if (e && e->type == RC_ENTRY_CONFIG &&
		    rc_membership_decode(e->data, e->len, out) == 0)
			return;
	}
	*out = r->snap.membership;
}

void rp_config_after_truncate(struct rc_replica *r)
{
	rc_index last = rlog_last_index(&r->log);
	if (r->cfg_index <= last)
		return;
	struct rc_membership m;
	rp_config_at(r, last, &m);
	rc_index idx = r->snap.index;
	for (rc_index i = last; i > r->log.prev_index; i--) {
		const struct rc_entry *e = rlog_get(&r->log, i);
		if (e->type == RC_ENTRY_CONFIG) {
			idx = i;
			break;
		}
	}
	adopt(r, &m, idx);
}

/* The leader keeps one progress per other member of the configuration. */
void rp_sync_progress(struct rc_replica *r)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < r->n_progress; i++) {
		if (rc_membership_find(&r->cfg, r->progress[i].id))
			r->progress[k++] = r->progress[i];
		else
			rp_progress_free(&r->progress[i]);
	}
	r->n_progress = k;
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		rc_id id = r->cfg.members[i].id;
		if (id == r->o.id || rp_progress(r, id))
			continue;
		struct progress *pr = &r->progress[r->n_progress++];
		rp_progress_reset(pr, id, rlog_last_index(&r->log) + 1);
		pr->last_contact = r->now;
		pr->recent_active = true; /* a newcomer gets one CheckQuorum round */
	}
}

static bool change_in_flight(const struct rc_replica *r)
{
	return r->cfg_index > r->commit;
}

static void append_config(struct rc_replica *r, const struct rc_membership *m)
{
	uint8_t buf[sizeof(struct rc_membership) + 64];
	int len = rc_membership_encode(m, buf, sizeof(buf));
	if (len < 0)
		return;
	rp_append_local(r, RC_ENTRY_CONFIG, buf, (uint32_t)len);
}

void rp_maybe_promote(struct rc_replica *r)
{
	if (r->role != RC_LEADER || change_in_flight(r) || r->transfer_to ||
	    !rp_own_term_committed(r))
		return;
	for (uint32_t i = 0; i < r->cfg.n; i++) {
		struct rc_member *mb = &r->cfg.members[i];
		if (mb->voter)
			continue;
		struct progress *pr = rp_progress(r, mb->id);
		if (!pr || pr->match < r->commit)
			continue;
		struct rc_membership next = r->cfg;
		next.members[i].voter = true;
		append_config(r, &next);
		return;
	}
}

void rp_maybe_step_down_removed(struct rc_replica *r)
{
	if (r->role == RC_LEADER && !rc_membership_find(&r->cfg, r->o.id) &&
	    r->commit >= r->cfg_index)
		rp_become_follower(r, r->term, 0);
}

int rc_change_membership(struct rc_replica *r, enum rc_change kind, const struct rc_member *member,
			 rc_index *index)
{
	if (r->role != RC_LEADER)
		return -RC_ENOTLEADER;
	if (r->transfer_to)
		return -RC_ETRANSFER;
	if (!rp_own_term_committed(r))
		return -RC_ENOTREADY;
	if (change_in_flight(r))
		return -RC_EBUSY;
	if (!member || member->id == 0)
		return -RC_EINVAL;
	struct rc_membership next = r->cfg;
	struct rc_member *found = NULL;
	for (uint32_t i = 0; i < next.n; i++)
		if (next.members[i].id == member->id)
			found = &next.members[i];
	switch (kind) {
	case RC_ADD:
		if (found || next.n >= RC_MAX_MEMBERS ||
		    strnlen(member->addr, RC_ADDR_MAX) == RC_ADDR_MAX)
			return -RC_EINVAL;
		next.members[next.n] = *member;
		next.members[next.n].voter = false;
		next.n++;
		break;
	case RC_PROMOTE:
		if (!found)
			return -RC_ENOTFOUND;
		if (found->voter)
			return -RC_EINVAL;
		found->voter = true;
		break;
	case RC_REMOVE:
		if (!found)
			return -RC_ENOTFOUND;
		if (found->voter && rp_voter_count(r) == 1)
			return -RC_EINVAL; /* the last voter cannot leave */
		*found = next.members[next.n - 1];
		next.n--;
		break;
	default:
		return -RC_EINVAL;
	}
	append_config(r, &next);
	if (index)
		*index = rlog_last_index(&r->log);
	return 0;
}
