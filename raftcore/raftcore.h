/*
 * raftcore: the Replica, Raft consensus as a pure state machine.
 *
 * The Replica does no I/O. It owns no sockets, files, clocks, threads or
 * randomness: the caller (the node in server/, or the simulator) feeds it
 * events and carries out the effects it asks for. A run is therefore a pure
 * function of its inputs and can be replayed exactly.
 *
 *   events in:  rc_step (peer message), rc_tick (time advanced),
 *               rc_propose, rc_read_index, rc_persisted,
 *               rc_snapshot_taken, rc_snapshot_installed,
 *               rc_transfer_leadership, rc_change_membership,
 *               rc_peer_unreachable
 *   effects out: rc_take_update fills a struct rc_update (see below).
 *
 * Contract for the caller, once per loop turn (Raft dissertation 10.2.1):
 *   1. rc_take_update(r, &u).
 *   2. Send u.msgs (they need nothing durable).
 *   3. Persist u.hard_state (when set), then apply u.truncate_from and append
 *      u.entries to the log, in that order; it may be asynchronous, but the
 *      persists of successive updates must become durable in order.
 *   4. When (3) is durable: send u.msgs_after_persist and call
 *      rc_persisted(r, last index, its term) for the entries it covered.
 *      A message addressed to this node itself (a candidate's own vote,
 *      counted only once durable) is handed back with rc_step, not sent.
 *   5. Write u.snapshot_chunk (if any) and, when it is the last chunk,
 *      restore the state machine from it and call rc_snapshot_installed.
 *   6. Apply u.committed[] to the state machine, in order; serve u.reads once
 *      the state machine has applied their index.
 * Everything an update points to is borrowed: valid until the next call of
 * any rc_ function on the same Replica. Copy what must live longer.
 *
 * Out-of-memory policy: the Replica aborts the process when malloc fails
 * (as redis does): its state after a half-done step could not be trusted,
 * and every size it allocates for is bounded by its options. The codec, which
 * sees untrusted input, returns -RC_ENOMEM instead (docs/ARCHITECTURE.md).
 */
#ifndef CAIRN_RAFTCORE_H
#define CAIRN_RAFTCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t rc_id; /* node id; 0 means "none" */
typedef uint64_t rc_term;
typedef uint64_t rc_index; /* log index; the first entry is 1, 0 means none */

/* ---- errors: one X-macro table, codes and messages cannot drift. ---- */
#define RC_ERRORS(X)                                                             \
	X(RC_OK, "ok")                                                           \
	X(RC_ENOMEM, "out of memory")                                            \
	X(RC_EINVAL, "invalid argument")                                         \
	X(RC_ENOTLEADER, "not the leader")                                       \
	X(RC_ETRANSFER, "leadership transfer in progress")                       \
	X(RC_EBUSY, "a membership change is already in progress")                \
	X(RC_ENOTREADY, "the leader has not committed an entry of its term yet") \
	X(RC_ENOLEADER, "no leader known")                                       \
	X(RC_ELEADERLOST, "leadership lost before the request completed")        \
	X(RC_ETOOBIG, "entry too large")                                         \
	X(RC_ENOTFOUND, "no such member")                                        \
	X(RC_ECORRUPT, "malformed input")

enum rc_error {
#define RC_ERR_ENUM(code, msg) code,
	RC_ERRORS(RC_ERR_ENUM)
#undef RC_ERR_ENUM
	    RC_ERROR_COUNT
};
/* Returned codes are 0 or negative: -RC_ENOMEM and so on. */
const char *rc_strerror(int rv);

enum rc_role { RC_FOLLOWER, RC_PRECANDIDATE, RC_CANDIDATE, RC_LEADER };
const char *rc_role_name(enum rc_role role);

/* ---- log entries ---- */
enum rc_entry_type {
	RC_ENTRY_COMMAND = 1, /* opaque client command for the state machine */
	RC_ENTRY_NOOP = 2,    /* appended by every new leader (Raft 8, 6.4) */
	RC_ENTRY_CONFIG = 3,  /* a membership: data is rc_membership_encode() */
};

/* An entry's data is owned by whoever holds the entry: the Replica for the
 * entries in its log, the caller for entries it passes in (copied). */
struct rc_entry {
	rc_term term;
	rc_index index;
	uint8_t type; /* enum rc_entry_type */
	uint32_t len;
	const void *data;
};

