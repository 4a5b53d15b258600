/*
 * Unit tests of the transport's per-peer send queue
 * (server/transport_queue.c): FIFO order, the byte bound, coalescing by
 * key, partial writes, and dropping a half-written frame. No sockets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport_queue.h"
#include "transport_wire.h"

/* Drains q as a socket would, taking at most `chunk` bytes per write, and
 * returns the payloads' first bytes in order (frames here carry one
 * distinguishing byte at the start). */
static size_t drain(struct tq *q, size_t chunk, uint8_t *tags, size_t cap)
{
	uint8_t *stream = NULL;
	size_t len = 0;
	while (!tq_empty(q)) {
		struct iovec iov[8];
		int n = tq_iov(q, iov, 8, 1 << 20);
		assert_true(n > 0);
		size_t took = 0;
		for (int i = 0; i < n && took < chunk; i++) {
			size_t k = iov[i].iov_len;
			if (k > chunk - took)
				k = chunk - took;
			stream = realloc(stream, len + k);
			memcpy(stream + len, iov[i].iov_base, k);
			len += k;
			took += k;
		}
		tq_consume(q, took);
	}
	size_t count = 0;
	size_t off = 0;
	while (off < len) {
		uint32_t flen;
		uint8_t kind;
		assert_int_equal(tw_header_check(stream + off, 1 << 20, 255, &flen, &kind), TW_OK);
		assert_int_equal(
		    tw_payload_check(stream + off, stream + off + TW_HEADER_BYTES, flen), TW_OK);
		assert_true(count < cap);
		tags[count++] = flen ? stream[off + TW_HEADER_BYTES] : 0;
		off += TW_HEADER_BYTES + flen;
	}
	assert_int_equal(off, len);
	free(stream);
	return count;
}

static int push_tag(struct tq *q, uint8_t tag, size_t len, uint64_t key)
{
	uint8_t buf[256];
	memset(buf, tag, sizeof(buf));
	return tq_push(q, 1, buf, len, key);
}

static void frames_leave_in_push_order_through_partial_writes(void **state)
{
	(void)state;
	struct tq q;
	tq_init(&q, 1 << 20);
	for (uint8_t i = 1; i <= 20; i++)
		assert_int_equal(push_tag(&q, i, i * 7u, 0), 0);
	assert_int_equal(q.frames, 20);
	uint8_t tags[32];
	assert_int_equal(drain(&q, 5, tags, 32), 20); /* 5 bytes per "write" */
	for (uint8_t i = 0; i < 20; i++)
		assert_int_equal(tags[i], i + 1);
	assert_int_equal(q.bytes, 0);
	assert_int_equal(q.sent, 20);
}

static void bound_refuses_a_frame_without_room_and_keeps_the_rest(void **state)
{
	(void)state;
	struct tq q;
	size_t one = tq_charge(100);
	tq_init(&q, one * 3 + one / 2);
	for (int i = 0; i < 3; i++)
		assert_int_equal(push_tag(&q, (uint8_t)(i + 1), 100, 0), 0);
	assert_int_equal(push_tag(&q, 9, 100, 0), -ENOBUFS);
	assert_int_equal(q.frames, 3);
	assert_int_equal(q.bytes, one * 3);
	assert_int_equal(q.dropped, 1);
	/* A smaller one still fits in what is left. */
	assert_int_equal(push_tag(&q, 4, 10, 0), 0);
	tq_clear(&q);
	assert_int_equal(q.frames, 0);
	assert_int_equal(q.bytes, 0);
}

static void newer_frame_with_same_key_replaces_older_and_goes_to_tail(void **state)
{
	(void)state;
	struct tq q;
	tq_init(&q, 1 << 20);
	assert_int_equal(push_tag(&q, 1, 10, 77), 0); /* heartbeat 1 */
	assert_int_equal(push_tag(&q, 2, 10, 0), 0);
	assert_int_equal(push_tag(&q, 3, 10, 88), 0); /* another key */
	assert_int_equal(push_tag(&q, 4, 10, 77), 0); /* heartbeat 2 replaces 1 */
	assert_int_equal(q.frames, 3);
	assert_int_equal(q.coalesced, 1);
	uint8_t tags[8];
	assert_int_equal(drain(&q, 1000, tags, 8), 3);
	assert_int_equal(tags[0], 2);
	assert_int_equal(tags[1], 3);
	assert_int_equal(tags[2], 4);
}

