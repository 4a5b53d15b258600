/*
 * The deterministic cluster simulator: shared types. Many Replicas live in
 * one process over a simulated network (net.c), disk (disk.c) and clock
 * (evq.c), all driven by one 64-bit seed; swarm.c picks which faults a seed
 * turns on, node.c carries out each Replica's updates exactly as the
 * contract at the top of raftcore.h says, checks.c and linearize.c check the
 * Raft invariants and the client history after every step.
 *
 * Node ids are 1..SIM_MAX_NODES and node id i lives in slot i-1. A seed's
 * run is a pure function of the seed (and the replica code): no rand(), no
 * time(), no addresses that leak into decisions.
 */
#ifndef CAIRN_SIM_H
#define CAIRN_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raftcore.h"
#include "rng.h"

#define SIM_MAX_NODES 10
#define KV_MAX_KEYS 8
#define SIM_SNAP_CACHE 4

/* ---------------- shared immutable byte strings (disk.c) ---------------- */

/* Entry data shared by the disk copies and operations (refcounted). */
struct payload {
	uint32_t refs;
	uint32_t len;
	uint8_t data[];
};

/* One log entry as the simulated disk stores it. */
struct sentry {
	rc_term term;
	rc_index index;
	uint8_t type;
	struct payload *p;
};

/* A state-machine snapshot: its metadata and bytes (refcounted). */
struct blob {
	uint32_t refs;
	struct rc_snapshot_meta meta;
	uint8_t *data;
	size_t len;
};

struct payload *payload_new(const void *data, uint32_t len);
void payload_unref(struct payload *p);
struct blob *blob_new(const struct rc_snapshot_meta *meta, const void *data, size_t len);
struct blob *blob_ref(struct blob *b);
void blob_unref(struct blob *b);

/* ---------------- simulated disk (disk.c) ---------------- */

struct dlog {
	struct sentry *e;
	size_t n, cap;
	rc_index first; /* index of e[0]; entries are contiguous */
};

/* One view of a node's storage: what is durable, or what is written. */
struct dstate {
	struct rc_hard_state hs;
	struct blob *snap; /* never NULL: index 0 holds the boot membership */
	struct dlog log;
};

enum op_kind { OP_HS, OP_ENTRIES, OP_SNAP_SAVE, OP_SNAP_INSTALL, OP_COMPACT };

struct op {
	uint8_t kind;
	struct rc_hard_state hs; /* OP_HS */
	rc_index trunc;          /* OP_ENTRIES: 0 or drop >= trunc first */
	struct sentry *ents;     /* OP_ENTRIES */
	size_t n;
	struct blob *snap; /* OP_SNAP_SAVE, OP_SNAP_INSTALL */
	rc_index upto;     /* OP_COMPACT */
};

struct smsg;

/* The writes of one update and what to do once they are durable. */
struct batch {
	struct op *ops;
	size_t n_ops, cap_ops;
	struct smsg **after; /* msgs_after_persist, copied */
	size_t n_after;
	bool persisted; /* call rc_persisted(p_index, p_term) */
	rc_index p_index;
	rc_term p_term;
	struct blob *installed; /* call rc_snapshot_installed */
	struct blob *taken;     /* call rc_snapshot_taken */
};

struct disk {
	struct dstate cur; /* written (page cache) */
	struct dstate dur; /* survived an fsync */
	struct batch *q;   /* written, not yet durable, oldest first */
	size_t n_q, cap_q;
	bool fsync_inflight;
	size_t fsync_covers; /* batches the fsync in flight will make durable */
	/* InstallSnapshot chunks being received (written state only). */
	struct rc_snapshot_meta in_meta;
	uint8_t *in_buf;
	size_t in_len, in_cap;
};

void disk_init(struct disk *d, const struct rc_membership *m);
void disk_free(struct disk *d);
/* Starts a batch at the tail of the queue; valid until the next call. */
struct batch *disk_batch(struct disk *d);
/* Drops the batch just started if it holds nothing. */
void disk_batch_done(struct disk *d);
/* Each records an operation in b and applies it to the written state at
 * once. They return NULL, or why the operation breaks the contract. */
const char *disk_hs(struct disk *d, struct batch *b, const struct rc_hard_state *hs);
const char *disk_entries(struct disk *d, struct batch *b, rc_index trunc, const struct rc_entry *e,
			 size_t n);
