/*
 * Unit tests of the peer message codec (raftcore/codec.c).
 *
 * Three kinds of test: every message type round-trips with edge values;
 * damaged frames (truncated, bit-flipped, grown) are rejected; and frames
 * crafted with a valid CRC but one bad field are rejected, each next to a
 * control showing the same frame with the field intact decodes. Offsets of
 * fields follow docs/WIRE.md. Decoding always reads from a heap copy of the
 * exact length, so that ASan sees any read past the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raftcore.h"
#include "rc_msg_equal.h"

/* Offsets in a frame (docs/WIRE.md). */
#define OFF_MAGIC 0
#define OFF_VERSION 4
#define OFF_TYPE 5
#define OFF_RESERVED 6
#define OFF_BODY_LEN 8
#define OFF_FIELDS 36 /* after header (12) and from, to, term (24) */
#define OFF_APPEND_N (OFF_FIELDS + 32)
#define OFF_ENTRY0 (OFF_APPEND_N + 4)
#define ENTRY_HEADER 21
#define OFF_SNAP_SIZE (OFF_FIELDS + 16)
#define OFF_SNAP_OFFSET (OFF_FIELDS + 24)
#define OFF_SNAP_LAST (OFF_FIELDS + 32)
#define OFF_SNAP_MEMBERSHIP (OFF_SNAP_LAST + 1)
#define OFF_SNAP_MEMBER0 (OFF_SNAP_MEMBERSHIP + 2)

#define BIG (64 * 1024)

/* ---- helpers ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Recomputes the trailing CRC after a test changed a frame on purpose. */
static void reseal(uint8_t *frame, size_t len)
{
	put_u32(frame + len - 4, rc_crc32c(0, frame, len - 4));
}

/* Decodes a heap copy of exactly len bytes. */
static int decode_copy(const uint8_t *frame, size_t len, struct rc_message *out)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rv;
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, frame, len);
	rv = rc_msg_decode(copy, len, out);
	if (rv == 0)
		rc_msg_release(out); /* data pointers die with copy */
	free(copy);
	return rv;
}

static void assert_rejected(const uint8_t *frame, size_t len)
{
	struct rc_message m;
	assert_int_equal(decode_copy(frame, len, &m), -RC_ECORRUPT);
	assert_null(m.u.append.entries); /* nothing left to release */
}

static void assert_accepted(const uint8_t *frame, size_t len)
{
	struct rc_message m;
	assert_int_equal(decode_copy(frame, len, &m), 0);
}

/* Encodes m into buf (BIG bytes), checking the size functions agree. */
static size_t encode(const struct rc_message *m, uint8_t *buf)
{
	size_t size = rc_msg_encoded_size(m);
	int n;
	assert_true(size >= 16 && size <= BIG);
	n = rc_msg_encode(m, buf, BIG);
	assert_int_equal(n, (int)size);
	assert_int_equal(rc_frame_length(buf, RC_FRAME_HEADER_BYTES), (int64_t)size);
	return size;
}

/* Encode, decode and compare; then the decoded message re-encodes to the
 * same bytes (the encoding is canonical). */
static void assert_round_trips(const struct rc_message *m)
{
	uint8_t *buf = malloc(BIG), *again = malloc(BIG);
	struct rc_message out;
	size_t n;

	assert_non_null(buf);
	assert_non_null(again);
	n = encode(m, buf);
	assert_int_equal(rc_msg_decode(buf, n, &out), 0);
	assert_true(msg_equal(m, &out));
	assert_int_equal(encode(&out, again), n);
	assert_memory_equal(buf, again, n);
	rc_msg_release(&out);
	free(again);
	free(buf);
}

static struct rc_message header(uint8_t type)
{
	struct rc_message m;
	memset(&m, 0, sizeof m);
	m.type = type;
	m.from = 1;
	m.to = 2;
	m.term = 7;
	return m;
}

static void fill_membership(struct rc_membership *ms, uint32_t n)
{
	memset(ms, 0, sizeof *ms);
	ms->n = n;
	for (uint32_t i = 0; i < n; i++) {
		ms->members[i].id = i == 0 ? UINT64_MAX : i + 1;
		ms->members[i].voter = i % 3 != 2;
		/* The longest address for member 0, short ones after. */
		if (i == 0)
			memset(ms->members[i].addr, 'a', RC_ADDR_MAX - 1);
		else
			snprintf(ms->members[i].addr, RC_ADDR_MAX, "10.0.0.%u:7701", i);
	}
}

/* ---- samples: one or more valid messages of every type ---- */

