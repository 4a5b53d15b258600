/*
 * Leader election rules of the Replica (raftcore/election.c, replica.c),
 * one test per rule, driven by hand through the harness:
 * - Randomized election timeouts. Raft paper 5.2: "election timeouts are
 *   chosen randomly from a fixed interval (e.g., 150-300ms)"; here [T, 2T).
 * - PreVote, dissertation 9.6: a candidate first asks whether the others
 *   would vote for it (term + 1, its log up to date), and increments its
 *   term only once a majority says yes; so a partitioned server that
 *   rejoins cannot force the leader to step down.
 * - CheckQuorum, dissertation 6.2: "a leader steps down if an election
 *   timeout elapses without a successful round of heartbeats to a majority".
 * - Vote lease, dissertation 4.2.3: "if a server receives a RequestVote
 *   request within the minimum election timeout of hearing from a current
 *   leader, it does not update its term or grant its vote".
 * - One vote per term, paper 5.2 and Figure 2: "each server will vote for
 *   at most one candidate in a given term", votedFor is persistent state.
 * - Up-to-date check, paper 5.4.1: the voter "denies its vote if its own
 *   log is more up-to-date than that of the candidate" (last term, then
 *   length).
 * - Persistence ordering, Figure 2 ("updated on stable storage before
 *   responding to RPCs") and dissertation 10.2.1: the vote grant leaves in
 *   msgs_after_persist, with the hard state holding the vote in the same
 *   update.
 * - The leader-loss hint (rc_peer_unreachable, raftcore.h): a follower told
 *   that its connection to its leader broke stops honouring the leader's
 *   lease and times out after heartbeat + a random delay of at most T/4,
 *   instead of [T, 2T). It is only a hint: about any other peer, or to a
 *   leader, it changes nothing, and a follower told alone still needs a
 *   PreVote majority, which followers still hearing the leader refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rc_harness.h"

#define T 100 /* h_init's election timeout */
#define HB 10 /* h_init's heartbeat */

static struct rc_message vote_req(rc_id from, rc_id to, rc_term term, bool prevote,
				  rc_index last_index, rc_term last_term)
{
	struct rc_message m = {.type = RC_MSG_VOTE, .from = from, .to = to, .term = term};
	m.u.vote.prevote = prevote;
	m.u.vote.last_index = last_index;
	m.u.vote.last_term = last_term;
	return m;
}

/* The queued VOTE_RESP from -> to: 1 granted, 0 refused, -1 none. */
static int vote_answer(struct h_cluster *c, rc_id from, rc_id to)
{
	long i = h_find_msg(c, RC_MSG_VOTE_RESP, from, to);
	if (i < 0)
		return -1;
	return c->msgs[i].m.u.vote_resp.granted ? 1 : 0;
}

/* Ticks node id 1 ms at a time until it leaves the follower role or sends
 * a new round of vote requests; returns the elapsed time. */
static uint64_t ms_until_campaign(struct h_cluster *c, rc_id id)
{
	size_t sent = h_count_msgs(c, RC_MSG_VOTE, id, 0);
	enum rc_role role = rc_role(h_r(c, id));
	for (uint64_t t = 1; t <= 10 * T; t++) {
		h_tick(c, id, 1);
		if (rc_role(h_r(c, id)) != role || h_count_msgs(c, RC_MSG_VOTE, id, 0) > sent)
			return t;
	}
	return 0;
}

static void election_timeout_is_random_within_t_and_2t(void **state)
{
	(void)state;
	struct h_cluster c;
	/* Two replicas of one cluster (different seeds) time out at
	 * different moments, both in [T, 2T). */
	h_init(&c, 3, 1);
	uint64_t t1 = ms_until_campaign(&c, 1);
	uint64_t t2 = ms_until_campaign(&c, 2);
	assert_true(t1 >= T && t1 < 2 * T);
	assert_true(t2 >= T && t2 < 2 * T);
	assert_true(t1 != t2);
	/* The next round's timeout is drawn afresh, in the same range. */
	uint64_t again = ms_until_campaign(&c, 1);
	assert_true(again >= T && again < 2 * T);
	h_free(&c);

	/* Over many seeds: always in range, and spread out. */
	bool seen[2 * T] = {false};
	int distinct = 0;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		h_init(&c, 3, seed);
		uint64_t t = ms_until_campaign(&c, 1);
		assert_true(t >= T && t < 2 * T);
		if (!seen[t]) {
			seen[t] = true;
			distinct++;
		}
		h_free(&c);
	}
	assert_true(distinct >= 10);
}

