/*
 * Leadership transfer (dissertation 3.10): the leader stops taking
 * proposals, brings the target's log up to date, then sends it TimeoutNow;
 * the target campaigns at once, and its vote requests say so, so voters
 * that still hear from the old leader do not refuse them. A transfer that
 * has not completed within an election timeout is abandoned.
 */
#include "replica.h"

int rc_transfer_leadership(struct rc_replica *r, rc_id to)
{
	if (r->role != RC_LEADER)
		return -RC_ENOTLEADER;
	if (to == r->o.id)
		return 0;
	struct progress *pr = rp_progress(r, to);
	if (!pr || !rp_is_voter(r, to))
		return -RC_ENOTFOUND;
	r->transfer_to = to;
	r->transfer_deadline = r->now + r->o.election_timeout_ms;
	rp_transfer_check(r, pr);
	return 0;
}

void rp_transfer_check(struct rc_replica *r, struct progress *pr)
{
	if (r->transfer_to != pr->id || pr->match != rlog_last_index(&r->log))
		return;
	rp_msg(r, RC_MSG_TIMEOUT_NOW, pr->id, false);
}

void rp_transfer_tick(struct rc_replica *r)
{
	if (r->transfer_to && r->now >= r->transfer_deadline)
		r->transfer_to = 0;
}

void rp_handle_timeout_now(struct rc_replica *r, const struct rc_message *m)
{
	if (r->role != RC_FOLLOWER || m->from != r->leader || !rp_is_voter(r, r->o.id) ||
	    r->recv.awaiting_install)
		return; /* only our leader may hand leadership to us */
	rp_campaign(r, false, true);
}
