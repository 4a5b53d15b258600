/*
 * Log replication rules of the Replica (raftcore/replication.c), one test
 * per rule, driven by hand through the harness:
 * - A new leader appends a no-op of its term (paper 8: "each leader commit
 *   a blank no-op entry into the log at the start of its term").
 * - Commit by counting replicas only for current-term entries (paper
 *   5.4.2: "Raft never commits log entries from previous terms by counting
 *   replicas"), shown with the Figure 8 scenario built step by step.
 * - Flow control (dissertation 10.2): batching under max_append_entries and
 *   max_append_bytes, pipelining up to max_inflight in replicate mode, one
 *   message at a time in probe mode.
 * - Fast backtracking (paper 5.3: "the follower can include the term of the
 *   conflicting entry and the first index it stores for that term"): one
 *   round trip per conflicting term, not per entry.
 * - Truncation only on a real conflict (Figure 2, AppendEntries 3: "If an
 *   existing entry conflicts with a new one (same index but different
 *   terms), delete the existing entry and all that follow it"), never of
 *   what a stale or duplicated message does not contradict, never below the
 *   commit index.
 * - Persistence ordering (Figure 2 "before responding to RPCs",
 *   dissertation 10.2.1): a follower acknowledges after its persist; the
 *   leader counts itself only once its own write is durable; nothing is
 *   applied beyond the durable index; committed entries are handed out
 *   once, in order.
 * - Commit propagation (Raft 5.3: a follower learns the commit index up to
 *   the entries it is known to share with the leader): a follower whose
 *   acknowledgement arrives after the leader committed the entry gets an
 *   empty AppendEntries carrying the commit at once, in the same update,
 *   not at the next heartbeat; and such a commit-only AppendEntries goes
 *   out once, not again with every update while nothing changed.
 * - No probe storms: a rejection that leaves the probe where it is (such
 *   as a duplicate of one already handled) sends no second probe; the
 *   heartbeat tick probes again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "rc_harness.h"

#define T 100
#define HB 10

static rc_term term_at(struct h_cluster *c, rc_id id, rc_index i)
{
	const struct rc_entry *e = rc_entry_at(h_r(c, id), i);
	return e ? e->term : 0;
}

/* Delivers the first queued message of that type from -> to; asserts one
 * is there. */
static void deliver_one(struct h_cluster *c, uint8_t type, rc_id from, rc_id to)
{
	long i = h_find_msg(c, type, from, to);
	assert_true(i >= 0);
	h_deliver_at(c, (size_t)i);
}

static void new_leader_appends_noop_of_its_term(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 1);
	const rc_term prior[] = {1, 1};
	for (rc_id id = 1; id <= 3; id++)
		h_set_log(&c, id, prior, 2);
	assert_true(h_campaign(&c, 1));
	struct rc_replica *r = h_r(&c, 1);
	assert_int_equal(rc_last_index(r), 3);
	const struct rc_entry *e = rc_entry_at(r, 3);
	assert_int_equal(e->type, RC_ENTRY_NOOP);
	assert_int_equal(e->term, rc_term_of(r));
	assert_true(rc_term_of(r) > 1);
	/* It travels at once and commits the older entries with it. */
	h_deliver_all(&c, 1000);
	h_tick(&c, 1, HB);
	h_deliver_all(&c, 1000);
	for (rc_id id = 1; id <= 3; id++) {
		assert_int_equal(term_at(&c, id, 3), rc_term_of(r));
		assert_int_equal(rc_commit_index(h_r(&c, id)), 3);
	}
	h_free(&c);
}

/* Figure 8 of the Raft paper, steps (a) to (c), with five servers:
 * (a) S1 leads term 2 and its entry at index 2 reaches S2 only; S1 crashes.
 * (b) S5 leads term 3 with votes of S3, S4 and itself, appends a different
 *     entry at index 2, and crashes before sending it.
 * (c) S1 restarts and leads term 4 (S4 cut off from it); it sends index 2
 *     to S3, and stops there: index 2 (term 2) is now on S1, S2 and S3, a
 *     majority. Returns with that state, S1's further messages dropped.
 * One entry per AppendEntries so that S3 receives index 2 alone; no
 * CheckQuorum, so leases do not get in the way of the scripted elections. */
