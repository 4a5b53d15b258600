/*
 * store: CMD_TXN (server/store_txn.c). Compare kinds, which branch runs,
 * ops in order seeing each other, the results, atomicity (a failed compare
 * or the get-bytes bound changes nothing, mirrors included), tombstones
 * and query indexes of transactional deletes, determinism across batches
 * and restarts, and refusal of corrupt transaction bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_harness.h"

struct fx {
	char *dir;
	struct store *st;
};

static int setup_with(void **state, const struct store_opts *opts)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = sh_tmpdir();
	f->st = sh_open(f->dir, "store.db", opts);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_small_tombstones(void **state)
{
	struct store_opts o = {.tombstone_max = 10};
	return setup_with(state, &o);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->st);
	sh_rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- building transactions ---- */

static struct cmd_bytes b(const char *s)
{
	return (struct cmd_bytes){(const uint8_t *)s, (uint32_t)strlen(s)};
}

static struct cmd_txn_compare cmp_index(const char *key, uint64_t index)
{
	return (struct cmd_txn_compare){
	    .kind = CMD_CMP_MODIFY_INDEX, .key = b(key), .index = index};
}

static struct cmd_txn_compare cmp_absent(const char *key)
{
	return (struct cmd_txn_compare){.kind = CMD_CMP_ABSENT, .key = b(key)};
}

static struct cmd_txn_compare cmp_present(const char *key)
{
	return (struct cmd_txn_compare){.kind = CMD_CMP_PRESENT, .key = b(key)};
}

static struct cmd_txn_compare cmp_value(const char *key, const char *value)
{
	return (struct cmd_txn_compare){.kind = CMD_CMP_VALUE, .key = b(key), .value = b(value)};
}

static struct cmd_txn_op get(const char *key)
{
	return (struct cmd_txn_op){.kind = CMD_OP_GET, .key = b(key)};
}

static struct cmd_txn_op put(const char *key, const char *value)
{
	return (struct cmd_txn_op){.kind = CMD_OP_PUT, .key = b(key), .value = b(value)};
}

static struct cmd_txn_op del(const char *key)
{
	return (struct cmd_txn_op){.kind = CMD_OP_DELETE, .key = b(key)};
}

static struct cmd_txn_op del_prefix(const char *prefix)
{
	return (struct cmd_txn_op){.kind = CMD_OP_DELETE, .key = b(prefix), .recurse = true};
}

#define N(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

static struct cmd_txn mk(const struct cmd_txn_compare *c, uint32_t nc, const struct cmd_txn_op *s,
			 uint32_t ns, const struct cmd_txn_op *f, uint32_t nf)
{
	return (struct cmd_txn){.n_compare = nc,
				.n_success = ns,
				.n_failure = nf,
				.compare = nc ? c : NULL,
				.success = ns ? s : NULL,
				.failure = nf ? f : NULL};
}

static void apply_ok(struct store *st, struct store_entry e)
{
	struct sh_result r = sh_apply1(st, e);
	assert_int_equal(r.r.status, API_OK);
	sh_result_free(&r);
}

static void assert_str(struct cmd_bytes v, const char *s)
{
	assert_non_null(v.p);
	assert_int_equal(v.len, strlen(s));
	assert_memory_equal(v.p, s, v.len);
}

/* Whether a single-compare transaction at index takes the success branch
 * (its op puts a marker key, which the next call deletes again). */
static bool holds(struct store *st, uint64_t *index, struct cmd_txn_compare c)
{
	struct cmd_txn_op s[] = {put("marker", "s")};
	struct cmd_txn t = mk(&c, 1, s, 1, NULL, 0);
	struct sh_result r = sh_apply1(st, sh_txn(++*index, &t));
	assert_int_equal(r.r.status, API_OK);
	bool ok = r.r.succeeded;
	assert_int_equal(r.r.n_txn, ok ? 1 : 0);
	sh_result_free(&r);
	apply_ok(st, sh_del_s(++*index, "marker", false));
	return ok;
}

