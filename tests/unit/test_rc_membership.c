/*
 * Unit tests of the membership codec (raftcore/membership.c): the payload
 * of RC_ENTRY_CONFIG entries. Layout per docs/WIRE.md:
 *   version u8 | n u8 | n × (id u64 | voter u8 | addr_len u8 | addr)
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

#define OFF_N 1
#define OFF_MEMBER0 2

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Three members: ids 1, 2, 3, the third a non-voter; addresses short. */
static struct rc_membership three(void)
{
	struct rc_membership m;
	memset(&m, 0, sizeof m);
	m.n = 3;
	for (uint32_t i = 0; i < 3; i++) {
		m.members[i].id = i + 1;
		m.members[i].voter = i < 2;
		snprintf(m.members[i].addr, RC_ADDR_MAX, "n%u:7701", i + 1);
	}
	return m;
}

static int decode_copy(const uint8_t *buf, size_t len, struct rc_membership *out)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rv;
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, buf, len);
	rv = rc_membership_decode(copy, len, out);
	free(copy);
	return rv;
}

static void assert_round_trips(const struct rc_membership *m)
{
	uint8_t buf[4096], again[4096];
	struct rc_membership out;
	size_t size = rc_membership_encoded_size(m);
	int n = rc_membership_encode(m, buf, sizeof buf);

	assert_true(size >= 2);
	assert_int_equal(n, (int)size);
	assert_int_equal(decode_copy(buf, size, &out), 0);
	assert_true(membership_equal(m, &out));
	assert_int_equal(rc_membership_encode(&out, again, sizeof again), n);
	assert_memory_equal(buf, again, size);
}

/* Encodes three(), applies v at off, and checks decode rejects it. */
static void patch_rejected(size_t off, uint8_t v)
{
	struct rc_membership m = three(), out;
	uint8_t buf[512];
	int n = rc_membership_encode(&m, buf, sizeof buf);

	assert_true(n > 0);
	assert_int_equal(decode_copy(buf, (size_t)n, &out), 0);
	assert_true(off < (size_t)n);
	buf[off] = v;
	assert_int_equal(decode_copy(buf, (size_t)n, &out), -RC_ECORRUPT);
}

static void empty_membership_round_trips(void **state)
{
	struct rc_membership m;
	(void)state;
	memset(&m, 0, sizeof m);
	assert_int_equal(rc_membership_encoded_size(&m), 2);
	assert_round_trips(&m);
}

static void three_members_round_trip(void **state)
{
	struct rc_membership m = three();
	uint8_t buf[64];
	(void)state;
	assert_round_trips(&m);
	assert_int_equal(rc_membership_encode(&m, buf, sizeof buf), 2 + 3 * (10 + 7));
	assert_int_equal(buf[0], 1); /* version */
	assert_int_equal(buf[OFF_N], 3);
}

static void largest_membership_round_trips(void **state)
{
	struct rc_membership m;
	(void)state;
	memset(&m, 0, sizeof m);
	m.n = RC_MAX_MEMBERS;
	for (uint32_t i = 0; i < RC_MAX_MEMBERS; i++) {
		m.members[i].id = UINT64_MAX - i;
		m.members[i].voter = i % 2 == 0;
		memset(m.members[i].addr, 'a' + (int)i, RC_ADDR_MAX - 1);
	}
	assert_int_equal(rc_membership_encoded_size(&m),
			 2 + RC_MAX_MEMBERS * (10 + RC_ADDR_MAX - 1));
	assert_round_trips(&m);
}

static void decoded_addresses_are_copies_with_zeroed_tails(void **state)
{
	struct rc_membership m = three(), out;
	uint8_t buf[128];
	int n = rc_membership_encode(&m, buf, sizeof buf);
	char zeros[RC_ADDR_MAX] = {0};
	(void)state;

	memset(&out, 0xaa, sizeof out);
	assert_int_equal(rc_membership_decode(buf, (size_t)n, &out), 0);
	memset(buf, 0, sizeof buf); /* the input is not referenced after */
	assert_string_equal(out.members[0].addr, "n1:7701");
	assert_memory_equal(out.members[0].addr + 7, zeros, RC_ADDR_MAX - 7);
	assert_int_equal(out.members[RC_MAX_MEMBERS - 1].id, 0);
}

static void encode_rejects_a_buffer_too_small(void **state)
{
	struct rc_membership m = three();
	uint8_t buf[128];
	size_t size = rc_membership_encoded_size(&m);
	(void)state;
	assert_int_equal(rc_membership_encode(&m, buf, size - 1), -RC_EINVAL);
	assert_int_equal(rc_membership_encode(&m, buf, size), (int)size);
}

static void encode_rejects_invalid_memberships(void **state)
{
	struct rc_membership m;
	uint8_t buf[4096];
	(void)state;

	m = three();
	m.members[2].id = 1;
	assert_int_equal(rc_membership_encode(&m, buf, sizeof buf), -RC_EINVAL);
	assert_int_equal(rc_membership_encoded_size(&m), 0);
	m = three();
	m.members[1].id = 0;
	assert_int_equal(rc_membership_encode(&m, buf, sizeof buf), -RC_EINVAL);
	m = three();
	memset(m.members[0].addr, 'x', RC_ADDR_MAX); /* no NUL */
	assert_int_equal(rc_membership_encode(&m, buf, sizeof buf), -RC_EINVAL);
	m = three();
	m.n = RC_MAX_MEMBERS + 1;
	assert_int_equal(rc_membership_encode(&m, buf, sizeof buf), -RC_EINVAL);
	assert_int_equal(rc_membership_encoded_size(&m), 0);
}

