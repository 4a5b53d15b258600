/*
 * store_schema: the tables of a cairn store, created in an empty database
 * and checked in an existing one or in a received snapshot.
 *
 * A cairn store carries application_id STORE_APP_ID and user_version
 * STORE_SCHEMA_VERSION in its SQLite header, so a foreign file or one of
 * another schema version is recognized before anything reads it.
 *
 * Tables (API.md names the columns users see):
 *   meta         name -> integer: applied_index, applied_term (the last
 *                applied entry; written in every apply transaction) and
 *                tomb_floor (store_kv.c).
 *   raft_config  the latest applied configuration entry, opaque bytes, so a
 *                snapshot carries the membership in force at its index.
 *   kv           key -> create_index, modify_index, version, session, value.
 *                value is the last column: reading the others never touches
 *                a large value's overflow pages.
 *   tombstones   (namespace, key) -> delete_index: the recent deletions a
 *                missing key or a prefix reports as its index (store_kv.c).
 *   sessions, locks, services: empty until the commands that fill them
 *                arrive; their columns follow API.md.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

const char *const store_schema_tables[] = {
    "meta", "raft_config", "kv", "tombstones", "sessions", "locks", "services", NULL,
};

/* clang-format off */
static const char ddl[] =
	"CREATE TABLE meta ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  value INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO meta(name, value) VALUES"
	"  ('applied_index', 0), ('applied_term', 0), ('tomb_floor', 0);"

	"CREATE TABLE raft_config ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  config_index INTEGER NOT NULL,"
	"  data BLOB NOT NULL"
	");"

	"CREATE TABLE kv ("
	"  key BLOB PRIMARY KEY NOT NULL,"
	"  create_index INTEGER NOT NULL,"
	"  modify_index INTEGER NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  session BLOB,"                 /* sessions.id when bound, else NULL */
	"  value BLOB NOT NULL"
	");"
	"CREATE INDEX kv_by_session ON kv(session) WHERE session IS NOT NULL;"

	"CREATE TABLE tombstones ("
	"  ns INTEGER NOT NULL,"          /* enum store_ns */
	"  key BLOB NOT NULL,"
	"  delete_index INTEGER NOT NULL,"
	"  PRIMARY KEY (ns, key)"
	") WITHOUT ROWID;"
	"CREATE INDEX tombstones_by_age ON tombstones(delete_index);"

	"CREATE TABLE sessions ("
	"  id BLOB PRIMARY KEY NOT NULL," /* 32 lowercase hex digits */
	"  name BLOB NOT NULL,"
	"  ttl_ms INTEGER NOT NULL,"
	"  behavior INTEGER NOT NULL,"    /* 0 release, 1 delete */
	"  create_index INTEGER NOT NULL" /* API.md \"index\" */
	");"

	"CREATE TABLE locks ("
	"  name BLOB PRIMARY KEY NOT NULL,"
	"  session BLOB NOT NULL,"
	"  fencing_token INTEGER NOT NULL" /* index of the acquiring entry */
	");"
	"CREATE INDEX locks_by_session ON locks(session);"

	"CREATE TABLE services ("
	"  service BLOB NOT NULL,"
	"  instance BLOB NOT NULL,"
	"  address BLOB NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  tags BLOB NOT NULL,"           /* as the command codec encodes them */
	"  meta BLOB NOT NULL,"
	"  ttl_ms INTEGER NOT NULL,"      /* 0: no heartbeat required */
	"  deregister_after_ms INTEGER NOT NULL,"
	"  status INTEGER NOT NULL,"      /* 0 passing, 1 critical */
	"  create_index INTEGER NOT NULL,"
	"  modify_index INTEGER NOT NULL,"
	"  PRIMARY KEY (service, instance)"
	") WITHOUT ROWID;";
/* clang-format on */

/* Runs a statement returning one integer (a pragma, a count) into *v. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v, char *errmsg)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			*v = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	if ((rc & 0xff) == SQLITE_NOTADB) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "not a cairn store: not an SQLite database");
		return -STORE_ENOTSTORE;
	}
	if (rc != SQLITE_OK)
		return store_sql_error(errmsg, db, rc, sql);
	return 0;
}

/* Checks the header fields that name a cairn store and its version; *empty
 * tells a fresh database (no object, no application id) apart. */
static int check_header(sqlite3 *db, bool *empty, char *errmsg)
{
	int64_t app_id = 0, version = 0, n_objects = 0;
	int rv = query_int(db, "PRAGMA application_id", &app_id, errmsg);
	if (rv == 0)
		rv = query_int(db, "PRAGMA user_version", &version, errmsg);
	if (rv == 0)
		rv = query_int(db, "SELECT count(*) FROM sqlite_schema", &n_objects, errmsg);
	if (rv != 0)
		return rv;
	*empty = app_id == 0 && version == 0 && n_objects == 0;
	if (*empty)
		return 0;
	if (app_id != STORE_APP_ID) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "not a cairn store (application_id %lld)",
			 (long long)app_id);
		return -STORE_ENOTSTORE;
	}
	if (version != STORE_SCHEMA_VERSION) {
		snprintf(errmsg, STORE_ERRMSG_SIZE,
			 "store schema version %lld, this cairn knows only %d", (long long)version,
			 STORE_SCHEMA_VERSION);
		return -STORE_EVERSION;
	}
	return 0;
}

static int create(sqlite3 *db, char *errmsg)
{
	char pragmas[96];
	snprintf(pragmas, sizeof(pragmas), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
		 STORE_APP_ID, STORE_SCHEMA_VERSION);
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return store_sql_error(errmsg, db, rc, "creating the schema");
	rc = sqlite3_exec(db, ddl, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int rv = store_sql_error(errmsg, db, rc, "creating the schema");
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rv;
	}
	return 0;
}

/*
 * WAL: readers on other connections see the last commit and never block
 * the writer, which the node's stale reads and store_snapshot rely on.
 */
static int set_wal(sqlite3 *db, char *errmsg)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(s, 0);
		rc = mode != NULL && strcmp((const char *)mode, "wal") == 0 ? SQLITE_OK
									    : SQLITE_ERROR;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return store_sql_error(errmsg, db, rc, "setting journal_mode=WAL");
	return 0;
}

int store_schema_init(sqlite3 *db, char *errmsg)
{
	bool empty = false;
	int rv = check_header(db, &empty, errmsg);
	if (rv != 0)
		return rv;
	rv = set_wal(db, errmsg);
	if (rv != 0)
		return rv;
	return empty ? create(db, errmsg) : 0;
}

int store_schema_check(sqlite3 *db, char *errmsg)
{
	bool empty = false;
	int rv = check_header(db, &empty, errmsg);
	if (rv != 0)
		return rv;
	if (empty) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "not a cairn store: empty database");
		return -STORE_ENOTSTORE;
	}
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *res = sqlite3_column_text(s, 0);
		if (res == NULL || strcmp((const char *)res, "ok") != 0) {
			snprintf(errmsg, STORE_ERRMSG_SIZE, "corrupt store: %s",
				 res != NULL ? (const char *)res : "?");
			sqlite3_finalize(s);
			return -STORE_ENOTSTORE;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_OK)
		return store_sql_error(errmsg, db, rc, "checking the store");
	int64_t n_meta = 0;
	rv = query_int(db,
		       "SELECT count(*) FROM meta WHERE name IN "
		       "('applied_index', 'applied_term', 'tomb_floor')",
		       &n_meta, errmsg);
	if (rv != 0)
		return rv;
	if (n_meta != 3) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "corrupt store: meta rows missing");
		return -STORE_ENOTSTORE;
	}
	return 0;
}
