/*
 * storage: the public face (storage.h) over datadir, hardstate, wal and
 * snapfile. It adds the ordering between them:
 *   - open: lock and format, then the snapshot, the hard state, and the
 *     log reconciled with that snapshot;
 *   - sync: a staged hard state is written and fdatasynced before any log
 *     record of the same or a later stage reaches the disk, so no log ever
 *     holds a term newer than the durable hard state;
 *   - snapshot commit: the snapshot is durable before older ones are
 *     deleted and before the log is dropped for it.
 *
 * Locking: mu guards the pending hard state, tickets, the durable point and
 * the failed flag, and is held across a stage and across
 * wal_sync_begin, so a sync takes a cut that never splits a stage. Order:
 * mu before the wal's own lock.
 */
#include "storage.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datadir.h"
#include "hardstate.h"
#include "snapfile.h"
#include "sysio.h"
#include "wal.h"

struct storage {
	struct storage_options opts;
	struct datadir dir;
	struct hardstate hs;
	struct wal *wal;
	pthread_mutex_t mu;
	bool hs_pending;                   /* (mu) hs_next waits for a sync */
	uint64_t hs_gen;                   /* (mu) bumped by every staged hard state */
	struct rc_hard_state hs_next;      /* (mu) */
	struct rc_hard_state hs_staged;    /* owner: newest staged value */
	uint64_t ticket;                   /* (mu) last ticket handed out */
	struct storage_durable durable;    /* (mu) */
	int failed;                        /* (mu) fatal code, or 0 */
	struct storage_snapshot_meta snap; /* owner: the current snapshot */
	int snap_fd;                       /* owner: its data, or -1 */
	uint64_t nonce;                    /* owner: temporary file names */
	char errmsg[STORAGE_ERRMSG_SIZE];
	char sync_errmsg[STORAGE_ERRMSG_SIZE];
};

struct storage_snap_writer {
	struct snapfile_writer *fw;
	char errmsg[STORAGE_ERRMSG_SIZE];
};

static const char *const messages[] = {
#define STORAGE_ERR_MSG(code, msg) msg,
    STORAGE_ERRORS(STORAGE_ERR_MSG)
#undef STORAGE_ERR_MSG
};

const char *storage_strerror(int rv)
{
	int code = rv < 0 ? -rv : rv;
	if (code >= STORAGE_ERROR_COUNT)
		return "unknown storage error";
	return messages[code];
}

bool storage_is_fatal(int rv)
{
	return rv == -STORAGE_EIO || rv == -STORAGE_EFSYNC || rv == -STORAGE_EFAILED;
}

void storage_options_default(struct storage_options *o)
{
	memset(o, 0, sizeof(*o));
	o->segment_bytes = 64u << 20;
	o->max_staged_bytes = 256u << 20;
}

const char *storage_errmsg(const struct storage *st)
{
	return st->errmsg;
}

const char *storage_sync_errmsg(const struct storage *st)
{
	return st->sync_errmsg;
}

/* Records a fatal result so every later call refuses (mu not held). */
static int note(struct storage *st, int rv)
{
	if (storage_is_fatal(rv)) {
		pthread_mutex_lock(&st->mu);
		if (!st->failed)
			st->failed = rv;
		pthread_mutex_unlock(&st->mu);
	}
	return rv;
}

static int check_failed(struct storage *st)
{
	int failed;
	pthread_mutex_lock(&st->mu);
	failed = st->failed;
	pthread_mutex_unlock(&st->mu);
	if (failed) {
		storage_errf(st->errmsg, "storage failed earlier: %s", storage_strerror(failed));
		return -STORAGE_EFAILED;
	}
	return 0;
}

static int open_snap_fd(struct storage *st, char *errmsg)
{
	char path[DATADIR_PATH_MAX];
	snapfile_data_path(&st->dir, st->snap.index, path);
	st->snap_fd = st->dir.io->open(path, O_RDONLY, 0);
	if (st->snap_fd < 0) {
		storage_errf(errmsg, "open %s: %s", path, strerror(errno));
		return -STORAGE_EIO;
	}
	return 0;
}