static const char cmd_data[] = "set k v";
static uint8_t config_data[512];
static struct rc_entry sample_entries[3];
static const uint8_t chunk[] = {0, 1, 2, 3, 0xff, 0xfe};

#define N_SAMPLES 16

static struct rc_message sample(int i)
{
	struct rc_message m;
	struct rc_membership ms;
	int n;

	switch (i) {
	case 0: /* heartbeat */
		m = header(RC_MSG_APPEND);
		m.u.append.prev_index = 10;
		m.u.append.prev_term = 7;
		m.u.append.commit = 9;
		m.u.append.seq = 42;
		return m;
	case 1:
		fill_membership(&ms, 3);
		n = rc_membership_encode(&ms, config_data, sizeof config_data);
		assert_true(n > 0);
		sample_entries[0] =
		    (struct rc_entry){5, 11, RC_ENTRY_COMMAND, sizeof cmd_data - 1, cmd_data};
		sample_entries[1] = (struct rc_entry){6, 12, RC_ENTRY_NOOP, 0, NULL};
		sample_entries[2] =
		    (struct rc_entry){7, 13, RC_ENTRY_CONFIG, (uint32_t)n, config_data};
		m = header(RC_MSG_APPEND);
		m.u.append.prev_index = 10;
		m.u.append.prev_term = 5;
		m.u.append.commit = 12;
		m.u.append.seq = 3;
		m.u.append.n_entries = 3;
		m.u.append.entries = sample_entries;
		return m;
	case 2:
		m = header(RC_MSG_APPEND_RESP);
		m.u.append_resp.success = true;
		m.u.append_resp.match_index = 13;
		m.u.append_resp.seq = 3;
		return m;
	case 3:
		m = header(RC_MSG_APPEND_RESP);
		m.u.append_resp.reject_index = 10;
		m.u.append_resp.hint_index = 8;
		m.u.append_resp.hint_term = 4;
		m.u.append_resp.seq = UINT64_MAX;
		return m;
	case 4:
		m = header(RC_MSG_VOTE);
		m.u.vote.last_index = 13;
		m.u.vote.last_term = 7;
		return m;
	case 5:
		m = header(RC_MSG_VOTE);
		m.u.vote.prevote = true;
		m.u.vote.transfer = true;
		m.u.vote.last_index = UINT64_MAX;
		m.u.vote.last_term = UINT64_MAX;
		return m;
	case 6:
		m = header(RC_MSG_VOTE_RESP);
		m.u.vote_resp.prevote = true;
		m.u.vote_resp.granted = true;
		return m;
	case 7: /* a chunk in the middle */
		m = header(RC_MSG_SNAPSHOT);
		m.u.snapshot.index = 100;
		m.u.snapshot.snap_term = 6;
		fill_membership(&m.u.snapshot.membership, 3);
		m.u.snapshot.size = 1000;
		m.u.snapshot.offset = 10;
		m.u.snapshot.len = sizeof chunk;
		m.u.snapshot.data = chunk;
		return m;
	case 8: /* the last chunk, with the largest membership */
		m = header(RC_MSG_SNAPSHOT);
		m.u.snapshot.index = 100;
		m.u.snapshot.snap_term = 6;
		fill_membership(&m.u.snapshot.membership, RC_MAX_MEMBERS);
		m.u.snapshot.size = 1000;
		m.u.snapshot.offset = 1000 - sizeof chunk;
		m.u.snapshot.len = sizeof chunk;
		m.u.snapshot.data = chunk;
		m.u.snapshot.last = true;
		return m;
	case 9: /* an empty snapshot is one empty last chunk */
		m = header(RC_MSG_SNAPSHOT);
		m.u.snapshot.last = true;
		return m;
	case 10:
		m = header(RC_MSG_SNAPSHOT_RESP);
		m.u.snapshot_resp.index = 100;
		m.u.snapshot_resp.next_offset = 16;
		return m;
	case 11:
		m = header(RC_MSG_SNAPSHOT_RESP);
		m.u.snapshot_resp.index = 99;
		m.u.snapshot_resp.rejected = true;
		return m;
	case 12:
		return header(RC_MSG_TIMEOUT_NOW);
	case 13:
		m = header(RC_MSG_READ_INDEX);
		m.u.read_index.ctx = 0x0123456789abcdefu;
		return m;
	case 14:
		m = header(RC_MSG_READ_INDEX_RESP);
		m.u.read_index_resp.ctx = 77;
		m.u.read_index_resp.index = 13;
		m.u.read_index_resp.ok = true;
		return m;
	default:
		m = header(RC_MSG_READ_INDEX_RESP);
		m.u.read_index_resp.ctx = 78;
		return m;
	}
}

