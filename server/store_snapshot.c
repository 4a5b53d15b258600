/*
 * store_snapshot: writing a snapshot with SQLite's online backup API while
 * apply continues, and restoring the state from a received one.
 *
 * Consistency of a snapshot. The backup reads from a connection of its own
 * that first opens a read transaction and reads the applied index, term
 * and configuration in it. In WAL mode that transaction pins one commit:
 * every backup step, however many commits the apply thread makes between
 * steps, copies pages of that same commit (sqlite3_backup_step uses the
 * read transaction already open on its source), and the writer is never
 * blocked by it. So the copy holds exactly the state at the applied index
 * read. Belt and braces: the index is read back from the finished copy and
 * must match. The WAL cannot be checkpointed past the pinned commit while
 * the backup runs, so it grows by what is applied meanwhile.
 *
 * The copy is a plain database file: after the backup its journal mode is
 * set to DELETE, which clears the WAL flag copied in the header and leaves
 * no -wal or -shm beside it.
 *
 * Restore validates the file on a read-only connection first (cairn store,
 * this schema version, meta rows, quick_check), then attaches it to the
 * writer and, in one transaction, replaces every table's rows with the
 * snapshot's. Readers see the old state or the new one, never a mix; a
 * failure rolls back and leaves the state as it was.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

#define BUSY_RETRIES 5000 /* x 1 ms; the source is pinned, so never expected */

static int exec(sqlite3 *db, const char *sql, char *errmsg, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store_sql_error(errmsg, db, rc, what);
	return 0;
}

/* Reads the applied index and term (and with info, the configuration) on
 * db, which may be inside a read transaction. */
static int read_state(sqlite3 *db, struct store_snapshot_info *info, char *errmsg)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT (SELECT value FROM meta WHERE name = 'applied_index'),"
				    "       (SELECT value FROM meta WHERE name = 'applied_term'),"
				    "       (SELECT config_index FROM raft_config WHERE id = 1),"
				    "       (SELECT data FROM raft_config WHERE id = 1)",
				    -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		int rv = store_sql_error(errmsg, db, rc, "reading the applied index");
		sqlite3_finalize(s);
		return rv;
	}
	info->index = store_column_u64(s, 0);
	info->term = store_column_u64(s, 1);
	info->config_index = store_column_u64(s, 2);
	if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
		const uint8_t *p;
		size_t n;
		store_column_bytes(s, 3, &p, &n);
		info->config = malloc(n > 0 ? n : 1);
		if (info->config == NULL) {
			sqlite3_finalize(s);
			snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory");
			return -STORE_ENOMEM;
		}
		memcpy(info->config, p, n);
		info->config_len = n;
	}
	sqlite3_finalize(s);
	return 0;
}

static int backup(struct store *st, sqlite3 *src, sqlite3 *dst, char *errmsg)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (b == NULL)
		return store_sql_error(errmsg, dst, sqlite3_errcode(dst), "starting the backup");
	int rc;
	unsigned step = 0, busy = 0;
	for (;;) {
		rc = sqlite3_backup_step(b, st->opts.snapshot_step_pages);
		if (rc == SQLITE_DONE)
			break;
		if ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && busy++ < BUSY_RETRIES) {
			sqlite3_sleep(1);
			continue;
		}
		if (rc != SQLITE_OK)
			break;
		if (st->opts.snapshot_step_hook != NULL)
			st->opts.snapshot_step_hook(st->opts.snapshot_step_arg, ++step);
	}
	int rc_finish = sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		rc = rc_finish;
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		return store_sql_error(errmsg, dst, rc, "copying the store");
	return 0;
}

/* Checks the finished copy: a cairn store at the index the source read. */
static int verify(sqlite3 *dst, const struct store_snapshot_info *info, char *errmsg)
{
	int rv = exec(dst, "PRAGMA journal_mode = DELETE", errmsg, "finishing the copy");
	if (rv != 0)
		return rv;
	struct store_snapshot_info copy;
	memset(&copy, 0, sizeof(copy));
	rv = read_state(dst, &copy, errmsg);
	free(copy.config);
	if (rv != 0)
		return rv;
	if (copy.index != info->index || copy.term != info->term ||
	    copy.config_index != info->config_index) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "snapshot copy holds index %llu, expected %llu",
			 (unsigned long long)copy.index, (unsigned long long)info->index);
		return -STORE_EIO;
	}
	return 0;
}

