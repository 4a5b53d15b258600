/*
 * wal_stage: the owner thread's side of the log. Every call updates the
 * logical log (index, segments) at once and queues the disk work for the
 * syncer as ops, in order. Calls are all or nothing: everything that can
 * fail (allocation, validation) happens before the first change.
 *
 * Rolling: a record goes to a new segment when it would cross
 * segment_bytes in a segment that already holds a record (so one entry
 * larger than a segment still fits, alone).
 *
 * Hints: a record's hint is min(seg->durable, seg->hint_cap). A staged
 * truncation lowers hint_cap to its offset for good, so no hint ever claims
 * durability for bytes a truncation will rewrite.
 */
#include "wal_impl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void enqueue(struct wal *w, struct wal_op *op)
{
	op->next = NULL;
	if (w->q_tail != NULL)
		w->q_tail->next = op;
	else
		w->q_head = op;
	w->q_tail = op;
}

/* One run of entries going to one segment. */
struct chunk {
	struct wal_seg *seg; /* NULL: a new segment (fresh below) */
	struct wal_seg *fresh;
	struct wal_op *newseg;
	struct wal_op *app; /* NULL: appended to the queue's tail op */
	size_t from, count;
	size_t bytes;
};

static int check_entries(struct wal *w, const struct rc_entry *es, size_t n, char *errmsg)
{
	rc_term prev = w->ents_len ? wal_ent_at(w, wal_last(w))->term : w->base_term;
	for (size_t i = 0; i < n; i++) {
		if (es[i].index != wal_last(w) + 1 + i || es[i].term < prev ||
		    es[i].len > RC_MAX_ENTRY_BYTES || (es[i].len > 0 && es[i].data == NULL)) {
			storage_errf(errmsg,
				     "append: entry %zu (index %" PRIu64 " term %" PRIu64
				     ") does not follow index %" PRIu64 " term %" PRIu64,
				     i, es[i].index, es[i].term, wal_last(w) + i, prev);
			return -STORAGE_EINVAL;
		}
		prev = es[i].term;
	}
	return 0;
}

static void free_plan(struct chunk *c, size_t nc)
{
	for (size_t i = 0; i < nc; i++) {
		free(c[i].fresh);
		free(c[i].newseg);
		if (c[i].app != NULL)
			free(c[i].app->buf);
		free(c[i].app);
	}
	free(c);
}

/* Splits es over segments and allocates everything needed. */
static int plan(struct wal *w, const struct rc_entry *es, size_t n, struct chunk **out,
		size_t *nout)
{
	struct wal_seg *cur = w->nsegs ? w->segs[w->nsegs - 1] : NULL;
	uint64_t end = cur ? cur->end : 0;
	int has_records = cur != NULL && cur->first != 0;
	struct chunk *c = calloc(n + 1, sizeof(*c));
	size_t nc = 0, nfresh = 0;

	if (c == NULL)
		return -STORAGE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t span = wal_rec_span(es[i].len);
		if (cur == NULL || (has_records && end + span > w->cfg.segment_bytes)) {
			c[nc].fresh = calloc(1, sizeof(struct wal_seg));
			c[nc].newseg = calloc(1, sizeof(struct wal_op));
			if (c[nc].fresh == NULL || c[nc].newseg == NULL)
				goto nomem;
			c[nc++].from = i;
			nfresh++;
			cur = c[nc - 1].fresh;
			end = WAL_SEG_HEADER;
			has_records = 0;
		} else if (nc == 0) {
			c[nc].seg = cur;
			c[nc++].from = i;
		}
		c[nc - 1].count++;
		c[nc - 1].bytes += span;
		end += span;
		has_records = 1;
	}
	for (size_t k = 0; k < nc; k++) {
		struct wal_op *tail = w->q_tail;
		if (k == 0 && c[k].seg != NULL && tail != NULL && tail->kind == WAL_OP_APPEND &&
		    tail->seg == c[k].seg && tail->off + tail->len == c[k].seg->end) {
			if (tail->len + c[k].bytes > tail->cap) {
				size_t cap = tail->cap * 2;
				uint8_t *nb;
				if (cap < tail->len + c[k].bytes)
					cap = tail->len + c[k].bytes;
				nb = realloc(tail->buf, cap);
				if (nb == NULL)
					goto nomem;
				tail->buf = nb;
				tail->cap = cap;
			}
			continue;
		}
		c[k].app = calloc(1, sizeof(struct wal_op));
		if (c[k].app == NULL)
			goto nomem;
		c[k].app->cap = c[k].bytes < 4096 ? 4096 : c[k].bytes;
		c[k].app->buf = malloc(c[k].app->cap);
		if (c[k].app->buf == NULL)
			goto nomem;
	}
	if (w->nsegs + nfresh > w->segs_cap) {
		size_t cap = w->segs_cap ? w->segs_cap : 8;
		struct wal_seg **ns;
		while (cap < w->nsegs + nfresh)
			cap *= 2;
		ns = realloc(w->segs, cap * sizeof(*ns));
		if (ns == NULL)
			goto nomem;
		w->segs = ns;
		w->segs_cap = cap;
	}
	if (wal_ents_reserve(w, n) != 0)
		goto nomem;
	*out = c;
	*nout = nc;
	return 0;