/* ---- compares ---- */

static void every_compare_kind(void **state)
{
	struct fx *f = *state;
	uint64_t i = 0;
	apply_ok(f->st, sh_put_s(++i, "k", "on")); /* k: modify_index 1 */
	apply_ok(f->st, sh_put_s(++i, "empty", ""));

	assert_true(holds(f->st, &i, cmp_index("k", 1)));
	assert_false(holds(f->st, &i, cmp_index("k", 2)));
	assert_false(holds(f->st, &i, cmp_index("k", 0))); /* 0: absent */
	assert_true(holds(f->st, &i, cmp_index("nope", 0)));
	assert_false(holds(f->st, &i, cmp_index("nope", 1)));

	assert_true(holds(f->st, &i, cmp_absent("nope")));
	assert_false(holds(f->st, &i, cmp_absent("k")));
	assert_true(holds(f->st, &i, cmp_present("k")));
	assert_false(holds(f->st, &i, cmp_present("nope")));

	assert_true(holds(f->st, &i, cmp_value("k", "on")));
	assert_false(holds(f->st, &i, cmp_value("k", "off")));
	assert_false(holds(f->st, &i, cmp_value("k", "o")));
	assert_false(holds(f->st, &i, cmp_value("k", "onn")));
	assert_false(holds(f->st, &i, cmp_value("k", "")));
	assert_true(holds(f->st, &i, cmp_value("empty", "")));
	assert_false(holds(f->st, &i, cmp_value("nope", ""))); /* missing is not empty */

	/* values compare as bytes: NUL included */
	static const uint8_t nul[] = {'a', 0, 'b'};
	apply_ok(f->st, sh_put(++i, "bin", 3, nul, sizeof nul, false, 0));
	struct cmd_txn_compare c = {.kind = CMD_CMP_VALUE, .key = b("bin"), .value = {nul, 3}};
	assert_true(holds(f->st, &i, c));
	c.value.len = 1;
	assert_false(holds(f->st, &i, c));
}

static void all_compares_must_hold(void **state)
{
	struct fx *f = *state;
	uint64_t i = 0;
	apply_ok(f->st, sh_put_s(++i, "a", "1"));
	struct cmd_txn_compare both[] = {cmp_present("a"), cmp_absent("b")};
	struct cmd_txn_op s[] = {put("ran", "success")};
	struct cmd_txn_op fl[] = {put("ran", "failure")};
	struct cmd_txn t = mk(both, 2, s, 1, fl, 1);
	struct sh_result r = sh_apply1(f->st, sh_txn(++i, &t));
	assert_true(r.r.succeeded);
	assert_str(r.r.txn[0].entry.value, "success");
	sh_result_free(&r);

	struct cmd_txn_compare one_fails[] = {cmp_present("a"), cmp_absent("a"), cmp_present("a")};
	t = mk(one_fails, 3, s, 1, fl, 1);
	r = sh_apply1(f->st, sh_txn(++i, &t));
	assert_int_equal(r.r.status, API_OK); /* a failed compare is no error */
	assert_false(r.r.succeeded);
	assert_int_equal(r.r.n_txn, 1);
	assert_str(r.r.txn[0].entry.value, "failure");
	sh_result_free(&r);

	/* no compare at all holds */
	t = mk(NULL, 0, s, 1, fl, 1);
	r = sh_apply1(f->st, sh_txn(++i, &t));
	assert_true(r.r.succeeded);
	sh_result_free(&r);
}

/* Compares see the state before the entry, not the effects of its ops. */
static void compares_see_the_state_before_the_entry(void **state)
{
	struct fx *f = *state;
	struct cmd_txn_compare c[] = {cmp_absent("k")};
	struct cmd_txn_op s[] = {put("k", "1"), put("k", "2")};
	struct cmd_txn t = mk(c, 1, s, 2, NULL, 0);
	struct sh_result r = sh_apply1(f->st, sh_txn(1, &t));
	assert_true(r.r.succeeded);
	sh_result_free(&r);
	r = sh_apply1(f->st, sh_txn(2, &t)); /* k exists now */
	assert_false(r.r.succeeded);
	assert_int_equal(r.r.n_txn, 0);
	sh_result_free(&r);
}

