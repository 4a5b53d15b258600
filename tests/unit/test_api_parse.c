/*
 * Request parsing without sockets: percent-decoding, UTF-8, keys, numbers,
 * durations, query strings (api/parse.c), and whole requests through the
 * router into commands and queries (api_parse_request, api_parse_body).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "request.h"

static const struct api_limits limits = {API_VALUE_MAX_DEFAULT, API_BODY_MAX};

static enum api_pct decode(const char *in, bool plus, char *out, size_t cap, size_t *n)
{
	return api_pct_decode(in, strlen(in), plus, (uint8_t *)out, cap, n);
}

static void percent_decoding_is_strict(void **state)
{
	(void)state;
	char out[16];
	size_t n;
	assert_int_equal(decode("a%2Fb%2fc", false, out, sizeof out, &n), API_PCT_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a/b/c", 5);
	assert_int_equal(decode("%00x", false, out, sizeof out, &n), API_PCT_OK);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0);
	assert_int_equal(decode("a+b", false, out, sizeof out, &n), API_PCT_OK);
	assert_memory_equal(out, "a+b", 3);
	assert_int_equal(decode("a+b", true, out, sizeof out, &n), API_PCT_OK);
	assert_memory_equal(out, "a b", 3);
	assert_int_equal(decode("%2B", true, out, sizeof out, &n), API_PCT_OK);
	assert_memory_equal(out, "+", 1);
	const char *bad[] = {"%", "%4", "a%zz", "%g1", "%1g", "%%", "abc%"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(decode(bad[i], false, out, sizeof out, &n), API_PCT_BAD);
	assert_int_equal(decode("abcdef", false, out, 4, &n), API_PCT_LONG);
	assert_int_equal(n, 4);
	/* a malformed escape after the cut is still reported as such */
	assert_int_equal(decode("abcdef%z", false, out, 4, &n), API_PCT_BAD);
	assert_int_equal(decode("", false, out, 0, &n), API_PCT_OK);
	assert_int_equal(n, 0);
}

static bool utf8(const char *s, size_t n)
{
	return api_utf8_valid((const uint8_t *)s, n);
}

