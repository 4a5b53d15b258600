/*
 * Creating a Replica and restarting one (raftcore/replica.c: check_boot,
 * rc_replica_new).
 * - Options and boot state are validated, each refusal with a reason a
 *   person can read (errmsg), as STYLE.md asks for errors people see.
 * - Raft paper Figure 2, "Persistent state on all servers: currentTerm,
 *   votedFor, log[] (updated on stable storage before responding to RPCs)":
 *   a restarted server resumes with exactly that state, and the
 *   configuration in its log (dissertation 4.1: "the latest configuration
 *   in its log"); what it had applied is known committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "rc_harness.h"

static void three_members(struct rc_membership *m)
{
	memset(m, 0, sizeof(*m));
	m->n = 3;
	for (uint32_t i = 0; i < 3; i++) {
		m->members[i].id = i + 1;
		m->members[i].voter = true;
		snprintf(m->members[i].addr, RC_ADDR_MAX, "node%u", i + 1);
	}
}

/* A valid boot: snapshot at 10 (term 2), entries 11..13 of terms 2, 3, 3,
 * hard state term 3. */
struct boot_case {
	struct rc_options o;
	struct rc_boot b;
	struct rc_entry e[4];
};

static void valid(struct boot_case *k)
{
	memset(k, 0, sizeof(*k));
	rc_options_default(&k->o, 1, 42);
	k->b.hard_state = (struct rc_hard_state){.term = 3, .vote = 2};
	k->b.snapshot.index = 10;
	k->b.snapshot.term = 2;
	three_members(&k->b.snapshot.membership);
	const rc_term terms[] = {2, 3, 3};
	for (int i = 0; i < 3; i++)
		k->e[i] = (struct rc_entry){
		    .term = terms[i], .index = 11 + (rc_index)i, .type = RC_ENTRY_NOOP};
	k->b.entries = k->e;
	k->b.n_entries = 3;
	k->b.applied = 10;
}

static void refused(struct boot_case *k, const char *why)
{
	char err[256] = "";
	struct rc_replica *r = rc_replica_new(&k->o, &k->b, err);
	if (r) {
		rc_replica_free(r);
		fail_msg("booted although %s", why);
	}
	if (strlen(err) == 0)
		fail_msg("no reason given for: %s", why);
	/* No message buffer: refused all the same, and no crash. */
	assert_null(rc_replica_new(&k->o, &k->b, NULL));
}

static void valid_boot_is_accepted(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	char err[256] = "";
	struct rc_replica *r = rc_replica_new(&k.o, &k.b, err);
	assert_non_null(r);
	assert_int_equal(rc_role(r), RC_FOLLOWER);
	assert_int_equal(rc_term_of(r), 3);
	assert_int_equal(rc_vote_of(r), 2);
	assert_int_equal(rc_snapshot_index(r), 10);
	assert_int_equal(rc_first_index(r), 11);
	assert_int_equal(rc_last_index(r), 13);
	assert_int_equal(rc_entry_at(r, 12)->term, 3);
	assert_int_equal(rc_commit_index(r), 10);
	assert_int_equal(rc_membership(r)->n, 3);
	rc_replica_free(r);
}

static void boot_refuses_node_id_zero(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.o.id = 0;
	refused(&k, "id 0");
}

static void boot_refuses_heartbeat_not_below_election_timeout(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.o.heartbeat_ms = k.o.election_timeout_ms;
	refused(&k, "heartbeat == election timeout");
	k.o.heartbeat_ms = k.o.election_timeout_ms + 1;
	refused(&k, "heartbeat > election timeout");
	k.o.heartbeat_ms = 0;
	refused(&k, "heartbeat 0");
}

static void boot_refuses_zero_limits(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.o.max_append_entries = 0;
	refused(&k, "max_append_entries 0");
	valid(&k);
	k.o.max_append_bytes = 0;
	refused(&k, "max_append_bytes 0");
	valid(&k);
	k.o.max_inflight = 0;
	refused(&k, "max_inflight 0");
	valid(&k);
	k.o.snapshot_chunk_bytes = 0;
	refused(&k, "snapshot_chunk_bytes 0");
}

static void boot_refuses_non_contiguous_entries(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.e[1].index = 13; /* 11, 13, 13 */
	refused(&k, "a gap in the entries");
	valid(&k);
	for (int i = 0; i < 3; i++)
		k.e[i].index++; /* 12.. after a snapshot at 10 */
	refused(&k, "entries not right after the snapshot");
	valid(&k);
	k.e[0].index = 10; /* overlaps the snapshot */
	refused(&k, "an entry the snapshot covers");
}

static void boot_refuses_inconsistent_terms(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.e[2].term = 2; /* 2, 3, 2 */
	refused(&k, "decreasing entry terms");
	valid(&k);
	k.e[0].term = 1; /* below the snapshot's term */
	refused(&k, "an entry older than the snapshot");
	valid(&k);
	k.e[2].term = 4; /* above the durable term 3 */
	refused(&k, "an entry term above the hard state's");
}

/* The snapshot's last entry has a term the node must have seen: a durable
 * term below it would let the node vote, or lead, in a term it already
 * saw entries of (and its log would go backwards in term). */
static void boot_refuses_snapshot_term_above_hard_state(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.b.n_entries = 0;
	k.b.snapshot.term = 4; /* hard state: term 3 */
	refused(&k, "a snapshot term above the hard state's");
}

