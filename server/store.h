/*
 * store: cairn's replicated state machine, an SQLite database.
 *
 * The node hands it the committed log entries in order; the store applies
 * them, one SQLite transaction per batch, and records the applied index and
 * term in that same transaction. Readers ask it questions (struct query)
 * from other threads while apply continues. It writes consistent snapshots
 * with SQLite's online backup API and restores received ones.
 *
 * Determinism. Apply depends only on the entries (no clock, no random, no
 * environment, no batch boundaries): every replica that applied the same
 * entries up to index i holds the same rows, whatever batches it used.
 * An entry the store cannot decode (unknown command version or type, an
 * unknown entry type) is a fatal error: it never guesses.
 *
 * Durability. The Raft log is the durable record; the store runs with
 * journal_mode=WAL and synchronous=NORMAL: a commit appends to the WAL
 * without an fsync; checkpoints (on a thread of the store's own, see
 * store_checkpoint.c) copy the WAL into the database file and fsync. A
 * crash may lose the last transactions, but never tears one, and the
 * applied index is in the same transaction as the rows it covers, so after
 * a crash store_applied_index() is exactly what the database holds and the
 * node replays the log from the entry after it. Before the node drops log
 * entries the store has applied, it must make sure the store cannot lose
 * them: call store_sync(), or on restart restore the newest snapshot when
 * store_applied_index() is below its index.
 *
 * Threads.
 *   - One "apply" thread (the node loop) calls store_apply_batch,
 *     store_restore, store_sync, store_config and store_errmsg, never two at
 *     once; store_open/store_close run with no other call in flight.
 *   - store_query may be called from any thread, the apply thread included,
 *     at the same time as apply, restore and each other (a pool of read-only
 *     connections, each used by one thread at a time; WAL readers see the
 *     last committed batch and never block the writer).
 *   - store_snapshot may run on any thread at the same time as all of the
 *     above (it opens its own connections); running it off the apply
 *     thread keeps apply going while a large store is copied.
 *   - store_applied_index, store_applied_term and store_tombstone_floor are
 *     safe from any thread.
 *   - The store runs one thread of its own, the WAL checkpointer, from
 *     store_open to store_close.
 *
 * Errors. Functions return 0 or a negative code, -STORE_E*. Every error
 * from store_apply_batch is fatal for the node: the batch was rolled back,
 * the store refuses further batches, and the node must stop (a restart
 * replays the log from the applied index).
 *
 * Out of memory: calls return -STORE_ENOMEM (a query answers API_INTERNAL).
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

#define STORE_ERRORS(X)                                                        \
	X(STORE_OK, "ok")                                                      \
	X(STORE_ENOMEM, "out of memory")                                       \
	X(STORE_EINVAL, "invalid argument")                                    \
	X(STORE_ENOTSTORE, "not a cairn store")                                \
	X(STORE_EVERSION, "unsupported store schema version")                  \
	X(STORE_EENTRY, "undecodable log entry (fatal: the node must stop)")   \
	X(STORE_EIO, "SQLite error (fatal when applying: the node must stop)") \
	X(STORE_EFAILED, "the store failed earlier and applies nothing more")

enum store_error {
#define STORE_ERR_ENUM(code, msg) code,
	STORE_ERRORS(STORE_ERR_ENUM)
#undef STORE_ERR_ENUM
	    STORE_ERROR_COUNT
};
/* rv is 0 or -STORE_E*; the string is static. */
const char *store_strerror(int rv);

#define STORE_ERRMSG_SIZE 256
/* Bump when the schema changes; a store or snapshot of another version is
 * refused (-STORE_EVERSION) rather than misread. */
#define STORE_SCHEMA_VERSION 1

struct store_opts {
	/* Most read-only connections kept for store_query; a query finding all
	 * busy waits for one. Default 4. */
	unsigned max_readers;
	/* Pages copied per sqlite3_backup_step by store_snapshot. Default 256. */
	int snapshot_step_pages;
	/* Tombstones kept before the oldest are pruned (see store_kv.c). Part
	 * of the replicated semantics: every replica must use the same value,
	 * so the node leaves it 0 (default, 100000); tests set it small. */
	uint64_t tombstone_max;
	/* Tests only: called by store_snapshot after each backup step, on its
	 * thread, with the step number (from 1). NULL in production. */
	void (*snapshot_step_hook)(void *arg, unsigned step);
	void *snapshot_step_arg;
};

/* Fills o with the defaults (a zero field in opts also means default). */
void store_opts_default(struct store_opts *o);

struct store;

/*
 * Opens the store at path, creating an empty one (applied index 0) when the
 * file is missing or empty. A file that is not a cairn store is
 * -STORE_ENOTSTORE, one of another schema version -STORE_EVERSION. opts
 * may be NULL (defaults); it is copied. On success the caller owns *out
 * (store_close). errmsg (STORE_ERRMSG_SIZE bytes) gets the reason on
 * failure.
 */
