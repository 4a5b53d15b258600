/*
 * Effects collected between two rc_take_update calls; see outbox.h for the
 * two-generation ownership rule.
 */
#include "outbox.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PUSH(arr)                                                                               \
	(((arr).n == (arr).cap ? ((arr).cap = (arr).cap ? (arr).cap * 2 : 16,                   \
				  (arr).v = rc_xrealloc((arr).v, (arr).cap * sizeof(*(arr).v))) \
			       : 0),                                                            \
	 &(arr).v[(arr).n++])

static void gen_release(struct outbox_gen *g)
{
	for (size_t i = 0; i < g->garbage.n; i++)
		free(g->garbage.v[i]);
	g->garbage.n = 0;
	g->hs_changed = false;
	g->truncate_from = 0;
	g->entries.n = 0;
	g->msgs.n = 0;
	g->after.n = 0;
	g->committed.n = 0;
	g->reads.n = 0;
	g->has_chunk = false;
	g->compact_to = 0;
	g->role_changed = false;
	g->membership_changed = false;
}

static void gen_free(struct outbox_gen *g)
{
	gen_release(g);
	free(g->entries.v);
	free(g->msgs.v);
	free(g->after.v);
	free(g->committed.v);
	free(g->reads.v);
	free(g->garbage.v);
	memset(g, 0, sizeof(*g));
}

void outbox_init(struct outbox *o)
{
	memset(o, 0, sizeof(*o));
}

void outbox_free(struct outbox *o)
{
	gen_free(&o->gen[0]);
	gen_free(&o->gen[1]);
}

struct outbox_gen *outbox_pending(struct outbox *o)
{
	return &o->gen[o->cur];
}

void outbox_defer_free(struct outbox *o, void *p)
{
	if (p)
		*PUSH(outbox_pending(o)->garbage) = p;
}

struct rc_message *outbox_msg(struct outbox *o, bool after_persist)
{
	struct outbox_gen *g = outbox_pending(o);
	struct rc_message *m = after_persist ? PUSH(g->after) : PUSH(g->msgs);
	memset(m, 0, sizeof(*m));
	return m;
}

const struct rc_entry *outbox_entry_array(struct outbox *o, const struct rc_entry *src, size_t n)
{
	if (n == 0)
		return NULL;
	struct rc_entry *copy = rc_xmalloc(n * sizeof(*copy));
	memcpy(copy, src, n * sizeof(*copy));
	outbox_defer_free(o, copy);
	return copy;
}

void outbox_persist_entry(struct outbox *o, const struct rc_entry *e)
{
	struct outbox_gen *g = outbox_pending(o);
	assert(g->entries.n == 0 || g->entries.v[g->entries.n - 1].index + 1 == e->index);
	*PUSH(g->entries) = *e;
}

void outbox_truncate(struct outbox *o, rc_index from)
{
	struct outbox_gen *g = outbox_pending(o);
	if (g->entries.n && g->entries.v[0].index < from) {
		/* Only entries this update had not handed out yet are cut. */
		while (g->entries.n && g->entries.v[g->entries.n - 1].index >= from)
			g->entries.n--;
		return;
	}
	g->entries.n = 0;
	if (g->truncate_from == 0 || from < g->truncate_from)
		g->truncate_from = from;
}

void outbox_drop_entries(struct outbox *o)
{
	outbox_pending(o)->entries.n = 0;
}

void outbox_committed(struct outbox *o, const struct rc_entry *e)
{
	*PUSH(outbox_pending(o)->committed) = *e;
}

void outbox_read(struct outbox *o, uint64_t ctx, rc_index index, int status)
{
	*PUSH(outbox_pending(o)->reads) = (struct rc_read){ctx, index, status};
}

void outbox_chunk(struct outbox *o, const struct rc_snapshot_meta *meta, uint64_t offset,
		  const void *data, uint32_t len, bool last)
{
	struct outbox_gen *g = outbox_pending(o);
	void *copy = NULL;
	if (len) {
		copy = rc_xmalloc(len);
		memcpy(copy, data, len);
		outbox_defer_free(o, copy);
	}
	g->has_chunk = true;
	g->chunk = (struct rc_snapshot_chunk){
	    .meta = *meta, .offset = offset, .len = len, .data = copy, .last = last};
}

void outbox_take(struct outbox *o, struct rc_update *u)
{
	struct outbox_gen *g = outbox_pending(o);
	memset(u, 0, sizeof(*u));
	u->hard_state_changed = g->hs_changed;
	u->hard_state = g->hs;
	u->truncate_from = g->truncate_from;
	u->entries = g->entries.v;
	u->n_entries = g->entries.n;
	u->msgs = g->msgs.v;
	u->n_msgs = g->msgs.n;
	u->msgs_after_persist = g->after.v;
	u->n_msgs_after_persist = g->after.n;
	u->committed = g->committed.v;
	u->n_committed = g->committed.n;
	u->reads = g->reads.v;
	u->n_reads = g->reads.n;
	u->has_snapshot_chunk = g->has_chunk;
	u->snapshot_chunk = g->chunk;
	u->compact_to = g->compact_to;
	u->role_changed = g->role_changed;
	u->membership_changed = g->membership_changed;
	o->cur ^= 1;
	gen_release(outbox_pending(o));
}
