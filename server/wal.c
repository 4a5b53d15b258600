/*
 * wal: recovery at open, the in-memory index, and reads (see wal.h for the
 * on-disk invariants, wal_impl.h for the structures).
 *
 * Recovery reads each segment whole, checks its header and every record
 * (checksum, contiguous index, non-decreasing term) and rebuilds the index.
 * Where the records stop early:
 *   - in a segment other than the last: corruption, unless only zeros
 *     follow (the unused, preallocated end of a segment that rolled);
 *   - in the last segment: a torn tail from a crash, which is truncated
 *     and reported, unless a valid record further on carries a hint saying
 *     the bad spot had been made durable: then it is corruption.
 * Corruption fails the open with the file and offset; nothing is skipped.
 */
#include "wal_impl.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_le.h"

#define MAX_SEGMENT_BYTES (1ull << 30)

int wal_seg_path(const struct wal *w, uint64_t seq, int tmp, char *buf)
{
	char name[WAL_NAME_MAX];
	wal_seg_name(name, seq, tmp);
	return datadir_join(w->cfg.dir, name, buf);
}

void wal_seg_unref(struct wal *w, struct wal_seg *s)
{
	assert(s->refs > 0);
	if (--s->refs > 0)
		return;
	if (s->fd >= 0)
		w->io->close(s->fd);
	free(s);
}

void wal_op_free(struct wal *w, struct wal_op *op)
{
	if (op->seg != NULL)
		wal_seg_unref(w, op->seg);
	if (op->prev != NULL)
		wal_seg_unref(w, op->prev);
	free(op->buf);
	free(op);
}

/* ---- recovery ---- */

