/*
 * store_kv: the KV commands, PUT and DELETE, inside the apply transaction;
 * and the tombstones that remember deletions.
 *
 * Entry indexes (API.md): create_index is the index of the write that
 * created the key, modify_index of its last write, version the number of
 * writes since creation (1 on create). A delete removes the row, so a key
 * created again starts over.
 *
 * CAS: PUT with cas=N writes only if the key exists with modify_index N;
 * cas=0 only if it is absent. DELETE with cas: the same, except that a
 * missing key with cas=0 is a successful delete of nothing. A failed CAS
 * answers API_CAS_FAILED with the current entry when there is one. cas
 * with recurse is refused (API_BAD_REQUEST): no single key to compare.
 *
 * Deletion indexes and tombstones. A query's index (store_query.c) is the
 * last change to what it covers, deletions included: a missing key reports
 * the index that deleted it, a prefix the newest write or delete under it.
 * So every delete that removes a key records (STORE_NS_KV, key,
 * delete_index) in tombstones; creating the key again removes its
 * tombstone (so a tombstone never names a live key, and a key's
 * modify_index supersedes it anyway).
 *
 * Bound: at most tombstone_max tombstones are kept. When a command leaves
 * more, the oldest are pruned until at most 90% remain (so pruning runs
 * once per tombstone_max/10 deletions, not on every one), and meta
 * "tomb_floor" becomes the newest delete_index pruned. Every surviving
 * tombstone is newer than the floor. A query answers at least the floor
 * whenever a pruned tombstone could matter to it (a missing key without a
 * tombstone, any prefix): the floor is >= the deletion it stands for, so an
 * index is never reported below the true last change and a blocking query
 * never misses a change; the price is that after a prune such queries may
 * report an index newer than their true last change, waking a waiter once.
 * Pruning depends only on the applied entries, never on batches or time,
 * so replicas keep identical tombstones.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

static const uint8_t empty_bytes[1];

static struct cmd_bytes nonnull(struct cmd_bytes b)
{
	if (b.p == NULL)
		b.p = empty_bytes;
	return b;
}

static int sql_err(struct store *st, int rc, const char *what)
{
	return store_sql_error(st->errmsg, st->w->db, rc, what);
}

/* Whether the key exists, and its create_index, modify_index, version. */
struct kv_head {
	bool found;
	uint64_t create_index;
	uint64_t modify_index;
	uint64_t version;
};

static int kv_head(struct store *st, struct cmd_bytes key, struct kv_head *h)
{
	sqlite3_stmt *s = st->w->stmt[STMT_KV_GET];
	int rc = store_bind_bytes(s, 1, key.p, key.len);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	memset(h, 0, sizeof(*h));
	h->found = rc == SQLITE_ROW;
	if (h->found) {
		h->create_index = store_column_u64(s, 0);
		h->modify_index = store_column_u64(s, 1);
		h->version = store_column_u64(s, 2);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(st, rc, "reading a key");
	return 0;
}

/* Whether a CAS precondition holds: cas=0 means absent, else the key's
 * modify_index. */
static bool cas_holds(const struct kv_head *h, uint64_t cas)
{
	return h->found ? cas != 0 && h->modify_index == cas : cas == 0;
}

int store_kv_read(struct store *st, struct cmd_bytes key, bool *found, struct kv_entry *e)
{
	sqlite3_stmt *s = st->w->stmt[STMT_KV_GET];
	int rc = store_bind_bytes(s, 1, key.p, key.len);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	*found = rc == SQLITE_ROW;
	int rv = 0;
	if (rc == SQLITE_ROW && e != NULL) {
		const uint8_t *p;
		size_t n;
		memset(e, 0, sizeof(*e));
		e->create_index = store_column_u64(s, 0);
		e->modify_index = store_column_u64(s, 1);
		e->version = store_column_u64(s, 2);
		rv = store_arena_dup(&st->scratch, key.p, key.len, &e->key);
		store_column_bytes(s, 3, &p, &n);
		if (rv == 0)
			rv = store_arena_dup(&st->scratch, p, n, &e->session);
		store_column_bytes(s, 4, &p, &n);
		if (rv == 0)
			rv = store_arena_dup(&st->scratch, p, n, &e->value);
		if (rv != 0) {
			store_set_errmsg(st, "out of memory copying an entry");
			rv = -STORE_ENOMEM;
		}
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rv = sql_err(st, rc, "reading a key");
	}
	sqlite3_reset(s);
	return rv;
}

/* Fills res as a failed CAS, with a copy of the current entry (in
 * st->scratch) when the key exists. */
static int cas_failed(struct store *st, struct cmd_bytes key, uint64_t cas, struct cmd_result *res)
{
	res->status = API_CAS_FAILED;
	int rv = store_kv_read(st, key, &res->has_current, &res->current);
	if (rv != 0)
		return rv;
	if (!res->has_current)
		snprintf(res->message, sizeof(res->message),
			 "cas failed: the key does not exist (cas=%" PRIu64 ")", cas);
	else if (cas == 0)
		snprintf(res->message, sizeof(res->message),
			 "cas failed: cas=0 requires the key to be absent");
	else
		snprintf(res->message, sizeof(res->message),
			 "cas failed: modify_index is %" PRIu64 ", not %" PRIu64,
			 res->current.modify_index, cas);
	return 0;
}

static bool bad_key(struct cmd_bytes key, bool prefix, struct cmd_result *res)
{
	if ((key.len > 0 || prefix) && key.len <= API_KEY_MAX)
		return false;
	res->status = API_BAD_REQUEST;
	snprintf(res->message, sizeof(res->message), "key must be 1 to %d bytes", API_KEY_MAX);
	return true;
}

static int tomb_forget(struct store *st, struct cmd_bytes key)
{
	if (st->tomb_count == 0)
		return 0;
	sqlite3_stmt *s = st->w->stmt[STMT_TOMB_DELETE];
	sqlite3_bind_int(s, 1, STORE_NS_KV);
	int rc = store_bind_bytes(s, 2, key.p, key.len);
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "removing a tombstone");
	st->tomb_count -= (uint64_t)sqlite3_changes(st->w->db);
	return 0;
}

