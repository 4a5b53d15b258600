/*
 * /v1/kv/<key>: parsing into commands and queries, and rendering their
 * results (API.md "Key/value").
 *
 *   GET, HEAD  ?raw ?stale ?recurse ?keys ?index=N ?wait=D
 *              ?format=env|lines                           -> QUERY_KV_GET
 *   PUT        ?cas=N, body = value                         -> CMD_KV_PUT
 *   DELETE     ?recurse ?cas=N                              -> CMD_KV_DELETE
 *
 * Rules kept here: the key is percent-decoded and checked (api_key_check);
 * it may be empty only as the prefix of a listing or a recursive delete.
 * ?keys lists names under the prefix (it implies ?recurse). ?raw answers
 * one key only. ?wait needs ?index; ?index alone waits API_WAIT_DEFAULT_MS;
 * any wait is cut to API_WAIT_MAX_MS. ?cas does not combine with ?recurse.
 * ?format renders a listing as text (format.c): it needs ?recurse (a
 * single key has no NAME: 400 rather than guess), and does not combine
 * with ?keys or ?raw, which choose other answer shapes.
 * A missing key is 404 for a single-key GET (so `curl -sf` fails) and an
 * empty array for a listing.
 */
#include <string.h>

#include "request.h"

enum { P_RAW, P_STALE, P_RECURSE, P_KEYS, P_INDEX, P_WAIT, P_CAS, P_FORMAT, P_COUNT };

/* In the order of enum api_format, after "json" (API_FORMAT_JSON). */
static const char *const formats[] = {"json", "env", "lines", NULL};

#define READS (API_M(API_GET) | API_M(API_HEAD))
static const struct api_param_spec kv_params[P_COUNT] = {
    [P_RAW] = {"raw", API_PARAM_FLAG, READS, NULL},
    [P_STALE] = {"stale", API_PARAM_FLAG, READS, NULL},
    [P_RECURSE] = {"recurse", API_PARAM_FLAG, READS | API_M(API_DELETE), NULL},
    [P_KEYS] = {"keys", API_PARAM_FLAG, READS, NULL},
    [P_INDEX] = {"index", API_PARAM_U64, READS, NULL},
    [P_WAIT] = {"wait", API_PARAM_DURATION, READS, NULL},
    [P_CAS] = {"cas", API_PARAM_U64, API_M(API_PUT) | API_M(API_DELETE), NULL},
    [P_FORMAT] = {"format", API_PARAM_CHOICE, READS, formats},
};

static void render_put(const struct api_request *r, const struct cmd_result *res,
		       const struct api_meta *meta, struct api_response *out);
static void render_delete(const struct api_request *r, const struct cmd_result *res,
			  const struct api_meta *meta, struct api_response *out);
static void render_get(const struct api_request *r, const struct query_result *res,
		       const struct api_meta *meta, struct api_response *out);

int api_kv_parse(struct api_request *r, const char *key, size_t key_len, const char *q,
		 size_t q_len, const struct api_limits *lim)
{
	struct api_param_value v[P_COUNT];
	size_t klen;

	/* The key first: a malformed key is the answer whatever the rest. */
	switch (api_pct_decode(key, key_len, false, r->key, sizeof r->key, &klen)) {
	case API_PCT_OK:
		break;
	case API_PCT_BAD:
		return api_request_fail(r, API_BAD_REQUEST, "invalid percent-encoding in the key");
	case API_PCT_LONG:
		return api_request_fail(r, API_TOO_LARGE, "key longer than %d bytes", API_KEY_MAX);
	}
	if (api_parse_params(r, q, q_len, kv_params, P_COUNT, v) != 0)
		return -1;
	bool recurse = v[P_RECURSE].flag || v[P_KEYS].flag;
	char why[API_MESSAGE_MAX];
	enum api_status ks = api_key_check(r->key, klen, recurse, why, sizeof why);
	if (ks != API_OK)
		return api_request_fail(r, ks, "%s", why);
	struct cmd_bytes k = {r->key, (uint32_t)klen};

	switch (r->method) {
	case API_GET:
	case API_HEAD:
		if (v[P_RAW].flag && recurse)
			return api_request_fail(r, API_BAD_REQUEST,
						"raw answers one key: it does not combine with "
						"recurse or keys");
		if (v[P_WAIT].present && !v[P_INDEX].present)
			return api_request_fail(r, API_BAD_REQUEST,
						"wait needs index (a blocking query)");
		r->format = (enum api_format)v[P_FORMAT].u;
		if (r->format != API_FORMAT_JSON && !v[P_RECURSE].flag)
			return api_request_fail(r, API_BAD_REQUEST,
						"format=%s lists a prefix: add recurse",
						formats[r->format]);
		if (r->format != API_FORMAT_JSON && (v[P_KEYS].flag || v[P_RAW].flag))
			return api_request_fail(r, API_BAD_REQUEST,
						"format=%s does not combine with keys or raw",
						formats[r->format]);
		r->action = API_ACTION_QUERY;
		r->raw = v[P_RAW].flag;
		r->query.type = QUERY_KV_GET;
		r->query.consistency =
		    v[P_STALE].flag ? CONSISTENCY_STALE : CONSISTENCY_LINEARIZABLE;
		r->query.key = k;
		r->query.recurse = recurse;
		r->query.keys_only = v[P_KEYS].flag;
		if (v[P_INDEX].present) {
			uint64_t wait = v[P_WAIT].present ? v[P_WAIT].u : API_WAIT_DEFAULT_MS;
			r->query.min_index = v[P_INDEX].u;
			r->query.wait_ms = wait < API_WAIT_MAX_MS ? wait : API_WAIT_MAX_MS;
		}
		r->render_query = render_get;
		return 0;
	case API_PUT:
		r->action = API_ACTION_SUBMIT;
		r->wants_body = true;
		r->body_limit = lim->max_value < lim->max_body ? lim->max_value : lim->max_body;
		r->cmd.type = CMD_KV_PUT;
		r->cmd.u.put.key = k;
		r->cmd.u.put.has_cas = v[P_CAS].present;
		r->cmd.u.put.cas = v[P_CAS].u;
		r->render_cmd = render_put;
		return 0;
	case API_DELETE:
		if (v[P_CAS].present && recurse)
			return api_request_fail(r, API_BAD_REQUEST,
						"cas does not combine with recurse");
		r->action = API_ACTION_SUBMIT;
		r->cmd.type = CMD_KV_DELETE;
		r->cmd.u.del.key = k;
		r->cmd.u.del.recurse = recurse;
		r->cmd.u.del.has_cas = v[P_CAS].present;
		r->cmd.u.del.cas = v[P_CAS].u;
		r->render_cmd = render_delete;
		return 0;
	case API_POST:
	case API_OTHER:
		break;
	}
	return api_request_fail(r, API_INTERNAL, "unrouted method");
}

