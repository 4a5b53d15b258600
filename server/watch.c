/*
 * The watch set of watch.h: a hash table of watched (kind, key) pairs with
 * chaining through the requests themselves, a count of prefix watchers per
 * prefix length, and a binary min-heap of deadlines.
 *
 * Invariants: every parked request is in exactly one chain and at
 * heap[rq->w_heap]; len_count[L] is the number of parked prefix watchers
 * whose prefix is L bytes long.
 */
#include "watch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "node_internal.h"

#define N_BUCKETS 8192 /* a power of two */

struct watch_set {
	struct request *buckets[N_BUCKETS];
	struct request **heap;
	size_t n, cap;
	uint32_t len_count[API_KEY_MAX + 1];
};

static bool is_prefix_watch(const struct request *rq)
{
	return rq->q.recurse || rq->q.keys_only;
}

static uint32_t bucket_of(bool prefix, const uint8_t *key, size_t len)
{
	uint64_t h = prefix ? 0x84222325cbf29ce4ull : 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32)) & (N_BUCKETS - 1);
}

struct watch_set *watch_new(void)
{
	return calloc(1, sizeof(struct watch_set));
}

void watch_free(struct watch_set *w)
{
	if (!w)
		return;
	free(w->heap);
	free(w);
}

size_t watch_count(const struct watch_set *w)
{
	return w->n;
}

/* ---- the deadline heap ---- */

static void heap_set(struct watch_set *w, size_t i, struct request *rq)
{
	w->heap[i] = rq;
	rq->w_heap = i;
}

static void sift_up(struct watch_set *w, size_t i)
{
	struct request *rq = w->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (w->heap[parent]->deadline <= rq->deadline)
			break;
		heap_set(w, i, w->heap[parent]);
		i = parent;
	}
	heap_set(w, i, rq);
}

static void sift_down(struct watch_set *w, size_t i)
{
	struct request *rq = w->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= w->n)
			break;
		if (c + 1 < w->n && w->heap[c + 1]->deadline < w->heap[c]->deadline)
			c++;
		if (rq->deadline <= w->heap[c]->deadline)
			break;
		heap_set(w, i, w->heap[c]);
		i = c;
	}
	heap_set(w, i, rq);
}

static void heap_remove(struct watch_set *w, size_t i)
{
	w->n--;
	if (i == w->n)
		return;
	heap_set(w, i, w->heap[w->n]);
	sift_down(w, i);
	sift_up(w, w->heap[i]->w_heap);
}

/* ---- add / remove ---- */

void watch_add(struct watch_set *w, struct request *rq)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		struct request **h = realloc(w->heap, w->cap * sizeof(*h));
		if (!h)
			abort(); /* the node's OOM policy: see docs/ARCHITECTURE.md */
		w->heap = h;
	}
	bool prefix = is_prefix_watch(rq);
	rq->w_bucket = bucket_of(prefix, rq->q.key.p, rq->q.key.len);
	rq->w_prev = NULL;
	rq->w_next = w->buckets[rq->w_bucket];
	if (rq->w_next)
		rq->w_next->w_prev = rq;
	w->buckets[rq->w_bucket] = rq;
	if (prefix)
		w->len_count[rq->q.key.len]++;
	rq->w_marked = false;
	heap_set(w, w->n++, rq);
	sift_up(w, w->n - 1);
}

void watch_remove(struct watch_set *w, struct request *rq)
{
	if (rq->w_prev)
		rq->w_prev->w_next = rq->w_next;
	else
		w->buckets[rq->w_bucket] = rq->w_next;
	if (rq->w_next)
		rq->w_next->w_prev = rq->w_prev;
	rq->w_next = rq->w_prev = NULL;
	if (is_prefix_watch(rq))
		w->len_count[rq->q.key.len]--;
	heap_remove(w, rq->w_heap);
}

/* ---- matching ---- */

static void mark(struct request *rq, struct req_list *out)
{
	if (rq->w_marked)
		return;
	rq->w_marked = true;
	req_list_push(out, rq);
}

static void scan_bucket(struct watch_set *w, bool prefix, const uint8_t *key, size_t len,
			struct req_list *out)
{
	for (struct request *rq = w->buckets[bucket_of(prefix, key, len)]; rq; rq = rq->w_next)
		if (is_prefix_watch(rq) == prefix && rq->q.key.len == len &&
		    memcmp(rq->q.key.p, key, len) == 0)
			mark(rq, out);
}

void watch_match_key(struct watch_set *w, const uint8_t *key, size_t len, struct req_list *out)
{
	if (w->n == 0)
		return;
	scan_bucket(w, false, key, len, out);
	for (size_t l = 0; l <= len && l <= API_KEY_MAX; l++)
		if (w->len_count[l])
			scan_bucket(w, true, key, l, out);
}

void watch_match_prefix(struct watch_set *w, const uint8_t *prefix, size_t len,
			struct req_list *out)
{
	/* Rare (a recursive delete): look at every watcher. A watcher is
	 * concerned when its key lies under the prefix, or when it watches a
	 * prefix of the deleted prefix. */
	for (size_t i = 0; i < w->n; i++) {
		struct request *rq = w->heap[i];
		const struct cmd_bytes *k = &rq->q.key;
		bool under = k->len >= len && memcmp(k->p, prefix, len) == 0;
		bool above =
		    is_prefix_watch(rq) && k->len <= len && memcmp(k->p, prefix, k->len) == 0;
		if (under || above)
			mark(rq, out);
	}
}

void watch_match_all(struct watch_set *w, struct req_list *out)
{
	for (size_t i = 0; i < w->n; i++)
		mark(w->heap[i], out);
}

void watch_clear_marks(struct req_list *matched)
{
	for (size_t i = 0; i < matched->n; i++)
		matched->v[i]->w_marked = false;
}

void watch_expire(struct watch_set *w, uint64_t now, struct req_list *out)
{
	while (w->n && w->heap[0]->deadline <= now) {
		struct request *rq = w->heap[0];
		watch_remove(w, rq);
		req_list_push(out, rq);
	}
}
