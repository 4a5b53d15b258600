/*
 * Routing: method + path to a route's parser, and the query-parameter
 * machinery every route shares.
 *
 * Rules: an unknown path is 404 whatever the method; a known path with a
 * method it does not take is 405 with an Allow header; only then are the
 * key and the parameters looked at. Paths are matched on the raw URI,
 * before any percent-decoding, so "/v1/%6bv/" is not "/v1/kv/".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

struct route {
	const char *path;
	bool prefix; /* path is a prefix; the rest is the route's argument */
	unsigned methods;
	const char *allow;
	enum {
		ROUTE_KV,
		ROUTE_STATUS,
		ROUTE_HEALTH,
		ROUTE_TXN,
	} id;
};

static const struct route routes[] = {
    {"/v1/kv/", true, API_M(API_GET) | API_M(API_HEAD) | API_M(API_PUT) | API_M(API_DELETE),
     "GET, HEAD, PUT, DELETE", ROUTE_KV},
    {"/v1/status", false, API_M(API_GET) | API_M(API_HEAD), "GET, HEAD", ROUTE_STATUS},
    {"/v1/health", false, API_M(API_GET) | API_M(API_HEAD), "GET, HEAD", ROUTE_HEALTH},
    {"/v1/txn", false, API_M(API_POST), "POST", ROUTE_TXN},
};

static const char *const method_names[] = {
    [API_GET] = "GET",       [API_HEAD] = "HEAD", [API_PUT] = "PUT",
    [API_DELETE] = "DELETE", [API_POST] = "POST",
};

static enum api_method method_of(const char *m)
{
	for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++)
		if (strcmp(m, method_names[i]) == 0)
			return (enum api_method)i;
	return API_OTHER;
}

int api_request_fail(struct api_request *r, enum api_status s, const char *fmt, ...)
{
	va_list ap;

	r->action = API_ACTION_ERROR;
	r->status = s;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof r->message, fmt, ap);
	va_end(ap);
	return -1;
}

int api_parse_request(struct api_request *r, const char *method, const char *uri, size_t uri_len,
		      const struct api_limits *lim)
{
	memset(r, 0, offsetof(struct api_request, key));
	r->method = method_of(method);
	r->body_limit = lim->max_body;
	r->value_limit = lim->max_value < lim->max_body ? lim->max_value : lim->max_body;

	const char *qmark = memchr(uri, '?', uri_len);
	size_t path_len = qmark != NULL ? (size_t)(qmark - uri) : uri_len;
	const char *q = qmark != NULL ? qmark + 1 : uri + uri_len;
	size_t q_len = uri_len - path_len - (qmark != NULL ? 1 : 0);

	const struct route *rt = NULL;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0] && rt == NULL; i++) {
		size_t n = strlen(routes[i].path);
		if (routes[i].prefix ? path_len >= n : path_len == n)
			if (memcmp(uri, routes[i].path, n) == 0)
				rt = &routes[i];
	}
	if (rt == NULL) {
		char shown[64];
		api_printable(shown, sizeof shown, (const uint8_t *)uri, path_len);
		return api_request_fail(r, API_NOT_FOUND, "no such endpoint: %s", shown);
	}
	if (r->method == API_OTHER || !(rt->methods & API_M(r->method))) {
		r->allow = rt->allow;
		char shown[16];
		api_printable(shown, sizeof shown, (const uint8_t *)method, strlen(method));
		return api_request_fail(r, API_METHOD_NOT_ALLOWED,
					"method %s not allowed here (allowed: %s)", shown,
					rt->allow);
	}
	size_t n = strlen(rt->path);
	switch (rt->id) {
	case ROUTE_KV:
		return api_kv_parse(r, uri + n, path_len - n, q, q_len, lim);
	case ROUTE_STATUS:
		return api_status_parse(r, q, q_len);
	case ROUTE_HEALTH:
		return api_health_parse(r, q, q_len);
	case ROUTE_TXN:
		return api_txn_parse(r, q, q_len, lim);
	}
	return api_request_fail(r, API_INTERNAL, "unrouted");
}

int api_parse_body(struct api_request *r, const uint8_t *body, size_t len)
{
	if (r->action == API_ACTION_ERROR)
		return -1;
	if (len > r->body_limit) {
		if (r->wants_body && r->cmd.type == CMD_KV_PUT)
			return api_request_fail(r, API_TOO_LARGE,
						"value larger than --max-value (%zu bytes)",
						r->body_limit);
		return api_request_fail(r, API_TOO_LARGE, "body larger than %zu bytes",
					r->body_limit);
	}
	if (!r->wants_body)
		return 0;
	if (r->action == API_ACTION_SUBMIT && r->cmd.type == CMD_KV_PUT) {
		r->cmd.u.put.value.p = body;
		r->cmd.u.put.value.len = (uint32_t)len;
	}
	if (r->action == API_ACTION_SUBMIT && r->cmd.type == CMD_TXN)
		return api_txn_parse_body(r, body, len);
	return 0;
}

