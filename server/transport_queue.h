/*
 * transport_queue: one peer's bounded send queue of encoded frames, with
 * coalescing. No sockets here: the connection asks for iovecs from the head
 * and reports how many bytes the kernel took.
 *
 * Invariants:
 * - bytes == sum over queued frames of (sizeof(struct tq_frame) + size) and
 *   never exceeds max_bytes: the bound counts what the queue really holds.
 * - Frames leave in the order they were pushed (FIFO). Coalescing removes
 *   the older frame and appends the newer at the tail, so no frame ever
 *   overtakes one pushed before it.
 * - Only the head may be partly written (head_off > 0); a partly written
 *   frame is never replaced, and is dropped whole if its connection breaks
 *   (its first bytes went to a socket that is gone).
 * - At most one frame per non-zero key is replaceable, so the keyed list
 *   holds at most (distinct keys + 1) frames and a lookup is cheap.
 */
#ifndef CAIRN_SERVER_TRANSPORT_QUEUE_H
#define CAIRN_SERVER_TRANSPORT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct tq_frame {
	struct tq_frame *next, *prev;   /* FIFO order */
	struct tq_frame *knext, *kprev; /* frames with key != 0 */
	uint64_t key;
	size_t size;     /* header + payload */
	uint8_t bytes[]; /* the encoded frame */
};

struct tq {
	struct tq_frame *head, *tail;
	struct tq_frame *keyed; /* unordered list of keyed frames */
	size_t head_off;        /* bytes of head already written */
	size_t frames;
	size_t bytes;
	size_t max_bytes;
	uint64_t sent, dropped, coalesced; /* counters for stats */
};

void tq_init(struct tq *q, size_t max_bytes);
/* Frees every queued frame. The queue may be reused after tq_init. */
void tq_clear(struct tq *q);

/* What one frame of payload length len costs against max_bytes. */
size_t tq_charge(size_t len);

/* Encodes a frame (kind, a copy of payload's len bytes, borrowed for the
 * call) at the tail; with key != 0 first removes the replaceable frame with
 * that key, if any. len must fit in u32 and kind be non-zero (the caller
 * checks). Returns 0, -ENOBUFS (no room even after the replacement; the
 * queue is unchanged) or -ENOMEM (unchanged too). */
int tq_push(struct tq *q, uint8_t kind, const void *payload, size_t len, uint64_t key);

static inline bool tq_empty(const struct tq *q)
{
	return q->head == NULL;
}

/* Fills up to max iovecs with the unwritten bytes from the head on, at
 * most about max_bytes of them (at least the head's). The iovecs point into
 * the queue: valid until the next call that changes it. Returns the count. */
int tq_iov(const struct tq *q, struct iovec *iov, int max, size_t max_bytes);

/* The kernel took n bytes of what tq_iov offered: completes and frees the
 * frames they finish. */
void tq_consume(struct tq *q, size_t n);

/* The connection broke: a partly written head is dropped. */
void tq_drop_partial(struct tq *q);

#endif
