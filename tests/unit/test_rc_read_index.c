/*
 * Linearizable reads without log writes (raftcore/read_index.c), one test
 * per rule. Dissertation 6.4, the ReadIndex algorithm:
 *   1. "If the leader has not yet marked an entry from its current term
 *      committed, it waits until it has done so."
 *   2. "The leader saves its current commit index in a local variable
 *      readIndex."
 *   3. The leader makes sure it has not been superseded: it sends a new
 *      round of heartbeats and waits for acknowledgments from a majority.
 *   4. It serves the read once its state machine has applied readIndex.
 * One round may confirm many reads (the dissertation batches them), and a
 * follower asks the leader for a readIndex instead of serving from its own
 * commit index. Here a round is a leader-side sequence number carried by
 * AppendEntries and echoed back: a round confirms the reads queued before
 * it was sent, not after. Every read is answered exactly once: ready, or
 * failed (leadership lost, no leader).
 * A read forwarded by a follower fails when the follower's known leader
 * changes for any reason (a newer leader, or the follower campaigning
 * itself, PreVote or TimeoutNow) and when no answer came within one
 * election timeout (the request or its answer was lost); a late answer
 * after that is ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rc_harness.h"

#define T 100
#define HB 10

/* The read answered on node id for ctx: its slot, or NULL. Asserts no
 * read was answered twice. */
static const struct rc_read *answered(struct h_cluster *c, rc_id id, uint64_t ctx)
{
	const struct rc_read *found = NULL;
	struct h_node *nd = h_node(c, id);
	for (size_t i = 0; i < nd->n_reads; i++) {
		if (nd->reads[i].ctx != ctx)
			continue;
		assert_null(found);
		found = &nd->reads[i];
	}
	return found;
}

static void deliver_one(struct h_cluster *c, uint8_t type, rc_id from, rc_id to)
{
	long i = h_find_msg(c, type, from, to);
	assert_true(i >= 0);
	h_deliver_at(c, (size_t)i);
}

static void new_leader_answers_no_read_before_its_term_commits(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 1);
	/* Node 1 wins with node 2; its own disk is slow, and node 3 is away,
	 * so its no-op cannot commit for a while. */
	h_isolate(&c, 3, true);
	h_node(&c, 1)->auto_persist = false;
	h_tick(&c, 1, 2 * T);
	while (rc_role(h_r(&c, 1)) != RC_LEADER) {
		h_persist_all(&c, 1);
		size_t n = h_deliver_matching(&c, RC_MSG_VOTE, 0, 0) +
			   h_deliver_matching(&c, RC_MSG_VOTE_RESP, 0, 0);
		assert_true(n > 0);
	}
	rc_index noop = rc_last_index(h_r(&c, 1));
	h_deliver_all(&c, 100);
	assert_int_equal(rc_last_index(h_r(&c, 2)), noop); /* node 2 has it */
	assert_true(rc_commit_index(h_r(&c, 1)) < noop);

	assert_int_equal(rc_read_index(h_r(&c, 1), 100), 0);
	h_take(&c, 1);
	/* Heartbeat rounds are acknowledged by a majority, but that is not
	 * enough while the leader's commit index may be stale. */
	for (int i = 0; i < 3; i++) {
		h_tick(&c, 1, HB);
		h_deliver_all(&c, 100);
	}
	assert_null(answered(&c, 1, 100));

	h_persist_all(&c, 1); /* the no-op commits */
	h_take(&c, 1);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), noop);
	assert_null(answered(&c, 1, 100)); /* a round is still needed */
	h_deliver_all(&c, 100);
	const struct rc_read *rd = answered(&c, 1, 100);
	assert_non_null(rd);
	assert_int_equal(rd->status, 0);
	assert_int_equal(rd->index, noop);
	h_free(&c);
}

