/*
 * Leader election (Raft 5.2, 5.4.1) with PreVote (dissertation 9.6).
 *
 * Rules kept here:
 * - One vote per term: a vote is granted only if none was given this term
 *   (or it was given to the same candidate), and the grant leaves as an
 *   after-persist message, so the vote is durable before anyone sees it.
 * - A vote goes only to a candidate whose log is at least as up to date as
 *   ours (5.4.1: last term, then last index).
 * - A PreVote changes no state on either side: the pre-candidate asks with
 *   term+1 without incrementing its term; a voter answers as it would vote.
 * - A candidate's own requests leave after its new term and self-vote are
 *   durable, so a crash cannot make it vote twice in that term; and it
 *   counts its own vote only through a vote response addressed to itself,
 *   released after that persist too, so not even a single voter leads a
 *   term it could forget in a crash.
 */
#include <assert.h>

#include "replica.h"

static bool contains(const rc_id *ids, uint32_t n, rc_id id)
{
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static uint32_t count_voters(const struct rc_replica *r, const rc_id *ids, uint32_t n)
{
	uint32_t c = 0;
	for (uint32_t i = 0; i < n; i++)
		if (rp_is_voter(r, ids[i]))
			c++;
	return c;
}

static bool log_up_to_date(const struct rc_replica *r, rc_term last_term, rc_index last_index)
{
#ifdef RC_MUTANT_VOTE_STALE_LOG
	(void)r;
	(void)last_term;
	(void)last_index;
	return true;
#else
	rc_term my_term = rlog_last_term(&r->log);
	if (last_term != my_term)
		return last_term > my_term;
	return last_index >= rlog_last_index(&r->log);
#endif
}

static void tally_and_decide(struct rc_replica *r);

void rp_campaign(struct rc_replica *r, bool prevote, bool transfer)
{
	rc_term campaign_term = r->term + 1;
	if (prevote) {
		rp_set_role(r, RC_PRECANDIDATE);
	} else {
		rp_set_hard_state(r, campaign_term, r->o.id);
		rp_set_role(r, RC_CANDIDATE);
	}
	rp_set_leader(r, 0);
	r->n_granted = r->n_rejected = 0;
	rp_reset_election_timer(r);
	if (prevote) {
		r->granted[r->n_granted++] = r->o.id; /* a PreVote changes nothing */
	} else {
		struct rc_message *self = rp_msg(r, RC_MSG_VOTE_RESP, r->o.id, true);
		self->u.vote_resp.granted = true;
	}

	for (uint32_t i = 0; i < r->cfg.n; i++) {
		const struct rc_member *mb = &r->cfg.members[i];
		if (mb->id == r->o.id || !mb->voter)
			continue;
		struct rc_message *m = rp_msg(r, RC_MSG_VOTE, mb->id, true);
		m->term = campaign_term;
		m->u.vote.prevote = prevote;
		m->u.vote.transfer = transfer;
		m->u.vote.last_index = rlog_last_index(&r->log);
		m->u.vote.last_term = rlog_last_term(&r->log);
	}
	tally_and_decide(r);
}

static void tally_and_decide(struct rc_replica *r)
{
	uint32_t quorum = rp_quorum(r);
	if (count_voters(r, r->granted, r->n_granted) >= quorum) {
		if (r->role == RC_PRECANDIDATE)
			rp_campaign(r, false, false);
		else if (r->role == RC_CANDIDATE)
			rp_become_leader(r);
		return;
	}
	if (count_voters(r, r->rejected, r->n_rejected) >= quorum)
		rp_become_follower(r, r->term, 0);
}

void rp_handle_vote(struct rc_replica *r, const struct rc_message *m)
{
	const struct rc_msg_vote *v = &m->u.vote;
	bool grant;
	if (v->prevote) {
		/* Grant a PreVote when we would grant the vote: the term is ahead
		 * and the log up to date; the lease was checked in handle_term. */
		grant = m->term > r->term && log_up_to_date(r, v->last_term, v->last_index);
	} else {
		assert(m->term == r->term);
#ifdef RC_MUTANT_DOUBLE_VOTE
		bool free_vote = true;
#else
		bool free_vote = r->vote == 0 || r->vote == m->from;
#endif
		bool can_vote = free_vote && (r->leader == 0 || r->vote == m->from);
		grant = can_vote && log_up_to_date(r, v->last_term, v->last_index);
		if (grant) {
			rp_set_hard_state(r, r->term, m->from);
			rp_reset_election_timer(r);
		}
	}
	struct rc_message *resp = rp_msg(r, RC_MSG_VOTE_RESP, m->from, true);
	resp->term = grant && v->prevote ? m->term : r->term;
	resp->u.vote_resp.prevote = v->prevote;
	resp->u.vote_resp.granted = grant;
}

void rp_handle_vote_resp(struct rc_replica *r, const struct rc_message *m)
{
	const struct rc_msg_vote_resp *v = &m->u.vote_resp;
	bool relevant = (r->role == RC_PRECANDIDATE && v->prevote) ||
			(r->role == RC_CANDIDATE && !v->prevote && m->term == r->term);
	if (!relevant)
		return;
	if (v->prevote && v->granted && m->term != r->term + 1)
		return; /* an answer to an older round */
	if (contains(r->granted, r->n_granted, m->from) ||
	    contains(r->rejected, r->n_rejected, m->from) || r->n_granted >= RC_MAX_MEMBERS ||
	    r->n_rejected >= RC_MAX_MEMBERS)
		return;
	if (v->granted)
		r->granted[r->n_granted++] = m->from;
	else
		r->rejected[r->n_rejected++] = m->from;
	tally_and_decide(r);
}

/* Raft 5.2 and 8: a new leader appends a no-op of its own term; it commits
 * nothing of earlier terms until that entry commits (5.4.2). */
void rp_become_leader(struct rc_replica *r)
{
	rp_set_role(r, RC_LEADER);
	rp_set_leader(r, r->o.id);
	r->n_granted = r->n_rejected = 0;
	r->transfer_to = 0;
	r->hb_seq = 0;
	r->last_leader_contact = r->now;
	r->next_heartbeat = r->now; /* announce at once */
	r->next_quorum_check = r->now + r->o.election_timeout_ms;
	r->n_progress = 0;
	rp_sync_progress(r);
	rp_append_local(r, RC_ENTRY_NOOP, NULL, 0);
	r->noop_index = rlog_last_index(&r->log);
	rp_heartbeat_tick(r);
	r->next_heartbeat = r->now + r->o.heartbeat_ms;
}
