/*
 * The Replica's in-memory log: the entries after the last compaction point.
 * Every entry's data is owned by the log (copied in on append). Entries that
 * leave the log (truncation, compaction) are not freed at once: their data
 * goes to the outbox's garbage, freed when the next update is taken, so an
 * update handed out earlier never points to freed memory.
 *
 * Invariant: entries are contiguous, e[0].index == prev_index + 1, and the
 * term of prev_index is prev_term (0/0 for an empty, never compacted log).
 */
#ifndef CAIRN_RAFTCORE_LOG_H
#define CAIRN_RAFTCORE_LOG_H

#include "raftcore.h"

struct outbox;

struct rc_log {
	struct rc_entry *e;
	size_t n;
	size_t cap;
	rc_index prev_index;
	rc_term prev_term;
};

void rlog_init(struct rc_log *l, rc_index prev_index, rc_term prev_term);
/* Frees every entry now (the Replica is being destroyed). */
void rlog_free(struct rc_log *l);
rc_index rlog_last_index(const struct rc_log *l);
rc_term rlog_last_term(const struct rc_log *l);
/* The term at index i when known (prev_index or a present entry). */
bool rlog_term_at(const struct rc_log *l, rc_index i, rc_term *term);
/* Borrowed until the entry leaves the log. NULL when not present. */
const struct rc_entry *rlog_get(const struct rc_log *l, rc_index i);
/* Appends at last+1; data is copied. Aborts on allocation failure. */
void rlog_append(struct rc_log *l, rc_term term, uint8_t type, const void *data, uint32_t len);
/* Drops entries >= from. */
void rlog_truncate(struct rc_log *l, rc_index from, struct outbox *garbage);
/* Drops entries <= upto (upto must be present or prev_index). */
void rlog_compact(struct rc_log *l, rc_index upto, struct outbox *garbage);
/* Drops everything; the log now starts after (prev_index, prev_term). */
void rlog_reset(struct rc_log *l, rc_index prev_index, rc_term prev_term, struct outbox *garbage);

#endif
