/*
 * A hand-driven cluster of Replicas for the raftcore unit tests: the test
 * decides exactly which message is delivered, when a persist completes and
 * how far each clock moves, so every Raft rule can be checked step by step.
 * (The randomized, whole-cluster checking lives in tests/sim/.)
 *
 * Ownership: the harness owns every Replica, every copied message and every
 * "disk"; h_free releases all of it.
 */
#ifndef CAIRN_TESTS_RC_HARNESS_H
#define CAIRN_TESTS_RC_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftcore.h"

#define H_MAX_NODES 8

/* A message in flight, with deep copies of its entries and data. */
struct h_msg {
	struct rc_message m;
	struct rc_entry *entries;
	void *data;
};

/* One persist the Replica asked for, not yet durable. */
struct h_persist {
	bool has_hs;
	struct rc_hard_state hs;
	rc_index truncate_from;
	struct rc_entry *entries; /* deep copies */
	size_t n_entries;
	struct h_msg *after; /* released when durable */
	size_t n_after;
};

struct h_node {
	rc_id id;
	struct rc_replica *r;
	bool up;
	/* durable state */
	struct rc_hard_state hs;
	struct rc_entry *log; /* deep copies, index log[0].index ... */
	size_t n_log;
	struct rc_snapshot_meta snap;
	/* what is not durable yet, oldest first */
	struct h_persist *pending;
	size_t n_pending;
	/* effects seen */
	rc_index applied; /* last index applied */
	rc_term applied_term[4096];
	/* Committed entries handed out out of order (not applied + 1) or
	 * beyond what is durable on this node's disk: the harness counts
	 * them instead of aborting, so a test can assert there were none. */
	size_t apply_out_of_order;
	size_t apply_not_durable;
	struct rc_read reads[256];
	size_t n_reads;
	bool chunk_last_seen;
	struct rc_snapshot_meta chunk_meta;
	size_t n_chunks; /* snapshot chunks handed to this node's caller */
	uint64_t now;
	bool auto_persist; /* complete persists as soon as they are taken */
};

struct h_cluster;

/* Called with every update a node hands out, before the harness routes it:
 * lets a test check the update's shape (what is in msgs and what in
 * msgs_after_persist, the hard state beside them, committed entries...).
 * The update is borrowed for the call. */
typedef void (*h_observer)(struct h_cluster *c, rc_id id, const struct rc_update *u, void *arg);

struct h_cluster {
	struct h_node nodes[H_MAX_NODES];
	size_t n;
	struct h_msg *msgs; /* the network: queued messages, oldest first */
	size_t n_msgs, cap_msgs;
	struct rc_options opts;
	/* delivery filter: drop[a][b] drops messages from a to b */
	bool drop[H_MAX_NODES + 1][H_MAX_NODES + 1];
	/* Deliveries so far; past H_MAX_DELIVERIES (rc_harness.c) the harness
	 * aborts: the Replicas are in a livelock, no test needs that many. */
	uint64_t delivered;
	h_observer observe;
	void *observe_arg;
};

/* n voters with ids 1..n; options from rc_options_default with these
 * tweaks: election 100 ms, heartbeat 10 ms. */
void h_init(struct h_cluster *c, size_t n, uint64_t seed);
/* Same, with options chosen by the caller (ids and seeds set per node). */
void h_init_opts(struct h_cluster *c, size_t n, const struct rc_options *o);
/* n nodes of which only 1..n_members are members (voters) at boot; the
 * others boot empty, as a node that will be added later does. */
void h_init_spares(struct h_cluster *c, size_t n, size_t n_members, const struct rc_options *o);
/* The options h_init uses (election 100 ms, heartbeat 10 ms), to tweak. */
void h_default_opts(struct rc_options *o, uint64_t seed);
void h_free(struct h_cluster *c);
struct h_node *h_node(struct h_cluster *c, rc_id id);
struct rc_replica *h_r(struct h_cluster *c, rc_id id);

/* Takes the node's update and routes it: messages to the network, persists
 * to the pending list (completed at once when auto_persist), committed
 * entries applied, reads recorded. */
