/*
 * store_txn: CMD_TXN, a transaction of compares and ops, applied inside
 * the batch's SQLite transaction (API.md "Transactions").
 *
 * Semantics, identical on every replica (they depend only on the state
 * before the entry and on the command):
 *   - Every compare is evaluated against the state before the entry:
 *       modify_index N  the key exists with modify_index N (N = 0: the key
 *                       is absent, as ?cas=0)
 *       absent / present  whether the key exists
 *       value V         the key exists and its value is exactly V
 *     All hold: the success ops run and the result says succeeded; else
 *     the failure ops run. An empty compare list holds.
 *   - Ops run in order, each seeing the effects of the ones before it (a
 *     get after a put of the same key returns what the put wrote), all at
 *     the entry's index: a put behaves like PUT /v1/kv without cas, a
 *     delete like DELETE (recurse: every key under the prefix), a get
 *     reads one key. Two puts of one key in one transaction bump its
 *     version twice; both entries carry modify_index = index.
 *   - Results: one per op of the branch that ran, in order.
 *
 * Atomicity. The ops run inside SAVEPOINT txn. Short of a fatal error
 * (which fails the whole batch, as anywhere in apply) one thing can stop
 * them: the values the gets return may total at most
 * CMD_TXN_GET_BYTES_MAX; past that the savepoint is rolled back, the
 * in-memory mirrors it covers (tomb_count, floor_next) are restored, and
 * the result is API_TOO_LARGE with nothing changed. That bound keeps the
 * memory a transaction costs every replica's apply thread (and the answer)
 * near the request limit, whatever the stored values.
 *
 * Memory: the unpacked lists, the results and the bytes gets copy out of
 * SQLite live in st->scratch until the next batch; puts' entries point
 * into the command's own bytes. Both outlive the result callback.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

static int sql_err(struct store *st, int rc, const char *what)
{
	return store_sql_error(st->errmsg, st->w->db, rc, what);
}

static void *scratch_array(struct store *st, size_t n, size_t size)
{
	void *p = store_arena_alloc(&st->scratch, n * size);
	if (p == NULL)
		store_set_errmsg(st, "out of memory applying a transaction");
	return p;
}

/* Whether compare m holds in the current state. */
static int compare(struct store *st, const struct cmd_txn_compare *m, bool *holds)
{
	sqlite3_stmt *s = st->w->stmt[STMT_KV_GET];
	int rc = store_bind_bytes(s, 1, m->key.p, m->key.len);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	bool found = rc == SQLITE_ROW;
	const uint8_t *p;
	size_t n;
	switch (m->kind) {
	case CMD_CMP_MODIFY_INDEX:
		*holds = m->index == 0 ? !found : found && store_column_u64(s, 1) == m->index;
		break;
	case CMD_CMP_ABSENT:
		*holds = !found;
		break;
	case CMD_CMP_PRESENT:
		*holds = found;
		break;
	case CMD_CMP_VALUE:
		*holds = false;
		if (found) {
			store_column_bytes(s, 4, &p, &n);
			*holds = n == m->value.len && (n == 0 || memcmp(p, m->value.p, n) == 0);
		}
		break;
	default:
		*holds = false; /* the codec admits no other kind */
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(st, rc, "comparing a key");
	return 0;
}

/* Runs ops[0..n) into results; *too_large when the gets passed the bound
 * (the caller rolls back). */
static int run_ops(struct store *st, uint64_t index, const struct cmd_txn_op *ops, uint32_t n,
		   struct cmd_txn_result *results, bool *too_large)
{
	uint64_t get_bytes = 0;
	*too_large = false;
	for (uint32_t i = 0; i < n; i++) {
		const struct cmd_txn_op *o = &ops[i];
		struct cmd_txn_result *r = &results[i];
		int rv;
		memset(r, 0, sizeof(*r));
		r->kind = o->kind;
		switch (o->kind) {
		case CMD_OP_GET:
			rv = store_kv_read(st, o->key, &r->found, &r->entry);
			if (rv == 0 && r->found) {
				get_bytes += r->entry.value.len;
				if (get_bytes > CMD_TXN_GET_BYTES_MAX) {
					*too_large = true;
					return 0;
				}
			}
			break;
		case CMD_OP_PUT:
			rv = store_kv_write(st, index, o->key, o->value, &r->entry);
			break;
		case CMD_OP_DELETE:
			rv = o->recurse ? store_kv_remove_prefix(st, index, o->key, &r->deleted)
					: store_kv_remove(st, index, o->key, &r->deleted);
			break;
		default:
			store_set_errmsg(st, "entry %" PRIu64 ": unknown transaction op %u", index,
					 (unsigned)o->kind);
			return -STORE_EENTRY;
		}
		if (rv != 0)
			return rv;
	}
	return 0;
}

static int exec(struct store *st, enum store_stmt id, const char *what)
{
	int rc = store_exec_stmt(st->w->stmt[id]);
	return rc == SQLITE_OK ? 0 : sql_err(st, rc, what);
}

int store_txn_apply(struct store *st, uint64_t index, const struct cmd *c, struct cmd_result *res)
{
	const struct cmd_txn *t = &c->u.txn;
	struct cmd_txn_compare *cmp = scratch_array(st, t->n_compare, sizeof(*cmp));
	struct cmd_txn_op *succ = scratch_array(st, t->n_success, sizeof(*succ));
	struct cmd_txn_op *fail = scratch_array(st, t->n_failure, sizeof(*fail));
	if (cmp == NULL || succ == NULL || fail == NULL)
		return -STORE_ENOMEM;
	if (cmd_txn_unpack(t, cmp, succ, fail) != 0) {
		store_set_errmsg(st, "entry %" PRIu64 ": undecodable transaction", index);
		return -STORE_EENTRY;
	}

	bool holds = true;
	for (uint32_t i = 0; i < t->n_compare && holds; i++) {
		int rv = compare(st, &cmp[i], &holds);
		if (rv != 0)
			return rv;
	}
	const struct cmd_txn_op *ops = holds ? succ : fail;
	uint32_t n = holds ? t->n_success : t->n_failure;
	struct cmd_txn_result *results = scratch_array(st, n, sizeof(*results));
	if (results == NULL)
		return -STORE_ENOMEM;

	uint64_t tomb_count = st->tomb_count, floor_next = st->floor_next;
	int rv = exec(st, STMT_TXN_SAVEPOINT, "opening the transaction's savepoint");
	bool too_large = false;
	if (rv == 0)
		rv = run_ops(st, index, ops, n, results, &too_large);
	if (rv != 0)
		return rv; /* fatal: the batch rolls back */
	if (too_large) {
		rv = exec(st, STMT_TXN_ROLLBACK_TO, "rolling back a transaction");
		st->tomb_count = tomb_count;
		st->floor_next = floor_next;
	}
	if (rv == 0)
		rv = exec(st, STMT_TXN_RELEASE, "releasing the transaction's savepoint");
	if (rv != 0)
		return rv;
	if (too_large) {
		res->status = API_TOO_LARGE;
		snprintf(res->message, sizeof(res->message),
			 "the transaction's gets would return more than %u bytes of values; "
			 "nothing was changed",
			 (unsigned)CMD_TXN_GET_BYTES_MAX);
		return 0;
	}
	res->status = API_OK;
	res->succeeded = holds;
	res->txn = n > 0 ? results : NULL;
	res->n_txn = n;
	return 0;
}