/* Writes key = value at index over what h says is there. */
static int write_over(struct store *st, uint64_t index, struct cmd_bytes key,
		      struct cmd_bytes value, const struct kv_head *h, struct kv_entry *e)
{
	sqlite3_stmt *s = st->w->stmt[h->found ? STMT_KV_UPDATE : STMT_KV_INSERT];
	int rc = store_bind_bytes(s, 1, key.p, key.len);
	if (rc == SQLITE_OK)
		rc = store_bind_bytes(s, 2, value.p, value.len);
	if (rc == SQLITE_OK)
		rc = store_bind_u64(s, 3, index);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_null(s, 4); /* sessions arrive with a later command */
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "writing a key");
	if (!h->found) {
		int rv = tomb_forget(st, key);
		if (rv != 0)
			return rv;
	}
	if (e == NULL)
		return 0;
	e->key = nonnull(key);
	e->value = nonnull(value);
	e->create_index = h->found ? h->create_index : index;
	e->modify_index = index;
	e->version = h->found ? h->version + 1 : 1;
	e->session = nonnull((struct cmd_bytes){0});
	return 0;
}

int store_kv_write(struct store *st, uint64_t index, struct cmd_bytes key, struct cmd_bytes value,
		   struct kv_entry *e)
{
	struct kv_head h;
	int rv = kv_head(st, key, &h);
	return rv != 0 ? rv : write_over(st, index, key, value, &h, e);
}

static int kv_put(struct store *st, uint64_t index, const struct cmd_kv_put *p,
		  struct cmd_result *res)
{
	if (bad_key(p->key, false, res))
		return 0;
	struct kv_head h;
	int rv = kv_head(st, p->key, &h);
	if (rv != 0)
		return rv;
	if (p->has_cas && !cas_holds(&h, p->cas))
		return cas_failed(st, p->key, p->cas, res);
	rv = write_over(st, index, p->key, p->value, &h, &res->entry);
	if (rv != 0)
		return rv;
	res->status = API_OK;
	res->has_entry = true;
	return 0;
}

int store_kv_prune(struct store *st)
{
	uint64_t max = st->opts.tombstone_max;
	if (st->tomb_count <= max)
		return 0;
	uint64_t excess = st->tomb_count - (max - max / 10);
	sqlite3_stmt *s = st->w->stmt[STMT_TOMB_NTH];
	store_bind_u64(s, 1, excess - 1);
	int rc = sqlite3_step(s);
	uint64_t upto = rc == SQLITE_ROW ? store_column_u64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return sql_err(st, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
			       "finding old tombstones");
	s = st->w->stmt[STMT_TOMB_PRUNE];
	store_bind_u64(s, 1, upto);
	rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "pruning tombstones");
	st->tomb_count -= (uint64_t)sqlite3_changes(st->w->db);
	if (upto <= st->floor_next)
		return 0;
	st->floor_next = upto;
	s = st->w->stmt[STMT_META_SET];
	sqlite3_bind_text(s, 1, "tomb_floor", -1, SQLITE_STATIC);
	store_bind_u64(s, 2, upto);
	rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "writing the tombstone floor");
	return 0;
}

