/*
 * POST /v1/txn: a JSON body into a CMD_TXN command, and its result into
 * the answer (API.md "Transactions", docs/API.md).
 *
 *   {"compare":[{"key":K, one of "modify_index":N | "absent":B |
 *                "value":S | "value_base64":S}, ...],
 *    "success":[{"op":"get"|"put"|"delete", "key":K,
 *                put: one of "value":S | "value_base64":S,
 *                delete: optional "recurse":B}, ...],
 *    "failure":[...same as success...]}
 *
 * Rules: the body is one JSON object (json.c's strict reader); each list
 * is optional (absent: empty) and holds at most CMD_TXN_MAX entries; a
 * field not listed above, a field given twice, a field of the wrong type,
 * or an entry lacking what its kind needs is 400 naming the place
 * ("success[2].value: ..."); keys follow the KV rules (api_key_check: 400,
 * 413 when too long), with the empty key allowed only as a recursive
 * delete's prefix; a value (put or compare) longer than --max-value is
 * 413. "absent":false means the key must exist; "modify_index":0 means it
 * must not (as ?cas=0). value_base64 is standard padded base64, strictly
 * (no whitespace, zero padding bits).
 *
 * Memory: the lists and every decoded string live in one block owned by
 * the request (r->txn, freed by api_request_release), sized from the body
 * (a decoded string is never longer than its JSON form), so parsing
 * allocates once and its memory is bounded by the body limit.
 *
 * The answer: {"succeeded":B,"index":N,"results":[...]}, one result per
 * op of the branch that ran: get -> the entry or null, put -> the entry as
 * written, delete -> {"deleted":N}. It is rendered on the thread that
 * completes the command (cmd_result's bytes are lent only for the call).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "request.h"

struct api_txn {
	struct cmd_txn_compare compare[CMD_TXN_MAX];
	struct cmd_txn_op ops[2][CMD_TXN_MAX]; /* success, failure */
	size_t used;                           /* bytes[0..used) hold strings */
	size_t cap;
	uint8_t bytes[];
};

static const char *const list_names[3] = {"compare", "success", "failure"};

static void render_txn(const struct api_request *r, const struct cmd_result *res,
		       const struct api_meta *meta, struct api_response *out);

int api_txn_parse(struct api_request *r, const char *q, size_t q_len, const struct api_limits *lim)
{
	if (api_parse_params(r, q, q_len, NULL, 0, NULL) != 0)
		return -1;
	r->action = API_ACTION_SUBMIT;
	r->wants_body = true;
	r->body_limit = lim->max_body;
	r->cmd.type = CMD_TXN;
	r->render_cmd = render_txn;
	return 0;
}

/* ---- parsing ---- */

struct parser {
	struct api_request *r;
	struct api_json j;
	struct api_txn *t;
	char where[32]; /* "success[12]" */
};

/* Fails the request with a message about the field being read. */
static int field_fail(struct parser *ps, enum api_status s, const char *field, const char *why)
{
	return api_request_fail(ps->r, s, "%s%s%s: %s", ps->where, field[0] ? "." : "", field, why);
}

/* A JSON syntax error: where, and the byte it happened at. */
static int syntax_fail(struct parser *ps)
{
	return api_request_fail(ps->r, API_BAD_REQUEST, "invalid JSON at byte %zu: %s",
				api_json_offset(&ps->j), ps->j.why != NULL ? ps->j.why : "?");
}

/* A string field into the transaction's bytes. */
static int read_string(struct parser *ps, const char *field, struct cmd_bytes *out)
{
	struct api_txn *t = ps->t;
	size_t len;

	if (api_json_peek(&ps->j) != API_JSON_STRING)
		return field_fail(ps, API_BAD_REQUEST, field, "expected a string");
	int rc = api_json_string(&ps->j, t->bytes + t->used, t->cap - t->used, &len);
	if (rc != 0)
		return syntax_fail(ps); /* -2 cannot happen: see struct api_txn */
	out->p = t->bytes + t->used;
	out->len = (uint32_t)len;
	t->used += len;
	return 0;
}

static int read_bool(struct parser *ps, const char *field, bool *v)
{
	if (api_json_peek(&ps->j) != API_JSON_BOOL)
		return field_fail(ps, API_BAD_REQUEST, field, "expected true or false");
	return api_json_bool(&ps->j, v) == 0 ? 0 : syntax_fail(ps);
}

static int read_u64(struct parser *ps, const char *field, uint64_t *v)
{
	if (api_json_peek(&ps->j) != API_JSON_NUMBER)
		return field_fail(ps, API_BAD_REQUEST, field, "expected an unsigned integer");
	int rc = api_json_u64(&ps->j, v);
	if (rc == -2)
		return field_fail(ps, API_BAD_REQUEST, field,
				  "expected an unsigned integer (no sign, fraction or exponent; "
				  "at most 2^64-1)");
	return rc == 0 ? 0 : syntax_fail(ps);
}

