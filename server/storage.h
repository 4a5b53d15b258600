/*
 * storage: the node's durable state in its data directory.
 *
 *   - the log: segmented, append-only, every record CRC32C-checked; read
 *     any entry by index in O(1) through an index rebuilt at open;
 *   - the hard state (term, vote), replaced atomically;
 *   - snapshots: the store's bytes plus metadata (index, term, membership,
 *     size, CRC), written whole or received in chunks;
 *   - a lock so one process at a time uses the directory, and a format
 *     version file.
 *
 * Persisting a Replica update is split in two so the slow half can run on
 * its own thread (group commit):
 *
 *   storage_stage()   owner thread: copies the hard state, the truncation
 *                     and the entries into memory; never blocks on disk.
 *   storage_sync()    syncer thread (or the owner): writes everything
 *                     staged, in stage order, then fdatasyncs once, and
 *                     reports what is durable.
 *
 * Threads. One "owner" thread (the node loop) calls every function except
 * storage_sync and storage_durable. storage_sync may run on one other
 * thread at the same time as the owner's calls, never concurrently with
 * itself and never once storage_close has begun. storage_durable is safe
 * from any thread. The snapshot writer functions (storage_snap_write) may
 * run on any one thread per writer.
 *
 * Errors. Functions return 0 or a negative code, -STORAGE_E*; the reason,
 * naming the file and offset where there is one, is in storage_errmsg()
 * (storage_sync_errmsg() for storage_sync). Codes for which
 * storage_is_fatal() is true mean the node must stop: a failed fsync is
 * never retried (the kernel may have dropped the dirty pages and a retry
 * would lie), and every later call returns -STORAGE_EFAILED.
 * -STORAGE_ENOSPC is not fatal: nothing durable changed, the staged data
 * stays staged, and the next storage_sync retries the writes once space is
 * freed.
 *
 * Out of memory: calls return -STORAGE_ENOMEM and change nothing.
 */
#ifndef CAIRN_STORAGE_H
#define CAIRN_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftcore.h"

#define STORAGE_ERRORS(X)                                                        \
	X(STORAGE_OK, "ok")                                                      \
	X(STORAGE_ENOMEM, "out of memory")                                       \
	X(STORAGE_EINVAL, "invalid argument")                                    \
	X(STORAGE_ENOSPC, "no space left on device (nothing lost; retry later)") \
	X(STORAGE_EBUSY, "too much data staged; sync first")                     \
	X(STORAGE_ENOTFOUND, "no such entry or snapshot")                        \
	X(STORAGE_EOFFSET, "snapshot chunk at an unexpected offset")             \
	X(STORAGE_ELOCKED, "data directory in use by another process")           \
	X(STORAGE_EVERSION, "unsupported data directory format")                 \
	X(STORAGE_ECORRUPT, "corrupt data in the data directory")                \
	X(STORAGE_EIO, "I/O error (fatal: the node must stop)")                  \
	X(STORAGE_EFSYNC, "fsync failed (fatal: the node must stop)")            \
	X(STORAGE_EFAILED, "storage failed earlier (fatal: the node must stop)")

enum storage_error {
#define STORAGE_ERR_ENUM(code, msg) code,
	STORAGE_ERRORS(STORAGE_ERR_ENUM)
#undef STORAGE_ERR_ENUM
	    STORAGE_ERROR_COUNT
};

/* Message for a code (0 or negative); static, never freed. */
const char *storage_strerror(int rv);
/* True for codes after which the node must stop. */
bool storage_is_fatal(int rv);

#define STORAGE_ERRMSG_SIZE 256
/* Membership bytes kept with a snapshot (rc_membership_encode output). */
#define STORAGE_CONF_MAX 4096

enum storage_log_level { STORAGE_LOG_INFO, STORAGE_LOG_WARN };

struct sysio; /* server/sysio.h: tests replace the file-system calls */

struct storage_options {
	uint64_t segment_bytes;    /* log segments roll (and are preallocated)
				      at this size; default 64 MiB, max 1 GiB */
	uint64_t max_staged_bytes; /* storage_stage beyond: -STORAGE_EBUSY;
				      default 256 MiB */
	/* Recovery reports (a torn tail truncated, stale files removed). The
	 * message is borrowed for the call. NULL: printed to stderr. */
	void (*log)(void *arg, enum storage_log_level level, const char *msg);
	void *log_arg;
	const struct sysio *io; /* NULL: the kernel. Tests only. */
};

void storage_options_default(struct storage_options *o);

struct storage_snapshot_meta {
	rc_index index; /* 0: no snapshot */
	rc_term term;
	uint64_t size; /* bytes of data */
	uint32_t conf_len;
	uint8_t conf[STORAGE_CONF_MAX]; /* membership at index, opaque here */
};

struct storage;

/*
 * Opens (creating when missing or empty) the data directory dir, locks it,
 * and recovers: the newest snapshot, the hard state, and the log after the
 * snapshot. A torn tail of the last log segment is truncated and reported
 * through opts->log; corruption anywhere else, or a gap, fails with
 * -STORAGE_ECORRUPT and a message naming the file and offset. On success
 * the caller owns *out (storage_close). errmsg (STORAGE_ERRMSG_SIZE bytes,
 * may be NULL) gets the reason on failure. opts may be NULL (defaults).
 */
int storage_open(const char *dir, const struct storage_options *opts, struct storage **out,
		 char *errmsg);
/* Releases everything and unlocks the directory. Staged data not yet
 * synced is dropped. No storage_sync may be running. */
void storage_close(struct storage *st);