static void figure8_until_c(struct h_cluster *c)
{
	struct rc_options o;
	h_default_opts(&o, 8);
	o.check_quorum = false;
	o.max_append_entries = 1;
	h_init_opts(c, 5, &o);
	const rc_term one[] = {1};
	for (rc_id id = 1; id <= 5; id++)
		h_set_log(c, id, one, 1);

	/* (a) */
	assert_true(h_campaign(c, 1));
	assert_int_equal(rc_term_of(h_r(c, 1)), 2);
	assert_int_equal(term_at(c, 1, 2), 2);
	deliver_one(c, RC_MSG_APPEND, 1, 2);
	deliver_one(c, RC_MSG_APPEND_RESP, 2, 1);
	h_crash(c, 1);
	h_clear_msgs(c);
	assert_int_equal(term_at(c, 2, 2), 2);
	assert_int_equal(rc_last_index(h_r(c, 3)), 1);

	/* (b) */
	assert_true(h_campaign(c, 5));
	assert_int_equal(rc_term_of(h_r(c, 5)), 3);
	assert_int_equal(term_at(c, 5, 2), 3);
	h_crash(c, 5);
	h_clear_msgs(c);

	/* (c) */
	h_restart(c, 1);
	c->drop[1][4] = c->drop[4][1] = true;
	assert_true(h_campaign(c, 1));
	assert_int_equal(rc_term_of(h_r(c, 1)), 4);
	assert_int_equal(term_at(c, 1, 3), 4);
	/* S2 acknowledges what it has; S3 is probed back to index 2. */
	deliver_one(c, RC_MSG_APPEND, 1, 2);
	deliver_one(c, RC_MSG_APPEND_RESP, 2, 1);
	deliver_one(c, RC_MSG_APPEND, 1, 3);
	deliver_one(c, RC_MSG_APPEND_RESP, 3, 1); /* rejected */
	deliver_one(c, RC_MSG_APPEND, 1, 3);      /* index 2 alone */
	deliver_one(c, RC_MSG_APPEND_RESP, 3, 1); /* success, match 2 */
	c->drop[1][4] = c->drop[4][1] = false;
	for (rc_id id = 1; id <= 3; id++)
		assert_int_equal(term_at(c, id, 2), 2);
}

static void figure8_previous_term_entry_is_not_committed_by_counting(void **state)
{
	(void)state;
	struct h_cluster c;
	figure8_until_c(&c);
	/* A majority stores index 2, but of term 2: S1 (term 4) must not
	 * count it committed. */
	assert_true(rc_commit_index(h_r(&c, 1)) < 2);
	assert_true(h_node(&c, 1)->applied < 2);

	/* (d) And rightly so: S1 crashes, S5 is elected with votes of S3, S4
	 * and itself, and overwrites index 2 everywhere with its term-3 entry. */
	h_crash(&c, 1);
	h_clear_msgs(&c);
	h_restart(&c, 5);
	assert_true(h_campaign(&c, 5));
	assert_int_equal(rc_term_of(h_r(&c, 5)), 5);
	h_restart(&c, 1);
	h_run(&c, 3 * T, HB);
	assert_int_equal(h_leader(&c), 5);
	for (rc_id id = 1; id <= 5; id++) {
		assert_int_equal(term_at(&c, id, 2), 3);
		assert_int_equal(h_node(&c, id)->applied_term[2], 3);
	}
	h_free(&c);
}

static void figure8_current_term_entry_commits_older_ones(void **state)
{
	(void)state;
	struct h_cluster c;
	figure8_until_c(&c);
	/* (e) S1 gets its own entry (index 3, term 4) to S3 as well: that
	 * commits it, and index 2 with it. */
	deliver_one(&c, RC_MSG_APPEND, 1, 3);
	deliver_one(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_int_equal(term_at(&c, 3, 3), 4);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), 3);
	assert_int_equal(h_node(&c, 1)->applied_term[2], 2);
	/* S5 can no longer win: S2 and S3 hold a newer last term. */
	h_crash(&c, 1);
	h_clear_msgs(&c);
	h_restart(&c, 5);
	assert_false(h_campaign(&c, 5));
	h_restart(&c, 1);
	h_run(&c, 5 * T, HB);
	rc_id leader = h_leader(&c);
	assert_true(leader != 0 && leader != 5);
	for (rc_id id = 1; id <= 5; id++) {
		assert_int_equal(term_at(&c, id, 2), 2);
		assert_int_equal(h_node(&c, id)->applied_term[2], 2);
	}
	h_free(&c);
}

/* Entries carried by the queued AppendEntries from -> to, and how many
 * such messages; each message's entries must follow on from the last. */
static size_t appends_to(struct h_cluster *c, rc_id from, rc_id to, size_t *n_entries,
			 uint32_t *max_entries, uint64_t *max_bytes)
{
	size_t n = 0;
	*n_entries = 0;
	*max_entries = 0;
	*max_bytes = 0;
	rc_index next = 0;
	for (size_t i = 0; i < c->n_msgs; i++) {
		const struct rc_message *m = &c->msgs[i].m;
		if (m->type != RC_MSG_APPEND || m->from != from || m->to != to ||
		    m->u.append.n_entries == 0)
			continue;
		n++;
		if (next)
			assert_int_equal(m->u.append.prev_index + 1, next);
		uint64_t bytes = 0;
		for (uint32_t k = 0; k < m->u.append.n_entries; k++)
			bytes += m->u.append.entries[k].len;
		next = m->u.append.prev_index + m->u.append.n_entries + 1;
		*n_entries += m->u.append.n_entries;
		if (m->u.append.n_entries > *max_entries)
			*max_entries = m->u.append.n_entries;
		if (bytes > *max_bytes)
			*max_bytes = bytes;
	}
	return n;
}