static void one_heartbeat_round_confirms_all_reads_queued_before_it(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 2);
	h_elect(&c, 1);
	h_propose(&c, 1, 'x');
	h_deliver_all(&c, 100);
	h_clear_msgs(&c);
	rc_index commit = rc_commit_index(h_r(&c, 1));
	for (uint64_t ctx = 1; ctx <= 5; ctx++)
		assert_int_equal(rc_read_index(h_r(&c, 1), ctx), 0);
	h_take(&c, 1);
	/* One round: one AppendEntries per follower, and no answer yet. */
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 2), 1);
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 3), 1);
	assert_int_equal(h_node(&c, 1)->n_reads, 0);
	/* One acknowledgement makes a majority with the leader. */
	deliver_one(&c, RC_MSG_APPEND, 1, 2);
	deliver_one(&c, RC_MSG_APPEND_RESP, 2, 1);
	for (uint64_t ctx = 1; ctx <= 5; ctx++) {
		const struct rc_read *rd = answered(&c, 1, ctx);
		assert_non_null(rd);
		assert_int_equal(rd->status, 0);
		assert_int_equal(rd->index, commit);
	}
	h_deliver_all(&c, 100);
	assert_int_equal(h_node(&c, 1)->n_reads, 5);
	h_free(&c);
}

static void read_queued_after_a_round_is_not_confirmed_by_that_round(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	rc_read_index(h_r(&c, 1), 'A');
	h_take(&c, 1); /* round for A goes out */
	rc_read_index(h_r(&c, 1), 'B');
	deliver_one(&c, RC_MSG_APPEND, 1, 2);
	deliver_one(&c, RC_MSG_APPEND, 1, 3);
	/* The acknowledgements of A's round arrive. */
	deliver_one(&c, RC_MSG_APPEND_RESP, 2, 1);
	deliver_one(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_non_null(answered(&c, 1, 'A'));
	assert_null(answered(&c, 1, 'B'));
	/* B has its own round. */
	h_deliver_all(&c, 100);
	const struct rc_read *rd = answered(&c, 1, 'B');
	assert_non_null(rd);
	assert_int_equal(rd->status, 0);
	h_free(&c);
}

static void follower_read_is_forwarded_and_answered_with_leader_index(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 4);
	h_elect(&c, 1);
	/* Node 2 misses some commits. */
	c.drop[1][2] = true;
	for (int i = 0; i < 3; i++)
		h_propose(&c, 1, (uint8_t)i);
	h_deliver_all(&c, 100);
	c.drop[1][2] = false;
	rc_index commit = rc_commit_index(h_r(&c, 1));
	assert_true(rc_commit_index(h_r(&c, 2)) < commit);

	assert_int_equal(rc_read_index(h_r(&c, 2), 42), 0);
	h_take(&c, 2);
	assert_null(answered(&c, 2, 42));
	long i = h_find_msg(&c, RC_MSG_READ_INDEX, 2, 1);
	assert_true(i >= 0);
	assert_int_equal(c.msgs[i].m.u.read_index.ctx, 42);
	h_deliver_all(&c, 100);
	const struct rc_read *rd = answered(&c, 2, 42);
	assert_non_null(rd);
	assert_int_equal(rd->status, 0);
	assert_int_equal(rd->index, commit);
	/* The leader answered it by message, not as one of its own. */
	assert_null(answered(&c, 1, 42));
	h_free(&c);
}

static void leader_losing_leadership_fails_its_pending_reads(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 5);
	h_elect(&c, 1);
	rc_term term = rc_term_of(h_r(&c, 1));
	h_clear_msgs(&c);
	/* The leader's heartbeats get lost: no round completes. */
	c.drop[1][2] = c.drop[1][3] = true;
	rc_read_index(h_r(&c, 1), 7);
	h_take(&c, 1);
	rc_read_index(h_r(&c, 2), 8); /* forwarded to the leader */
	h_take(&c, 2);
	h_deliver_all(&c, 100);
	assert_null(answered(&c, 1, 7));
	assert_null(answered(&c, 2, 8));

	/* A newer leader shows up. */
	c.drop[1][2] = c.drop[1][3] = false;
	struct rc_message m = {.type = RC_MSG_APPEND, .from = 3, .to = 1, .term = term + 1};
	h_step(&c, &m);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	const struct rc_read *rd = answered(&c, 1, 7);
	assert_non_null(rd);
	assert_int_equal(rd->status, -RC_ELEADERLOST);
	h_deliver_matching(&c, RC_MSG_READ_INDEX_RESP, 1, 2);
	rd = answered(&c, 2, 8);
	assert_non_null(rd);
	assert_true(rd->status != 0);
	h_free(&c);
}