/* Encodes sample i into buf (BIG bytes) and returns the frame length. */
static size_t sample_frame(int i, uint8_t *buf)
{
	struct rc_message m = sample(i);
	return encode(&m, buf);
}

/* Encodes sample i, checks it decodes, then applies change at off (n
 * bytes), reseals, and checks the result is rejected. */
static void assert_patch_rejected(int i, size_t off, const void *change, size_t n)
{
	uint8_t *buf = malloc(BIG);
	size_t len;

	assert_non_null(buf);
	len = sample_frame(i, buf);
	assert_accepted(buf, len);
	assert_true(off + n <= len - 4);
	memcpy(buf + off, change, n);
	reseal(buf, len);
	assert_rejected(buf, len);
	free(buf);
}

static void patch_u8_rejected(int i, size_t off, uint8_t v)
{
	assert_patch_rejected(i, off, &v, 1);
}

static void patch_u32_rejected(int i, size_t off, uint32_t v)
{
	uint8_t b[4];
	put_u32(b, v);
	assert_patch_rejected(i, off, b, 4);
}

static void patch_u64_rejected(int i, size_t off, uint64_t v)
{
	uint8_t b[8];
	put_u64(b, v);
	assert_patch_rejected(i, off, b, 8);
}

/* Encodes m, which must be refused. */
static void assert_encode_refuses(const struct rc_message *m)
{
	uint8_t buf[256];
	assert_int_equal(rc_msg_encode(m, buf, sizeof buf), -RC_EINVAL);
	assert_int_equal(rc_msg_encoded_size(m), 0);
}

/* ---- round trips ---- */

static void every_message_type_round_trips(void **state)
{
	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		struct rc_message m = sample(i);
		assert_round_trips(&m);
	}
}

static void heartbeat_round_trips_without_entries(void **state)
{
	struct rc_message m = sample(0);
	(void)state;
	assert_null(m.u.append.entries);
	assert_round_trips(&m);
}

static void append_with_entries_round_trips(void **state)
{
	struct rc_message m = sample(1);
	(void)state;
	assert_round_trips(&m);
}

static void append_at_the_index_and_term_limits_round_trips(void **state)
{
	struct rc_entry e[2] = {
	    {UINT64_MAX - 1, UINT64_MAX - 1, RC_ENTRY_NOOP, 0, NULL},
	    {UINT64_MAX, UINT64_MAX, RC_ENTRY_COMMAND, 1, "x"},
	};
	struct rc_message m = header(RC_MSG_APPEND);
	(void)state;
	m.from = UINT64_MAX;
	m.to = UINT64_MAX;
	m.term = UINT64_MAX;
	m.u.append.prev_index = UINT64_MAX - 2;
	m.u.append.prev_term = UINT64_MAX - 1;
	m.u.append.commit = UINT64_MAX;
	m.u.append.seq = UINT64_MAX;
	m.u.append.n_entries = 2;
	m.u.append.entries = e;
	assert_round_trips(&m);
}

static void append_with_largest_entry_round_trips(void **state)
{
	uint8_t *data = malloc(RC_MAX_ENTRY_BYTES);
	uint8_t *buf = malloc(RC_FRAME_MAX_BYTES);
	struct rc_entry e = {1, 1, RC_ENTRY_COMMAND, RC_MAX_ENTRY_BYTES, data};
	struct rc_message m = header(RC_MSG_APPEND), out;
	int n;
	(void)state;

	assert_non_null(data);
	assert_non_null(buf);
	for (uint32_t i = 0; i < RC_MAX_ENTRY_BYTES; i++)
		data[i] = (uint8_t)(i * 31u);
	m.u.append.n_entries = 1;
	m.u.append.entries = &e;
	n = rc_msg_encode(&m, buf, RC_FRAME_MAX_BYTES);
	assert_true(n > (int)RC_MAX_ENTRY_BYTES);
	assert_int_equal(rc_msg_decode(buf, (size_t)n, &out), 0);
	assert_true(msg_equal(&m, &out));
	rc_msg_release(&out);
	free(buf);
	free(data);
}

static void append_resp_round_trips(void **state)
{
	struct rc_message ok = sample(2), reject = sample(3);
	(void)state;
	assert_round_trips(&ok);
	assert_round_trips(&reject);
}

static void vote_and_prevote_round_trip(void **state)
{
	struct rc_message vote = sample(4), prevote = sample(5), resp = sample(6);
	(void)state;
	assert_round_trips(&vote);
	assert_round_trips(&prevote);
	assert_round_trips(&resp);
	resp.u.vote_resp.granted = false;
	assert_round_trips(&resp);
}

