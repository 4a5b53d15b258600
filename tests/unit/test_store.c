/*
 * store: apply and query semantics (API.md Key/value and Blocking queries):
 * entry indexes, CAS, deletes, bytewise prefixes, the per-query index of
 * missing keys and prefixes, tombstone pruning, replay and fatal entries.
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

/* ---- small helpers ---- */

static void apply_ok(struct store *st, struct store_entry e)
{
	struct sh_result r = sh_apply1(st, e);
	assert_int_equal(r.r.status, API_OK);
	sh_result_free(&r);
}

static void assert_bytes(struct cmd_bytes b, const void *p, size_t n)
{
	assert_non_null(b.p);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.p, p, n);
}

static void assert_str(struct cmd_bytes b, const char *s)
{
	assert_bytes(b, s, strlen(s));
}

/* Queries one key (C string) and checks status and index. */
static void expect_key(struct store *st, const char *key, enum api_status status, uint64_t index)
{
	struct query_result r;
	sh_query(st, key, strlen(key), false, false, &r);
	assert_int_equal(r.status, status);
	assert_int_equal(r.index, index);
	assert_int_equal(r.n_entries, status == API_OK ? 1 : 0);
	r.release(&r);
}

/* Queries a prefix and checks the index and the keys, in order
 * (NULL-terminated list of C strings). */
static void expect_prefix(struct store *st, const void *prefix, size_t plen, uint64_t index, ...)
{
	struct query_result r;
	sh_query(st, prefix, plen, true, false, &r);
	assert_int_equal(r.status, API_OK);
	assert_int_equal(r.index, index);
	va_list ap;
	va_start(ap, index);
	size_t i = 0;
	const char *k;
	while ((k = va_arg(ap, const char *)) != NULL) {
		assert_true(i < r.n_entries);
		assert_str(r.entries[i].key, k);
		i++;
	}
	va_end(ap);
	assert_int_equal(r.n_entries, i);
	r.release(&r);
}

/* ---- entry indexes ---- */

static void put_creates_entry_with_indexes(void **state)
{
	struct fx *f = *state;
	struct sh_result r = sh_apply1(f->st, sh_put_s(1, "app/db/host", "10.0.0.5"));
	assert_int_equal(r.r.status, API_OK);
	assert_int_equal(r.r.index, 1);
	assert_true(r.r.has_entry);
	assert_str(r.r.entry.key, "app/db/host");
	assert_str(r.r.entry.value, "10.0.0.5");
	assert_int_equal(r.r.entry.create_index, 1);
	assert_int_equal(r.r.entry.modify_index, 1);
	assert_int_equal(r.r.entry.version, 1);
	assert_int_equal(r.r.entry.session.len, 0);
	sh_result_free(&r);

	struct query_result q;
	sh_query(f->st, "app/db/host", 11, false, false, &q);
	assert_int_equal(q.status, API_OK);
	assert_int_equal(q.index, 1);
	assert_int_equal(q.n_entries, 1);
	assert_str(q.entries[0].value, "10.0.0.5");
	assert_int_equal(q.entries[0].create_index, 1);
	assert_int_equal(q.entries[0].modify_index, 1);
	assert_int_equal(q.entries[0].version, 1);
	q.release(&q);
	assert_int_equal(store_applied_index(f->st), 1);
}

static void put_again_bumps_version_and_keeps_create_index(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "k", "a"));
	apply_ok(f->st, sh_put_s(2, "other", "x"));
	struct sh_result r = sh_apply1(f->st, sh_put_s(3, "k", "b"));
	assert_int_equal(r.r.entry.create_index, 1);
	assert_int_equal(r.r.entry.modify_index, 3);
	assert_int_equal(r.r.entry.version, 2);
	sh_result_free(&r);
	expect_key(f->st, "k", API_OK, 3);
}

static void delete_then_recreate_resets_indexes(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "k", "a"));
	apply_ok(f->st, sh_put_s(2, "k", "b"));
	struct sh_result r = sh_apply1(f->st, sh_del_s(3, "k", false));
	assert_int_equal(r.r.deleted, 1);
	assert_false(r.r.has_entry);
	sh_result_free(&r);
	r = sh_apply1(f->st, sh_put_s(4, "k", "c"));
	assert_int_equal(r.r.entry.create_index, 4);
	assert_int_equal(r.r.entry.modify_index, 4);
	assert_int_equal(r.r.entry.version, 1);
	sh_result_free(&r);
}

