/*
 * Single-server membership changes (raftcore/configuration.c), one test per
 * rule. Dissertation 4.1 to 4.2.3:
 * - 4.1: "a server always uses the latest configuration in its log,
 *   regardless of whether the entry is committed"; when such an entry is
 *   removed from the log (leadership changed before it committed), the
 *   server falls back to the previous configuration in its log.
 * - 4.1: a new configuration change starts only once the previous one has
 *   committed: at most one change in flight (-RC_EBUSY).
 * - None before the leader's own-term entry commits (the raft-dev fix to
 *   the single-server algorithm, dissertation errata): -RC_ENOTREADY.
 * - 4.2.1: new servers join as non-voting members, do not count toward
 *   majorities, and are promoted once caught up.
 * - 4.2.2: a leader removed from the configuration manages the cluster
 *   until the new configuration commits, without counting itself, then
 *   steps down.
 * - 4.2.3: a removed server cannot disrupt the cluster (vote lease,
 *   PreVote).
 * - The last voter cannot be removed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rc_harness.h"

#define T 100
#define HB 10

static struct rc_member member(rc_id id)
{
	struct rc_member m;
	memset(&m, 0, sizeof(m));
	m.id = id;
	snprintf(m.addr, RC_ADDR_MAX, "node%u", (unsigned)id);
	return m;
}

static int change(struct h_cluster *c, rc_id leader, enum rc_change kind, rc_id id, rc_index *index)
{
	struct rc_member m = member(id);
	int rv = rc_change_membership(h_r(c, leader), kind, &m, index);
	h_take(c, leader);
	return rv;
}

/* 1 yes, 0 a non-voter, -1 not a member, in node id's configuration. */
static int voter_in(struct h_cluster *c, rc_id id, rc_id who)
{
	const struct rc_member *m = rc_membership_find(rc_membership(h_r(c, id)), who);
	return m ? (m->voter ? 1 : 0) : -1;
}

/* Heartbeats from the leader, delivered, for ms (no other clock moves). */
static void pump(struct h_cluster *c, rc_id leader, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += HB) {
		h_tick(c, leader, HB);
		h_deliver_all(c, 10000);
	}
}

static void added_node_is_a_non_voter_and_does_not_count_toward_quorum(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 1);
	h_init_spares(&c, 4, 3, &o);
	h_elect(&c, 1);
	/* Only the newcomer hears the leader: with it counted, the leader and
	 * node 4 would make two of three. */
	h_isolate(&c, 2, true);
	h_isolate(&c, 3, true);
	rc_index idx;
	assert_int_equal(change(&c, 1, RC_ADD, 4, &idx), 0);
	assert_int_equal(voter_in(&c, 1, 4), 0); /* in force on append */
	pump(&c, 1, 4 * HB);
	assert_int_equal(rc_last_index(h_r(&c, 4)), idx);
	assert_int_equal(voter_in(&c, 4, 4), 0);
	assert_true(rc_commit_index(h_r(&c, 1)) < idx);
	/* A non-voter never campaigns, however long it goes unattended. */
	h_clear_msgs(&c);
	h_tick(&c, 4, 10 * T);
	assert_int_equal(rc_role(h_r(&c, 4)), RC_FOLLOWER);
	assert_int_equal(h_count_msgs(&c, RC_MSG_VOTE, 4, 0), 0);
	h_free(&c);
}

static void caught_up_non_voter_is_promoted_automatically(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 2);
	h_init_spares(&c, 4, 3, &o);
	h_elect(&c, 1);
	h_isolate(&c, 4, true);
	rc_index idx;
	assert_int_equal(change(&c, 1, RC_ADD, 4, &idx), 0);
	pump(&c, 1, 5 * HB);
	/* Committed without node 4; not promoted while it has nothing. */
	assert_true(rc_commit_index(h_r(&c, 1)) >= idx);
	assert_int_equal(rc_last_index(h_r(&c, 1)), idx);
	assert_int_equal(voter_in(&c, 1, 4), 0);
	h_isolate(&c, 4, false);
	pump(&c, 1, 5 * HB);
	assert_true(rc_last_index(h_r(&c, 1)) > idx); /* the promotion */
	for (rc_id id = 1; id <= 4; id++) {
		assert_int_equal(voter_in(&c, id, 4), 1);
		assert_int_equal(rc_commit_index(h_r(&c, id)), rc_last_index(h_r(&c, 1)));
	}
	/* Now it counts: with nodes 2 and 3 away, 1 and 4 are two of four. */
	h_isolate(&c, 2, true);
	h_isolate(&c, 3, true);
	rc_index p = h_propose(&c, 1, 'x');
	pump(&c, 1, 2 * HB);
	assert_true(rc_commit_index(h_r(&c, 1)) < p);
	h_free(&c);
}

