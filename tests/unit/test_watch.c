/*
 * The watch set (server/watch.c): which parked blocking queries a change
 * concerns, and in which order they expire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "node_internal.h"
#include "watch.h"

/* req_list_push lives in node_apply.c; the test needs only this much. */
void req_list_push(struct req_list *l, struct request *rq)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = rq;
}

static struct request *watcher(const char *key, bool prefix, uint64_t deadline)
{
	struct request *rq = calloc(1, sizeof(*rq));
	rq->q.key.p = (const uint8_t *)key;
	rq->q.key.len = (uint32_t)strlen(key);
	rq->q.recurse = prefix;
	rq->deadline = deadline;
	return rq;
}

static bool contains(const struct req_list *l, const struct request *rq)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == rq)
			return true;
	return false;
}

static void match(struct watch_set *w, const char *key, struct req_list *out)
{
	out->n = 0;
	watch_match_key(w, (const uint8_t *)key, strlen(key), out);
	watch_clear_marks(out);
}

static void key_change_wakes_exact_and_prefix_watchers_only(void **state)
{
	(void)state;
	struct watch_set *w = watch_new();
	struct request *exact = watcher("app/db/host", false, 100);
	struct request *sibling = watcher("app/db/port", false, 100);
	struct request *pre = watcher("app/", true, 100);
	struct request *bytewise = watcher("app/d", true, 100);
	struct request *other = watcher("web/", true, 100);
	struct request *all = watcher("", true, 100);
	struct request *longer = watcher("app/db/host/x", true, 100);
	struct request *list[] = {exact, sibling, pre, bytewise, other, all, longer};
	for (size_t i = 0; i < 7; i++)
		watch_add(w, list[i]);
	struct req_list out = {0};
	match(w, "app/db/host", &out);
	assert_true(contains(&out, exact));
	assert_true(contains(&out, pre));
	assert_true(contains(&out, bytewise));
	assert_true(contains(&out, all));
	assert_false(contains(&out, sibling));
	assert_false(contains(&out, other));
	assert_false(contains(&out, longer));
	assert_int_equal(out.n, 4);
	match(w, "zzz", &out);
	assert_int_equal(out.n, 1); /* only the empty prefix */
	for (size_t i = 0; i < 7; i++) {
		watch_remove(w, list[i]);
		free(list[i]);
	}
	assert_int_equal(watch_count(w), 0);
	match(w, "app/db/host", &out);
	assert_int_equal(out.n, 0);
	free(out.v);
	watch_free(w);
}

static void recursive_delete_wakes_watchers_under_and_above_it(void **state)
{
	(void)state;
	struct watch_set *w = watch_new();
	struct request *under = watcher("app/db/host", false, 100);
	struct request *above = watcher("app", true, 100);
	struct request *beside = watcher("apq", false, 100);
	watch_add(w, under);
	watch_add(w, above);
	watch_add(w, beside);
	struct req_list out = {0};
	watch_match_prefix(w, (const uint8_t *)"app/", 4, &out);
	watch_clear_marks(&out);
	assert_true(contains(&out, under));
	assert_true(contains(&out, above));
	assert_false(contains(&out, beside));
	free(out.v);
	watch_remove(w, under);
	watch_remove(w, above);
	watch_remove(w, beside);
	free(under);
	free(above);
	free(beside);
	watch_free(w);
}

static void a_watcher_matched_twice_is_listed_once(void **state)
{
	(void)state;
	struct watch_set *w = watch_new();
	struct request *pre = watcher("a", true, 100);
	watch_add(w, pre);
	struct req_list out = {0};
	watch_match_key(w, (const uint8_t *)"ab", 2, &out);
	watch_match_key(w, (const uint8_t *)"ac", 2, &out);
	watch_clear_marks(&out);
	assert_int_equal(out.n, 1);
	watch_remove(w, pre);
	free(pre);
	free(out.v);
	watch_free(w);
}

static void watchers_expire_in_deadline_order(void **state)
{
	(void)state;
	struct watch_set *w = watch_new();
	enum { N = 200 };
	struct request *rq[N];
	for (int i = 0; i < N; i++) {
		/* deadlines in a scrambled order, some equal */
		rq[i] = watcher("k", false, (uint64_t)((i * 7919) % 97));
		watch_add(w, rq[i]);
	}
	watch_remove(w, rq[5]); /* removal from the middle keeps the heap */
	struct req_list out = {0};
	uint64_t last = 0;
	for (uint64_t now = 0; now < 100; now++) {
		size_t before = out.n;
		watch_expire(w, now, &out);
		for (size_t i = before; i < out.n; i++) {
			assert_true(out.v[i]->deadline <= now);
			assert_true(out.v[i]->deadline >= last);
			last = out.v[i]->deadline;
		}
	}
	assert_int_equal(out.n, N - 1);
	assert_int_equal(watch_count(w), 0);
	for (int i = 0; i < N; i++)
		free(rq[i]);
	free(out.v);
	watch_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_change_wakes_exact_and_prefix_watchers_only),
	    cmocka_unit_test(recursive_delete_wakes_watchers_under_and_above_it),
	    cmocka_unit_test(a_watcher_matched_twice_is_listed_once),
	    cmocka_unit_test(watchers_expire_in_deadline_order),
	};
	return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
