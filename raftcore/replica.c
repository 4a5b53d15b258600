/*
 * The Replica's life cycle, event dispatch, timers and role changes. The
 * protocol rules themselves live in election.c, replication.c,
 * read_index.c, configuration.c, snapshot.c and transfer.c.
 *
 * Role transitions (asserted in rp_set_role):
 *   follower -> precandidate -> candidate -> leader, any -> follower,
 *   follower -> candidate (TimeoutNow, or PreVote off), and a new round:
 *   precandidate -> precandidate, candidate -> candidate | precandidate.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "membership.h"
#include "replica.h"
#include "util.h"

void rc_options_default(struct rc_options *o, rc_id id, uint64_t seed)
{
	*o = (struct rc_options){
	    .id = id,
	    .seed = seed,
	    .election_timeout_ms = 1000,
	    .heartbeat_ms = 100,
	    .max_append_entries = 1024,
	    .max_append_bytes = 1u << 20,
	    .max_inflight = 64,
	    .snapshot_chunk_bytes = 1u << 20,
	    .snapshot_trailing = 1024,
	    .prevote = true,
	    .check_quorum = true,
	};
}

/* splitmix64: small, fast and good enough to spread election timeouts. */
uint64_t rp_random(struct rc_replica *r)
{
	uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Raft 5.2: a randomized timeout in [T, 2T) so split votes are rare. */
void rp_reset_election_timer(struct rc_replica *r)
{
	uint64_t t = r->o.election_timeout_ms;
	r->election_deadline = r->now + t + rp_random(r) % t;
}

/* Dissertation 4.2.3 / 9.6: while a follower hears from a leader within an
 * election timeout, it ignores (pre)vote requests, so a partitioned or
 * removed server cannot disrupt a working cluster. */
bool rp_lease_active(const struct rc_replica *r)
{
	if (!r->o.check_quorum || r->leader == 0 || r->leader_unreachable)
		return false;
	return r->now < r->last_leader_contact + r->o.election_timeout_ms;
}

void rp_set_role(struct rc_replica *r, enum rc_role role)
{
	enum rc_role from = r->role;
	assert(role == RC_FOLLOWER || (from == RC_FOLLOWER && role != RC_LEADER) ||
	       (from == RC_PRECANDIDATE && (role == RC_CANDIDATE || role == RC_PRECANDIDATE)) ||
	       (from == RC_CANDIDATE && role != RC_FOLLOWER));
	if (from != role)
		outbox_pending(&r->out)->role_changed = true;
	r->role = role;
}

void rp_set_hard_state(struct rc_replica *r, rc_term term, rc_id vote)
{
	assert(term >= r->term);
	if (term == r->term && vote == r->vote)
		return;
	r->term = term;
	r->vote = vote;
	struct outbox_gen *g = outbox_pending(&r->out);
	g->hs_changed = true;
	g->hs = (struct rc_hard_state){term, vote};
}

static void leave_leadership(struct rc_replica *r)
{
	rp_reads_fail_all(r, -RC_ELEADERLOST);
	for (uint32_t i = 0; i < r->n_progress; i++)
		rp_progress_free(&r->progress[i]);
	r->n_progress = 0;
	r->transfer_to = 0;
	r->noop_index = 0;
}

void rp_set_leader(struct rc_replica *r, rc_id leader)
{
	if (leader == r->leader)
		return;
	rp_fail_forwarded_reads(r, -RC_ELEADERLOST);
	outbox_pending(&r->out)->role_changed = true;
	r->leader = leader;
	r->leader_unreachable = false;
}

void rp_become_follower(struct rc_replica *r, rc_term term, rc_id leader)
{
	if (r->role == RC_LEADER)
		leave_leadership(r);
	if (term > r->term)
		rp_set_hard_state(r, term, 0);
	rp_set_leader(r, leader);
	r->leader_unreachable = false;
	if (leader)
		r->last_leader_contact = r->now;
	rp_set_role(r, RC_FOLLOWER);
	r->n_granted = r->n_rejected = 0;
	rp_reset_election_timer(r);
}

static int check_boot(const struct rc_options *o, const struct rc_boot *b, char *errmsg)
{
	const char *why = NULL;
	if (o->id == 0)
		why = "node id must be non-zero";
	else if (o->election_timeout_ms < 2 || o->heartbeat_ms == 0 ||
		 o->heartbeat_ms >= o->election_timeout_ms)
		why = "need 0 < heartbeat_ms < election_timeout_ms";
	else if (o->max_append_entries == 0 || o->max_inflight == 0 || o->max_append_bytes == 0 ||
		 o->snapshot_chunk_bytes == 0)
		why = "append, inflight and chunk limits must be non-zero";
	else if (membership_wire_check(&b->snapshot.membership) != 0)
		why = "bad membership (too many members, a zero or repeated id, or an unterminated "
		      "address)";
	else if (b->snapshot.term > b->hard_state.term)
		why = "snapshot term above the persisted term";
	else if (b->applied > b->snapshot.index + b->n_entries)
		why = "applied index beyond the log";
	for (size_t i = 0; !why && i < b->n_entries; i++) {
		if (b->entries[i].index != b->snapshot.index + 1 + i)
			why = "boot entries are not contiguous after the snapshot";
		else if (b->entries[i].term < (i ? b->entries[i - 1].term : b->snapshot.term))
			why = "boot entry terms decrease";
		else if (b->entries[i].term > b->hard_state.term)
			why = "boot entry term above the persisted term";
	}
	if (!why)
		return 0;
	if (errmsg)
		snprintf(errmsg, 256, "%s", why);
	return -RC_EINVAL;
}

struct rc_replica *rc_replica_new(const struct rc_options *opts, const struct rc_boot *boot,
				  char *errmsg)
{
	if (check_boot(opts, boot, errmsg) != 0)
		return NULL;
	struct rc_replica *r = calloc(1, sizeof(*r));
	if (!r) {
		if (errmsg)
			snprintf(errmsg, 256, "out of memory");
		return NULL;
	}
	r->o = *opts;
	r->rng = opts->seed ^ (opts->id * 0x2545F4914F6CDD1Dull);
	r->role = RC_FOLLOWER;
	r->term = boot->hard_state.term;
	r->vote = boot->hard_state.vote;
	outbox_init(&r->out);
	r->snap = boot->snapshot;
	rlog_init(&r->log, boot->snapshot.index, boot->snapshot.term);
	r->cfg = boot->snapshot.membership;
	r->cfg_index = boot->snapshot.index;
	for (size_t i = 0; i < boot->n_entries; i++) {
		const struct rc_entry *e = &boot->entries[i];
		rlog_append(&r->log, e->term, e->type, e->data, e->len);
		rp_config_after_append(r, rlog_get(&r->log, e->index));
	}
	/* Everything handed in was durable; the applied prefix was committed. */
	r->durable = rlog_last_index(&r->log);
	r->commit = boot->applied > r->snap.index ? boot->applied : r->snap.index;
	r->applied_emitted = r->commit;
	outbox_pending(&r->out)->membership_changed = false;
	rp_reset_election_timer(r);
	return r;
}

void rc_replica_free(struct rc_replica *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n_progress; i++)
		rp_progress_free(&r->progress[i]);
	rlog_free(&r->log);
	outbox_free(&r->out);
	free(r->reads);
	free(r->fwd_reads);
	free(r);
}

