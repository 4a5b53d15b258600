/*
 * The node's internal state, shared by the node_*.c files (one concern
 * each: node.c life cycle and the loop turn, node_persist.c the syncer,
 * node_apply.c applying and answering, node_client.c requests from the HTTP
 * threads and forwarding, node_snapshot.c snapshots both ways).
 *
 * Threads. Everything here belongs to the loop thread, except:
 *   - `inbox` (requests from HTTP threads), guarded by inbox_mu;
 *   - `published` (status for HTTP threads), guarded by pub_mu;
 *   - the syncer thread's handshake (sync_mu, sync_cv, sync_*).
 * The Replica, the log, the store's apply side and the transport are
 * touched only by the loop thread.
 */
#ifndef CAIRN_SERVER_NODE_INTERNAL_H
#define CAIRN_SERVER_NODE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "config.h"
#include "identity.h"
#include "raftcore.h"
#include "store.h"

struct loop;
struct storage;
struct storage_snap_writer;
struct store;
struct transport;
struct api_http;
struct watch_set;

/* Node-level frame kinds on the peer transport. */
enum node_frame_kind {
	FRAME_RAFT = 1,        /* payload: one raftcore frame */
	FRAME_FORWARD = 2,     /* follower -> leader: u64 id, command bytes */
	FRAME_FORWARD_ACK = 3, /* leader -> follower: u64 id, u8 status, u64 index, u64 term */
	FRAME_INFO = 4,        /* u16 len, this node's API address */
	FRAME_KIND_MAX = 4,
};

/* A client request handed over by an HTTP thread. Owned by the inbox until
 * the loop takes it; then by the loop until its done callback has run. */
struct request {
	struct request *next;
	bool is_query;
	uint64_t id;     /* read ctx / forward id */
	uint64_t fwd_to; /* forwarded writes: the leader it went to */
	uint64_t deadline;
	/* submit */
	uint8_t *cmd; /* cmd_encode output, owned */
	size_t cmd_len;
	api_cmd_done cdone;
	/* query */
	struct query q;
	uint8_t *key; /* q.key.p points here, owned */
	api_query_done qdone;
	void *arg;
	/* once proposed: the entry that answers it */
	uint64_t index;
	uint64_t term;
	/* a read: its read index, once known */
	uint64_t read_index;
	/* a blocking query parked in the watch set (watch.c owns these) */
	struct request *w_next, *w_prev;
	size_t w_heap;
	uint32_t w_bucket;
	bool w_marked;
	bool parked; /* its wait deadline is set */
};

/* A list of requests in one state (forwarded, proposed, reading, ...). */
struct req_list {
	struct request **v;
	size_t n, cap;
};

/* A persist handed to the syncer: what to release once it is durable. */
struct pending_persist {
	uint64_t ticket;
	uint8_t **frames; /* encoded after-persist messages, owned */
	size_t *frame_lens;
	uint64_t *frame_to;
	size_t n_frames;
	struct rc_message *self_msgs; /* to this node itself (the self-vote) */
	size_t n_self;
};

/* A snapshot being written by the store on its own thread. The loop owns
 * everything but `done`, which the thread sets under sync_mu. */
struct snapshot_job {
	bool running;
	bool done;
	pthread_t thread;
	struct storage_snap_writer *w;
	char path[1024];
	int rv;
	struct store_snapshot_info info;
	char err[256];
};

struct node {
	struct config cfg;
	struct identity id;
	struct loop *loop;
	struct rc_replica *r;
	struct storage *st;
	struct store *store;
	struct transport *tp;
	struct api_http *http;

	/* Replica facts, refreshed each turn */
	enum rc_role role;
	rc_id leader;
	uint64_t last_leader_contact; /* ms, loop clock */
	uint64_t applied;

	/* requests */
	pthread_mutex_t inbox_mu;
	struct request *inbox;
	/* Loop thread. Starts at a random value (node_boot_nonce) so ids of
	 * this run never match answers meant for an earlier run of the node
	 * that a peer still had queued. */
	uint64_t next_req_id;
	struct req_list proposed;  /* waiting for their entry to apply */
	struct req_list forwarded; /* sent to the leader, waiting for its ack */
	struct req_list reading;   /* waiting for a read index */
	struct req_list ready;     /* read index known, waiting for apply */
	struct watch_set *watches; /* blocking queries waiting for a change */
	uint64_t tombstone_floor;  /* store_tombstone_floor() last seen */

