/*
 * GET /v1/status and GET /v1/health over HTTP against the fake backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "api_http_client.h"
#include "api_test_server.h"

static struct http_resp last;

static int setup(void **state)
{
	*state = ts_start(FAKE_SYNC, NULL);
	return 0;
}

static int teardown(void **state)
{
	http_resp_free(&last);
	ts_stop(*state);
	return 0;
}

static struct http_resp *get(struct test_server *ts, const char *target)
{
	http_resp_free(&last);
	assert_int_equal(http_do(ts->port, "GET", target, NULL, 0, &last), 0);
	return &last;
}

static double num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static void status_shows_the_node_and_its_members(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = get(ts, "/v1/kv/x");
	http_resp_free(&last);
	assert_int_equal(http_do(ts->port, "PUT", "/v1/kv/x", "v", 1, &last), 0);

	r = get(ts, "/v1/status");
	assert_int_equal(r->status, 200);
	assert_string_equal(http_header(r, "Content-Type"), "application/json");
	assert_string_equal(http_header(r, "X-Cairn-Index"), "1");
	cJSON *j = cJSON_Parse(r->body);
	assert_non_null(j);
	assert_true(num(j, "id") == 1);
	assert_string_equal(cJSON_GetObjectItem(j, "role")->valuestring, "leader");
	assert_true(num(j, "term") == 3);
	assert_true(num(j, "leader") == 1);
	assert_true(num(j, "commit_index") == 1);
	assert_true(num(j, "applied_index") == 1);
	assert_true(num(j, "last_log_index") == 1);
	assert_true(num(j, "snapshot_index") == 0);
	cJSON *members = cJSON_GetObjectItem(j, "members");
	assert_int_equal(cJSON_GetArraySize(members), 3);
	cJSON *m2 = cJSON_GetArrayItem(members, 1);
	assert_true(num(m2, "id") == 2);
	assert_string_equal(cJSON_GetObjectItem(m2, "api")->valuestring, "127.0.0.1:7710");
	assert_string_equal(cJSON_GetObjectItem(m2, "peer")->valuestring, "127.0.0.1:7711");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m2, "voter")));
	assert_true(num(m2, "match_index") == 1);
	assert_true(num(m2, "last_contact_ms") == 5);
	cJSON *m3 = cJSON_GetArrayItem(members, 2);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m3, "voter")));
	cJSON_Delete(j);
}

static void status_without_leader_shows_nulls(void **state)
{
	struct test_server *ts = *state;
	fake_set_meta(ts->fake, 2, 0);
	struct http_resp *r = get(ts, "/v1/status");
	assert_int_equal(r->status, 200);
	assert_string_equal(http_header(r, "X-Cairn-Leader"), "");
	assert_string_equal(http_header(r, "X-Cairn-Node"), "2");
	cJSON *j = cJSON_Parse(r->body);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "role")->valuestring, "follower");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "leader")));
	cJSON *m1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "members"), 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(m1, "match_index")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(m1, "last_contact_ms")));
	cJSON_Delete(j);
}

static void health_is_plain_ok(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = get(ts, "/v1/health");
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "ok");
	assert_string_equal(http_header(r, "Content-Type"), "text/plain");
	assert_non_null(http_header(r, "X-Cairn-Index"));
	assert_string_equal(http_header(r, "X-Cairn-Leader"), "1");
	http_resp_free(&last);
	assert_int_equal(http_do(ts->port, "HEAD", "/v1/health", NULL, 0, &last), 0);
	assert_int_equal(last.status, 200);
	assert_int_equal(last.body_len, 0);
}

static void unhealthy_is_503_with_the_reason(void **state)
{
	struct test_server *ts = *state;
	fake_set_meta(ts->fake, 1, 0);
	fake_set_health(ts->fake, API_NO_LEADER, "no leader known for 3000 ms");
	struct http_resp *r = get(ts, "/v1/health");
	assert_int_equal(r->status, 503);
	assert_string_equal(r->body, "{\"error\":\"no leader known for 3000 ms\","
				     "\"code\":\"no_leader\"}");
	assert_string_equal(http_header(r, "Content-Type"), "application/json");
	assert_string_equal(http_header(r, "Retry-After"), "1");

	fake_set_meta(ts->fake, 1, 2);
	fake_set_health(ts->fake, API_UNKNOWN_OUTCOME, "");
	r = get(ts, "/v1/health");
	assert_int_equal(r->status, 503);
	assert_non_null(strstr(r->body, "\"code\":\"unknown_outcome\""));
	assert_null(http_header(r, "Retry-After"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(status_shows_the_node_and_its_members, setup, teardown),
	    cmocka_unit_test_setup_teardown(status_without_leader_shows_nulls, setup, teardown),
	    cmocka_unit_test_setup_teardown(health_is_plain_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(unhealthy_is_503_with_the_reason, setup, teardown),
	};
	return cmocka_run_group_tests_name("api_status", tests, NULL, NULL);
}
