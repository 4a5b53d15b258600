/*
 * The simulator's clock: a binary min-heap of events ordered by (time, seq).
 * seq is the insertion order, so events due at the same millisecond run in
 * the order they were scheduled, and a seed replays bit for bit.
 */
#include <stdlib.h>

#include "sim.h"

static bool before(const struct ev *a, const struct ev *b)
{
	return a->time != b->time ? a->time < b->time : a->seq < b->seq;
}

void evq_push(struct evq *q, struct ev e)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 256;
		q->h = realloc(q->h, q->cap * sizeof(*q->h));
		if (!q->h)
			abort();
	}
	e.seq = q->seq++;
	size_t i = q->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!before(&e, &q->h[p]))
			break;
		q->h[i] = q->h[p];
		i = p;
	}
	q->h[i] = e;
}

bool evq_pop(struct evq *q, struct ev *out)
{
	if (q->n == 0)
		return false;
	*out = q->h[0];
	struct ev last = q->h[--q->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(&q->h[c + 1], &q->h[c]))
			c++;
		if (!before(&q->h[c], &last))
			break;
		q->h[i] = q->h[c];
		i = c;
	}
	if (q->n)
		q->h[i] = last;
	return true;
}

void evq_free(struct evq *q)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->h[i].msg)
			smsg_unref(q->h[i].msg);
	free(q->h);
	*q = (struct evq){0};
}
