/*
 * POST /v1/txn in the api: the JSON body into a CMD_TXN (api/txn.c over
 * api/json.c), every refusal with its status and message, the answer's
 * rendering, and the endpoint over real HTTP against the fake backend
 * (which applies transactions as the store does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "api_http_client.h"
#include "api_test_server.h"
#include "request.h"

static const struct api_limits limits = {64, API_BODY_MAX};

/* Parses POST /v1/txn with body into *r (heap: the struct is large);
 * returns the parse result. The caller releases and frees r. */
static int parse(struct api_request *r, const char *body, size_t len)
{
	int rc = api_parse_request(r, "POST", "/v1/txn", 7, &limits);
	assert_int_equal(rc, 0);
	return api_parse_body(r, (const uint8_t *)body, len);
}

static struct api_request *parse_ok(const char *body)
{
	struct api_request *r = calloc(1, sizeof *r);
	if (parse(r, body, strlen(body)) != 0)
		fail_msg("refused %s: %s", body, r->message);
	assert_int_equal(r->action, API_ACTION_SUBMIT);
	assert_int_equal(r->cmd.type, CMD_TXN);
	assert_true(cmd_encoded_size(&r->cmd) > 0);
	return r;
}

static void done(struct api_request *r)
{
	api_request_release(r);
	api_request_release(r); /* twice is harmless */
	free(r);
}

/* The body is refused with status s and a message containing want. */
static void refused_len(const char *body, size_t len, enum api_status s, const char *want)
{
	struct api_request *r = calloc(1, sizeof *r);
	if (parse(r, body, len) == 0)
		fail_msg("accepted: %.*s", (int)len, body);
	assert_int_equal(r->action, API_ACTION_ERROR);
	if (r->status != s || strstr(r->message, want) == NULL)
		fail_msg("%.*s: got %d \"%s\", want %d \"...%s...\"", (int)len, body, r->status,
			 r->message, s, want);
	assert_null(r->txn); /* a refusal keeps no memory */
	done(r);
}

static void refused(const char *body, enum api_status s, const char *want)
{
	refused_len(body, strlen(body), s, want);
}

static void assert_b(struct cmd_bytes b, const void *p, size_t n)
{
	assert_int_equal(b.len, n);
	if (n > 0)
		assert_memory_equal(b.p, p, n);
}

static void assert_s(struct cmd_bytes b, const char *s)
{
	assert_b(b, s, strlen(s));
}

static void the_contract_example_parses(void **state)
{
	(void)state;
	struct api_request *r = parse_ok(
	    "{\"compare\":[{\"key\":\"a\",\"modify_index\":42},{\"key\":\"b\",\"absent\":true},"
	    "{\"key\":\"c\",\"value\":\"on\"}],\n"
	    " \"success\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\"},{\"op\":\"delete\","
	    "\"key\":\"b\"},{\"op\":\"get\",\"key\":\"c\"}],\n"
	    " \"failure\":[{\"op\":\"get\",\"key\":\"a\"}]}");
	const struct cmd_txn *t = &r->cmd.u.txn;
	assert_int_equal(t->n_compare, 3);
	assert_int_equal(t->n_success, 3);
	assert_int_equal(t->n_failure, 1);
	assert_int_equal(t->compare[0].kind, CMD_CMP_MODIFY_INDEX);
	assert_int_equal(t->compare[0].index, 42);
	assert_s(t->compare[0].key, "a");
	assert_int_equal(t->compare[1].kind, CMD_CMP_ABSENT);
	assert_int_equal(t->compare[2].kind, CMD_CMP_VALUE);
	assert_s(t->compare[2].value, "on");
	assert_int_equal(t->success[0].kind, CMD_OP_PUT);
	assert_s(t->success[0].value, "1");
	assert_int_equal(t->success[1].kind, CMD_OP_DELETE);
	assert_false(t->success[1].recurse);
	assert_int_equal(t->success[2].kind, CMD_OP_GET);
	assert_s(t->success[2].key, "c");
	assert_int_equal(t->failure[0].kind, CMD_OP_GET);
	assert_s(t->failure[0].key, "a");
	done(r);
}

static void lists_are_optional_and_fields_come_in_any_order(void **state)
{
	(void)state;
	struct api_request *r = parse_ok(" {} ");
	assert_int_equal(r->cmd.u.txn.n_compare + r->cmd.u.txn.n_success + r->cmd.u.txn.n_failure,
			 0);
	done(r);
	r = parse_ok("{\"failure\":[],\"success\":[{\"value\":\"v\",\"key\":\"k\",\"op\":\"put\"}],"
		     "\"compare\":[]}");
	assert_int_equal(r->cmd.u.txn.n_success, 1);
	assert_s(r->cmd.u.txn.success[0].value, "v");
	done(r);
	/* whitespace of every kind between tokens */
	r = parse_ok("\t{\r\n\"success\" :\t[ { \"op\" : \"get\" , \"key\" : \"k\" } ] }\n");
	assert_int_equal(r->cmd.u.txn.n_success, 1);
	done(r);
}

