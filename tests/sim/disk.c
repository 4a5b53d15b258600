/*
 * The simulated disk of one node: hard state, log and snapshot, in two
 * views. "cur" is what has been written (the page cache): every operation
 * of an update lands there at once. "dur" is what survived an fsync.
 * Operations queue up in batches, one batch per update, and an fsync makes
 * a prefix of the batches durable, in order (the contract: persists of
 * successive updates become durable in order). A crash keeps dur, plus, if
 * the seed allows torn writes, a random prefix of the unsynced operations
 * (the last one maybe cut inside its entries, as a real log's torn tail).
 *
 * Invariants: in both views the log is contiguous, log.first <= snapshot
 * index + 1 (compaction never passes the snapshot), and applying the same
 * operations in the same order to both views gives the same result.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

struct payload *payload_new(const void *data, uint32_t len)
{
	struct payload *p = xrealloc(NULL, sizeof(*p) + len);
	p->refs = 1;
	p->len = len;
	if (len)
		memcpy(p->data, data, len);
	return p;
}

void payload_unref(struct payload *p)
{
	if (p && --p->refs == 0)
		free(p);
}

struct blob *blob_new(const struct rc_snapshot_meta *meta, const void *data, size_t len)
{
	struct blob *b = xrealloc(NULL, sizeof(*b));
	b->refs = 1;
	b->meta = *meta;
	b->len = len;
	b->data = xrealloc(NULL, len);
	if (len)
		memcpy(b->data, data, len);
	return b;
}

struct blob *blob_ref(struct blob *b)
{
	if (b)
		b->refs++;
	return b;
}

void blob_unref(struct blob *b)
{
	if (b && --b->refs == 0) {
		free(b->data);
		free(b);
	}
}

/* ---- the log ---- */

rc_index dlog_last(const struct dlog *l)
{
	return l->first + l->n - 1;
}

const struct sentry *dlog_at(const struct dlog *l, rc_index i)
{
	if (i < l->first || i - l->first >= l->n)
		return NULL;
	return &l->e[i - l->first];
}

static void dlog_drop_from(struct dlog *l, size_t k)
{
	for (size_t i = k; i < l->n; i++)
		payload_unref(l->e[i].p);
	l->n = k;
}

static void dlog_reset(struct dlog *l, rc_index after)
{
	dlog_drop_from(l, 0);
	l->first = after + 1;
}

static void dlog_append(struct dlog *l, const struct sentry *e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
	}
	l->e[l->n++] = *e;
	e->p->refs++;
}

static void dlog_compact(struct dlog *l, rc_index upto)
{
	if (upto < l->first)
		return;
	if (upto >= dlog_last(l)) {
		dlog_reset(l, upto);
		return;
	}
	size_t k = (size_t)(upto - l->first + 1);
	for (size_t i = 0; i < k; i++)
		payload_unref(l->e[i].p);
	memmove(l->e, l->e + k, (l->n - k) * sizeof(*l->e));
	l->n -= k;
	l->first = upto + 1;
}

static void dstate_free(struct dstate *s)
{
	dlog_drop_from(&s->log, 0);
	free(s->log.e);
	blob_unref(s->snap);
	memset(s, 0, sizeof(*s));
}

static void dstate_copy(struct dstate *dst, const struct dstate *src)
{
	dstate_free(dst);
	dst->hs = src->hs;
	dst->snap = blob_ref(src->snap);
	dst->log.first = src->log.first;
	for (size_t i = 0; i < src->log.n; i++)
		dlog_append(&dst->log, &src->log.e[i]);
}

bool dstate_term(const struct dstate *s, rc_index i, rc_term *term)
{
	const struct sentry *e = dlog_at(&s->log, i);
	if (e) {
		*term = e->term;
		return true;
	}
	if (i == s->snap->meta.index) {
		*term = s->snap->meta.term;
		return true;
	}
	return false;
}

bool dstate_covers(const struct dstate *s, rc_index i, rc_term t)
{
	if (i <= s->snap->meta.index)
		return true;
	const struct sentry *e = dlog_at(&s->log, i);
	return e && e->term == t;
}

/* ---- operations ---- */