int store_kv_remove(struct store *st, uint64_t index, struct cmd_bytes key, uint64_t *deleted)
{
	sqlite3_stmt *s = st->w->stmt[STMT_KV_DELETE];
	int rc = store_bind_bytes(s, 1, key.p, key.len);
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "deleting a key");
	*deleted = (uint64_t)sqlite3_changes(st->w->db);
	if (*deleted == 0)
		return 0;
	s = st->w->stmt[STMT_TOMB_PUT];
	sqlite3_bind_int(s, 1, STORE_NS_KV);
	rc = store_bind_bytes(s, 2, key.p, key.len);
	if (rc == SQLITE_OK)
		rc = store_bind_u64(s, 3, index);
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "recording a tombstone");
	st->tomb_count++;
	return store_kv_prune(st);
}

int store_kv_remove_prefix(struct store *st, uint64_t index, struct cmd_bytes prefix,
			   uint64_t *deleted)
{
	uint8_t end[STORE_KEY_BOUND_LEN];
	size_t end_len = store_prefix_end(prefix.p, prefix.len, end);
	/* Tombstones first, while the keys are still there to name. */
	sqlite3_stmt *s = st->w->stmt[STMT_KV_TOMB_RANGE];
	int rc = store_bind_bytes(s, 1, prefix.p, prefix.len);
	if (rc == SQLITE_OK)
		rc = store_bind_bytes(s, 2, end, end_len);
	if (rc == SQLITE_OK)
		rc = store_bind_u64(s, 3, index);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 4, STORE_NS_KV);
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "recording tombstones");
	uint64_t tombs = (uint64_t)sqlite3_changes(st->w->db);
	s = st->w->stmt[STMT_KV_DELETE_RANGE];
	rc = store_bind_bytes(s, 1, prefix.p, prefix.len);
	if (rc == SQLITE_OK)
		rc = store_bind_bytes(s, 2, end, end_len);
	if (rc == SQLITE_OK)
		rc = store_exec_stmt(s);
	if (rc != SQLITE_OK)
		return sql_err(st, rc, "deleting keys");
	*deleted = (uint64_t)sqlite3_changes(st->w->db);
	if (*deleted != tombs) {
		store_set_errmsg(
		    st, "entry %" PRIu64 ": deleted %" PRIu64 " keys but %" PRIu64 " tombstones",
		    index, *deleted, tombs);
		return -STORE_EIO;
	}
	st->tomb_count += tombs;
	return tombs > 0 ? store_kv_prune(st) : 0;
}

static int delete_one(struct store *st, uint64_t index, const struct cmd_kv_delete *d,
		      struct cmd_result *res)
{
	if (bad_key(d->key, false, res))
		return 0;
	if (d->has_cas) {
		struct kv_head h;
		int rv = kv_head(st, d->key, &h);
		if (rv != 0)
			return rv;
		if (!cas_holds(&h, d->cas))
			return cas_failed(st, d->key, d->cas, res);
	}
	int rv = store_kv_remove(st, index, d->key, &res->deleted);
	if (rv == 0)
		res->status = API_OK;
	return rv;
}

static int delete_prefix(struct store *st, uint64_t index, const struct cmd_kv_delete *d,
			 struct cmd_result *res)
{
	if (bad_key(d->key, true, res))
		return 0;
	if (d->has_cas) {
		res->status = API_BAD_REQUEST;
		snprintf(res->message, sizeof(res->message), "cas cannot be combined with recurse");
		return 0;
	}
	int rv = store_kv_remove_prefix(st, index, d->key, &res->deleted);
	if (rv == 0)
		res->status = API_OK;
	return rv;
}

int store_kv_apply(struct store *st, uint64_t index, const struct cmd *c, struct cmd_result *res)
{
	if (c->type == CMD_KV_PUT)
		return kv_put(st, index, &c->u.put, res);
	if (c->u.del.recurse)
		return delete_prefix(st, index, &c->u.del, res);
	return delete_one(st, index, &c->u.del, res);
}