static void boot_refuses_impossible_state(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.b.applied = 14; /* the log ends at 13 */
	refused(&k, "applied beyond the log");
	valid(&k);
	k.b.snapshot.membership.n = RC_MAX_MEMBERS + 1;
	refused(&k, "too many members");
}

/* The boot membership says who votes: ids must be non-zero and unique, as
 * rc_membership_decode requires of every membership on the wire. */
static void boot_refuses_malformed_membership(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.b.snapshot.membership.members[2].id = 2; /* 1, 2, 2 */
	refused(&k, "a duplicate member id");
	valid(&k);
	k.b.snapshot.membership.members[1].id = 0;
	refused(&k, "member id 0");
}

static void restarted_node_resumes_term_vote_and_log(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 5);
	h_elect(&c, 1);
	for (int i = 0; i < 5; i++)
		h_propose(&c, 1, (uint8_t)i);
	h_deliver_all(&c, 1000);
	struct rc_replica *r = h_r(&c, 2);
	rc_term term = rc_term_of(r);
	rc_id vote = rc_vote_of(r);
	rc_index last = rc_last_index(r);
	assert_true(term > 0);
	assert_int_equal(vote, 1);
	assert_int_equal(last, 6);
	h_crash(&c, 2);
	h_restart(&c, 2);
	r = h_r(&c, 2);
	assert_int_equal(rc_role(r), RC_FOLLOWER);
	assert_int_equal(rc_term_of(r), term);
	assert_int_equal(rc_vote_of(r), vote);
	assert_int_equal(rc_last_index(r), last);
	for (rc_index i = 1; i <= last; i++) {
		assert_int_equal(rc_entry_at(r, i)->term, rc_entry_at(h_r(&c, 1), i)->term);
		assert_int_equal(rc_entry_at(r, i)->type, rc_entry_at(h_r(&c, 1), i)->type);
		assert_int_equal(rc_entry_at(r, i)->len, rc_entry_at(h_r(&c, 1), i)->len);
	}
	assert_int_equal(*(const uint8_t *)rc_entry_at(r, last)->data, 4);
	/* A restarted leader comes back a follower of the same term. */
	h_crash(&c, 1);
	h_restart(&c, 1);
	assert_int_equal(rc_role(h_r(&c, 1)), RC_FOLLOWER);
	assert_int_equal(rc_term_of(h_r(&c, 1)), term);
	/* And the cluster goes on. */
	h_run(&c, 500, 10);
	rc_id leader = h_leader(&c);
	assert_true(leader != 0);
	rc_index idx = h_propose(&c, leader, 'z');
	h_run(&c, 50, 10);
	for (rc_id id = 1; id <= 3; id++)
		assert_true(h_node(&c, id)->applied >= idx);
	h_free(&c);
}

static void restarted_node_uses_configuration_from_its_log(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	struct rc_membership m = k.b.snapshot.membership;
	m.members[m.n] = (struct rc_member){.id = 4, .voter = false, .addr = "node4"};
	m.n++;
	uint8_t buf[2048];
	int len = rc_membership_encode(&m, buf, sizeof(buf));
	assert_true(len > 0);
	k.e[2].type = RC_ENTRY_CONFIG; /* index 13, not applied */
	k.e[2].data = buf;
	k.e[2].len = (uint32_t)len;
	struct rc_replica *r = rc_replica_new(&k.o, &k.b, NULL);
	assert_non_null(r);
	assert_int_equal(rc_membership(r)->n, 4);
	assert_non_null(rc_membership_find(rc_membership(r), 4));
	rc_replica_free(r);
}

static void restarted_node_knows_its_applied_prefix_committed(void **state)
{
	(void)state;
	struct boot_case k;
	valid(&k);
	k.b.applied = 12;
	struct rc_replica *r = rc_replica_new(&k.o, &k.b, NULL);
	assert_non_null(r);
	assert_int_equal(rc_commit_index(r), 12);
	/* ... and does not hand those entries out for apply again. */
	struct rc_update u;
	rc_take_update(r, &u);
	assert_int_equal(u.n_committed, 0);
	/* The leader says 13 is committed: only 13 is new to apply. */
	struct rc_message m = {.type = RC_MSG_APPEND, .from = 2, .to = 1, .term = 3};
	m.u.append.prev_index = 13;
	m.u.append.prev_term = 3;
	m.u.append.commit = 13;
	assert_int_equal(rc_step(r, &m), 0);
	rc_take_update(r, &u);
	assert_int_equal(u.n_committed, 1);
	assert_int_equal(u.committed[0].index, 13);
	rc_replica_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(valid_boot_is_accepted),
	    cmocka_unit_test(boot_refuses_node_id_zero),
	    cmocka_unit_test(boot_refuses_heartbeat_not_below_election_timeout),
	    cmocka_unit_test(boot_refuses_zero_limits),
	    cmocka_unit_test(boot_refuses_non_contiguous_entries),
	    cmocka_unit_test(boot_refuses_inconsistent_terms),
	    cmocka_unit_test(boot_refuses_snapshot_term_above_hard_state),
	    cmocka_unit_test(boot_refuses_malformed_membership),
	    cmocka_unit_test(boot_refuses_impossible_state),
	    cmocka_unit_test(restarted_node_resumes_term_vote_and_log),
	    cmocka_unit_test(restarted_node_uses_configuration_from_its_log),
	    cmocka_unit_test(restarted_node_knows_its_applied_prefix_committed),
	};
	return cmocka_run_group_tests_name("rc_boot", tests, NULL, NULL);
}