static const char *apply_op(struct dstate *s, const struct op *o)
{
	switch (o->kind) {
	case OP_HS:
		s->hs = o->hs;
		return NULL;
	case OP_ENTRIES:
		if (o->trunc) {
			if (o->trunc <= s->snap->meta.index || o->trunc < s->log.first)
				return "truncation at or below the snapshot";
			if (o->trunc <= dlog_last(&s->log))
				dlog_drop_from(&s->log, (size_t)(o->trunc - s->log.first));
		}
		for (size_t i = 0; i < o->n; i++) {
			if (o->ents[i].index != dlog_last(&s->log) + 1)
				return "appended entries do not follow the log";
			dlog_append(&s->log, &o->ents[i]);
		}
		return NULL;
	case OP_SNAP_SAVE:
		if (o->snap->meta.index > s->snap->meta.index) {
			blob_unref(s->snap);
			s->snap = blob_ref(o->snap);
		}
		return NULL;
	case OP_SNAP_INSTALL: {
		/* Raft Figure 13, InstallSnapshot step 6: if the log holds the
		 * snapshot's last entry, the entries after it are kept; else the
		 * whole log goes. (node.c aligns the disk with what the Replica
		 * then really keeps.) */
		const struct sentry *e = dlog_at(&s->log, o->snap->meta.index);
		bool keep = e && e->term == o->snap->meta.term;
		blob_unref(s->snap);
		s->snap = blob_ref(o->snap);
		if (keep)
			dlog_compact(&s->log, o->snap->meta.index);
		else
			dlog_reset(&s->log, o->snap->meta.index);
		return NULL;
	}
	case OP_COMPACT:
		if (o->upto > s->snap->meta.index)
			return "compaction beyond the snapshot";
		dlog_compact(&s->log, o->upto);
		return NULL;
	}
	return "unknown disk operation";
}

static void op_free(struct op *o)
{
	for (size_t i = 0; i < o->n; i++)
		payload_unref(o->ents[i].p);
	free(o->ents);
	blob_unref(o->snap);
}

void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n_ops; i++)
		op_free(&b->ops[i]);
	free(b->ops);
	for (size_t i = 0; i < b->n_after; i++)
		smsg_unref(b->after[i]);
	free(b->after);
	blob_unref(b->installed);
	blob_unref(b->taken);
	memset(b, 0, sizeof(*b));
}

