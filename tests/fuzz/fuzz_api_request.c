/*
 * libFuzzer target for the HTTP request path without sockets: method +
 * raw URI + body through api_parse_request and api_parse_body (routing,
 * percent-decoding, keys, query parameters, numbers, durations, limits),
 * then the command codec and the renderers.
 *
 * Input: "METHOD\nURI\nBODY" (a missing part is empty). Small limits
 * (value 64 bytes, body 1024) so the 413 paths are reachable, while a
 * POST /v1/txn body has room for a few entries.
 *
 * Properties, checked whenever they apply:
 *   - a refused request has a status of the table (400, 404, 405 with an
 *     Allow list, 413) and a message;
 *   - an accepted command is valid: it encodes, decodes back, and
 *     re-encodes to the same bytes; its key passes api_key_check;
 *   - an accepted transaction is valid the same way, every key in it
 *     passes api_key_check, every value is within the value limit, and its
 *     decoded form unpacks to the same entries;
 *   - an accepted query's key passes api_key_check (empty only for a
 *     listing) and its wait is within API_WAIT_MAX_MS;
 *   - format=env renders lines a shell reads back exactly: a comment that
 *     holds no raw newline, or NAME='...' with NAME a shell name, whose
 *     quoting undone gives back the value (the body); format=lines has
 *     one line per entry, no raw tab or newline inside key or value;
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

static const struct api_limits limits = {64, 1024};

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
		uint8_t out[2048];
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

/* Encodes c, decodes it back, re-encodes the decoded form: the same bytes. */
static void check_codec(const struct cmd *c)
{
	uint8_t *enc, *again;
	size_t enc_len;
	struct cmd back;
	CHECK(cmd_encode(c, &enc, &enc_len) == 0);
	CHECK(cmd_decode(enc, enc_len, &back) == 0);
	again = malloc(enc_len);
	CHECK(cmd_encode_into(&back, again, enc_len) == enc_len);
	CHECK(memcmp(enc, again, enc_len) == 0);
	if (c->type == CMD_TXN) {
		static struct cmd_txn_compare m[CMD_TXN_MAX];
		static struct cmd_txn_op ops[2][CMD_TXN_MAX];
		const struct cmd_txn *t = &c->u.txn;
		CHECK(cmd_txn_unpack(&back.u.txn, m, ops[0], ops[1]) == 0);
		for (uint32_t i = 0; i < t->n_compare; i++) {
			CHECK(m[i].kind == t->compare[i].kind);
			CHECK(m[i].key.len == t->compare[i].key.len);
			CHECK(memcmp(m[i].key.p, t->compare[i].key.p, m[i].key.len) == 0);
		}
		for (uint32_t i = 0; i < t->n_success; i++) {
			CHECK(ops[0][i].kind == t->success[i].kind);
			CHECK(ops[0][i].value.len == t->success[i].value.len);
		}
		for (uint32_t i = 0; i < t->n_failure; i++)
			CHECK(ops[1][i].recurse == t->failure[i].recurse);
	}
	free(again);
	free(enc);
}

static void check_txn_keys(const struct api_request *r)
{
	char msg[API_MESSAGE_MAX];
	const struct cmd_txn *t = &r->cmd.u.txn;
	CHECK(t->n_compare <= CMD_TXN_MAX && t->n_success <= CMD_TXN_MAX &&
	      t->n_failure <= CMD_TXN_MAX);
	for (uint32_t i = 0; i < t->n_compare; i++) {
		const struct cmd_txn_compare *m = &t->compare[i];
		CHECK(api_key_check(m->key.p, m->key.len, false, msg, sizeof msg) == API_OK);
		CHECK(m->value.len <= limits.max_value);
	}
	const struct cmd_txn_op *lists[2] = {t->success, t->failure};
	uint32_t counts[2] = {t->n_success, t->n_failure};
	for (int l = 0; l < 2; l++) {
		for (uint32_t i = 0; i < counts[l]; i++) {
			const struct cmd_txn_op *o = &lists[l][i];
			CHECK(api_key_check(o->key.p, o->key.len, o->recurse, msg, sizeof msg) ==
			      API_OK);
			CHECK(!o->recurse || o->kind == CMD_OP_DELETE);
			CHECK(o->value.len <= limits.max_value);
		}
	}
}

