/*
 * wal_impl: the wal's insides, shared by wal.c (recovery, index, reads),
 * wal_stage.c (the owner's staging) and wal_sync.c (the syncer). Nothing
 * outside these three includes it.
 *
 * Locking: mu guards every field marked (mu). Fields marked (syncer) are
 * touched by the syncer alone. The owner only reads and writes (mu) fields
 * and the queued ops; the syncer owns the in-flight ops' contents.
 */
#ifndef CAIRN_WAL_IMPL_H
#define CAIRN_WAL_IMPL_H

#include <pthread.h>
#include <stdbool.h>

#include "wal.h"
#include "wal_record.h"

struct wal_seg {
	uint64_t seq;
	int fd;   /* (mu) -1 until the syncer creates the file */
	int refs; /* (mu) the segment array and ops holding it */
	/* owner view (mu) */
	uint32_t end;      /* offset after the last staged record */
	uint32_t hint_cap; /* staged truncations: hints stay below this */
	rc_index first;    /* index of its first entry, 0 when empty */
	uint32_t durable;  /* (mu) [0, durable) is durable */
	uint32_t written;  /* (syncer) offset after the last byte written */
	bool dirty;        /* (syncer) written since its last fdatasync */
	bool listed;       /* (syncer) in wal.dirty */
};

/* Where an entry lives. Entries do not hold references: the segment array
 * does, for every segment an entry can name. */
struct wal_ent {
	rc_term term;
	struct wal_seg *seg;
	uint32_t off;
	uint32_t len;
};

enum wal_op_kind {
	WAL_OP_NEWSEG, /* create seg (after syncing prev) */
	WAL_OP_APPEND, /* write buf at off */
	WAL_OP_TRUNC,  /* cut seg at off, durably */
	WAL_OP_REMOVE, /* delete seg's file, durably */
};

/* A staged change; holds a reference on seg and prev. */
struct wal_op {
	struct wal_op *next;
	enum wal_op_kind kind;
	struct wal_seg *seg;
	struct wal_seg *prev; /* NEWSEG: the segment it closes, or NULL */
	uint32_t off;
	uint8_t *buf; /* APPEND: owned by the op */
	size_t len, cap;
};

struct wal {
	struct wal_config cfg;
	const struct sysio *io;
	pthread_mutex_t mu;
	/* (mu) the log as staged */
	struct wal_ent *ents; /* ents[start .. start+len) are first .. last */
	size_t ents_start, ents_len, ents_cap;
	rc_index first;        /* when empty: the index the next append takes */
	rc_term base_term;     /* term of entry first-1 */
	struct wal_seg **segs; /* ordered; only the last may be empty */
	size_t nsegs, segs_cap;
	uint64_t next_seq;
	struct wal_op *q_head, *q_tail; /* staged, not yet taken by the syncer */
	struct wal_op *f_head, *f_tail; /* taken by the syncer, not yet done */
	uint64_t staged_bytes;
	int failed; /* (mu) fatal code once a fatal error happened, else 0 */
	/* (syncer) segments written since their last fdatasync, each with a
	 * reference: synced before a run reports anything durable, even if
	 * the owner removed them from the log meanwhile. */
	struct wal_seg **dirty;
	size_t ndirty, dirty_cap;
};

static inline rc_index wal_last(const struct wal *w)
{
	return w->first + w->ents_len - 1;
}

static inline struct wal_ent *wal_ent_at(struct wal *w, rc_index i)
{
	return &w->ents[w->ents_start + (size_t)(i - w->first)];
}

/* Makes room for more entries in the index (mu held). */
int wal_ents_reserve(struct wal *w, size_t more);
/* Drops one reference (mu held); closes and frees at zero. */
void wal_seg_unref(struct wal *w, struct wal_seg *s);
/* Frees an op and the references it holds (mu held). */
void wal_op_free(struct wal *w, struct wal_op *op);
/* Path of segment seq (tmp: its temporary name) into buf. */
int wal_seg_path(const struct wal *w, uint64_t seq, int tmp, char *buf);

#endif