int storage_open(const char *dir, const struct storage_options *opts, struct storage **out,
		 char *errmsg)
{
	char scratch[STORAGE_ERRMSG_SIZE];
	struct storage *st;
	struct wal_config cfg;
	rc_index last;
	bool found;
	int rv;

	if (errmsg == NULL)
		errmsg = scratch;
	errmsg[0] = '\0';
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -STORAGE_ENOMEM;
	if (opts != NULL)
		st->opts = *opts;
	else
		storage_options_default(&st->opts);
	if (st->opts.io == NULL)
		st->opts.io = sysio_default();
	st->snap_fd = -1;
	st->hs.fd = -1;
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		rv = -STORAGE_ENOMEM;
		goto err_free;
	}
	st->dir.log = st->opts.log;
	st->dir.log_arg = st->opts.log_arg;
	rv = datadir_open(&st->dir, st->opts.io, dir, errmsg);
	if (rv != 0)
		goto err_mutex;
	rv = snapfile_recover(&st->dir, &st->snap, &found, errmsg);
	if (rv != 0)
		goto err_dir;
	rv = found ? open_snap_fd(st, errmsg) : 0;
	if (rv != 0)
		goto err_dir;
	rv = hardstate_open(&st->hs, &st->dir, errmsg);
	if (rv != 0)
		goto err_snap;
	st->hs_staged = st->hs.value;
	cfg.dir = &st->dir;
	cfg.segment_bytes = st->opts.segment_bytes;
	cfg.max_staged_bytes = st->opts.max_staged_bytes;
	rv = wal_open(&cfg, st->snap.index, st->snap.term, &st->wal, errmsg);
	if (rv != 0)
		goto err_hs;
	last = wal_last_index(st->wal);
	st->durable.index = last;
	wal_term(st->wal, last, &st->durable.term);
	*out = st;
	return 0;

err_hs:
	hardstate_close(&st->hs);
err_snap:
	if (st->snap_fd >= 0)
		st->dir.io->close(st->snap_fd);
err_dir:
	datadir_close(&st->dir);
err_mutex:
	pthread_mutex_destroy(&st->mu);
err_free:
	free(st);
	assert(rv != 0);
	return rv;
}