static int cmp_seq(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/*
 * Looks past a bad spot at off in the last segment for a valid record
 * whose hint says off was already durable when it was staged. Returns that
 * record's offset, or 0. Records are 8-byte aligned, so every aligned
 * offset is tried.
 */
static size_t synced_beyond(const uint8_t *buf, size_t size, size_t off)
{
	struct wal_rec r;
	for (size_t o = (off + 8) & ~(size_t)7; o + WAL_REC_HEADER <= size; o += 8) {
		if (wal_rec_decode(buf + o, size - o, &r) != WAL_REC_OK)
			continue;
		if (r.hint > off && r.hint <= o)
			return o;
	}
	return 0;
}

int wal_ents_reserve(struct wal *w, size_t more)
{
	size_t need = w->ents_start + w->ents_len + more;
	struct wal_ent *n;
	size_t cap;

	if (need <= w->ents_cap)
		return 0;
	if (w->ents_start > 0 && w->ents_len + more <= w->ents_cap / 2 + 1) {
		memmove(w->ents, w->ents + w->ents_start, w->ents_len * sizeof(*w->ents));
		w->ents_start = 0;
		if (w->ents_len + more <= w->ents_cap)
			return 0;
	}
	cap = w->ents_cap ? w->ents_cap : 1024;
	while (cap < need)
		cap *= 2;
	n = realloc(w->ents, cap * sizeof(*n));
	if (n == NULL)
		return -STORAGE_ENOMEM;
	w->ents = n;
	w->ents_cap = cap;
	return 0;
}

static int segs_push(struct wal *w, struct wal_seg *s)
{
	if (w->nsegs == w->segs_cap) {
		size_t cap = w->segs_cap ? w->segs_cap * 2 : 8;
		struct wal_seg **n = realloc(w->segs, cap * sizeof(*n));
		if (n == NULL)
			return -STORAGE_ENOMEM;
		w->segs = n;
		w->segs_cap = cap;
	}
	w->segs[w->nsegs++] = s;
	return 0;
}

/* Deletes the file of segs[i] durably and drops it from the array. */
static int drop_seg(struct wal *w, size_t i, char *errmsg)
{
	struct wal_seg *s = w->segs[i];
	char path[DATADIR_PATH_MAX];

	wal_seg_path(w, s->seq, 0, path);
	if (w->io->unlink(path) != 0 && errno != ENOENT) {
		storage_errf(errmsg, "unlink %s: %s", path, strerror(errno));
		return -STORAGE_EIO;
	}
	memmove(w->segs + i, w->segs + i + 1, (w->nsegs - i - 1) * sizeof(*w->segs));
	w->nsegs--;
	wal_seg_unref(w, s);
	return datadir_sync(w->cfg.dir, errmsg);
}

/* Reads one segment and appends its entries to the index. */
static int scan_seg(struct wal *w, uint64_t seq, bool last, uint8_t **buf, size_t *bufcap,
		    rc_term *prev_term, char *errmsg)
{
	char path[DATADIR_PATH_MAX];
	struct wal_seg *s;
	struct wal_rec r;
	enum wal_rec_status st = WAL_REC_OK;
	off_t fsize;
	size_t size, off;
	ssize_t got;
	int rv;

	wal_seg_path(w, seq, 0, path);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -STORAGE_ENOMEM;
	s->seq = seq;
	s->refs = 1;
	s->hint_cap = UINT32_MAX;
	s->fd = w->io->open(path, O_RDWR, 0);
	if (s->fd < 0) {
		storage_errf(errmsg, "open %s: %s", path, strerror(errno));
		rv = -STORAGE_EIO;
		goto err;
	}
	if (w->io->filesize(s->fd, &fsize) != 0) {
		storage_errf(errmsg, "stat %s: %s", path, strerror(errno));
		rv = -STORAGE_EIO;
		goto err_close;
	}
	size = (size_t)fsize;
	if (size > MAX_SEGMENT_BYTES + RC_MAX_ENTRY_BYTES + 4096) {
		storage_errf(errmsg, "%s: %zu bytes, larger than any segment", path, size);
		rv = -STORAGE_ECORRUPT;
		goto err_close;
	}
	if (size > *bufcap) {
		uint8_t *n = realloc(*buf, size);
		if (n == NULL) {
			rv = -STORAGE_ENOMEM;
			goto err_close;
		}
		*buf = n;
		*bufcap = size;
	}
	got = sysio_read_all(w->io, s->fd, *buf, size, 0);
	if (got < 0 || (size_t)got != size) {
		storage_errf(errmsg, "read %s: %s", path,
			     got < 0 ? strerror((int)-got) : "short read");
		rv = -STORAGE_EIO;
		goto err_close;
	}
	if (wal_seg_header_check(*buf, size, seq) != 0) {
		storage_errf(errmsg, "%s: bad segment header at offset 0", path);
		rv = -STORAGE_ECORRUPT;
		goto err_close;
	}
	for (off = WAL_SEG_HEADER; off < size;) {
		rc_index expect = w->ents_len ? wal_last(w) + 1 : 0;
		st = wal_rec_decode(*buf + off, size - off, &r);
		if (st != WAL_REC_OK)
			break;
		if ((expect != 0 && r.index != expect) || r.term < *prev_term || r.hint > off) {
			storage_errf(errmsg,
				     "%s: record at offset %zu is entry %" PRIu64 " term %" PRIu64
				     ", expected entry %" PRIu64 " term >= %" PRIu64
				     " (entries missing or corrupt)",
				     path, off, r.index, r.term, expect, *prev_term);
			rv = -STORAGE_ECORRUPT;
			goto err_close;
		}
		rv = wal_ents_reserve(w, 1);
		if (rv != 0)
			goto err_close;
		if (w->ents_len == 0)
			w->first = r.index;
		if (s->first == 0)
			s->first = r.index;
		w->ents[w->ents_start + w->ents_len++] =
		    (struct wal_ent){r.term, s, (uint32_t)off, r.len};
		*prev_term = r.term;
		off += wal_rec_span(r.len);
	}
	if (off < size && !all_zero(*buf + off, size - off)) {
		size_t proof = last ? synced_beyond(*buf, size, off) : 0;
		if (!last || proof != 0) {
			storage_errf(errmsg, "%s: %s record at offset %zu%s", path,
				     st == WAL_REC_ZERO ? "zeroed" : "corrupt", off,
				     proof ? " (a later record shows it had been synced)"
					   : " (in a closed segment)");
			rv = -STORAGE_ECORRUPT;
			goto err_close;
		}
		datadir_logf(w->cfg.dir, STORAGE_LOG_WARN,
			     "%s: torn tail at offset %zu, %zu bytes never made durable discarded",
			     path, off, size - off);
		if (w->io->ftruncate(s->fd, (off_t)off) != 0) {
			storage_errf(errmsg, "ftruncate %s: %s", path, strerror(errno));
			rv = -STORAGE_EIO;
			goto err_close;
		}
		if (w->io->fsync(s->fd) != 0) {
			storage_errf(errmsg, "fsync %s: %s", path, strerror(errno));
			rv = -STORAGE_EFSYNC;
			goto err_close;
		}
		if (off < w->cfg.segment_bytes) /* best effort: writes extend it anyway */
			(void)w->io->fallocate(s->fd, (off_t)off,
					       (off_t)(w->cfg.segment_bytes - off));
	}
	if (!last && s->first == 0) {
		storage_errf(errmsg, "%s: no records, yet a later segment exists", path);
		rv = -STORAGE_ECORRUPT;
		goto err_close;
	}
	s->end = s->durable = s->written = (uint32_t)off;
	rv = segs_push(w, s);
	if (rv != 0)
		goto err_close;
	return 0;

err_close:
	w->io->close(s->fd);
err:
	free(s);
	assert(rv != 0);
	return rv;
}

static int load_segments(struct wal *w, char *errmsg)
{
	char **names = NULL;
	uint64_t *seqs = NULL;
	size_t n = 0, nseqs = 0, bufcap = 0;
	uint8_t *buf = NULL;
	rc_term prev_term = 0;
	int rv;

	rv = datadir_list(w->cfg.dir, &names, &n, errmsg);
	if (rv != 0)
		return rv;
	seqs = malloc((n ? n : 1) * sizeof(*seqs));
	if (seqs == NULL) {
		rv = -STORAGE_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t seq;
		int kind = wal_seg_parse_name(names[i], &seq);
		if (kind == 1) {
			seqs[nseqs++] = seq;
		} else if (kind == 2) { /* a creation that did not finish */
			char path[DATADIR_PATH_MAX];
			datadir_join(w->cfg.dir, names[i], path);
			w->io->unlink(path);
		}
	}
	qsort(seqs, nseqs, sizeof(*seqs), cmp_seq);
	for (size_t i = 0; i + 1 < nseqs; i++) {
		if (seqs[i + 1] != seqs[i] + 1) {
			storage_errf(errmsg,
				     "%s: segment files missing between wal-%020" PRIu64
				     ".seg and wal-%020" PRIu64 ".seg",
				     w->cfg.dir->path, seqs[i], seqs[i + 1]);
			rv = -STORAGE_ECORRUPT;
			goto out;
		}
	}
	for (size_t i = 0; i < nseqs; i++) {
		rv = scan_seg(w, seqs[i], i + 1 == nseqs, &buf, &bufcap, &prev_term, errmsg);
		if (rv != 0)
			goto out;
	}
	if (nseqs > 0)
		w->next_seq = seqs[nseqs - 1] + 1;
out:
	free(buf);
	free(seqs);
	sysio_free_names(names, n);
	return rv;
}

/* Makes the log start right after the snapshot (dissertation 5.4.1:
 * entries the snapshot covers are discarded; a log that disagrees with it
 * at its index is discarded whole). */
static int reconcile(struct wal *w, rc_index si, rc_term st, char *errmsg)
{
	char path[DATADIR_PATH_MAX];
	int rv;

	if (w->ents_len > 0 && wal_last(w) > si && w->first > si + 1) {
		wal_seg_path(w, w->segs[0]->seq, 0, path);
		storage_errf(errmsg,
			     "%s: log starts at entry %" PRIu64 " but the snapshot ends at %" PRIu64
			     ": entries missing",
			     path, w->first, si);
		return -STORAGE_ECORRUPT;
	}
	if (w->ents_len > 0 && wal_last(w) > si && w->first <= si &&
	    wal_ent_at(w, si)->term != st) {
		datadir_logf(w->cfg.dir, STORAGE_LOG_WARN,
			     "log entry %" PRIu64 " has term %" PRIu64
			     " but the snapshot there has term %" PRIu64
			     ": dropping the log (an interrupted snapshot install)",
			     si, wal_ent_at(w, si)->term, st);
		w->ents_len = 0;
	}
	if (w->ents_len > 0 && wal_last(w) <= si) {
		datadir_logf(w->cfg.dir, STORAGE_LOG_INFO,
			     "log entries %" PRIu64 "..%" PRIu64
			     " are covered by the snapshot at %" PRIu64 ": removing them",
			     w->first, wal_last(w), si);
		w->ents_len = 0;
	}
	if (w->ents_len == 0) {
		while (w->nsegs > 0) {
			rv = drop_seg(w, w->nsegs - 1, errmsg);
			if (rv != 0)
				return rv;
		}
		w->first = si + 1;
		w->base_term = st;
		return 0;
	}
	/* Segments wholly covered go, oldest first; the rest stay. */
	while (w->nsegs > 1 && w->segs[1]->first != 0 && w->segs[1]->first <= si + 1) {
		rv = drop_seg(w, 0, errmsg);
		if (rv != 0)
			return rv;
	}
	if (w->first <= si) {
		w->ents_start += (size_t)(si + 1 - w->first);
		w->ents_len -= (size_t)(si + 1 - w->first);
		w->first = si + 1;
	}
	w->base_term = st;
	return 0;
}

int wal_open(const struct wal_config *cfg, rc_index snap_index, rc_term snap_term, struct wal **out,
	     char *errmsg)
{
	struct wal *w;
	int rv;

	if (cfg->segment_bytes < 4096 || cfg->segment_bytes > MAX_SEGMENT_BYTES) {
		storage_errf(errmsg, "segment size %" PRIu64 " out of range", cfg->segment_bytes);
		return -STORAGE_EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -STORAGE_ENOMEM;
	w->cfg = *cfg;
	w->io = cfg->dir->io;
	w->first = 1;
	w->next_seq = 1;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		rv = -STORAGE_ENOMEM;
		goto err_free;
	}
	rv = load_segments(w, errmsg);
	if (rv != 0)
		goto err_segs;
	rv = reconcile(w, snap_index, snap_term, errmsg);
	if (rv != 0)
		goto err_segs;
	/* What recovery read may exist only in the page cache (the previous
	 * process was killed): make it durable before anyone relies on it. */
	if (w->nsegs > 0 && w->io->fdatasync(w->segs[w->nsegs - 1]->fd) != 0) {
		storage_errf(errmsg, "fdatasync of the last segment: %s", strerror(errno));
		rv = -STORAGE_EFSYNC;
		goto err_segs;
	}
	*out = w;
	return 0;

err_segs:
	for (size_t i = 0; i < w->nsegs; i++)
		wal_seg_unref(w, w->segs[i]);
	free(w->segs);
	free(w->ents);
	pthread_mutex_destroy(&w->mu);
err_free:
	free(w);
	assert(rv != 0);
	return rv;
}

void wal_close(struct wal *w)
{
	struct wal_op *op, *next;

	if (w == NULL)
		return;
	for (op = w->f_head; op != NULL; op = next) {
		next = op->next;
		wal_op_free(w, op);
	}
	for (op = w->q_head; op != NULL; op = next) {
		next = op->next;
		wal_op_free(w, op);
	}
	for (size_t i = 0; i < w->ndirty; i++)
		wal_seg_unref(w, w->dirty[i]);
	free(w->dirty);
	for (size_t i = 0; i < w->nsegs; i++)
		wal_seg_unref(w, w->segs[i]);
	free(w->segs);
	free(w->ents);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

/* ---- queries and reads ---- */

rc_index wal_first_index(struct wal *w)
{
	rc_index v;
	pthread_mutex_lock(&w->mu);
	v = w->first;
	pthread_mutex_unlock(&w->mu);
	return v;
}

rc_index wal_last_index(struct wal *w)
{
	rc_index v;
	pthread_mutex_lock(&w->mu);
	v = wal_last(w);
	pthread_mutex_unlock(&w->mu);
	return v;
}

int wal_term(struct wal *w, rc_index index, rc_term *term)
{
	int rv = 0;
	pthread_mutex_lock(&w->mu);
	if (index + 1 == w->first)
		*term = w->base_term;
	else if (index >= w->first && index <= wal_last(w))
		*term = wal_ent_at(w, index)->term;
	else
		rv = -STORAGE_ENOTFOUND;
	pthread_mutex_unlock(&w->mu);
	return rv;
}

/* The staged bytes of e's record when they are not yet written, else
 * NULL (mu held). The newest op covering the spot wins. */
static const uint8_t *staged_record(struct wal *w, const struct wal_ent *e)
{
	const uint8_t *found = NULL;
	struct wal_op *lists[2] = {w->f_head, w->q_head};
	for (int l = 0; l < 2; l++)
		for (struct wal_op *op = lists[l]; op != NULL; op = op->next)
			if (op->kind == WAL_OP_APPEND && op->seg == e->seg && e->off >= op->off &&
			    e->off < op->off + op->len)
				found = op->buf + (e->off - op->off);
	return found;
}

#define READ_WINDOW (8u << 20)

int wal_entries(struct wal *w, rc_index from, rc_index to, struct rc_entry **out, size_t *n,
		char *errmsg)
{
	struct rc_entry *ents = NULL;
	uint8_t *win = NULL, *data;
	const struct wal_seg *win_seg = NULL;
	uint32_t win_off = 0, win_len = 0;
	size_t count, bytes = 0;
	int rv = 0;

	pthread_mutex_lock(&w->mu);
	if (from > to || from < w->first || to > wal_last(w)) {
		rv = -STORAGE_ENOTFOUND;
		goto out;
	}
	count = (size_t)(to - from + 1);
	for (rc_index i = from; i <= to; i++)
		bytes += wal_ent_at(w, i)->len;
	ents = malloc(count * sizeof(*ents) + bytes + 1);
	if (ents == NULL) {
		rv = -STORAGE_ENOMEM;
		goto out;
	}
	data = (uint8_t *)(ents + count);
	for (rc_index i = from; i <= to; i++) {
		const struct wal_ent *e = wal_ent_at(w, i);
		uint32_t span = wal_rec_span(e->len);
		const uint8_t *rec = staged_record(w, e);
		struct wal_rec r;

		if (rec == NULL) {
			if (e->seg != win_seg || e->off < win_off ||
			    e->off + span > win_off + win_len) {
				const struct wal_ent *last = wal_ent_at(w, to);
				uint32_t stop = last->seg == e->seg
						    ? last->off + wal_rec_span(last->len)
						    : e->seg->end;
				uint32_t want = span > READ_WINDOW ? span : READ_WINDOW;
				ssize_t got;
				if (want > stop - e->off)
					want = stop - e->off;
				if (win == NULL || want > READ_WINDOW) {
					uint8_t *nw =
					    realloc(win, want > READ_WINDOW ? want : READ_WINDOW);
					if (nw == NULL) {
						rv = -STORAGE_ENOMEM;
						goto out;
					}
					win = nw;
				}
				got = sysio_read_all(w->io, e->seg->fd, win, want, e->off);
				if (got < (ssize_t)span) {
					storage_errf(errmsg,
						     "read wal-%020" PRIu64 ".seg at offset %u: %s",
						     e->seg->seq, e->off,
						     got < 0 ? strerror((int)-got) : "short read");
					rv = -STORAGE_EIO;
					goto out;
				}
				win_seg = e->seg;
				win_off = e->off;
				win_len = (uint32_t)got;
			}
			rec = win + (e->off - win_off);
		}
		if (wal_rec_decode(rec, span, &r) != WAL_REC_OK || r.index != i ||
		    r.term != e->term || r.len != e->len) {
			storage_errf(errmsg,
				     "wal-%020" PRIu64 ".seg: record of entry %" PRIu64
				     " at offset %u is corrupt",
				     e->seg->seq, i, e->off);
			rv = -STORAGE_ECORRUPT;
			goto out;
		}
		memcpy(data, r.data, r.len);
		ents[i - from] = (struct rc_entry){r.term, r.index, r.type, r.len, data};
		data += r.len;
	}
	*out = ents;
	*n = count;
	ents = NULL;
out:
	pthread_mutex_unlock(&w->mu);
	free(win);
	free(ents);
	return rv;
}
