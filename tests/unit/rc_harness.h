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
#define H_MAX_MSGS 4096

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
	rc_index applied;   /* last index applied */
	rc_term applied_term[4096];
	struct rc_read reads[256];
	size_t n_reads;
	bool chunk_last_seen;
	struct rc_snapshot_meta chunk_meta;
	uint64_t now;
	bool auto_persist; /* complete persists as soon as they are taken */
};

struct h_cluster {
	struct h_node nodes[H_MAX_NODES];
	size_t n;
	struct h_msg msgs[H_MAX_MSGS];
	size_t n_msgs;
	struct rc_options opts;
	/* delivery filter: drop[a][b] drops messages from a to b */
	bool drop[H_MAX_NODES + 1][H_MAX_NODES + 1];
	uint64_t delivered;
};

/* n voters with ids 1..n; options from rc_options_default with these
 * tweaks: election 100 ms, heartbeat 10 ms. */
void h_init(struct h_cluster *c, size_t n, uint64_t seed);
/* Same, with options chosen by the caller (ids and seeds set per node). */
void h_init_opts(struct h_cluster *c, size_t n, const struct rc_options *o);
void h_free(struct h_cluster *c);
struct h_node *h_node(struct h_cluster *c, rc_id id);
struct rc_replica *h_r(struct h_cluster *c, rc_id id);

/* Takes the node's update and routes it: messages to the network, persists
 * to the pending list (completed at once when auto_persist), committed
 * entries applied, reads recorded. */
void h_take(struct h_cluster *c, rc_id id);
/* Completes the node's oldest pending persist (false if none). */
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
/* Crash: drops the Replica and every non-durable write. */
void h_crash(struct h_cluster *c, rc_id id);
/* Restart from the node's durable state. */
void h_restart(struct h_cluster *c, rc_id id);
/* Proposes a command of one byte b on node id; returns its index or 0. */
rc_index h_propose(struct h_cluster *c, rc_id id, uint8_t b);
void h_isolate(struct h_cluster *c, rc_id id, bool isolated);
rc_id h_leader(struct h_cluster *c);

#endif