static void values_keep_nul_bytes_and_may_be_empty(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put(1, "bin", 3, "a\0b\xff", 4, false, 0));
	apply_ok(f->st, sh_put(2, "empty", 5, "", 0, false, 0));
	struct query_result q;
	sh_query(f->st, "bin", 3, false, false, &q);
	assert_bytes(q.entries[0].value, "a\0b\xff", 4);
	q.release(&q);
	sh_query(f->st, "empty", 5, false, false, &q);
	assert_int_equal(q.status, API_OK);
	assert_bytes(q.entries[0].value, "", 0);
	q.release(&q);
}

/* ---- CAS ---- */

static void put_cas_zero_creates_only_when_absent(void **state)
{
	struct fx *f = *state;
	struct sh_result r = sh_apply1(f->st, sh_cas_s(1, "k", "first", 0));
	assert_int_equal(r.r.status, API_OK);
	assert_int_equal(r.r.entry.version, 1);
	sh_result_free(&r);

	r = sh_apply1(f->st, sh_cas_s(2, "k", "second", 0));
	assert_int_equal(r.r.status, API_CAS_FAILED);
	assert_int_equal(r.r.index, 2);
	assert_false(r.r.has_entry);
	assert_true(r.r.has_current);
	assert_str(r.r.current.key, "k");
	assert_str(r.r.current.value, "first");
	assert_int_equal(r.r.current.modify_index, 1);
	assert_int_equal(r.r.current.version, 1);
	assert_true(strlen(r.r.message) > 0);
	sh_result_free(&r);
	expect_key(f->st, "k", API_OK, 1); /* unchanged */
	assert_int_equal(store_applied_index(f->st), 2);
}

static void put_cas_requires_the_current_modify_index(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "k", "a"));
	apply_ok(f->st, sh_put_s(2, "k", "b"));

	struct sh_result r = sh_apply1(f->st, sh_cas_s(3, "k", "stale", 1));
	assert_int_equal(r.r.status, API_CAS_FAILED);
	assert_true(r.r.has_current);
	assert_str(r.r.current.value, "b");
	assert_int_equal(r.r.current.modify_index, 2);
	assert_int_equal(r.r.current.create_index, 1);
	assert_int_equal(r.r.current.version, 2);
	sh_result_free(&r);

	r = sh_apply1(f->st, sh_cas_s(4, "k", "fresh", 2));
	assert_int_equal(r.r.status, API_OK);
	assert_int_equal(r.r.entry.version, 3);
	assert_int_equal(r.r.entry.modify_index, 4);
	sh_result_free(&r);

	/* A missing key never matches a non-zero cas; no current entry. */
	r = sh_apply1(f->st, sh_cas_s(5, "missing", "x", 4));
	assert_int_equal(r.r.status, API_CAS_FAILED);
	assert_false(r.r.has_current);
	sh_result_free(&r);
	expect_key(f->st, "missing", API_NOT_FOUND, 0);

	/* The largest cas is just a number that does not match. */
	r = sh_apply1(f->st, sh_cas_s(6, "k", "x", UINT64_MAX));
	assert_int_equal(r.r.status, API_CAS_FAILED);
	sh_result_free(&r);
}

static void delete_of_missing_key_is_ok_unless_cas_names_an_index(void **state)
{
	struct fx *f = *state;
	struct sh_result r = sh_apply1(f->st, sh_del_s(1, "nope", false));
	assert_int_equal(r.r.status, API_OK);
	assert_int_equal(r.r.deleted, 0);
	sh_result_free(&r);

	r = sh_apply1(f->st, sh_del(2, "nope", 4, false, true, 0));
	assert_int_equal(r.r.status, API_OK);
	assert_int_equal(r.r.deleted, 0);
	sh_result_free(&r);

	r = sh_apply1(f->st, sh_del(3, "nope", 4, false, true, 7));
	assert_int_equal(r.r.status, API_CAS_FAILED);
	assert_false(r.r.has_current);
	sh_result_free(&r);
	/* Deleting nothing is no change: the key's index stays 0. */
	expect_key(f->st, "nope", API_NOT_FOUND, 0);
}