static struct op *add_op(struct batch *b, uint8_t kind)
{
	if (b->n_ops == b->cap_ops) {
		b->cap_ops = b->cap_ops ? 2 * b->cap_ops : 4;
		b->ops = xrealloc(b->ops, b->cap_ops * sizeof(*b->ops));
	}
	struct op *o = &b->ops[b->n_ops++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	return o;
}

struct batch *disk_batch(struct disk *d)
{
	if (d->n_q == d->cap_q) {
		d->cap_q = d->cap_q ? 2 * d->cap_q : 16;
		d->q = xrealloc(d->q, d->cap_q * sizeof(*d->q));
	}
	struct batch *b = &d->q[d->n_q++];
	memset(b, 0, sizeof(*b));
	return b;
}

void disk_batch_done(struct disk *d)
{
	struct batch *b = &d->q[d->n_q - 1];
	if (!b->n_ops && !b->n_after && !b->persisted && !b->installed && !b->taken) {
		batch_free(b);
		d->n_q--;
	}
}

const char *disk_hs(struct disk *d, struct batch *b, const struct rc_hard_state *hs)
{
	struct op *o = add_op(b, OP_HS);
	o->hs = *hs;
	return apply_op(&d->cur, o);
}

const char *disk_entries(struct disk *d, struct batch *b, rc_index trunc, const struct rc_entry *e,
			 size_t n)
{
	struct op *o = add_op(b, OP_ENTRIES);
	o->trunc = trunc;
	o->ents = xrealloc(NULL, n * sizeof(*o->ents));
	for (size_t i = 0; i < n; i++) {
		o->ents[i] = (struct sentry){.term = e[i].term,
					     .index = e[i].index,
					     .type = e[i].type,
					     .p = payload_new(e[i].data, e[i].len)};
		o->n++;
	}
	return apply_op(&d->cur, o);
}

const char *disk_snap(struct disk *d, struct batch *b, uint8_t kind, struct blob *snap)
{
	struct op *o = add_op(b, kind);
	o->snap = blob_ref(snap);
	return apply_op(&d->cur, o);
}

const char *disk_compact(struct disk *d, struct batch *b, rc_index upto)
{
	struct op *o = add_op(b, OP_COMPACT);
	o->upto = upto;
	return apply_op(&d->cur, o);
}

const char *disk_chunk(struct disk *d, const struct rc_snapshot_chunk *c, struct blob **done)
{
	*done = NULL;
	if (c->offset == 0) {
		d->in_meta = c->meta;
		d->in_len = 0;
	} else if (d->in_meta.index != c->meta.index || d->in_meta.term != c->meta.term ||
		   d->in_len != c->offset) {
		return "snapshot chunk out of order";
	}
	if (c->len && !c->data)
		return "snapshot chunk without data";
	if (d->in_len + c->len > d->in_cap) {
		d->in_cap = 2 * (d->in_len + c->len);
		d->in_buf = xrealloc(d->in_buf, d->in_cap);
	}
	if (c->len)
		memcpy(d->in_buf + d->in_len, c->data, c->len);
	d->in_len += c->len;
	if (!c->last)
		return NULL;
	if (d->in_len != c->meta.size)
		return "last snapshot chunk but the size does not add up";
	*done = blob_new(&d->in_meta, d->in_buf, d->in_len);
	d->in_len = 0;
	return NULL;
}

const char *disk_sync_one(struct disk *d, struct batch *out)
{
	const char *err = NULL;
	for (size_t k = 0; k < d->q[0].n_ops; k++) {
		const char *e = apply_op(&d->dur, &d->q[0].ops[k]);
		if (e && !err)
			err = e;
	}
	*out = d->q[0];
	memmove(d->q, d->q + 1, (d->n_q - 1) * sizeof(*d->q));
	d->n_q--;
	return err;
}

size_t disk_crash(struct disk *d, struct rng *rng, bool torn)
{
	size_t total = 0;
	for (size_t i = 0; i < d->n_q; i++)
		total += d->q[i].n_ops;
	size_t keep = torn ? (size_t)rng_below(rng, total + 1) : 0;
	size_t k = 0;
	for (size_t i = 0; i < d->n_q && k < keep; i++) {
		for (size_t j = 0; j < d->q[i].n_ops && k < keep; j++, k++) {
			struct op o = d->q[i].ops[j];
			if (k + 1 == keep && o.kind == OP_ENTRIES && o.n > 1 && rng_coin(rng))
				o.n = (size_t)rng_below(rng, o.n); /* torn tail */
			apply_op(&d->dur, &o);
		}
	}
	for (size_t i = 0; i < d->n_q; i++)
		batch_free(&d->q[i]);
	d->n_q = 0;
	d->fsync_inflight = false;
	d->fsync_covers = 0;
	d->in_len = 0;
	dstate_copy(&d->cur, &d->dur);
	return total - keep;
}

const char *disk_boot(const struct disk *d, struct rc_boot *boot, struct rc_entry **ents)
{
	const struct dstate *s = &d->dur;
	rc_index si = s->snap->meta.index;
	if (s->log.first > si + 1)
		return "durable log has a gap after the snapshot";
	rc_index last = dlog_last(&s->log);
	size_t n = last > si ? (size_t)(last - si) : 0;
	struct rc_entry *e = xrealloc(NULL, n * sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		const struct sentry *se = dlog_at(&s->log, si + 1 + i);
		e[i] = (struct rc_entry){.term = se->term,
					 .index = se->index,
					 .type = se->type,
					 .len = se->p->len,
					 .data = se->p->data};
	}
	*boot = (struct rc_boot){.hard_state = s->hs,
				 .snapshot = s->snap->meta,
				 .entries = e,
				 .n_entries = n,
				 .applied = si};
	*ents = e;
	return NULL;
}

void disk_init(struct disk *d, const struct rc_membership *m)
{
	memset(d, 0, sizeof(*d));
	struct rc_snapshot_meta meta = {0};
	if (m)
		meta.membership = *m;
	struct blob *b = blob_new(&meta, NULL, 0);
	d->cur.snap = blob_ref(b);
	d->dur.snap = b;
	d->cur.log.first = 1;
	d->dur.log.first = 1;
}

void disk_free(struct disk *d)
{
	for (size_t i = 0; i < d->n_q; i++)
		batch_free(&d->q[i]);
	free(d->q);
	dstate_free(&d->cur);
	dstate_free(&d->dur);
	free(d->in_buf);
	memset(d, 0, sizeof(*d));
}
