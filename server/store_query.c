/*
 * store_query: answering reads from a pooled read connection, inside one
 * read transaction so the entries and the index come from the same commit.
 *
 * The query's index (X-Cairn-Index, API.md "Blocking queries") is the last
 * change to what the query covers:
 *   - one key that exists: its modify_index;
 *   - one missing key: the index of the delete that removed it (its
 *     tombstone), else the tombstone floor (0 until a prune happened; see
 *     store_kv.c for why the floor is safe);
 *   - a prefix: the greatest of the modify_index of every key under it, the
 *     delete_index of every tombstone under it, and the floor.
 * An index computed so never decreases as entries apply, and grows when
 * (and, floor moves aside, only when) something the query covers changes.
 *
 * "Under a prefix" is bytewise: key >= prefix AND key < store_prefix_end()
 * on BLOB columns, which SQLite compares with memcmp; no LIKE or GLOB, so
 * '%', '_', '*', NUL and 0xFF bytes are ordinary. ?keys (keys_only) lists
 * the keys under the prefix (it implies recurse), without their values.
 *
 * The result copies everything out of SQLite into memory it owns (an arena
 * and an entries array), so the read connection goes back to the pool at
 * once, and release may run on any thread, even after store_close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

struct query_owner {
	struct store_arena arena;
	struct kv_entry *entries;
	size_t cap;
};

static void release(struct query_result *res)
{
	struct query_owner *o = res->owner;
	if (o != NULL) {
		store_arena_free(&o->arena);
		free(o->entries);
		free(o);
	}
	res->owner = NULL;
	res->entries = NULL;
	res->n_entries = 0;
}

static int fail(struct query_result *out, enum api_status status, int rv, const char *msg)
{
	out->status = status;
	size_t n = strnlen(msg, sizeof(out->message) - 1); /* a longer reason is cut */
	memcpy(out->message, msg, n);
	out->message[n] = 0;
	return rv;
}

/* Appends the current row of s (key, create, modify, version, session
 * [, value]) to the result. */
static int add_row(struct query_owner *o, struct query_result *out, sqlite3_stmt *s, bool value)
{
	if (out->n_entries == o->cap) {
		size_t cap = o->cap > 0 ? o->cap * 2 : 16;
		struct kv_entry *e = realloc(o->entries, cap * sizeof(*e));
		if (e == NULL)
			return -1;
		o->entries = e;
		o->cap = cap;
		out->entries = e;
	}
	struct kv_entry *e = &o->entries[out->n_entries];
	const uint8_t *p;
	size_t n;
	store_column_bytes(s, 0, &p, &n);
	if (store_arena_dup(&o->arena, p, n, &e->key) != 0)
		return -1;
	e->create_index = store_column_u64(s, 1);
	e->modify_index = store_column_u64(s, 2);
	e->version = store_column_u64(s, 3);
	store_column_bytes(s, 4, &p, &n);
	if (store_arena_dup(&o->arena, p, n, &e->session) != 0)
		return -1;
	if (value)
		store_column_bytes(s, 5, &p, &n);
	else
		n = 0;
	if (store_arena_dup(&o->arena, p, n, &e->value) != 0)
		return -1;
	out->n_entries++;
	return 0;
}