void storage_close(struct storage *st)
{
	if (st == NULL)
		return;
	wal_close(st->wal);
	hardstate_close(&st->hs);
	if (st->snap_fd >= 0)
		st->dir.io->close(st->snap_fd);
	datadir_close(&st->dir);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

struct rc_hard_state storage_hard_state(const struct storage *st)
{
	return st->hs_staged;
}

const struct storage_snapshot_meta *storage_snapshot(const struct storage *st)
{
	return &st->snap;
}

rc_index storage_first_index(const struct storage *st)
{
	return wal_first_index(st->wal);
}

rc_index storage_last_index(const struct storage *st)
{
	return wal_last_index(st->wal);
}

int storage_term(const struct storage *st, rc_index index, rc_term *term)
{
	if (wal_term(st->wal, index, term) == 0)
		return 0;
	if (index == st->snap.index) {
		*term = st->snap.term;
		return 0;
	}
	return -STORAGE_ENOTFOUND;
}

int storage_entries(struct storage *st, rc_index from, rc_index to, struct rc_entry **entries,
		    size_t *n)
{
	int rv = wal_entries(st->wal, from, to, entries, n, st->errmsg);
	if (rv == -STORAGE_ENOTFOUND)
		storage_errf(st->errmsg,
			     "entries %" PRIu64 "..%" PRIu64 " not in the log (%" PRIu64
			     "..%" PRIu64 ")",
			     from, to, wal_first_index(st->wal), wal_last_index(st->wal));
	return note(st, rv);
}

/* ---- persisting updates ---- */

int storage_stage(struct storage *st, const struct rc_hard_state *hard_state,
		  rc_index truncate_from, const struct rc_entry *entries, size_t n,
		  uint64_t *ticket)
{
	rc_index next;
	int rv;

	pthread_mutex_lock(&st->mu);
	if (st->failed) {
		rv = -STORAGE_EFAILED;
		storage_errf(st->errmsg, "storage failed earlier");
		goto out;
	}
	/* Check the entries against the log as it will be after the
	 * truncation, so that a bad call changes nothing. */
	next = truncate_from ? truncate_from : wal_last_index(st->wal) + 1;
	if (n > 0 && entries[0].index != next) {
		storage_errf(st->errmsg,
			     "stage: first entry is %" PRIu64 ", the log needs %" PRIu64,
			     entries[0].index, next);
		rv = -STORAGE_EINVAL;
		goto out;
	}
	if (truncate_from) {
		rv = wal_truncate(st->wal, truncate_from, st->errmsg);
		if (rv != 0)
			goto out;
	}
	rv = wal_append(st->wal, entries, n, st->errmsg);
	if (rv != 0)
		goto out;
	if (hard_state != NULL) {
		st->hs_pending = true;
		st->hs_gen++;
		st->hs_next = *hard_state;
		st->hs_staged = *hard_state;
	}
	if (ticket != NULL)
		*ticket = st->ticket + 1;
	st->ticket++;
out:
	pthread_mutex_unlock(&st->mu);
	return rv;
}

int storage_compact(struct storage *st, rc_index index)
{
	rc_index last;
	int rv = check_failed(st);

	if (rv != 0)
		return rv;
	if (index > st->snap.index) {
		storage_errf(st->errmsg, "compact to %" PRIu64 ": past the snapshot at %" PRIu64,
			     index, st->snap.index);
		return -STORAGE_EINVAL;
	}
	last = wal_last_index(st->wal);
	pthread_mutex_lock(&st->mu);
	rv = wal_compact(st->wal, index < last ? index : last, st->errmsg);
	pthread_mutex_unlock(&st->mu);
	return note(st, rv);
}

int storage_sync(struct storage *st, struct storage_durable *out)
{
	struct rc_hard_state hs;
	bool write_hs;
	uint64_t gen, ticket;
	rc_index index;
	rc_term term;
	int rv;

	pthread_mutex_lock(&st->mu);
	if (st->failed) {
		pthread_mutex_unlock(&st->mu);
		storage_errf(st->sync_errmsg, "storage failed earlier");
		return -STORAGE_EFAILED;
	}
	write_hs = st->hs_pending;
	hs = st->hs_next;
	gen = st->hs_gen;
	ticket = st->ticket;
	rv = wal_sync_begin(st->wal, &index, &term, st->sync_errmsg);
	pthread_mutex_unlock(&st->mu);
	if (rv != 0)
		return note(st, rv);
	/* The hard state first: a record of term T must never be durable
	 * while the term on disk is still older (raftcore.h, step 3). */
	if (write_hs) {
		rv = hardstate_write(&st->hs, &hs, st->sync_errmsg);
		if (rv != 0)
			return note(st, rv);
		pthread_mutex_lock(&st->mu);
		if (st->hs_gen == gen)
			st->hs_pending = false;
		pthread_mutex_unlock(&st->mu);
	}
	rv = wal_sync_run(st->wal, st->sync_errmsg);
	if (rv != 0)
		return note(st, rv);
	pthread_mutex_lock(&st->mu);
	st->durable.ticket = ticket;
	st->durable.index = index;
	st->durable.term = term;
	if (out != NULL)
		*out = st->durable;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

void storage_durable(struct storage *st, struct storage_durable *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->durable;
	pthread_mutex_unlock(&st->mu);
}

/* ---- snapshots ---- */

int storage_snap_read(struct storage *st, rc_index index, uint64_t offset, void *buf, size_t len,
		      size_t *nread)
{
	ssize_t got;

	if (st->snap_fd < 0 || st->snap.index != index) {
		storage_errf(st->errmsg, "no snapshot at %" PRIu64 " (current: %" PRIu64 ")", index,
			     st->snap.index);
		return -STORAGE_ENOTFOUND;
	}
	if (offset > st->snap.size) {
		storage_errf(st->errmsg, "offset %" PRIu64 " past the snapshot's %" PRIu64 " bytes",
			     offset, st->snap.size);
		return -STORAGE_EINVAL;
	}
	if (len > st->snap.size - offset)
		len = (size_t)(st->snap.size - offset);
	got = sysio_read_all(st->dir.io, st->snap_fd, buf, len, (off_t)offset);
	if (got < 0 || (size_t)got != len) {
		storage_errf(st->errmsg, "read snapshot %" PRIu64 " at %" PRIu64 ": %s", index,
			     offset, got < 0 ? strerror((int)-got) : "short read");
		return -STORAGE_EIO;
	}
	*nread = len;
	return 0;
}

int storage_snap_path(const struct storage *st, char *buf, size_t cap)
{
	char path[DATADIR_PATH_MAX];
	if (st->snap_fd < 0)
		return -STORAGE_ENOTFOUND;
	snapfile_data_path(&st->dir, st->snap.index, path);
	if (strlen(path) >= cap)
		return -STORAGE_EINVAL;
	strcpy(buf, path);
	return 0;
}

int storage_snap_begin(struct storage *st, struct storage_snap_writer **w)
{
	struct storage_snap_writer *sw;
	int rv = check_failed(st);

	if (rv != 0)
		return rv;
	sw = calloc(1, sizeof(*sw));
	if (sw == NULL)
		return -STORAGE_ENOMEM;
	rv = snapfile_begin(&st->dir, ++st->nonce, &sw->fw, st->errmsg);
	if (rv != 0) {
		free(sw);
		return note(st, rv);
	}
	*w = sw;
	return 0;
}

const char *storage_snap_writer_path(const struct storage_snap_writer *w)
{
	return w->fw->path;
}

uint64_t storage_snap_writer_size(const struct storage_snap_writer *w)
{
	return w->fw->size;
}

int storage_snap_write(struct storage_snap_writer *w, uint64_t offset, const void *data, size_t len)
{
	return snapfile_write(w->fw, offset, data, len, w->errmsg);
}

void storage_snap_abort(struct storage *st, struct storage_snap_writer *w)
{
	(void)st;
	if (w == NULL)
		return;
	snapfile_abort(w->fw);
	free(w);
}

int storage_snap_commit(struct storage *st, struct storage_snap_writer *w,
			const struct storage_snapshot_meta *meta)
{
	struct storage_snapshot_meta old = st->snap;
	rc_term t;
	int old_fd = st->snap_fd;
	int rv = check_failed(st);

	if (rv == 0 && (meta->index < st->snap.index || meta->conf_len > STORAGE_CONF_MAX)) {
		storage_errf(st->errmsg,
			     "snapshot at %" PRIu64 " is older than the current one at %" PRIu64,
			     meta->index, st->snap.index);
		rv = -STORAGE_EINVAL;
	}
	if (rv != 0) {
		storage_snap_abort(st, w);
		return rv;
	}
	if (st->snap_fd >= 0 && meta->index == st->snap.index) {
		/* The same committed index again: the same state. Keeping the
		 * existing files avoids renaming data under a meta whose CRC
		 * describes the old bytes. */
		storage_snap_abort(st, w);
		return 0;
	}
	rv = snapfile_commit(w->fw, meta, st->errmsg);
	free(w);
	if (rv != 0)
		return note(st, rv);
	st->snap = *meta;
	st->snap_fd = -1;
	rv = open_snap_fd(st, st->errmsg);
	if (rv != 0) {
		st->snap = old;
		st->snap_fd = old_fd;
		return note(st, rv);
	}
	if (old_fd >= 0)
		st->dir.io->close(old_fd);
	/* Keep the log if it holds the snapshot's last entry (then it agrees
	 * with the snapshot up to there); otherwise it is dropped whole. */
	if (wal_term(st->wal, meta->index, &t) != 0 || t != meta->term) {
		pthread_mutex_lock(&st->mu);
		rv = wal_reset(st->wal, meta->index, meta->term, st->errmsg);
		pthread_mutex_unlock(&st->mu);
		if (rv != 0)
			return note(st, rv);
	}
	return note(st, snapfile_remove_others(&st->dir, meta->index, st->errmsg));
}