static void follower_fails_forwarded_reads_when_its_leader_changes(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 6);
	h_elect(&c, 1);
	rc_term term = rc_term_of(h_r(&c, 2));
	h_clear_msgs(&c);
	rc_read_index(h_r(&c, 2), 9);
	h_take(&c, 2);
	h_clear_msgs(&c); /* the request is lost */
	struct rc_message m = {.type = RC_MSG_APPEND, .from = 3, .to = 2, .term = term + 1};
	h_step(&c, &m);
	assert_int_equal(rc_leader(h_r(&c, 2)), 3);
	const struct rc_read *rd = answered(&c, 2, 9);
	assert_non_null(rd);
	assert_int_equal(rd->status, -RC_ELEADERLOST);
	h_free(&c);
}

static void follower_without_leader_fails_read_at_once(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 7);
	assert_int_equal(rc_read_index(h_r(&c, 2), 5), 0);
	h_take(&c, 2);
	const struct rc_read *rd = answered(&c, 2, 5);
	assert_non_null(rd);
	assert_int_equal(rd->status, -RC_ENOLEADER);
	assert_int_equal(c.n_msgs, 0);
	/* A pre-candidate has no leader either. */
	h_tick(&c, 3, 2 * T);
	h_clear_msgs(&c);
	assert_int_equal(rc_role(h_r(&c, 3)), RC_PRECANDIDATE);
	rc_read_index(h_r(&c, 3), 6);
	h_take(&c, 3);
	rd = answered(&c, 3, 6);
	assert_non_null(rd);
	assert_int_equal(rd->status, -RC_ENOLEADER);
	assert_int_equal(c.n_msgs, 0);
	h_free(&c);
}

static void partitioned_old_leader_cannot_confirm_a_read(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 5, 8);
	h_elect(&c, 1);
	rc_term term = rc_term_of(h_r(&c, 1));
	const rc_id minority[] = {1, 2};
	h_partition(&c, minority, 2);
	h_clear_msgs(&c);
	/* The majority side elects a new leader; node 1's clock stands still,
	 * so it still believes it leads. */
	rc_id fresh = 0;
	for (int i = 0; i < 100 && !fresh; i++) {
		for (rc_id id = 3; id <= 5; id++)
			h_tick(&c, id, HB);
		h_deliver_all(&c, 1000);
		for (rc_id id = 3; id <= 5; id++)
			if (rc_role(h_r(&c, id)) == RC_LEADER)
				fresh = id;
	}
	assert_true(fresh != 0);
	assert_true(rc_term_of(h_r(&c, fresh)) > term);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);

	/* Node 2 still acknowledges node 1: two of five, not a majority. */
	rc_read_index(h_r(&c, 1), 11);
	h_take(&c, 1);
	for (int i = 0; i < 3; i++) {
		h_tick(&c, 1, HB);
		h_tick(&c, 2, HB);
		h_deliver_all(&c, 1000);
	}
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);
	assert_null(answered(&c, 1, 11));
	/* Sooner or later it learns it is deposed; the read fails. */
	h_heal(&c);
	h_tick(&c, 1, HB);
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	const struct rc_read *rd = answered(&c, 1, 11);
	assert_non_null(rd);
	assert_int_equal(rd->status, -RC_ELEADERLOST);
	h_free(&c);
}