/* ---- ops and results ---- */

static void ops_run_in_order_and_see_each_other(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "a", "old")); /* a: create 1 */
	apply_ok(f->st, sh_put_s(2, "p/1", "x"));
	apply_ok(f->st, sh_put_s(3, "p/2", "y"));
	apply_ok(f->st, sh_put_s(4, "pq", "z"));
	struct cmd_txn_op s[] = {
	    get("a"),       put("a", "new"),  get("a"),          put("a", "newer"),
	    del("a"),       get("a"),         put("a", "again"), get("missing"),
	    del("missing"), del_prefix("p/"), get("p/1"),        get("pq"),
	};
	struct cmd_txn t = mk(NULL, 0, s, N(s), NULL, 0);
	struct sh_result r = sh_apply1(f->st, sh_txn(5, &t));
	assert_int_equal(r.r.status, API_OK);
	assert_true(r.r.succeeded);
	assert_int_equal(r.r.index, 5);
	assert_int_equal(r.r.n_txn, N(s));
	const struct cmd_txn_result *x = r.r.txn;
	for (uint32_t k = 0; k < N(s); k++)
		assert_int_equal(x[k].kind, s[k].kind);
	/* get: the state before */
	assert_true(x[0].found);
	assert_str(x[0].entry.key, "a");
	assert_str(x[0].entry.value, "old");
	assert_int_equal(x[0].entry.create_index, 1);
	assert_int_equal(x[0].entry.modify_index, 1);
	assert_int_equal(x[0].entry.version, 1);
	/* put: the entry as written, at the transaction's index */
	assert_str(x[1].entry.value, "new");
	assert_int_equal(x[1].entry.create_index, 1);
	assert_int_equal(x[1].entry.modify_index, 5);
	assert_int_equal(x[1].entry.version, 2);
	assert_int_equal(x[1].entry.session.len, 0);
	/* a get sees the put before it */
	assert_true(x[2].found);
	assert_str(x[2].entry.value, "new");
	assert_int_equal(x[2].entry.version, 2);
	/* two puts of one key: version twice, modify_index once */
	assert_int_equal(x[3].entry.version, 3);
	assert_int_equal(x[3].entry.modify_index, 5);
	assert_int_equal(x[4].deleted, 1);
	assert_false(x[5].found);
	/* created again within the transaction: indexes start over */
	assert_int_equal(x[6].entry.create_index, 5);
	assert_int_equal(x[6].entry.version, 1);
	assert_false(x[7].found);
	assert_int_equal(x[8].deleted, 0);
	assert_int_equal(x[9].deleted, 2); /* p/1, p/2, not pq */
	assert_false(x[10].found);
	assert_true(x[11].found);
	sh_result_free(&r);

	struct query_result q;
	sh_query(f->st, "", 0, true, false, &q);
	assert_int_equal(q.n_entries, 2);
	assert_str(q.entries[0].key, "a");
	assert_str(q.entries[0].value, "again");
	assert_int_equal(q.entries[0].create_index, 5);
	assert_str(q.entries[1].key, "pq");
	q.release(&q);
}

static void delete_everything_with_the_empty_prefix(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "a", "1"));
	apply_ok(f->st, sh_put_s(2, "b/c", "2"));
	struct cmd_txn_op s[] = {del_prefix(""), put("after", "v")};
	struct cmd_txn t = mk(NULL, 0, s, 2, NULL, 0);
	struct sh_result r = sh_apply1(f->st, sh_txn(3, &t));
	assert_int_equal(r.r.txn[0].deleted, 2);
	sh_result_free(&r);
	char *dump = sh_dump_store(f->st);
	assert_non_null(strstr(dump, "n=1\n"));
	free(dump);
}

