/*
 * Unit tests of CRC32C (raftcore/crc32c.c): the standard check value and
 * the RFC 3720 (iSCSI) vectors, incremental use, and agreement of the
 * hardware and table paths on every length and alignment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"
#include "raftcore.h"

/* Deterministic bytes (xorshift64), so a failure replays. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static void check_value_of_123456789(void **state)
{
	(void)state;
	assert_int_equal(rc_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(rc_crc32c_soft(0, "123456789", 9), 0xE3069283u);
}

/* RFC 3720 B.4. */
static void rfc3720_vectors(void **state)
{
	uint8_t b[32];
	(void)state;
	memset(b, 0, sizeof b);
	assert_int_equal(rc_crc32c(0, b, sizeof b), 0x8A9136AAu);
	memset(b, 0xff, sizeof b);
	assert_int_equal(rc_crc32c(0, b, sizeof b), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(rc_crc32c(0, b, sizeof b), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(rc_crc32c(0, b, sizeof b), 0x113FDB5Cu);
}

static void empty_input_leaves_the_crc_unchanged(void **state)
{
	(void)state;
	assert_int_equal(rc_crc32c(0, "", 0), 0);
	assert_int_equal(rc_crc32c(0x12345678u, "", 0), 0x12345678u);
	assert_int_equal(rc_crc32c_soft(0x12345678u, NULL, 0), 0x12345678u);
}

static void incremental_equals_one_shot(void **state)
{
	uint8_t b[1000];
	uint32_t whole;
	(void)state;
	fill(b, sizeof b, 1);
	whole = rc_crc32c(0, b, sizeof b);
	for (size_t cut = 0; cut <= sizeof b; cut++) {
		uint32_t c = rc_crc32c(rc_crc32c(0, b, cut), b + cut, sizeof b - cut);
		assert_int_equal(c, whole);
		c = rc_crc32c_soft(rc_crc32c_soft(0, b, cut), b + cut, sizeof b - cut);
		assert_int_equal(c, whole);
	}
}

static void hardware_and_software_paths_agree(void **state)
{
	static uint8_t b[70000];
	(void)state;
	if (!rc_crc32c_hw())
		printf("note: no CRC32C instruction here; rc_crc32c is the table path\n");
	fill(b, sizeof b, 2);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len++)
			assert_int_equal(rc_crc32c(0, b + off, len),
					 rc_crc32c_soft(0, b + off, len));
	assert_int_equal(rc_crc32c(7, b + 3, sizeof b - 3), rc_crc32c_soft(7, b + 3, sizeof b - 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(check_value_of_123456789),
	    cmocka_unit_test(rfc3720_vectors),
	    cmocka_unit_test(empty_input_leaves_the_crc_unchanged),
	    cmocka_unit_test(incremental_equals_one_shot),
	    cmocka_unit_test(hardware_and_software_paths_agree),
	};
	return cmocka_run_group_tests_name("rc_crc32c", tests, NULL, NULL);
}