static void propose_bytes(struct h_cluster *c, rc_id id, size_t n, uint32_t len)
{
	uint8_t buf[512];
	memset(buf, 'p', sizeof(buf));
	assert_true(len <= sizeof(buf));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rc_propose(h_r(c, id), buf, len, NULL, NULL), 0);
}

static void proposals_of_one_turn_travel_in_one_append(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 2);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	propose_bytes(&c, 1, 10, 1);
	h_take(&c, 1);
	size_t entries;
	uint32_t max_entries;
	uint64_t max_bytes;
	for (rc_id to = 2; to <= 3; to++) {
		assert_int_equal(appends_to(&c, 1, to, &entries, &max_entries, &max_bytes), 1);
		assert_int_equal(entries, 10);
	}
	h_free(&c);
}

static void append_respects_max_append_entries(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 3);
	o.max_append_entries = 4;
	h_init_opts(&c, 3, &o);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	propose_bytes(&c, 1, 10, 1);
	h_take(&c, 1);
	size_t entries;
	uint32_t max_entries;
	uint64_t max_bytes;
	assert_int_equal(appends_to(&c, 1, 2, &entries, &max_entries, &max_bytes), 3);
	assert_int_equal(entries, 10);
	assert_int_equal(max_entries, 4);
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), rc_last_index(h_r(&c, 1)));
	h_free(&c);
}

static void append_respects_max_append_bytes(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 4);
	o.max_append_bytes = 100;
	h_init_opts(&c, 3, &o);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	propose_bytes(&c, 1, 10, 40); /* two fit in 100 bytes, three do not */
	h_take(&c, 1);
	size_t entries;
	uint32_t max_entries;
	uint64_t max_bytes;
	assert_int_equal(appends_to(&c, 1, 2, &entries, &max_entries, &max_bytes), 5);
	assert_int_equal(entries, 10);
	assert_int_equal(max_entries, 2);
	assert_true(max_bytes <= 100);
	/* An entry larger than the limit still travels, alone. */
	h_clear_msgs(&c);
	propose_bytes(&c, 1, 1, 300);
	propose_bytes(&c, 1, 1, 40);
	h_take(&c, 1);
	assert_int_equal(appends_to(&c, 1, 2, &entries, &max_entries, &max_bytes), 2);
	assert_int_equal(max_entries, 1);
	assert_int_equal(max_bytes, 300);
	h_free(&c);
}

static void replicate_mode_keeps_at_most_max_inflight_appends(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 5);
	o.max_inflight = 3;
	o.max_append_entries = 1;
	h_init_opts(&c, 3, &o);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	propose_bytes(&c, 1, 10, 1);
	h_take(&c, 1);
	size_t entries;
	uint32_t max_entries;
	uint64_t max_bytes;
	assert_int_equal(appends_to(&c, 1, 2, &entries, &max_entries, &max_bytes), 3);
	/* A proposal while the window is full waits. */
	propose_bytes(&c, 1, 1, 1);
	h_take(&c, 1);
	assert_int_equal(appends_to(&c, 1, 2, &entries, &max_entries, &max_bytes), 3);
	/* One acknowledgement opens the window by one. */
	deliver_one(&c, RC_MSG_APPEND, 1, 2);
	deliver_one(&c, RC_MSG_APPEND_RESP, 2, 1);
	assert_int_equal(appends_to(&c, 1, 2, &entries, &max_entries, &max_bytes), 3);
	/* Everything gets through in the end. */
	h_deliver_all(&c, 10000);
	h_tick(&c, 1, HB);
	h_deliver_all(&c, 10000);
	assert_int_equal(rc_last_index(h_r(&c, 2)), rc_last_index(h_r(&c, 1)));
	assert_int_equal(rc_commit_index(h_r(&c, 1)), rc_last_index(h_r(&c, 1)));
	h_free(&c);
}

static void probe_mode_sends_one_append_at_a_time(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 6);
	h_isolate(&c, 3, true);
	h_elect(&c, 1); /* node 3 never answered: it is being probed */
	h_isolate(&c, 3, false);
	h_clear_msgs(&c);
	h_tick(&c, 1, HB);
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 3), 1);
	for (int i = 0; i < 5; i++)
		assert_true(h_propose(&c, 1, (uint8_t)i) > 0);
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 3), 1);
	/* Node 2, in replicate mode, got one message per proposal. */
	assert_true(h_count_msgs(&c, RC_MSG_APPEND, 1, 2) >= 5);
	/* Once the probe is answered, node 3 streams. */
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_last_index(h_r(&c, 3)), rc_last_index(h_r(&c, 1)));
	h_free(&c);
}