#define RC_MAX_ENTRY_BYTES (16u << 20) /* one entry's data */

/* ---- membership ---- */
#define RC_MAX_MEMBERS 16
#define RC_ADDR_MAX 96 /* opaque to raftcore: the node stores addresses */

struct rc_member {
	rc_id id;
	bool voter;
	char addr[RC_ADDR_MAX]; /* NUL-terminated, opaque */
};

struct rc_membership {
	uint32_t n;
	struct rc_member members[RC_MAX_MEMBERS];
};

/* Bytes needed by rc_membership_encode for m. */
size_t rc_membership_encoded_size(const struct rc_membership *m);
/* Writes m into buf (cap bytes); returns bytes written or -RC_EINVAL. */
int rc_membership_encode(const struct rc_membership *m, void *buf, size_t cap);
/* Decodes and validates (ids non-zero and unique, addr terminated). */
int rc_membership_decode(const void *buf, size_t len, struct rc_membership *out);
const struct rc_member *rc_membership_find(const struct rc_membership *m, rc_id id);

/* ---- peer messages ---- */
enum rc_msg_type {
	RC_MSG_APPEND = 1, /* AppendEntries; no entries = heartbeat */
	RC_MSG_APPEND_RESP = 2,
	RC_MSG_VOTE = 3, /* RequestVote, or PreVote when prevote is set */
	RC_MSG_VOTE_RESP = 4,
	RC_MSG_SNAPSHOT = 5, /* InstallSnapshot, one chunk */
	RC_MSG_SNAPSHOT_RESP = 6,
	RC_MSG_TIMEOUT_NOW = 7, /* leadership transfer: campaign now */
	RC_MSG_READ_INDEX = 8,  /* follower asks the leader for a read index */
	RC_MSG_READ_INDEX_RESP = 9,
};
#define RC_MSG_TYPE_MAX 9

struct rc_msg_append {
	rc_index prev_index;
	rc_term prev_term;
	rc_index commit;
	uint64_t seq; /* leader's heartbeat round, echoed back (ReadIndex) */
	uint32_t n_entries;
	const struct rc_entry *entries; /* borrowed, see the update rules */
};

struct rc_msg_append_resp {
	bool success;
	/* success: the follower's log matches the leader's up to match_index.
	 * rejection: reject_index is the prev_index that did not match;
	 * hint_index/hint_term let the leader skip a whole term at once
	 * (fast backtracking): the follower's last index, or the first index
	 * of the conflicting term, with that term. */
	rc_index match_index;
	rc_index reject_index;
	rc_index hint_index;
	rc_term hint_term;
	uint64_t seq;
};

struct rc_msg_vote {
	bool prevote;
	bool transfer; /* sent because of TimeoutNow: ignore the leader lease */
	rc_index last_index;
	rc_term last_term;
};

struct rc_msg_vote_resp {
	bool prevote;
	bool granted;
};

struct rc_msg_snapshot {
	rc_index index; /* last index the snapshot covers */
	rc_term snap_term;
	struct rc_membership membership; /* committed config at index */
	uint64_t size;                   /* total bytes */
	uint64_t offset;
	uint32_t len;
	bool last;
	/* Outgoing: NULL; the caller fills len bytes at offset from its
	 * snapshot at index before sending (the Replica holds no snapshot data).
	 * Incoming: the chunk's bytes, borrowed for the call. */
	const void *data;
};

struct rc_msg_snapshot_resp {
	rc_index index;
	uint64_t next_offset; /* bytes received so far, in order */
	bool rejected;        /* unknown index: leader restarts the transfer */
};

struct rc_msg_read_index {
	uint64_t ctx;
};

struct rc_msg_read_index_resp {
	uint64_t ctx;
	rc_index index; /* 0 with ok=false: the leader could not serve it */
	bool ok;
};

struct rc_message {
	uint8_t type; /* enum rc_msg_type */
	rc_id from;
	rc_id to;
	rc_term term;
	union {
		struct rc_msg_append append;
		struct rc_msg_append_resp append_resp;
		struct rc_msg_vote vote;
		struct rc_msg_vote_resp vote_resp;
		struct rc_msg_snapshot snapshot;
		struct rc_msg_snapshot_resp snapshot_resp;
		struct rc_msg_read_index read_index;
		struct rc_msg_read_index_resp read_index_resp;
	} u;
};

