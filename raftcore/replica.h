/*
 * Internal state of the Replica, shared by the raftcore files that implement
 * one concern each (election.c, replication.c, read_index.c, ...). Nothing
 * outside raftcore/ includes this header.
 *
 * Invariants (asserted where they are maintained):
 * - log.prev_index <= commit <= last index; applied_emitted <= commit.
 * - applied_emitted <= durable: nothing is handed out for apply before it is
 *   durable locally, and commit means durable on a majority.
 * - role == RC_LEADER implies leader == id and progress[] mirrors cfg.
 * - A vote is granted, and an append acknowledged, only by messages queued
 *   in the after-persist list (outbox.c), never ahead of the persist.
 */
#ifndef CAIRN_RAFTCORE_REPLICA_H
#define CAIRN_RAFTCORE_REPLICA_H

#include "log.h"
#include "outbox.h"
#include "raftcore.h"

enum progress_state { PR_PROBE, PR_REPLICATE, PR_SNAPSHOT };

/* The leader's view of one other member (Raft 5.3, dissertation 3.5). */
struct progress {
	rc_id id;
	rc_index match;
	rc_index next;
	enum progress_state state;
	bool probe_sent;        /* PROBE: one append outstanding */
	rc_index match_at_tick; /* match at the previous heartbeat tick */
	/* REPLICATE: last index of each AppendEntries in flight, oldest first. */
	rc_index *inflight;
	uint32_t n_inflight;
	bool recent_active;    /* heard from since the last CheckQuorum */
	uint64_t last_contact; /* ms */
	uint64_t acked_seq;    /* highest heartbeat round acknowledged */
	rc_index commit_sent;  /* commit index the last append let it learn */
	/* SNAPSHOT: the transfer in progress. */
	rc_index snap_index;
	uint64_t snap_offset;
	uint64_t snap_sent_at;
};

/* A read waiting for its heartbeat round (dissertation 6.4). */
struct pending_read {
	uint64_t ctx;
	rc_id from; /* 0: asked locally; else a follower that forwarded it */
	rc_index index;
	uint64_t seq; /* 0 until the own-term entry commits */
};

struct fwd_read {
	uint64_t ctx;
	uint64_t sent_at; /* ms */
};

struct rc_replica {
	struct rc_options o;
	enum rc_role role;
	rc_term term;
	rc_id vote;
	rc_id leader;

	struct rc_log log;
	rc_index commit;
	rc_index durable;         /* local log durable up to here */
	rc_index applied_emitted; /* handed to the caller for apply */

	struct rc_snapshot_meta snap; /* newest snapshot of the state machine */

	/* Membership in force: the newest config in the log (dissertation 4.1:
	 * a server uses the newest configuration in its log, committed or not). */
	struct rc_membership cfg;
	rc_index cfg_index; /* its entry's index; <= snap.index: from the snapshot */

	/* Time. */
	bool clock_started; /* the first rc_tick arrived */
	uint64_t now;
	uint64_t election_deadline;
	uint64_t last_leader_contact; /* for the vote lease (CheckQuorum) */
	bool leader_unreachable;      /* the caller lost its link to the leader */
	uint64_t next_heartbeat;
	uint64_t next_quorum_check;
	uint64_t rng;

	/* Elections: who answered this round, and how. */
	rc_id granted[RC_MAX_MEMBERS];
	rc_id rejected[RC_MAX_MEMBERS];
	uint32_t n_granted, n_rejected;

	/* Leader state. */
	struct progress progress[RC_MAX_MEMBERS];
	uint32_t n_progress;
	rc_index noop_index; /* first entry of this leader's term */
	uint64_t hb_seq;     /* heartbeat round counter */
	bool read_round_wanted;
	struct pending_read *reads;
	size_t n_reads, cap_reads;
	rc_id transfer_to;
	uint64_t transfer_deadline;

	/* Follower: reads forwarded to the leader, failed if it changes or
	 * does not answer within an election timeout (the request or its
	 * answer may have been lost). */
	struct fwd_read *fwd_reads;
	size_t n_fwd_reads, cap_fwd_reads;

	/* Follower: InstallSnapshot being received. */
	struct {
		bool active;
		bool awaiting_install;
		struct rc_snapshot_meta meta;
		uint64_t offset;
	} recv;