/* Lets leader and follower talk, one message at a time, until the
 * follower's log equals the leader's; returns the number of rejected
 * AppendEntries on the way (-1 if it did not converge). */
static int rejections_until_match(struct h_cluster *c, rc_id leader, rc_id follower)
{
	int rejected = 0;
	for (int step = 0; step < 400; step++) {
		rc_index last = rc_last_index(h_r(c, leader));
		bool same = rc_last_index(h_r(c, follower)) == last;
		for (rc_index i = 1; same && i <= last; i++)
			same = term_at(c, follower, i) == term_at(c, leader, i);
		if (same)
			return rejected;
		long i = h_find_msg(c, RC_MSG_APPEND_RESP, follower, leader);
		if (i >= 0) {
			if (!c->msgs[i].m.u.append_resp.success)
				rejected++;
		} else {
			i = h_find_msg(c, RC_MSG_APPEND, leader, follower);
		}
		if (i < 0)
			return -1;
		h_deliver_at(c, (size_t)i);
	}
	return -1;
}

/* Nodes 1 and 2 hold `good`, node 3 `bad`; node 3 is cut off while node 1
 * is elected, then probed. */
static void backtrack_setup(struct h_cluster *c, const rc_term *good, size_t n_good,
			    const rc_term *bad, size_t n_bad)
{
	h_init(c, 3, 7);
	h_set_log(c, 1, good, n_good);
	h_set_log(c, 2, good, n_good);
	h_set_log(c, 3, bad, n_bad);
	h_isolate(c, 3, true);
	h_elect(c, 1);
	h_isolate(c, 3, false);
	h_clear_msgs(c);
	h_tick(c, 1, HB);
}

static void divergent_suffix_of_older_term_is_fixed_in_one_round_trip(void **state)
{
	(void)state;
	struct h_cluster c;
	rc_term good[51], bad[51];
	good[0] = bad[0] = 1;
	for (int i = 1; i < 51; i++) {
		good[i] = 3;
		bad[i] = 2; /* 50 entries of a deposed term-2 leader */
	}
	backtrack_setup(&c, good, 51, bad, 51);
	int rejected = rejections_until_match(&c, 1, 3);
	assert_true(rejected >= 1 && rejected <= 2);
	h_free(&c);
}

static void divergent_suffix_of_newer_term_is_fixed_in_one_round_trip(void **state)
{
	(void)state;
	struct h_cluster c;
	rc_term good[51], bad[51];
	good[0] = bad[0] = 1;
	for (int i = 1; i < 51; i++) {
		good[i] = 2;
		bad[i] = 3; /* 50 entries of a term-3 leader nobody followed */
	}
	backtrack_setup(&c, good, 51, bad, 51);
	int rejected = rejections_until_match(&c, 1, 3);
	assert_true(rejected >= 1 && rejected <= 2);
	h_free(&c);
}

static void lagging_follower_is_found_in_one_round_trip(void **state)
{
	(void)state;
	struct h_cluster c;
	rc_term good[100];
	for (int i = 0; i < 100; i++)
		good[i] = 1;
	backtrack_setup(&c, good, 100, good, 3);
	int rejected = rejections_until_match(&c, 1, 3);
	assert_int_equal(rejected, 1);
	h_free(&c);
}

static void stale_duplicate_append_does_not_truncate_acknowledged_entries(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 9);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	rc_index a = h_propose(&c, 1, 'a');
	struct h_msg old;
	h_copy_msg(&c, (size_t)h_find_msg(&c, RC_MSG_APPEND, 1, 2), &old);
	assert_int_equal(old.m.u.append.n_entries, 1);
	assert_int_equal(old.m.u.append.entries[0].index, a);
	h_deliver_all(&c, 1000);
	assert_true(rc_propose(h_r(&c, 1), "b", 1, NULL, NULL) == 0);
	assert_true(rc_propose(h_r(&c, 1), "c", 1, NULL, NULL) == 0);
	h_take(&c, 1);
	/* b and c reach both followers and commit; node 2 is not told yet. */
	h_deliver_matching(&c, RC_MSG_APPEND, 1, 0);
	h_deliver_matching(&c, RC_MSG_APPEND_RESP, 0, 1);
	h_clear_msgs(&c);
	struct rc_replica *r2 = h_r(&c, 2);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), a + 2);
	assert_int_equal(rc_last_index(r2), a + 2);
	assert_int_equal(rc_commit_index(r2), a);

	/* The old message turns up again, after the newer one. */
	h_inject(&c, &old);
	h_msg_free(&old);
	long i = h_find_msg(&c, RC_MSG_APPEND, 1, 2);
	h_deliver_at(&c, (size_t)i);
	assert_int_equal(rc_last_index(r2), a + 2);
	assert_int_equal(h_node(&c, 2)->n_log, a + 2);
	assert_int_equal(term_at(&c, 2, a + 2), rc_term_of(h_r(&c, 1)));
	h_deliver_all(&c, 1000);
	struct rc_progress_info pi[4];
	size_t n = rc_progress(h_r(&c, 1), pi, 4);
	for (size_t k = 0; k < n; k++)
		if (pi[k].id == 2)
			assert_int_equal(pi[k].match_index, a + 2);
	h_tick(&c, 1, HB);
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_commit_index(r2), a + 2);
	h_free(&c);
}

