/*
 * First-light tests of the Replica through the hand-driven harness: a
 * cluster elects, replicates and commits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rc_harness.h"

static void three_nodes_elect_and_commit(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 1);
	h_elect(&c, 1);
	assert_int_equal(h_leader(&c), 1);
	rc_index idx = h_propose(&c, 1, 'a');
	assert_true(idx > 0);
	h_deliver_all(&c, 1000);
	h_run(&c, 50, 10);
	for (rc_id id = 1; id <= 3; id++) {
		assert_true(rc_commit_index(h_r(&c, id)) >= idx);
		assert_true(h_node(&c, id)->applied >= idx);
	}
	h_free(&c);
}

static void single_node_commits_after_persist(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 1, 2);
	h_node(&c, 1)->auto_persist = false;
	h_tick(&c, 1, 300);
	/* The candidate counts its own vote only once the vote is durable. */
	assert_int_equal(rc_role(h_r(&c, 1)), RC_CANDIDATE);
	h_deliver_all(&c, 100);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_CANDIDATE);
	h_persist_all(&c, 1);
	h_deliver_all(&c, 100);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_LEADER);
	h_persist_all(&c, 1);
	h_take(&c, 1);
	rc_index idx = h_propose(&c, 1, 'x');
	assert_true(rc_commit_index(h_r(&c, 1)) < idx);
	h_persist_all(&c, 1);
	h_take(&c, 1);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), idx);
	assert_int_equal(h_node(&c, 1)->applied, idx);
	h_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(three_nodes_elect_and_commit),
	    cmocka_unit_test(single_node_commits_after_persist),
	};
	return cmocka_run_group_tests_name("rc_smoke", tests, NULL, NULL);
}