static void snapshot_chunks_round_trip(void **state)
{
	(void)state;
	for (int i = 7; i <= 11; i++) {
		struct rc_message m = sample(i);
		assert_round_trips(&m);
	}
}

static void read_index_and_timeout_now_round_trip(void **state)
{
	(void)state;
	for (int i = 12; i < N_SAMPLES; i++) {
		struct rc_message m = sample(i);
		assert_round_trips(&m);
	}
}

static void decoded_data_points_into_the_input(void **state)
{
	uint8_t buf[BIG];
	struct rc_message out;
	size_t n;
	(void)state;

	n = sample_frame(1, buf);
	assert_int_equal(rc_msg_decode(buf, n, &out), 0);
	for (uint32_t i = 0; i < out.u.append.n_entries; i++) {
		const uint8_t *d = out.u.append.entries[i].data;
		assert_true(d >= buf && d + out.u.append.entries[i].len <= buf + n);
	}
	rc_msg_release(&out);
	n = sample_frame(7, buf);
	assert_int_equal(rc_msg_decode(buf, n, &out), 0);
	assert_ptr_equal(out.u.snapshot.data, buf + n - 4 - sizeof chunk);
	rc_msg_release(&out);
}

/* ---- encode refuses what decode would reject ---- */

static void encode_rejects_a_buffer_too_small(void **state)
{
	uint8_t buf[BIG];
	struct rc_message m = sample(1);
	size_t size = rc_msg_encoded_size(&m);
	(void)state;
	assert_int_equal(rc_msg_encode(&m, buf, size - 1), -RC_EINVAL);
	assert_int_equal(rc_msg_encode(&m, buf, size), (int)size);
}

static void encode_rejects_invalid_messages(void **state)
{
	struct rc_entry e[2] = {
	    {5, 11, RC_ENTRY_COMMAND, 1, "a"},
	    {5, 12, RC_ENTRY_COMMAND, 1, "b"},
	};
	struct rc_message m;
	(void)state;

	m = header(0);
	assert_encode_refuses(&m);
	m = header(RC_MSG_TYPE_MAX + 1);
	assert_encode_refuses(&m);
	m = header(RC_MSG_TIMEOUT_NOW);
	m.from = 0;
	assert_encode_refuses(&m);
	m = header(RC_MSG_TIMEOUT_NOW);
	m.to = 0;
	assert_encode_refuses(&m);

	m = header(RC_MSG_APPEND);
	m.u.append.prev_index = 10;
	m.u.append.n_entries = 2;
	assert_encode_refuses(&m); /* entries NULL */
	m.u.append.entries = e;
	assert_int_equal(rc_msg_encoded_size(&m), 16 + 24 + 36 + 2 * (ENTRY_HEADER + 1));
	e[1].index = 13;
	assert_encode_refuses(&m); /* gap */
	e[1].index = 12;
	e[1].type = 4;
	assert_encode_refuses(&m);
	e[1].type = 0;
	assert_encode_refuses(&m);
	e[1].type = RC_ENTRY_NOOP;
	e[1].data = NULL;
	assert_encode_refuses(&m); /* len 1, no data */
	e[1].len = RC_MAX_ENTRY_BYTES + 1;
	e[1].data = "b";
	assert_encode_refuses(&m);
	e[1].len = 1;
	e[1].term = 4;
	assert_encode_refuses(&m); /* term went down */
	e[1].term = 8;
	assert_encode_refuses(&m); /* term above the message's */
	e[1].term = 5;
	m.u.append.prev_term = 6;
	assert_encode_refuses(&m); /* first entry's term below prev_term */
	m.u.append.prev_term = 8;
	assert_encode_refuses(&m); /* prev_term above the message's */
	m.u.append.prev_term = 5;
	m.u.append.prev_index = UINT64_MAX - 1;
	assert_encode_refuses(&m); /* indexes would wrap */

	m = sample(7);
	m.u.snapshot.offset = 1001;
	assert_encode_refuses(&m);
	m = sample(7);
	m.u.snapshot.len = 991;
	assert_encode_refuses(&m); /* past the end */
	m = sample(7);
	m.u.snapshot.last = true;
	assert_encode_refuses(&m); /* last before the end */
	m = sample(8);
	m.u.snapshot.last = false;
	assert_encode_refuses(&m); /* reaches the end but not last */
	m = sample(7);
	m.u.snapshot.data = NULL;
	assert_encode_refuses(&m);
	m = sample(7);
	m.u.snapshot.membership.members[1].id = m.u.snapshot.membership.members[0].id;
	assert_encode_refuses(&m);

	m = sample(15);
	m.u.read_index_resp.index = 3;
	assert_encode_refuses(&m); /* a failed read carries no index */
}