static void single_voter_leader_confirms_reads_by_itself(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 1, 9);
	h_elect(&c, 1);
	rc_index idx = h_propose(&c, 1, 'x');
	assert_int_equal(rc_commit_index(h_r(&c, 1)), idx);
	assert_int_equal(rc_read_index(h_r(&c, 1), 3), 0);
	h_take(&c, 1);
	const struct rc_read *rd = answered(&c, 1, 3);
	assert_non_null(rd);
	assert_int_equal(rd->status, 0);
	assert_int_equal(rd->index, idx);
	h_free(&c);
}

/* Node 2 of a fresh cluster (seed) led by node 1, ticked alone from the
 * election on: how many ms until it campaigns. */
static uint64_t follower_timeout(uint64_t seed, bool prevote)
{
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, seed);
	o.prevote = prevote;
	h_init_opts(&c, 3, &o);
	h_elect(&c, 1);
	uint64_t t = 0;
	while (rc_role(h_r(&c, 2)) == RC_FOLLOWER) {
		h_tick(&c, 2, 1);
		t++;
		assert_true(t < 2 * T);
	}
	h_free(&c);
	return t;
}

static void forwarded_read_fails_when_its_follower_starts_campaigning(void **state)
{
	(void)state;
	for (int prevote = 1; prevote >= 0; prevote--) {
		/* The same cluster twice: the first run tells when node 2 times
		 * out, so that the second can forward a read shortly before,
		 * well within the read's own expiry. */
		uint64_t t_out = follower_timeout(31, prevote);
		struct h_cluster c;
		struct rc_options o;
		h_default_opts(&o, 31);
		o.prevote = prevote;
		h_init_opts(&c, 3, &o);
		h_elect(&c, 1);
		h_clear_msgs(&c);
		h_tick(&c, 2, t_out - 5);
		assert_int_equal(rc_role(h_r(&c, 2)), RC_FOLLOWER);
		assert_int_equal(rc_read_index(h_r(&c, 2), 12), 0);
		h_take(&c, 2);
		h_clear_msgs(&c); /* the leader never sees it */
		for (int i = 0; i < 4; i++) {
			h_tick(&c, 2, 1);
			assert_int_equal(rc_role(h_r(&c, 2)), RC_FOLLOWER);
			assert_null(answered(&c, 2, 12));
		}
		h_tick(&c, 2, 1);
		assert_int_equal(rc_role(h_r(&c, 2)), prevote ? RC_PRECANDIDATE : RC_CANDIDATE);
		assert_int_equal(rc_leader(h_r(&c, 2)), 0);
		const struct rc_read *rd = answered(&c, 2, 12);
		assert_non_null(rd);
		assert_true(rd->status != 0);
		h_free(&c);
	}
}

static void forwarded_read_fails_when_its_follower_is_handed_leadership(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 32);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	/* Node 3 forwards a read; before the leader sees it, the leader
	 * hands leadership to node 3 (TimeoutNow). */
	assert_int_equal(rc_read_index(h_r(&c, 3), 13), 0);
	h_take(&c, 3);
	assert_int_equal(rc_transfer_leadership(h_r(&c, 1), 3), 0);
	h_take(&c, 1);
	deliver_one(&c, RC_MSG_TIMEOUT_NOW, 1, 3);
	assert_int_equal(rc_role(h_r(&c, 3)), RC_CANDIDATE);
	const struct rc_read *rd = answered(&c, 3, 13);
	assert_non_null(rd);
	assert_true(rd->status != 0);
	/* Whatever node 1 answers later is not a second answer. */
	h_deliver_all(&c, 1000);
	h_run(&c, 2 * T, HB);
	assert_int_equal(h_leader(&c), 3);
	assert_non_null(answered(&c, 3, 13));
	h_free(&c);
}

/* Runs leader 1 and follower 2 for ms, HB at a time, keeping node 2 a
 * happy follower of node 1 (everything but read traffic is delivered);
 * asserts read ctx on node 2 stays unanswered. */
