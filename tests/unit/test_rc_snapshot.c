/*
 * Snapshots and InstallSnapshot (raftcore/snapshot.c), one test per rule.
 * Raft paper section 7 and Figure 13, dissertation chapter 5:
 * - "Each server takes snapshots independently, covering just the
 *   committed entries in its log"; the log up to the snapshot may then be
 *   discarded, here keeping snapshot_trailing entries (update.compact_to).
 * - "The leader uses a new RPC called InstallSnapshot to send snapshots to
 *   followers that are too far behind", in chunks sent in order (Figure
 *   13), here of snapshot_chunk_bytes, one in flight; the snapshot carries
 *   the latest configuration as of its last included index (section 7),
 *   which is committed.
 * - Like an append, a chunk is acknowledged only once written (Figure 2:
 *   persistent state is "updated on stable storage before responding to
 *   RPCs").
 * - Usually the follower discards its entire log and continues with
 *   AppendEntries after the snapshot; but "if instead the follower receives
 *   a snapshot that describes a prefix of its log ... entries following the
 *   snapshot are still valid and must be retained" (section 7, Figure 13
 *   step 6).
 * - The leader keeps only its newest snapshot: a new one restarts a
 *   transfer in progress; a chunk lost in the network is resent after an
 *   election timeout.
 * - A follower whose log conflicts with the leader's at the leader's
 *   compaction point (it holds another term at that index) cannot be
 *   found by probing: the leader sends the snapshot instead of probing it
 *   forever, and a duplicate of the rejection sends nothing more.
 * - Duplicated answers do not multiply the chunks in flight: a duplicated
 *   chunk acknowledgement sends no second chunk.
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
#define CHUNK 100

struct snap_watch {
	rc_index compact_to[H_MAX_NODES + 1]; /* last compaction reported */
	/* chunks handed to node 3's caller, in order */
	size_t n_chunks;
	struct rc_snapshot_chunk chunks[64];
	int resp_now;   /* SNAPSHOT_RESP in u.msgs: must never happen */
	int resp_after; /* ... in u.msgs_after_persist */
};

static void watch_snap(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg)
{
	(void)c;
	struct snap_watch *w = arg;
	if (u->compact_to)
		w->compact_to[id] = u->compact_to;
	if (u->has_snapshot_chunk && w->n_chunks < 64)
		w->chunks[w->n_chunks++] = u->snapshot_chunk;
	for (size_t i = 0; i < u->n_msgs; i++)
		if (u->msgs[i].type == RC_MSG_SNAPSHOT_RESP)
			w->resp_now++;
	for (size_t i = 0; i < u->n_msgs_after_persist; i++)
		if (u->msgs_after_persist[i].type == RC_MSG_SNAPSHOT_RESP)
			w->resp_after++;
}

static void snapshot_taken_compacts_log_to_index_minus_trailing(void **state)
{
	(void)state;
	struct h_cluster c;
	struct snap_watch w;
	memset(&w, 0, sizeof(w));
	struct rc_options o;
	h_default_opts(&o, 1);
	o.snapshot_trailing = 5;
	h_init_opts(&c, 3, &o);
	c.observe = watch_snap;
	c.observe_arg = &w;
	h_elect(&c, 1);
	for (int i = 0; i < 20; i++)
		h_propose(&c, 1, (uint8_t)i);
	h_deliver_all(&c, 1000);
	struct rc_replica *r = h_r(&c, 1);
	assert_int_equal(h_node(&c, 1)->applied, 21);
	assert_int_equal(rc_snapshot_taken(r, 22, 1000), -RC_EINVAL); /* not applied */
	assert_int_equal(h_snapshot(&c, 1, 15, 1000), 0);
	assert_int_equal(w.compact_to[1], 10);
	assert_int_equal(rc_snapshot_index(r), 15);
	assert_int_equal(rc_first_index(r), 11);
	assert_null(rc_entry_at(r, 10));
	assert_non_null(rc_entry_at(r, 11));
	assert_int_equal(h_node(&c, 1)->log[0].index, 11);
	/* An older snapshot changes nothing. */
	w.compact_to[1] = 0;
	assert_int_equal(h_snapshot(&c, 1, 12, 1000), 0);
	assert_int_equal(w.compact_to[1], 0);
	assert_int_equal(rc_first_index(r), 11);
	/* The node restarts from snapshot and trailing log alike. */
	h_crash(&c, 1);
	h_restart(&c, 1);
	assert_int_equal(rc_snapshot_index(h_r(&c, 1)), 15);
	assert_int_equal(rc_last_index(h_r(&c, 1)), 21);
	h_free(&c);
}