/* Deletes made by a transaction leave tombstones: a missing key and a
 * prefix report the transaction's index (blocking queries wake). */
static void transactional_deletes_leave_tombstones(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "w/a", "1"));
	apply_ok(f->st, sh_put_s(2, "w/b", "2"));
	apply_ok(f->st, sh_put_s(3, "x/c", "3"));
	struct cmd_txn_op s[] = {del("w/a"), del_prefix("x/")};
	struct cmd_txn t = mk(NULL, 0, s, 2, NULL, 0);
	apply_ok(f->st, sh_txn(4, &t));
	struct query_result q;
	sh_query(f->st, "w/a", 3, false, false, &q);
	assert_int_equal(q.status, API_NOT_FOUND);
	assert_int_equal(q.index, 4);
	q.release(&q);
	sh_query(f->st, "x/", 2, true, false, &q);
	assert_int_equal(q.n_entries, 0);
	assert_int_equal(q.index, 4);
	q.release(&q);
	sh_query(f->st, "w/", 2, true, false, &q);
	assert_int_equal(q.index, 4);
	q.release(&q);
	/* a put through a transaction forgets the tombstone */
	struct cmd_txn_op again[] = {put("w/a", "back")};
	t = mk(NULL, 0, again, 1, NULL, 0);
	apply_ok(f->st, sh_txn(5, &t));
	sh_query(f->st, "w/a", 3, false, false, &q);
	assert_int_equal(q.status, API_OK);
	assert_int_equal(q.index, 5);
	q.release(&q);
}

/* ---- atomicity ---- */

static void a_failed_compare_changes_nothing(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "a", "1"));
	apply_ok(f->st, sh_put_s(2, "b", "2"));
	char *before = sh_dump_store(f->st);
	struct cmd_txn_compare c[] = {cmp_index("a", 99)};
	struct cmd_txn_op s[] = {put("a", "x"), del("b"), del_prefix(""), put("c", "new")};
	struct cmd_txn t = mk(c, 1, s, N(s), NULL, 0);
	struct sh_result r = sh_apply1(f->st, sh_txn(3, &t));
	assert_false(r.r.succeeded);
	assert_int_equal(r.r.n_txn, 0);
	assert_null(r.r.txn);
	sh_result_free(&r);
	char *after = sh_dump_store(f->st);
	/* the rows are the same; only the listing's index could differ */
	assert_string_equal(before, after);
	assert_int_equal(store_applied_index(f->st), 3);
	struct query_result q;
	sh_query(f->st, "b", 1, false, false, &q);
	assert_int_equal(q.index, 2);
	q.release(&q);
	free(before);
	free(after);
}

/* Gets may return at most CMD_TXN_GET_BYTES_MAX bytes of values; past
 * that, the whole transaction is undone: writes, deletes and tombstones
 * before the get included. */
