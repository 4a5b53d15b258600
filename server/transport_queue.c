/*
 * transport_queue: see transport_queue.h. A doubly linked FIFO of frames,
 * each one allocation holding its encoded bytes; a second list threads the
 * keyed frames for coalescing.
 */
#include "transport_queue.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport_wire.h"

void tq_init(struct tq *q, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	q->max_bytes = max_bytes;
}

size_t tq_charge(size_t len)
{
	return sizeof(struct tq_frame) + TW_HEADER_BYTES + len;
}

static size_t charge_of(const struct tq_frame *f)
{
	return sizeof(struct tq_frame) + f->size;
}

/* Unlinks f from both lists and frees it. */
static void unlink_free(struct tq *q, struct tq_frame *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		q->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		q->tail = f->prev;
	if (f->key) {
		if (f->kprev)
			f->kprev->knext = f->knext;
		else
			q->keyed = f->knext;
		if (f->knext)
			f->knext->kprev = f->kprev;
	}
	assert(q->frames > 0 && q->bytes >= charge_of(f));
	q->frames--;
	q->bytes -= charge_of(f);
	free(f);
}

void tq_clear(struct tq *q)
{
	while (q->head)
		unlink_free(q, q->head);
	q->head_off = 0;
	assert(q->frames == 0 && q->bytes == 0 && q->keyed == NULL);
}

/* The queued frame with this key that may still be replaced, or NULL. */
static struct tq_frame *replaceable(const struct tq *q, uint64_t key)
{
	for (struct tq_frame *f = q->keyed; f; f = f->knext)
		if (f->key == key && !(f == q->head && q->head_off > 0))
			return f;
	return NULL;
}

int tq_push(struct tq *q, uint8_t kind, const void *payload, size_t len, uint64_t key)
{
	assert(kind != 0 && len <= UINT32_MAX);
	struct tq_frame *old = key ? replaceable(q, key) : NULL;
	size_t room = q->max_bytes - q->bytes + (old ? charge_of(old) : 0);
	if (tq_charge(len) > room) {
		q->dropped++;
		return -ENOBUFS;
	}
	struct tq_frame *f = malloc(tq_charge(len));
	if (!f) {
		q->dropped++;
		return -ENOMEM;
	}
	f->size = TW_HEADER_BYTES + len;
	f->key = key;
	tw_header_encode(f->bytes, kind, payload, (uint32_t)len);
	if (len)
		memcpy(f->bytes + TW_HEADER_BYTES, payload, len);
	if (old) {
		unlink_free(q, old);
		q->coalesced++;
	}
	f->next = NULL;
	f->prev = q->tail;
	if (q->tail)
		q->tail->next = f;
	else
		q->head = f;
	q->tail = f;
	f->kprev = NULL;
	f->knext = NULL;
	if (key) {
		f->knext = q->keyed;
		if (q->keyed)
			q->keyed->kprev = f;
		q->keyed = f;
	}
	q->frames++;
	q->bytes += charge_of(f);
	assert(q->bytes <= q->max_bytes);
	return 0;
}

int tq_iov(const struct tq *q, struct iovec *iov, int max, size_t max_bytes)
{
	int n = 0;
	size_t total = 0;
	size_t off = q->head_off;
	for (const struct tq_frame *f = q->head; f && n < max; f = f->next) {
		if (n > 0 && total >= max_bytes)
			break;
		iov[n].iov_base = (void *)(f->bytes + off);
		iov[n].iov_len = f->size - off;
		total += f->size - off;
		off = 0;
		n++;
	}
	return n;
}

void tq_consume(struct tq *q, size_t n)
{
	while (n > 0) {
		struct tq_frame *f = q->head;
		assert(f != NULL);
		size_t left = f->size - q->head_off;
		if (n < left) {
			q->head_off += n;
			return;
		}
		n -= left;
		q->head_off = 0;
		q->sent++;
		unlink_free(q, f);
	}
}

void tq_drop_partial(struct tq *q)
{
	if (q->head && q->head_off > 0) {
		q->head_off = 0;
		q->dropped++;
		unlink_free(q, q->head);
	}
}