void api_request_release(struct api_request *r)
{
	free(r->txn);
	r->txn = NULL;
}

/* Decodes a parameter's name or value into dst (cap bytes, then NUL);
 * -1 on bad percent-encoding, -2 when longer than cap - 1. */
static int decode_piece(const char *s, size_t len, char *dst, size_t cap, size_t *out_len)
{
	enum api_pct rc = api_pct_decode(s, len, true, (uint8_t *)dst, cap - 1, out_len);
	dst[*out_len] = '\0';
	return rc == API_PCT_OK ? 0 : rc == API_PCT_BAD ? -1 : -2;
}

static int parse_value(struct api_request *r, const struct api_param_spec *spec,
		       const struct api_qparam *p, struct api_param_value *v)
{
	char val[32];
	size_t len = 0;
	int rc = 0;

	if (p->value != NULL)
		rc = decode_piece(p->value, p->value_len, val, sizeof val, &len);
	if (rc == -1)
		return api_request_fail(r, API_BAD_REQUEST,
					"invalid percent-encoding in query parameter \"%s\"",
					spec->name);
	switch (spec->kind) {
	case API_PARAM_FLAG:
		if (p->value == NULL ||
		    (rc == 0 && (len == 0 || strcmp(val, "true") == 0 || strcmp(val, "1") == 0))) {
			v->flag = true;
			return 0;
		}
		if (rc == 0 && (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)) {
			v->flag = false;
			return 0;
		}
		return api_request_fail(r, API_BAD_REQUEST,
					"invalid value for query parameter \"%s\": expected no "
					"value, true or false",
					spec->name);
	case API_PARAM_U64:
		if (p->value != NULL && rc == 0 && api_parse_u64(val, len, &v->u) == 0)
			return 0;
		return api_request_fail(r, API_BAD_REQUEST,
					"invalid value for query parameter \"%s\": expected an "
					"unsigned integer",
					spec->name);
	case API_PARAM_DURATION:
		if (p->value != NULL && rc == 0 && api_parse_duration_ms(val, len, &v->u) == 0)
			return 0;
		return api_request_fail(r, API_BAD_REQUEST,
					"invalid value for query parameter \"%s\": expected a "
					"duration such as 500ms, 10s, 5m or 1h",
					spec->name);
	case API_PARAM_CHOICE: {
		char list[64] = "";
		size_t used = 0;
		for (size_t i = 0; spec->choices[i] != NULL; i++) {
			if (p->value != NULL && rc == 0 && strcmp(val, spec->choices[i]) == 0) {
				v->u = i;
				return 0;
			}
			int n = snprintf(list + used, sizeof list - used, "%s%s", i > 0 ? ", " : "",
					 spec->choices[i]);
			if (n > 0 && (size_t)n < sizeof list - used)
				used += (size_t)n;
		}
		return api_request_fail(r, API_BAD_REQUEST,
					"invalid value for query parameter \"%s\": expected one "
					"of %s",
					spec->name, list);
	}
	}
	return api_request_fail(r, API_INTERNAL, "unknown parameter kind");
}

int api_parse_params(struct api_request *r, const char *q, size_t len,
		     const struct api_param_spec *specs, size_t n, struct api_param_value *out)
{
	struct api_qiter it;
	struct api_qparam p;

	if (n > 0)
		memset(out, 0, n * sizeof *out);
	api_qiter_init(&it, q, len);
	while (api_qiter_next(&it, &p)) {
		char name[32];
		size_t name_len;
		int rc = decode_piece(p.name, p.name_len, name, sizeof name, &name_len);
		if (rc == -1)
			return api_request_fail(r, API_BAD_REQUEST,
						"invalid percent-encoding in the query string");
		size_t i = 0;
		while (i < n && !(rc == 0 && strcmp(name, specs[i].name) == 0))
			i++;
		if (i == n) {
			char shown[40];
			api_printable(shown, sizeof shown, (const uint8_t *)name, name_len);
			return api_request_fail(r, API_BAD_REQUEST,
						"unknown query parameter \"%s%s\"", shown,
						rc == -2 ? "..." : "");
		}
		if (!(specs[i].methods & API_M(r->method)))
			return api_request_fail(r, API_BAD_REQUEST,
						"query parameter \"%s\" is not allowed with %s",
						specs[i].name, method_names[r->method]);
		if (out[i].present)
			return api_request_fail(r, API_BAD_REQUEST,
						"query parameter \"%s\" given twice",
						specs[i].name);
		out[i].present = true;
		if (parse_value(r, &specs[i], &p, &out[i]) != 0)
			return -1;
	}
	return 0;
}