/* Failed writes: an error; a CAS failure also shows the current entry. */
static void render_cmd_error(const struct cmd_result *res, const struct api_meta *meta,
			     struct api_response *out)
{
	api_error_open(out, res->status, res->message, meta, res->index);
	if (res->status == API_CAS_FAILED) {
		api_buf_adds(&out->body, ",\"current\":");
		if (res->has_current)
			api_json_entry(&out->body, &res->current);
		else
			api_buf_adds(&out->body, "null");
	}
	api_error_close(out);
}

static void open_ok(const struct cmd_result *res, const struct api_meta *meta,
		    struct api_response *out)
{
	out->http = 200;
	out->content_type = api_ct_json;
	out->meta = *meta;
	out->index = res->index != 0 ? res->index : meta->index;
	api_buf_adds(&out->body, "{\"ok\":true,\"index\":");
	api_buf_u64(&out->body, res->index);
}

static void render_put(const struct api_request *r, const struct cmd_result *res,
		       const struct api_meta *meta, struct api_response *out)
{
	(void)r;
	if (res->status != API_OK) {
		render_cmd_error(res, meta, out);
		return;
	}
	open_ok(res, meta, out);
	if (res->has_entry) {
		api_buf_adds(&out->body, ",\"entry\":");
		api_json_entry(&out->body, &res->entry);
	}
	api_buf_add(&out->body, "}", 1);
}

static void render_delete(const struct api_request *r, const struct cmd_result *res,
			  const struct api_meta *meta, struct api_response *out)
{
	(void)r;
	if (res->status != API_OK) {
		render_cmd_error(res, meta, out);
		return;
	}
	open_ok(res, meta, out);
	api_buf_adds(&out->body, ",\"deleted\":");
	api_buf_u64(&out->body, res->deleted);
	api_buf_add(&out->body, "}", 1);
}

static void render_get(const struct api_request *r, const struct query_result *res,
		       const struct api_meta *meta, struct api_response *out)
{
	bool listing = r->query.recurse;

	if (res->status != API_OK && res->status != API_NOT_FOUND) {
		api_render_error(out, res->status, res->message, meta, res->index);
		out->index = res->index; /* a query's own index, even 0 */
		return;
	}
	if (!listing && (res->status == API_NOT_FOUND || res->n_entries == 0)) {
		api_render_error(out, API_NOT_FOUND,
				 res->message[0] != '\0' ? res->message : "key not found", meta,
				 res->index);
		out->index = res->index;
		return;
	}
	out->http = 200;
	out->meta = *meta;
	out->index = res->index;
	if (r->raw) {
		const struct kv_entry *e = &res->entries[0];
		out->content_type =
		    api_utf8_valid(e->value.p, e->value.len) ? api_ct_text : api_ct_octets;
		out->data = e->value.p != NULL ? (const void *)e->value.p : "";
		out->len = e->value.len;
		return;
	}
	size_t n = res->status == API_OK ? res->n_entries : 0;
	if (r->format == API_FORMAT_ENV || r->format == API_FORMAT_LINES) {
		out->content_type = api_ct_text;
		if (r->format == API_FORMAT_ENV)
			api_format_env(&out->body, res->entries, n, r->query.key);
		else
			api_format_lines(&out->body, res->entries, n);
		return;
	}
	out->content_type = api_ct_json;
	if (!listing) {
		api_json_entry(&out->body, &res->entries[0]);
		return;
	}
	api_buf_add(&out->body, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			api_buf_add(&out->body, ",", 1);
		if (r->query.keys_only)
			api_json_str(&out->body, res->entries[i].key.p, res->entries[i].key.len);
		else
			api_json_entry(&out->body, &res->entries[i]);
	}
	api_buf_add(&out->body, "]", 1);
}
