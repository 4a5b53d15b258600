/*
 * wal_sync: the syncer. Takes every staged op, performs them in stage
 * order, then fdatasyncs each segment written, and only then reports the
 * log durable up to the last entry staged before it began.
 *
 * Failure rules:
 *   - ENOSPC (or EDQUOT) while creating a segment or writing records: the
 *     op stays first in line and nothing is reported durable; the next
 *     wal_sync retries it. A retried write rewrites the same bytes at the
 *     same offset, so a partial earlier attempt leaves nothing stale.
 *   - A failed fsync or fdatasync, or any other I/O error: fatal. The wal
 *     refuses every later call (-STORAGE_EFAILED). An fsync is never
 *     retried: after a failure the kernel may have dropped the dirty pages
 *     and a second fsync could succeed without them being on disk.
 */
#include "wal_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail_errno(const char *what, const char *path, int err, char *errmsg)
{
	storage_errf(errmsg, "%s %s: %s", what, path, strerror(err));
	return datadir_errno_code(err);
}

static int fail_fsync(const char *path, int err, char *errmsg)
{
	storage_errf(errmsg, "fsync %s: %s", path, strerror(err));
	return -STORAGE_EFSYNC;
}

/* Syncs a segment written since its last sync (closing it before a roll). */
static int sync_seg(struct wal *w, struct wal_seg *s, char *errmsg)
{
	char path[DATADIR_PATH_MAX];
	if (!s->dirty)
		return 0;
	if (w->io->fdatasync(s->fd) != 0) {
		wal_seg_path(w, s->seq, 0, path);
		return fail_fsync(path, errno, errmsg);
	}
	pthread_mutex_lock(&w->mu);
	s->durable = s->written;
	pthread_mutex_unlock(&w->mu);
	s->dirty = false;
	return 0;
}

/* A new segment appears whole or not at all: header and preallocation
 * under a temporary name, fdatasync, rename, directory fsync. */
static int do_newseg(struct wal *w, struct wal_op *op, char *errmsg)
{
	struct wal_seg *s = op->seg;
	char tmp[DATADIR_PATH_MAX], dst[DATADIR_PATH_MAX];
	uint8_t hdr[WAL_SEG_HEADER];
	int fd, rv;

	if (op->prev != NULL && op->prev->fd >= 0) {
		rv = sync_seg(w, op->prev, errmsg);
		if (rv != 0)
			return rv;
	}
	wal_seg_path(w, s->seq, 1, tmp);
	wal_seg_path(w, s->seq, 0, dst);
	fd = w->io->open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail_errno("create", tmp, errno, errmsg);
	wal_seg_header_encode(hdr, s->seq);
	rv = sysio_write_all(w->io, fd, hdr, sizeof(hdr), 0);
	if (rv != 0) {
		rv = fail_errno("write", tmp, -rv, errmsg);
		goto err_unlink;
	}
	if (w->io->fallocate(fd, 0, (off_t)w->cfg.segment_bytes) != 0) {
		rv = fail_errno("preallocate", tmp, errno, errmsg);
		goto err_unlink;
	}
	if (w->io->fdatasync(fd) != 0) {
		rv = fail_fsync(tmp, errno, errmsg);
		goto err_close;
	}
	if (w->io->rename(tmp, dst) != 0) {
		rv = fail_errno("rename", tmp, errno, errmsg);
		goto err_unlink;
	}
	rv = datadir_sync(w->cfg.dir, errmsg);
	if (rv != 0)
		goto err_close;
	pthread_mutex_lock(&w->mu);
	s->fd = fd;
	s->durable = WAL_SEG_HEADER;
	pthread_mutex_unlock(&w->mu);
	s->written = WAL_SEG_HEADER;
	s->dirty = false;
	return 0;

err_unlink:
	w->io->unlink(tmp);
err_close:
	w->io->close(fd);
	return rv;
}

/* Remembers s until the end of the run's fdatasyncs. */
static int note_dirty(struct wal *w, struct wal_seg *s)
{
	if (s->listed)
		return 0;
	if (w->ndirty == w->dirty_cap) {
		size_t cap = w->dirty_cap ? w->dirty_cap * 2 : 8;
		struct wal_seg **n = realloc(w->dirty, cap * sizeof(*n));
		if (n == NULL)
			return -STORAGE_ENOMEM;
		w->dirty = n;
		w->dirty_cap = cap;
	}
	pthread_mutex_lock(&w->mu);
	s->refs++;
	pthread_mutex_unlock(&w->mu);
	w->dirty[w->ndirty++] = s;
	s->listed = true;
	return 0;
}

