/*
 * Unit tests of raftcore's error messages and role names (raftcore/errors.c).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "raftcore.h"

static void strerror_maps_every_negated_code(void **state)
{
	(void)state;
	assert_string_equal(rc_strerror(0), "ok");
	assert_string_equal(rc_strerror(-RC_ENOMEM), "out of memory");
	assert_string_equal(rc_strerror(-RC_ECORRUPT), "malformed input");
	for (int code = 1; code < RC_ERROR_COUNT; code++)
		assert_string_not_equal(rc_strerror(-code), "unknown error");
}

static void strerror_says_unknown_for_other_values(void **state)
{
	(void)state;
	assert_string_equal(rc_strerror(-RC_ERROR_COUNT), "unknown error");
	assert_string_equal(rc_strerror(RC_ENOMEM), "unknown error");
	assert_string_equal(rc_strerror(INT_MIN), "unknown error");
	assert_string_equal(rc_strerror(INT_MAX), "unknown error");
}

static void role_name_names_every_role(void **state)
{
	(void)state;
	assert_string_equal(rc_role_name(RC_FOLLOWER), "follower");
	assert_string_equal(rc_role_name(RC_PRECANDIDATE), "precandidate");
	assert_string_equal(rc_role_name(RC_CANDIDATE), "candidate");
	assert_string_equal(rc_role_name(RC_LEADER), "leader");
	assert_string_equal(rc_role_name((enum rc_role)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(strerror_maps_every_negated_code),
	    cmocka_unit_test(strerror_says_unknown_for_other_values),
	    cmocka_unit_test(role_name_names_every_role),
	};
	return cmocka_run_group_tests_name("rc_errors", tests, NULL, NULL);
}