	/* persistence */
	struct pending_persist *pending;
	size_t n_pending, cap_pending;
	uint64_t last_ticket;
	uint64_t durable_ticket;
	pthread_t syncer;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	bool sync_wanted, sync_stop, sync_failed;
	int sync_rv;
	uint64_t retry_sync_at;

	/* snapshots */
	struct storage_snap_writer *snap_in; /* a snapshot being received */
	bool install_wanted;
	struct rc_snapshot_meta install_meta;
	uint64_t last_snapshot_index;
	struct snapshot_job snap_job;

	/* peers' API addresses, learned from FRAME_INFO */
	struct {
		rc_id id;
		char api[CONFIG_ADDR_MAX];
	} peer_api[RC_MAX_MEMBERS];

	/* for HTTP threads */
	pthread_mutex_t pub_mu;
	struct api_node_status published;
	uint64_t pub_last_contact;
	uint64_t pub_leader_commit;

	uint64_t next_tick;
	bool stopping;
};

/* node.c */
void node_publish(struct node *n);
void node_send_raft(struct node *n, const struct rc_message *m);
void node_turn(void *arg);
void node_fatal(struct node *n, const char *what, const char *why) __attribute__((noreturn));

/* node_persist.c */
int node_syncer_start(struct node *n);
void node_syncer_stop(struct node *n);
void node_persist_update(struct node *n, const struct rc_update *u);
void node_collect_durable(struct node *n);
void node_retry_sync(struct node *n, uint64_t now);

/* node_apply.c */
void node_apply(struct node *n, const struct rc_entry *entries, size_t count);
void node_reads_ready(struct node *n, const struct rc_read *reads, size_t count);
void node_serve_reads(struct node *n);
void node_fail_writes(struct node *n, enum api_status st, const char *why);
void node_fail_reads(struct node *n, enum api_status st, const char *why);
void node_expire(struct node *n, uint64_t now);
void req_list_push(struct req_list *l, struct request *rq);
struct request *req_list_take(struct req_list *l, uint64_t id);
void req_free(struct request *rq);
void req_answer_cmd(struct node *n, struct request *rq, enum api_status st, const char *why);
void req_answer_query(struct node *n, struct request *rq, enum api_status st, const char *why);
void node_meta(struct node *n, struct api_meta *m);
/* Runs q on the store now (any thread) and hands the result to done. */
void node_answer_from_store(struct node *n, const struct query *q, api_query_done done, void *arg,
			    const struct api_meta *meta);

struct query_result *node_new_result(void);
/* Takes over the store's release hook so the result can be freed later. */
void node_hold_result(struct query_result *res);

/* node_watch.c */
void node_answer_or_park(struct node *n, struct request *rq);
void node_wake_watchers(struct node *n, const struct rc_entry *entries, size_t count);
void node_expire_watchers(struct node *n, uint64_t now);
/* Moves every parked query to `to` (shutdown). */
void node_unpark_all(struct node *n, struct req_list *to);

/* node_client.c */
void node_on_wake(void *arg);
/* Shutdown: answers every request held or arriving from now on. */
void node_fail_all(struct node *n);
void node_on_forward(struct node *n, rc_id from, const uint8_t *p, size_t len);
void node_on_forward_ack(struct node *n, rc_id from, const uint8_t *p, size_t len);
/* A random 64-bit value (top bit clear, so ids never wrap) for this run. */
uint64_t node_boot_nonce(void);
void node_backend_init(struct node *n, struct api_backend *be);

/* node_snapshot.c */
void node_fill_snapshot(struct node *n, struct rc_message *m, uint8_t **buf);
void node_snapshot_chunk(struct node *n, const struct rc_snapshot_chunk *c);
void node_maybe_install(struct node *n);
void node_maybe_snapshot(struct node *n);
/* Finishes a snapshot whose backup is done; wait: abandon it (join). */
void node_snapshot_poll(struct node *n, bool wait);

#endif
