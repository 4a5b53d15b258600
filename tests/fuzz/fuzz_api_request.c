/*
 * libFuzzer target for the HTTP request path without sockets: method +
 * raw URI + body through api_parse_request and api_parse_body (routing,
 * percent-decoding, keys, query parameters, numbers, durations, limits),
 * then the command codec and the renderers.
 *
 * Input: "METHOD\nURI\nBODY" (a missing part is empty). Small limits
 * (value 64 bytes, body 128) so the 413 paths are reachable.
 *
 * Properties, checked whenever they apply:
 *   - a refused request has a status of the table (400, 404, 405 with an
 *     Allow list, 413) and a message;
 *   - an accepted command is valid: it encodes, decodes back, and
 *     re-encodes to the same bytes; its key passes api_key_check;
 *   - an accepted query's key passes api_key_check (empty only for a
 *     listing) and its wait is within API_WAIT_MAX_MS;
 *   - every rendered answer (the command's or query's result, the error)
 *     is valid JSON; an entry's value, or its value_base64 decoded, gives
 *     back exactly the body bytes; a raw answer is exactly the body bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../api/request.h"

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "property failed: %s (%s:%d)\n", #cond, __FILE__, \
				__LINE__);                                                \
			abort();                                                          \
		}                                                                         \
	} while (0)

static const struct api_limits limits = {64, 128};

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes padded base64 into out (cap bytes); the length, or -1. */
static long b64_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), o = 0;
	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++)
			v[k] = s[i + k] == '=' ? 0 : b64_value(s[i + k]);
		if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
			return -1;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		int bytes = s[i + 2] == '=' ? 1 : s[i + 3] == '=' ? 2 : 3;
		for (int k = 0; k < bytes; k++) {
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(w >> (16 - 8 * k));
		}
	}
	return (long)o;
}

/* An entry object's value is exactly want[0..len). */
static void check_entry(const cJSON *e, const uint8_t *want, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "value_base64");
	CHECK((v == NULL) != (b == NULL));
	if (v != NULL) {
		CHECK(cJSON_IsString(v));
		CHECK(api_utf8_valid(want, len));
		/* cJSON strings end at a NUL: compare up to the first one */
		const uint8_t *nul = memchr(want, 0, len);
		size_t n = nul != NULL ? (size_t)(nul - want) : len;
		CHECK(strlen(v->valuestring) == n && memcmp(v->valuestring, want, n) == 0);
	} else {
		uint8_t out[256];
		CHECK(cJSON_IsString(b));
		CHECK(!api_utf8_valid(want, len));
		CHECK(b64_decode(b->valuestring, out, sizeof out) == (long)len);
		CHECK(memcmp(out, want, len) == 0);
	}
}

static cJSON *finish_json(struct api_response *out)
{
	api_response_finish(out);
	CHECK(out->content_type == api_ct_json);
	cJSON *j = cJSON_ParseWithLength(out->data, out->len);
	CHECK(j != NULL);
	return j;
}

static void check_error(struct api_request *r)
{
	int http = api_status_http(r->status);
	CHECK(http == 400 || http == 404 || http == 405 || http == 413);
	CHECK(r->message[0] != '\0');
	CHECK(memchr(r->message, 0, sizeof r->message) != NULL);
	CHECK((http == 405) == (r->allow != NULL));

	struct api_response out;
	struct api_meta meta = {0};
	memset(&out, 0, sizeof out);
	api_buf_init(&out.body, NULL, 0);
	api_render_error(&out, r->status, r->message, &meta, 0);
	cJSON *j = finish_json(&out);
	CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")));
	cJSON_Delete(j);
	api_buf_reset(&out.body);
}

