/*
 * store_checkpoint: moving WAL checkpoints, and the fsyncs they carry, off
 * the apply thread, while keeping the WAL bounded.
 *
 * With synchronous=NORMAL a commit only appends to the WAL; the fsyncs
 * happen when the WAL is checkpointed into the database file. SQLite's
 * automatic checkpoint runs them on the committing connection, inside
 * store_apply_batch. Instead the writer's WAL hook (called on the apply
 * thread after each commit, with the WAL's size in frames) wakes a
 * checkpointer thread, which has a connection of its own, every
 * STORE_CKPT_EVERY frames of growth; it runs a PASSIVE checkpoint, which
 * copies what no reader still needs, fsyncs, and blocks neither the writer
 * nor the readers.
 *
 * Bound. SQLite restarts the WAL from its start only at a write that
 * finds it wholly checkpointed, which a background checkpoint racing a
 * busy writer may never leave it. So once the WAL reaches STORE_CKPT_MAX
 * frames the hook checkpoints synchronously on the writer (nothing can
 * commit meanwhile, so it completes unless a reader pins the WAL, e.g. a
 * snapshot in progress) and the next batch restarts the WAL. Under
 * sustained load the apply thread pays that checkpoint's fsyncs once per
 * STORE_CKPT_MAX frames; most pages were already copied in the background.
 *
 * A checkpoint that fails with an error other than SQLITE_BUSY (a failed
 * fsync among them) marks the store failed: the next apply returns
 * -STORE_EFAILED and the node stops, rather than retrying an fsync whose
 * failure may have dropped data.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

#define STORE_CKPT_EVERY 1024 /* frames (4 MiB of 4 KiB pages) */
#define STORE_CKPT_MAX (8 * STORE_CKPT_EVERY)

static bool busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

static void record_failure(struct store *st, sqlite3 *db, int rc)
{
	char msg[STORE_ERRMSG_SIZE];
	store_sql_error(msg, db, rc, "checkpointing the WAL");
	pthread_mutex_lock(&st->ckpt_mu);
	if (!atomic_load(&st->ckpt_failed))
		memcpy(st->ckpt_errmsg, msg, sizeof(msg));
	pthread_mutex_unlock(&st->ckpt_mu);
	atomic_store(&st->ckpt_failed, true);
}

/* The apply thread, after each commit of the writer. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int n_frames)
{
	struct store *st = arg;
	(void)name;
	if (n_frames < st->ckpt_last_frames) /* the WAL restarted */
		st->ckpt_next = STORE_CKPT_EVERY;
	st->ckpt_last_frames = n_frames;
	if (n_frames >= STORE_CKPT_MAX) {
		int rc =
		    sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && !busy(rc))
			record_failure(st, db, rc);
		return SQLITE_OK;
	}
	if (n_frames < st->ckpt_next)
		return SQLITE_OK;
	st->ckpt_next = n_frames + STORE_CKPT_EVERY;
	pthread_mutex_lock(&st->ckpt_mu);
	st->ckpt_wanted = true;
	pthread_cond_signal(&st->ckpt_cv);
	pthread_mutex_unlock(&st->ckpt_mu);
	return SQLITE_OK;
}

static void *checkpointer(void *arg)
{
	struct store *st = arg;
	pthread_mutex_lock(&st->ckpt_mu);
	for (;;) {
		while (!st->ckpt_wanted && !st->ckpt_stop)
			pthread_cond_wait(&st->ckpt_cv, &st->ckpt_mu);
		if (st->ckpt_stop)
			break;
		st->ckpt_wanted = false;
		pthread_mutex_unlock(&st->ckpt_mu);
		int rc = sqlite3_wal_checkpoint_v2(st->ckpt_db, "main", SQLITE_CHECKPOINT_PASSIVE,
						   NULL, NULL);
		if (rc != SQLITE_OK && !busy(rc))
			record_failure(st, st->ckpt_db, rc);
		pthread_mutex_lock(&st->ckpt_mu);
	}
	pthread_mutex_unlock(&st->ckpt_mu);
	return NULL;
}

int store_checkpointer_start(struct store *st, char *errmsg)
{
	int rv = store_db_open(st->path, SQLITE_OPEN_READWRITE, &st->ckpt_db, errmsg);
	if (rv != 0)
		goto err;
	int rc = sqlite3_exec(st->ckpt_db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rv = store_sql_error(errmsg, st->ckpt_db, rc, "opening the checkpointer");
		goto err_db;
	}
	if (pthread_create(&st->ckpt_thread, NULL, checkpointer, st) != 0) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "cannot start the checkpointer thread");
		rv = -STORE_ENOMEM;
		goto err_db;
	}
	/* Replaces SQLite's automatic checkpoint on the writer. */
	st->ckpt_next = STORE_CKPT_EVERY;
	st->ckpt_last_frames = 0;
	sqlite3_wal_hook(st->w->db, wal_hook, st);
	return 0;

err_db:
	sqlite3_close(st->ckpt_db);
	st->ckpt_db = NULL;
err:
	return rv;
}

void store_checkpointer_stop(struct store *st)
{
	if (st->ckpt_db == NULL)
		return;
	sqlite3_wal_hook(st->w->db, NULL, NULL);
	pthread_mutex_lock(&st->ckpt_mu);
	st->ckpt_stop = true;
	pthread_cond_signal(&st->ckpt_cv);
	pthread_mutex_unlock(&st->ckpt_mu);
	pthread_join(st->ckpt_thread, NULL);
	sqlite3_close(st->ckpt_db);
	st->ckpt_db = NULL;
}

bool store_checkpointer_failed(struct store *st)
{
	if (!atomic_load(&st->ckpt_failed))
		return false;
	pthread_mutex_lock(&st->ckpt_mu);
	memcpy(st->errmsg, st->ckpt_errmsg, sizeof(st->errmsg));
	pthread_mutex_unlock(&st->ckpt_mu);
	return true;
}
