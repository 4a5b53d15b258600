/*
 * store_int: what the store_*.c files share; not for use outside store.
 *
 * Connections. The writer (st->w) belongs to the apply thread. Readers sit
 * in a pool guarded by st->mu: a query takes one, uses it alone, and puts
 * it back. Every connection prepares its statements once, at open.
 */
#ifndef CAIRN_STORE_INT_H
#define CAIRN_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "store_arena.h"

/* SQLite "application_id" of a cairn store ("CAIR"). */
#define STORE_APP_ID 0x43414952

/* Namespaces of the tombstones table: whose deletion a row remembers. */
enum store_ns {
	STORE_NS_KV = 1,
	STORE_NS_LOCK = 2,    /* later: lock releases */
	STORE_NS_SERVICE = 3, /* later: instance deregistrations */
};

/* One greater than any key: API_KEY_MAX + 1 bytes of 0xFF (see
 * store_prefix_end). */
#define STORE_KEY_BOUND_LEN (API_KEY_MAX + 1)

/* Where a statement is prepared: W the writer only, R readers only, A all. */
#define STORE_STMTS(X)                                                                           \
	X(STMT_BEGIN_WRITE, W, "BEGIN IMMEDIATE")                                                \
	X(STMT_BEGIN_READ, R, "BEGIN")                                                           \
	X(STMT_COMMIT, A, "COMMIT")                                                              \
	X(STMT_ROLLBACK, A, "ROLLBACK")                                                          \
	X(STMT_TXN_SAVEPOINT, W, "SAVEPOINT txn")                                                \
	X(STMT_TXN_RELEASE, W, "RELEASE txn")                                                    \
	X(STMT_TXN_ROLLBACK_TO, W, "ROLLBACK TO txn")                                            \
	X(STMT_META_GET, A, "SELECT value FROM meta WHERE name = ?1")                            \
	X(STMT_META_SET, W, "UPDATE meta SET value = ?2 WHERE name = ?1")                        \
	X(STMT_CONFIG_GET, A, "SELECT config_index, data FROM raft_config WHERE id = 1")         \
	X(STMT_CONFIG_SET, W,                                                                    \
	  "INSERT OR REPLACE INTO raft_config(id, config_index, data) VALUES (1, ?1, ?2)")       \
	X(STMT_KV_GET, A,                                                                        \
	  "SELECT create_index, modify_index, version, session, value FROM kv WHERE key = ?1")   \
	X(STMT_KV_INSERT, W,                                                                     \
	  "INSERT INTO kv(key, create_index, modify_index, version, session, value) "            \
	  "VALUES (?1, ?3, ?3, 1, ?4, ?2)")                                                      \
	X(STMT_KV_UPDATE, W,                                                                     \
	  "UPDATE kv SET modify_index = ?3, version = version + 1, session = ?4, value = ?2 "    \
	  "WHERE key = ?1")                                                                      \
	X(STMT_KV_DELETE, W, "DELETE FROM kv WHERE key = ?1")                                    \
	X(STMT_KV_TOMB_RANGE, W,                                                                 \
	  "INSERT INTO tombstones(ns, key, delete_index) "                                       \
	  "SELECT ?4, key, ?3 FROM kv WHERE key >= ?1 AND key < ?2")                             \
	X(STMT_KV_DELETE_RANGE, W, "DELETE FROM kv WHERE key >= ?1 AND key < ?2")                \
	X(STMT_KV_RANGE, R,                                                                      \
	  "SELECT key, create_index, modify_index, version, session, value FROM kv "             \
	  "WHERE key >= ?1 AND key < ?2 ORDER BY key")                                           \
	X(STMT_KV_KEYS_RANGE, R,                                                                 \
	  "SELECT key, create_index, modify_index, version, session FROM kv "                    \
	  "WHERE key >= ?1 AND key < ?2 ORDER BY key")                                           \
	X(STMT_TOMB_GET, R, "SELECT delete_index FROM tombstones WHERE ns = ?1 AND key = ?2")    \
	X(STMT_TOMB_MAX_RANGE, R,                                                                \
	  "SELECT max(delete_index) FROM tombstones WHERE ns = ?1 AND key >= ?2 AND key < ?3")   \
	X(STMT_TOMB_PUT, W, "INSERT INTO tombstones(ns, key, delete_index) VALUES (?1, ?2, ?3)") \
	X(STMT_TOMB_DELETE, W, "DELETE FROM tombstones WHERE ns = ?1 AND key = ?2")              \
	X(STMT_TOMB_COUNT, W, "SELECT count(*) FROM tombstones")                                 \
	X(STMT_TOMB_NTH, W,                                                                      \
	  "SELECT delete_index FROM tombstones ORDER BY delete_index LIMIT 1 OFFSET ?1")         \
	X(STMT_TOMB_PRUNE, W, "DELETE FROM tombstones WHERE delete_index <= ?1")

