/*
 * Leadership transfer (raftcore/transfer.c), one test per rule.
 * Dissertation 3.10, the transfer steps:
 *   1. The prior leader stops accepting new client requests.
 *   2. It brings the target's log up to date with its own, by the normal
 *      log replication mechanism.
 *   3. It sends the target a TimeoutNow request, which has the same effect
 *      as the target's election timer firing.
 * If the transfer does not complete within about an election timeout, the
 * prior leader aborts it and takes client requests again. The target's
 * vote requests say they follow a TimeoutNow, so voters that still hear
 * from the old leader do not apply their vote lease (dissertation 4.2.3
 * makes that exception for leadership transfer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rc_harness.h"

#define T 100
#define HB 10

static int propose(struct h_cluster *c, rc_id id)
{
	int rv = rc_propose(h_r(c, id), "p", 1, NULL, NULL);
	h_take(c, id);
	return rv;
}

/* Node 1 leads; node 3 missed five entries and is reachable again. */
static void lagging_target(struct h_cluster *c, uint64_t seed)
{
	h_init(c, 3, seed);
	h_elect(c, 1);
	h_isolate(c, 3, true);
	for (int i = 0; i < 5; i++)
		assert_int_equal(propose(c, 1), 0);
	h_deliver_all(c, 1000);
	h_isolate(c, 3, false);
	h_clear_msgs(c);
	assert_true(rc_last_index(h_r(c, 3)) < rc_last_index(h_r(c, 1)));
}

static void timeout_now_is_sent_only_once_target_caught_up(void **state)
{
	(void)state;
	struct h_cluster c;
	lagging_target(&c, 1);
	rc_term term = rc_term_of(h_r(&c, 1));
	assert_int_equal(rc_transfer_leadership(h_r(&c, 1), 3), 0);
	h_take(&c, 1);
	bool sent = false;
	for (int step = 0; step < 500 && !sent; step++) {
		if (h_find_msg(&c, RC_MSG_TIMEOUT_NOW, 1, 3) >= 0) {
			sent = true;
			/* By now node 3 holds the leader's whole log. */
			assert_int_equal(rc_last_index(h_r(&c, 3)), rc_last_index(h_r(&c, 1)));
		} else if (c.n_msgs == 0) {
			h_tick(&c, 1, HB);
		} else {
			h_deliver_at(&c, 0);
		}
	}
	assert_true(sent);
	h_deliver_all(&c, 1000);
	assert_int_equal(h_leader(&c), 3);
	assert_int_equal(rc_term_of(h_r(&c, 3)), term + 1);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	h_free(&c);
}

static void proposals_are_refused_during_a_transfer(void **state)
{
	(void)state;
	struct h_cluster c;
	lagging_target(&c, 2);
	h_isolate(&c, 3, true); /* the transfer cannot finish */
	assert_int_equal(rc_transfer_leadership(h_r(&c, 1), 3), 0);
	assert_int_equal(propose(&c, 1), -RC_ETRANSFER);
	struct rc_member m = {.id = 4, .addr = "node4"};
	assert_int_equal(rc_change_membership(h_r(&c, 1), RC_ADD, &m, NULL), -RC_ETRANSFER);
	h_free(&c);
}

static void transfer_requests_are_checked(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	assert_int_equal(rc_transfer_leadership(h_r(&c, 2), 3), -RC_ENOTLEADER);
	assert_int_equal(rc_transfer_leadership(h_r(&c, 1), 9), -RC_ENOTFOUND);
	assert_int_equal(rc_transfer_leadership(h_r(&c, 1), 1), 0); /* already */
	assert_int_equal(propose(&c, 1), 0);
	h_free(&c);
}

static void transfer_target_wins_although_voters_hear_from_old_leader(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 4);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	rc_term term = rc_term_of(h_r(&c, 1));
	/* Node 3 heard from node 1 just now: its lease is active. */
	assert_int_equal(rc_leader(h_r(&c, 3)), 1);
	assert_int_equal(rc_transfer_leadership(h_r(&c, 1), 2), 0);
	h_take(&c, 1);
	assert_true(h_find_msg(&c, RC_MSG_TIMEOUT_NOW, 1, 2) >= 0);
	h_deliver_matching(&c, RC_MSG_TIMEOUT_NOW, 1, 2);
	/* The target campaigns at once, a real vote flagged as a transfer. */
	long i = h_find_msg(&c, RC_MSG_VOTE, 2, 3);
	assert_true(i >= 0);
	assert_false(c.msgs[i].m.u.vote.prevote);
	assert_true(c.msgs[i].m.u.vote.transfer);
	assert_int_equal(c.msgs[i].m.term, term + 1);
	h_deliver_all(&c, 1000);
	assert_int_equal(h_leader(&c), 2);
	assert_int_equal(rc_term_of(h_r(&c, 2)), term + 1);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	h_free(&c);
}

static void unfinished_transfer_is_abandoned_after_election_timeout(void **state)
{
	(void)state;
	struct h_cluster c;
	lagging_target(&c, 5);
	h_isolate(&c, 3, true);
	assert_int_equal(rc_transfer_leadership(h_r(&c, 1), 3), 0);
	uint64_t waited = 0;
	while (propose(&c, 1) == -RC_ETRANSFER && waited <= 3 * T) {
		h_tick(&c, 1, HB);
		h_tick(&c, 2, HB);
		h_deliver_all(&c, 1000);
		waited += HB;
	}
	/* Refused for a whole election timeout, then taken again. */
	assert_true(waited >= T);
	assert_true(waited <= T + HB);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);
	assert_int_equal(h_leader(&c), 1);
	h_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(timeout_now_is_sent_only_once_target_caught_up),
	    cmocka_unit_test(proposals_are_refused_during_a_transfer),
	    cmocka_unit_test(transfer_requests_are_checked),
	    cmocka_unit_test(transfer_target_wins_although_voters_hear_from_old_leader),
	    cmocka_unit_test(unfinished_transfer_is_abandoned_after_election_timeout),
	};
	return cmocka_run_group_tests_name("rc_transfer", tests, NULL, NULL);
}
