/*
 * The command codec (api/command.c) and the status table: round trips,
 * canonical encodings, and refusal of truncated, corrupt or invalid input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"

static struct cmd_bytes bytes(const char *s)
{
	struct cmd_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
	return b;
}

static struct cmd put(const char *key, const char *value, bool has_cas, uint64_t cas)
{
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.type = CMD_KV_PUT;
	c.u.put.key = bytes(key);
	c.u.put.value = bytes(value);
	c.u.put.has_cas = has_cas;
	c.u.put.cas = cas;
	return c;
}

static struct cmd del(const char *key, bool recurse, bool has_cas, uint64_t cas)
{
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.type = CMD_KV_DELETE;
	c.u.del.key = bytes(key);
	c.u.del.recurse = recurse;
	c.u.del.has_cas = has_cas;
	c.u.del.cas = cas;
	return c;
}

static void assert_bytes_equal(struct cmd_bytes a, struct cmd_bytes b)
{
	assert_int_equal(a.len, b.len);
	if (a.len > 0)
		assert_memory_equal(a.p, b.p, a.len);
}

static void assert_cmd_equal(const struct cmd *a, const struct cmd *b)
{
	assert_int_equal(a->type, b->type);
	if (a->type == CMD_KV_PUT) {
		assert_bytes_equal(a->u.put.key, b->u.put.key);
		assert_bytes_equal(a->u.put.value, b->u.put.value);
		assert_int_equal(a->u.put.has_cas, b->u.put.has_cas);
		if (a->u.put.has_cas)
			assert_int_equal(a->u.put.cas, b->u.put.cas);
	} else {
		assert_bytes_equal(a->u.del.key, b->u.del.key);
		assert_int_equal(a->u.del.recurse, b->u.del.recurse);
		assert_int_equal(a->u.del.has_cas, b->u.del.has_cas);
		if (a->u.del.has_cas)
			assert_int_equal(a->u.del.cas, b->u.del.cas);
	}
}

/* Encodes c, decodes it back, checks equality and the size helpers. */
static void round_trip(const struct cmd *c)
{
	uint8_t *buf;
	size_t len;
	struct cmd back;

	assert_int_equal(cmd_encode(c, &buf, &len), 0);
	assert_int_equal(cmd_encoded_size(c), len);
	assert_int_equal(buf[0], CMD_VERSION);
	assert_int_equal(cmd_decode(buf, len, &back), 0);
	assert_cmd_equal(c, &back);
	uint8_t *again = malloc(len);
	assert_int_equal(cmd_encode_into(&back, again, len), len);
	assert_memory_equal(buf, again, len);
	assert_int_equal(cmd_encode_into(c, again, len - 1), 0); /* too small */
	free(again);
	free(buf);
}

static void commands_survive_a_round_trip(void **state)
{
	(void)state;
	struct cmd c = put("app/db/host", "10.0.0.5", false, 0);
	round_trip(&c);
	c = put("k", "", true, 0);
	round_trip(&c);
	c = put("k", "v", true, UINT64_MAX);
	round_trip(&c);
	c = del("k", false, false, 0);
	round_trip(&c);
	c = del("", true, false, 0);
	round_trip(&c);
	c = del("app/", true, false, 0);
	round_trip(&c);
	c = del("k", false, true, 42);
	round_trip(&c);

	/* binary values, NUL bytes included; the longest key */
	static uint8_t value[1000];
	for (size_t i = 0; i < sizeof value; i++)
		value[i] = (uint8_t)(i * 7);
	char key[API_KEY_MAX + 1];
	memset(key, 'k', API_KEY_MAX);
	key[API_KEY_MAX] = '\0';
	c = put(key, "", false, 0);
	c.u.put.value.p = value;
	c.u.put.value.len = sizeof value;
	round_trip(&c);
}

static void the_largest_value_round_trips(void **state)
{
	(void)state;
	uint8_t *value = calloc(1, API_VALUE_MAX_LIMIT + 1);
	struct cmd c = put("big", "", false, 0);
	c.u.put.value.p = value;
	c.u.put.value.len = API_VALUE_MAX_LIMIT;
	round_trip(&c);
	c.u.put.value.len = API_VALUE_MAX_LIMIT + 1;
	assert_int_equal(cmd_encoded_size(&c), 0);
	free(value);
}

static void invalid_commands_do_not_encode(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	size_t len;
	char key[API_KEY_MAX + 2];
	memset(key, 'k', API_KEY_MAX + 1);
	key[API_KEY_MAX + 1] = '\0';
	struct cmd bad[] = {
	    put("", "v", false, 0),     put(key, "v", false, 0),  put("/a", "v", false, 0),
	    put("\xff", "v", false, 0), del("", false, false, 0), del(key, true, false, 0),
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(cmd_encoded_size(&bad[i]), 0);
		assert_int_equal(cmd_encode(&bad[i], &buf, &len), -1);
	}
	struct cmd nul = put("a", "v", false, 0);
	nul.u.put.key.len = 3; /* "a\0v"... reads past "a" into its NUL */
	nul.u.put.key.p = (const uint8_t *)"a\0b";
	assert_int_equal(cmd_encoded_size(&nul), 0);
	struct cmd unknown;
	memset(&unknown, 0, sizeof unknown);
	unknown.type = 99;
	assert_int_equal(cmd_encoded_size(&unknown), 0);
	assert_null(buf);
}