static void compare_kinds_and_their_spellings(void **state)
{
	(void)state;
	struct api_request *r = parse_ok(
	    "{\"compare\":[{\"key\":\"a\",\"absent\":false},{\"key\":\"a\",\"modify_index\":0},"
	    "{\"key\":\"a\",\"modify_index\":18446744073709551615},"
	    "{\"key\":\"a\",\"value_base64\":\"//4=\"},{\"key\":\"a\",\"value\":\"\"}]}");
	const struct cmd_txn *t = &r->cmd.u.txn;
	assert_int_equal(t->compare[0].kind, CMD_CMP_PRESENT);
	assert_int_equal(t->compare[1].kind, CMD_CMP_MODIFY_INDEX);
	assert_int_equal(t->compare[1].index, 0);
	assert_true(t->compare[2].index == UINT64_MAX);
	assert_int_equal(t->compare[3].kind, CMD_CMP_VALUE);
	assert_b(t->compare[3].value, "\xff\xfe", 2);
	assert_int_equal(t->compare[4].kind, CMD_CMP_VALUE);
	assert_int_equal(t->compare[4].value.len, 0);
	done(r);
}

static void strings_decode_every_json_escape(void **state)
{
	(void)state;
	struct api_request *r = parse_ok(
	    "{\"success\":[{\"op\":\"put\",\"key\":\"k\\/\\u00e9\\ud83d\\ude00\","
	    "\"value\":\"q\\\"b\\\\s\\/n\\nr\\rt\\tb\\bf\\f\\u0000\\u001F\\u20AC\xc3\xa9\"}]}");
	const struct cmd_txn_op *o = &r->cmd.u.txn.success[0];
	assert_s(o->key, "k/\xc3\xa9\xf0\x9f\x98\x80");
	assert_b(o->value, "q\"b\\s/n\nr\rt\tb\bf\f\0\x1f\xe2\x82\xac\xc3\xa9", 23);
	done(r);
}

static void binary_values_come_as_strict_base64(void **state)
{
	(void)state;
	static const struct {
		const char *b64;
		const char *bytes;
		size_t n;
	} good[] = {
	    {"", "", 0},
	    {"Zg==", "f", 1},
	    {"Zm8=", "fo", 2},
	    {"Zm9v", "foo", 3},
	    {"Zm9vYg==", "foob", 4},
	    {"AP8A", "\0\xff\0", 3},
	    {"+/+/", "\xfb\xff\xbf", 3},
	};
	char body[256];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(body, sizeof body,
			 "{\"success\":[{\"op\":\"put\",\"key\":\"k\",\"value_base64\":\"%s\"}]}",
			 good[i].b64);
		struct api_request *r = parse_ok(body);
		assert_b(r->cmd.u.txn.success[0].value, good[i].bytes, good[i].n);
		done(r);
	}
	static const char *const bad[] = {"Zg",    "Zg=",     "Z===", "====", "Zh==",     "Zm9=",
					  "Zm 9v", "Zm9v\\n", "Zm-v", "Zm_v", "Zg==Zg==", "=Zm9"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(body, sizeof body,
			 "{\"success\":[{\"op\":\"put\",\"key\":\"k\",\"value_base64\":\"%s\"}]}",
			 bad[i]);
		refused(body, API_BAD_REQUEST, "success[0].value_base64: not valid padded");
	}
}

static void delete_takes_recurse_and_the_empty_prefix(void **state)
{
	(void)state;
	struct api_request *r =
	    parse_ok("{\"success\":[{\"op\":\"delete\",\"key\":\"\",\"recurse\":"
		     "true},{\"op\":\"delete\",\"key\":\"p/\",\"recurse\":false}]}");
	assert_true(r->cmd.u.txn.success[0].recurse);
	assert_int_equal(r->cmd.u.txn.success[0].key.len, 0);
	assert_false(r->cmd.u.txn.success[1].recurse);
	done(r);
	refused("{\"success\":[{\"op\":\"delete\",\"key\":\"\"}]}", API_BAD_REQUEST,
		"success[0].key: empty key");
	refused("{\"success\":[{\"op\":\"get\",\"key\":\"a\",\"recurse\":true}]}", API_BAD_REQUEST,
		"success[0].recurse: only a delete takes recurse");
	refused("{\"failure\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"\",\"recurse\":false}]}",
		API_BAD_REQUEST, "failure[0].recurse: only a delete takes recurse");
}

