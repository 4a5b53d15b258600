/*
 * The outbox collects the effects of the events fed to a Replica between two
 * rc_take_update calls, and owns the memory an update points to.
 *
 * Two generations alternate: the pending one fills up while events arrive;
 * rc_take_update hands it out and starts the other, whose previous contents
 * (the update before last) are released then. So an update stays valid until
 * the next rc_take_update, and data dropped from the log meanwhile (the
 * garbage) is freed only once no handed-out update can point to it.
 */
#ifndef CAIRN_RAFTCORE_OUTBOX_H
#define CAIRN_RAFTCORE_OUTBOX_H

#include "raftcore.h"

#define ARRAY(T)               \
	struct {               \
		T *v;          \
		size_t n, cap; \
	}

struct outbox_gen {
	bool hs_changed;
	struct rc_hard_state hs;
	rc_index truncate_from;
	ARRAY(struct rc_entry) entries; /* structs only; data owned by the log */
	ARRAY(struct rc_message) msgs;
	ARRAY(struct rc_message) after;
	ARRAY(struct rc_entry) committed;
	ARRAY(struct rc_read) reads;
	ARRAY(void *) garbage;
	bool has_chunk;
	struct rc_snapshot_chunk chunk; /* chunk.data owned (in garbage) */
	rc_index compact_to;
	bool role_changed;
	bool membership_changed;
};

struct outbox {
	struct outbox_gen gen[2];
	int cur;
};

void outbox_init(struct outbox *o);
void outbox_free(struct outbox *o);
struct outbox_gen *outbox_pending(struct outbox *o);
/* Frees p when the update after next is taken (see above). */
void outbox_defer_free(struct outbox *o, void *p);
/* A message slot in the now list or the after-persist list; the pointer is
 * valid until the next message is added. */
struct rc_message *outbox_msg(struct outbox *o, bool after_persist);
/* Copies n entry structs into an array owned by the outbox. */
const struct rc_entry *outbox_entry_array(struct outbox *o, const struct rc_entry *src, size_t n);
void outbox_persist_entry(struct outbox *o, const struct rc_entry *e);
/* The log was truncated at from: pending appends >= from are dropped, and
 * the stored log must drop them too. */
void outbox_truncate(struct outbox *o, rc_index from);
/* Forgets pending log appends (a snapshot replaced the whole log). */
void outbox_drop_entries(struct outbox *o);
void outbox_committed(struct outbox *o, const struct rc_entry *e);
void outbox_read(struct outbox *o, uint64_t ctx, rc_index index, int status);
/* Copies len bytes of data: an incoming snapshot chunk for the caller. */
void outbox_chunk(struct outbox *o, const struct rc_snapshot_meta *meta, uint64_t offset,
		  const void *data, uint32_t len, bool last);
/* Hands the pending generation out through u and starts the next one. */
void outbox_take(struct outbox *o, struct rc_update *u);

#endif