static void precandidate_does_not_bump_its_term(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 7);
	h_tick(&c, 1, 2 * T);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_PRECANDIDATE);
	assert_int_equal(rc_term_of(h_r(&c, 1)), 0);
	assert_int_equal(rc_vote_of(h_r(&c, 1)), 0);
	assert_int_equal(h_node(&c, 1)->hs.term, 0);
	/* It asks with term + 1, flagged as a PreVote. */
	assert_int_equal(h_count_msgs(&c, RC_MSG_VOTE, 1, 0), 2);
	for (size_t i = 0; i < c.n_msgs; i++) {
		assert_true(c.msgs[i].m.u.vote.prevote);
		assert_int_equal(c.msgs[i].m.term, 1);
	}
	/* Unanswered rounds leave the term alone too. */
	for (int round = 0; round < 5; round++) {
		h_clear_msgs(&c);
		h_tick(&c, 1, 2 * T);
		assert_int_equal(rc_role(h_r(&c, 1)), RC_PRECANDIDATE);
		assert_int_equal(rc_term_of(h_r(&c, 1)), 0);
		assert_int_equal(h_node(&c, 1)->hs.term, 0);
	}
	/* A voter granting a PreVote changes no state either. */
	h_deliver_matching(&c, RC_MSG_VOTE, 1, 2);
	assert_int_equal(vote_answer(&c, 2, 1), 1);
	assert_int_equal(rc_term_of(h_r(&c, 2)), 0);
	assert_int_equal(rc_vote_of(h_r(&c, 2)), 0);
	h_free(&c);
}

static void partitioned_node_rejoining_does_not_disrupt_leader(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	rc_term term = rc_term_of(h_r(&c, 1));
	h_isolate(&c, 3, true);
	h_run(&c, 10 * T, 10); /* node 3 times out again and again */
	assert_int_equal(rc_term_of(h_r(&c, 3)), term);
	h_isolate(&c, 3, false);
	h_run(&c, 5 * T, 10);
	assert_int_equal(h_leader(&c), 1);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);
	assert_int_equal(rc_term_of(h_r(&c, 1)), term);
	assert_int_equal(rc_term_of(h_r(&c, 3)), term);
	assert_int_equal(rc_leader(h_r(&c, 3)), 1);
	h_free(&c);
}

static void leader_hearing_from_no_majority_steps_down(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 4);
	h_elect(&c, 1);
	rc_term term = rc_term_of(h_r(&c, 1));
	h_isolate(&c, 1, true);
	uint64_t waited = 0;
	while (rc_role(h_r(&c, 1)) == RC_LEADER && waited < 10 * T) {
		h_tick(&c, 1, 10);
		waited += 10;
	}
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	/* One full timeout of silence is enough, and it took at least one. */
	assert_true(waited <= 2 * T + 10);
	assert_true(waited >= T - 30);
	assert_int_equal(rc_term_of(h_r(&c, 1)), term);
	assert_int_equal(rc_leader(h_r(&c, 1)), 0);
	h_free(&c);
}

static void leader_hearing_from_majority_stays(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 5);
	h_elect(&c, 1);
	rc_term term = rc_term_of(h_r(&c, 1));
	h_isolate(&c, 3, true); /* 1 and 2 are still a majority */
	h_run(&c, 10 * T, 10);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);
	assert_int_equal(rc_term_of(h_r(&c, 1)), term);
	assert_int_equal(rc_leader(h_r(&c, 2)), 1);
	h_free(&c);
}

static void follower_hearing_from_leader_ignores_higher_term_vote(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 6);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	struct rc_replica *r2 = h_r(&c, 2);
	rc_term term = rc_term_of(r2);
	struct rc_message v = vote_req(3, 2, term + 1, false, rc_last_index(r2),
				       rc_entry_at(r2, rc_last_index(r2))->term);
	h_step(&c, &v);
	assert_int_equal(rc_term_of(r2), term);
	assert_int_equal(rc_vote_of(r2), 1);
	assert_int_equal(rc_leader(r2), 1);
	assert_int_equal(vote_answer(&c, 2, 3), -1);
	v.u.vote.prevote = true;
	h_step(&c, &v);
	assert_int_equal(vote_answer(&c, 2, 3), -1);
	assert_int_equal(rc_term_of(r2), term);

	/* Once a whole election timeout passed without the leader, the same
	 * request is heard. */
	h_tick(&c, 2, T);
	h_clear_msgs(&c);
	v.u.vote.prevote = false;
	h_step(&c, &v);
	assert_int_equal(rc_term_of(r2), term + 1);
	assert_int_equal(rc_vote_of(r2), 3);
	assert_int_equal(vote_answer(&c, 2, 3), 1);
	h_free(&c);
}