static void every_truncation_is_refused(void **state)
{
	(void)state;
	struct cmd cmds[] = {put("key", "value", true, 7), del("prefix/", true, false, 0),
			     del("k", false, true, 3)};
	for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
		uint8_t *buf;
		size_t len;
		struct cmd out;
		assert_int_equal(cmd_encode(&cmds[k], &buf, &len), 0);
		for (size_t n = 0; n < len; n++)
			assert_int_equal(cmd_decode(buf, n, &out), -1);
		/* and a trailing byte too */
		uint8_t *longer = malloc(len + 1);
		memcpy(longer, buf, len);
		longer[len] = 0;
		assert_int_equal(cmd_decode(longer, len + 1, &out), -1);
		free(longer);
		free(buf);
	}
}

/* Every single-byte corruption either fails or decodes to a command that
 * encodes back to exactly the corrupted bytes (the encoding is canonical). */
static void corruption_is_refused_or_canonical(void **state)
{
	(void)state;
	struct cmd c = put("app/x", "val\x01ue", true, 0x0102030405060708ull);
	uint8_t *buf;
	size_t len;
	assert_int_equal(cmd_encode(&c, &buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct cmd out;
			buf[i] ^= (uint8_t)(1u << bit);
			if (cmd_decode(buf, len, &out) == 0) {
				uint8_t again[64];
				assert_int_equal(cmd_encode_into(&out, again, sizeof again), len);
				assert_memory_equal(again, buf, len);
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(buf);
}

static void bad_headers_and_lengths_are_refused(void **state)
{
	(void)state;
	struct cmd out;
	/* version 1, PUT, no flags, key "k", value "v" */
	uint8_t ok[] = {1, 1, 0, 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v'};
	assert_int_equal(cmd_decode(ok, sizeof ok, &out), 0);

	uint8_t b[sizeof ok];
	memcpy(b, ok, sizeof b);
	b[0] = 2; /* unknown version */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[1] = 3; /* unknown type */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[1] = 0;
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[2] = 0x02; /* RECURSE is no PUT flag */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[2] = 0x80;
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[6] = 0x80; /* key length 2^31 + 1 */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[11] = 0xff; /* value length huge */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[7] = 0; /* NUL key */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[7] = '/';
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);

	/* an empty key is only a recursive delete's prefix */
	uint8_t empty_put[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(cmd_decode(empty_put, sizeof empty_put, &out), -1);
	uint8_t empty_del[] = {1, 2, 0, 0, 0, 0, 0};
	assert_int_equal(cmd_decode(empty_del, sizeof empty_del, &out), -1);
	empty_del[2] = 0x02;
	assert_int_equal(cmd_decode(empty_del, sizeof empty_del, &out), 0);
	assert_true(out.u.del.recurse);
	assert_int_equal(cmd_decode(NULL, 0, &out), -1);
}

static void the_status_table_maps_every_status(void **state)
{
	(void)state;
	assert_int_equal(api_status_http(API_OK), 200);
	assert_string_equal(api_status_code(API_OK), "ok");
	assert_int_equal(api_status_http(API_BAD_REQUEST), 400);
	assert_string_equal(api_status_code(API_BAD_REQUEST), "bad_request");
	assert_int_equal(api_status_http(API_NOT_FOUND), 404);
	assert_int_equal(api_status_http(API_METHOD_NOT_ALLOWED), 405);
	assert_string_equal(api_status_code(API_METHOD_NOT_ALLOWED), "method_not_allowed");
	assert_int_equal(api_status_http(API_CAS_FAILED), 409);
	assert_string_equal(api_status_code(API_CAS_FAILED), "cas_failed");
	assert_int_equal(api_status_http(API_TOO_LARGE), 413);
	assert_string_equal(api_status_code(API_TOO_LARGE), "too_large");
	assert_int_equal(api_status_http(API_NO_LEADER), 503);
	assert_string_equal(api_status_code(API_NO_LEADER), "no_leader");
	assert_int_equal(api_status_http(API_UNKNOWN_OUTCOME), 503);
	assert_string_equal(api_status_code(API_UNKNOWN_OUTCOME), "unknown_outcome");
	assert_int_equal(api_status_http(API_TIMEOUT), 504);
	assert_string_equal(api_status_code(API_TIMEOUT), "timeout");
	assert_int_equal(api_status_http(API_INTERNAL), 500);
	assert_int_equal(api_status_http(API_STATUS_COUNT), 500);
	assert_string_equal(api_status_code((enum api_status) - 1), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(commands_survive_a_round_trip),
	    cmocka_unit_test(the_largest_value_round_trips),
	    cmocka_unit_test(invalid_commands_do_not_encode),
	    cmocka_unit_test(every_truncation_is_refused),
	    cmocka_unit_test(corruption_is_refused_or_canonical),
	    cmocka_unit_test(bad_headers_and_lengths_are_refused),
	    cmocka_unit_test(the_status_table_maps_every_status),
	};
	return cmocka_run_group_tests_name("api_command", tests, NULL, NULL);
}
