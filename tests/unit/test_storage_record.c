/*
 * Unit tests of the segment formats (wal_record): records round-trip,
 * every damaged byte is caught, zero headers mark the end, and names parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "wal_record.h"

static void a_record_round_trips_with_padding(void **state)
{
	uint8_t buf[128], data[13];
	struct rc_entry e = {7, 42, RC_ENTRY_CONFIG, sizeof(data), data};
	struct wal_rec r;
	(void)state;
	memset(data, 0x5a, sizeof(data));
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(wal_rec_span(13), 48);
	assert_int_equal(wal_rec_span(0), 32);
	wal_rec_encode(buf, &e, 64);
	assert_int_equal(buf[32 + 13], 0); /* padding zeroed */
	assert_int_equal(wal_rec_decode(buf, 48, &r), WAL_REC_OK);
	assert_int_equal(r.index, 42);
	assert_int_equal(r.term, 7);
	assert_int_equal(r.type, RC_ENTRY_CONFIG);
	assert_int_equal(r.len, 13);
	assert_int_equal(r.hint, 64);
	assert_memory_equal(r.data, data, 13);
}

static void every_flipped_bit_is_caught(void **state)
{
	uint8_t buf[64], data[20];
	struct rc_entry e = {3, 9, RC_ENTRY_COMMAND, sizeof(data), data};
	struct wal_rec r;
	(void)state;
	memset(data, 1, sizeof(data));
	wal_rec_encode(buf, &e, 0);
	for (size_t i = 0; i < 32 + sizeof(data); i++) {
		for (int b = 0; b < 8; b++) {
			buf[i] ^= (uint8_t)(1 << b);
			assert_int_equal(wal_rec_decode(buf, sizeof(buf), &r), WAL_REC_BAD);
			buf[i] ^= (uint8_t)(1 << b);
		}
	}
	assert_int_equal(wal_rec_decode(buf, sizeof(buf), &r), WAL_REC_OK);
}

static void a_record_cut_short_is_bad_and_zeros_end_the_log(void **state)
{
	uint8_t buf[64], zero[40], data[20];
	struct rc_entry e = {3, 9, RC_ENTRY_COMMAND, sizeof(data), data};
	struct wal_rec r;
	(void)state;
	memset(data, 1, sizeof(data));
	wal_rec_encode(buf, &e, 0);
	assert_int_equal(wal_rec_decode(buf, 40, &r), WAL_REC_BAD);
	assert_int_equal(wal_rec_decode(buf, 10, &r), WAL_REC_BAD);
	memset(zero, 0, sizeof(zero));
	assert_int_equal(wal_rec_decode(zero, sizeof(zero), &r), WAL_REC_ZERO);
	assert_int_equal(wal_rec_decode(zero, 7, &r), WAL_REC_ZERO);
}

static void segment_headers_check_their_sequence(void **state)
{
	uint8_t h[WAL_SEG_HEADER];
	(void)state;
	wal_seg_header_encode(h, 77);
	assert_int_equal(wal_seg_header_check(h, sizeof(h), 77), 0);
	assert_int_equal(wal_seg_header_check(h, sizeof(h), 78), -1);
	assert_int_equal(wal_seg_header_check(h, 10, 77), -1);
	h[30] ^= 1;
	assert_int_equal(wal_seg_header_check(h, sizeof(h), 77), -1);
}

static void segment_names_parse(void **state)
{
	char name[WAL_NAME_MAX];
	uint64_t seq = 0;
	(void)state;
	wal_seg_name(name, 12, 0);
	assert_string_equal(name, "wal-00000000000000000012.seg");
	assert_int_equal(wal_seg_parse_name(name, &seq), 1);
	assert_int_equal(seq, 12);
	wal_seg_name(name, 13, 1);
	assert_int_equal(wal_seg_parse_name(name, &seq), 2);
	assert_int_equal(seq, 13);
	assert_int_equal(wal_seg_parse_name("wal-0000000000000000001x.seg", &seq), 0);
	assert_int_equal(wal_seg_parse_name("wal-00000000000000000012.segx", &seq), 0);
	assert_int_equal(wal_seg_parse_name("snap-1.tmp", &seq), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_record_round_trips_with_padding),
	    cmocka_unit_test(every_flipped_bit_is_caught),
	    cmocka_unit_test(a_record_cut_short_is_bad_and_zeros_end_the_log),
	    cmocka_unit_test(segment_headers_check_their_sequence),
	    cmocka_unit_test(segment_names_parse),
	};
	return cmocka_run_group_tests_name("storage_record", tests, NULL, NULL);
}