static void second_candidate_of_a_term_is_refused_even_after_restart(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 8);
	struct rc_message v3 = vote_req(3, 2, 1, false, 0, 0);
	struct rc_message v1 = vote_req(1, 2, 1, false, 0, 0);
	h_step(&c, &v3);
	assert_int_equal(vote_answer(&c, 2, 3), 1);
	assert_int_equal(rc_vote_of(h_r(&c, 2)), 3);
	h_clear_msgs(&c);
	h_step(&c, &v1);
	assert_int_equal(vote_answer(&c, 2, 1), 0);
	assert_int_equal(rc_vote_of(h_r(&c, 2)), 3);
	h_clear_msgs(&c);

	/* The vote is durable: a restarted voter still refuses node 1 in
	 * term 1, and still grants a retransmitted request of node 3. */
	h_crash(&c, 2);
	h_restart(&c, 2);
	assert_int_equal(rc_term_of(h_r(&c, 2)), 1);
	assert_int_equal(rc_vote_of(h_r(&c, 2)), 3);
	h_step(&c, &v1);
	assert_int_equal(vote_answer(&c, 2, 1), 0);
	h_clear_msgs(&c);
	h_step(&c, &v3);
	assert_int_equal(vote_answer(&c, 2, 3), 1);
	h_free(&c);
}

static void candidate_with_less_up_to_date_log_is_refused(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 9);
	const rc_term terms[] = {1, 2, 2}; /* voter: last index 3, last term 2 */
	h_set_log(&c, 2, terms, 3);
	struct rc_replica *r2 = h_r(&c, 2);
	assert_int_equal(rc_term_of(r2), 2);
	struct {
		rc_term term;
		rc_index last_index;
		rc_term last_term;
		bool prevote;
		int granted;
	} cases[] = {
	    {3, 2, 2, true, 0},  /* same last term, shorter: PreVote */
	    {3, 2, 2, false, 0}, /* same last term, shorter */
	    {4, 9, 1, true, 0},  /* longer but older last term: PreVote */
	    {4, 9, 1, false, 0}, /* longer but older last term */
	    {5, 3, 2, false, 1}, /* as up to date */
	    {6, 1, 3, false, 1}, /* shorter but newer last term */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_clear_msgs(&c);
		rc_id from = (i % 2) ? 3 : 1;
		struct rc_message v = vote_req(from, 2, cases[i].term, cases[i].prevote,
					       cases[i].last_index, cases[i].last_term);
		h_step(&c, &v);
		assert_int_equal(vote_answer(&c, 2, from), cases[i].granted);
		if (!cases[i].prevote)
			assert_int_equal(rc_vote_of(r2), cases[i].granted ? from : 0);
	}
	assert_int_equal(rc_last_index(r2), 3);
	h_free(&c);
}

struct vote_watch {
	rc_id voter;
	int grants_now;             /* granted VOTE_RESP found in u.msgs */
	int grants_after;           /* ... in u.msgs_after_persist */
	int grants_with_hard_state; /* ... with the vote in the same update */
	int requests_now;           /* vote requests (not PreVote) in u.msgs */
	int requests_with_hard_state;
};

static void watch_votes(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg)
{
	(void)c;
	struct vote_watch *w = arg;
	for (size_t i = 0; i < u->n_msgs; i++) {
		const struct rc_message *m = &u->msgs[i];
		if (m->type == RC_MSG_VOTE_RESP && m->u.vote_resp.granted &&
		    !m->u.vote_resp.prevote)
			w->grants_now++;
		if (m->type == RC_MSG_VOTE && !m->u.vote.prevote)
			w->requests_now++;
	}
	for (size_t i = 0; i < u->n_msgs_after_persist; i++) {
		const struct rc_message *m = &u->msgs_after_persist[i];
		bool hs = u->hard_state_changed && u->hard_state.term == m->term;
		if (id == w->voter && m->type == RC_MSG_VOTE_RESP && m->u.vote_resp.granted &&
		    !m->u.vote_resp.prevote) {
			w->grants_after++;
			if (hs && u->hard_state.vote == m->to)
				w->grants_with_hard_state++;
		}
		if (m->type == RC_MSG_VOTE && !m->u.vote.prevote && hs &&
		    u->hard_state.vote == m->from)
			w->requests_with_hard_state++;
	}
}