static void at_most_128_entries_in_each_list(void **state)
{
	(void)state;
	const char *names[] = {"compare", "success", "failure"};
	const char *items[] = {"{\"key\":\"k\",\"absent\":true}", "{\"op\":\"get\",\"key\":\"k\"}",
			       "{\"op\":\"delete\",\"key\":\"k\"}"};
	for (int l = 0; l < 3; l++) {
		for (int n = 128; n <= 129; n++) {
			size_t cap = 64 + (size_t)n * 40;
			char *body = malloc(cap);
			size_t len = (size_t)snprintf(body, cap, "{\"%s\":[", names[l]);
			for (int i = 0; i < n; i++)
				len += (size_t)snprintf(body + len, cap - len, "%s%s", i ? "," : "",
							items[l]);
			snprintf(body + len, cap - len, "]}");
			if (n == 128) {
				struct api_request *r = parse_ok(body);
				done(r);
			} else {
				char want[64];
				snprintf(want, sizeof want, "%s: more than 128 entries", names[l]);
				refused(body, API_BAD_REQUEST, want);
			}
			free(body);
		}
	}
}

static void shape_errors_name_the_place(void **state)
{
	(void)state;
	refused("", API_BAD_REQUEST, "the body must be a JSON object");
	refused("   ", API_BAD_REQUEST, "the body must be a JSON object");
	refused("[]", API_BAD_REQUEST, "the body must be a JSON object");
	refused("null", API_BAD_REQUEST, "the body must be a JSON object");
	refused("\xef\xbb\xbf{}", API_BAD_REQUEST, "the body must be a JSON object"); /* BOM */
	refused("{\"bogus\":[]}", API_BAD_REQUEST, "unknown field \"bogus\"");
	refused("{\"Compare\":[]}", API_BAD_REQUEST, "unknown field \"Compare\"");
	refused("{\"a_very_long_field_name_indeed\":1}", API_BAD_REQUEST, "unknown field");
	refused("{\"compare\":[],\"compare\":[]}", API_BAD_REQUEST, "compare: given twice");
	refused("{\"compare\":{}}", API_BAD_REQUEST, "compare: expected an array");
	refused("{\"success\":null}", API_BAD_REQUEST, "success: expected an array");
	refused("{\"compare\":[1]}", API_BAD_REQUEST, "compare[0]: expected an object");
	refused("{\"compare\":[[]]}", API_BAD_REQUEST, "compare[0]: expected an object");
	refused("{\"compare\":[{\"key\":\"a\"}]}", API_BAD_REQUEST,
		"compare[0]: needs exactly one of modify_index, absent, value, value_base64");
	refused("{\"compare\":[{\"key\":\"a\",\"absent\":true,\"modify_index\":3}]}",
		API_BAD_REQUEST, "compare[0]: needs exactly one of");
	refused("{\"compare\":[{\"key\":\"a\",\"value\":\"x\",\"value_base64\":\"eA==\"}]}",
		API_BAD_REQUEST, "compare[0]: value and value_base64 both given");
	refused("{\"compare\":[{\"absent\":true}]}", API_BAD_REQUEST, "compare[0].key: missing");
	refused("{\"compare\":[{\"key\":\"a\",\"op\":\"get\"}]}", API_BAD_REQUEST,
		"compare[0]: unknown field \"op\"");
	refused("{\"compare\":[{\"key\":\"a\",\"key\":\"b\",\"absent\":true}]}", API_BAD_REQUEST,
		"compare[0].key: given twice");
	refused("{\"compare\":[{\"key\":\"a\",\"absent\":\"yes\"}]}", API_BAD_REQUEST,
		"compare[0].absent: expected true or false");
	refused("{\"compare\":[{\"key\":\"a\",\"absent\":1}]}", API_BAD_REQUEST,
		"compare[0].absent: expected true or false");
	refused("{\"compare\":[{\"key\":7,\"absent\":true}]}", API_BAD_REQUEST,
		"compare[0].key: expected a string");
	refused("{\"compare\":[{\"key\":null,\"absent\":true}]}", API_BAD_REQUEST,
		"compare[0].key: expected a string");
	refused("{\"compare\":[{\"key\":\"a\",\"modify_index\":\"4\"}]}", API_BAD_REQUEST,
		"compare[0].modify_index: expected an unsigned integer");
	refused("{\"success\":[{\"key\":\"a\"}]}", API_BAD_REQUEST, "success[0].op: missing");
	refused("{\"success\":[{\"op\":\"PUT\",\"key\":\"a\",\"value\":\"\"}]}", API_BAD_REQUEST,
		"success[0].op: expected \"get\", \"put\" or \"delete\"");
	refused("{\"success\":[{\"op\":\"cas\",\"key\":\"a\"}]}", API_BAD_REQUEST,
		"success[0].op: expected");
	refused("{\"success\":[{\"op\":\"get\"}]}", API_BAD_REQUEST, "success[0].key: missing");
	refused("{\"success\":[{\"op\":\"put\",\"key\":\"a\"}]}", API_BAD_REQUEST,
		"success[0]: needs value or value_base64");
	refused("{\"success\":[{\"op\":\"get\",\"key\":\"a\",\"value\":\"v\"}]}", API_BAD_REQUEST,
		"success[0].value: only a put takes a value");
	refused("{\"success\":[{\"op\":\"delete\",\"key\":\"a\",\"value_base64\":\"\"}]}",
		API_BAD_REQUEST, "success[0].value_base64: only a put takes a value");
	refused("{\"success\":[{\"op\":\"get\",\"key\":\"a\",\"modify_index\":1}]}",
		API_BAD_REQUEST, "success[0]: unknown field \"modify_index\"");
	refused("{\"success\":[{\"op\":\"get\",\"key\":\"a\"},{\"op\":\"get\",\"key\":\"b\","
		"\"extra\":{}}]}",
		API_BAD_REQUEST, "success[1]: unknown field \"extra\"");
	refused("{\"failure\":[{\"op\":\"put\",\"key\":\"a\",\"value\":1}]}", API_BAD_REQUEST,
		"failure[0].value: expected a string");
	refused("{\"failure\":[{\"op\":\"put\",\"key\":\"a\",\"value\":[\"x\"]}]}", API_BAD_REQUEST,
		"failure[0].value: expected a string");
}