static int do_append(struct wal *w, struct wal_op *op, char *errmsg)
{
	struct wal_seg *s = op->seg;
	int rv = note_dirty(w, s);
	if (rv != 0)
		return rv;
	rv = sysio_write_all(w->io, s->fd, op->buf, op->len, op->off);
	if (rv != 0) {
		char path[DATADIR_PATH_MAX];
		wal_seg_path(w, s->seq, 0, path);
		storage_errf(errmsg, "write %s at offset %u: %s", path, op->off, strerror(-rv));
		return datadir_errno_code(-rv);
	}
	s->written = op->off + (uint32_t)op->len;
	s->dirty = true;
	return 0;
}

/* The cut is durable before anything is written after it, so records
 * past it can never reappear behind new ones. */
static int do_trunc(struct wal *w, struct wal_op *op, char *errmsg)
{
	struct wal_seg *s = op->seg;
	char path[DATADIR_PATH_MAX];

	wal_seg_path(w, s->seq, 0, path);
	if (w->io->ftruncate(s->fd, op->off) != 0) {
		storage_errf(errmsg, "ftruncate %s to %u: %s", path, op->off, strerror(errno));
		return -STORAGE_EIO;
	}
	if (w->io->fsync(s->fd) != 0)
		return fail_fsync(path, errno, errmsg);
	pthread_mutex_lock(&w->mu);
	s->durable = op->off;
	pthread_mutex_unlock(&w->mu);
	s->written = op->off;
	s->dirty = false;
	if (op->off < w->cfg.segment_bytes) /* best effort: writes extend it anyway */
		(void)w->io->fallocate(s->fd, op->off, (off_t)(w->cfg.segment_bytes - op->off));
	return 0;
}

static int do_remove(struct wal *w, struct wal_op *op, char *errmsg)
{
	char path[DATADIR_PATH_MAX];

	if (op->seg->fd < 0)
		return 0;
	wal_seg_path(w, op->seg->seq, 0, path);
	if (w->io->unlink(path) != 0 && errno != ENOENT) {
		storage_errf(errmsg, "unlink %s: %s", path, strerror(errno));
		return -STORAGE_EIO;
	}
	return datadir_sync(w->cfg.dir, errmsg);
}

static int exec(struct wal *w, struct wal_op *op, char *errmsg)
{
	switch (op->kind) {
	case WAL_OP_NEWSEG:
		return do_newseg(w, op, errmsg);
	case WAL_OP_APPEND:
		return do_append(w, op, errmsg);
	case WAL_OP_TRUNC:
		return do_trunc(w, op, errmsg);
	case WAL_OP_REMOVE:
		return do_remove(w, op, errmsg);
	}
	return -STORAGE_EINVAL;
}

static bool fatal(int rv)
{
	return rv == -STORAGE_EIO || rv == -STORAGE_EFSYNC;
}

static int fail(struct wal *w, int rv)
{
	if (fatal(rv)) {
		pthread_mutex_lock(&w->mu);
		w->failed = rv;
		pthread_mutex_unlock(&w->mu);
	}
	return rv;
}

/* fdatasyncs every segment written since its last sync, including any the
 * owner has since truncated away: what this run reports durable must be. */
static int sync_dirty(struct wal *w, char *errmsg)
{
	int rv = 0;
	for (size_t i = 0; i < w->ndirty && rv == 0; i++)
		rv = sync_seg(w, w->dirty[i], errmsg);
	if (rv != 0)
		return rv;
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->ndirty; i++) {
		w->dirty[i]->listed = false;
		wal_seg_unref(w, w->dirty[i]);
	}
	pthread_mutex_unlock(&w->mu);
	w->ndirty = 0;
	return 0;
}

int wal_sync_begin(struct wal *w, rc_index *index, rc_term *term, char *errmsg)
{
	pthread_mutex_lock(&w->mu);
	if (w->failed) {
		pthread_mutex_unlock(&w->mu);
		storage_errf(errmsg, "the log failed earlier");
		return -STORAGE_EFAILED;
	}
	if (w->q_head != NULL) {
		if (w->f_tail != NULL)
			w->f_tail->next = w->q_head;
		else
			w->f_head = w->q_head;
		w->f_tail = w->q_tail;
		w->q_head = w->q_tail = NULL;
	}
	*index = wal_last(w);
	*term = w->ents_len ? wal_ent_at(w, *index)->term : w->base_term;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int wal_sync_run(struct wal *w, char *errmsg)
{
	int rv;

	for (;;) {
		struct wal_op *op;
		pthread_mutex_lock(&w->mu);
		op = w->f_head;
		pthread_mutex_unlock(&w->mu);
		if (op == NULL)
			break;
		rv = exec(w, op, errmsg);
		if (rv != 0)
			return fail(w, rv);
		pthread_mutex_lock(&w->mu);
		w->f_head = op->next;
		if (w->f_head == NULL)
			w->f_tail = NULL;
		if (op->kind == WAL_OP_APPEND)
			w->staged_bytes -= op->len;
		wal_op_free(w, op);
		pthread_mutex_unlock(&w->mu);
	}
	rv = sync_dirty(w, errmsg);
	if (rv != 0)
		return fail(w, rv);
	return 0;
}
