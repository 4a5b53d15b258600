/*
 * Rendering (api/render.c, and the kv/status renderers): the buffer, JSON
 * escaping, base64 (RFC 4648 test vectors), entries, errors and the
 * out-of-memory fallback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "render.h"
#include "request.h"

static char *str(struct api_buf *b)
{
	api_buf_add(b, "", 1);
	b->len--;
	return b->p;
}

static void buffer_grows_off_its_inline_storage(void **state)
{
	(void)state;
	char inl[8];
	struct api_buf b;
	api_buf_init(&b, inl, sizeof inl);
	api_buf_adds(&b, "1234567");
	assert_ptr_equal(b.p, inl);
	api_buf_adds(&b, "89abcdef");
	assert_ptr_not_equal(b.p, inl);
	assert_string_equal(str(&b), "123456789abcdef");
	api_buf_u64(&b, UINT64_MAX);
	assert_string_equal(str(&b), "123456789abcdef18446744073709551615");
	api_buf_reset(&b);
	assert_ptr_equal(b.p, inl);
	assert_int_equal(b.len, 0);
	/* an impossible reservation fails the buffer, which then ignores writes */
	assert_false(api_buf_reserve(&b, SIZE_MAX - 1));
	assert_true(b.oom);
	api_buf_adds(&b, "x");
	assert_int_equal(b.len, 0);
	api_buf_reset(&b);
	assert_false(b.oom);

	char s[21];
	assert_int_equal(api_u64_str(s, 0), 1);
	assert_string_equal(s, "0");
}

static void json_strings_escape_what_rfc_8259_requires(void **state)
{
	(void)state;
	struct api_buf b;
	api_buf_init(&b, NULL, 0);
	const char in[] = "q\"b\\n\nr\rt\tb\bf\f\x01\x1f\x7f/\xc3\xa9\0end";
	api_json_str(&b, (const uint8_t *)in, sizeof in - 1);
	assert_string_equal(str(&b), "\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\x7f/"
				     "\xc3\xa9\\u0000end\"");
	cJSON *j = cJSON_Parse(b.p);
	assert_true(cJSON_IsString(j));
	cJSON_Delete(j);
	api_buf_reset(&b);
}

static void base64_matches_rfc_4648_vectors(void **state)
{
	(void)state;
	const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		struct api_buf b;
		api_buf_init(&b, NULL, 0);
		api_base64(&b, (const uint8_t *)in[i], strlen(in[i]));
		assert_string_equal(str(&b), out[i]);
		api_buf_reset(&b);
	}
	static const uint8_t all[] = {0xfb, 0xff, 0xbf};
	struct api_buf b;
	api_buf_init(&b, NULL, 0);
	api_base64(&b, all, sizeof all);
	assert_string_equal(str(&b), "+/+/");
	api_buf_reset(&b);
}

static struct kv_entry entry(const char *key, const void *value, size_t vlen)
{
	struct kv_entry e;
	memset(&e, 0, sizeof e);
	e.key.p = (const uint8_t *)key;
	e.key.len = (uint32_t)strlen(key);
	e.value.p = value;
	e.value.len = (uint32_t)vlen;
	e.create_index = 17;
	e.modify_index = 42;
	e.version = 3;
	return e;
}

static void entries_use_value_or_value_base64(void **state)
{
	(void)state;
	struct api_buf b;
	api_buf_init(&b, NULL, 0);
	struct kv_entry e = entry("app/db/host", "10.0.0.5", 8);
	api_json_entry(&b, &e);
	assert_string_equal(str(&b), "{\"key\":\"app/db/host\",\"value\":\"10.0.0.5\","
				     "\"create_index\":17,\"modify_index\":42,\"version\":3,"
				     "\"session\":\"\"}");
	b.len = 0;
	e = entry("bin", "\xff\x00", 2);
	e.session.p = (const uint8_t *)"abcd";
	e.session.len = 4;
	api_json_entry(&b, &e);
	assert_string_equal(str(&b), "{\"key\":\"bin\",\"value_base64\":\"/wA=\","
				     "\"create_index\":17,\"modify_index\":42,\"version\":3,"
				     "\"session\":\"abcd\"}");
	b.len = 0;
	e = entry("empty", NULL, 0);
	api_json_entry(&b, &e);
	assert_non_null(strstr(str(&b), "\"value\":\"\""));
	api_buf_reset(&b);
}