static void delete_cas_on_existing_key(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "k", "a"));
	struct sh_result r = sh_apply1(f->st, sh_del(2, "k", 1, false, true, 0));
	assert_int_equal(r.r.status, API_CAS_FAILED); /* cas=0: only if absent */
	assert_true(r.r.has_current);
	assert_str(r.r.current.value, "a");
	sh_result_free(&r);
	r = sh_apply1(f->st, sh_del(3, "k", 1, false, true, 9));
	assert_int_equal(r.r.status, API_CAS_FAILED);
	assert_int_equal(r.r.current.modify_index, 1);
	sh_result_free(&r);
	expect_key(f->st, "k", API_OK, 1);
	r = sh_apply1(f->st, sh_del(4, "k", 1, false, true, 1));
	assert_int_equal(r.r.status, API_OK);
	assert_int_equal(r.r.deleted, 1);
	sh_result_free(&r);
	expect_key(f->st, "k", API_NOT_FOUND, 4);
}

static void delete_recurse_with_cas_is_refused(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "p/a", "1"));
	struct sh_result r = sh_apply1(f->st, sh_del(2, "p/", 2, true, true, 1));
	assert_int_equal(r.r.status, API_BAD_REQUEST);
	sh_result_free(&r);
	expect_key(f->st, "p/a", API_OK, 1);
}

/* ---- prefixes ---- */

static void prefix_is_bytewise_and_sorted(void **state)
{
	struct fx *f = *state;
	const char *keys[] = {"app/bc", "app/b",        "apple", "app/b/x", "app/a",
			      "ap",     "app/\xc3\xa9", "app/B", "b"};
	for (uint64_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		apply_ok(f->st, sh_put_s(i + 1, keys[i], "v"));
	/* app/b matches app/bc (bytewise, not path segments); sorted by bytes:
	 * 'B' (0x42) < 'a' < 'b' < 0xc3. */
	expect_prefix(f->st, "app/b", 5, 4, "app/b", "app/b/x", "app/bc", NULL);
	expect_prefix(f->st, "app/", 4, 8, "app/B", "app/a", "app/b", "app/b/x", "app/bc",
		      "app/\xc3\xa9", NULL);
	expect_prefix(f->st, "app", 3, 8, "app/B", "app/a", "app/b", "app/b/x", "app/bc",
		      "app/\xc3\xa9", "apple", NULL);
	/* A prefix equal to a whole key includes it. */
	expect_prefix(f->st, "apple", 5, 3, "apple", NULL);
	expect_prefix(f->st, "zzz", 3, 0, NULL);
}

static void empty_prefix_lists_every_key(void **state)
{
	struct fx *f = *state;
	expect_prefix(f->st, "", 0, 0, NULL);
	apply_ok(f->st, sh_put_s(1, "b", "2"));
	apply_ok(f->st, sh_put_s(2, "a", "1"));
	apply_ok(f->st, sh_put_s(3, "\xf4\x8f\xbf\xbf", "max"));
	expect_prefix(f->st, "", 0, 3, "a", "b", "\xf4\x8f\xbf\xbf", NULL);
	struct query_result q;
	sh_query(f->st, "", 0, true, false, &q);
	assert_str(q.entries[0].value, "1");
	assert_str(q.entries[2].value, "max");
	q.release(&q);
}

static void prefix_with_0xff_bytes(void **state)
{
	struct fx *f = *state;
	/* 0xF4 0x8F 0xBF 0xBF (U+10FFFF) is the greatest UTF-8 a key can hold;
	 * 0xFF never appears in a key but may in a prefix. */
	apply_ok(f->st, sh_put_s(1, "a", "1"));
	apply_ok(f->st, sh_put_s(2, "a\xf4\x8f\xbf\xbf", "2"));
	apply_ok(f->st, sh_put_s(3, "b", "3"));
	apply_ok(f->st, sh_put_s(4, "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", "4"));
	expect_prefix(f->st, "a\xff", 2, 0, NULL);
	expect_prefix(f->st, "a\xff\xff", 3, 0, NULL);
	expect_prefix(f->st, "\xff", 1, 0, NULL);
	expect_prefix(f->st, "\xff\xff\xff", 3, 0, NULL);
	expect_prefix(f->st, "a\xf4", 2, 2, "a\xf4\x8f\xbf\xbf", NULL);
	expect_prefix(f->st, "\xf4\x8f\xbf\xbf", 4, 4, "\xf4\x8f\xbf\xbf\xf4\x8f\xbf\xbf", NULL);
	expect_prefix(f->st, "a", 1, 2, "a", "a\xf4\x8f\xbf\xbf", NULL);
	/* A recursive delete under the greatest UTF-8 character. */
	struct sh_result r = sh_apply1(f->st, sh_del(5, "\xf4\x8f\xbf\xbf", 4, true, false, 0));
	assert_int_equal(r.r.deleted, 1);
	sh_result_free(&r);
	expect_prefix(f->st, "", 0, 5, "a", "a\xf4\x8f\xbf\xbf", "b", NULL);
}

static void prefix_treats_like_and_glob_characters_as_bytes(void **state)
{
	struct fx *f = *state;
	const char *keys[] = {"a%b", "a_b", "axb", "a*b", "a?b", "a[b", "A_B"};
	for (uint64_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		apply_ok(f->st, sh_put_s(i + 1, keys[i], "v"));
	expect_prefix(f->st, "a%", 2, 1, "a%b", NULL);
	expect_prefix(f->st, "a_", 2, 2, "a_b", NULL);
	expect_prefix(f->st, "a*", 2, 4, "a*b", NULL);
	expect_prefix(f->st, "a?", 2, 5, "a?b", NULL);
	expect_prefix(f->st, "a[", 2, 6, "a[b", NULL);
	expect_key(f->st, "a_b", API_OK, 2);
	expect_key(f->st, "a%", API_NOT_FOUND, 0);
}

static void nul_bytes_in_a_query_are_not_terminators(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "a", "1"));
	apply_ok(f->st, sh_put_s(2, "ab", "2"));
	apply_ok(f->st, sh_put_s(3, "a\x01", "3"));
	expect_prefix(f->st, "a\0", 2, 0, NULL);
	expect_prefix(f->st, "a\0b", 3, 0, NULL);
	struct query_result q;
	sh_query(f->st, "a\0b", 3, false, false, &q);
	assert_int_equal(q.status, API_NOT_FOUND);
	q.release(&q);
	/* "a" < "a\0" < "a\x01" in byte order. */
	expect_prefix(f->st, "a", 1, 3, "a", "a\x01", "ab", NULL);
}