static void run_without_read_traffic(struct h_cluster *c, uint64_t ms, uint64_t ctx)
{
	for (uint64_t t = 0; t < ms; t += HB) {
		h_tick(c, 1, HB);
		h_tick(c, 2, HB);
		h_deliver_matching(c, RC_MSG_APPEND, 0, 0);
		h_deliver_matching(c, RC_MSG_APPEND_RESP, 0, 0);
		assert_null(answered(c, 2, ctx));
		assert_int_equal(rc_role(h_r(c, 2)), RC_FOLLOWER);
		assert_int_equal(rc_leader(h_r(c, 2)), 1);
	}
}

static void forwarded_read_fails_when_its_request_is_lost(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 33);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	assert_int_equal(rc_read_index(h_r(&c, 2), 14), 0);
	h_take(&c, 2);
	long i = h_find_msg(&c, RC_MSG_READ_INDEX, 2, 1);
	assert_true(i >= 0);
	h_drop_at(&c, (size_t)i);
	/* The leader is alive and heard: only the time limit can end it. */
	run_without_read_traffic(&c, T - HB, 14);
	h_tick(&c, 2, HB);
	assert_int_equal(rc_leader(h_r(&c, 2)), 1);
	const struct rc_read *rd = answered(&c, 2, 14);
	assert_non_null(rd);
	assert_true(rd->status != 0);
	h_free(&c);
}

static void forwarded_read_fails_when_its_answer_is_lost(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 34);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	assert_int_equal(rc_read_index(h_r(&c, 2), 15), 0);
	h_take(&c, 2);
	/* The leader confirms the read; its answer is lost. */
	deliver_one(&c, RC_MSG_READ_INDEX, 2, 1);
	while (h_find_msg(&c, RC_MSG_READ_INDEX_RESP, 1, 2) < 0) {
		size_t n = h_deliver_matching(&c, RC_MSG_APPEND, 0, 0) +
			   h_deliver_matching(&c, RC_MSG_APPEND_RESP, 0, 0);
		assert_true(n > 0);
	}
	long i = h_find_msg(&c, RC_MSG_READ_INDEX_RESP, 1, 2);
	struct h_msg late;
	h_copy_msg(&c, (size_t)i, &late);
	assert_true(late.m.u.read_index_resp.ok);
	h_drop_at(&c, (size_t)i);
	run_without_read_traffic(&c, T - HB, 15);
	h_tick(&c, 2, HB);
	const struct rc_read *rd = answered(&c, 2, 15);
	assert_non_null(rd);
	assert_true(rd->status != 0);
	/* The answer turns up after all: the read was already answered. */
	h_inject(&c, &late);
	h_msg_free(&late);
	deliver_one(&c, RC_MSG_READ_INDEX_RESP, 1, 2);
	assert_non_null(answered(&c, 2, 15)); /* still exactly once */
	assert_int_equal(h_node(&c, 2)->n_reads, 1);
	h_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(new_leader_answers_no_read_before_its_term_commits),
	    cmocka_unit_test(one_heartbeat_round_confirms_all_reads_queued_before_it),
	    cmocka_unit_test(read_queued_after_a_round_is_not_confirmed_by_that_round),
	    cmocka_unit_test(follower_read_is_forwarded_and_answered_with_leader_index),
	    cmocka_unit_test(leader_losing_leadership_fails_its_pending_reads),
	    cmocka_unit_test(follower_fails_forwarded_reads_when_its_leader_changes),
	    cmocka_unit_test(follower_without_leader_fails_read_at_once),
	    cmocka_unit_test(partitioned_old_leader_cannot_confirm_a_read),
	    cmocka_unit_test(single_voter_leader_confirms_reads_by_itself),
	    cmocka_unit_test(forwarded_read_fails_when_its_follower_starts_campaigning),
	    cmocka_unit_test(forwarded_read_fails_when_its_follower_is_handed_leadership),
	    cmocka_unit_test(forwarded_read_fails_when_its_request_is_lost),
	    cmocka_unit_test(forwarded_read_fails_when_its_answer_is_lost),
	};
	return cmocka_run_group_tests_name("rc_read_index", tests, NULL, NULL);
}