static void partly_written_frame_is_not_replaced(void **state)
{
	(void)state;
	struct tq q;
	tq_init(&q, 1 << 20);
	assert_int_equal(push_tag(&q, 1, 50, 77), 0);
	tq_consume(&q, 3); /* the kernel took the first 3 bytes */
	assert_int_equal(push_tag(&q, 2, 50, 77), 0);
	assert_int_equal(q.frames, 2);
	assert_int_equal(q.coalesced, 0);
	/* ...but the next one replaces the not-yet-written second. */
	assert_int_equal(push_tag(&q, 3, 50, 77), 0);
	assert_int_equal(q.frames, 2);
	assert_int_equal(q.coalesced, 1);
	/* Finish the head from where it stopped, then the rest. */
	struct iovec iov[4];
	int n = tq_iov(&q, iov, 4, 1 << 20);
	assert_int_equal(n, 2);
	assert_int_equal(iov[0].iov_len, TW_HEADER_BYTES + 50 - 3);
	tq_consume(&q, iov[0].iov_len);
	uint8_t tags[4];
	assert_int_equal(drain(&q, 1000, tags, 4), 1);
	assert_int_equal(tags[0], 3);
}

static void replacement_that_fits_only_after_removal_is_accepted(void **state)
{
	(void)state;
	struct tq q;
	tq_init(&q, tq_charge(100) * 2);
	assert_int_equal(push_tag(&q, 1, 100, 5), 0);
	assert_int_equal(push_tag(&q, 2, 100, 0), 0);
	/* Full; a same-key replacement of the same size still fits. */
	assert_int_equal(push_tag(&q, 3, 100, 0), -ENOBUFS);
	assert_int_equal(push_tag(&q, 4, 100, 5), 0);
	/* A bigger replacement does not, and leaves the old one in place. */
	assert_int_equal(push_tag(&q, 5, 101, 5), -ENOBUFS);
	uint8_t tags[4];
	assert_int_equal(drain(&q, 1000, tags, 4), 2);
	assert_int_equal(tags[0], 2);
	assert_int_equal(tags[1], 4);
}

static void broken_connection_drops_only_a_partly_written_head(void **state)
{
	(void)state;
	struct tq q;
	tq_init(&q, 1 << 20);
	assert_int_equal(push_tag(&q, 1, 20, 0), 0);
	assert_int_equal(push_tag(&q, 2, 20, 0), 0);
	tq_drop_partial(&q); /* nothing written yet: nothing dropped */
	assert_int_equal(q.frames, 2);
	tq_consume(&q, 1);
	tq_drop_partial(&q);
	assert_int_equal(q.frames, 1);
	assert_int_equal(q.dropped, 1);
	uint8_t tags[4];
	assert_int_equal(drain(&q, 7, tags, 4), 1);
	assert_int_equal(tags[0], 2);
}

static void iov_respects_count_and_byte_limits(void **state)
{
	(void)state;
	struct tq q;
	tq_init(&q, 1 << 20);
	for (int i = 0; i < 10; i++)
		assert_int_equal(push_tag(&q, 1, 100, 0), 0);
	struct iovec iov[16];
	assert_int_equal(tq_iov(&q, iov, 4, 1 << 20), 4);
	/* Byte limit: stops once reached, but always offers the head. */
	assert_int_equal(tq_iov(&q, iov, 16, 1), 1);
	assert_int_equal(tq_iov(&q, iov, 16, 250), 3);
	tq_clear(&q);
}

static void empty_payload_is_a_valid_frame(void **state)
{
	(void)state;
	struct tq q;
	tq_init(&q, 1 << 20);
	assert_int_equal(tq_push(&q, 3, NULL, 0, 0), 0);
	uint8_t tags[2];
	assert_int_equal(drain(&q, 100, tags, 2), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(frames_leave_in_push_order_through_partial_writes),
	    cmocka_unit_test(bound_refuses_a_frame_without_room_and_keeps_the_rest),
	    cmocka_unit_test(newer_frame_with_same_key_replaces_older_and_goes_to_tail),
	    cmocka_unit_test(partly_written_frame_is_not_replaced),
	    cmocka_unit_test(replacement_that_fits_only_after_removal_is_accepted),
	    cmocka_unit_test(broken_connection_drops_only_a_partly_written_head),
	    cmocka_unit_test(iov_respects_count_and_byte_limits),
	    cmocka_unit_test(empty_payload_is_a_valid_frame),
	};
	return cmocka_run_group_tests_name("transport_queue", tests, NULL, NULL);
}