struct truncate_watch {
	rc_id id;
	rc_index truncate_from; /* the first one seen for id */
};

static void watch_truncate(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg)
{
	(void)c;
	struct truncate_watch *w = arg;
	if (id == w->id && u->truncate_from && !w->truncate_from)
		w->truncate_from = u->truncate_from;
}

static void follower_truncates_on_real_term_conflict(void **state)
{
	(void)state;
	struct h_cluster c;
	struct truncate_watch w = {.id = 3};
	const rc_term good[] = {1, 3}, bad[] = {1, 2, 2};
	h_init(&c, 3, 10);
	h_set_log(&c, 1, good, 2);
	h_set_log(&c, 2, good, 2);
	h_set_log(&c, 3, bad, 3);
	c.observe = watch_truncate;
	c.observe_arg = &w;
	h_elect(&c, 1);
	assert_int_equal(w.truncate_from, 2);
	rc_index last = rc_last_index(h_r(&c, 1));
	assert_int_equal(rc_last_index(h_r(&c, 3)), last);
	for (rc_index i = 1; i <= last; i++)
		assert_int_equal(term_at(&c, 3, i), term_at(&c, 1, i));
	/* and the stored log too */
	assert_int_equal(h_node(&c, 3)->n_log, last);
	assert_int_equal(h_node(&c, 3)->log[1].term, 3);
	h_free(&c);
}

static void follower_never_truncates_below_its_commit_index(void **state)
{
	(void)state;
	struct h_cluster c;
	struct truncate_watch w = {.id = 2};
	h_init(&c, 3, 11);
	h_elect(&c, 1);
	h_propose(&c, 1, 'a');
	h_propose(&c, 1, 'b');
	h_deliver_all(&c, 1000);
	h_tick(&c, 1, HB);
	h_deliver_all(&c, 1000);
	struct rc_replica *r2 = h_r(&c, 2);
	assert_int_equal(rc_commit_index(r2), 3);
	rc_term t = rc_term_of(r2);
	c.observe = watch_truncate;
	c.observe_arg = &w;
	/* A message no legitimate leader could send: it contradicts index 2,
	 * which node 2 knows is committed. */
	struct rc_entry e = {.term = t + 1, .index = 2, .type = RC_ENTRY_NOOP};
	struct rc_message m = {.type = RC_MSG_APPEND, .from = 3, .to = 2, .term = t + 1};
	m.u.append.prev_index = 1;
	m.u.append.prev_term = t;
	m.u.append.n_entries = 1;
	m.u.append.entries = &e;
	h_step(&c, &m);
	assert_int_equal(w.truncate_from, 0);
	assert_int_equal(rc_last_index(r2), 3);
	assert_int_equal(term_at(&c, 2, 2), t);
	assert_int_equal(rc_commit_index(r2), 3);
	h_free(&c);
}

struct ack_watch {
	rc_id id;
	int success_now;   /* APPEND_RESP success in u.msgs */
	int success_after; /* ... in u.msgs_after_persist */
};

static void watch_acks(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg)
{
	(void)c;
	struct ack_watch *w = arg;
	if (id != w->id)
		return;
	for (size_t i = 0; i < u->n_msgs; i++)
		if (u->msgs[i].type == RC_MSG_APPEND_RESP && u->msgs[i].u.append_resp.success)
			w->success_now++;
	for (size_t i = 0; i < u->n_msgs_after_persist; i++)
		if (u->msgs_after_persist[i].type == RC_MSG_APPEND_RESP &&
		    u->msgs_after_persist[i].u.append_resp.success)
			w->success_after++;
}

static void follower_acknowledges_append_only_after_persist(void **state)
{
	(void)state;
	struct h_cluster c;
	struct ack_watch w = {.id = 2};
	h_init(&c, 3, 12);
	h_elect(&c, 1);
	h_clear_msgs(&c);
	c.observe = watch_acks;
	c.observe_arg = &w;
	h_node(&c, 2)->auto_persist = false;
	rc_index idx = h_propose(&c, 1, 'x');
	h_deliver_matching(&c, RC_MSG_APPEND, 1, 2);
	assert_int_equal(rc_last_index(h_r(&c, 2)), idx);
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND_RESP, 2, 1), 0);
	/* heartbeats too are answered after persist */
	h_tick(&c, 1, HB);
	h_deliver_matching(&c, RC_MSG_APPEND, 1, 2);
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND_RESP, 2, 1), 0);
	h_persist_all(&c, 2);
	long i = h_find_msg(&c, RC_MSG_APPEND_RESP, 2, 1);
	assert_true(i >= 0);
	assert_int_equal(c.msgs[i].m.u.append_resp.match_index, idx);
	assert_int_equal(w.success_now, 0);
	assert_true(w.success_after >= 2);
	h_free(&c);
}