static void utf8_validation_follows_rfc_3629(void **state)
{
	(void)state;
	assert_true(utf8("", 0));
	assert_true(utf8("plain ascii, long enough for the fast path", 42));
	assert_true(utf8("a\0b", 3));
	assert_true(utf8("\xc3\xa9", 2));         /* U+00E9 */
	assert_true(utf8("\xe2\x82\xac", 3));     /* U+20AC */
	assert_true(utf8("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
	assert_true(utf8("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	assert_true(utf8("\xed\x9f\xbf", 3));     /* U+D7FF */
	assert_true(utf8("\xee\x80\x80", 3));     /* U+E000 */
	assert_true(utf8("12345678\xc3\xa9", 10));
	assert_false(utf8("\x80", 1));             /* lone continuation */
	assert_false(utf8("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(utf8("\xc1\xbf", 2));         /* overlong */
	assert_false(utf8("\xe0\x80\xaf", 3));     /* overlong */
	assert_false(utf8("\xf0\x80\x80\xaf", 4)); /* overlong */
	assert_false(utf8("\xed\xa0\x80", 3));     /* surrogate U+D800 */
	assert_false(utf8("\xed\xbf\xbf", 3));     /* surrogate U+DFFF */
	assert_false(utf8("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(utf8("\xf5\x80\x80\x80", 4));
	assert_false(utf8("\xff", 1));
	assert_false(utf8("\xc3", 1)); /* truncated */
	assert_false(utf8("\xe2\x82", 2));
	assert_false(utf8("\xf0\x9f\x98", 3));
	assert_false(utf8("\xe2\x28\xa1", 3)); /* bad continuation */
	assert_false(utf8("abcdefgh\xe2\x82", 10));
}

static void keys_are_checked(void **state)
{
	(void)state;
	char msg[API_MESSAGE_MAX];
	uint8_t key[API_KEY_MAX + 1];
	memset(key, 'a', sizeof key);
	assert_int_equal(api_key_check(key, API_KEY_MAX, false, msg, sizeof msg), API_OK);
	assert_int_equal(api_key_check(key, API_KEY_MAX + 1, false, msg, sizeof msg),
			 API_TOO_LARGE);
	assert_string_equal(msg, "key longer than 512 bytes");
	assert_int_equal(api_key_check(key, 0, false, msg, sizeof msg), API_BAD_REQUEST);
	assert_int_equal(api_key_check(key, 0, true, msg, sizeof msg), API_OK);
	assert_int_equal(api_key_check((const uint8_t *)"/a", 2, false, msg, sizeof msg),
			 API_BAD_REQUEST);
	assert_int_equal(api_key_check((const uint8_t *)"a\0", 2, true, msg, sizeof msg),
			 API_BAD_REQUEST);
	assert_string_equal(msg, "key contains a NUL byte");
	assert_int_equal(api_key_check((const uint8_t *)"a\xff", 2, true, msg, sizeof msg),
			 API_BAD_REQUEST);
	assert_int_equal(api_key_check((const uint8_t *)"a/", 2, false, msg, sizeof msg), API_OK);
}

static void unsigned_integers_are_strict(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(api_parse_u64("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(api_parse_u64("0042", 4, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(api_parse_u64("18446744073709551615", 20, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	const char *bad[] = {"",
			     "-1",
			     "+1",
			     " 1",
			     "1 ",
			     "1e3",
			     "0x1",
			     "18446744073709551616",
			     "99999999999999999999",
			     "1.0"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(api_parse_u64(bad[i], strlen(bad[i]), &v), -1);
}

static void durations_need_a_unit_and_fit(void **state)
{
	(void)state;
	uint64_t ms;
	assert_int_equal(api_parse_duration_ms("500ms", 5, &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(api_parse_duration_ms("10s", 3, &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(api_parse_duration_ms("5m", 2, &ms), 0);
	assert_int_equal(ms, 300000);
	assert_int_equal(api_parse_duration_ms("1h", 2, &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(api_parse_duration_ms("0ms", 3, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(api_parse_duration_ms("18446744073709551615ms", 22, &ms), 0);
	assert_int_equal(ms, UINT64_MAX);
	const char *bad[] = {"",
			     "10",
			     "ms",
			     "1.5s",
			     "-1s",
			     "+1s",
			     "1 s",
			     "1S",
			     "1sec",
			     "1d",
			     "1msx",
			     "1hm",
			     "18446744073709551616ms",
			     "18446744073709552s",
			     "5124095576031h"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(api_parse_duration_ms(bad[i], strlen(bad[i]), &ms), -1);
}

static void query_strings_split_into_pairs(void **state)
{
	(void)state;
	const char *q = "a=1&&b&c=&=d&e=f=g&";
	struct api_qiter it;
	struct api_qparam p;
	api_qiter_init(&it, q, strlen(q));
	const char *names[] = {"a", "b", "c", "", "e"};
	const char *values[] = {"1", NULL, "", "d", "f=g"};
	for (size_t i = 0; i < 5; i++) {
		assert_true(api_qiter_next(&it, &p));
		assert_int_equal(p.name_len, strlen(names[i]));
		assert_memory_equal(p.name, names[i], p.name_len);
		if (values[i] == NULL) {
			assert_null(p.value);
		} else {
			assert_int_equal(p.value_len, strlen(values[i]));
			assert_memory_equal(p.value, values[i], p.value_len);
		}
	}
	assert_false(api_qiter_next(&it, &p));
	api_qiter_init(&it, "", 0);
	assert_false(api_qiter_next(&it, &p));
}

static void printable_names_are_cut_and_cleaned(void **state)
{
	(void)state;
	char out[8];
	api_printable(out, sizeof out, (const uint8_t *)"ab\x01\xff", 4);
	assert_string_equal(out, "ab??");
	api_printable(out, sizeof out, (const uint8_t *)"abcdefgh", 8);
	assert_string_equal(out, "abcd...");
	api_printable(out, sizeof out, (const uint8_t *)"abcdefg", 7);
	assert_string_equal(out, "abcdefg");
}

static int parse(struct api_request *r, const char *method, const char *uri)
{
	return api_parse_request(r, method, uri, strlen(uri), &limits);
}

static void requests_become_commands_and_queries(void **state)
{
	(void)state;
	struct api_request r;

	assert_int_equal(parse(&r, "PUT", "/v1/kv/app/x?cas=9"), 0);
	assert_int_equal(r.action, API_ACTION_SUBMIT);
	assert_true(r.wants_body);
	assert_int_equal(r.body_limit, API_VALUE_MAX_DEFAULT);
	assert_int_equal(r.cmd.type, CMD_KV_PUT);
	assert_int_equal(r.cmd.u.put.key.len, 5);
	assert_memory_equal(r.cmd.u.put.key.p, "app/x", 5);
	assert_true(r.cmd.u.put.has_cas);
	assert_int_equal(r.cmd.u.put.cas, 9);
	assert_int_equal(api_parse_body(&r, (const uint8_t *)"val", 3), 0);
	assert_int_equal(r.cmd.u.put.value.len, 3);
	assert_true(cmd_encoded_size(&r.cmd) > 0);

	assert_int_equal(parse(&r, "DELETE", "/v1/kv/app/?recurse"), 0);
	assert_int_equal(r.cmd.type, CMD_KV_DELETE);
	assert_true(r.cmd.u.del.recurse);
	assert_false(r.wants_body);
	assert_int_equal(api_parse_body(&r, (const uint8_t *)"ignored", 7), 0);

	assert_int_equal(parse(&r, "GET", "/v1/kv/a?stale&index=4&wait=1m&raw"), 0);
	assert_int_equal(r.action, API_ACTION_QUERY);
	assert_int_equal(r.query.type, QUERY_KV_GET);
	assert_int_equal(r.query.consistency, CONSISTENCY_STALE);
	assert_int_equal(r.query.min_index, 4);
	assert_int_equal(r.query.wait_ms, 60000);
	assert_true(r.raw);
	assert_false(r.query.recurse);

	assert_int_equal(parse(&r, "HEAD", "/v1/kv/?keys"), 0);
	assert_true(r.query.keys_only);
	assert_true(r.query.recurse);
	assert_int_equal(r.query.key.len, 0);

	assert_int_equal(parse(&r, "GET", "/v1/status"), 0);
	assert_int_equal(r.action, API_ACTION_STATUS);
	assert_int_equal(parse(&r, "HEAD", "/v1/health?"), 0);
	assert_int_equal(r.action, API_ACTION_HEALTH);
}

static void request_errors_name_their_cause(void **state)
{
	(void)state;
	struct api_request r;

	assert_int_equal(parse(&r, "GET", "/nope"), -1);
	assert_int_equal(r.status, API_NOT_FOUND);
	assert_int_equal(parse(&r, "BREW", "/v1/kv/a"), -1);
	assert_int_equal(r.status, API_METHOD_NOT_ALLOWED);
	assert_string_equal(r.allow, "GET, HEAD, PUT, DELETE");
	assert_non_null(strstr(r.message, "BREW"));
	assert_int_equal(parse(&r, "GET", "/v1/kv/a?raw=%zz"), -1);
	assert_int_equal(r.status, API_BAD_REQUEST);
	assert_non_null(strstr(r.message, "percent-encoding"));
	assert_int_equal(parse(&r, "GET", "/v1/kv/a?wait=5s"), -1);
	assert_int_equal(r.status, API_BAD_REQUEST);

	/* the body limit is the value limit for PUT, the body limit otherwise */
	assert_int_equal(parse(&r, "PUT", "/v1/kv/a"), 0);
	assert_int_equal(api_parse_body(&r, NULL, API_VALUE_MAX_DEFAULT + 1), -1);
	assert_int_equal(r.status, API_TOO_LARGE);
	assert_non_null(strstr(r.message, "--max-value"));
	assert_int_equal(parse(&r, "GET", "/v1/kv/a"), 0);
	assert_int_equal(api_parse_body(&r, NULL, API_BODY_MAX + 1), -1);
	assert_int_equal(r.status, API_TOO_LARGE);
	/* a failed request stays failed */
	assert_int_equal(api_parse_body(&r, NULL, 0), -1);

	/* a value limit above the body limit is capped by it */
	struct api_limits big = {API_VALUE_MAX_LIMIT, 1000};
	assert_int_equal(api_parse_request(&r, "PUT", "/v1/kv/a", 8, &big), 0);
	assert_int_equal(r.body_limit, 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(percent_decoding_is_strict),
	    cmocka_unit_test(utf8_validation_follows_rfc_3629),
	    cmocka_unit_test(keys_are_checked),
	    cmocka_unit_test(unsigned_integers_are_strict),
	    cmocka_unit_test(durations_need_a_unit_and_fit),
	    cmocka_unit_test(query_strings_split_into_pairs),
	    cmocka_unit_test(printable_names_are_cut_and_cleaned),
	    cmocka_unit_test(requests_become_commands_and_queries),
	    cmocka_unit_test(request_errors_name_their_cause),
	};
	return cmocka_run_group_tests_name("api_parse", tests, NULL, NULL);
}