static void encode_rejects_a_frame_over_the_maximum(void **state)
{
	static const uint8_t small[1];
	struct rc_entry e[2] = {
	    {1, 1, RC_ENTRY_COMMAND, RC_MAX_ENTRY_BYTES, small},
	    {1, 2, RC_ENTRY_COMMAND, RC_MAX_ENTRY_BYTES, small},
	};
	struct rc_message m = header(RC_MSG_APPEND);
	(void)state;

	/* Sizes are checked before any data is read: small is never read. */
	m.u.append.n_entries = 2;
	m.u.append.entries = e;
	assert_encode_refuses(&m);
	m = header(RC_MSG_SNAPSHOT);
	m.u.snapshot.size = UINT64_MAX;
	m.u.snapshot.len = RC_FRAME_MAX_BYTES;
	m.u.snapshot.data = small;
	assert_encode_refuses(&m);
}

/* ---- the frame header ---- */

static void frame_length_reads_the_total_from_the_header(void **state)
{
	uint8_t buf[BIG];
	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		size_t n = sample_frame(i, buf);
		assert_int_equal(rc_frame_length(buf, RC_FRAME_HEADER_BYTES), (int64_t)n);
		assert_int_equal(get_u32(buf + OFF_BODY_LEN), n - 16);
	}
	assert_memory_equal(buf, "CRN1\x01", 5);
}

static void frame_length_rejects_a_bad_header(void **state)
{
	uint8_t h[RC_FRAME_HEADER_BYTES], good[BIG];
	(void)state;

	sample_frame(0, good);
	assert_int_equal(rc_frame_length(good, RC_FRAME_HEADER_BYTES - 1), -RC_EINVAL);

	memcpy(h, good, sizeof h);
	h[OFF_MAGIC] = 'X';
	assert_int_equal(rc_frame_length(h, sizeof h), -RC_ECORRUPT);
	memcpy(h, good, sizeof h);
	h[OFF_VERSION] = RC_WIRE_VERSION + 1;
	assert_int_equal(rc_frame_length(h, sizeof h), -RC_ECORRUPT);
	memcpy(h, good, sizeof h);
	h[OFF_TYPE] = 0;
	assert_int_equal(rc_frame_length(h, sizeof h), -RC_ECORRUPT);
	h[OFF_TYPE] = RC_MSG_TYPE_MAX + 1;
	assert_int_equal(rc_frame_length(h, sizeof h), -RC_ECORRUPT);
	memcpy(h, good, sizeof h);
	h[OFF_RESERVED + 1] = 1;
	assert_int_equal(rc_frame_length(h, sizeof h), -RC_ECORRUPT);

	memcpy(h, good, sizeof h);
	put_u32(h + OFF_BODY_LEN, RC_FRAME_MAX_BYTES - 16);
	assert_int_equal(rc_frame_length(h, sizeof h), (int64_t)RC_FRAME_MAX_BYTES);
	put_u32(h + OFF_BODY_LEN, RC_FRAME_MAX_BYTES - 15);
	assert_int_equal(rc_frame_length(h, sizeof h), -RC_ECORRUPT);
	put_u32(h + OFF_BODY_LEN, UINT32_MAX);
	assert_int_equal(rc_frame_length(h, sizeof h), -RC_ECORRUPT);
}

/* ---- damaged frames ---- */

static void decode_rejects_truncated_frame(void **state)
{
	uint8_t buf[BIG];
	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		size_t n = sample_frame(i, buf);
		for (size_t len = 0; len < n; len++)
			assert_rejected(buf, len);
	}
}

static void decode_rejects_every_single_bit_flip(void **state)
{
	uint8_t buf[BIG];
	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		size_t n = sample_frame(i, buf);
		for (size_t bit = 0; bit < n * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_rejected(buf, n);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		assert_accepted(buf, n);
	}
}

static void decode_rejects_trailing_bytes_after_the_frame(void **state)
{
	uint8_t buf[BIG];
	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		size_t n = sample_frame(i, buf);
		buf[n] = 0;
		assert_rejected(buf, n + 1);
	}
}

/* The header's length covers an extra byte after the body's last field,
 * and the CRC is right: the body has trailing garbage. */
