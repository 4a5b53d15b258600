/*
 * A request once parsed, independent of sockets: what the HTTP layer must
 * do with it (answer an error, submit a command, run a query, show status
 * or health) and how to render what comes back. api_parse_request and
 * api_parse_body are the whole request path short of the network, so the
 * fuzzer (tests/fuzz/fuzz_api_request.c) and the unit tests call them
 * directly.
 *
 * Invariants: when action is API_ACTION_SUBMIT or API_ACTION_QUERY, cmd or
 * query is valid (cmd_encoded_size(&cmd) > 0 once the body is in) and its
 * key points into r->key (a transaction's lists into r->txn), so a struct
 * api_request must not be copied or moved while they are in use. When
 * action is API_ACTION_ERROR, status and message say why. A parsed request
 * may own memory (a transaction's): api_request_release frees it.
 */
#ifndef CAIRN_API_REQUEST_H
#define CAIRN_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "command.h"
#include "parse.h"
#include "render.h"

enum api_method { API_GET, API_HEAD, API_PUT, API_DELETE, API_POST, API_OTHER };
#define API_M(m) (1u << (m))

enum api_action {
	API_ACTION_ERROR,  /* answer status + message */
	API_ACTION_SUBMIT, /* backend->submit(&cmd), once the body is in */
	API_ACTION_QUERY,  /* backend->query(&query) */
	API_ACTION_STATUS, /* GET /v1/status */
	API_ACTION_HEALTH, /* GET /v1/health */
};

/* Blocking queries (API.md): wait when only index is given, and the cap. */
#define API_WAIT_DEFAULT_MS (5u * 60 * 1000)
#define API_WAIT_MAX_MS (10u * 60 * 1000)

struct api_limits {
	size_t max_value; /* --max-value, <= API_VALUE_MAX_LIMIT */
	size_t max_body;  /* any body, <= API_BODY_MAX */
};

/* ?format= of a KV listing (API.md "Key/value"). */
enum api_format {
	API_FORMAT_JSON = 0, /* the default */
	API_FORMAT_ENV,      /* NAME='value' lines for eval */
	API_FORMAT_LINES,    /* key<TAB>value lines */
};

struct api_txn; /* txn.c: a parsed transaction's lists and bytes */

struct api_request;
typedef void (*api_render_cmd_fn)(const struct api_request *r, const struct cmd_result *res,
				  const struct api_meta *meta, struct api_response *out);
typedef void (*api_render_query_fn)(const struct api_request *r, const struct query_result *res,
				    const struct api_meta *meta, struct api_response *out);

struct api_request {
	enum api_method method;
	enum api_action action;
	enum api_status status; /* API_ACTION_ERROR: why */
	char message[API_MESSAGE_MAX];
	const char *allow; /* 405: the methods the path takes (static) */
	bool wants_body;   /* the body is the command's value: keep it */
	size_t body_limit; /* a longer body is 413 (kept or not) */
	bool raw;          /* ?raw */
	enum api_format format;
	size_t value_limit;  /* --max-value, for the values inside a JSON body */
	struct api_txn *txn; /* POST /v1/txn: owned (api_request_release) */
	struct cmd cmd;
	struct query query;
	api_render_cmd_fn render_cmd;
	api_render_query_fn render_query;
	uint8_t key[API_KEY_MAX]; /* the decoded key; cmd and query point here */
};

/*
 * Parses the request line: method (a C string) and the raw, still
 * percent-encoded URI uri[0..uri_len) (path and query). Fills *r; returns
 * 0, or -1 with r->action == API_ACTION_ERROR. uri is only read during the
 * call.
 */
int api_parse_request(struct api_request *r, const char *method, const char *uri, size_t uri_len,
		      const struct api_limits *lim);
/*
 * Hands the whole body to a parsed request (after api_parse_request
 * returned 0). For a command taking a value the value points at body,
 * borrowed: body must outlive the command's use. A body over
 * r->body_limit turns the request into a 413. Returns 0 or -1 like above.
 */
int api_parse_body(struct api_request *r, const uint8_t *body, size_t len);

/* Frees what a parsed request owns (a transaction's lists); r may then be
 * parsed again. Safe on a request whose parse failed, and twice. */
void api_request_release(struct api_request *r);

/* Turns r into an error answer; fmt is printf-like. Returns -1. */
int api_request_fail(struct api_request *r, enum api_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- query parameters, shared by every route ---- */

enum api_param_kind {
	API_PARAM_FLAG,     /* ?raw, ?raw=true|1|false|0 */
	API_PARAM_U64,      /* ?cas=42 */
	API_PARAM_DURATION, /* ?wait=10s, in milliseconds */
	API_PARAM_CHOICE,   /* ?format=env: one of spec->choices */
};

struct api_param_spec {
	const char *name;
	enum api_param_kind kind;
	unsigned methods;           /* API_M(...) bits: the methods that take it */
	const char *const *choices; /* API_PARAM_CHOICE: NULL-terminated */
};

struct api_param_value {
	bool present;
	bool flag;
	uint64_t u; /* the integer, the duration in ms, or the choice's index */
};

/*
 * Parses the query string q[0..len) against specs[0..n): out[i] gets the
 * value of specs[i]. An unknown name, a name the method does not take, a
 * name given twice, a malformed value or percent-encoding fail the request
 * (400, the message naming the parameter). Returns 0 or -1.
 */
int api_parse_params(struct api_request *r, const char *q, size_t len,
		     const struct api_param_spec *specs, size_t n, struct api_param_value *out);

/* Routes (router.c dispatches to them). path/q point into the URI. */
int api_kv_parse(struct api_request *r, const char *key, size_t key_len, const char *q,
		 size_t q_len, const struct api_limits *lim);
int api_status_parse(struct api_request *r, const char *q, size_t q_len);
int api_txn_parse(struct api_request *r, const char *q, size_t q_len, const struct api_limits *lim);
/* The body of POST /v1/txn (api_parse_body calls it). */
int api_txn_parse_body(struct api_request *r, const uint8_t *body, size_t len);
int api_health_parse(struct api_request *r, const char *q, size_t q_len);

/*
 * ?format=env and ?format=lines of a listing (format.c): appends the text
 * for entries[0..n) (sorted by key, each starting with prefix) to b.
 */
void api_format_env(struct api_buf *b, const struct kv_entry *entries, size_t n,
		    struct cmd_bytes prefix);
void api_format_lines(struct api_buf *b, const struct kv_entry *entries, size_t n);

/* Answers for /v1/status and /v1/health (status.c). */
void api_status_render(const struct api_node_status *st, const struct api_meta *meta,
		       struct api_response *out);
void api_health_render(enum api_status health, const char *reason, const struct api_meta *meta,
		       struct api_response *out);

#endif