static void leader_does_not_count_itself_before_its_persist(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 13);
	h_elect(&c, 1);
	h_isolate(&c, 3, true); /* commit needs the leader and node 2 */
	h_node(&c, 1)->auto_persist = false;
	rc_index idx = h_propose(&c, 1, 'x');
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_last_index(h_r(&c, 2)), idx);
	assert_true(rc_commit_index(h_r(&c, 1)) < idx);
	h_persist_all(&c, 1);
	h_take(&c, 1);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), idx);
	assert_int_equal(h_node(&c, 1)->applied, idx);
	h_free(&c);
}

static void nothing_is_applied_beyond_the_durable_index(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 14);
	h_elect(&c, 1);
	h_clear_msgs(&c);

	/* A follower learns a commit index beyond what it has persisted. */
	h_node(&c, 2)->auto_persist = false;
	rc_index x = h_propose(&c, 1, 'x');
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), x); /* with node 3 */
	h_propose(&c, 1, 'y');
	h_deliver_all(&c, 1000);
	assert_true(rc_commit_index(h_r(&c, 2)) >= x);
	assert_true(h_node(&c, 2)->applied < x);
	h_persist_all(&c, 2);
	h_take(&c, 2);
	assert_true(h_node(&c, 2)->applied >= x);

	/* A leader whose followers acknowledged before its own disk did. */
	h_deliver_all(&c, 1000);
	h_node(&c, 2)->auto_persist = true;
	h_node(&c, 1)->auto_persist = false;
	rc_index z = h_propose(&c, 1, 'z');
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), z);
	assert_true(h_node(&c, 1)->applied < z);
	h_persist_all(&c, 1);
	h_take(&c, 1);
	assert_int_equal(h_node(&c, 1)->applied, z);
	for (rc_id id = 1; id <= 3; id++)
		assert_int_equal(h_node(&c, id)->apply_not_durable, 0);
	h_free(&c);
}

struct apply_watch {
	rc_index last[4]; /* per node: last index handed out */
	rc_term term[4][512];
	size_t handed[4]; /* entries handed out */
	int out_of_order;
};

static void watch_apply(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg)
{
	(void)c;
	struct apply_watch *w = arg;
	for (size_t i = 0; i < u->n_committed; i++) {
		const struct rc_entry *e = &u->committed[i];
		if (e->index != w->last[id] + 1)
			w->out_of_order++;
		w->last[id] = e->index;
		w->handed[id]++;
		if (e->index < 512)
			w->term[id][e->index] = e->term;
	}
}

static void committed_entries_are_handed_out_once_in_order(void **state)
{
	(void)state;
	struct h_cluster c;
	struct apply_watch w;
	memset(&w, 0, sizeof(w));
	h_init(&c, 3, 15);
	c.observe = watch_apply;
	c.observe_arg = &w;
	h_elect(&c, 1);
	/* Slow disks, pipelined proposals, a leader change. */
	h_node(&c, 1)->auto_persist = false;
	h_node(&c, 3)->auto_persist = false;
	for (int round = 0; round < 20; round++) {
		rc_id leader = h_leader(&c);
		for (int k = 0; k < 3; k++)
			if (leader)
				h_propose(&c, leader, (uint8_t)(round * 3 + k));
		h_deliver_all(&c, 10000);
		if (round % 2)
			h_persist_one(&c, 1);
		if (round % 3 == 0)
			h_persist_one(&c, 3);
		for (rc_id id = 1; id <= 3; id++)
			h_tick(&c, id, HB);
		h_deliver_all(&c, 10000);
		if (round == 10) {
			h_persist_all(&c, 1);
			h_isolate(&c, 1, true);
		}
		if (round == 12)
			h_isolate(&c, 1, false);
	}
	for (rc_id id = 1; id <= 3; id++) {
		h_node(&c, id)->auto_persist = true;
		h_persist_all(&c, id);
	}
	h_run(&c, 3 * T, HB);
	rc_id leader = h_leader(&c);
	assert_true(leader != 0);
	rc_index last = rc_last_index(h_r(&c, leader));
	assert_true(last > 40);
	assert_int_equal(w.out_of_order, 0);
	for (rc_id id = 1; id <= 3; id++) {
		assert_int_equal(w.last[id], last);
		assert_int_equal(w.handed[id], last);
		assert_int_equal(h_node(&c, id)->apply_out_of_order, 0);
		for (rc_index i = 1; i <= last; i++)
			assert_int_equal(w.term[id][i], w.term[leader][i]);
	}
	h_free(&c);
}