static void decode_rejects_trailing_garbage_inside_the_body(void **state)
{
	uint8_t buf[BIG];
	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		size_t n = sample_frame(i, buf);
		buf[n - 4] = 0; /* overwrite the CRC with a zero byte, */
		put_u32(buf + OFF_BODY_LEN, get_u32(buf + OFF_BODY_LEN) + 1);
		reseal(buf, n + 1); /* and put a CRC after it */
		assert_rejected(buf, n + 1);
	}
}

/* Cutting any number of bytes off the end of a body, with the header and
 * CRC made consistent again, leaves a body too short for its fields. */
static void decode_rejects_every_shortened_body_with_a_valid_crc(void **state)
{
	uint8_t buf[BIG], cut[BIG];
	(void)state;
	for (int i = 0; i < N_SAMPLES; i++) {
		size_t n = sample_frame(i, buf);
		for (size_t k = 1; k <= n - 16; k++) {
			size_t len = n - k;
			memcpy(cut, buf, len - 4);
			put_u32(cut + OFF_BODY_LEN, (uint32_t)(len - 16));
			reseal(cut, len);
			assert_rejected(cut, len);
		}
	}
}

/* ---- crafted frames: valid CRC, one bad field ---- */

static void decode_rejects_unknown_message_type(void **state)
{
	(void)state;
	patch_u8_rejected(12, OFF_TYPE, 0);
	patch_u8_rejected(12, OFF_TYPE, RC_MSG_TYPE_MAX + 1);
	patch_u8_rejected(12, OFF_TYPE, 0xff);
	/* A known type with another type's body is rejected too. */
	patch_u8_rejected(12, OFF_TYPE, RC_MSG_READ_INDEX);
}

static void decode_rejects_bad_version_magic_or_reserved(void **state)
{
	(void)state;
	patch_u8_rejected(4, OFF_VERSION, 0);
	patch_u8_rejected(4, OFF_VERSION, 2);
	patch_u8_rejected(4, OFF_MAGIC + 3, '2');
	patch_u8_rejected(4, OFF_RESERVED, 1);
}

static void decode_rejects_zero_sender_or_receiver(void **state)
{
	(void)state;
	patch_u64_rejected(4, RC_FRAME_HEADER_BYTES, 0);
	patch_u64_rejected(4, RC_FRAME_HEADER_BYTES + 8, 0);
}

static void decode_rejects_entry_count_beyond_bytes_left(void **state)
{
	(void)state;
	patch_u32_rejected(0, OFF_APPEND_N, 1);
	patch_u32_rejected(0, OFF_APPEND_N, UINT32_MAX);
	patch_u32_rejected(1, OFF_APPEND_N, 4);
	patch_u32_rejected(1, OFF_APPEND_N, UINT32_MAX);
	patch_u32_rejected(1, OFF_APPEND_N, 2); /* fewer: the rest is garbage */
}

static void decode_rejects_entry_len_beyond_buffer(void **state)
{
	size_t len0 = OFF_ENTRY0 + 17;
	(void)state;
	patch_u32_rejected(1, len0, (uint32_t)(sizeof cmd_data)); /* one more */
	patch_u32_rejected(1, len0, 100000);
	patch_u32_rejected(1, len0, UINT32_MAX);
}

static void decode_rejects_entry_len_over_the_maximum(void **state)
{
	(void)state;
	patch_u32_rejected(1, OFF_ENTRY0 + 17, RC_MAX_ENTRY_BYTES + 1);
}

static void decode_rejects_unknown_entry_type(void **state)
{
	(void)state;
	patch_u8_rejected(1, OFF_ENTRY0 + 16, 0);
	patch_u8_rejected(1, OFF_ENTRY0 + 16, RC_ENTRY_CONFIG + 1);
	patch_u8_rejected(1, OFF_ENTRY0 + 16, 0xff);
}

static void decode_rejects_non_consecutive_entry_index(void **state)
{
	size_t e1 = OFF_ENTRY0 + ENTRY_HEADER + sizeof cmd_data - 1;
	(void)state;
	patch_u64_rejected(1, OFF_ENTRY0 + 8, 10); /* first must be prev + 1 */
	patch_u64_rejected(1, OFF_ENTRY0 + 8, 12);
	patch_u64_rejected(1, e1 + 8, 11);                 /* repeated */
	patch_u64_rejected(1, e1 + 8, 14);                 /* gap */
	patch_u64_rejected(1, OFF_FIELDS, 11);             /* prev_index moved */
	patch_u64_rejected(1, OFF_FIELDS, UINT64_MAX - 1); /* would wrap */
}