enum store_stmt {
#define STORE_STMT_ENUM(id, where, sql) id,
	STORE_STMTS(STORE_STMT_ENUM)
#undef STORE_STMT_ENUM
	    STMT_COUNT
};

struct store_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_COUNT]; /* NULL where not prepared */
	struct store_conn *next;        /* the idle list */
};

struct store {
	char *path;
	struct store_opts opts;
	struct store_conn *w; /* the writer: apply thread only */

	/* Mirrors of meta rows, written by the apply thread after commit. */
	_Atomic uint64_t applied_index;
	_Atomic uint64_t applied_term;
	_Atomic uint64_t tomb_floor;
	uint64_t tomb_count; /* rows in tombstones (apply thread) */
	uint64_t floor_next; /* tomb_floor inside the open apply transaction */
	bool failed;         /* a batch failed: refuse everything */
	char errmsg[STORE_ERRMSG_SIZE];

	/* Apply-batch scratch: results and the bytes they point to. */
	struct cmd_result *results;
	size_t results_cap;
	struct store_arena scratch;

	/* The checkpointer (store_checkpoint.c). */
	sqlite3 *ckpt_db;
	pthread_t ckpt_thread;
	pthread_mutex_t ckpt_mu;
	pthread_cond_t ckpt_cv;
	bool ckpt_wanted, ckpt_stop;
	int ckpt_next, ckpt_last_frames; /* the WAL hook's (apply thread) */
	_Atomic bool ckpt_failed;
	char ckpt_errmsg[STORE_ERRMSG_SIZE];

	/* The reader pool. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_conn *idle;
	unsigned n_readers; /* open, idle or busy */
};

/* ---- store_sql.c: connections and statement helpers ---- */

/* Opens a connection to path: the writer (read-write; creates the file and
 * the schema when missing, checks them otherwise: store_schema_init) or a
 * reader (query_only; the store must exist). Applies the role's pragmas and
 * prepares its statements. The caller owns *out (store_conn_close). */
int store_conn_open(const char *path, bool writer, struct store_conn **out, char *errmsg);
/* Just an SQLite handle (flags: SQLITE_OPEN_*), extended result codes and a
 * busy timeout on. The caller owns *out (sqlite3_close). */
int store_db_open(const char *path, int flags, sqlite3 **out, char *errmsg);
/* Finalizes the statements, closes the handle, frees c; NULL is a no-op. */
void store_conn_close(struct store_conn *c);

/* Fills errmsg with "what: <sqlite message>" and returns -STORE_ENOMEM or
 * -STORE_EIO as rc says. */
int store_sql_error(char *errmsg, sqlite3 *db, int rc, const char *what);
/* Binds n bytes as a BLOB (never NULL, also when empty). p is borrowed
 * until the statement is reset. */
int store_bind_bytes(sqlite3_stmt *s, int i, const void *p, size_t n);
int store_bind_u64(sqlite3_stmt *s, int i, uint64_t v);
/* A column as bytes; an empty or NULL value gives a non-NULL pointer and
 * 0. Borrowed until the statement steps or resets. */
void store_column_bytes(sqlite3_stmt *s, int i, const uint8_t **p, size_t *n);
uint64_t store_column_u64(sqlite3_stmt *s, int i);
/* Steps a statement expected to return no row, then resets it. */
int store_exec_stmt(sqlite3_stmt *s);
/*
 * The exclusive upper bound of the keys under prefix: the prefix with its
 * trailing 0xFF bytes dropped and its last byte incremented, or, when no
 * such byte is left (empty or all 0xFF), STORE_KEY_BOUND_LEN bytes of 0xFF,
 * which is above every key of at most API_KEY_MAX bytes. out has room for
 * STORE_KEY_BOUND_LEN bytes; returns the bound's length.
 */
