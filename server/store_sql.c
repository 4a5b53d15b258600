/*
 * store_sql: the store's SQLite connections and the small helpers every
 * store file uses to bind and read byte strings and indexes.
 *
 * Keys, values and session ids are always bound as BLOBs, never as TEXT,
 * so SQLite compares them with memcmp (shorter first on a common prefix):
 * exactly the bytewise order API.md promises. An empty string is bound as
 * a zero-length BLOB, never NULL (NULL compares as unknown and would hide
 * the empty prefix).
 *
 * Indexes and versions are stored as SQLite integers (signed 64-bit); Raft
 * indexes never come near 2^63.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define BUSY_TIMEOUT_MS 5000

static const uint8_t empty_blob[1];

int store_sql_error(char *errmsg, sqlite3 *db, int rc, const char *what)
{
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	snprintf(errmsg, STORE_ERRMSG_SIZE, "%s: %s", what, msg);
	return (rc & 0xff) == SQLITE_NOMEM ? -STORE_ENOMEM : -STORE_EIO;
}

int store_bind_bytes(sqlite3_stmt *s, int i, const void *p, size_t n)
{
	if (n > (size_t)INT32_MAX)
		return SQLITE_TOOBIG;
	return sqlite3_bind_blob(s, i, n == 0 ? (const void *)empty_blob : p, (int)n,
				 SQLITE_STATIC);
}

int store_bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
	return sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

void store_column_bytes(sqlite3_stmt *s, int i, const uint8_t **p, size_t *n)
{
	const void *blob = sqlite3_column_blob(s, i);
	int len = sqlite3_column_bytes(s, i);
	if (blob == NULL || len <= 0) {
		*p = empty_blob;
		*n = 0;
		return;
	}
	*p = blob;
	*n = (size_t)len;
}

uint64_t store_column_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

int store_exec_stmt(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

size_t store_prefix_end(const uint8_t *prefix, size_t n, uint8_t *out)
{
	while (n > 0 && prefix[n - 1] == 0xFF)
		n--;
	if (n == 0 || n > API_KEY_MAX) {
		memset(out, 0xFF, STORE_KEY_BOUND_LEN);
		return STORE_KEY_BOUND_LEN;
	}
	memcpy(out, prefix, n);
	out[n - 1]++;
	return n;
}

int store_db_open(const char *path, int flags, sqlite3 **out, char *errmsg)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int rv = store_sql_error(errmsg, db, rc, path);
		sqlite3_close(db);
		return rv;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	*out = db;
	return 0;
}

/* Pragmas of each role. The writer's are documented in store.c. */
static const char writer_pragmas[] = "PRAGMA synchronous = NORMAL;"
				     "PRAGMA journal_size_limit = 67108864;"
				     "PRAGMA cache_size = -16384;";
static const char reader_pragmas[] = "PRAGMA query_only = ON;";

static int conn_prepare(struct store_conn *c, bool writer, char *errmsg)
{
	static const struct {
		char where;
		const char *sql;
	} table[STMT_COUNT] = {
#define STORE_STMT_ROW(id, w, sql) [id] = {#w[0], sql},
	    STORE_STMTS(STORE_STMT_ROW)
#undef STORE_STMT_ROW
	};
	int rc = sqlite3_exec(c->db, writer ? writer_pragmas : reader_pragmas, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store_sql_error(errmsg, c->db, rc, "setting pragmas");
	for (int i = 0; i < STMT_COUNT; i++) {
		char where = table[i].where;
		if (where != 'A' && where != (writer ? 'W' : 'R'))
			continue;
		rc = sqlite3_prepare_v3(c->db, table[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					&c->stmt[i], NULL);
		if (rc != SQLITE_OK)
			return store_sql_error(errmsg, c->db, rc, table[i].sql);
	}
	return 0;
}

int store_conn_open(const char *path, bool writer, struct store_conn **out, char *errmsg)
{
	int rv;
	struct store_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory");
		rv = -STORE_ENOMEM;
		goto err;
	}
	int flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READWRITE;
	rv = store_db_open(path, flags, &c->db, errmsg);
	if (rv != 0)
		goto err_conn;
	if (writer) {
		rv = store_schema_init(c->db, errmsg);
		if (rv != 0)
			goto err_conn;
	}
	rv = conn_prepare(c, writer, errmsg);
	if (rv != 0)
		goto err_conn;
	*out = c;
	return 0;

err_conn:
	store_conn_close(c); /* whatever was opened and prepared */
err:
	assert(rv != 0);
	return rv;
}

void store_conn_close(struct store_conn *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	free(c);
}