static void errors_have_message_and_code(void **state)
{
	(void)state;
	struct api_response r;
	struct api_meta meta = {.node_id = 1, .leader_id = 0, .index = 12};
	char inl[64];
	memset(&r, 0, sizeof r);
	api_buf_init(&r.body, inl, sizeof inl);
	api_render_error(&r, API_NO_LEADER, NULL, &meta, 0);
	api_response_finish(&r);
	assert_int_equal(r.http, 503);
	assert_true(r.retry_after);
	assert_int_equal(r.index, 12);
	assert_memory_equal(r.data,
			    "{\"error\":\"no leader known right now; retry\","
			    "\"code\":\"no_leader\"}",
			    r.len);

	memset(&r, 0, sizeof r);
	api_buf_init(&r.body, inl, sizeof inl);
	api_render_error(&r, API_BAD_REQUEST, "bad \xff \"thing\"", &meta, 5);
	api_response_finish(&r);
	assert_int_equal(r.index, 5);
	assert_false(r.retry_after);
	char body[256];
	memcpy(body, r.data, r.len);
	body[r.len] = '\0';
	assert_string_equal(body, "{\"error\":\"bad ? \\\"thing\\\"\",\"code\":\"bad_request\"}");
	api_buf_reset(&r.body);

	/* a failed buffer becomes a 500 with a static body */
	memset(&r, 0, sizeof r);
	api_buf_init(&r.body, inl, sizeof inl);
	r.http = 200;
	api_buf_reserve(&r.body, SIZE_MAX - 1);
	api_response_finish(&r);
	assert_int_equal(r.http, 500);
	assert_non_null(strstr(r.data, "\"code\":\"internal\""));
	for (int s = 0; s <= API_STATUS_COUNT; s++)
		assert_non_null(api_status_message((enum api_status)s));
}

static void cas_failure_shows_the_current_entry(void **state)
{
	(void)state;
	struct api_request req;
	struct api_response r;
	struct cmd_result res;
	struct api_meta meta = {.node_id = 1, .leader_id = 1, .index = 50};
	const struct api_limits lim = {API_VALUE_MAX_DEFAULT, API_BODY_MAX};

	assert_int_equal(api_parse_request(&req, "PUT", "/v1/kv/k?cas=3", 14, &lim), 0);
	memset(&res, 0, sizeof res);
	res.status = API_CAS_FAILED;
	res.has_current = true;
	res.current = entry("k", "v", 1);
	memset(&r, 0, sizeof r);
	api_buf_init(&r.body, NULL, 0);
	req.render_cmd(&req, &res, &meta, &r);
	api_response_finish(&r);
	assert_int_equal(r.http, 409);
	assert_int_equal(r.index, 50);
	cJSON *j = cJSON_ParseWithLength(r.data, r.len);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "code")->valuestring, "cas_failed");
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "current"), "value")->valuestring, "v");
	cJSON_Delete(j);
	api_buf_reset(&r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(buffer_grows_off_its_inline_storage),
	    cmocka_unit_test(json_strings_escape_what_rfc_8259_requires),
	    cmocka_unit_test(base64_matches_rfc_4648_vectors),
	    cmocka_unit_test(entries_use_value_or_value_base64),
	    cmocka_unit_test(errors_have_message_and_code),
	    cmocka_unit_test(cas_failure_shows_the_current_entry),
	};
	return cmocka_run_group_tests_name("api_render", tests, NULL, NULL);
}