	struct outbox out;
};

/* rng + timers (replica.c) */
uint64_t rp_random(struct rc_replica *r);
void rp_reset_election_timer(struct rc_replica *r);
bool rp_lease_active(const struct rc_replica *r);

/* role changes (replica.c) */
void rp_set_role(struct rc_replica *r, enum rc_role role);
void rp_become_follower(struct rc_replica *r, rc_term term, rc_id leader);
void rp_set_hard_state(struct rc_replica *r, rc_term term, rc_id vote);

/* membership (configuration.c) */
bool rp_is_voter(const struct rc_replica *r, rc_id id);
bool rp_may_campaign(const struct rc_replica *r);
uint32_t rp_quorum(const struct rc_replica *r);
uint32_t rp_voter_count(const struct rc_replica *r);
void rp_config_after_append(struct rc_replica *r, const struct rc_entry *e);
void rp_config_after_truncate(struct rc_replica *r);
void rp_config_at(const struct rc_replica *r, rc_index index, struct rc_membership *out);
void rp_sync_progress(struct rc_replica *r);
void rp_maybe_promote(struct rc_replica *r);
void rp_maybe_step_down_removed(struct rc_replica *r);

/* election (election.c) */
void rp_campaign(struct rc_replica *r, bool prevote, bool transfer);
void rp_handle_vote(struct rc_replica *r, const struct rc_message *m);
void rp_handle_vote_resp(struct rc_replica *r, const struct rc_message *m);
void rp_become_leader(struct rc_replica *r);

/* replication (replication.c) */
struct progress *rp_progress(struct rc_replica *r, rc_id id);
void rp_note_leader(struct rc_replica *r, const struct rc_message *m);
void rp_reply_append_success(struct rc_replica *r, rc_id to, rc_index match);
void rp_handle_append(struct rc_replica *r, const struct rc_message *m);
void rp_handle_append_resp(struct rc_replica *r, const struct rc_message *m);
void rp_send_append(struct rc_replica *r, struct progress *pr, bool heartbeat);
void rp_flush_appends(struct rc_replica *r);
void rp_heartbeat_tick(struct rc_replica *r);
void rp_maybe_commit(struct rc_replica *r);
void rp_set_commit(struct rc_replica *r, rc_index commit);
void rp_emit_committed(struct rc_replica *r);
void rp_append_local(struct rc_replica *r, uint8_t type, const void *data, uint32_t len);
void rp_truncate(struct rc_replica *r, rc_index from);
void rp_progress_reset(struct progress *pr, rc_id id, rc_index next);
void rp_progress_free(struct progress *pr);
void rp_become_probe(struct progress *pr);

/* reads (read_index.c) */
void rp_reads_on_commit(struct rc_replica *r);
void rp_reads_on_ack(struct rc_replica *r);
void rp_reads_fail_all(struct rc_replica *r, int status);
void rp_reads_flush(struct rc_replica *r);
void rp_handle_read_index(struct rc_replica *r, const struct rc_message *m);
void rp_handle_read_index_resp(struct rc_replica *r, const struct rc_message *m);
void rp_fail_forwarded_reads(struct rc_replica *r, int status);
void rp_expire_forwarded_reads(struct rc_replica *r);
/* Changes the known leader; reads forwarded to the old one fail. */
void rp_set_leader(struct rc_replica *r, rc_id leader);
bool rp_own_term_committed(const struct rc_replica *r);

/* snapshots (snapshot.c) */
void rp_send_snapshot_chunk(struct rc_replica *r, struct progress *pr);
void rp_start_snapshot(struct rc_replica *r, struct progress *pr);
void rp_handle_snapshot(struct rc_replica *r, const struct rc_message *m);
void rp_handle_snapshot_resp(struct rc_replica *r, const struct rc_message *m);

/* leadership transfer (transfer.c) */
void rp_transfer_check(struct rc_replica *r, struct progress *pr);
void rp_transfer_tick(struct rc_replica *r);
void rp_handle_timeout_now(struct rc_replica *r, const struct rc_message *m);

/* messages (outbox.c helpers bound to the replica) */
struct rc_message *rp_msg(struct rc_replica *r, uint8_t type, rc_id to, bool after_persist);

#endif