size_t store_prefix_end(const uint8_t *prefix, size_t n, uint8_t *out);

/* ---- store_schema.c ---- */

/* Creates the schema in an empty database or checks an existing one is a
 * cairn store of STORE_SCHEMA_VERSION; also sets journal_mode=WAL. */
int store_schema_init(sqlite3 *db, char *errmsg);
/* Checks db (a snapshot, opened read-only) is a cairn store of this
 * version with its meta rows, and passes quick_check: 0, -STORE_ENOTSTORE,
 * -STORE_EVERSION or -STORE_EIO. */
int store_schema_check(sqlite3 *db, char *errmsg);
/* The tables, in the order a restore copies them. NULL-terminated. */
extern const char *const store_schema_tables[];

/* ---- store.c ---- */

/* Loads the meta mirrors (applied index/term, floor, tombstone count) from
 * the writer. */
int store_load_meta(struct store *st);
/* Takes an idle reader, opening one while fewer than max_readers exist,
 * else waits for one. The caller has it alone until store_reader_put. */
int store_reader_get(struct store *st, struct store_conn **out, char *errmsg);
/* Returns c to the pool (rolling back a transaction an error left open). */
void store_reader_put(struct store *st, struct store_conn *c);
/* True when the store failed (an apply or a checkpoint) and must refuse
 * apply-thread calls; st->errmsg keeps the first reason. */
bool store_refuses(struct store *st);
/* Formats st->errmsg (apply thread). */
void store_set_errmsg(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- store_checkpoint.c ---- */

/* Opens the checkpointer's connection, starts its thread and hooks the
 * writer's commits. st->ckpt_mu and st->ckpt_cv must be initialized. */
int store_checkpointer_start(struct store *st, char *errmsg);
/* Unhooks, stops and joins the thread, closes its connection; a no-op when
 * it was not started. */
void store_checkpointer_stop(struct store *st);
/* True once a checkpoint failed; copies its reason into st->errmsg. */
bool store_checkpointer_failed(struct store *st);

/* ---- store_kv.c: the KV commands (inside the apply transaction) ---- */

/* Applies c (CMD_KV_PUT or CMD_KV_DELETE) at index into res. Byte strings
 * in res point into c's buffers or st->scratch. 0 or -STORE_E* (fatal). */
int store_kv_apply(struct store *st, uint64_t index, const struct cmd *c, struct cmd_result *res);
/* Prunes the oldest tombstones once more than tombstone_max are kept. */
int store_kv_prune(struct store *st);

/* The building blocks of the commands, shared with store_txn.c. Keys are
 * valid (the codec checked them); all return 0 or -STORE_E* (fatal). */
/* Whether key exists (*found); when it does and e is not NULL, *e is its
 * entry with the bytes copied into st->scratch. */
int store_kv_read(struct store *st, struct cmd_bytes key, bool *found, struct kv_entry *e);
/* key = value at index, unconditionally; e (may be NULL) gets the entry as
 * written, its key and value pointing at the caller's key and value. */
int store_kv_write(struct store *st, uint64_t index, struct cmd_bytes key, struct cmd_bytes value,
		   struct kv_entry *e);
/* Deletes key at index (a tombstone remembers it); *deleted: 0 or 1. */
int store_kv_remove(struct store *st, uint64_t index, struct cmd_bytes key, uint64_t *deleted);
/* Deletes every key under prefix (bytewise; "" is everything). */
int store_kv_remove_prefix(struct store *st, uint64_t index, struct cmd_bytes prefix,
			   uint64_t *deleted);

/* ---- store_txn.c ---- */

/* Applies c (CMD_TXN, decoded form) at index into res, atomically (see
 * store_txn.c). Byte strings and the op results live in c's buffer or
 * st->scratch. 0 or -STORE_E* (fatal). */
int store_txn_apply(struct store *st, uint64_t index, const struct cmd *c, struct cmd_result *res);

#endif
