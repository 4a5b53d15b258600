/*
 * /v1/kv over real HTTP against the fake backend, run four times: with a
 * backend that completes inside the call, one that completes on another
 * thread before the call returns, one that completes later on another
 * thread (the suspend/resume path), and one that completes on another
 * thread just as the call returns (racing the suspend).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_http_client.h"
#include "api_test_server.h"

static enum fake_mode mode;
static struct http_resp last; /* the latest response, freed by the next */

static int setup(void **state)
{
	*state = ts_start(mode, NULL);
	return 0;
}

static int teardown(void **state)
{
	http_resp_free(&last);
	ts_stop(*state);
	return 0;
}

static struct http_resp *req(struct test_server *ts, const char *method, const char *target,
			     const char *body)
{
	http_resp_free(&last);
	assert_int_equal(http_do(ts->port, method, target, body, body ? strlen(body) : 0, &last),
			 0);
	return &last;
}

static struct http_resp *req_bytes(struct test_server *ts, const char *method, const char *target,
				   const void *body, size_t len)
{
	http_resp_free(&last);
	assert_int_equal(http_do(ts->port, method, target, body, len, &last), 0);
	return &last;
}

static void assert_header(const struct http_resp *r, const char *name, const char *want)
{
	const char *v = http_header(r, name);
	if (v == NULL)
		fail_msg("header %s missing in:\n%s", name, r->head);
	assert_string_equal(v, want);
}

static void put_then_get_shows_the_entry(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = req(ts, "PUT", "/v1/kv/app/db/host", "10.0.0.5");
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body,
			    "{\"ok\":true,\"index\":1,\"entry\":{\"key\":\"app/db/host\",\"value\":"
			    "\"10.0.0.5\",\"create_index\":1,\"modify_index\":1,\"version\":1,"
			    "\"session\":\"\"}}");
	assert_header(r, "Content-Type", "application/json");
	assert_header(r, "X-Cairn-Index", "1");
	assert_header(r, "X-Cairn-Leader", "1");
	assert_header(r, "X-Cairn-Node", "1");

	r = req(ts, "PUT", "/v1/kv/app/db/host", "10.0.0.6");
	assert_int_equal(r->status, 200);
	r = req(ts, "GET", "/v1/kv/app/db/host", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"key\":\"app/db/host\",\"value\":\"10.0.0.6\","
				     "\"create_index\":1,\"modify_index\":2,\"version\":2,"
				     "\"session\":\"\"}");
	assert_header(r, "X-Cairn-Index", "2");
	assert_null(http_header(r, "X-Cairn-Last-Contact"));
	const struct fake_seen *seen = fake_seen(ts->fake);
	assert_int_equal(seen->query.consistency, CONSISTENCY_LINEARIZABLE);
	assert_false(seen->query.recurse);
	assert_int_equal(seen->query.wait_ms, 0);
}

static void missing_key_is_404_also_raw(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = req(ts, "GET", "/v1/kv/nope", NULL);
	assert_int_equal(r->status, 404);
	assert_string_equal(r->body, "{\"error\":\"key not found\",\"code\":\"not_found\"}");
	assert_header(r, "Content-Type", "application/json");
	assert_header(r, "X-Cairn-Index", "0");
	r = req(ts, "GET", "/v1/kv/nope?raw", NULL);
	assert_int_equal(r->status, 404);
	assert_header(r, "X-Cairn-Node", "1");
}

static void raw_answers_exactly_the_value_bytes(void **state)
{
	struct test_server *ts = *state;
	assert_int_equal(req(ts, "PUT", "/v1/kv/motd", "hello\nworld\n")->status, 200);
	struct http_resp *r = req(ts, "GET", "/v1/kv/motd?raw", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 12);
	assert_memory_equal(r->body, "hello\nworld\n", 12);
	assert_header(r, "Content-Type", "text/plain");
	assert_header(r, "X-Cairn-Index", "1");

	static const uint8_t bin[] = {0x00, 0xff, 0xfe, 'a', 0x80};
	assert_int_equal(req_bytes(ts, "PUT", "/v1/kv/bin", bin, sizeof bin)->status, 200);
	r = req(ts, "GET", "/v1/kv/bin?raw=true", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, sizeof bin);
	assert_memory_equal(r->body, bin, sizeof bin);
	assert_header(r, "Content-Type", "application/octet-stream");

	assert_int_equal(req(ts, "PUT", "/v1/kv/empty", "")->status, 200);
	r = req(ts, "GET", "/v1/kv/empty?raw", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 0);
	assert_header(r, "Content-Type", "text/plain");
}