static void decode_rejects_entry_terms_out_of_order(void **state)
{
	size_t e1 = OFF_ENTRY0 + ENTRY_HEADER + sizeof cmd_data - 1;
	(void)state;
	patch_u64_rejected(1, e1, 4);             /* below the entry before */
	patch_u64_rejected(1, e1, 8);             /* above the message's term */
	patch_u64_rejected(1, OFF_FIELDS + 8, 6); /* prev_term above entry 0 */
	patch_u64_rejected(0, OFF_FIELDS + 8, 8); /* prev_term above term */
}

static void decode_rejects_bool_other_than_0_or_1(void **state)
{
	(void)state;
	patch_u8_rejected(2, OFF_FIELDS, 2);        /* append_resp.success */
	patch_u8_rejected(4, OFF_FIELDS, 2);        /* vote.prevote */
	patch_u8_rejected(4, OFF_FIELDS + 1, 0x80); /* vote.transfer */
	patch_u8_rejected(6, OFF_FIELDS, 2);        /* vote_resp.prevote */
	patch_u8_rejected(6, OFF_FIELDS + 1, 0xff); /* vote_resp.granted */
	patch_u8_rejected(8, OFF_SNAP_LAST, 2);
	patch_u8_rejected(7, OFF_SNAP_MEMBER0 + 8, 2); /* member voter */
	patch_u8_rejected(10, OFF_FIELDS + 16, 2);     /* snapshot_resp.rejected */
	patch_u8_rejected(14, OFF_FIELDS + 16, 2);     /* read_index_resp.ok */
}

static void decode_rejects_inconsistent_snapshot_chunk(void **state)
{
	(void)state;
	patch_u64_rejected(7, OFF_SNAP_SIZE, 15);     /* chunk past the end */
	patch_u64_rejected(7, OFF_SNAP_SIZE, 16);     /* reaches end, not last */
	patch_u64_rejected(7, OFF_SNAP_OFFSET, 1001); /* offset past the end */
	patch_u64_rejected(7, OFF_SNAP_OFFSET, UINT64_MAX);
	patch_u8_rejected(7, OFF_SNAP_LAST, 1); /* last, before the end */
	patch_u8_rejected(8, OFF_SNAP_LAST, 0); /* at the end, not last */
}

/* The chunk length must be exactly the rest of the body. */
static void decode_rejects_snapshot_len_not_matching_the_data(void **state)
{
	uint8_t buf[BIG];
	size_t n = sample_frame(7, buf), off_len = n - 4 - sizeof chunk - 4;
	(void)state;
	assert_int_equal(get_u32(buf + off_len), sizeof chunk);
	patch_u32_rejected(7, off_len, sizeof chunk - 1);
	patch_u32_rejected(7, off_len, sizeof chunk + 1);
	patch_u32_rejected(7, off_len, UINT32_MAX);
}

static void decode_rejects_bad_snapshot_membership(void **state)
{
	size_t m0 = OFF_SNAP_MEMBER0, m1 = m0 + 10 + (RC_ADDR_MAX - 1);
	uint8_t id2[8];
	(void)state;
	put_u64(id2, UINT64_MAX);
	assert_patch_rejected(7, m1, id2, 8);         /* duplicate id */
	patch_u64_rejected(7, m0, 0);                 /* zero id */
	patch_u8_rejected(7, OFF_SNAP_MEMBERSHIP, 2); /* unknown version */
	patch_u8_rejected(7, OFF_SNAP_MEMBERSHIP + 1, RC_MAX_MEMBERS + 1);
	patch_u8_rejected(7, OFF_SNAP_MEMBERSHIP + 1, 4); /* one more */
	patch_u8_rejected(7, OFF_SNAP_MEMBERSHIP + 1, 2); /* one fewer */
	patch_u8_rejected(7, m0 + 9, RC_ADDR_MAX);        /* addr has no room for NUL */
	patch_u8_rejected(7, m0 + 10 + 5, 0);             /* NUL inside addr */
}

static void decode_rejects_failed_read_with_an_index(void **state)
{
	(void)state;
	patch_u64_rejected(15, OFF_FIELDS + 8, 1);
}

/* ---- release and names ---- */

/* Decoding fails after the entries array was allocated, once while reading
 * the entries and once in the checks after them: the array must be gone
 * (ASan reports the leak otherwise). */