/* Four nodes, members 1..3; node 1 leads and node 3 misses 20 entries;
 * node 1 snapshots everything (size bytes) and compacts it all away. While
 * node 3 is away the leader also appends a configuration change that cannot
 * commit yet (ADD 4, with node 2 not hearing), so the configuration in
 * force differs from the committed one carried by the snapshot. Returns
 * the snapshot's index. */
static rc_index transfer_setup(struct h_cluster *c, struct snap_watch *w, uint64_t size)
{
	struct rc_options o;
	h_default_opts(&o, 2);
	o.snapshot_trailing = 0;
	o.snapshot_chunk_bytes = CHUNK;
	h_init_spares(c, 4, 3, &o);
	memset(w, 0, sizeof(*w));
	c->observe = watch_snap;
	c->observe_arg = w;
	h_elect(c, 1);
	h_isolate(c, 3, true);
	h_isolate(c, 4, true);
	for (int i = 0; i < 20; i++)
		h_propose(c, 1, (uint8_t)i);
	h_deliver_all(c, 1000);
	rc_index k = h_node(c, 1)->applied;
	assert_int_equal(k, 21);
	assert_int_equal(h_snapshot(c, 1, k, size), 0);
	assert_int_equal(w->compact_to[1], k);
	c->drop[1][2] = true;
	struct rc_member m = {.id = 4, .addr = "node4"};
	assert_int_equal(rc_change_membership(h_r(c, 1), RC_ADD, &m, NULL), 0);
	h_take(c, 1);
	assert_int_equal(rc_membership(h_r(c, 1))->n, 4);
	h_isolate(c, 3, false);
	h_clear_msgs(c);
	return k;
}

/* Runs the leader's heartbeats and delivers, one message at a time, until
 * node 3 installed a snapshot at index k (stopping right there) or limit ms
 * passed; asserts at most one chunk is ever in flight. */
static void run_transfer(struct h_cluster *c, rc_index k, uint64_t limit)
{
	for (uint64_t t = 0; t < limit && rc_snapshot_index(h_r(c, 3)) < k; t += HB) {
		h_tick(c, 1, HB);
		h_tick(c, 2, HB);
		while (c->n_msgs && rc_snapshot_index(h_r(c, 3)) < k) {
			assert_true(h_count_msgs(c, RC_MSG_SNAPSHOT, 1, 3) <= 1);
			h_deliver_at(c, 0);
		}
	}
}

static void lagging_follower_receives_snapshot_in_chunks(void **state)
{
	(void)state;
	struct h_cluster c;
	struct snap_watch w;
	rc_index k = transfer_setup(&c, &w, 10 * CHUNK + 50);
	/* Every chunk on the wire carries the committed configuration. */
	size_t seen = 0;
	for (uint64_t t = 0; t < 10 * T && rc_snapshot_index(h_r(&c, 3)) < k; t += HB) {
		h_tick(&c, 1, HB);
		while (c.n_msgs) {
			long i = h_find_msg(&c, RC_MSG_SNAPSHOT, 1, 3);
			if (i >= 0) {
				const struct rc_msg_snapshot *s = &c.msgs[i].m.u.snapshot;
				assert_int_equal(s->index, k);
				assert_int_equal(s->membership.n, 3);
				assert_null(rc_membership_find(&s->membership, 4));
				seen++;
			}
			h_deliver_at(&c, 0);
		}
	}
	assert_int_equal(rc_snapshot_index(h_r(&c, 3)), k);
	assert_true(seen >= 11);
	/* Handed to node 3's caller: 11 chunks, in order, the last short. */
	assert_int_equal(w.n_chunks, 11);
	for (size_t i = 0; i < w.n_chunks; i++) {
		const struct rc_snapshot_chunk *ch = &w.chunks[i];
		assert_int_equal(ch->offset, i * CHUNK);
		assert_int_equal(ch->len, i < 10 ? CHUNK : 50);
		assert_int_equal(ch->last, i == 10);
		assert_int_equal(ch->meta.index, k);
		assert_int_equal(ch->meta.size, 10 * CHUNK + 50);
		assert_int_equal(ch->meta.membership.n, 3);
	}
	assert_int_equal(h_node(&c, 3)->n_chunks, 11);
	h_free(&c);
}