static void vote_grant_leaves_only_after_persisting_the_vote(void **state)
{
	(void)state;
	struct h_cluster c;
	struct vote_watch w = {.voter = 2};
	h_init(&c, 3, 10);
	c.observe = watch_votes;
	c.observe_arg = &w;
	h_node(&c, 2)->auto_persist = false;
	struct rc_message v = vote_req(3, 2, 1, false, 0, 0);
	h_step(&c, &v);
	assert_int_equal(w.grants_now, 0);
	assert_int_equal(w.grants_after, 1);
	assert_int_equal(w.grants_with_hard_state, 1);
	/* Nothing reaches the candidate before the vote is durable... */
	assert_int_equal(vote_answer(&c, 2, 3), -1);
	/* ...so a crash there loses a vote nobody saw: the voter is free. */
	h_crash(&c, 2);
	h_restart(&c, 2);
	assert_int_equal(rc_vote_of(h_r(&c, 2)), 0);
	h_node(&c, 2)->auto_persist = false;
	h_step(&c, &v);
	assert_int_equal(vote_answer(&c, 2, 3), -1);
	assert_true(h_persist_one(&c, 2));
	assert_int_equal(h_node(&c, 2)->hs.vote, 3);
	assert_int_equal(vote_answer(&c, 2, 3), 1);
	assert_int_equal(w.grants_now, 0);
	h_free(&c);
}

static void candidate_requests_votes_only_after_persisting_its_term(void **state)
{
	(void)state;
	struct h_cluster c;
	struct vote_watch w = {.voter = 0};
	struct rc_options o;
	h_default_opts(&o, 11);
	o.prevote = false;
	h_init_opts(&c, 3, &o);
	c.observe = watch_votes;
	c.observe_arg = &w;
	h_node(&c, 1)->auto_persist = false;
	h_tick(&c, 1, 2 * T);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_CANDIDATE);
	assert_int_equal(w.requests_now, 0);
	assert_int_equal(w.requests_with_hard_state, 2);
	assert_int_equal(h_count_msgs(&c, RC_MSG_VOTE, 1, 0), 0);
	h_persist_all(&c, 1);
	assert_int_equal(h_node(&c, 1)->hs.term, 1);
	assert_int_equal(h_node(&c, 1)->hs.vote, 1);
	assert_int_equal(h_count_msgs(&c, RC_MSG_VOTE, 1, 0), 2);
	h_free(&c);
}

static void follower_told_leader_unreachable_times_out_within_heartbeat_and_quarter_t(void **state)
{
	(void)state;
	struct h_cluster c;
	bool seen[HB + T / 4 + 1] = {false};
	int distinct = 0;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		h_init(&c, 3, seed);
		h_elect(&c, 1);
		h_clear_msgs(&c);
		/* Node 2 heard the leader just now: its own timeout is [T, 2T)
		 * away. Its connection to node 1 breaks. */
		rc_peer_unreachable(h_r(&c, 2), 1);
		h_take(&c, 2);
		assert_int_equal(rc_role(h_r(&c, 2)), RC_FOLLOWER);
		uint64_t t = ms_until_campaign(&c, 2);
		assert_int_equal(rc_role(h_r(&c, 2)), RC_PRECANDIDATE);
		assert_true(t >= HB && t <= HB + T / 4);
		if (!seen[t]) {
			seen[t] = true;
			distinct++;
		}
		/* The next round (no leader to hint about) is a normal one. */
		uint64_t again = ms_until_campaign(&c, 2);
		assert_true(again >= T && again < 2 * T);
		h_free(&c);
	}
	/* A random delay, so followers told together do not collide. */
	assert_true(distinct >= 8);
}