nomem:
	free_plan(c, nc + 1);
	return -STORAGE_ENOMEM;
}

int wal_append(struct wal *w, const struct rc_entry *es, size_t n, char *errmsg)
{
	struct chunk *c = NULL;
	size_t nc = 0, total = 0;
	int rv;

	pthread_mutex_lock(&w->mu);
	rv = w->failed ? -STORAGE_EFAILED : 0;
	if (rv != 0 || n == 0)
		goto out;
	rv = check_entries(w, es, n, errmsg);
	if (rv != 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		total += wal_rec_span(es[i].len);
	if (w->staged_bytes + total > w->cfg.max_staged_bytes && w->staged_bytes > 0) {
		storage_errf(errmsg, "append: %" PRIu64 " bytes already staged", w->staged_bytes);
		rv = -STORAGE_EBUSY;
		goto out;
	}
	rv = plan(w, es, n, &c, &nc);
	if (rv != 0)
		goto out;
	for (size_t k = 0; k < nc; k++) {
		struct wal_seg *s = c[k].seg;
		struct wal_op *app = c[k].app ? c[k].app : w->q_tail;
		uint32_t hint;
		if (s == NULL) {
			struct wal_op *op = c[k].newseg;
			s = c[k].fresh;
			s->seq = w->next_seq++;
			s->fd = -1;
			s->refs = 2; /* the array and the NEWSEG op */
			s->end = WAL_SEG_HEADER;
			s->hint_cap = UINT32_MAX;
			op->kind = WAL_OP_NEWSEG;
			op->seg = s;
			op->prev = w->nsegs ? w->segs[w->nsegs - 1] : NULL;
			if (op->prev != NULL)
				op->prev->refs++;
			enqueue(w, op);
			w->segs[w->nsegs++] = s;
			c[k].fresh = NULL;
			c[k].newseg = NULL;
		}
		if (c[k].app != NULL) {
			app->kind = WAL_OP_APPEND;
			app->seg = s;
			s->refs++;
			app->off = s->end;
			enqueue(w, app);
			c[k].app = NULL;
		}
		hint = s->durable < s->hint_cap ? s->durable : s->hint_cap;
		if (s->first == 0)
			s->first = es[c[k].from].index;
		for (size_t i = c[k].from; i < c[k].from + c[k].count; i++) {
			uint32_t span = wal_rec_span(es[i].len);
			wal_rec_encode(app->buf + app->len, &es[i], hint);
			w->ents[w->ents_start + w->ents_len++] =
			    (struct wal_ent){es[i].term, s, s->end, es[i].len};
			app->len += span;
			s->end += span;
		}
	}
	w->staged_bytes += total;
	free(c);
out:
	pthread_mutex_unlock(&w->mu);
	return rv;
}

static struct wal_op **alloc_ops(size_t n)
{
	struct wal_op **ops = calloc(n ? n : 1, sizeof(*ops));
	if (ops == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		ops[i] = calloc(1, sizeof(**ops));
		if (ops[i] == NULL) {
			for (size_t j = 0; j < i; j++)
				free(ops[j]);
			free(ops);
			return NULL;
		}
	}
	return ops;
}

/* Queues the removal of segs[i]; the op takes over the array's reference. */
static void queue_remove(struct wal *w, struct wal_op *op, size_t i)
{
	op->kind = WAL_OP_REMOVE;
	op->seg = w->segs[i];
	enqueue(w, op);
}

int wal_truncate(struct wal *w, rc_index from, char *errmsg)
{
	struct wal_op **ops;
	struct wal_ent *e;
	size_t k, nops;
	int rv = 0;

	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		rv = -STORAGE_EFAILED;
		goto out;
	}
	if (from == wal_last(w) + 1)
		goto out;
	if (from < w->first || from > wal_last(w) + 1) {
		storage_errf(errmsg,
			     "truncate from %" PRIu64 ": the log holds %" PRIu64 "..%" PRIu64, from,
			     w->first, wal_last(w));
		rv = -STORAGE_EINVAL;
		goto out;
	}
	e = wal_ent_at(w, from);
	for (k = w->nsegs - 1; w->segs[k] != e->seg; k--)
		;
	nops = w->nsegs - k;
	ops = alloc_ops(nops);
	if (ops == NULL) {
		rv = -STORAGE_ENOMEM;
		goto out;
	}
	for (size_t j = w->nsegs - 1, o = 0; j > k; j--, o++)
		queue_remove(w, ops[o], j);
	w->nsegs = k + 1;
	/* Sequence numbers stay contiguous: the next segment reuses the first
	 * removed one's number (its removal runs before the new creation). */
	w->next_seq = e->seg->seq + 1;
	ops[nops - 1]->kind = WAL_OP_TRUNC;
	ops[nops - 1]->seg = e->seg;
	ops[nops - 1]->off = e->off;
	e->seg->refs++;
	enqueue(w, ops[nops - 1]);
	free(ops);
	e->seg->end = e->off;
	if (e->off < e->seg->hint_cap)
		e->seg->hint_cap = e->off;
	if (e->off == WAL_SEG_HEADER)
		e->seg->first = 0;
	w->ents_len = (size_t)(from - w->first);
out:
	pthread_mutex_unlock(&w->mu);
	return rv;
}