static void numbers_are_unsigned_64_bit_integers(void **state)
{
	(void)state;
	static const char *const bad_type[] = {"-1",
					       "1.5",
					       "1e3",
					       "1E+2",
					       "18446744073709551616",
					       "-0",
					       "0.0",
					       "99999999999999999999999"};
	char body[128];
	for (size_t i = 0; i < sizeof bad_type / sizeof bad_type[0]; i++) {
		snprintf(body, sizeof body, "{\"compare\":[{\"key\":\"a\",\"modify_index\":%s}]}",
			 bad_type[i]);
		refused(body, API_BAD_REQUEST,
			"compare[0].modify_index: expected an unsigned integer (no sign");
	}
	static const char *const bad_syntax[] = {"01", "1.", ".5", "1e", "+1", "-", "0x10", "1e+"};
	for (size_t i = 0; i < sizeof bad_syntax / sizeof bad_syntax[0]; i++) {
		snprintf(body, sizeof body, "{\"compare\":[{\"key\":\"a\",\"modify_index\":%s}]}",
			 bad_syntax[i]);
		struct api_request *r = calloc(1, sizeof *r);
		assert_int_not_equal(parse(r, body, strlen(body)), 0);
		assert_int_equal(r->status, API_BAD_REQUEST);
		done(r);
	}
}