static void follower_told_leader_unreachable_stops_honouring_its_lease(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 21);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	struct rc_replica *r2 = h_r(&c, 2);
	rc_term term = rc_term_of(r2);
	rc_index last = rc_last_index(r2);
	struct rc_message pv = vote_req(3, 2, term + 1, true, last, rc_entry_at(r2, last)->term);
	/* Within the lease the PreVote is not even answered... */
	h_step(&c, &pv);
	assert_int_equal(vote_answer(&c, 2, 3), -1);
	/* ...and, told that the leader is gone, the same one is granted at
	 * once, long before an election timeout passed. */
	rc_peer_unreachable(r2, 1);
	h_take(&c, 2);
	h_step(&c, &pv);
	assert_int_equal(vote_answer(&c, 2, 3), 1);
	assert_int_equal(rc_term_of(r2), term);
	assert_int_equal(rc_vote_of(r2), 1);
	/* Hearing the leader again restores the lease. */
	h_clear_msgs(&c);
	h_tick(&c, 1, HB);
	h_deliver_matching(&c, RC_MSG_APPEND, 1, 2);
	h_clear_msgs(&c);
	h_step(&c, &pv);
	assert_int_equal(vote_answer(&c, 2, 3), -1);
	h_free(&c);
}

static void followers_told_leader_crashed_elect_a_new_leader_well_before_t(void **state)
{
	(void)state;
	struct h_cluster c;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		h_init(&c, 3, seed);
		h_elect(&c, 1);
		rc_term term = rc_term_of(h_r(&c, 1));
		/* The leader's process dies; both followers see their
		 * connections to it close. They last heard it just now. */
		h_crash(&c, 1);
		h_clear_msgs(&c);
		rc_peer_unreachable(h_r(&c, 2), 1);
		rc_peer_unreachable(h_r(&c, 3), 1);
		h_take(&c, 2);
		h_take(&c, 3);
		uint64_t t = 0;
		rc_id leader = 0;
		while (!leader && t < 3 * T) {
			h_tick(&c, 2, 1);
			h_tick(&c, 3, 1);
			h_deliver_all(&c, 1000);
			t++;
			leader = h_leader(&c);
		}
		assert_true(leader == 2 || leader == 3);
		assert_true(t < T / 2);
		assert_int_equal(rc_term_of(h_r(&c, leader)), term + 1);
		h_free(&c);
	}
}

static void unreachable_hint_about_a_non_leader_or_to_a_leader_changes_nothing(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 22);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	struct rc_replica *r1 = h_r(&c, 1), *r2 = h_r(&c, 2);
	rc_term term = rc_term_of(r1);
	rc_index last = rc_last_index(r2);
	rc_term last_term = rc_entry_at(r2, last)->term;

	/* A follower told about a peer that is not its leader (or about no
	 * peer): the lease holds and the timeout stays in [T, 2T). */
	rc_peer_unreachable(r2, 3);
	rc_peer_unreachable(r2, 0);
	rc_peer_unreachable(r2, 2);
	h_take(&c, 2);
	assert_int_equal(c.n_msgs, 0);
	struct rc_message pv = vote_req(3, 2, term + 1, true, last, last_term);
	h_step(&c, &pv);
	assert_int_equal(vote_answer(&c, 2, 3), -1);
	uint64_t t = ms_until_campaign(&c, 2);
	assert_true(t >= T && t < 2 * T);
	h_free(&c);

	/* A leader told about anyone, itself included: it keeps its lease,
	 * so a disruptive higher-term vote request is still ignored. */
	h_init(&c, 3, 23);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	r1 = h_r(&c, 1);
	term = rc_term_of(r1);
	last = rc_last_index(r1);
	for (rc_id id = 0; id <= 3; id++)
		rc_peer_unreachable(r1, id);
	h_take(&c, 1);
	assert_int_equal(rc_role(r1), RC_LEADER);
	assert_int_equal(c.n_msgs, 0);
	struct rc_message v = vote_req(3, 1, term + 1, false, last, term);
	h_step(&c, &v);
	assert_int_equal(rc_role(r1), RC_LEADER);
	assert_int_equal(rc_term_of(r1), term);
	assert_int_equal(vote_answer(&c, 1, 3), -1);
	/* And it goes on leading as before. */
	h_run(&c, 3 * T, HB);
	assert_int_equal(h_leader(&c), 1);
	assert_int_equal(rc_term_of(r1), term);
	h_free(&c);
}