static void removed_node_leaves_the_configuration(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 3);
	h_elect(&c, 1);
	rc_index idx;
	assert_int_equal(change(&c, 1, RC_REMOVE, 3, &idx), 0);
	pump(&c, 1, 3 * HB);
	for (rc_id id = 1; id <= 2; id++) {
		assert_true(rc_commit_index(h_r(&c, id)) >= idx);
		assert_int_equal(rc_membership(h_r(&c, id))->n, 2);
		assert_int_equal(voter_in(&c, id, 3), -1);
	}
	struct rc_progress_info pi[4];
	assert_int_equal(rc_progress(h_r(&c, 1), pi, 4), 1);
	assert_int_equal(pi[0].id, 2);
	/* The majority of {1, 2} is both. */
	h_isolate(&c, 2, true);
	rc_index p = h_propose(&c, 1, 'x');
	pump(&c, 1, 2 * HB);
	assert_true(rc_commit_index(h_r(&c, 1)) < p);
	h_free(&c);
}

static void second_change_is_refused_while_one_is_in_flight(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 4);
	h_init_spares(&c, 5, 3, &o);
	h_elect(&c, 1);
	h_isolate(&c, 3, true);
	h_isolate(&c, 4, true); /* stays a non-voter: no promotion in flight */
	c.drop[1][2] = true;    /* the ADD cannot commit for now */
	rc_index idx;
	assert_int_equal(change(&c, 1, RC_ADD, 4, &idx), 0);
	assert_int_equal(change(&c, 1, RC_ADD, 5, NULL), -RC_EBUSY);
	assert_int_equal(change(&c, 1, RC_REMOVE, 3, NULL), -RC_EBUSY);
	assert_int_equal(rc_last_index(h_r(&c, 1)), idx);
	c.drop[1][2] = false;
	pump(&c, 1, 3 * HB);
	assert_true(rc_commit_index(h_r(&c, 1)) >= idx);
	assert_int_equal(change(&c, 1, RC_ADD, 5, NULL), 0);
	h_free(&c);
}

static void no_change_before_own_term_entry_commits(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 5);
	h_init_spares(&c, 4, 3, &o);
	assert_true(h_campaign(&c, 1)); /* its no-op is still queued */
	assert_true(rc_commit_index(h_r(&c, 1)) < rc_last_index(h_r(&c, 1)));
	assert_int_equal(change(&c, 1, RC_ADD, 4, NULL), -RC_ENOTREADY);
	assert_int_equal(change(&c, 1, RC_REMOVE, 3, NULL), -RC_ENOTREADY);
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), rc_last_index(h_r(&c, 1)));
	assert_int_equal(change(&c, 1, RC_ADD, 4, NULL), 0);
	h_free(&c);
}

static void removed_leader_steps_down_after_committing_its_removal(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 6);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	rc_index idx;
	assert_int_equal(change(&c, 1, RC_REMOVE, 1, &idx), 0);
	assert_int_equal(voter_in(&c, 1, 1), -1);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);
	/* It does not count itself: one follower is not enough. */
	h_deliver_matching(&c, RC_MSG_APPEND, 1, 2);
	h_deliver_matching(&c, RC_MSG_APPEND_RESP, 2, 1);
	assert_true(rc_commit_index(h_r(&c, 1)) < idx);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);
	h_deliver_matching(&c, RC_MSG_APPEND, 1, 3);
	h_deliver_matching(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), idx);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	/* The others elect a leader among themselves; node 1 stays out. */
	h_run(&c, 5 * T, HB);
	rc_id leader = h_leader(&c);
	assert_true(leader == 2 || leader == 3);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	h_free(&c);
}

/* Dissertation 4.2.3: a removed server that never learns its removal
 * committed times out and campaigns; its requests must not depose the
 * leader (vote lease, PreVote). */