/* ---- configuration and boot ---- */
struct rc_options {
	rc_id id;
	uint64_t seed;                /* for randomized election timeouts */
	uint32_t election_timeout_ms; /* base T; drawn in [T, 2T) */
	uint32_t heartbeat_ms;
	uint32_t max_append_entries; /* per AppendEntries */
	uint32_t max_append_bytes;   /* per AppendEntries (at least 1 entry) */
	uint32_t max_inflight;       /* AppendEntries in flight per follower */
	uint32_t snapshot_chunk_bytes;
	uint32_t snapshot_trailing; /* entries kept behind a snapshot */
	bool prevote;
	bool check_quorum;
};

/* Fills sane defaults (1000 ms election timeout, 100 ms heartbeat, ...). */
void rc_options_default(struct rc_options *o, rc_id id, uint64_t seed);

struct rc_hard_state {
	rc_term term;
	rc_id vote;
};

struct rc_snapshot_meta {
	rc_index index; /* 0: no snapshot */
	rc_term term;
	uint64_t size;
	struct rc_membership membership;
};

/* What the Replica needs back after a restart; all borrowed for the call.
 * A brand-new cluster boots with its initial membership as a snapshot at
 * index 0 (size 0); a node that will be added later boots empty. */
struct rc_boot {
	struct rc_hard_state hard_state;
	struct rc_snapshot_meta snapshot;
	const struct rc_entry *entries; /* snapshot.index+1 ..., contiguous */
	size_t n_entries;
	rc_index applied; /* state machine's applied index: known committed */
};

struct rc_replica;

/* Creates a Replica; the caller owns it (rc_replica_free). Returns NULL on
 * allocation failure or invalid options/boot (a reason in errmsg when not
 * NULL, 256 bytes). */
struct rc_replica *rc_replica_new(const struct rc_options *opts, const struct rc_boot *boot,
				  char *errmsg);
void rc_replica_free(struct rc_replica *r);

/* ---- events ---- */

/* A message from a peer; borrowed for the call (entry data is copied). */
int rc_step(struct rc_replica *r, const struct rc_message *m);
/* Time advanced to now_ms (monotonic, never decreasing). */
void rc_tick(struct rc_replica *r, uint64_t now_ms);
/* Appends a client entry on the leader; data is copied. On success stores
 * the entry's index and term: the command took effect iff the entry applied
 * at that index has that term. */
int rc_propose(struct rc_replica *r, const void *data, uint32_t len, rc_index *index,
	       rc_term *term);
/* Asks for a linearizable read point. ctx is the caller's, echoed in
 * rc_update.reads exactly once: ok with an index, or failed. */
int rc_read_index(struct rc_replica *r, uint64_t ctx);
/* The log is durable up to index, which had term when it was written. */
void rc_persisted(struct rc_replica *r, rc_index index, rc_term term);
/* The state machine was snapshotted at index (<= applied), size bytes. The
 * log up to index - snapshot_trailing is compacted (update.compact_to). */
int rc_snapshot_taken(struct rc_replica *r, rc_index index, uint64_t size);
/* The snapshot announced by update.snapshot_chunk with last=true is
 * restored and durable: the state machine now holds exactly the snapshot,
 * and the stored log was made to agree with it (Raft Figure 13): if it held
 * the entry at index with term, the entries after it stay, otherwise it was
 * emptied (every earlier log write completed first). Until this call the
 * Replica neither campaigns nor accepts entries. */
void rc_snapshot_installed(struct rc_replica *r, rc_index index, rc_term term);
int rc_transfer_leadership(struct rc_replica *r, rc_id to);
/* A hint: the caller's connection to peer id broke. A follower whose leader
 * that is stops honouring the leader's lease and times out soon (a short
 * random delay), instead of a whole election timeout later. */
void rc_peer_unreachable(struct rc_replica *r, rc_id id);

enum rc_change { RC_ADD, RC_PROMOTE, RC_REMOVE };
/* Single-server change (dissertation 4.1). RC_ADD adds a non-voter, which
 * the leader promotes by itself once it has caught up; RC_REMOVE removes. At
 * most one change in flight; none before the leader's no-op commits. */
int rc_change_membership(struct rc_replica *r, enum rc_change kind, const struct rc_member *member,
			 rc_index *index);