int store_open(const char *path, const struct store_opts *opts, struct store **out, char *errmsg);
/* Closes every connection and frees st. No other call may be in flight.
 * Query results are self-contained: they may be released after close. */
void store_close(struct store *st);
/* The reason for the last failure of an apply-thread call; borrowed until
 * the next such call. */
const char *store_errmsg(const struct store *st);

/* Index and term of the last applied entry (0, 0 when none). */
uint64_t store_applied_index(const struct store *st);
uint64_t store_applied_term(const struct store *st);

/* ---- apply ---- */

/* Entry types, numbered as raftcore's enum rc_entry_type so the node can
 * pass rc_entry.type through unchanged. */
enum store_entry_type {
	STORE_ENTRY_COMMAND = 1, /* data: cmd_encode() output */
	STORE_ENTRY_NOOP = 2,    /* advances the applied index only */
	STORE_ENTRY_CONFIG = 3,  /* data: a membership, opaque; kept as the
				    latest configuration (store_config) */
};

struct store_entry {
	uint64_t index;
	uint64_t term;
	uint8_t type; /* enum store_entry_type */
	const void *data;
	size_t len;
};

/*
 * Called once per applied command entry, in log order, after the batch's
 * transaction committed. res and every byte string it points to are
 * borrowed for the duration of the call only (copy what must outlive it).
 * Not called for noop and config entries, nor for skipped entries.
 */
typedef void (*store_result_cb)(void *arg, uint64_t index, uint64_t term,
				const struct cmd_result *res);

/*
 * Applies entries[0..n) in one transaction. Entries at or below the
 * applied index are skipped (a replay after restart); the first entry
 * above it must be applied_index + 1 and the rest consecutive, else
 * -STORE_EINVAL. Command entries are decoded with cmd_decode and applied;
 * a command that fails its precondition (CAS) is a normal result, not an
 * error. entries and their data are borrowed for the call. cb may be NULL.
 * Any error is fatal (see the file comment); store_errmsg says why.
 */
int store_apply_batch(struct store *st, const struct store_entry *entries, size_t n,
		      store_result_cb cb, void *arg);

/*
 * Makes everything applied so far durable (fsyncs the WAL and the database
 * file). Call it before dropping log entries the store has applied. A
 * failure is fatal, like a failed apply.
 */
int store_sync(struct store *st);

/*
 * The latest applied configuration entry: its index (0 when none) and a
 * malloc'ed copy of its data the caller owns (free; NULL when none).
 */
int store_config(struct store *st, uint64_t *index, uint8_t **data, size_t *len);

/* ---- queries ---- */

/*
 * Answers q from the last committed state (the node waits for the applied
 * index it needs before asking): one key, or with recurse (or keys_only,
 * which implies it) every key under the bytewise prefix q->key, sorted. out->status is API_OK, API_NOT_FOUND (one
 * key, missing) or an error status with out->message; out->index is the
 * query's X-Cairn-Index (see store_query.c). Whatever the result, out is
 * owned by the store until the caller calls out->release(out), from any
 * thread, once; the entries' bytes stay valid until then. Returns 0, or
 * -STORE_E* when out->status is API_INTERNAL or API_BAD_REQUEST.
 */
int store_query(struct store *st, const struct query *q, struct query_result *out);

/*
 * Everything below which a missing key may report its deletion index: the
 * newest index of a pruned tombstone (0 when none was pruned). It grows
 * only when tombstones are pruned; a waiter whose index is below it must be
 * woken then (its query answers at least this).
 */
uint64_t store_tombstone_floor(const struct store *st);

/* ---- snapshots ---- */

struct store_snapshot_info {
	uint64_t index; /* applied index of the copy */
	uint64_t term;
	uint64_t config_index; /* the configuration in force at index */
	uint8_t *config;       /* malloc'ed, caller frees; NULL when none */
	size_t config_len;
};

/*
 * Writes a consistent copy of the database to dest_path (created, or an
 * existing file overwritten: storage_snap_writer_path), a plain SQLite
 * file (rollback journal mode, no -wal) that store_restore accepts and the
 * sqlite3 shell opens. The copy is not fsynced: the caller makes it durable
 * (storage_snap_commit). Apply and queries continue meanwhile: the backup
 * reads one WAL snapshot held open by a read transaction, and the applied
 * index is read in that transaction and checked against the copy itself.
 * info is filled on success (free info->config). errmsg: STORE_ERRMSG_SIZE.
 */
int store_snapshot(struct store *st, const char *dest_path, struct store_snapshot_info *info,
		   char *errmsg);

/*
 * Replaces the whole state with the snapshot file at src_path (read, never
 * modified). The file is validated first (a cairn store of this schema
 * version that passes SQLite's quick_check); an invalid file is
 * -STORE_ENOTSTORE, -STORE_EVERSION or -STORE_EIO and changes nothing. The
 * replacement is one transaction: concurrent queries see the old state or
 * the new one. Afterwards the applied index is the snapshot's.
 */
int store_restore(struct store *st, const char *src_path);

#endif