static void json_syntax_errors_say_where(void **state)
{
	(void)state;
	refused("{", API_BAD_REQUEST, "invalid JSON at byte 1: unexpected end of input");
	refused("{\"compare\" []}", API_BAD_REQUEST, "invalid JSON at byte 11: expected ':'");
	refused("{\"compare\":[],}", API_BAD_REQUEST, "invalid JSON at byte 14: expected a string");
	refused("{\"compare\":[] \"success\":[]}", API_BAD_REQUEST,
		"invalid JSON at byte 14: expected ',' or '}'");
	refused("{\"compare\":[{\"key\":\"a\",\"absent\":true},]}", API_BAD_REQUEST,
		"compare[1]: expected an object");
	refused("{} x", API_BAD_REQUEST, "invalid JSON at byte 3: trailing bytes after the object");
	refused("{}{}", API_BAD_REQUEST, "trailing bytes");
	refused("{\"compare\":[{\"key\":\"a\",\"absent\":tru}]}", API_BAD_REQUEST,
		"expected true or false");
	refused("{\"compare\":[{\"key\":\"a\",\"absent\":true", API_BAD_REQUEST,
		"expected ',' or '}'");
	refused("{\"compare\":[{\"key\":\"a,\"absent\":true}]}", API_BAD_REQUEST, "invalid JSON");
	refused("{\"compare\":[{\"key\":\"a\x01\",\"absent\":true}]}", API_BAD_REQUEST,
		"control character in a string");
	refused("{\"compare\":[{\"key\":\"a\nb\",\"absent\":true}]}", API_BAD_REQUEST,
		"control character in a string");
	refused("{\"compare\":[{\"key\":\"a\\x\",\"absent\":true}]}", API_BAD_REQUEST,
		"invalid escape in a string");
	refused("{\"compare\":[{\"key\":\"a\\u12\",\"absent\":true}]}", API_BAD_REQUEST,
		"invalid \\u escape");
	refused("{\"compare\":[{\"key\":\"\\ud800\",\"absent\":true}]}", API_BAD_REQUEST,
		"high surrogate without its low surrogate");
	refused("{\"compare\":[{\"key\":\"\\ud800\\u0041\",\"absent\":true}]}", API_BAD_REQUEST,
		"high surrogate without its low surrogate");
	refused("{\"compare\":[{\"key\":\"\\udc00\",\"absent\":true}]}", API_BAD_REQUEST,
		"lone low surrogate");
	refused("{\"compare\":[{\"key\":\"\xff\",\"absent\":true}]}", API_BAD_REQUEST,
		"invalid UTF-8 in a string");
	refused("{\"compare\":[{\"key\":\"\xc0\xaf\",\"absent\":true}]}", API_BAD_REQUEST,
		"invalid UTF-8 in a string");
	refused("{\"compare\":[{\"key\":\"\xed\xa0\x80\",\"absent\":true}]}", API_BAD_REQUEST,
		"invalid UTF-8 in a string");
	refused("{\"compare\":[{\"key\":\"a\",\"value\":\"\xe2\x82\"}]}", API_BAD_REQUEST,
		"invalid UTF-8 in a string");
	/* a NUL byte in the raw JSON is a control character */
	refused_len("{\"compare\":[{\"key\":\"a\0\",\"absent\":true}]}", 38, API_BAD_REQUEST,
		    "control character");
	/* depth is no problem: anything past the shape is a type error */
	char deep[4096];
	size_t n = (size_t)snprintf(deep, sizeof deep, "{\"compare\":");
	while (n < sizeof deep - 1)
		deep[n++] = '[';
	deep[n] = '\0';
	refused(deep, API_BAD_REQUEST, "compare[0]: expected an object");
}

static void keys_follow_the_kv_rules(void **state)
{
	(void)state;
	refused("{\"compare\":[{\"key\":\"\",\"absent\":true}]}", API_BAD_REQUEST,
		"compare[0].key: empty key");
	refused("{\"compare\":[{\"key\":\"/a\",\"absent\":true}]}", API_BAD_REQUEST,
		"compare[0].key: key must not start with '/'");
	refused("{\"success\":[{\"op\":\"get\",\"key\":\"a\\u0000b\"}]}", API_BAD_REQUEST,
		"success[0].key: key contains a NUL byte");
	char body[1024];
	char key[API_KEY_MAX + 2];
	memset(key, 'k', sizeof key);
	key[API_KEY_MAX] = '\0';
	snprintf(body, sizeof body, "{\"success\":[{\"op\":\"get\",\"key\":\"%s\"}]}", key);
	done(parse_ok(body));
	key[API_KEY_MAX] = 'k';
	key[API_KEY_MAX + 1] = '\0';
	snprintf(body, sizeof body, "{\"success\":[{\"op\":\"get\",\"key\":\"%s\"}]}", key);
	refused(body, API_TOO_LARGE, "success[0].key: key longer than 512 bytes");
	/* escapes count after decoding: 512 escaped bytes are fine */
	size_t n = (size_t)snprintf(body, sizeof body, "{\"success\":[{\"op\":\"get\",\"key\":\"");
	char *big = malloc(8192);
	memcpy(big, body, n);
	for (int i = 0; i < API_KEY_MAX; i++)
		n += (size_t)sprintf(big + n, "\\u0061");
	sprintf(big + n, "\"}]}");
	done(parse_ok(big));
	free(big);
}

static void values_are_bounded_by_max_value(void **state)
{
	(void)state;
	char v[70], body[256];
	memset(v, 'v', sizeof v);
	v[64] = '\0'; /* limits.max_value is 64 */
	snprintf(body, sizeof body,
		 "{\"success\":[{\"op\":\"put\",\"key\":\"k\",\"value\":\"%s\"}]}", v);
	done(parse_ok(body));
	v[64] = 'v';
	v[65] = '\0';
	snprintf(body, sizeof body,
		 "{\"success\":[{\"op\":\"put\",\"key\":\"k\",\"value\":\"%s\"}]}", v);
	refused(body, API_TOO_LARGE, "success[0].value: larger than --max-value (64 bytes)");
	snprintf(body, sizeof body, "{\"compare\":[{\"key\":\"k\",\"value\":\"%s\"}]}", v);
	refused(body, API_TOO_LARGE, "compare[0].value: larger than --max-value");
	/* 66 bytes as base64 ("vvv" is "dnZ2"), then 63: the limit is on the
	 * decoded bytes */
	char b64[100] = "";
	for (int i = 0; i < 22; i++)
		strcat(b64, "dnZ2");
	snprintf(body, sizeof body,
		 "{\"success\":[{\"op\":\"put\",\"key\":\"k\",\"value_base64\":\"%s\"}]}", b64);
	refused(body, API_TOO_LARGE, "success[0].value_base64: larger than --max-value");
	b64[84] = '\0';
	snprintf(body, sizeof body,
		 "{\"success\":[{\"op\":\"put\",\"key\":\"k\",\"value_base64\":\"%s\"}]}", b64);
	done(parse_ok(body));
}