static void too_many_get_bytes_undo_the_whole_transaction(void **state)
{
	struct fx *f = *state; /* tombstone_max 10: pruning happens inside */
	size_t big_len = CMD_TXN_GET_BYTES_MAX / 2;
	uint8_t *big = malloc(big_len);
	memset(big, 'B', big_len);
	uint64_t i = 0;
	apply_ok(f->st, sh_put(++i, "big", 3, big, big_len, false, 0));
	char key[16];
	for (int k = 0; k < 9; k++) {
		snprintf(key, sizeof key, "d/%d", k);
		apply_ok(f->st, sh_put_s(++i, key, "v"));
	}
	for (int k = 0; k < 9; k++) { /* 9 tombstones: one short of pruning */
		snprintf(key, sizeof key, "d/%d", k);
		apply_ok(f->st, sh_del_s(++i, key, false));
	}
	for (int k = 0; k < 5; k++) {
		snprintf(key, sizeof key, "e/%d", k);
		apply_ok(f->st, sh_put_s(++i, key, "v"));
	}
	char *before = sh_dump_store(f->st);
	uint64_t floor = store_tombstone_floor(f->st);
	assert_int_equal(floor, 0);

	/* exactly at the bound: fine */
	struct cmd_txn_op at[] = {get("big"), get("big")};
	struct cmd_txn t = mk(NULL, 0, at, 2, NULL, 0);
	struct sh_result r = sh_apply1(f->st, sh_txn(++i, &t));
	assert_int_equal(r.r.status, API_OK);
	assert_int_equal(r.r.txn[1].entry.value.len, big_len);
	sh_result_free(&r);

	/* past it: the deletes (which prune tombstones and raise the floor)
	 * and the put are undone */
	struct cmd_txn_op over[] = {del_prefix("e/"), put("new", "v"), get("big"), get("e/1"),
				    get("big"),       get("new"),      get("big")};
	t = mk(NULL, 0, over, N(over), NULL, 0);
	uint64_t too_large_at = ++i;
	r = sh_apply1(f->st, sh_txn(too_large_at, &t));
	assert_int_equal(r.r.status, API_TOO_LARGE);
	assert_int_equal(r.r.index, too_large_at);
	assert_non_null(strstr(r.r.message, "nothing was changed"));
	assert_int_equal(r.r.n_txn, 0);
	sh_result_free(&r);
	char *after = sh_dump_store(f->st);
	assert_string_equal(before, after);
	assert_int_equal(store_tombstone_floor(f->st), 0);
	assert_int_equal(store_applied_index(f->st), too_large_at);
	struct query_result q;
	sh_query(f->st, "new", 3, false, false, &q);
	assert_int_equal(q.status, API_NOT_FOUND);
	assert_int_equal(q.index, 0);
	q.release(&q);

	/* a rolled-back delete that prunes nothing must not count either */
	struct cmd_txn_op one[] = {del("e/0"), get("big"), get("big"), get("big")};
	t = mk(NULL, 0, one, N(one), NULL, 0);
	r = sh_apply1(f->st, sh_txn(++i, &t));
	assert_int_equal(r.r.status, API_TOO_LARGE);
	sh_result_free(&r);

	/* the tombstone count survived both rollbacks: one more delete is the
	 * tenth tombstone and prunes nothing; a store reopened from disk
	 * (which counts the rows) agrees from here on */
	apply_ok(f->st, sh_del_s(++i, "e/0", false));
	assert_int_equal(store_tombstone_floor(f->st), 0);
	apply_ok(f->st, sh_del_s(++i, "e/1", false));
	uint64_t pruned = store_tombstone_floor(f->st);
	assert_true(pruned > 0);
	store_close(f->st);
	f->st = sh_open(f->dir, "store.db", &(struct store_opts){.tombstone_max = 10});
	assert_int_equal(store_tombstone_floor(f->st), pruned);
	free(before);
	free(after);
	free(big);
}

/* ---- determinism and mechanics ---- */

static void results_are_the_same_whatever_the_batches(void **state)
{
	struct fx *f = *state;
	struct store *one = sh_open(f->dir, "one.db", NULL);
	struct sh_collector ca = {0}, cb = {0};
	sh_apply_workload(f->st, 11, 1, 1500, 1, &ca);
	sh_apply_workload(one, 11, 1, 1500, 0, &cb);
	char *ra = sh_dump_results(&ca), *rb = sh_dump_results(&cb);
	assert_string_equal(ra, rb);
	assert_non_null(strstr(ra, "succeeded=1 ops=")); /* transactions ran */
	assert_non_null(strstr(ra, "  op1 "));           /* and got */
	char *qa = sh_dump_queries(f->st), *qb = sh_dump_queries(one);
	assert_string_equal(qa, qb);
	free(ra);
	free(rb);
	free(qa);
	free(qb);
	sh_collector_free(&ca);
	sh_collector_free(&cb);
	store_close(one);
}