const char *disk_snap(struct disk *d, struct batch *b, uint8_t kind, struct blob *snap);
const char *disk_compact(struct disk *d, struct batch *b, rc_index upto);
/* An incoming chunk; on the last one *done gets the whole snapshot. */
const char *disk_chunk(struct disk *d, const struct rc_snapshot_chunk *c, struct blob **done);
/* Applies the oldest queued batch to the durable state and moves it to out
 * (the caller completes and then releases it with batch_free). */
const char *disk_sync_one(struct disk *d, struct batch *out);
void batch_free(struct batch *b);
/* Power loss: a random prefix of the unsynced writes may survive (when
 * torn is true), the rest is lost; the written state becomes the durable
 * one. Returns how many operations were lost. */
size_t disk_crash(struct disk *d, struct rng *rng, bool torn);
/* The Replica's boot record from the durable state; *ents is allocated
 * (free it), entries point into the disk's payloads. */
const char *disk_boot(const struct disk *d, struct rc_boot *boot, struct rc_entry **ents);

rc_index dlog_last(const struct dlog *l);
const struct sentry *dlog_at(const struct dlog *l, rc_index i);
/* Term at i in a view: log entry or snapshot; false when unknown. */
bool dstate_term(const struct dstate *s, rc_index i, rc_term *term);
/* i is durable in s with term t (or covered by its snapshot). */
bool dstate_covers(const struct dstate *s, rc_index i, rc_term t);

/* ---------------- the tiny key/value state machine (kv.c) ---------------- */

struct kv {
	rc_index applied;
	rc_term applied_term;
	uint64_t chain;            /* hash chain over every applied entry */
	struct rc_membership memb; /* newest applied configuration */
	uint32_t nkeys;
	uint64_t val[KV_MAX_KEYS];  /* write id, 0: never written */
	rc_index widx[KV_MAX_KEYS]; /* log index of that write */
};

void kv_init(struct kv *kv, uint32_t nkeys, const struct rc_snapshot_meta *at);
const char *kv_apply(struct kv *kv, const struct rc_entry *e);
/* Serializes kv (plus pad filler bytes); returns malloc'd bytes. */
uint8_t *kv_encode(const struct kv *kv, uint32_t pad, size_t *len);
const char *kv_decode(struct kv *kv, const void *data, size_t len);
uint64_t entry_hash(uint8_t type, const void *data, uint32_t len);
uint64_t chain_next(uint64_t chain, rc_index index, rc_term term, uint64_t hash);
#define KV_CMD_MIN 10
size_t kv_cmd_put(uint8_t *buf, uint8_t key, uint64_t wid, uint32_t pad);
bool kv_cmd_parse(const void *data, uint32_t len, uint8_t *key, uint64_t *wid);

/* ---------------- messages in flight (net.c) ---------------- */

struct smsg {
	uint32_t refs;
	struct rc_message m;
	struct rc_entry *ents; /* own copies, or from rc_msg_decode */
	uint8_t *buf;          /* entry data / chunk bytes, or the frame */
	bool decoded;          /* m came from rc_msg_decode (release it) */
	rc_term ack_term;      /* APPEND_RESP success: term of the acked entry */
};

struct net {
	bool blocked[SIM_MAX_NODES][SIM_MAX_NODES]; /* [from][to] */
	uint32_t part_gen;
	bool partitioned;
};

/* ---------------- events (evq.c) ---------------- */

enum ev_kind {
	EV_TICK,
	EV_DELIVER,
	EV_FSYNC,
	EV_NEMESIS,
	EV_WRITE,
	EV_READ,
	EV_RESTART,
	EV_UNPAUSE,
	EV_HEAL,
	EV_FINAL_HEAL,
	EV_CONVERGE,
	EV_DECOMMISSION,
};

struct ev {
	uint64_t time;
	uint64_t seq; /* insertion order: ties are broken deterministically */
	uint8_t kind;
	int8_t node;  /* slot, -1 for none */
	uint32_t gen; /* node life or partition generation it belongs to */
	struct smsg *msg;
};

struct evq {
	struct ev *h;
	size_t n, cap;
	uint64_t seq;
};

void evq_push(struct evq *q, struct ev e);
bool evq_pop(struct evq *q, struct ev *out);
void evq_free(struct evq *q);

/* ---------------- swarm configuration (swarm.c) ---------------- */