static void nul_is_utf8_and_invalid_utf8_is_base64(void **state)
{
	struct test_server *ts = *state;
	assert_int_equal(req_bytes(ts, "PUT", "/v1/kv/nul", "a\0b\"\\\n", 6)->status, 200);
	struct http_resp *r = req(ts, "GET", "/v1/kv/nul", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"value\":\"a\\u0000b\\\"\\\\\\n\""));
	assert_null(strstr(r->body, "value_base64"));

	static const uint8_t bad[] = {'o', 'k', 0xc3}; /* truncated sequence */
	r = req_bytes(ts, "PUT", "/v1/kv/bad", bad, sizeof bad);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"value_base64\":\"b2vD\""));
	assert_null(strstr(r->body, "\"value\":"));
	r = req(ts, "GET", "/v1/kv/bad", NULL);
	assert_non_null(strstr(r->body, "\"value_base64\":\"b2vD\""));

	assert_int_equal(req(ts, "PUT", "/v1/kv/utf8", "h\xc3\xa9llo \xe2\x82\xac")->status, 200);
	r = req(ts, "GET", "/v1/kv/utf8", NULL);
	assert_non_null(strstr(r->body, "\"value\":\"h\xc3\xa9llo \xe2\x82\xac\""));
}

static void recurse_lists_sorted_entries_under_a_bytewise_prefix(void **state)
{
	struct test_server *ts = *state;
	req(ts, "PUT", "/v1/kv/app/bc", "2");
	req(ts, "PUT", "/v1/kv/app/b", "1");
	req(ts, "PUT", "/v1/kv/apq", "x");
	req(ts, "PUT", "/v1/kv/app/a", "0");
	struct http_resp *r = req(ts, "GET", "/v1/kv/app/b?recurse", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "[{\"key\":\"app/b\",\"value\":\"1\",\"create_index\":2,"
				     "\"modify_index\":2,\"version\":1,\"session\":\"\"},"
				     "{\"key\":\"app/bc\",\"value\":\"2\",\"create_index\":1,"
				     "\"modify_index\":1,\"version\":1,\"session\":\"\"}]");
	assert_header(r, "X-Cairn-Index", "2");
	assert_true(fake_seen(ts->fake)->query.recurse);

	r = req(ts, "GET", "/v1/kv/?keys", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "[\"app/a\",\"app/b\",\"app/bc\",\"apq\"]");
	assert_true(fake_seen(ts->fake)->query.keys_only);
	assert_true(fake_seen(ts->fake)->query.recurse);

	r = req(ts, "GET", "/v1/kv/?recurse", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"apq\""));

	r = req(ts, "GET", "/v1/kv/zzz/?recurse", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "[]");
	r = req(ts, "GET", "/v1/kv/zzz/?keys", NULL);
	assert_string_equal(r->body, "[]");
}

static void delete_reports_how_many(void **state)
{
	struct test_server *ts = *state;
	req(ts, "PUT", "/v1/kv/a", "1");
	struct http_resp *r = req(ts, "DELETE", "/v1/kv/a", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"ok\":true,\"index\":2,\"deleted\":1}");
	assert_header(r, "X-Cairn-Index", "2");
	r = req(ts, "DELETE", "/v1/kv/a", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"ok\":true,\"index\":3,\"deleted\":0}");

	req(ts, "PUT", "/v1/kv/p/1", "1");
	req(ts, "PUT", "/v1/kv/p/2", "2");
	req(ts, "PUT", "/v1/kv/q", "3");
	r = req(ts, "DELETE", "/v1/kv/p/?recurse", NULL);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"ok\":true,\"index\":7,\"deleted\":2}");
	assert_true(fake_seen(ts->fake)->cmd.u.del.recurse);
	assert_int_equal(req(ts, "GET", "/v1/kv/q", NULL)->status, 200);
	assert_int_equal(req(ts, "GET", "/v1/kv/p/1", NULL)->status, 404);
}