/* ---- effects ---- */
struct rc_read {
	uint64_t ctx;
	rc_index index; /* serve once applied >= index */
	int status;     /* 0, or -RC_ENOTLEADER / -RC_ENOLEADER / ... */
};

struct rc_snapshot_chunk {
	struct rc_snapshot_meta meta;
	uint64_t offset;
	uint32_t len;
	const void *data;
	bool last;
};

struct rc_update {
	bool hard_state_changed;
	struct rc_hard_state hard_state;

	rc_index truncate_from; /* 0: none; else drop entries >= it first */
	const struct rc_entry *entries;
	size_t n_entries;

	const struct rc_message *msgs;
	size_t n_msgs;
	const struct rc_message *msgs_after_persist;
	size_t n_msgs_after_persist;

	const struct rc_entry *committed; /* apply in order */
	size_t n_committed;

	const struct rc_read *reads;
	size_t n_reads;

	bool has_snapshot_chunk;
	struct rc_snapshot_chunk snapshot_chunk;

	rc_index compact_to; /* 0: none; else the stored log may drop <= it */

	bool role_changed;
	enum rc_role role;
	rc_id leader;

	bool membership_changed; /* rc_membership() returns the new one */
};

/* Moves the pending effects into u (see the contract at the top). */
void rc_take_update(struct rc_replica *r, struct rc_update *u);

/* ---- queries (borrowed pointers valid until the next call) ---- */
enum rc_role rc_role(const struct rc_replica *r);
rc_id rc_id_of(const struct rc_replica *r);
rc_id rc_leader(const struct rc_replica *r);
rc_term rc_term_of(const struct rc_replica *r);
rc_id rc_vote_of(const struct rc_replica *r);
rc_index rc_commit_index(const struct rc_replica *r);
rc_index rc_last_index(const struct rc_replica *r);
rc_index rc_first_index(const struct rc_replica *r); /* after the snapshot */
rc_index rc_snapshot_index(const struct rc_replica *r);
/* The entry at index, or NULL when compacted or beyond the log. */
const struct rc_entry *rc_entry_at(const struct rc_replica *r, rc_index index);
const struct rc_membership *rc_membership(const struct rc_replica *r);

struct rc_progress_info {
	rc_id id;
	rc_index match_index;
	rc_index next_index;
	uint64_t last_contact_ms; /* ms since last heard, on the leader */
};
/* On the leader: fills up to cap entries, returns how many. */
size_t rc_progress(const struct rc_replica *r, struct rc_progress_info *out, size_t cap);

/* ---- wire codec (raftcore/codec.c) ----
 * A frame is what travels between peers: a fixed header (magic, version,
 * type, body length), the body, and a CRC32C over header and body. Every
 * field is bounds-checked on decode; nothing in a frame is trusted. */
#define RC_WIRE_VERSION 1
#define RC_FRAME_HEADER_BYTES 12
#define RC_FRAME_MAX_BYTES (RC_MAX_ENTRY_BYTES + (4u << 20))

/* Bytes rc_msg_encode will write for m. */
size_t rc_msg_encoded_size(const struct rc_message *m);
/* Encodes m as one frame into buf; returns bytes written or -RC_EINVAL. */
int rc_msg_encode(const struct rc_message *m, void *buf, size_t cap);
/* From the first RC_FRAME_HEADER_BYTES of a frame: its total length, or
 * -RC_ECORRUPT (bad magic/version, over RC_FRAME_MAX_BYTES). Lets a stream
 * reader know how much to wait for before rc_msg_decode. */
int64_t rc_frame_length(const void *header, size_t len);
/* Decodes one whole frame. On success *out's entry and snapshot data point
 * into buf (borrowed: buf must outlive *out) and out->u.append.entries is an
 * array the caller releases with rc_msg_release. -RC_ECORRUPT on any
 * malformed input, -RC_ENOMEM on allocation failure; *out needs no release
 * then. */
int rc_msg_decode(const void *buf, size_t len, struct rc_message *out);
void rc_msg_release(struct rc_message *m);
const char *rc_msg_type_name(uint8_t type);

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has it. Start
 * with crc = 0; feed the result back to continue over more bytes. */
uint32_t rc_crc32c(uint32_t crc, const void *data, size_t len);

#endif