static void snapshot_chunk_is_acknowledged_only_after_persist(void **state)
{
	(void)state;
	struct h_cluster c;
	struct snap_watch w;
	rc_index k = transfer_setup(&c, &w, 5 * CHUNK);
	h_node(&c, 3)->auto_persist = false;
	for (int i = 0; i < 10 && h_find_msg(&c, RC_MSG_SNAPSHOT, 1, 3) < 0; i++)
		h_tick(&c, 1, HB);
	h_deliver_matching(&c, RC_MSG_SNAPSHOT, 1, 3);
	assert_int_equal(w.n_chunks, 1);
	assert_int_equal(h_count_msgs(&c, RC_MSG_SNAPSHOT_RESP, 3, 1), 0);
	h_persist_all(&c, 3);
	assert_int_equal(h_count_msgs(&c, RC_MSG_SNAPSHOT_RESP, 3, 1), 1);
	h_node(&c, 3)->auto_persist = true;
	run_transfer(&c, k, 10 * T);
	assert_int_equal(rc_snapshot_index(h_r(&c, 3)), k);
	assert_int_equal(w.resp_now, 0);
	assert_true(w.resp_after >= 4);
	h_free(&c);
}

static void follower_log_starts_after_installed_snapshot_and_catches_up(void **state)
{
	(void)state;
	struct h_cluster c;
	struct snap_watch w;
	rc_index k = transfer_setup(&c, &w, 3 * CHUNK);
	run_transfer(&c, k, 10 * T);
	/* Right after the install: an empty log after the snapshot, known
	 * committed and applied, and the leader is told. */
	struct rc_replica *r3 = h_r(&c, 3);
	assert_int_equal(rc_snapshot_index(r3), k);
	assert_int_equal(rc_first_index(r3), k + 1);
	assert_int_equal(rc_last_index(r3), k);
	assert_int_equal(rc_commit_index(r3), k);
	assert_int_equal(h_node(&c, 3)->applied, k);
	long ack = h_find_msg(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_true(ack >= 0);
	assert_true(c.msgs[ack].m.u.append_resp.success);
	assert_int_equal(c.msgs[ack].m.u.append_resp.match_index, k);
	/* What follows the snapshot comes by AppendEntries. */
	size_t chunks = w.n_chunks;
	c.drop[1][2] = false;
	for (int i = 0; i < 5; i++)
		h_propose(&c, 1, (uint8_t)i);
	for (int i = 0; i < 5; i++) {
		h_tick(&c, 1, HB);
		h_deliver_all(&c, 1000);
	}
	assert_int_equal(w.n_chunks, chunks);
	assert_int_equal(rc_last_index(r3), rc_last_index(h_r(&c, 1)));
	assert_int_equal(rc_commit_index(r3), rc_commit_index(h_r(&c, 1)));
	assert_int_equal(h_node(&c, 3)->applied, rc_commit_index(h_r(&c, 1)));
	/* The configuration entry after the snapshot applies on top of it. */
	assert_int_equal(rc_membership(r3)->n, 4);
	assert_int_equal(h_node(&c, 3)->apply_out_of_order, 0);
	h_free(&c);
}

static void new_snapshot_during_a_transfer_restarts_it(void **state)
{
	(void)state;
	struct h_cluster c;
	struct snap_watch w;
	rc_index k = transfer_setup(&c, &w, 10 * CHUNK);
	/* Three chunks get through. */
	for (int i = 0; i < 10 && w.n_chunks < 3; i++) {
		h_tick(&c, 1, HB);
		while (c.n_msgs && w.n_chunks < 3)
			h_deliver_at(&c, 0);
	}
	assert_int_equal(w.n_chunks, 3);
	/* The leader snapshots again, further on. */
	c.drop[1][2] = false;
	h_propose(&c, 1, 'x');
	while (h_count_msgs(&c, 0, 0, 2) + h_count_msgs(&c, 0, 2, 0)) {
		h_deliver_matching(&c, 0, 0, 2);
		h_deliver_matching(&c, 0, 2, 0);
	}
	rc_index k2 = h_node(&c, 1)->applied;
	assert_true(k2 > k);
	assert_int_equal(h_snapshot(&c, 1, k2, 4 * CHUNK), 0);
	/* The transfer starts over at once, from the new snapshot's start. */
	bool restarted = false;
	for (size_t i = 0; i < c.n_msgs; i++) {
		const struct rc_message *m = &c.msgs[i].m;
		if (m->type == RC_MSG_SNAPSHOT && m->to == 3 && m->u.snapshot.index == k2) {
			assert_int_equal(m->u.snapshot.offset, 0);
			restarted = true;
		}
	}
	assert_true(restarted);
	run_transfer(&c, k2, 10 * T);
	assert_int_equal(rc_snapshot_index(h_r(&c, 3)), k2);
	/* node 3 got the new snapshot whole, offset 0 onwards */
	size_t first = w.n_chunks;
	for (size_t i = 0; i < w.n_chunks; i++)
		if (w.chunks[i].meta.index == k2 && first == w.n_chunks)
			first = i;
	assert_int_equal(w.n_chunks - first, 4);
	for (size_t i = first; i < w.n_chunks; i++)
		assert_int_equal(w.chunks[i].offset, (i - first) * CHUNK);
	h_free(&c);
}

static void lost_chunk_is_resent_after_an_election_timeout(void **state)
{
	(void)state;
	struct h_cluster c;
	struct snap_watch w;
	rc_index k = transfer_setup(&c, &w, 4 * CHUNK);
	uint64_t t = 0;
	while (w.n_chunks < 2 && t < 10 * T) {
		h_tick(&c, 1, HB);
		t += HB;
		while (c.n_msgs && w.n_chunks < 2)
			h_deliver_at(&c, 0);
	}
	/* Deliver the acknowledgement of chunk 2; chunk 3 is lost. */
	h_deliver_matching(&c, RC_MSG_SNAPSHOT_RESP, 3, 1);
	long i = h_find_msg(&c, RC_MSG_SNAPSHOT, 1, 3);
	assert_true(i >= 0);
	assert_int_equal(c.msgs[i].m.u.snapshot.offset, 2 * CHUNK);
	h_drop_at(&c, (size_t)i);
	h_deliver_all(&c, 1000);
	uint64_t waited = 0;
	while (h_find_msg(&c, RC_MSG_SNAPSHOT, 1, 3) < 0 && waited < 5 * T) {
		h_tick(&c, 1, HB);
		h_tick(&c, 2, HB);
		waited += HB;
		/* keep everything but a resent chunk flowing */
		for (size_t j = 0; j < c.n_msgs;) {
			if (c.msgs[j].m.type == RC_MSG_SNAPSHOT)
				j++;
			else
				h_deliver_at(&c, j);
		}
	}
	assert_true(waited >= T);
	assert_true(waited <= T + HB);
	i = h_find_msg(&c, RC_MSG_SNAPSHOT, 1, 3);
	assert_true(i >= 0);
	assert_int_equal(c.msgs[i].m.u.snapshot.offset, 2 * CHUNK);
	run_transfer(&c, k, 10 * T);
	assert_int_equal(rc_snapshot_index(h_r(&c, 3)), k);
	assert_int_equal(w.n_chunks, 4);
	h_free(&c);
}

/* Node 1 leads; 29 proposals of one turn make entries 2..30, and the
 * AppendEntries carrying them to node 3 (which says commit 1) is held back
 * (*held); node 2 gets them and they commit. Node 1 snapshots at 20,
 * compacts everything up to it, and starts sending the snapshot (three
 * chunks) to node 3: the first chunk is queued when this returns. */
static void late_append_setup(struct h_cluster *c, struct h_msg *held)
{
	struct rc_options o;
	h_default_opts(&o, 9);
	o.snapshot_trailing = 0;
	o.snapshot_chunk_bytes = CHUNK;
	h_init_opts(c, 3, &o);
	h_elect(c, 1);
	h_clear_msgs(c);
	for (int i = 0; i < 29; i++)
		assert_int_equal(rc_propose(h_r(c, 1), "e", 1, NULL, NULL), 0);
	h_take(c, 1);
	long i = h_find_msg(c, RC_MSG_APPEND, 1, 3);
	assert_true(i >= 0);
	h_copy_msg(c, (size_t)i, held);
	h_drop_at(c, (size_t)i);
	assert_int_equal(held->m.u.append.prev_index, 1);
	assert_int_equal(held->m.u.append.n_entries, 29);
	assert_int_equal(held->m.u.append.commit, 1);
	h_deliver_matching(c, 0, 1, 2);
	h_deliver_matching(c, 0, 2, 1);
	assert_int_equal(rc_commit_index(h_r(c, 1)), 30);
	h_clear_msgs(c);
	assert_int_equal(h_snapshot(c, 1, 20, 2 * CHUNK + 50), 0);
	for (int t = 0; t < 10 && h_find_msg(c, RC_MSG_SNAPSHOT, 1, 3) < 0; t++) {
		h_tick(c, 1, HB);
		/* node 3 hears nothing else meanwhile */
		long k;
		while ((k = h_find_msg(c, RC_MSG_APPEND, 1, 3)) >= 0)
			h_drop_at(c, (size_t)k);
	}
	assert_true(h_find_msg(c, RC_MSG_SNAPSHOT, 1, 3) >= 0);
	assert_int_equal(rc_last_index(h_r(c, 3)), 1);
}

/* Delivers the held append to node 3 now; its acknowledgement is lost, so
 * the leader goes on with the snapshot. */
static void deliver_held(struct h_cluster *c, struct h_msg *held)
{
	h_inject(c, held);
	h_msg_free(held);
	h_deliver_at(c, (size_t)h_find_msg(c, RC_MSG_APPEND, 1, 3));
	long i;
	while ((i = h_find_msg(c, RC_MSG_APPEND_RESP, 3, 1)) >= 0)
		h_drop_at(c, (size_t)i);
}

static void install_keeps_entries_after_matching_snapshot_entry(void **state)
{
	(void)state;
	struct h_cluster c;
	struct h_msg held;
	late_append_setup(&c, &held);
	h_deliver_matching(&c, RC_MSG_SNAPSHOT, 1, 3); /* first chunk */
	deliver_held(&c, &held);
	struct rc_replica *r3 = h_r(&c, 3);
	assert_int_equal(rc_last_index(r3), 30);
	assert_true(rc_commit_index(r3) < 20);
	for (int step = 0; step < 20 && rc_snapshot_index(r3) < 20; step++) {
		h_deliver_matching(&c, RC_MSG_SNAPSHOT_RESP, 3, 1);
		h_deliver_matching(&c, RC_MSG_SNAPSHOT, 1, 3);
	}
	assert_int_equal(rc_snapshot_index(r3), 20);
	/* Raft Figure 13, step 6: what follows the snapshot's last entry
	 * stays, in the Replica and on its disk. */
	assert_int_equal(rc_first_index(r3), 21);
	assert_int_equal(rc_last_index(r3), 30);
	assert_int_equal(h_node(&c, 3)->n_log, 10);
	assert_int_equal(h_node(&c, 3)->log[0].index, 21);
	assert_int_equal(rc_commit_index(r3), 20);
	assert_int_equal(h_node(&c, 3)->applied, 20);
	/* The leader's heartbeats tell it 30 is committed. */
	for (int i = 0; i < 3; i++) {
		h_tick(&c, 1, HB);
		h_deliver_all(&c, 1000);
	}
	assert_int_equal(h_node(&c, 3)->applied, 30);
	assert_int_equal(h_node(&c, 3)->apply_out_of_order, 0);
	h_crash(&c, 3);
	h_restart(&c, 3);
	assert_int_equal(rc_last_index(h_r(&c, 3)), 30);
	h_free(&c);
}

static void follower_holding_snapshot_entry_does_not_install_it(void **state)
{
	(void)state;
	struct h_cluster c;
	struct h_msg held;
	late_append_setup(&c, &held);
	deliver_held(&c, &held); /* node 3 has 2..30 before the first chunk */
	h_deliver_matching(&c, RC_MSG_SNAPSHOT, 1, 3);
	struct rc_replica *r3 = h_r(&c, 3);
	assert_int_equal(h_node(&c, 3)->n_chunks, 0);
	assert_int_equal(rc_snapshot_index(r3), 0);
	assert_int_equal(rc_last_index(r3), 30);
	long i = h_find_msg(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_true(i >= 0);
	assert_true(c.msgs[i].m.u.append_resp.success);
	assert_true(c.msgs[i].m.u.append_resp.match_index >= 20);
	/* The leader goes back to AppendEntries. */
	h_deliver_all(&c, 1000);
	h_propose(&c, 1, 'z');
	h_deliver_all(&c, 1000);
	assert_int_equal(rc_last_index(r3), 31);
	assert_int_equal(h_node(&c, 3)->n_chunks, 0);
	h_free(&c);
}

/* Delivers the first queued message of that type from -> to; asserts one
 * is there. */
static void deliver_one(struct h_cluster *c, uint8_t type, rc_id from, rc_id to)
{
	long i = h_find_msg(c, type, from, to);
	assert_true(i >= 0);
	h_deliver_at(c, (size_t)i);
}

static void rejection_conflicting_at_the_compaction_point_gets_a_snapshot(void **state)
{
	(void)state;
	struct h_cluster c;
	struct rc_options o;
	h_default_opts(&o, 10);
	o.snapshot_trailing = 0;
	o.snapshot_chunk_bytes = CHUNK;
	h_init_opts(&c, 3, &o);
	/* Nodes 1 and 2 hold index 3 of term 3; node 3 holds index 3 of
	 * term 2 (from a leader nobody followed). */
	const rc_term good[] = {1, 3, 3}, bad[] = {1, 2, 2};
	h_set_log(&c, 1, good, 3);
	h_set_log(&c, 2, good, 3);
	h_set_log(&c, 3, bad, 3);
	h_isolate(&c, 3, true);
	h_elect(&c, 1);
	assert_int_equal(rc_commit_index(h_r(&c, 1)), 4);
	/* Node 1 compacts up to index 3 (C): its log starts after C. */
	assert_int_equal(h_snapshot(&c, 1, 3, 2 * CHUNK + 50), 0);
	assert_int_equal(rc_first_index(h_r(&c, 1)), 4);
	h_isolate(&c, 3, false);
	h_clear_msgs(&c);
	/* Node 3 rejects the probe at C: it holds term 2 there, and every
	 * index the leader could probe below C is compacted. */
	long i = -1;
	for (int t = 0; t < 5 && i < 0; t++) {
		h_tick(&c, 1, HB);
		h_deliver_matching(&c, RC_MSG_APPEND, 1, 3);
		i = h_find_msg(&c, RC_MSG_APPEND_RESP, 3, 1);
	}
	assert_true(i >= 0);
	const struct rc_msg_append_resp *rej = &c.msgs[i].m.u.append_resp;
	assert_false(rej->success);
	assert_int_equal(rej->hint_index, 3);
	assert_int_equal(rej->hint_term, 2);
	struct h_msg dup;
	h_copy_msg(&c, (size_t)i, &dup);
	h_clear_msgs(&c);
	h_inject(&c, &dup);
	deliver_one(&c, RC_MSG_APPEND_RESP, 3, 1);
	/* The answer is the snapshot's first chunk, and nothing else. */
	assert_int_equal(h_count_msgs(&c, 0, 1, 3), 1);
	i = h_find_msg(&c, RC_MSG_SNAPSHOT, 1, 3);
	assert_true(i >= 0);
	assert_int_equal(c.msgs[i].m.u.snapshot.index, 3);
	assert_int_equal(c.msgs[i].m.u.snapshot.offset, 0);
	/* A duplicate of the rejection sends nothing more. */
	h_inject(&c, &dup);
	h_msg_free(&dup);
	deliver_one(&c, RC_MSG_APPEND_RESP, 3, 1);
	assert_int_equal(h_count_msgs(&c, 0, 1, 3), 1);
	/* The transfer completes and node 3 catches up, without a storm of
	 * rejected probes on the way. */
	size_t rejected = 0;
	for (int t = 0; t < 20; t++) {
		h_tick(&c, 1, HB);
		h_tick(&c, 2, HB);
		for (size_t n = 0; c.n_msgs && n < 1000; n++) {
			const struct rc_message *m = &c.msgs[0].m;
			if (m->type == RC_MSG_APPEND_RESP && m->from == 3 &&
			    !m->u.append_resp.success)
				rejected++;
			h_deliver_at(&c, 0);
		}
	}
	assert_true(rejected <= 1);
	struct rc_replica *r3 = h_r(&c, 3);
	assert_int_equal(rc_snapshot_index(r3), 3);
	assert_int_equal(h_node(&c, 3)->n_chunks, 3);
	assert_int_equal(rc_last_index(r3), rc_last_index(h_r(&c, 1)));
	assert_int_equal(rc_commit_index(r3), rc_commit_index(h_r(&c, 1)));
	for (rc_index k = 4; k <= rc_last_index(r3); k++)
		assert_int_equal(rc_entry_at(r3, k)->term, rc_entry_at(h_r(&c, 1), k)->term);
	h_free(&c);
}

static void duplicated_chunk_acknowledgement_sends_no_second_chunk(void **state)
{
	(void)state;
	struct h_cluster c;
	struct snap_watch w;
	rc_index k = transfer_setup(&c, &w, 4 * CHUNK);
	for (int i = 0; i < 10 && h_find_msg(&c, RC_MSG_SNAPSHOT, 1, 3) < 0; i++)
		h_tick(&c, 1, HB);
	deliver_one(&c, RC_MSG_SNAPSHOT, 1, 3);
	long i = h_find_msg(&c, RC_MSG_SNAPSHOT_RESP, 3, 1);
	assert_true(i >= 0);
	assert_int_equal(c.msgs[i].m.u.snapshot_resp.next_offset, CHUNK);
	struct h_msg dup;
	h_copy_msg(&c, (size_t)i, &dup);
	h_deliver_at(&c, (size_t)i);
	assert_int_equal(h_count_msgs(&c, RC_MSG_SNAPSHOT, 1, 3), 1);
	/* The acknowledgement arrives twice more: still one chunk in flight. */
	for (int n = 0; n < 2; n++) {
		h_inject(&c, &dup);
		deliver_one(&c, RC_MSG_SNAPSHOT_RESP, 3, 1);
		assert_int_equal(h_count_msgs(&c, RC_MSG_SNAPSHOT, 1, 3), 1);
	}
	/* Once more while the next chunk's own answer is on its way. */
	deliver_one(&c, RC_MSG_SNAPSHOT, 1, 3);
	assert_int_equal(h_count_msgs(&c, RC_MSG_SNAPSHOT_RESP, 3, 1), 1);
	h_inject(&c, &dup);
	h_msg_free(&dup);
	h_deliver_at(&c, c.n_msgs - 1);
	assert_int_equal(h_count_msgs(&c, RC_MSG_SNAPSHOT, 1, 3), 0);
	run_transfer(&c, k, 10 * T);
	assert_int_equal(rc_snapshot_index(h_r(&c, 3)), k);
	assert_int_equal(w.n_chunks, 4);
	h_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(snapshot_taken_compacts_log_to_index_minus_trailing),
	    cmocka_unit_test(lagging_follower_receives_snapshot_in_chunks),
	    cmocka_unit_test(snapshot_chunk_is_acknowledged_only_after_persist),
	    cmocka_unit_test(follower_log_starts_after_installed_snapshot_and_catches_up),
	    cmocka_unit_test(new_snapshot_during_a_transfer_restarts_it),
	    cmocka_unit_test(lost_chunk_is_resent_after_an_election_timeout),
	    cmocka_unit_test(install_keeps_entries_after_matching_snapshot_entry),
	    cmocka_unit_test(follower_holding_snapshot_entry_does_not_install_it),
	    cmocka_unit_test(rejection_conflicting_at_the_compaction_point_gets_a_snapshot),
	    cmocka_unit_test(duplicated_chunk_acknowledgement_sends_no_second_chunk),
	};
	return cmocka_run_group_tests_name("rc_snapshot", tests, NULL, NULL);
}