static void cas_passes_through_and_failure_shows_current(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = req(ts, "PUT", "/v1/kv/c?cas=0", "first");
	assert_int_equal(r->status, 200);
	assert_true(fake_seen(ts->fake)->cmd.u.put.has_cas);
	assert_int_equal(fake_seen(ts->fake)->cmd.u.put.cas, 0);

	r = req(ts, "PUT", "/v1/kv/c?cas=0", "again");
	assert_int_equal(r->status, 409);
	assert_string_equal(r->body, "{\"error\":\"cas failed\",\"code\":\"cas_failed\","
				     "\"current\":{\"key\":\"c\",\"value\":\"first\","
				     "\"create_index\":1,\"modify_index\":1,\"version\":1,"
				     "\"session\":\"\"}}");
	r = req(ts, "PUT", "/v1/kv/c?cas=1", "second");
	assert_int_equal(r->status, 200);
	assert_header(r, "X-Cairn-Index", "2");

	r = req(ts, "PUT", "/v1/kv/missing?cas=5", "x");
	assert_int_equal(r->status, 409);
	assert_non_null(strstr(r->body, "\"current\":null"));

	r = req(ts, "DELETE", "/v1/kv/c?cas=1", NULL);
	assert_int_equal(r->status, 409);
	r = req(ts, "DELETE", "/v1/kv/c?cas=2", NULL);
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"deleted\":1"));
	assert_true(fake_seen(ts->fake)->cmd.u.del.has_cas);

	r = req(ts, "PUT", "/v1/kv/c", "no cas");
	assert_false(fake_seen(ts->fake)->cmd.u.put.has_cas);
}

static void stale_read_adds_last_contact(void **state)
{
	struct test_server *ts = *state;
	fake_set_last_contact(ts->fake, 42);
	req(ts, "PUT", "/v1/kv/s", "v");
	struct http_resp *r = req(ts, "GET", "/v1/kv/s?stale", NULL);
	assert_int_equal(r->status, 200);
	assert_header(r, "X-Cairn-Last-Contact", "42");
	assert_int_equal(fake_seen(ts->fake)->query.consistency, CONSISTENCY_STALE);
	r = req(ts, "GET", "/v1/kv/s?stale=false", NULL);
	assert_null(http_header(r, "X-Cairn-Last-Contact"));
}

static void backend_failures_map_to_the_error_table(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r;

	fake_set_meta(ts->fake, 2, 0);
	fake_fail_next(ts->fake, 1, API_NO_LEADER, "");
	r = req(ts, "PUT", "/v1/kv/x", "v");
	assert_int_equal(r->status, 503);
	assert_string_equal(
	    r->body, "{\"error\":\"no leader known right now; retry\",\"code\":\"no_leader\"}");
	assert_header(r, "Retry-After", "1");
	assert_header(r, "X-Cairn-Leader", "");
	assert_header(r, "X-Cairn-Node", "2");

	fake_set_meta(ts->fake, 2, 3);
	fake_fail_next(ts->fake, 1, API_UNKNOWN_OUTCOME, "leader lost");
	r = req(ts, "DELETE", "/v1/kv/x", NULL);
	assert_int_equal(r->status, 503);
	assert_string_equal(r->body, "{\"error\":\"leader lost\",\"code\":\"unknown_outcome\"}");
	assert_null(http_header(r, "Retry-After"));
	assert_header(r, "X-Cairn-Leader", "3");

	fake_fail_next(ts->fake, 1, API_TIMEOUT, "too slow");
	r = req(ts, "PUT", "/v1/kv/x", "v");
	assert_int_equal(r->status, 504);
	assert_non_null(strstr(r->body, "\"code\":\"timeout\""));

	fake_fail_next(ts->fake, 1, API_NO_LEADER, "no leader");
	r = req(ts, "GET", "/v1/kv/x", NULL);
	assert_int_equal(r->status, 503);
	assert_header(r, "Retry-After", "1");

	fake_fail_next(ts->fake, 1, API_INTERNAL, "disk on fire");
	r = req(ts, "GET", "/v1/kv/x?raw", NULL);
	assert_int_equal(r->status, 500);
	assert_string_equal(r->body, "{\"error\":\"disk on fire\",\"code\":\"internal\"}");
}

static void head_answers_headers_without_body(void **state)
{
	struct test_server *ts = *state;
	req(ts, "PUT", "/v1/kv/h", "value");
	struct http_resp *r = req(ts, "HEAD", "/v1/kv/h?raw", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 0);
	assert_header(r, "X-Cairn-Index", "1");
	assert_header(r, "Content-Length", "5");
	assert_int_equal(req(ts, "HEAD", "/v1/kv/none", NULL)->status, 404);
}

static void keys_are_percent_decoded(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = req(ts, "PUT", "/v1/kv/a%2Fb%20c+d%e2%82%ac", "v");
	assert_int_equal(r->status, 200);
	assert_non_null(strstr(r->body, "\"key\":\"a/b c+d\xe2\x82\xac\""));
	r = req(ts, "GET", "/v1/kv/a/b%20c%2Bd\xe2\x82\xac", NULL);
	assert_int_equal(r->status, 200);
	const struct fake_seen *s = fake_seen(ts->fake);
	assert_int_equal(s->query.key.len, 10);
	assert_memory_equal(s->query.key.p, "a/b c+d\xe2\x82\xac", 10);
}