static int b64_digit(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes padded standard base64 in place (the output never overtakes the
 * input). 0, or -1 when b is not strict base64. */
static int b64_decode_in_place(struct cmd_bytes *b)
{
	uint8_t *p = (uint8_t *)b->p;
	size_t n = b->len, o = 0;

	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		int pad = last ? (p[i + 3] == '=') + (p[i + 2] == '=' && p[i + 3] == '=') : 0;
		int v[4];
		uint32_t w = 0;
		for (size_t k = 0; k < 4; k++) {
			v[k] = k + (size_t)pad >= 4 ? 0 : b64_digit(p[i + k]);
			if (v[k] < 0)
				return -1;
			w = w << 6 | (uint32_t)v[k];
		}
		/* The bits padding leaves over must be zero (RFC 4648 3.5). */
		if ((pad == 1 && (w & 0xFF) != 0) || (pad == 2 && (w & 0xFFFF) != 0))
			return -1;
		p[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			p[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			p[o++] = (uint8_t)w;
	}
	b->len = (uint32_t)o;
	return 0;
}

/* The value of a put or compare: exactly one of value, value_base64. */
static int check_value(struct parser *ps, bool has_value, bool has_b64, struct cmd_bytes *v)
{
	if (has_value == has_b64)
		return field_fail(ps, API_BAD_REQUEST, "",
				  has_value ? "value and value_base64 both given"
					    : "needs value or value_base64");
	if (has_b64 && b64_decode_in_place(v) != 0)
		return field_fail(ps, API_BAD_REQUEST, "value_base64",
				  "not valid padded standard base64");
	if (v->len > ps->r->value_limit) {
		char why[64];
		snprintf(why, sizeof why, "larger than --max-value (%zu bytes)",
			 ps->r->value_limit);
		return field_fail(ps, API_TOO_LARGE, has_b64 ? "value_base64" : "value", why);
	}
	return 0;
}

static int check_key(struct parser *ps, bool has_key, struct cmd_bytes key, bool allow_empty)
{
	char why[API_MESSAGE_MAX];
	if (!has_key)
		return field_fail(ps, API_BAD_REQUEST, "key", "missing");
	enum api_status s = api_key_check(key.p, key.len, allow_empty, why, sizeof why);
	if (s != API_OK)
		return field_fail(ps, s, "key", why);
	return 0;
}

/* The fields an entry may have; each at most once. */
enum {
	F_KEY,
	F_OP,
	F_VALUE,
	F_VALUE_B64,
	F_MODIFY_INDEX,
	F_ABSENT,
	F_RECURSE,
	F_COUNT,
};
static const char *const field_names[F_COUNT] = {
    [F_KEY] = "key",
    [F_OP] = "op",
    [F_VALUE] = "value",
    [F_VALUE_B64] = "value_base64",
    [F_MODIFY_INDEX] = "modify_index",
    [F_ABSENT] = "absent",
    [F_RECURSE] = "recurse",
};

/* Everything an entry's object may say, before it is checked. */
struct fields {
	bool has[F_COUNT];
	struct cmd_bytes key, op, value;
	uint64_t modify_index;
	bool absent, recurse;
};

/* Reads one entry object of list `list` (0 compare, 1/2 ops) into f. */
static int read_fields(struct parser *ps, int list, struct fields *f)
{
	bool first = true;
	int more;

	memset(f, 0, sizeof *f);
	if (api_json_peek(&ps->j) != API_JSON_OBJECT)
		return field_fail(ps, API_BAD_REQUEST, "", "expected an object");
	if (!api_json_open(&ps->j, '{'))
		return syntax_fail(ps);
	while ((more = api_json_next(&ps->j, '}', &first)) == 1) {
		uint8_t name[16];
		size_t len;
		int rc = api_json_string(&ps->j, name, sizeof name, &len);
		if (rc == -1)
			return syntax_fail(ps);
		int k = 0;
		while (k < F_COUNT && !(rc == 0 && strlen(field_names[k]) == len &&
					memcmp(name, field_names[k], len) == 0))
			k++;
		bool allowed = k < F_COUNT && (list == 0 ? (k != F_OP && k != F_RECURSE)
							 : (k != F_MODIFY_INDEX && k != F_ABSENT));
		if (!allowed) {
			char shown[24];
			api_printable(shown, sizeof shown, name, rc == 0 ? len : sizeof name);
			char why[64];
			snprintf(why, sizeof why, "unknown field \"%s\"", shown);
			return field_fail(ps, API_BAD_REQUEST, "", why);
		}
		if (f->has[k])
			return field_fail(ps, API_BAD_REQUEST, field_names[k], "given twice");
		f->has[k] = true;
		if (!api_json_colon(&ps->j))
			return syntax_fail(ps);
		switch (k) {
		case F_KEY:
			rc = read_string(ps, "key", &f->key);
			break;
		case F_OP:
			rc = read_string(ps, "op", &f->op);
			break;
		case F_VALUE:
			rc = read_string(ps, "value", &f->value);
			break;
		case F_VALUE_B64:
			rc = read_string(ps, "value_base64", &f->value);
			break;
		case F_MODIFY_INDEX:
			rc = read_u64(ps, "modify_index", &f->modify_index);
			break;
		case F_ABSENT:
			rc = read_bool(ps, "absent", &f->absent);
			break;
		default:
			rc = read_bool(ps, "recurse", &f->recurse);
			break;
		}
		if (rc != 0)
			return -1;
	}
	return more == 0 ? 0 : syntax_fail(ps);
}

static int build_compare(struct parser *ps, const struct fields *f, struct cmd_txn_compare *m)
{
	int conditions =
	    f->has[F_MODIFY_INDEX] + f->has[F_ABSENT] + (f->has[F_VALUE] || f->has[F_VALUE_B64]);
	if (check_key(ps, f->has[F_KEY], f->key, false) != 0)
		return -1;
	if (conditions != 1)
		return field_fail(ps, API_BAD_REQUEST, "",
				  "needs exactly one of modify_index, absent, value, value_base64");
	memset(m, 0, sizeof *m);
	m->key = f->key;
	if (f->has[F_MODIFY_INDEX]) {
		m->kind = CMD_CMP_MODIFY_INDEX;
		m->index = f->modify_index;
	} else if (f->has[F_ABSENT]) {
		m->kind = f->absent ? CMD_CMP_ABSENT : CMD_CMP_PRESENT;
	} else {
		m->kind = CMD_CMP_VALUE;
		m->value = f->value;
		return check_value(ps, f->has[F_VALUE], f->has[F_VALUE_B64], &m->value);
	}
	return 0;
}

static bool op_is(const struct fields *f, const char *name)
{
	return f->op.len == strlen(name) && memcmp(f->op.p, name, f->op.len) == 0;
}

static int build_op(struct parser *ps, const struct fields *f, struct cmd_txn_op *o)
{
	memset(o, 0, sizeof *o);
	if (!f->has[F_OP])
		return field_fail(ps, API_BAD_REQUEST, "op", "missing");
	if (op_is(f, "get"))
		o->kind = CMD_OP_GET;
	else if (op_is(f, "put"))
		o->kind = CMD_OP_PUT;
	else if (op_is(f, "delete"))
		o->kind = CMD_OP_DELETE;
	else
		return field_fail(ps, API_BAD_REQUEST, "op",
				  "expected \"get\", \"put\" or \"delete\"");
	if (f->has[F_RECURSE] && o->kind != CMD_OP_DELETE)
		return field_fail(ps, API_BAD_REQUEST, "recurse", "only a delete takes recurse");
	if ((f->has[F_VALUE] || f->has[F_VALUE_B64]) && o->kind != CMD_OP_PUT)
		return field_fail(ps, API_BAD_REQUEST, f->has[F_VALUE] ? "value" : "value_base64",
				  "only a put takes a value");
	o->recurse = f->recurse;
	if (check_key(ps, f->has[F_KEY], f->key, o->recurse) != 0)
		return -1;
	o->key = f->key;
	if (o->kind == CMD_OP_PUT) {
		o->value = f->value;
		return check_value(ps, f->has[F_VALUE], f->has[F_VALUE_B64], &o->value);
	}
	return 0;
}

/* Reads the array of list `list` into the transaction. */
static int read_list(struct parser *ps, int list, uint32_t *count)
{
	bool first = true;
	int more;

	if (api_json_peek(&ps->j) != API_JSON_ARRAY) {
		snprintf(ps->where, sizeof ps->where, "%s", list_names[list]);
		return field_fail(ps, API_BAD_REQUEST, "", "expected an array");
	}
	if (!api_json_open(&ps->j, '['))
		return syntax_fail(ps);
	while ((more = api_json_next(&ps->j, ']', &first)) == 1) {
		if (*count == CMD_TXN_MAX)
			return api_request_fail(ps->r, API_BAD_REQUEST, "%s: more than %d entries",
						list_names[list], CMD_TXN_MAX);
		snprintf(ps->where, sizeof ps->where, "%s[%u]", list_names[list], *count);
		struct fields f;
		if (read_fields(ps, list, &f) != 0)
			return -1;
		int rc = list == 0 ? build_compare(ps, &f, &ps->t->compare[*count])
				   : build_op(ps, &f, &ps->t->ops[list - 1][*count]);
		if (rc != 0)
			return -1;
		(*count)++;
	}
	return more == 0 ? 0 : syntax_fail(ps);
}

static int read_body(struct parser *ps, uint32_t counts[3])
{
	bool first = true, seen[3] = {false, false, false};
	int more;

	if (api_json_peek(&ps->j) != API_JSON_OBJECT)
		return api_request_fail(ps->r, API_BAD_REQUEST,
					"the body must be a JSON object with compare, success "
					"and failure lists");
	if (!api_json_open(&ps->j, '{'))
		return syntax_fail(ps);
	while ((more = api_json_next(&ps->j, '}', &first)) == 1) {
		uint8_t name[16];
		size_t len;
		int rc = api_json_string(&ps->j, name, sizeof name, &len);
		if (rc == -1)
			return syntax_fail(ps);
		int k = 0;
		while (k < 3 && !(rc == 0 && strlen(list_names[k]) == len &&
				  memcmp(name, list_names[k], len) == 0))
			k++;
		if (k == 3) {
			char shown[24];
			api_printable(shown, sizeof shown, name, rc == 0 ? len : sizeof name);
			return api_request_fail(ps->r, API_BAD_REQUEST,
						"unknown field \"%s\" (a transaction has compare, "
						"success and failure)",
						shown);
		}
		if (seen[k])
			return api_request_fail(ps->r, API_BAD_REQUEST, "%s: given twice",
						list_names[k]);
		seen[k] = true;
		if (!api_json_colon(&ps->j))
			return syntax_fail(ps);
		if (read_list(ps, k, &counts[k]) != 0)
			return -1;
	}
	if (more != 0)
		return syntax_fail(ps);
	if (api_json_peek(&ps->j) != API_JSON_END)
		return api_request_fail(ps->r, API_BAD_REQUEST,
					"invalid JSON at byte %zu: trailing bytes after the object",
					api_json_offset(&ps->j));
	return 0;
}

int api_txn_parse_body(struct api_request *r, const uint8_t *body, size_t len)
{
	struct parser ps;

	api_request_release(r);
	ps.r = r;
	ps.where[0] = '\0';
	ps.t = malloc(sizeof *ps.t + len);
	if (ps.t == NULL)
		return api_request_fail(r, API_INTERNAL, "out of memory");
	ps.t->used = 0;
	ps.t->cap = len;
	r->txn = ps.t;
	api_json_init(&ps.j, body, len);

	uint32_t counts[3] = {0, 0, 0};
	if (read_body(&ps, counts) != 0) {
		api_request_release(r);
		return -1;
	}
	struct cmd_txn *c = &r->cmd.u.txn;
	memset(c, 0, sizeof *c);
	c->n_compare = counts[0];
	c->n_success = counts[1];
	c->n_failure = counts[2];
	c->compare = counts[0] > 0 ? ps.t->compare : NULL;
	c->success = counts[1] > 0 ? ps.t->ops[0] : NULL;
	c->failure = counts[2] > 0 ? ps.t->ops[1] : NULL;
	if (cmd_encoded_size(&r->cmd) == 0) {
		/* Every check above mirrors the codec's: a bug if reached. */
		api_request_release(r);
		return api_request_fail(r, API_INTERNAL, "the transaction does not encode");
	}
	return 0;
}

/* ---- the answer ---- */

static void render_txn(const struct api_request *r, const struct cmd_result *res,
		       const struct api_meta *meta, struct api_response *out)
{
	(void)r;
	if (res->status != API_OK) {
		api_render_error(out, res->status, res->message, meta, res->index);
		return;
	}
	struct api_buf *b = &out->body;
	out->http = 200;
	out->content_type = api_ct_json;
	out->meta = *meta;
	out->index = res->index != 0 ? res->index : meta->index;
	api_buf_adds(b, res->succeeded ? "{\"succeeded\":true,\"index\":"
				       : "{\"succeeded\":false,\"index\":");
	api_buf_u64(b, res->index);
	api_buf_adds(b, ",\"results\":[");
	for (uint32_t i = 0; i < res->n_txn; i++) {
		const struct cmd_txn_result *t = &res->txn[i];
		if (i > 0)
			api_buf_add(b, ",", 1);
		if (t->kind == CMD_OP_DELETE) {
			api_buf_adds(b, "{\"deleted\":");
			api_buf_u64(b, t->deleted);
			api_buf_add(b, "}", 1);
		} else if (t->kind == CMD_OP_PUT || t->found) {
			api_json_entry(b, &t->entry);
		} else {
			api_buf_adds(b, "null");
		}
	}
	api_buf_adds(b, "]}");
}