struct rc_message *rp_msg(struct rc_replica *r, uint8_t type, rc_id to, bool after_persist)
{
	struct rc_message *m = outbox_msg(&r->out, after_persist);
	m->type = type;
	m->from = r->o.id;
	m->to = to;
	m->term = r->term;
	return m;
}

/* A stale message from an old leader gets an answer carrying our term, so
 * that leader learns it is deposed (with CheckQuorum and PreVote it might
 * otherwise never see a higher term). */
static void answer_stale(struct rc_replica *r, const struct rc_message *m)
{
	if (m->type == RC_MSG_APPEND || m->type == RC_MSG_SNAPSHOT) {
		struct rc_message *resp = rp_msg(r, RC_MSG_APPEND_RESP, m->from, true);
		resp->u.append_resp.success = false;
		resp->u.append_resp.reject_index = 0;
	} else if (m->type == RC_MSG_VOTE && m->u.vote.prevote) {
		struct rc_message *resp = rp_msg(r, RC_MSG_VOTE_RESP, m->from, true);
		resp->u.vote_resp.prevote = true;
		resp->u.vote_resp.granted = false;
	}
}

/* Raft 5.1: a higher term makes us a follower, except for the messages that
 * must not disturb a healthy leader (dissertation 9.6). Returns false when
 * the message is to be dropped. */