static void the_body_limit_is_413_before_parsing(void **state)
{
	(void)state;
	struct api_request *r = calloc(1, sizeof *r);
	assert_int_equal(api_parse_request(r, "POST", "/v1/txn", 7, &limits), 0);
	assert_true(r->wants_body);
	assert_int_equal(r->body_limit, API_BODY_MAX);
	assert_int_equal(api_parse_body(r, NULL, API_BODY_MAX + 1), -1);
	assert_int_equal(r->status, API_TOO_LARGE);
	assert_string_equal(r->message, "body larger than 4194304 bytes");
	done(r);
	r = calloc(1, sizeof *r);
	assert_int_equal(api_parse_request(r, "POST", "/v1/txn?stale", 13, &limits), -1);
	assert_int_equal(r->status, API_BAD_REQUEST);
	assert_string_equal(r->message, "unknown query parameter \"stale\"");
	assert_int_equal(api_parse_request(r, "GET", "/v1/txn", 7, &limits), -1);
	assert_int_equal(r->status, API_METHOD_NOT_ALLOWED);
	assert_string_equal(r->allow, "POST");
	assert_int_equal(api_parse_request(r, "POST", "/v1/txn/x", 9, &limits), -1);
	assert_int_equal(r->status, API_NOT_FOUND);
	done(r);
}

/* Parsing the same request twice frees the first transaction. */
static void a_request_parsed_again_frees_its_transaction(void **state)
{
	(void)state;
	struct api_request *r = parse_ok("{\"success\":[{\"op\":\"get\",\"key\":\"a\"}]}");
	const char *body = "{\"failure\":[{\"op\":\"get\",\"key\":\"b\"}]}";
	assert_int_equal(api_parse_body(r, (const uint8_t *)body, strlen(body)), 0);
	assert_int_equal(r->cmd.u.txn.n_failure, 1);
	done(r);
}

/* ---- rendering ---- */

static char *render(const struct api_request *r, const struct cmd_result *res,
		    struct api_response *out)
{
	struct api_meta meta = {.node_id = 1, .leader_id = 1, .index = 3};
	memset(out, 0, sizeof *out);
	api_buf_init(&out->body, NULL, 0);
	r->render_cmd(r, res, &meta, out);
	api_response_finish(out);
	char *s = malloc(out->len + 1);
	memcpy(s, out->data, out->len);
	s[out->len] = '\0';
	api_buf_reset(&out->body);
	return s;
}

static void answers_render_one_result_per_op(void **state)
{
	(void)state;
	struct api_request *r = parse_ok("{}");
	struct cmd_txn_result t[4];
	memset(t, 0, sizeof t);
	t[0].kind = CMD_OP_PUT;
	t[0].entry.key = (struct cmd_bytes){(const uint8_t *)"a", 1};
	t[0].entry.value = (struct cmd_bytes){(const uint8_t *)"\xff", 1};
	t[0].entry.create_index = t[0].entry.modify_index = 9;
	t[0].entry.version = 1;
	t[1].kind = CMD_OP_GET; /* not found */
	t[2].kind = CMD_OP_GET;
	t[2].found = true;
	t[2].entry.key = (struct cmd_bytes){(const uint8_t *)"c", 1};
	t[2].entry.value = (struct cmd_bytes){(const uint8_t *)"on", 2};
	t[2].entry.create_index = 2;
	t[2].entry.modify_index = 5;
	t[2].entry.version = 3;
	t[3].kind = CMD_OP_DELETE;
	t[3].deleted = 7;
	struct cmd_result res;
	memset(&res, 0, sizeof res);
	res.status = API_OK;
	res.index = 9;
	res.succeeded = true;
	res.txn = t;
	res.n_txn = 4;
	struct api_response out;
	char *s = render(r, &res, &out);
	assert_string_equal(
	    s,
	    "{\"succeeded\":true,\"index\":9,\"results\":[{\"key\":\"a\",\"value_base64\":\"/w==\","
	    "\"create_index\":9,\"modify_index\":9,\"version\":1,\"session\":\"\"},null,"
	    "{\"key\":\"c\",\"value\":\"on\",\"create_index\":2,\"modify_index\":5,\"version\":3,"
	    "\"session\":\"\"},{\"deleted\":7}]}");
	assert_int_equal(out.http, 200);
	assert_int_equal(out.index, 9);
	free(s);

	res.succeeded = false;
	res.n_txn = 0;
	res.txn = NULL;
	s = render(r, &res, &out);
	assert_string_equal(s, "{\"succeeded\":false,\"index\":9,\"results\":[]}");
	free(s);

	memset(&res, 0, sizeof res);
	res.status = API_TOO_LARGE;
	res.index = 10;
	snprintf(res.message, sizeof res.message, "too much");
	s = render(r, &res, &out);
	assert_string_equal(s, "{\"error\":\"too much\",\"code\":\"too_large\"}");
	assert_int_equal(out.http, 413);
	assert_int_equal(out.index, 10);
	free(s);

	memset(&res, 0, sizeof res);
	res.status = API_UNKNOWN_OUTCOME;
	s = render(r, &res, &out);
	assert_int_equal(out.http, 503);
	assert_int_equal(out.index, 3); /* the meta's */
	free(s);
	done(r);
}