static void failed_decode_leaves_nothing_to_release(void **state)
{
	uint8_t buf[BIG];
	struct rc_message out;
	size_t n;
	(void)state;

	n = sample_frame(1, buf);
	put_u64(buf + OFF_FIELDS + 8, 6); /* prev_term above entry 0's */
	reseal(buf, n);
	assert_int_equal(rc_msg_decode(buf, n, &out), -RC_ECORRUPT);
	assert_null(out.u.append.entries);
	assert_int_equal(out.u.append.n_entries, 0);
	rc_msg_release(&out); /* harmless anyway */

	n = sample_frame(1, buf);
	put_u32(buf + OFF_APPEND_N, 4); /* the fourth entry is missing */
	reseal(buf, n);
	assert_int_equal(rc_msg_decode(buf, n, &out), -RC_ECORRUPT);
	assert_null(out.u.append.entries);
}

static void release_is_safe_twice_and_for_any_type(void **state)
{
	uint8_t buf[BIG];
	struct rc_message out;
	size_t n = sample_frame(1, buf);
	(void)state;
	assert_int_equal(rc_msg_decode(buf, n, &out), 0);
	rc_msg_release(&out);
	rc_msg_release(&out);
	n = sample_frame(7, buf);
	assert_int_equal(rc_msg_decode(buf, n, &out), 0);
	rc_msg_release(&out);
	assert_true(out.u.snapshot.len == sizeof chunk); /* untouched */
}

static void msg_type_name_names_every_type(void **state)
{
	(void)state;
	assert_string_equal(rc_msg_type_name(RC_MSG_APPEND), "append");
	assert_string_equal(rc_msg_type_name(RC_MSG_READ_INDEX_RESP), "read_index_resp");
	for (uint8_t t = 1; t <= RC_MSG_TYPE_MAX; t++)
		assert_string_not_equal(rc_msg_type_name(t), "unknown");
	assert_string_equal(rc_msg_type_name(0), "unknown");
	assert_string_equal(rc_msg_type_name(RC_MSG_TYPE_MAX + 1), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_message_type_round_trips),
	    cmocka_unit_test(heartbeat_round_trips_without_entries),
	    cmocka_unit_test(append_with_entries_round_trips),
	    cmocka_unit_test(append_at_the_index_and_term_limits_round_trips),
	    cmocka_unit_test(append_with_largest_entry_round_trips),
	    cmocka_unit_test(append_resp_round_trips),
	    cmocka_unit_test(vote_and_prevote_round_trip),
	    cmocka_unit_test(snapshot_chunks_round_trip),
	    cmocka_unit_test(read_index_and_timeout_now_round_trip),
	    cmocka_unit_test(decoded_data_points_into_the_input),
	    cmocka_unit_test(encode_rejects_a_buffer_too_small),
	    cmocka_unit_test(encode_rejects_invalid_messages),
	    cmocka_unit_test(encode_rejects_a_frame_over_the_maximum),
	    cmocka_unit_test(frame_length_reads_the_total_from_the_header),
	    cmocka_unit_test(frame_length_rejects_a_bad_header),
	    cmocka_unit_test(decode_rejects_truncated_frame),
	    cmocka_unit_test(decode_rejects_every_single_bit_flip),
	    cmocka_unit_test(decode_rejects_trailing_bytes_after_the_frame),
	    cmocka_unit_test(decode_rejects_trailing_garbage_inside_the_body),
	    cmocka_unit_test(decode_rejects_every_shortened_body_with_a_valid_crc),
	    cmocka_unit_test(decode_rejects_unknown_message_type),
	    cmocka_unit_test(decode_rejects_bad_version_magic_or_reserved),
	    cmocka_unit_test(decode_rejects_zero_sender_or_receiver),
	    cmocka_unit_test(decode_rejects_entry_count_beyond_bytes_left),
	    cmocka_unit_test(decode_rejects_entry_len_beyond_buffer),
	    cmocka_unit_test(decode_rejects_entry_len_over_the_maximum),
	    cmocka_unit_test(decode_rejects_unknown_entry_type),
	    cmocka_unit_test(decode_rejects_non_consecutive_entry_index),
	    cmocka_unit_test(decode_rejects_entry_terms_out_of_order),
	    cmocka_unit_test(decode_rejects_bool_other_than_0_or_1),
	    cmocka_unit_test(decode_rejects_inconsistent_snapshot_chunk),
	    cmocka_unit_test(decode_rejects_snapshot_len_not_matching_the_data),
	    cmocka_unit_test(decode_rejects_bad_snapshot_membership),
	    cmocka_unit_test(decode_rejects_failed_read_with_an_index),
	    cmocka_unit_test(failed_decode_leaves_nothing_to_release),
	    cmocka_unit_test(release_is_safe_twice_and_for_any_type),
	    cmocka_unit_test(msg_type_name_names_every_type),
	};
	return cmocka_run_group_tests_name("rc_codec", tests, NULL, NULL);
}
