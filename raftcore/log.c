/*
 * In-memory log of the Replica; see log.h for ownership and invariants.
 */
#include "log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "util.h"

void rlog_init(struct rc_log *l, rc_index prev_index, rc_term prev_term)
{
	memset(l, 0, sizeof(*l));
	l->prev_index = prev_index;
	l->prev_term = prev_term;
}

void rlog_free(struct rc_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((void *)l->e[i].data);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

rc_index rlog_last_index(const struct rc_log *l)
{
	return l->prev_index + l->n;
}

rc_term rlog_last_term(const struct rc_log *l)
{
	return l->n ? l->e[l->n - 1].term : l->prev_term;
}

bool rlog_term_at(const struct rc_log *l, rc_index i, rc_term *term)
{
	if (i == l->prev_index) {
		*term = l->prev_term;
		return true;
	}
	const struct rc_entry *e = rlog_get(l, i);
	if (!e)
		return false;
	*term = e->term;
	return true;
}

const struct rc_entry *rlog_get(const struct rc_log *l, rc_index i)
{
	if (i <= l->prev_index || i > l->prev_index + l->n)
		return NULL;
	return &l->e[i - l->prev_index - 1];
}

void rlog_append(struct rc_log *l, rc_term term, uint8_t type, const void *data, uint32_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		l->e = rc_xrealloc(l->e, cap * sizeof(*l->e));
		l->cap = cap;
	}
	void *copy = NULL;
	if (len) {
		copy = rc_xmalloc(len);
		memcpy(copy, data, len);
	}
	assert(l->n == 0 || term >= l->e[l->n - 1].term);
	l->e[l->n] = (struct rc_entry){
	    .term = term,
	    .index = rlog_last_index(l) + 1,
	    .type = type,
	    .len = len,
	    .data = copy,
	};
	l->n++;
}

void rlog_truncate(struct rc_log *l, rc_index from, struct outbox *garbage)
{
	assert(from > l->prev_index);
	while (l->n && l->e[l->n - 1].index >= from) {
		outbox_defer_free(garbage, (void *)l->e[l->n - 1].data);
		l->n--;
	}
}

void rlog_compact(struct rc_log *l, rc_index upto, struct outbox *garbage)
{
	if (upto <= l->prev_index)
		return;
	assert(upto <= rlog_last_index(l));
	size_t drop = (size_t)(upto - l->prev_index);
	rc_term t = l->e[drop - 1].term;
	for (size_t i = 0; i < drop; i++)
		outbox_defer_free(garbage, (void *)l->e[i].data);
	memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
	l->n -= drop;
	l->prev_index = upto;
	l->prev_term = t;
}

void rlog_reset(struct rc_log *l, rc_index prev_index, rc_term prev_term, struct outbox *garbage)
{
	for (size_t i = 0; i < l->n; i++)
		outbox_defer_free(garbage, (void *)l->e[i].data);
	l->n = 0;
	l->prev_index = prev_index;
	l->prev_term = prev_term;
}