static void decode_rejects_truncated_input(void **state)
{
	struct rc_membership m = three(), out;
	uint8_t buf[128];
	int n = rc_membership_encode(&m, buf, sizeof buf);
	(void)state;
	for (int len = 0; len < n; len++)
		assert_int_equal(decode_copy(buf, (size_t)len, &out), -RC_ECORRUPT);
}

static void decode_rejects_trailing_bytes(void **state)
{
	struct rc_membership m = three(), out;
	uint8_t buf[128];
	int n = rc_membership_encode(&m, buf, sizeof buf);
	(void)state;
	buf[n] = 0;
	assert_int_equal(decode_copy(buf, (size_t)n + 1, &out), -RC_ECORRUPT);
}

static void decode_rejects_unknown_version(void **state)
{
	(void)state;
	patch_rejected(0, 0);
	patch_rejected(0, 2);
}

static void decode_rejects_count_not_matching_members(void **state)
{
	(void)state;
	patch_rejected(OFF_N, 2);
	patch_rejected(OFF_N, 4);
	patch_rejected(OFF_N, RC_MAX_MEMBERS + 1);
	patch_rejected(OFF_N, 0xff);
}

static void decode_rejects_duplicate_member_id(void **state)
{
	(void)state;
	patch_rejected(OFF_MEMBER0 + 17, 1); /* member 1's id low byte: 2 -> 1 */
}

static void decode_rejects_zero_member_id(void **state)
{
	struct rc_membership m = three(), out;
	uint8_t buf[128];
	int n = rc_membership_encode(&m, buf, sizeof buf);
	(void)state;
	put_u64(buf + OFF_MEMBER0, 0);
	assert_int_equal(decode_copy(buf, (size_t)n, &out), -RC_ECORRUPT);
}

static void decode_rejects_voter_flag_other_than_0_or_1(void **state)
{
	(void)state;
	patch_rejected(OFF_MEMBER0 + 8, 2);
	patch_rejected(OFF_MEMBER0 + 8, 0xff);
}

static void decode_rejects_bad_address_length(void **state)
{
	struct rc_membership m, out;
	uint8_t buf[4096];
	int n;
	(void)state;

	patch_rejected(OFF_MEMBER0 + 9, 8); /* beyond its bytes */
	patch_rejected(OFF_MEMBER0 + 9, 0xff);
	/* An address of RC_ADDR_MAX bytes leaves no room for the NUL. */
	memset(&m, 0, sizeof m);
	m.n = 1;
	m.members[0].id = 9;
	memset(m.members[0].addr, 'z', RC_ADDR_MAX - 1);
	n = rc_membership_encode(&m, buf, sizeof buf);
	assert_int_equal(decode_copy(buf, (size_t)n, &out), 0);
	buf[OFF_MEMBER0 + 9] = RC_ADDR_MAX;
	buf[n] = 'z';
	assert_int_equal(decode_copy(buf, (size_t)n + 1, &out), -RC_ECORRUPT);
}

/* An address too long for its slot in the last member must not be copied
 * past the end of the struct (ASan would see it). */
static void decode_rejects_overlong_address_in_the_last_slot(void **state)
{
	struct rc_membership m, out;
	uint8_t buf[4096];
	size_t last;
	int n;
	(void)state;

	memset(&m, 0, sizeof m);
	m.n = RC_MAX_MEMBERS;
	for (uint32_t i = 0; i < RC_MAX_MEMBERS; i++) {
		m.members[i].id = i + 1;
		m.members[i].addr[0] = 'a';
	}
	n = rc_membership_encode(&m, buf, sizeof buf);
	assert_int_equal(decode_copy(buf, (size_t)n, &out), 0);
	last = (size_t)n - 11;
	buf[last + 9] = 255;
	memset(buf + last + 10, 'a', 255);
	assert_int_equal(decode_copy(buf, last + 10 + 255, &out), -RC_ECORRUPT);
}

static void decode_rejects_nul_inside_an_address(void **state)
{
	(void)state;
	patch_rejected(OFF_MEMBER0 + 10, 0);
	patch_rejected(OFF_MEMBER0 + 10 + 6, 0);
}

static void find_returns_the_member_or_null(void **state)
{
	struct rc_membership m = three();
	(void)state;
	assert_ptr_equal(rc_membership_find(&m, 2), &m.members[1]);
	assert_ptr_equal(rc_membership_find(&m, 3), &m.members[2]);
	assert_null(rc_membership_find(&m, 4));
	assert_null(rc_membership_find(&m, 0));
	m.n = 0;
	assert_null(rc_membership_find(&m, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_membership_round_trips),
	    cmocka_unit_test(three_members_round_trip),
	    cmocka_unit_test(largest_membership_round_trips),
	    cmocka_unit_test(decoded_addresses_are_copies_with_zeroed_tails),
	    cmocka_unit_test(encode_rejects_a_buffer_too_small),
	    cmocka_unit_test(encode_rejects_invalid_memberships),
	    cmocka_unit_test(decode_rejects_truncated_input),
	    cmocka_unit_test(decode_rejects_trailing_bytes),
	    cmocka_unit_test(decode_rejects_unknown_version),
	    cmocka_unit_test(decode_rejects_count_not_matching_members),
	    cmocka_unit_test(decode_rejects_duplicate_member_id),
	    cmocka_unit_test(decode_rejects_zero_member_id),
	    cmocka_unit_test(decode_rejects_voter_flag_other_than_0_or_1),
	    cmocka_unit_test(decode_rejects_bad_address_length),
	    cmocka_unit_test(decode_rejects_overlong_address_in_the_last_slot),
	    cmocka_unit_test(decode_rejects_nul_inside_an_address),
	    cmocka_unit_test(find_returns_the_member_or_null),
	};
	return cmocka_run_group_tests_name("rc_membership", tests, NULL, NULL);
}