/* *v = the integer the statement returns (0 when no row or NULL). */
static int step_u64(sqlite3_stmt *s, uint64_t *v)
{
	int rc = sqlite3_step(s);
	*v = rc == SQLITE_ROW ? store_column_u64(s, 0) : 0;
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static int query_key(struct store_conn *c, const struct query *q, struct query_owner *o,
		     struct query_result *out, uint64_t floor)
{
	/* STMT_KV_GET's columns are those of add_row shifted by one (no key). */
	sqlite3_stmt *s = c->stmt[STMT_KV_GET];
	int rc = store_bind_bytes(s, 1, q->key.p, q->key.len);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		o->entries = malloc(sizeof(*o->entries));
		if (o->entries == NULL) {
			sqlite3_reset(s);
			return SQLITE_NOMEM;
		}
		o->cap = 1;
		out->entries = o->entries;
		struct kv_entry *e = &o->entries[0];
		const uint8_t *p;
		size_t n;
		e->create_index = store_column_u64(s, 0);
		e->modify_index = store_column_u64(s, 1);
		e->version = store_column_u64(s, 2);
		int bad = store_arena_dup(&o->arena, q->key.p, q->key.len, &e->key);
		store_column_bytes(s, 3, &p, &n);
		bad = bad || store_arena_dup(&o->arena, p, n, &e->session);
		store_column_bytes(s, 4, &p, &n);
		bad = bad || store_arena_dup(&o->arena, p, n, &e->value);
		sqlite3_reset(s);
		if (bad)
			return SQLITE_NOMEM;
		out->n_entries = 1;
		out->index = e->modify_index;
		out->status = API_OK;
		return SQLITE_OK;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return rc;
	s = c->stmt[STMT_TOMB_GET];
	sqlite3_bind_int(s, 1, STORE_NS_KV);
	rc = store_bind_bytes(s, 2, q->key.p, q->key.len);
	uint64_t deleted = 0;
	if (rc == SQLITE_OK)
		rc = step_u64(s, &deleted);
	if (rc != SQLITE_OK)
		return rc;
	out->index = max_u64(deleted, floor);
	out->status = API_NOT_FOUND;
	snprintf(out->message, sizeof(out->message), "key not found");
	return SQLITE_OK;
}

static int query_prefix(struct store_conn *c, const struct query *q, struct query_owner *o,
			struct query_result *out, uint64_t floor)
{
	uint8_t end[STORE_KEY_BOUND_LEN];
	size_t end_len = store_prefix_end(q->key.p, q->key.len, end);
	bool value = !q->keys_only;
	sqlite3_stmt *s = c->stmt[value ? STMT_KV_RANGE : STMT_KV_KEYS_RANGE];
	int rc = store_bind_bytes(s, 1, q->key.p, q->key.len);
	if (rc == SQLITE_OK)
		rc = store_bind_bytes(s, 2, end, end_len);
	uint64_t index = floor;
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (add_row(o, out, s, value) != 0) {
				rc = SQLITE_NOMEM;
				break;
			}
			index = max_u64(index, out->entries[out->n_entries - 1].modify_index);
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_OK ? SQLITE_ERROR : rc;
	s = c->stmt[STMT_TOMB_MAX_RANGE];
	sqlite3_bind_int(s, 1, STORE_NS_KV);
	rc = store_bind_bytes(s, 2, q->key.p, q->key.len);
	if (rc == SQLITE_OK)
		rc = store_bind_bytes(s, 3, end, end_len);
	uint64_t deleted = 0;
	if (rc == SQLITE_OK)
		rc = step_u64(s, &deleted);
	if (rc != SQLITE_OK)
		return rc;
	out->index = max_u64(index, deleted);
	out->status = API_OK;
	return SQLITE_OK;
}

int store_query(struct store *st, const struct query *q, struct query_result *out)
{
	memset(out, 0, sizeof(*out));
	out->release = release;
	if (q->type != QUERY_KV_GET)
		return fail(out, API_BAD_REQUEST, -STORE_EINVAL, "unknown query type");
	bool prefix = q->recurse || q->keys_only;
	if (q->key.len > API_KEY_MAX || (!prefix && q->key.len == 0))
		return fail(out, API_BAD_REQUEST, -STORE_EINVAL, "bad key length");
	struct query_owner *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return fail(out, API_INTERNAL, -STORE_ENOMEM, "out of memory");
	out->owner = o;

	char errmsg[STORE_ERRMSG_SIZE];
	struct store_conn *c = NULL;
	int rv = store_reader_get(st, &c, errmsg);
	if (rv != 0)
		return fail(out, API_INTERNAL, rv, errmsg);
	int rc = store_exec_stmt(c->stmt[STMT_BEGIN_READ]);
	uint64_t floor = 0;
	if (rc == SQLITE_OK) {
		sqlite3_stmt *s = c->stmt[STMT_META_GET];
		sqlite3_bind_text(s, 1, "tomb_floor", -1, SQLITE_STATIC);
		rc = step_u64(s, &floor);
	}
	if (rc == SQLITE_OK)
		rc = prefix ? query_prefix(c, q, o, out, floor) : query_key(c, q, o, out, floor);
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(c->stmt[STMT_COMMIT]);
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_NOMEM)
			snprintf(errmsg, sizeof(errmsg), "out of memory answering the query");
		rv = rc == SQLITE_NOMEM ? -STORE_ENOMEM
					: store_sql_error(errmsg, c->db, rc, "query");
		store_reader_put(st, c);
		release(out);
		return fail(out, API_INTERNAL, rv, errmsg);
	}
	store_reader_put(st, c);
	return 0;
}