/* Renders what a store would answer to the transaction's success branch
 * (every get found, its value the key) and checks the JSON. */
static void check_txn_answer(const struct api_request *r)
{
	const struct cmd_txn *t = &r->cmd.u.txn;
	static struct cmd_txn_result res[CMD_TXN_MAX];
	for (uint32_t i = 0; i < t->n_success; i++) {
		const struct cmd_txn_op *o = &t->success[i];
		memset(&res[i], 0, sizeof res[i]);
		res[i].kind = o->kind;
		res[i].found = i % 2 == 0;
		res[i].entry.key = o->key;
		res[i].entry.value = o->kind == CMD_OP_PUT ? o->value : o->key;
		res[i].deleted = i;
	}
	struct cmd_result cr;
	struct api_meta meta = {0};
	struct api_response out;
	memset(&cr, 0, sizeof cr);
	memset(&out, 0, sizeof out);
	cr.index = 9;
	cr.succeeded = true;
	cr.txn = res;
	cr.n_txn = t->n_success;
	api_buf_init(&out.body, NULL, 0);
	r->render_cmd(r, &cr, &meta, &out);
	cJSON *j = finish_json(&out);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "succeeded")));
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "results");
	CHECK(cJSON_GetArraySize(list) == (int)t->n_success);
	for (uint32_t i = 0; i < t->n_success; i++) {
		const cJSON *e = cJSON_GetArrayItem(list, (int)i);
		if (res[i].kind == CMD_OP_PUT)
			check_entry(e, t->success[i].value.p, t->success[i].value.len);
		else if (res[i].kind == CMD_OP_GET)
			CHECK(res[i].found ? cJSON_IsObject(e) : cJSON_IsNull(e));
		else
			CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "deleted")));
	}
	cJSON_Delete(j);
	api_buf_reset(&out.body);
}