static void keys_only_lists_names_without_values(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "cfg/b", "bbbb"));
	apply_ok(f->st, sh_put_s(2, "cfg/a", "aaaa"));
	apply_ok(f->st, sh_put_s(3, "other", "x"));
	struct query_result q;
	sh_query(f->st, "cfg/", 4, false, true, &q); /* keys implies recurse */
	assert_int_equal(q.status, API_OK);
	assert_int_equal(q.index, 2);
	assert_int_equal(q.n_entries, 2);
	assert_str(q.entries[0].key, "cfg/a");
	assert_str(q.entries[1].key, "cfg/b");
	assert_int_equal(q.entries[0].value.len, 0);
	assert_non_null(q.entries[0].value.p);
	assert_int_equal(q.entries[1].modify_index, 1);
	q.release(&q);
}

static void bad_queries_are_refused(void **state)
{
	struct fx *f = *state;
	struct query_result q;
	struct query bad_type = {.type = 99, .key = {(const uint8_t *)"k", 1}};
	assert_int_equal(store_query(f->st, &bad_type, &q), -STORE_EINVAL);
	assert_int_equal(q.status, API_BAD_REQUEST);
	q.release(&q);
	struct query empty = {.type = QUERY_KV_GET, .key = {(const uint8_t *)"", 0}};
	assert_int_equal(store_query(f->st, &empty, &q), -STORE_EINVAL);
	q.release(&q);
	static uint8_t big[API_KEY_MAX + 1];
	struct query huge = {.type = QUERY_KV_GET, .key = {big, sizeof(big)}, .recurse = true};
	assert_int_equal(store_query(f->st, &huge, &q), -STORE_EINVAL);
	q.release(&q);
}