int store_snapshot(struct store *st, const char *dest_path, struct store_snapshot_info *info,
		   char *errmsg)
{
	memset(info, 0, sizeof(*info));
	sqlite3 *src = NULL, *dst = NULL;
	/* Emptied in place, not unlinked: the caller may hold it open. */
	if (truncate(dest_path, 0) != 0 && errno != ENOENT) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "%s: %s", dest_path, strerror(errno));
		return -STORE_EIO;
	}
	int rv = store_db_open(st->path, SQLITE_OPEN_READWRITE, &src, errmsg);
	if (rv != 0)
		goto err;
	rv = exec(src, "PRAGMA query_only = ON; BEGIN", errmsg, "opening the snapshot source");
	if (rv != 0)
		goto err_src;
	rv = read_state(src, info, errmsg); /* pins the commit the backup copies */
	if (rv != 0)
		goto err_txn;
	rv = store_db_open(dest_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst, errmsg);
	if (rv != 0)
		goto err_info;
	/* The copy is written whole or thrown away: no journal, no fsync. */
	rv = exec(dst, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", errmsg,
		  "opening the snapshot file");
	if (rv == 0)
		rv = backup(st, src, dst, errmsg);
	if (rv == 0)
		rv = verify(dst, info, errmsg);
	sqlite3_close(dst);
	if (rv != 0)
		goto err_info;
	sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(src);
	return 0;

err_info:
	free(info->config);
	memset(info, 0, sizeof(*info));
err_txn:
	sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
err_src:
	sqlite3_close(src);
err:
	assert(rv != 0);
	return rv;
}

/* Replaces every table of main with attached snap's, in the open
 * transaction. */
static int copy_tables(sqlite3 *db, char *errmsg)
{
	for (size_t i = 0; store_schema_tables[i] != NULL; i++) {
		const char *t = store_schema_tables[i];
		char *sql = sqlite3_mprintf("DELETE FROM main.\"%w\";"
					    "INSERT INTO main.\"%w\" SELECT * FROM snap.\"%w\";",
					    t, t, t);
		if (sql == NULL) {
			snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory");
			return -STORE_ENOMEM;
		}
		int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		sqlite3_free(sql);
		if (rc != SQLITE_OK)
			return store_sql_error(errmsg, db, rc, "restoring the snapshot");
	}
	return 0;
}

static int attach(sqlite3 *db, const char *path, char *errmsg)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "ATTACH ?1 AS snap", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_sql_error(errmsg, db, rc, "attaching the snapshot");
	return 0;
}

int store_restore(struct store *st, const char *src_path)
{
	if (store_refuses(st))
		return -STORE_EFAILED;
	sqlite3 *db = st->w->db;
	sqlite3 *check = NULL;
	int rv = store_db_open(src_path, SQLITE_OPEN_READONLY, &check, st->errmsg);
	if (rv == 0)
		rv = store_schema_check(check, st->errmsg);
	sqlite3_close(check);
	if (rv != 0)
		goto err;
	rv = attach(db, src_path, st->errmsg);
	if (rv != 0)
		goto err;
	rv = exec(db, "BEGIN IMMEDIATE", st->errmsg, "restoring the snapshot");
	if (rv != 0)
		goto err_attach;
	rv = copy_tables(db, st->errmsg);
	if (rv == 0)
		rv = exec(db, "COMMIT", st->errmsg, "restoring the snapshot");
	if (rv != 0)
		goto err_txn;
	sqlite3_exec(db, "DETACH snap", NULL, NULL, NULL);
	rv = store_load_meta(st);
	if (rv != 0)
		st->failed = true; /* the database changed but its mirrors did not */
	return rv;

err_txn:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
err_attach:
	sqlite3_exec(db, "DETACH snap", NULL, NULL, NULL);
err:
	assert(rv != 0);
	return rv;
}