static void check_command(struct api_request *r, const uint8_t *body, size_t len)
{
	char msg[API_MESSAGE_MAX];
	const struct cmd *c = &r->cmd;

	check_codec(c);
	if (c->type == CMD_TXN) {
		check_txn_keys(r);
		check_txn_answer(r);
		return;
	}
	struct cmd_bytes key = c->type == CMD_KV_PUT ? c->u.put.key : c->u.del.key;
	bool allow_empty = c->type == CMD_KV_DELETE && c->u.del.recurse;
	CHECK(api_key_check(key.p, key.len, allow_empty, msg, sizeof msg) == API_OK);

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

/* Reads format=env text the way a POSIX shell reads NAME='...' lines and
 * comments; the one entry's value must come back as want. */
static void check_env(const char *p, size_t n, const uint8_t *want, size_t want_len, bool skipped)
{
	static const char comment[] = "# skipped: ";
	if (skipped) {
		CHECK(n > sizeof comment - 1 && memcmp(p, comment, sizeof comment - 1) == 0);
		CHECK(memchr(p, '\n', n) == p + n - 1); /* one line */
		return;
	}
	size_t i = 0;
	CHECK(n > 0 && ((p[0] >= 'A' && p[0] <= 'Z') || p[0] == '_'));
	while (i < n && p[i] != '=') {
		CHECK((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_');
		i++;
	}
	CHECK(i < n && p[i++] == '=');
	uint8_t *got = malloc(n + 1);
	size_t g = 0;
	for (;;) {
		CHECK(i < n && p[i++] == '\'');
		while (i < n && p[i] != '\'')
			got[g++] = (uint8_t)p[i++];
		CHECK(i < n && p[i++] == '\'');
		CHECK(i < n);
		if (p[i] == '\n')
			break;
		/* the only other thing after a closing quote: \' and reopen */
		CHECK(p[i] == '\\' && i + 1 < n && p[i + 1] == '\'');
		got[g++] = '\'';
		i += 2;
	}
	CHECK(i == n - 1);
	CHECK(g == want_len && (g == 0 || memcmp(got, want, g) == 0));
	free(got);
}

/* format=lines: one line; unescaping gives back key and value. */
static void check_lines(const char *p, size_t n, struct cmd_bytes key, const uint8_t *value,
			size_t vlen)
{
	uint8_t *got = malloc(n);
	size_t g = 0, i = 0, tab = SIZE_MAX;
	CHECK(n > 0 && p[n - 1] == '\n');
	for (; i < n - 1; i++) {
		CHECK(p[i] != '\n');
		if (p[i] == '\t') {
			CHECK(tab == SIZE_MAX);
			tab = g;
			continue;
		}
		if (p[i] == '\\') {
			CHECK(i + 1 < n - 1);
			char e = p[++i];
			CHECK(e == 't' || e == 'n' || e == '\\');
			got[g++] = e == 't' ? '\t' : e == 'n' ? '\n' : '\\';
			continue;
		}
		got[g++] = (uint8_t)p[i];
	}
	CHECK(tab == key.len && memcmp(got, key.p, key.len) == 0);
	CHECK(g - tab == vlen && (vlen == 0 || memcmp(got + tab, value, vlen) == 0));
	free(got);
}

static void check_query(struct api_request *r, const uint8_t *body, size_t len)
{
	char msg[API_MESSAGE_MAX];
	const struct query *q = &r->query;
	CHECK(api_key_check(q->key.p, q->key.len, q->recurse, msg, sizeof msg) == API_OK);
	CHECK(q->wait_ms <= API_WAIT_MAX_MS);
	CHECK(!(r->raw && q->recurse));
	CHECK(!q->keys_only || q->recurse);

	CHECK(r->format == API_FORMAT_JSON || (q->recurse && !q->keys_only && !r->raw));

	/* One entry: the query's key (a prefix matches itself) and the body
	 * as its value. A format lists a key under the prefix: the prefix
	 * and the body's first bytes, as a key may hold them. */
	struct kv_entry e;
	struct query_result res;
	struct api_meta meta = {0};
	struct api_response out;
	uint8_t key[API_KEY_MAX];
	memset(&e, 0, sizeof e);
	memset(&res, 0, sizeof res);
	memset(&out, 0, sizeof out);
	e.key = q->key;
	if (r->format != API_FORMAT_JSON) {
		memcpy(key, q->key.p, q->key.len);
		size_t k = q->key.len;
		for (size_t i = 0; i < len && i < 8 && k < sizeof key; i++)
			if (body[i] != 0)
				key[k++] = body[i];
		if (api_key_check(key, k, false, msg, sizeof msg) == API_OK) {
			e.key.p = key;
			e.key.len = (uint32_t)k;
		}
	}
	e.value.p = body;
	e.value.len = (uint32_t)len;
	res.entries = &e;
	res.n_entries = e.key.len > 0 || !q->recurse ? 1 : 0;
	api_buf_init(&out.body, NULL, 0);
	r->render_query(r, &res, &meta, &out);
	if (r->raw) {
		api_response_finish(&out);
		CHECK(out.len == len && (len == 0 || memcmp(out.data, body, len) == 0));
	} else if (r->format != API_FORMAT_JSON) {
		api_response_finish(&out);
		CHECK(out.content_type == api_ct_text);
		CHECK((out.len == 0) == (res.n_entries == 0));
		if (res.n_entries == 0) {
			/* nothing listed */
		} else if (r->format == API_FORMAT_ENV) {
			bool nul = memchr(body, 0, len) != NULL;
			check_env(out.data, out.len, body, len, nul || e.key.len == q->key.len);
		} else {
			check_lines(out.data, out.len, e.key, body, len);
		}
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
	api_request_release(r);
	free(r);
	return 0;
}