/* ---- the per-query index (X-Cairn-Index) ---- */

static void missing_key_reports_its_deletion_or_zero(void **state)
{
	struct fx *f = *state;
	expect_key(f->st, "k", API_NOT_FOUND, 0); /* never written */
	apply_ok(f->st, sh_put_s(1, "k", "a"));
	apply_ok(f->st, sh_del_s(2, "k", false));
	expect_key(f->st, "k", API_NOT_FOUND, 2);
	apply_ok(f->st, sh_put_s(3, "unrelated", "x"));
	apply_ok(f->st, sh_del_s(4, "unrelated", false));
	expect_key(f->st, "k", API_NOT_FOUND, 2); /* unrelated changes do not move it */
	apply_ok(f->st, sh_put_s(5, "k", "b"));
	expect_key(f->st, "k", API_OK, 5);
	apply_ok(f->st, sh_del_s(6, "k", true)); /* a recursive delete is a deletion too */
	expect_key(f->st, "k", API_NOT_FOUND, 6);
}

static void prefix_index_covers_writes_and_deletes_under_it(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "p/a", "1"));
	apply_ok(f->st, sh_put_s(2, "q", "1"));
	expect_prefix(f->st, "p/", 2, 1, "p/a", NULL);
	apply_ok(f->st, sh_put_s(3, "p/b", "1"));
	expect_prefix(f->st, "p/", 2, 3, "p/a", "p/b", NULL);
	apply_ok(f->st, sh_del_s(4, "p/b", false));
	expect_prefix(f->st, "p/", 2, 4, "p/a", NULL); /* a delete is a change */
	apply_ok(f->st, sh_del_s(5, "p/", true));
	expect_prefix(f->st, "p/", 2, 5, NULL); /* empty, but changed at 5 */
	apply_ok(f->st, sh_put_s(6, "q", "2"));
	apply_ok(f->st, sh_put_s(7, "p", "not under p/"));
	expect_prefix(f->st, "p/", 2, 5, NULL);
	apply_ok(f->st, sh_put_s(8, "p/a", "again"));
	expect_prefix(f->st, "p/", 2, 8, "p/a", NULL);
	expect_prefix(f->st, "", 0, 8, "p", "p/a", "q", NULL);
	/* Deleting nothing under a prefix changes nothing. */
	struct sh_result r = sh_apply1(f->st, sh_del_s(9, "zz/", true));
	assert_int_equal(r.r.deleted, 0);
	sh_result_free(&r);
	expect_prefix(f->st, "zz/", 3, 0, NULL);
}

static void pruned_tombstones_raise_the_floor_never_lower_an_index(void **state)
{
	struct fx *f = *state; /* tombstone_max = 10 */
	uint64_t idx = 0;
	char key[16];
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "t/%02d", i);
		apply_ok(f->st, sh_put_s(++idx, key, "v"));
	}
	assert_int_equal(store_tombstone_floor(f->st), 0);
	for (int i = 0; i < 30; i++) { /* deleted at 31..60 */
		snprintf(key, sizeof(key), "t/%02d", i);
		apply_ok(f->st, sh_del_s(++idx, key, false));
	}
	uint64_t floor = store_tombstone_floor(f->st);
	assert_true(floor > 31 && floor < 60);
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "t/%02d", i);
		uint64_t deleted_at = 31 + (uint64_t)i;
		struct query_result q;
		sh_query(f->st, key, strlen(key), false, false, &q);
		assert_int_equal(q.status, API_NOT_FOUND);
		/* Never below the true deletion; exact while the tombstone lives. */
		if (deleted_at > floor)
			assert_int_equal(q.index, deleted_at);
		else
			assert_int_equal(q.index, floor);
		q.release(&q);
	}
	/* A never-written key (and any prefix) reports at least the floor. */
	expect_key(f->st, "never", API_NOT_FOUND, floor);
	expect_prefix(f->st, "t/", 2, 60, NULL);
	expect_prefix(f->st, "x/", 2, floor, NULL);
	/* A recursive delete of many keys at once is pruned too. */
	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "r/%02d", i);
		apply_ok(f->st, sh_put_s(++idx, key, "v"));
	}
	struct sh_result r = sh_apply1(f->st, sh_del_s(++idx, "r/", true));
	assert_int_equal(r.r.deleted, 25);
	sh_result_free(&r);
	assert_int_equal(store_tombstone_floor(f->st), idx);
	expect_key(f->st, "r/03", API_NOT_FOUND, idx);
	expect_key(f->st, "t/29", API_NOT_FOUND, idx);
	/* Recreating a key forgets its tombstone; its index is its write. */
	apply_ok(f->st, sh_put_s(++idx, "r/03", "back"));
	expect_key(f->st, "r/03", API_OK, idx);
}