static void empty_transaction_advances_the_index(void **state)
{
	struct fx *f = *state;
	struct cmd_txn t = mk(NULL, 0, NULL, 0, NULL, 0);
	struct sh_result r = sh_apply1(f->st, sh_txn(1, &t));
	assert_int_equal(r.r.status, API_OK);
	assert_true(r.r.succeeded);
	assert_int_equal(r.r.n_txn, 0);
	assert_int_equal(r.r.index, 1);
	sh_result_free(&r);
	assert_int_equal(store_applied_index(f->st), 1);
}

static void largest_transaction_applies(void **state)
{
	struct fx *f = *state;
	static struct cmd_txn_compare c[CMD_TXN_MAX];
	static struct cmd_txn_op s[CMD_TXN_MAX], fl[CMD_TXN_MAX];
	static char keys[CMD_TXN_MAX][8];
	for (int k = 0; k < CMD_TXN_MAX; k++) {
		snprintf(keys[k], sizeof keys[k], "k%03d", k);
		c[k] = cmp_absent(keys[k]);
		s[k] = k % 2 ? get(keys[k - 1]) : put(keys[k], keys[k]);
		fl[k] = del(keys[k]);
	}
	struct cmd_txn t = mk(c, CMD_TXN_MAX, s, CMD_TXN_MAX, fl, CMD_TXN_MAX);
	struct sh_result r = sh_apply1(f->st, sh_txn(1, &t));
	assert_true(r.r.succeeded);
	assert_int_equal(r.r.n_txn, CMD_TXN_MAX);
	for (int k = 1; k < CMD_TXN_MAX; k += 2) {
		assert_true(r.r.txn[k].found);
		assert_str(r.r.txn[k].entry.value, keys[k - 1]);
	}
	sh_result_free(&r);
	r = sh_apply1(f->st, sh_txn(2, &t)); /* now k000 exists: failure deletes */
	assert_false(r.r.succeeded);
	uint64_t deleted = 0;
	for (int k = 0; k < CMD_TXN_MAX; k++)
		deleted += r.r.txn[k].deleted;
	assert_int_equal(deleted, CMD_TXN_MAX / 2);
	sh_result_free(&r);
}

static void corrupt_transaction_bytes_are_fatal(void **state)
{
	struct fx *f = *state;
	struct cmd_txn_op s[] = {put("a", "1")};
	struct cmd_txn t = mk(NULL, 0, s, 1, NULL, 0);
	struct store_entry e = sh_txn(1, &t);
	((uint8_t *)e.data)[9] = 9; /* the op's kind */
	struct store_entry batch[2] = {sh_put_s(1, "x", "y"), e};
	batch[1].index = 2;
	assert_int_equal(sh_apply(f->st, batch, 2, NULL), -STORE_EENTRY);
	assert_non_null(strstr(store_errmsg(f->st), "entry 2"));
	assert_int_equal(store_applied_index(f->st), 0); /* the batch rolled back */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(every_compare_kind, setup, teardown),
	    cmocka_unit_test_setup_teardown(all_compares_must_hold, setup, teardown),
	    cmocka_unit_test_setup_teardown(compares_see_the_state_before_the_entry, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(ops_run_in_order_and_see_each_other, setup, teardown),
	    cmocka_unit_test_setup_teardown(delete_everything_with_the_empty_prefix, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(transactional_deletes_leave_tombstones, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(a_failed_compare_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(too_many_get_bytes_undo_the_whole_transaction,
					    setup_small_tombstones, teardown),
	    cmocka_unit_test_setup_teardown(results_are_the_same_whatever_the_batches, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(empty_transaction_advances_the_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(largest_transaction_applies, setup, teardown),
	    cmocka_unit_test_setup_teardown(corrupt_transaction_bytes_are_fatal, setup, teardown),
	};
	return cmocka_run_group_tests_name("store_txn", tests, NULL, NULL);
}