static bool handle_term(struct rc_replica *r, const struct rc_message *m)
{
	if (m->term < r->term) {
		answer_stale(r, m);
		return false;
	}
	if (m->term == r->term)
		return true;
	if (m->type == RC_MSG_VOTE) {
		if (rp_lease_active(r) && !m->u.vote.transfer)
			return false;
		if (m->u.vote.prevote)
			return true; /* a PreVote never changes our term */
	}
	if (m->type == RC_MSG_VOTE_RESP && m->u.vote_resp.prevote && m->u.vote_resp.granted)
		return true; /* carries the term we would campaign in */
	bool from_leader =
	    m->type == RC_MSG_APPEND || m->type == RC_MSG_SNAPSHOT || m->type == RC_MSG_TIMEOUT_NOW;
	rp_become_follower(r, m->term, from_leader ? m->from : 0);
	return true;
}

int rc_step(struct rc_replica *r, const struct rc_message *m)
{
	bool self_vote = m->type == RC_MSG_VOTE_RESP && m->from == r->o.id;
	if (m->type < 1 || m->type > RC_MSG_TYPE_MAX || m->to != r->o.id || m->from == 0 ||
	    (m->from == r->o.id && !self_vote))
		return -RC_EINVAL;
	if (!handle_term(r, m))
		return 0;
	switch (m->type) {
	case RC_MSG_APPEND:
		rp_handle_append(r, m);
		break;
	case RC_MSG_APPEND_RESP:
		rp_handle_append_resp(r, m);
		break;
	case RC_MSG_VOTE:
		rp_handle_vote(r, m);
		break;
	case RC_MSG_VOTE_RESP:
		rp_handle_vote_resp(r, m);
		break;
	case RC_MSG_SNAPSHOT:
		rp_handle_snapshot(r, m);
		break;
	case RC_MSG_SNAPSHOT_RESP:
		rp_handle_snapshot_resp(r, m);
		break;
	case RC_MSG_TIMEOUT_NOW:
		rp_handle_timeout_now(r, m);
		break;
	case RC_MSG_READ_INDEX:
		rp_handle_read_index(r, m);
		break;
	case RC_MSG_READ_INDEX_RESP:
		rp_handle_read_index_resp(r, m);
		break;
	}
	return 0;
}

/* Dissertation 6.2: a leader that cannot reach a majority within an election
 * timeout steps down, so clients are not stuck with it. */
static void check_quorum(struct rc_replica *r)
{
	uint32_t active = rp_is_voter(r, r->o.id) ? 1 : 0;
	for (uint32_t i = 0; i < r->n_progress; i++) {
		struct progress *pr = &r->progress[i];
		if (pr->recent_active && rp_is_voter(r, pr->id))
			active++;
		pr->recent_active = false;
	}
#ifndef RC_MUTANT_NO_CHECK_QUORUM
	if (r->o.check_quorum && active < rp_quorum(r)) {
		rp_become_follower(r, r->term, 0);
		return;
	}
#endif
	r->last_leader_contact = r->now;
}