/* ---- apply mechanics ---- */

static void batch_results_come_in_order_after_commit(void **state)
{
	struct fx *f = *state;
	struct store_entry b[5] = {
	    sh_put_s(1, "a", "1"),   sh_noop(2), sh_cas_s(3, "a", "x", 0), sh_put_s(4, "b", "2"),
	    sh_del_s(5, "a", false),
	};
	struct sh_collector c = {0};
	assert_int_equal(sh_apply(f->st, b, 5, &c), 0);
	assert_int_equal(c.n, 4); /* no result for the noop */
	uint64_t want[] = {1, 3, 4, 5};
	enum api_status status[] = {API_OK, API_CAS_FAILED, API_OK, API_OK};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(c.res[i].index, want[i]);
		assert_int_equal(c.res[i].r.index, want[i]);
		assert_int_equal(c.res[i].term, 1);
		assert_int_equal(c.res[i].r.status, status[i]);
	}
	assert_str(c.res[1].r.current.value, "1");
	assert_int_equal(c.res[3].r.deleted, 1);
	sh_collector_free(&c);
	assert_int_equal(store_applied_index(f->st), 5);
	expect_key(f->st, "a", API_NOT_FOUND, 5);
}

static void replayed_entries_are_skipped(void **state)
{
	struct fx *f = *state;
	struct store_entry b1[3] = {sh_put_s(1, "k", "1"), sh_put_s(2, "k", "2"),
				    sh_put_s(3, "k", "3")};
	assert_int_equal(sh_apply(f->st, b1, 3, NULL), 0);
	/* A restart may hand over entries the store already holds. */
	struct store_entry b2[4] = {sh_put_s(2, "k", "2"), sh_put_s(3, "k", "3"),
				    sh_put_s(4, "k", "4"), sh_put_s(5, "k", "5")};
	struct sh_collector c = {0};
	assert_int_equal(sh_apply(f->st, b2, 4, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.res[0].index, 4);
	assert_int_equal(c.res[1].r.entry.version, 5);
	sh_collector_free(&c);
	struct store_entry b3[2] = {sh_put_s(4, "k", "4"), sh_put_s(5, "k", "5")};
	assert_int_equal(sh_apply(f->st, b3, 2, &c), 0); /* wholly applied: nothing */
	assert_int_equal(c.n, 0);
	struct query_result q;
	sh_query(f->st, "k", 1, false, false, &q);
	assert_int_equal(q.entries[0].version, 5);
	assert_int_equal(q.entries[0].modify_index, 5);
	q.release(&q);
}

static void gap_in_indexes_is_fatal(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "k", "1"));
	struct store_entry e = sh_put_s(3, "k", "3");
	assert_int_equal(sh_apply(f->st, &e, 1, NULL), -STORE_EINVAL);
	assert_non_null(strstr(store_errmsg(f->st), "expected 2"));
	e = sh_put_s(2, "k", "2");
	assert_int_equal(sh_apply(f->st, &e, 1, NULL), -STORE_EFAILED);
	assert_int_equal(store_applied_index(f->st), 1);
}

static void undecodable_command_is_fatal_and_rolls_back_the_batch(void **state)
{
	struct fx *f = *state;
	apply_ok(f->st, sh_put_s(1, "k", "1"));
	struct store_entry bad = sh_put_s(3, "x", "y");
	((uint8_t *)bad.data)[0] = CMD_VERSION + 1; /* a version from the future */
	struct store_entry b[3] = {sh_put_s(2, "k", "2"), bad, sh_put_s(4, "z", "z")};
	struct sh_collector c = {0};
	assert_int_equal(sh_apply(f->st, b, 3, &c), -STORE_EENTRY);
	assert_int_equal(c.n, 0); /* nothing answered */
	assert_non_null(strstr(store_errmsg(f->st), "entry 3"));
	assert_int_equal(store_applied_index(f->st), 1);
	expect_key(f->st, "k", API_OK, 1); /* entry 2 rolled back with the batch */
	struct store_entry e = sh_put_s(2, "k", "2");
	assert_int_equal(sh_apply(f->st, &e, 1, NULL), -STORE_EFAILED);
}