static void removed_server_cannot_disrupt_the_cluster(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 9);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	rc_term term = rc_term_of(h_r(&c, 1));
	rc_index idx;
	assert_int_equal(change(&c, 1, RC_REMOVE, 3, &idx), 0);
	/* The leader stops replicating to node 3 at once: node 3 never hears
	 * of its removal, and times out. */
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 3), 0);
	pump(&c, 1, 3 * HB);
	assert_true(rc_commit_index(h_r(&c, 1)) >= idx);
	assert_true(rc_last_index(h_r(&c, 3)) < idx);
	assert_int_equal(voter_in(&c, 3, 3), 1);
	h_run(&c, 10 * T, HB);
	assert_int_equal(h_leader(&c), 1);
	assert_int_equal(rc_term_of(h_r(&c, 1)), term);
	assert_int_equal(rc_term_of(h_r(&c, 2)), term);
	assert_int_equal(rc_leader(h_r(&c, 2)), 1);
	h_free(&c);
}

struct cfg_watch {
	rc_id id;
	int changes; /* updates with membership_changed */
};

static void watch_cfg(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg)
{
	(void)c;
	struct cfg_watch *w = arg;
	if (id == w->id && u->membership_changed)
		w->changes++;
}

static void configuration_takes_effect_on_append_and_rolls_back_on_truncation(void **state)
{
	(void)state;
	struct h_cluster c;
	struct cfg_watch w = {.id = 2};
	h_init(&c, 5, 7);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	c.observe = watch_cfg;
	c.observe_arg = &w;
	rc_index idx;
	assert_int_equal(change(&c, 1, RC_REMOVE, 5, &idx), 0);
	/* Node 2 gets the entry, nobody else. */
	h_deliver_matching(&c, RC_MSG_APPEND, 1, 2);
	h_clear_msgs(&c);
	assert_int_equal(rc_last_index(h_r(&c, 2)), idx);
	assert_true(rc_commit_index(h_r(&c, 2)) < idx);
	assert_int_equal(voter_in(&c, 2, 5), -1);
	assert_int_equal(rc_membership(h_r(&c, 2))->n, 4);
	assert_int_equal(w.changes, 1);

	/* Nodes 3, 4, 5 elect a leader that never saw it. */
	const rc_id minority[] = {1, 2};
	h_partition(&c, minority, 2);
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
	/* Its entries replace the uncommitted configuration on node 2. */
	h_heal(&c);
	h_isolate(&c, 1, true);
	pump(&c, fresh, 5 * HB);
	assert_int_equal(rc_last_index(h_r(&c, 2)), rc_last_index(h_r(&c, fresh)));
	assert_true(rc_entry_at(h_r(&c, 2), idx)->type != RC_ENTRY_CONFIG);
	assert_int_equal(rc_membership(h_r(&c, 2))->n, 5);
	assert_int_equal(voter_in(&c, 2, 5), 1);
	assert_int_equal(w.changes, 2);
	h_free(&c);
}

static void last_voter_cannot_be_removed(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 8);
	h_init_spares(&c, 2, 1, &o);
	h_elect(&c, 1);
	assert_int_equal(change(&c, 1, RC_REMOVE, 1, NULL), -RC_EINVAL);
	/* Not even with a non-voter beside it. */
	assert_int_equal(change(&c, 1, RC_ADD, 2, NULL), 0);
	h_isolate(&c, 2, true); /* stays a non-voter */
	pump(&c, 1, 2 * HB);
	assert_int_equal(voter_in(&c, 1, 2), 0);
	assert_int_equal(change(&c, 1, RC_REMOVE, 1, NULL), -RC_EINVAL);
	/* Requests that make no sense are refused too. */
	assert_int_equal(change(&c, 1, RC_ADD, 2, NULL), -RC_EINVAL);
	assert_int_equal(change(&c, 1, RC_REMOVE, 7, NULL), -RC_ENOTFOUND);
	assert_int_equal(change(&c, 1, RC_PROMOTE, 1, NULL), -RC_EINVAL);
	assert_int_equal(rc_change_membership(h_r(&c, 1), RC_ADD, NULL, NULL), -RC_EINVAL);
	h_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(added_node_is_a_non_voter_and_does_not_count_toward_quorum),
	    cmocka_unit_test(caught_up_non_voter_is_promoted_automatically),
	    cmocka_unit_test(removed_node_leaves_the_configuration),
	    cmocka_unit_test(second_change_is_refused_while_one_is_in_flight),
	    cmocka_unit_test(no_change_before_own_term_entry_commits),
	    cmocka_unit_test(removed_leader_steps_down_after_committing_its_removal),
	    cmocka_unit_test(removed_server_cannot_disrupt_the_cluster),
	    cmocka_unit_test(configuration_takes_effect_on_append_and_rolls_back_on_truncation),
	    cmocka_unit_test(last_voter_cannot_be_removed),
	};
	return cmocka_run_group_tests_name("rc_membership_change", tests, NULL, NULL);
}
