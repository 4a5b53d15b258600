/*
 * Unit tests of the transport's bytes (server/transport_wire.c) and of its
 * address parsing (server/transport_addr.c): the hello and frame header
 * layouts of docs/WIRE.md, and that every kind of damage is named.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "raftcore.h"
#include "transport_addr.h"
#include "transport_wire.h"

static void hello_layout_matches_the_documented_bytes(void **state)
{
	(void)state;
	struct tw_hello h = {.cluster_id = 0x0102030405060708ull, .from = 2, .to = 3};
	uint8_t b[TW_HELLO_BYTES];
	tw_hello_encode(&h, b);
	const uint8_t head[] = {'C', 'R', 'N', 'P', 1, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1,
				2,   0,   0,   0,   0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
	assert_memory_equal(b, head, sizeof(head));
	uint32_t crc = rc_crc32c(0, b, 32);
	assert_int_equal(b[32] | b[33] << 8 | b[34] << 16 | (uint32_t)b[35] << 24, crc);
	struct tw_hello out;
	assert_int_equal(tw_hello_check(b, sizeof(b), &out), TW_OK);
	assert_true(out.cluster_id == h.cluster_id && out.from == 2 && out.to == 3);
}

static void hello_damage_is_named(void **state)
{
	(void)state;
	struct tw_hello h = {.cluster_id = 9, .from = 1, .to = 2}, out;
	uint8_t b[TW_HELLO_BYTES];
	tw_hello_encode(&h, b);
	/* The magic is judged on the first bytes alone. */
	assert_int_equal(tw_hello_check((const uint8_t *)"CR", 2, &out), TW_OK);
	assert_int_equal(tw_hello_check((const uint8_t *)"GET ", 4, &out), TW_BAD_MAGIC);
	assert_int_equal(tw_hello_check((const uint8_t *)"X", 1, &out), TW_BAD_MAGIC);
	b[20] ^= 1;
	assert_int_equal(tw_hello_check(b, sizeof(b), &out), TW_BAD_CRC);
	b[20] ^= 1;
	b[4] = 2; /* another version, with a CRC to match */
	uint32_t crc = rc_crc32c(0, b, 32);
	for (int i = 0; i < 4; i++)
		b[32 + i] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(tw_hello_check(b, sizeof(b), &out), TW_BAD_VERSION);
	b[4] = 1;
	b[6] = 1;
	crc = rc_crc32c(0, b, 32);
	for (int i = 0; i < 4; i++)
		b[32 + i] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(tw_hello_check(b, sizeof(b), &out), TW_BAD_RESERVED);
	assert_string_equal(tw_strerror(TW_BAD_MAGIC), "not a cairn peer (bad magic)");
}

static void header_layout_and_crc_cover_length_kind_and_payload(void **state)
{
	(void)state;
	uint8_t h[TW_HEADER_BYTES];
	tw_header_encode(h, 5, "abc", 3);
	const uint8_t head[] = {3, 0, 0, 0, 5, 0, 0, 0};
	assert_memory_equal(h, head, sizeof(head));
	uint32_t crc = rc_crc32c(rc_crc32c(0, h, 8), "abc", 3);
	assert_int_equal(h[8] | h[9] << 8 | h[10] << 16 | (uint32_t)h[11] << 24, crc);
	uint32_t len;
	uint8_t kind;
	assert_int_equal(tw_header_check(h, 3, 5, &len, &kind), TW_OK);
	assert_int_equal(len, 3);
	assert_int_equal(kind, 5);
	assert_int_equal(tw_frame_len(h), 3);
	assert_int_equal(tw_payload_check(h, (const uint8_t *)"abc", 3), TW_OK);
	assert_int_equal(tw_payload_check(h, (const uint8_t *)"abd", 3), TW_BAD_CRC);
	/* The kind is covered too: a flipped kind fails the CRC. */
	h[4] = 4;
	assert_int_equal(tw_payload_check(h, (const uint8_t *)"abc", 3), TW_BAD_CRC);
}

static void header_checks_limit_kind_and_reserved(void **state)
{
	(void)state;
	uint8_t h[TW_HEADER_BYTES];
	uint32_t len;
	uint8_t kind;
	tw_header_encode(h, 2, "0123456789", 10);
	assert_int_equal(tw_header_check(h, 9, 2, &len, &kind), TW_TOO_LARGE);
	assert_int_equal(tw_header_check(h, 10, 1, &len, &kind), TW_BAD_KIND);
	h[4] = 0;
	assert_int_equal(tw_header_check(h, 10, 2, &len, &kind), TW_BAD_KIND);
	h[4] = 2;
	h[7] = 1;
	assert_int_equal(tw_header_check(h, 10, 2, &len, &kind), TW_BAD_RESERVED);
	memset(h, 0xff, sizeof(h));
	assert_int_equal(tw_header_check(h, (size_t)UINT32_MAX - 1, 255, &len, &kind),
			 TW_TOO_LARGE);
}

static void addresses_parse_and_format(void **state)
{
	(void)state;
	struct ta_addr a;
	char err[256], text[TA_TEXT_MAX];
	assert_int_equal(ta_parse("127.0.0.1:7701", false, &a, err), 0);
	ta_format((struct sockaddr *)&a.ss, a.len, text);
	assert_string_equal(text, "127.0.0.1:7701");
	assert_int_equal(ta_parse("[::1]:0", false, &a, err), 0);
	ta_format((struct sockaddr *)&a.ss, a.len, text);
	assert_string_equal(text, "[::1]:0");
	assert_int_equal(ta_parse(":7701", true, &a, err), 0);
	assert_int_equal(ta_parse(":7701", false, &a, err), -EINVAL);
	assert_int_equal(ta_parse("127.0.0.1", false, &a, err), -EINVAL);
	assert_int_equal(ta_parse("127.0.0.1:", false, &a, err), -EINVAL);
	assert_int_equal(ta_parse("127.0.0.1:65536", false, &a, err), -EINVAL);
	assert_int_equal(ta_parse("127.0.0.1:-1", false, &a, err), -EINVAL);
	assert_int_equal(ta_parse("127.0.0.1:80x", false, &a, err), -EINVAL);
	assert_int_equal(ta_parse("::1:80", false, &a, err), -EINVAL);
	assert_int_equal(ta_parse("localhost:80", false, &a, err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hello_layout_matches_the_documented_bytes),
	    cmocka_unit_test(hello_damage_is_named),
	    cmocka_unit_test(header_layout_and_crc_cover_length_kind_and_payload),
	    cmocka_unit_test(header_checks_limit_kind_and_reserved),
	    cmocka_unit_test(addresses_parse_and_format),
	};
	return cmocka_run_group_tests_name("transport_wire", tests, NULL, NULL);
}
