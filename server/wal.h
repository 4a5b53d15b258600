/*
 * wal: the segmented log (internal to storage; storage.h is the public
 * face). The owner thread stages appends, truncations, compactions and
 * resets into memory; the syncer (wal_sync) performs them on disk in stage
 * order and fdatasyncs. Threads as in storage.h: wal_sync on one thread at
 * a time, every other function on the owner thread; a mutex inside keeps
 * the two consistent.
 *
 * Invariants on disk, kept by wal_sync and checked by wal_open:
 *   - segment sequence numbers are contiguous, and so are the entries
 *     across them; every segment but the last is fully durable (it is
 *     fdatasynced before the next one is created);
 *   - files are only ever removed one at a time with a directory fsync in
 *     between (newest first when truncating, oldest first when
 *     compacting), so every crash leaves a contiguous run of segments;
 *   - a truncation is durable (ftruncate + fsync) before anything is
 *     written after it, so stale records never follow new ones.
 */
#ifndef CAIRN_WAL_H
#define CAIRN_WAL_H

#include <stdint.h>

#include "datadir.h"
#include "raftcore.h"
#include "storage.h"

struct wal;

struct wal_config {
	const struct datadir *dir; /* borrowed; outlives the wal */
	uint64_t segment_bytes;
	uint64_t max_staged_bytes;
};

/*
 * Recovers the log from the segments in cfg->dir, reconciled with the
 * snapshot at (snap_index, snap_term) (0, 0 for none): segments it covers
 * are deleted, a log that conflicts with it is dropped, and the first entry
 * offered is snap_index + 1. The caller owns *out (wal_close).
 */
int wal_open(const struct wal_config *cfg, rc_index snap_index, rc_term snap_term, struct wal **out,
	     char *errmsg);
/* Frees everything; drops anything still staged. */
void wal_close(struct wal *w);

rc_index wal_first_index(struct wal *w);
rc_index wal_last_index(struct wal *w);
/* Term at index, for first-1 <= index <= last. */
int wal_term(struct wal *w, rc_index index, rc_term *term);
/* Entries [from, to] into one block the caller frees (see storage_entries). */
int wal_entries(struct wal *w, rc_index from, rc_index to, struct rc_entry **out, size_t *n,
		char *errmsg);

/* Staging (owner thread). All or nothing. */
int wal_append(struct wal *w, const struct rc_entry *entries, size_t n, char *errmsg);
int wal_truncate(struct wal *w, rc_index from, char *errmsg);
int wal_compact(struct wal *w, rc_index upto, char *errmsg);
int wal_reset(struct wal *w, rc_index index, rc_term term, char *errmsg);

/* The syncer, in two steps so storage can take a consistent cut of what
 * is staged. wal_sync_begin takes everything staged so far (cheap; may run
 * under the caller's lock) and gives the last entry it covers.
 * wal_sync_run performs it and fdatasyncs: on success that entry is
 * durable. After -STORAGE_ENOSPC what was taken stays taken, and the next
 * run retries it first. */
int wal_sync_begin(struct wal *w, rc_index *index, rc_term *term, char *errmsg);
int wal_sync_run(struct wal *w, char *errmsg);

#endif