static void truncated_command_is_fatal(void **state)
{
	struct fx *f = *state;
	struct store_entry e = sh_put_s(1, "key", "value");
	e.len--;
	assert_int_equal(sh_apply(f->st, &e, 1, NULL), -STORE_EENTRY);
}

static void unknown_entry_type_is_fatal(void **state)
{
	struct fx *f = *state;
	struct store_entry e = sh_noop(1);
	e.type = 9;
	assert_int_equal(store_apply_batch(f->st, &e, 1, NULL, NULL), -STORE_EENTRY);
	assert_int_equal(store_applied_index(f->st), 0);
}

static void noop_and_config_advance_the_applied_index(void **state)
{
	struct fx *f = *state;
	uint64_t ci = 99;
	uint8_t *data = (uint8_t *)"x";
	size_t len = 9;
	assert_int_equal(store_config(f->st, &ci, &data, &len), 0);
	assert_int_equal(ci, 0);
	assert_null(data);
	struct store_entry b[3] = {
	    {.index = 1, .term = 2, .type = STORE_ENTRY_NOOP},
	    {.index = 2, .term = 2, .type = STORE_ENTRY_CONFIG, .data = "members-1", .len = 9},
	    {.index = 3, .term = 3, .type = STORE_ENTRY_CONFIG, .data = "members-2", .len = 9},
	};
	assert_int_equal(store_apply_batch(f->st, b, 3, NULL, NULL), 0);
	assert_int_equal(store_applied_index(f->st), 3);
	assert_int_equal(store_applied_term(f->st), 3);
	assert_int_equal(store_config(f->st, &ci, &data, &len), 0);
	assert_int_equal(ci, 3);
	assert_int_equal(len, 9);
	assert_memory_equal(data, "members-2", 9);
	free(data);
}

static void empty_batch_is_nothing(void **state)
{
	struct fx *f = *state;
	assert_int_equal(store_apply_batch(f->st, NULL, 0, NULL, NULL), 0);
	assert_int_equal(store_applied_index(f->st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(put_creates_entry_with_indexes, setup, teardown),
	    cmocka_unit_test_setup_teardown(put_again_bumps_version_and_keeps_create_index, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(delete_then_recreate_resets_indexes, setup, teardown),
	    cmocka_unit_test_setup_teardown(values_keep_nul_bytes_and_may_be_empty, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(put_cas_zero_creates_only_when_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(put_cas_requires_the_current_modify_index, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(delete_of_missing_key_is_ok_unless_cas_names_an_index,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(delete_cas_on_existing_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(delete_recurse_with_cas_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(prefix_is_bytewise_and_sorted, setup, teardown),
	    cmocka_unit_test_setup_teardown(empty_prefix_lists_every_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(prefix_with_0xff_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(prefix_treats_like_and_glob_characters_as_bytes, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(nul_bytes_in_a_query_are_not_terminators, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(keys_only_lists_names_without_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_queries_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(missing_key_reports_its_deletion_or_zero, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(prefix_index_covers_writes_and_deletes_under_it, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(pruned_tombstones_raise_the_floor_never_lower_an_index,
					    setup_small_tombstones, teardown),
	    cmocka_unit_test_setup_teardown(batch_results_come_in_order_after_commit, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(replayed_entries_are_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(gap_in_indexes_is_fatal, setup, teardown),
	    cmocka_unit_test_setup_teardown(undecodable_command_is_fatal_and_rolls_back_the_batch,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(truncated_command_is_fatal, setup, teardown),
	    cmocka_unit_test_setup_teardown(unknown_entry_type_is_fatal, setup, teardown),
	    cmocka_unit_test_setup_teardown(noop_and_config_advance_the_applied_index, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(empty_batch_is_nothing, setup, teardown),
	};
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