/* ---- over HTTP, against the fake backend ---- */

static enum fake_mode mode;
static struct http_resp last;

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

static void txn_over_http_runs_one_branch_atomically(void **state)
{
	struct test_server *ts = *state;
	assert_int_equal(req(ts, "PUT", "/v1/kv/a", "0")->status, 200);  /* index 1 */
	assert_int_equal(req(ts, "PUT", "/v1/kv/c", "on")->status, 200); /* index 2 */
	const char *body =
	    "{\"compare\":[{\"key\":\"a\",\"modify_index\":1},{\"key\":\"b\",\"absent\":true},"
	    "{\"key\":\"c\",\"value\":\"on\"}],"
	    "\"success\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"1\"},{\"op\":\"delete\","
	    "\"key\":\"b\"},{\"op\":\"get\",\"key\":\"c\"},{\"op\":\"get\",\"key\":\"a\"}],"
	    "\"failure\":[{\"op\":\"get\",\"key\":\"a\"}]}";
	struct http_resp *r = req(ts, "POST", "/v1/txn", body);
	assert_int_equal(r->status, 200);
	assert_string_equal(
	    r->body,
	    "{\"succeeded\":true,\"index\":3,\"results\":[{\"key\":\"a\",\"value\":\"1\","
	    "\"create_index\":1,\"modify_index\":3,\"version\":2,\"session\":\"\"},{\"deleted\":0},"
	    "{\"key\":\"c\",\"value\":\"on\",\"create_index\":2,\"modify_index\":2,\"version\":1,"
	    "\"session\":\"\"},{\"key\":\"a\",\"value\":\"1\",\"create_index\":1,\"modify_index\":"
	    "3,"
	    "\"version\":2,\"session\":\"\"}]}");
	assert_string_equal(http_header(r, "X-Cairn-Index"), "3");
	assert_string_equal(http_header(r, "Content-Type"), "application/json");

	/* the same again: modify_index moved, so the failure branch runs */
	r = req(ts, "POST", "/v1/txn", body);
	assert_int_equal(r->status, 200);
	assert_string_equal(
	    r->body, "{\"succeeded\":false,\"index\":4,\"results\":[{\"key\":\"a\",\"value\":"
		     "\"1\",\"create_index\":1,\"modify_index\":3,\"version\":2,\"session\":"
		     "\"\"}]}");
	r = req(ts, "GET", "/v1/kv/a?raw", NULL);
	assert_string_equal(r->body, "1");

	/* what reached the backend is the parsed transaction */
	const struct fake_seen *seen = fake_seen(ts->fake);
	assert_int_equal(seen->cmd.type, CMD_TXN);
	assert_int_equal(seen->cmd.u.txn.n_compare, 3);
	assert_int_equal(seen->cmd.u.txn.n_success, 4);
	assert_int_equal(seen->cmd.u.txn.n_failure, 1);
}