/* Takes leader id's update n times by hand, its clock moving 1 ms before
 * each (less than a heartbeat in all) and routing nothing; counts the
 * AppendEntries to `to` in each (per[0..n-1]); returns the total. The last
 * one seen is copied to *last when not NULL. */
static size_t appends_per_update(struct h_cluster *c, rc_id id, rc_id to, int n, size_t *per,
				 struct rc_message *last)
{
	struct h_node *nd = h_node(c, id);
	size_t total = 0;
	for (int k = 0; k < n; k++) {
		nd->now += 1;
		rc_tick(nd->r, nd->now);
		struct rc_update u;
		rc_take_update(nd->r, &u);
		per[k] = 0;
		for (size_t i = 0; i < u.n_msgs; i++) {
			if (u.msgs[i].type != RC_MSG_APPEND || u.msgs[i].to != to)
				continue;
			per[k]++;
			if (last)
				*last = u.msgs[i];
		}
		total += per[k];
	}
	return total;
}

/* Nodes 1 (leader), 2, 3 in sync, a heartbeat just sent; node 1 proposes
 * x and both followers store it and acknowledge it. The two
 * acknowledgements are left queued. Returns x. */
static rc_index late_ack_setup(struct h_cluster *c, uint64_t seed)
{
	h_init(c, 3, seed);
	h_elect(c, 1);
	h_tick(c, 1, HB);
	h_deliver_all(c, 1000);
	h_clear_msgs(c);
	rc_index x = h_propose(c, 1, 'x');
	deliver_one(c, RC_MSG_APPEND, 1, 2);
	deliver_one(c, RC_MSG_APPEND, 1, 3);
	assert_int_equal(h_count_msgs(c, RC_MSG_APPEND_RESP, 2, 1), 1);
	assert_int_equal(h_count_msgs(c, RC_MSG_APPEND_RESP, 3, 1), 1);
	assert_int_equal(c->n_msgs, 2);
	assert_true(rc_commit_index(h_r(c, 1)) < x);
	return x;
}

static void follower_acknowledging_after_the_commit_learns_it_at_once(void **state)
{
	(void)state;
	struct h_cluster c;
	rc_index x = late_ack_setup(&c, 21);
	struct rc_replica *r2 = h_r(&c, 2);
	/* Node 3's acknowledgement commits x; whatever that makes the leader
	 * send node 2 arrives before node 2's own acknowledgement does. */
	deliver_one(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), x);
	h_deliver_matching(&c, 0, 1, 0);
	h_deliver_matching(&c, 0, 3, 1);
	assert_int_equal(rc_last_index(r2), x);
	assert_true(rc_commit_index(r2) < x);
	assert_true(h_node(&c, 2)->applied < x);
	/* The leader learns node 2 holds x: in that same update, with no
	 * tick, it tells node 2 that x is committed. */
	deliver_one(&c, RC_MSG_APPEND_RESP, 2, 1);
	assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 2), 1);
	long i = h_find_msg(&c, RC_MSG_APPEND, 1, 2);
	assert_int_equal(c.msgs[i].m.u.append.n_entries, 0);
	assert_int_equal(c.msgs[i].m.u.append.commit, x);
	deliver_one(&c, RC_MSG_APPEND, 1, 2);
	assert_int_equal(rc_commit_index(r2), x);
	assert_int_equal(h_node(&c, 2)->applied, x); /* update.committed had it */
	assert_int_equal(h_node(&c, 2)->apply_out_of_order, 0);
	h_free(&c);
}

static void leader_sends_no_repeated_commit_only_append_while_nothing_changes(void **state)
{
	(void)state;
	struct h_cluster c;
	rc_index x = late_ack_setup(&c, 22);
	struct rc_replica *r1 = h_r(&c, 1);
	long i = h_find_msg(&c, RC_MSG_APPEND_RESP, 3, 1);
	struct rc_message ack3 = c.msgs[i].m;
	i = h_find_msg(&c, RC_MSG_APPEND_RESP, 2, 1);
	struct rc_message ack2 = c.msgs[i].m;
	h_clear_msgs(&c);
	/* Steps by hand, so that a leader that kept sending would show it
	 * update after update (the harness would spin on it). */
	enum { TURNS = 4 }; /* 2 * TURNS ms in all: no heartbeat is due */
	size_t per[TURNS];
	assert_int_equal(rc_step(r1, &ack3), 0);
	assert_int_equal(rc_commit_index(r1), x);
	/* Node 2 cannot learn x before the leader knows it holds x: nothing
	 * it could learn, so at most one message, and not again. */
	size_t n = appends_per_update(&c, 1, 2, TURNS, per, NULL);
	assert_true(n <= 1);
	for (int k = 1; k < TURNS; k++)
		assert_int_equal(per[k], 0);
	/* Node 2's acknowledgement: one commit-only AppendEntries, in the
	 * first update, then silence until the heartbeat. */
	assert_int_equal(rc_step(r1, &ack2), 0);
	struct rc_message m;
	n = appends_per_update(&c, 1, 2, TURNS, per, &m);
	assert_int_equal(per[0], 1);
	assert_int_equal(n, 1);
	assert_int_equal(m.u.append.commit, x);
	assert_int_equal(m.u.append.n_entries, 0);
	h_free(&c);
}