struct swarm {
	uint32_t n_nodes;
	/* replica options */
	uint32_t et, hb, max_ents, max_bytes, max_inflight, chunk, trailing;
	bool prevote;
	uint32_t tick_min, tick_max;
	/* network */
	uint32_t loss_ppm, dup_ppm, long_ppm;
	uint32_t delay_min, delay_max, long_max;
	bool wire;
	/* disk */
	uint32_t fsync_min, fsync_max;
	bool torn, compact;
	/* faults */
	bool partitions, crashes, pauses, membership, snapshots, transfers, churn;
	uint32_t nem_min, nem_max;
	uint32_t fault_min, fault_max;
	/* clients */
	uint32_t write_every, read_every; /* mean gap in ms, 0: off */
	uint32_t nkeys, pad_max;
	uint32_t snap_every, snap_pad;
	uint32_t chaos_ms;
};

void swarm_pick(struct swarm *sw, uint64_t seed);
void swarm_print(const struct swarm *sw, FILE *f);

/* ---------------- invariant checks (checks.c) ---------------- */

/* One committed entry, as the first leader that committed it had it. */
struct gent {
	rc_term term;
	rc_term ct; /* lowest term of a leader whose commit covered it */
	uint64_t hash;
	uint64_t chain;
	uint8_t type;
};

struct lm_slot {
	rc_index index; /* 0: empty */
	rc_term term;
	uint64_t hash;
	rc_term prev_term; /* RC_TERM_UNKNOWN when not seen yet */
};
#define RC_TERM_UNKNOWN UINT64_MAX

struct checks {
	struct gent *hist; /* hist[i-1]: committed entry at index i */
	size_t h, cap_h;   /* highest index a leader declared committed */
	rc_index g;        /* highest index applied by any node */
	struct lm_slot *lm;
	size_t lm_n, lm_cap;
	rc_id *leader_of;   /* term -> the leader, forever */
	rc_id *leader_life; /* term -> the leader's life then */
	size_t cap_leader, cap_leader_life;
	rc_id *votes[SIM_MAX_NODES]; /* term -> vote granted by the node */
	size_t cap_votes[SIM_MAX_NODES];
	struct kv oracle; /* the state machine at index h */
};

/* ---------------- clients and linearizability (linearize.c) ---------------- */

enum { W_PENDING, W_FAILED, W_APPLIED };
struct wop {
	uint8_t key, status;
	int8_t node;
	rc_index index;
	rc_term term;
	rc_index h_inv; /* committed frontier when invoked */
	uint64_t t_inv;
};

enum { R_WAIT_INDEX, R_WAIT_APPLY, R_DONE, R_FAILED, R_ABANDONED };
struct rop {
	uint8_t key, state;
	int8_t node;
	uint32_t life;
	rc_index h_inv;        /* committed frontier when invoked */
	rc_index frontier_inv; /* newest write index any read had returned */
	rc_index index;        /* its read index */
	uint64_t t_inv;
};

struct keyhist {
	rc_index *index; /* committed writes to this key, in log order */
	uint64_t *wid;
	size_t n, cap;
};

struct lin {
	struct wop *w; /* w[wid-1] */
	size_t nw, cap_w;
	struct rop *r; /* r[rid-1] */
	size_t nr, cap_r;
	struct keyhist key[KV_MAX_KEYS];
	rc_index frontier[KV_MAX_KEYS]; /* max write index returned by a read */
	uint64_t writes_ok, reads_ok, reads_failed;
};

/* ---------------- nodes and the cluster ---------------- */

struct pread {
	uint64_t rid;
	rc_index index;
};

struct node {
	rc_id id;
	bool exists; /* created and not decommissioned */
	bool up;     /* process running (maybe paused) */
	bool paused;
	uint32_t life; /* incremented at every boot */
	struct rc_replica *r;
	struct disk disk;
	struct kv kv;
	uint64_t clock_off;
	/* last observed replica state, for the per-step checks */
	enum rc_role role;
	rc_term term;
	rc_index commit;
	uint64_t leader_since;
	uint64_t active_since;         /* booted or unpaused */
	uint64_t memb_at;              /* membership last changed */
	uint64_t heard[SIM_MAX_NODES]; /* last delivery from each slot, +1 */
	/* reads with their index, waiting for apply */
	struct pread *reads;
	size_t n_reads, cap_reads;
	/* events held while paused */
	struct ev *held;
	size_t n_held, cap_held;
	struct blob *snaps[SIM_SNAP_CACHE]; /* recent snapshots, to send */
	bool snap_inflight;
	uint32_t installs_pending;
	rc_index acked_index; /* newest entry it acknowledged (append resp) */
	rc_term acked_term;
	bool joined; /* has been in a committed configuration */
	bool fresh;  /* booted, not driven yet */
	bool decommission_scheduled;
};

enum phase { PH_CHAOS, PH_HEALED, PH_DRAIN, PH_DONE };