struct vote_req_watch {
	rc_id candidate;
	int prevotes_sent;    /* PreVote requests the candidate sent */
	int votes_sent;       /* real vote requests it sent */
	int prevotes_granted; /* granted PreVote answers addressed to it */
};

static void watch_vote_reqs(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg)
{
	(void)c;
	struct vote_req_watch *w = arg;
	const struct rc_message *lists[2] = {u->msgs, u->msgs_after_persist};
	size_t counts[2] = {u->n_msgs, u->n_msgs_after_persist};
	for (int l = 0; l < 2; l++) {
		for (size_t i = 0; i < counts[l]; i++) {
			const struct rc_message *m = &lists[l][i];
			if (m->type == RC_MSG_VOTE && id == w->candidate && m->to != id) {
				if (m->u.vote.prevote)
					w->prevotes_sent++;
				else
					w->votes_sent++;
			}
			if (m->type == RC_MSG_VOTE_RESP && m->to == w->candidate &&
			    m->from != w->candidate && m->u.vote_resp.prevote &&
			    m->u.vote_resp.granted)
				w->prevotes_granted++;
		}
	}
}

static void single_follower_told_leader_unreachable_cannot_disrupt_it(void **state)
{
	(void)state;
	struct h_cluster c;
	struct vote_req_watch w = {.candidate = 2};
	h_init(&c, 3, 24);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	rc_term term = rc_term_of(h_r(&c, 1));
	c.observe = watch_vote_reqs;
	c.observe_arg = &w;
	/* Only node 2's link from the leader broke; node 3 still hears it. */
	c.drop[1][2] = true;
	rc_peer_unreachable(h_r(&c, 2), 1);
	h_take(&c, 2);
	h_run(&c, HB + T / 4 + 1, 1);
	assert_true(w.prevotes_sent + w.votes_sent >= 2); /* it asked, soon */
	h_run(&c, 5 * T, HB);
	/* Node 3 and the leader hold the leader's lease: nobody granted, and
	 * leader and terms are as before. */
	assert_int_equal(h_leader(&c), 1);
	assert_int_equal(rc_term_of(h_r(&c, 1)), term);
	assert_int_equal(rc_term_of(h_r(&c, 3)), term);
	assert_int_equal(rc_leader(h_r(&c, 3)), 1);
	assert_int_equal(rc_term_of(h_r(&c, 2)), term);
	assert_int_equal(w.prevotes_granted, 0);
	assert_int_equal(w.votes_sent, 0); /* it never got past PreVote */
	/* The link comes back: node 2 follows the same leader, same term. */
	h_heal(&c);
	h_run(&c, 3 * T, HB);
	assert_int_equal(h_leader(&c), 1);
	assert_int_equal(rc_term_of(h_r(&c, 1)), term);
	assert_int_equal(rc_term_of(h_r(&c, 2)), term);
	assert_int_equal(rc_leader(h_r(&c, 2)), 1);
	assert_int_equal(rc_role(h_r(&c, 2)), RC_FOLLOWER);
	h_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(election_timeout_is_random_within_t_and_2t),
	    cmocka_unit_test(precandidate_does_not_bump_its_term),
	    cmocka_unit_test(partitioned_node_rejoining_does_not_disrupt_leader),
	    cmocka_unit_test(leader_hearing_from_no_majority_steps_down),
	    cmocka_unit_test(leader_hearing_from_majority_stays),
	    cmocka_unit_test(follower_hearing_from_leader_ignores_higher_term_vote),
	    cmocka_unit_test(second_candidate_of_a_term_is_refused_even_after_restart),
	    cmocka_unit_test(candidate_with_less_up_to_date_log_is_refused),
	    cmocka_unit_test(vote_grant_leaves_only_after_persisting_the_vote),
	    cmocka_unit_test(candidate_requests_votes_only_after_persisting_its_term),
	    cmocka_unit_test(
		follower_told_leader_unreachable_times_out_within_heartbeat_and_quarter_t),
	    cmocka_unit_test(follower_told_leader_unreachable_stops_honouring_its_lease),
	    cmocka_unit_test(followers_told_leader_crashed_elect_a_new_leader_well_before_t),
	    cmocka_unit_test(unreachable_hint_about_a_non_leader_or_to_a_leader_changes_nothing),
	    cmocka_unit_test(single_follower_told_leader_unreachable_cannot_disrupt_it),
	};
	return cmocka_run_group_tests_name("rc_election", tests, NULL, NULL);
}