static void duplicated_rejection_sends_no_second_probe(void **state)
{
	(void)state;
	struct h_cluster c;
	h_init(&c, 3, 23);
	h_elect(&c, 1);
	for (int k = 0; k < 3; k++)
		h_propose(&c, 1, (uint8_t)k);
	h_deliver_all(&c, 1000);
	h_tick(&c, 1, HB);
	h_deliver_all(&c, 1000);
	h_clear_msgs(&c);
	rc_index match = rc_last_index(h_r(&c, 1));
	assert_int_equal(rc_last_index(h_r(&c, 3)), match);
	/* Node 3 comes back with an empty log (its disk was replaced): it
	 * rejects every probe at the match the leader knows, and each of its
	 * rejections asks for the very probe it answers. */
	h_set_log(&c, 3, NULL, 0);
	h_propose(&c, 1, 'y');
	h_deliver_all(&c, 1000);
	h_tick(&c, 1, HB); /* no progress from node 3: it is probed */
	h_deliver_matching(&c, 0, 1, 2);
	h_deliver_matching(&c, 0, 2, 1);
	long i = h_find_msg(&c, RC_MSG_APPEND, 1, 3);
	assert_true(i >= 0);
	assert_int_equal(c.msgs[i].m.u.append.prev_index, match);
	h_deliver_at(&c, (size_t)i);
	i = h_find_msg(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_true(i >= 0);
	assert_false(c.msgs[i].m.u.append_resp.success);
	struct h_msg dup;
	h_copy_msg(&c, (size_t)i, &dup);
	h_deliver_at(&c, (size_t)i);
	size_t probes = h_count_msgs(&c, RC_MSG_APPEND, 1, 3);
	assert_true(probes <= 1);
	/* The network delivers that rejection twice more. */
	for (int k = 0; k < 2; k++) {
		h_inject(&c, &dup);
		deliver_one(&c, RC_MSG_APPEND_RESP, 3, 1);
		assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 3), probes);
	}
	h_msg_free(&dup);
	/* Nor does the exchange feed itself: left alone, it dies out, and the
	 * heartbeat tick sends one probe per interval. */
	assert_true(h_deliver_all(&c, 100) < 100);
	assert_int_equal(c.n_msgs, 0);
	for (int k = 0; k < 3; k++) {
		h_tick(&c, 1, HB);
		assert_int_equal(h_count_msgs(&c, RC_MSG_APPEND, 1, 3), 1);
		assert_true(h_deliver_all(&c, 100) < 100);
	}
	h_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(new_leader_appends_noop_of_its_term),
	    cmocka_unit_test(figure8_previous_term_entry_is_not_committed_by_counting),
	    cmocka_unit_test(figure8_current_term_entry_commits_older_ones),
	    cmocka_unit_test(proposals_of_one_turn_travel_in_one_append),
	    cmocka_unit_test(append_respects_max_append_entries),
	    cmocka_unit_test(append_respects_max_append_bytes),
	    cmocka_unit_test(replicate_mode_keeps_at_most_max_inflight_appends),
	    cmocka_unit_test(probe_mode_sends_one_append_at_a_time),
	    cmocka_unit_test(divergent_suffix_of_older_term_is_fixed_in_one_round_trip),
	    cmocka_unit_test(divergent_suffix_of_newer_term_is_fixed_in_one_round_trip),
	    cmocka_unit_test(lagging_follower_is_found_in_one_round_trip),
	    cmocka_unit_test(stale_duplicate_append_does_not_truncate_acknowledged_entries),
	    cmocka_unit_test(follower_truncates_on_real_term_conflict),
	    cmocka_unit_test(follower_never_truncates_below_its_commit_index),
	    cmocka_unit_test(follower_acknowledges_append_only_after_persist),
	    cmocka_unit_test(leader_does_not_count_itself_before_its_persist),
	    cmocka_unit_test(nothing_is_applied_beyond_the_durable_index),
	    cmocka_unit_test(committed_entries_are_handed_out_once_in_order),
	    cmocka_unit_test(follower_acknowledging_after_the_commit_learns_it_at_once),
	    cmocka_unit_test(leader_sends_no_repeated_commit_only_append_while_nothing_changes),
	    cmocka_unit_test(duplicated_rejection_sends_no_second_probe),
	};
	return cmocka_run_group_tests_name("rc_replication", tests, NULL, NULL);
}