struct sim {
	uint64_t seed;
	struct swarm sw;
	struct rng rnet, rdisk, rnem, rcli;
	uint64_t now;
	uint64_t events, max_events;
	struct evq q;
	struct node nodes[SIM_MAX_NODES];
	uint32_t n_slots; /* slots ever used */
	struct net net;
	struct checks chk;
	struct lin lin;
	enum phase phase;
	uint64_t heal_at, converged_at;
	uint64_t log_budget; /* no client writes past this committed index */
	bool trace;
	bool rule_checks;  /* persistence/commit rule checks (on by default) */
	bool read_answers; /* every accepted read is answered (on by default) */
	bool failed;
	char fail_inv[64];
	char fail_msg[1024];
	uint64_t fail_time;
	/* statistics */
	uint64_t n_msgs, n_crashes, n_elections, n_snap_installs;
};

/* trace.c */
void sim_trace(struct sim *s, const struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_fail(struct sim *s, const char *inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *msg_str(const struct rc_message *m, char *buf, size_t cap);
#define TRACE(s, n, ...)                                  \
	do {                                              \
		if ((s)->trace)                           \
			sim_trace((s), (n), __VA_ARGS__); \
	} while (0)

/* node.c */
struct node *sim_node(struct sim *s, rc_id id);
void node_create(struct sim *s, rc_id id, const struct rc_membership *initial);
void node_boot(struct sim *s, struct node *n);
void node_crash(struct sim *s, struct node *n, bool forever);
void node_pause(struct sim *s, struct node *n);
void node_unpause(struct sim *s, struct node *n);
/* After any rc_ call on n: take the update and carry it out. */
void node_drive(struct sim *s, struct node *n);
void node_fsync_done(struct sim *s, struct node *n);
void node_free(struct node *n);
void node_hold(struct node *n, const struct ev *e);

/* net.c */
/* ack_term: for a successful APPEND_RESP, the term of the acknowledged
 * entry when the Replica made the message (see check_sent). */
void net_send(struct sim *s, struct node *from, const struct rc_message *m, rc_term ack_term);
/* A plain copy (snapshot data may be NULL: filled when really sent). */
struct smsg *net_copy(const struct rc_message *m);
void net_deliver(struct sim *s, struct smsg *sm);
void net_partition(struct sim *s);
void net_heal(struct sim *s);
void smsg_unref(struct smsg *sm);
bool memb_same(const struct rc_membership *a, const struct rc_membership *b);

/* checks.c */
void checks_init(struct checks *c, uint32_t nkeys, const struct rc_membership *m);
void checks_free(struct checks *c);
void check_update_entries(struct sim *s, struct node *n, const struct rc_update *u);
void check_sent(struct sim *s, struct node *n, const struct rc_message *m, rc_term ack_term);
void check_observe(struct sim *s, struct node *n, enum rc_role role, rc_term term, rc_index commit);
void check_log_mirror(struct sim *s, struct node *n);
void check_membership(struct sim *s, struct node *n);
void check_apply(struct sim *s, struct node *n, const struct rc_entry *e);
void check_snapshot(struct sim *s, struct node *n, const struct kv *kv, const char *what);
bool check_converged(struct sim *s, char *why, size_t cap);

/* linearize.c */
void lin_free(struct lin *l);
uint64_t lin_write_invoke(struct sim *s, uint8_t key, struct node *n);
void lin_write_proposed(struct sim *s, uint64_t wid, int rv, rc_index index, rc_term term);
void lin_committed(struct sim *s, rc_index index, const struct rc_entry *e);
uint64_t lin_read_invoke(struct sim *s, uint8_t key, struct node *n);
void lin_read_result(struct sim *s, struct node *n, const struct rc_read *rd);
void lin_read_serve(struct sim *s, struct node *n, uint64_t rid);
void lin_read_refused(struct sim *s, uint64_t rid);
void lin_node_down(struct sim *s, struct node *n);

/* cluster.c */
struct sim_flags {
	bool trace, stats;
	bool rule_checks;    /* see checks.c */
	bool read_answers;   /* require an answer to every read (cluster.c) */
	uint64_t max_events; /* 0: no limit */
};
int sim_run(uint64_t seed, const struct sim_flags *f, uint64_t *events_out, char *fail,
	    size_t fail_cap);
void sim_schedule(struct sim *s, uint64_t at, uint8_t kind, int node, uint32_t gen,
		  struct smsg *msg);
void sim_schedule_tick(struct sim *s, struct node *n);

#endif