static void blocking_parameters_reach_the_backend(void **state)
{
	struct test_server *ts = *state;
	req(ts, "PUT", "/v1/kv/w", "1");
	struct http_resp *r = req(ts, "GET", "/v1/kv/w?index=0&wait=1s", NULL);
	assert_int_equal(r->status, 200);
	const struct fake_seen *s = fake_seen(ts->fake);
	assert_int_equal(s->query.min_index, 0);
	assert_int_equal(s->query.wait_ms, 1000);

	r = req(ts, "GET", "/v1/kv/w?index=1&wait=0ms", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(s->query.min_index, 1);
	assert_int_equal(s->query.wait_ms, 0);

	/* index 0 < the key's index 1: answered at once even in async mode */
	r = req(ts, "GET", "/v1/kv/w?index=0&wait=2h&stale", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(s->query.wait_ms, 10 * 60 * 1000); /* cut to 10m */
	r = req(ts, "GET", "/v1/kv/w?stale&index=0", NULL);
	assert_int_equal(r->status, 200);
	assert_int_equal(s->query.wait_ms, 5 * 60 * 1000); /* the default */
	assert_int_equal(s->query.consistency, CONSISTENCY_STALE);
}

static void errors_before_the_backend_carry_the_headers(void **state)
{
	struct test_server *ts = *state;
	req(ts, "PUT", "/v1/kv/i", "1");
	req(ts, "PUT", "/v1/kv/i", "2");
	fake_set_meta(ts->fake, 7, 9);
	struct http_resp *r = req(ts, "GET", "/v1/kv/i?bogus", NULL);
	assert_int_equal(r->status, 400);
	assert_header(r, "X-Cairn-Index", "2");
	assert_header(r, "X-Cairn-Node", "7");
	assert_header(r, "X-Cairn-Leader", "9");
	assert_header(r, "Content-Type", "application/json");
	unsigned before = fake_seen(ts->fake)->queries;
	assert_int_equal(fake_seen(ts->fake)->queries, before);
}

#define KV_TESTS(name)                                                                             \
	const struct CMUnitTest name[] = {                                                         \
	    cmocka_unit_test_setup_teardown(put_then_get_shows_the_entry, setup, teardown),        \
	    cmocka_unit_test_setup_teardown(missing_key_is_404_also_raw, setup, teardown),         \
	    cmocka_unit_test_setup_teardown(raw_answers_exactly_the_value_bytes, setup, teardown), \
	    cmocka_unit_test_setup_teardown(nul_is_utf8_and_invalid_utf8_is_base64, setup,         \
					    teardown),                                             \
	    cmocka_unit_test_setup_teardown(recurse_lists_sorted_entries_under_a_bytewise_prefix,  \
					    setup, teardown),                                      \
	    cmocka_unit_test_setup_teardown(delete_reports_how_many, setup, teardown),             \
	    cmocka_unit_test_setup_teardown(cas_passes_through_and_failure_shows_current, setup,   \
					    teardown),                                             \
	    cmocka_unit_test_setup_teardown(stale_read_adds_last_contact, setup, teardown),        \
	    cmocka_unit_test_setup_teardown(backend_failures_map_to_the_error_table, setup,        \
					    teardown),                                             \
	    cmocka_unit_test_setup_teardown(head_answers_headers_without_body, setup, teardown),   \
	    cmocka_unit_test_setup_teardown(keys_are_percent_decoded, setup, teardown),            \
	    cmocka_unit_test_setup_teardown(blocking_parameters_reach_the_backend, setup,          \
					    teardown),                                             \
	    cmocka_unit_test_setup_teardown(errors_before_the_backend_carry_the_headers, setup,    \
					    teardown),                                             \
	}

int main(void)
{
	KV_TESTS(tests);
	int failed = 0;
	mode = FAKE_SYNC;
	failed += cmocka_run_group_tests_name("api_kv_sync", tests, NULL, NULL);
	mode = FAKE_BEFORE_RET;
	failed +=
	    cmocka_run_group_tests_name("api_kv_other_thread_before_return", tests, NULL, NULL);
	mode = FAKE_ASYNC;
	failed += cmocka_run_group_tests_name("api_kv_async", tests, NULL, NULL);
	mode = FAKE_AFTER_RET;
	failed += cmocka_run_group_tests_name("api_kv_racing_the_suspend", tests, NULL, NULL);
	return failed;
}
