/*
 * store_apply: committed entries into the database, one transaction per
 * batch, the applied index and term written in that same transaction.
 *
 * Invariants:
 *   - the state after entry i depends only on entries 1..i: a batch is a
 *     transaction boundary, nothing else (the KV commands and the
 *     tombstone pruning act per entry);
 *   - an entry at or below the applied index is never applied twice;
 *   - results reach the callback only once the transaction committed, so a
 *     client is never told of a write a crash could still undo, short of
 *     the log replaying it identically;
 *   - on any failure the transaction rolls back and st->failed stays set:
 *     the in-memory mirrors may be ahead of the database and the node must
 *     stop, never carry on past an entry it could not apply.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static int fail(struct store *st, int rv)
{
	st->failed = true;
	if (!sqlite3_get_autocommit(st->w->db))
		sqlite3_exec(st->w->db, "ROLLBACK", NULL, NULL, NULL);
	return rv;
}

static int sql_fail(struct store *st, int rc, const char *what)
{
	return fail(st, store_sql_error(st->errmsg, st->w->db, rc, what));
}

static int reserve_results(struct store *st, size_t n)
{
	if (n <= st->results_cap)
		return 0;
	size_t cap = st->results_cap > 0 ? st->results_cap : 64;
	while (cap < n)
		cap *= 2;
	struct cmd_result *r = realloc(st->results, cap * sizeof(*r));
	if (r == NULL)
		return -1;
	st->results = r;
	st->results_cap = cap;
	return 0;
}

static int meta_set(struct store *st, const char *name, uint64_t v)
{
	sqlite3_stmt *s = st->w->stmt[STMT_META_SET];
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	store_bind_u64(s, 2, v);
	int rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return store_sql_error(st->errmsg, st->w->db, rc, "writing meta");
	if (sqlite3_changes(st->w->db) != 1) {
		store_set_errmsg(st, "corrupt store: meta row %s missing", name);
		return -STORE_EIO;
	}
	return 0;
}

/* Applies one command entry into res. */
static int apply_command(struct store *st, const struct store_entry *e, struct cmd_result *res)
{
	struct cmd c;
	if (e->data == NULL || cmd_decode(e->data, e->len, &c) != 0) {
		store_set_errmsg(st,
				 "entry %llu: undecodable command (%zu bytes; unknown version or "
				 "type, or corrupt)",
				 (unsigned long long)e->index, e->len);
		return -STORE_EENTRY;
	}
	memset(res, 0, sizeof(*res));
	res->index = e->index;
	switch (c.type) {
	case CMD_KV_PUT:
	case CMD_KV_DELETE:
		return store_kv_apply(st, e->index, &c, res);
	case CMD_TXN:
		return store_txn_apply(st, e->index, &c, res);
	default:
		store_set_errmsg(st, "entry %llu: command type %u unknown to the store",
				 (unsigned long long)e->index, (unsigned)c.type);
		return -STORE_EENTRY;
	}
}

static int apply_config(struct store *st, const struct store_entry *e)
{
	sqlite3_stmt *s = st->w->stmt[STMT_CONFIG_SET];
	store_bind_u64(s, 1, e->index);
	int rc = store_bind_bytes(s, 2, e->data, e->data != NULL ? e->len : 0);
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return store_sql_error(st->errmsg, st->w->db, rc, "recording the configuration");
	return 0;
}

int store_apply_batch(struct store *st, const struct store_entry *entries, size_t n,
		      store_result_cb cb, void *arg)
{
	if (store_refuses(st))
		return -STORE_EFAILED; /* st->errmsg still says why */
	uint64_t applied = atomic_load(&st->applied_index);
	size_t first = 0;
	while (first < n && entries[first].index <= applied)
		first++; /* a replay: already in the database */
	if (first == n)
		return 0;
	for (size_t i = first; i < n; i++) {
		uint64_t want = applied + 1 + (i - first);
		if (entries[i].index != want) {
			store_set_errmsg(st, "entry %llu out of order: expected %llu",
					 (unsigned long long)entries[i].index,
					 (unsigned long long)want);
			return fail(st, -STORE_EINVAL);
		}
	}
	if (reserve_results(st, n - first) != 0) {
		store_set_errmsg(st, "out of memory applying %zu entries", n - first);
		return fail(st, -STORE_ENOMEM);
	}
	store_arena_reset(&st->scratch);
	st->floor_next = atomic_load(&st->tomb_floor);

	int rc = store_exec_stmt(st->w->stmt[STMT_BEGIN_WRITE]);
	if (rc != SQLITE_OK)
		return sql_fail(st, rc, "beginning the apply transaction");
	size_t n_results = 0;
	for (size_t i = first; i < n; i++) {
		const struct store_entry *e = &entries[i];
		int rv = 0;
		switch (e->type) {
		case STORE_ENTRY_COMMAND:
			rv = apply_command(st, e, &st->results[n_results++]);
			break;
		case STORE_ENTRY_NOOP:
			break;
		case STORE_ENTRY_CONFIG:
			rv = apply_config(st, e);
			break;
		default:
			store_set_errmsg(st, "entry %llu: unknown entry type %u",
					 (unsigned long long)e->index, (unsigned)e->type);
			rv = -STORE_EENTRY;
		}
		if (rv != 0)
			return fail(st, rv);
	}
	const struct store_entry *last = &entries[n - 1];
	int rv = meta_set(st, "applied_index", last->index);
	if (rv == 0)
		rv = meta_set(st, "applied_term", last->term);
	if (rv != 0)
		return fail(st, rv);
	rc = store_exec_stmt(st->w->stmt[STMT_COMMIT]);
	if (rc != SQLITE_OK)
		return sql_fail(st, rc, "committing the apply transaction");

	atomic_store(&st->applied_index, last->index);
	atomic_store(&st->applied_term, last->term);
	atomic_store(&st->tomb_floor, st->floor_next);
	if (cb == NULL)
		return 0;
	size_t r = 0;
	for (size_t i = first; i < n; i++) {
		if (entries[i].type != STORE_ENTRY_COMMAND)
			continue;
		cb(arg, entries[i].index, entries[i].term, &st->results[r++]);
	}
	return 0;
}