int wal_compact(struct wal *w, rc_index upto, char *errmsg)
{
	struct wal_op **ops;
	size_t drop = 0;
	int rv = 0;

	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		rv = -STORAGE_EFAILED;
		goto out;
	}
	if (upto < w->first)
		goto out;
	if (upto > wal_last(w)) {
		storage_errf(errmsg, "compact to %" PRIu64 ": the log ends at %" PRIu64, upto,
			     wal_last(w));
		rv = -STORAGE_EINVAL;
		goto out;
	}
	while (drop + 1 < w->nsegs && w->segs[drop + 1]->first != 0 &&
	       w->segs[drop + 1]->first <= upto + 1)
		drop++;
	ops = alloc_ops(drop);
	if (ops == NULL) {
		rv = -STORAGE_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < drop; i++)
		queue_remove(w, ops[i], i);
	free(ops);
	memmove(w->segs, w->segs + drop, (w->nsegs - drop) * sizeof(*w->segs));
	w->nsegs -= drop;
	w->base_term = wal_ent_at(w, upto)->term;
	w->ents_start += (size_t)(upto + 1 - w->first);
	w->ents_len -= (size_t)(upto + 1 - w->first);
	w->first = upto + 1;
out:
	pthread_mutex_unlock(&w->mu);
	return rv;
}

int wal_reset(struct wal *w, rc_index index, rc_term term, char *errmsg)
{
	struct wal_op **ops;
	int rv = 0;

	(void)errmsg;
	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		rv = -STORAGE_EFAILED;
		goto out;
	}
	ops = alloc_ops(w->nsegs);
	if (ops == NULL) {
		rv = -STORAGE_ENOMEM;
		goto out;
	}
	for (size_t j = w->nsegs, o = 0; j > 0; j--, o++)
		queue_remove(w, ops[o], j - 1);
	free(ops);
	w->nsegs = 0;
	w->ents_start = 0;
	w->ents_len = 0;
	w->first = index + 1;
	w->base_term = term;
out:
	pthread_mutex_unlock(&w->mu);
	return rv;
}