void rc_tick(struct rc_replica *r, uint64_t now_ms)
{
	if (now_ms < r->now)
		return;
	if (!r->clock_started) {
		/* The first tick tells the time: timers start from it. A sole
		 * voter has nobody to wait for and campaigns at once. */
		r->clock_started = true;
		r->now = now_ms;
		rp_reset_election_timer(r);
		if (rp_voter_count(r) == 1 && rp_is_voter(r, r->o.id))
			r->election_deadline = now_ms;
	}
	r->now = now_ms;
	if (r->role == RC_LEADER) {
		if (r->now >= r->next_quorum_check) {
			r->next_quorum_check = r->now + r->o.election_timeout_ms;
			check_quorum(r);
			if (r->role != RC_LEADER)
				return;
		}
		rp_transfer_tick(r);
		if (r->now >= r->next_heartbeat) {
			r->next_heartbeat = r->now + r->o.heartbeat_ms;
			rp_heartbeat_tick(r);
		}
		return;
	}
	if (r->n_fwd_reads)
		rp_expire_forwarded_reads(r);
	if (r->now >= r->election_deadline) {
		rp_reset_election_timer(r);
		/* A server installing a snapshot has no log to campaign with. */
		if (rp_may_campaign(r) && !r->recv.awaiting_install)
			rp_campaign(r, r->o.prevote, false);
	}
}

/* A hint from the caller: its connection to `id` broke (a process that
 * died closes its sockets at once). If that is our leader, we stop
 * honouring its lease and time out soon, after a short random delay so the
 * followers do not all campaign at the same moment. Safety does not depend
 * on the hint: PreVote still needs a majority that no longer hears the
 * leader, and a wrong hint costs at most one PreVote round. */
void rc_peer_unreachable(struct rc_replica *r, rc_id id)
{
	if (r->role != RC_FOLLOWER || id == 0 || id != r->leader || r->leader_unreachable)
		return;
	r->leader_unreachable = true;
	uint64_t spread = r->o.election_timeout_ms / 4 + 1;
	uint64_t deadline = r->now + r->o.heartbeat_ms + rp_random(r) % spread;
	if (deadline < r->election_deadline)
		r->election_deadline = deadline;
}

int rc_propose(struct rc_replica *r, const void *data, uint32_t len, rc_index *index, rc_term *term)
{
	if (r->role != RC_LEADER)
		return -RC_ENOTLEADER;
	if (r->transfer_to)
		return -RC_ETRANSFER;
	if (len > RC_MAX_ENTRY_BYTES)
		return -RC_ETOOBIG;
	rp_append_local(r, RC_ENTRY_COMMAND, data, len);
	if (index)
		*index = rlog_last_index(&r->log);
	if (term)
		*term = r->term;
	return 0;
}

void rc_take_update(struct rc_replica *r, struct rc_update *u)
{
	if (r->role == RC_LEADER) {
		rp_reads_flush(r);
		rp_flush_appends(r);
	}
	outbox_take(&r->out, u);
	u->role = r->role;
	u->leader = r->leader;
}

enum rc_role rc_role(const struct rc_replica *r)
{
	return r->role;
}

rc_id rc_id_of(const struct rc_replica *r)
{
	return r->o.id;
}

rc_id rc_leader(const struct rc_replica *r)
{
	return r->leader;
}

rc_term rc_term_of(const struct rc_replica *r)
{
	return r->term;
}

rc_id rc_vote_of(const struct rc_replica *r)
{
	return r->vote;
}

rc_index rc_commit_index(const struct rc_replica *r)
{
	return r->commit;
}

rc_index rc_last_index(const struct rc_replica *r)
{
	return rlog_last_index(&r->log);
}

rc_index rc_first_index(const struct rc_replica *r)
{
	return r->log.prev_index + 1;
}

rc_index rc_snapshot_index(const struct rc_replica *r)
{
	return r->snap.index;
}

const struct rc_entry *rc_entry_at(const struct rc_replica *r, rc_index index)
{
	return rlog_get(&r->log, index);
}

const struct rc_membership *rc_membership(const struct rc_replica *r)
{
	return &r->cfg;
}

size_t rc_progress(const struct rc_replica *r, struct rc_progress_info *out, size_t cap)
{
	size_t n = 0;
	if (r->role != RC_LEADER)
		return 0;
	for (uint32_t i = 0; i < r->n_progress && n < cap; i++) {
		const struct progress *pr = &r->progress[i];
		out[n++] = (struct rc_progress_info){
		    .id = pr->id,
		    .match_index = pr->match,
		    .next_index = pr->next,
		    .last_contact_ms = r->now - pr->last_contact,
		};
	}
	return n;
}