static void check_command(struct api_request *r, const uint8_t *body, size_t len)
{
	char msg[API_MESSAGE_MAX];
	const struct cmd *c = &r->cmd;
	struct cmd_bytes key = c->type == CMD_KV_PUT ? c->u.put.key : c->u.del.key;
	bool allow_empty = c->type == CMD_KV_DELETE && c->u.del.recurse;
	CHECK(api_key_check(key.p, key.len, allow_empty, msg, sizeof msg) == API_OK);

	uint8_t *enc, again[1024];
	size_t enc_len;
	struct cmd back;
	CHECK(cmd_encode(c, &enc, &enc_len) == 0);
	CHECK(cmd_decode(enc, enc_len, &back) == 0);
	CHECK(cmd_encode_into(&back, again, sizeof again) == enc_len);
	CHECK(memcmp(enc, again, enc_len) == 0);
	free(enc);

	/* Render what a store would answer. */
	struct cmd_result res;
	struct api_meta meta = {0};
	struct api_response out;
	memset(&res, 0, sizeof res);
	memset(&out, 0, sizeof out);
	api_buf_init(&out.body, NULL, 0);
	res.index = 7;
	if (c->type == CMD_KV_PUT) {
		CHECK(c->u.put.value.len == len);
		res.has_entry = true;
		res.entry.key = key;
		res.entry.value = c->u.put.value;
	} else {
		res.deleted = 1;
	}
	r->render_cmd(r, &res, &meta, &out);
	cJSON *j = finish_json(&out);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok")));
	if (c->type == CMD_KV_PUT)
		check_entry(cJSON_GetObjectItemCaseSensitive(j, "entry"), body, len);
	cJSON_Delete(j);
	api_buf_reset(&out.body);
}

static void check_query(struct api_request *r, const uint8_t *body, size_t len)
{
	char msg[API_MESSAGE_MAX];
	const struct query *q = &r->query;
	CHECK(api_key_check(q->key.p, q->key.len, q->recurse, msg, sizeof msg) == API_OK);
	CHECK(q->wait_ms <= API_WAIT_MAX_MS);
	CHECK(!(r->raw && q->recurse));
	CHECK(!q->keys_only || q->recurse);

	/* One entry: the query's key (a prefix matches itself) and the body
	 * as its value. */
	struct kv_entry e;
	struct query_result res;
	struct api_meta meta = {0};
	struct api_response out;
	memset(&e, 0, sizeof e);
	memset(&res, 0, sizeof res);
	memset(&out, 0, sizeof out);
	e.key = q->key;
	e.value.p = body;
	e.value.len = (uint32_t)len;
	res.entries = &e;
	res.n_entries = q->key.len > 0 || !q->recurse ? 1 : 0;
	api_buf_init(&out.body, NULL, 0);
	r->render_query(r, &res, &meta, &out);
	if (r->raw) {
		api_response_finish(&out);
		CHECK(out.len == len && (len == 0 || memcmp(out.data, body, len) == 0));
	} else {
		cJSON *j = finish_json(&out);
		if (!q->recurse)
			check_entry(j, body, len);
		else if (!q->keys_only && res.n_entries == 1)
			check_entry(cJSON_GetArrayItem(j, 0), body, len);
		cJSON_Delete(j);
	}
	api_buf_reset(&out.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char method[16];
	const uint8_t *end = data + size;
	const uint8_t *nl = memchr(data, '\n', size);
	const uint8_t *uri = nl != NULL ? nl + 1 : end;
	size_t mlen = (size_t)((nl != NULL ? nl : end) - data);
	if (mlen >= sizeof method)
		mlen = sizeof method - 1;
	memcpy(method, data, mlen);
	method[mlen] = '\0';
	const uint8_t *nl2 = memchr(uri, '\n', (size_t)(end - uri));
	size_t uri_len = (size_t)((nl2 != NULL ? nl2 : end) - uri);
	const uint8_t *body = nl2 != NULL ? nl2 + 1 : end;
	size_t body_len = (size_t)(end - body);

	/* The URI is copied so that ASan catches any read past it. */
	char *u = malloc(uri_len + 1);
	memcpy(u, uri, uri_len);
	u[uri_len] = '\0';
	struct api_request *r = malloc(sizeof *r);
	int rc = api_parse_request(r, method, u, uri_len, &limits);
	free(u);
	if (rc == 0)
		rc = api_parse_body(r, body, body_len);
	if (rc != 0) {
		CHECK(r->action == API_ACTION_ERROR);
		check_error(r);
	} else if (r->action == API_ACTION_SUBMIT) {
		check_command(r, body, body_len);
	} else if (r->action == API_ACTION_QUERY) {
		check_query(r, body, body_len);
	} else {
		CHECK(r->action == API_ACTION_STATUS || r->action == API_ACTION_HEALTH);
	}
	free(r);
	return 0;
}