static void txn_refusals_over_http(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = req(ts, "GET", "/v1/txn", NULL);
	assert_int_equal(r->status, 405);
	assert_string_equal(http_header(r, "Allow"), "POST");
	r = req(ts, "PUT", "/v1/txn", "{}");
	assert_int_equal(r->status, 405);
	r = req(ts, "POST", "/v1/txn", "{\"compare\":[{\"key\":\"a\"}]}");
	assert_int_equal(r->status, 400);
	assert_string_equal(r->body, "{\"error\":\"compare[0]: needs exactly one of modify_index, "
				     "absent, value, value_base64\",\"code\":\"bad_request\"}");
	r = req(ts, "POST", "/v1/txn", "");
	assert_int_equal(r->status, 400);
	assert_int_equal(fake_submits(ts->fake), 0);
	fake_fail_next(ts->fake, 1, API_UNKNOWN_OUTCOME, "leader lost");
	r = req(ts, "POST", "/v1/txn", "{}");
	assert_int_equal(r->status, 503);
	assert_string_equal(r->body, "{\"error\":\"leader lost\",\"code\":\"unknown_outcome\"}");
	r = req(ts, "POST", "/v1/txn", "{}");
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "{\"succeeded\":true,\"index\":1,\"results\":[]}");
}

/* A transaction much larger than the inline buffers, values with every
 * byte: what the gets return is exactly what the puts wrote. */
static void large_transactions_round_trip_over_http(void **state)
{
	struct test_server *ts = *state;
	size_t cap = 1 << 20, n = 0;
	char *body = malloc(cap);
	n += (size_t)snprintf(body + n, cap - n, "{\"success\":[");
	for (int i = 0; i < 64; i++) {
		char b64[(256 / 3 + 1) * 4 + 1];
		struct api_buf b;
		uint8_t v[256];
		for (int k = 0; k < 256; k++)
			v[k] = (uint8_t)(k + i);
		api_buf_init(&b, b64, sizeof b64);
		api_base64(&b, v, (size_t)(i % 60)); /* 0..59 bytes: within max_value */
		b64[b.len] = '\0';
		n += (size_t)snprintf(
		    body + n, cap - n,
		    "%s{\"op\":\"put\",\"key\":\"k/%02d\",\"value_base64\":\"%s\"}", i ? "," : "",
		    i, b64);
	}
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(body + n, cap - n, ",{\"op\":\"get\",\"key\":\"k/%02d\"}", i);
	snprintf(body + n, cap - n, "]}");
	struct http_resp *r = req(ts, "POST", "/v1/txn", body);
	free(body);
	assert_int_equal(r->status, 200);
	cJSON *j = cJSON_Parse(r->body);
	assert_non_null(j);
	cJSON *results = cJSON_GetObjectItemCaseSensitive(j, "results");
	assert_int_equal(cJSON_GetArraySize(results), 128);
	for (int i = 0; i < 64; i++) {
		cJSON *put = cJSON_GetArrayItem(results, i);
		cJSON *get = cJSON_GetArrayItem(results, 64 + i);
		char *a = cJSON_PrintUnformatted(put), *b = cJSON_PrintUnformatted(get);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	cJSON_Delete(j);
}

#define HTTP_TESTS                                                                          \
	cmocka_unit_test_setup_teardown(txn_over_http_runs_one_branch_atomically, setup,    \
					teardown),                                          \
	    cmocka_unit_test_setup_teardown(txn_refusals_over_http, setup, teardown),       \
	    cmocka_unit_test_setup_teardown(large_transactions_round_trip_over_http, setup, \
					    teardown)

int main(void)
{
	const struct CMUnitTest parsing[] = {
	    cmocka_unit_test(the_contract_example_parses),
	    cmocka_unit_test(lists_are_optional_and_fields_come_in_any_order),
	    cmocka_unit_test(compare_kinds_and_their_spellings),
	    cmocka_unit_test(strings_decode_every_json_escape),
	    cmocka_unit_test(binary_values_come_as_strict_base64),
	    cmocka_unit_test(delete_takes_recurse_and_the_empty_prefix),
	    cmocka_unit_test(at_most_128_entries_in_each_list),
	    cmocka_unit_test(shape_errors_name_the_place),
	    cmocka_unit_test(numbers_are_unsigned_64_bit_integers),
	    cmocka_unit_test(json_syntax_errors_say_where),
	    cmocka_unit_test(keys_follow_the_kv_rules),
	    cmocka_unit_test(values_are_bounded_by_max_value),
	    cmocka_unit_test(the_body_limit_is_413_before_parsing),
	    cmocka_unit_test(a_request_parsed_again_frees_its_transaction),
	    cmocka_unit_test(answers_render_one_result_per_op),
	};
	const struct CMUnitTest http[] = {HTTP_TESTS};
	int failed = cmocka_run_group_tests_name("api_txn_parse", parsing, NULL, NULL);
	static const enum fake_mode modes[] = {FAKE_SYNC, FAKE_ASYNC, FAKE_AFTER_RET};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		mode = modes[i];
		failed += cmocka_run_group_tests_name("api_txn_http", http, NULL, NULL);
	}
	return failed;
}