void h_take(struct h_cluster *c, rc_id id);
/* Completes the node's oldest pending persist (false if none): writes it
 * to the node's disk, queues its after-persist messages on the network
 * (those addressed to the node itself are stepped straight back into it)
 * and reports the write with rc_persisted. Effects stay pending until the
 * node's next h_take. */
bool h_persist_one(struct h_cluster *c, rc_id id);
void h_persist_all(struct h_cluster *c, rc_id id);
/* Advances one node's clock by ms and takes its update. */
void h_tick(struct h_cluster *c, rc_id id, uint64_t ms);
/* Advances every live node's clock by ms, in steps of step ms, delivering
 * messages in between. */
void h_run(struct h_cluster *c, uint64_t ms, uint64_t step);
/* Delivers queued messages (FIFO) until none is left or limit reached. */
size_t h_deliver_all(struct h_cluster *c, size_t limit);
/* Delivers the i-th queued message only. */
void h_deliver_at(struct h_cluster *c, size_t i);
/* Drops every queued message. */
void h_clear_msgs(struct h_cluster *c);
/* Index in the queue of the first message of type from->to, or -1. */
long h_find_msg(struct h_cluster *c, uint8_t type, rc_id from, rc_id to);
/* Makes node id leader: times it out and runs the cluster until it leads. */
void h_elect(struct h_cluster *c, rc_id id);
/* Times node id out and delivers only election traffic (VOTE, VOTE_RESP)
 * until it leads or that traffic dries up; everything else, such as the
 * new leader's first AppendEntries, stays queued. Returns whether it
 * leads. */
bool h_campaign(struct h_cluster *c, rc_id id);
/* Crash: drops the Replica and every non-durable write. */
void h_crash(struct h_cluster *c, rc_id id);
/* Restart from the node's durable state. */
void h_restart(struct h_cluster *c, rc_id id);
/* Proposes a command of one byte b on node id; returns its index or 0. */
rc_index h_propose(struct h_cluster *c, rc_id id, uint8_t b);
/* Cuts (or restores) every link to and from node id. */
void h_isolate(struct h_cluster *c, rc_id id, bool isolated);
/* Splits the cluster in two: links between the ids listed and the others
 * drop every message; links inside each side are left as they were. */
void h_partition(struct h_cluster *c, const rc_id *side, size_t n);
/* Clears the whole drop matrix. */
void h_heal(struct h_cluster *c);
rc_id h_leader(struct h_cluster *c);

/* ---- finer control, for the rule-by-rule tests ---- */

/* Replaces node id's durable log by n no-op entries, indexes 1..n, with
 * the given terms (non-decreasing), raises its durable term to the last
 * one if lower, and restarts it from that state (the node is crashed
 * first if it is up). For building divergent logs directly. */
void h_set_log(struct h_cluster *c, rc_id id, const rc_term *terms, size_t n);
/* Steps a message built by the test into m->to (borrowed), then takes
 * that node's update. Returns rc_step's result. */
int h_step(struct h_cluster *c, const struct rc_message *m);
/* Queued messages of that type from -> to; 0 matches any type / node. */
size_t h_count_msgs(struct h_cluster *c, uint8_t type, rc_id from, rc_id to);
/* Delivers, oldest first, every queued message matching (type, from, to)
 * (0 = any), including the matching ones that deliveries produce, until
 * none is left; others stay queued in order. Returns how many. */
size_t h_deliver_matching(struct h_cluster *c, uint8_t type, rc_id from, rc_id to);
/* Loses the i-th queued message. */
void h_drop_at(struct h_cluster *c, size_t i);
/* Deep copy of the i-th queued message, for a later h_inject; the caller
 * releases it with h_msg_free. */
void h_copy_msg(struct h_cluster *c, size_t i, struct h_msg *out);
/* Queues a deep copy of m at the tail of the network (a duplicate). */
void h_inject(struct h_cluster *c, const struct h_msg *m);
void h_msg_free(struct h_msg *m);
/* The node's state machine is snapshotted at index (size bytes): calls
 * rc_snapshot_taken, records the snapshot as the node's durable one (so a
 * restart boots from it) and takes the update. Returns rc_snapshot_taken's
 * result. */
int h_snapshot(struct h_cluster *c, rc_id id, rc_index index, uint64_t size);

#endif