const char *storage_errmsg(const struct storage *st);
const char *storage_sync_errmsg(const struct storage *st);

/* ---- what open recovered, and the log's shape now (owner thread) ---- */
struct rc_hard_state storage_hard_state(const struct storage *st); /* last staged */
/* The current snapshot's metadata (index 0 when none). Borrowed until the
 * next owner call. */
const struct storage_snapshot_meta *storage_snapshot(const struct storage *st);
rc_index storage_first_index(const struct storage *st); /* last+1 if empty */
rc_index storage_last_index(const struct storage *st);  /* snapshot index if empty */
/* Term of the entry at index (also the snapshot's own index); staged
 * entries count. -STORAGE_ENOTFOUND outside the log. */
int storage_term(const struct storage *st, rc_index index, rc_term *term);

/*
 * Reads entries [from, to] (staged ones included) into one allocation: on
 * success *entries is an array of *n entries whose data point inside that
 * same block; the caller owns it and frees it with free(*entries). For a
 * restart: from = storage_snapshot()->index + 1, to = storage_last_index().
 */
int storage_entries(struct storage *st, rc_index from, rc_index to, struct rc_entry **entries,
		    size_t *n);

/* ---- persisting updates ---- */

/*
 * Stages one Replica update (raftcore.h contract step 3): hard_state when
 * not NULL, then the truncation of entries >= truncate_from when not 0,
 * then entries (contiguous, the first one following the log's last entry
 * after the truncation). Everything is copied; nothing is durable until a
 * storage_sync that begins after this call returns. *ticket (may be NULL)
 * numbers the call: once storage_durable reports a ticket >= it, all of it
 * is durable. Invalid arguments change nothing. On -STORAGE_ENOMEM or
 * -STORAGE_EBUSY with truncate_from set, the truncation alone may already
 * be staged: repeating the same call later completes it exactly.
 */
int storage_stage(struct storage *st, const struct rc_hard_state *hard_state,
		  rc_index truncate_from, const struct rc_entry *entries, size_t n,
		  uint64_t *ticket);
/* Stages dropping the log up to index (update.compact_to), which must not
 * pass the current snapshot. Whole segments are deleted by the syncer. */
int storage_compact(struct storage *st, rc_index index);

struct storage_durable {
	uint64_t ticket; /* stage calls numbered <= ticket are durable */
	rc_index index;  /* the log is durable up to index ... */
	rc_term term;    /* ... whose term was term: rc_persisted(index, term) */
};

/*
 * The syncer: writes everything staged so far (the hard state first, then
 * log records, truncations and segment changes, in stage order), issues one
 * fdatasync per file written, and publishes the new durable point (also
 * copied to *out when not NULL). With nothing staged it returns at once.
 * -STORAGE_ENOSPC: nothing new is durable, everything stays staged; call
 * again later. Fatal codes: stop the node.
 */
int storage_sync(struct storage *st, struct storage_durable *out);
/* The durable point last published. Any thread. */
void storage_durable(struct storage *st, struct storage_durable *out);

/* ---- snapshots ---- */

/*
 * Reads up to len bytes at offset of the current snapshot's data, which
 * must be the one at index (a leader sending InstallSnapshot chunks); *nread
 * gets the count (short only at the end). -STORAGE_ENOTFOUND when index is
 * no longer the current snapshot: start the transfer again.
 */
int storage_snap_read(struct storage *st, rc_index index, uint64_t offset, void *buf, size_t len,
		      size_t *nread);
/* Copies the current snapshot's data file path into buf (cap bytes), for
 * the store to restore from. The file stays until a newer snapshot is
 * committed. -STORAGE_ENOTFOUND when there is none. */
int storage_snap_path(const struct storage *st, char *buf, size_t cap);

struct storage_snap_writer;

/*
 * Starts a new snapshot in a temporary file. Either append its bytes with
 * storage_snap_write, or let the store write the file at
 * storage_snap_writer_path itself (SQLite's backup API) and write nothing
 * here. The caller owns *w until storage_snap_commit or
 * storage_snap_abort, which both consume it.
 */
int storage_snap_begin(struct storage *st, struct storage_snap_writer **w);
/* The temporary data file's path; borrowed while w lives. */
const char *storage_snap_writer_path(const struct storage_snap_writer *w);
/* Bytes received so far: the offset the next chunk must start at. */
uint64_t storage_snap_writer_size(const struct storage_snap_writer *w);
/*
 * Appends len bytes that belong at offset. offset must equal the bytes
 * written so far (a chunk seen before, wholly inside them, is accepted and
 * ignored); otherwise -STORAGE_EOFFSET and nothing changes. data borrowed
 * for the call.
 */
int storage_snap_write(struct storage_snap_writer *w, uint64_t offset, const void *data,
		       size_t len);
/*
 * Makes the snapshot durable under meta (meta->size must match the bytes
 * written): fsync, rename, directory fsync; then it is the current one and
 * older snapshots are deleted. The log is made consistent with it (Raft
 * 5.2 of the dissertation, InstallSnapshot): if the log holds meta->index
 * with meta->term the entries after it are kept; otherwise the whole log is
 * dropped (staged, done by the next storage_sync) and the next entry is
 * meta->index + 1. meta is copied; w is consumed whatever the result.
 * meta->index may not be below the current snapshot's; equal to it, the
 * existing snapshot is kept and w discarded. Blocks on the fsync.
 */
int storage_snap_commit(struct storage *st, struct storage_snap_writer *w,
			const struct storage_snapshot_meta *meta);
/* Deletes the temporary file and frees w. */
void storage_snap_abort(struct storage *st, struct storage_snap_writer *w);

#endif
