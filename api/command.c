/*
 * The command codec (the bytes of a log entry) and the status table.
 *
 * Layout, little-endian, CMD_VERSION 1:
 *
 *   u8 version | u8 type | u8 flags | [u64 cas if CMD_F_CAS] | body
 *     CMD_KV_PUT:    u32 key_len | key | u32 value_len | value
 *     CMD_KV_DELETE: u32 key_len | key        (flags may hold CMD_F_RECURSE)
 *     CMD_TXN:       (flags 0) u16 n_compare | u16 n_success | u16 n_failure
 *                    | n_compare compares | n_success ops | n_failure ops
 *       compare:     u8 kind | u32 key_len | key
 *                    | [u64 index: MODIFY_INDEX] | [u32 len | value: VALUE]
 *       op:          u8 kind | u8 op_flags (CMD_F_RECURSE: DELETE only)
 *                    | u32 key_len | key | [u32 len | value: PUT]
 *
 * Each count is at most CMD_TXN_MAX; an unknown compare or op kind is an
 * error; a field a kind does not use is not encoded (so not decoded: it
 * reads back as 0). A transaction key may be empty only as the prefix of
 * a recursive delete op, as for CMD_KV_DELETE.
 *
 * Invariants: a flag a type does not define is an error; lengths are
 * checked against their limits before any byte is read; the buffer must
 * end exactly where the command does. So every accepted input is the one
 * encoding of its command (cmd_encode(cmd_decode(b)) == b), and a replica
 * never applies bytes it had to guess about. Keys follow the same rules as
 * the HTTP front (api_key_check), checked on both sides.
 */
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "parse.h"

#define CMD_F_CAS 0x01u
#define CMD_F_RECURSE 0x02u
#define CMD_HEADER 3u /* version, type, flags */

static const struct {
	int http;
	const char *code;
} statuses[API_STATUS_COUNT] = {
#define API_STATUS_ROW(name, http, code) [name] = {http, code},
    API_STATUSES(API_STATUS_ROW)
#undef API_STATUS_ROW
};

int api_status_http(enum api_status s)
{
	if ((unsigned)s >= API_STATUS_COUNT)
		return statuses[API_INTERNAL].http;
	return statuses[s].http;
}

const char *api_status_code(enum api_status s)
{
	if ((unsigned)s >= API_STATUS_COUNT)
		return statuses[API_INTERNAL].code;
	return statuses[s].code;
}

static bool key_ok(struct cmd_bytes k, bool allow_empty)
{
	char msg[API_MESSAGE_MAX];
	return (k.len == 0 || k.p != NULL) &&
	       api_key_check(k.p, k.len, allow_empty, msg, sizeof msg) == API_OK;
}

static uint8_t flags_of(const struct cmd *c)
{
	switch (c->type) {
	case CMD_KV_PUT:
		return c->u.put.has_cas ? CMD_F_CAS : 0;
	case CMD_KV_DELETE:
		return (uint8_t)((c->u.del.has_cas ? CMD_F_CAS : 0) |
				 (c->u.del.recurse ? CMD_F_RECURSE : 0));
	default:
		return 0;
	}
}

static bool bytes_ok(struct cmd_bytes b, uint32_t max)
{
	return b.len <= max && (b.len == 0 || b.p != NULL);
}

/* Encoded size of one compare; 0 when it is invalid. */
static size_t compare_size(const struct cmd_txn_compare *m)
{
	size_t n = 1 + 4 + (size_t)m->key.len;
	if (!key_ok(m->key, false))
		return 0;
	switch (m->kind) {
	case CMD_CMP_MODIFY_INDEX:
		return n + 8;
	case CMD_CMP_ABSENT:
	case CMD_CMP_PRESENT:
		return n;
	case CMD_CMP_VALUE:
		return bytes_ok(m->value, API_VALUE_MAX_LIMIT) ? n + 4 + m->value.len : 0;
	default:
		return 0;
	}
}

/* Encoded size of one op; 0 when it is invalid. */
static size_t op_size(const struct cmd_txn_op *o)
{
	size_t n = 1 + 1 + 4 + (size_t)o->key.len;
	if (o->recurse && o->kind != CMD_OP_DELETE)
		return 0;
	if (!key_ok(o->key, o->recurse))
		return 0;
	switch (o->kind) {
	case CMD_OP_GET:
	case CMD_OP_DELETE:
		return n;
	case CMD_OP_PUT:
		return bytes_ok(o->value, API_VALUE_MAX_LIMIT) ? n + 4 + o->value.len : 0;
	default:
		return 0;
	}
}

static size_t txn_lists_size(const struct cmd_txn *t);

size_t cmd_encoded_size(const struct cmd *c)
{
	switch (c->type) {
	case CMD_KV_PUT: {
		const struct cmd_kv_put *p = &c->u.put;
		if (!key_ok(p->key, false) || p->value.len > API_VALUE_MAX_LIMIT ||
		    (p->value.len > 0 && p->value.p == NULL))
			return 0;
		return CMD_HEADER + (p->has_cas ? 8u : 0u) + 4u + p->key.len + 4u + p->value.len;
	}
	case CMD_KV_DELETE: {
		const struct cmd_kv_delete *d = &c->u.del;
		if (!key_ok(d->key, d->recurse))
			return 0;
		return CMD_HEADER + (d->has_cas ? 8u : 0u) + 4u + d->key.len;
	}
	case CMD_TXN: {
		size_t n = txn_lists_size(&c->u.txn);
		return n == 0 ? 0 : CMD_HEADER + n;
	}
	default:
		return 0;
	}
}

static uint8_t *put_u16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint8_t *put_bytes(uint8_t *p, struct cmd_bytes b)
{
	p = put_u32(p, b.len);
	if (b.len > 0)
		memcpy(p, b.p, b.len);
	return p + b.len;
}

static uint8_t *put_ops(uint8_t *p, const struct cmd_txn_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		*p++ = ops[i].kind;
		*p++ = ops[i].recurse ? CMD_F_RECURSE : 0;
		p = put_bytes(p, ops[i].key);
		if (ops[i].kind == CMD_OP_PUT)
			p = put_bytes(p, ops[i].value);
	}
	return p;
}

/* The lists of a valid transaction (txn_lists_size > 0). */
static uint8_t *put_txn(uint8_t *p, const struct cmd_txn *t)
{
	if (t->lists.p != NULL) {
		memcpy(p, t->lists.p, t->lists.len);
		return p + t->lists.len;
	}
	p = put_u16(p, t->n_compare);
	p = put_u16(p, t->n_success);
	p = put_u16(p, t->n_failure);
	for (uint32_t i = 0; i < t->n_compare; i++) {
		const struct cmd_txn_compare *m = &t->compare[i];
		*p++ = m->kind;
		p = put_bytes(p, m->key);
		if (m->kind == CMD_CMP_MODIFY_INDEX)
			p = put_u64(p, m->index);
		else if (m->kind == CMD_CMP_VALUE)
			p = put_bytes(p, m->value);
	}
	p = put_ops(p, t->success, t->n_success);
	return put_ops(p, t->failure, t->n_failure);
}

size_t cmd_encode_into(const struct cmd *c, uint8_t *buf, size_t cap)
{
	size_t size = cmd_encoded_size(c);
	if (size == 0 || size > cap)
		return 0;

	uint8_t flags = flags_of(c);
	uint8_t *p = buf;
	*p++ = CMD_VERSION;
	*p++ = c->type;
	*p++ = flags;
	if (flags & CMD_F_CAS)
		p = put_u64(p, c->type == CMD_KV_PUT ? c->u.put.cas : c->u.del.cas);
	if (c->type == CMD_KV_PUT) {
		p = put_bytes(p, c->u.put.key);
		p = put_bytes(p, c->u.put.value);
	} else if (c->type == CMD_KV_DELETE) {
		p = put_bytes(p, c->u.del.key);
	} else {
		p = put_txn(p, &c->u.txn);
	}
	return (size_t)(p - buf);
}

int cmd_encode(const struct cmd *c, uint8_t **out, size_t *len)
{
	size_t size = cmd_encoded_size(c);
	if (size == 0)
		return -1;
	uint8_t *buf = malloc(size);
	if (buf == NULL)
		return -1;
	if (cmd_encode_into(c, buf, size) != size) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = size;
	return 0;
}

/* A bounds-checked reader: once a read fails, every later one fails too. */
struct reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static uint8_t get_u8(struct reader *r)
{
	if (r->bad || r->left < 1) {
		r->bad = true;
		return 0;
	}
	r->left--;
	return *r->p++;
}

static uint64_t get_le(struct reader *r, size_t n)
{
	uint64_t v = 0;
	if (r->bad || r->left < n) {
		r->bad = true;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	r->left -= n;
	return v;
}

static struct cmd_bytes get_bytes(struct reader *r, uint32_t max)
{
	struct cmd_bytes b = {NULL, 0};
	uint32_t len = (uint32_t)get_le(r, 4);
	if (r->bad || len > max || len > r->left) {
		r->bad = true;
		return b;
	}
	b.p = r->p;
	b.len = len;
	r->p += len;
	r->left -= len;
	return b;
}

/* Reads the lists of a transaction: counts, compares, then the success
 * and failure ops, checking each as the encoder does. Fills n[3] and,
 * where not NULL, the arrays (room for CMD_TXN_MAX each). false when the
 * bytes are not a valid encoding. */
static bool read_txn(struct reader *r, uint32_t n[3], struct cmd_txn_compare *cmp,
		     struct cmd_txn_op *ops[2])
{
	for (int k = 0; k < 3; k++) {
		n[k] = (uint32_t)get_le(r, 2);
		if (r->bad || n[k] > CMD_TXN_MAX)
			return false;
	}
	for (uint32_t i = 0; i < n[0]; i++) {
		struct cmd_txn_compare m;
		memset(&m, 0, sizeof m);
		m.kind = get_u8(r);
		m.key = get_bytes(r, API_KEY_MAX);
		if (m.kind == CMD_CMP_MODIFY_INDEX)
			m.index = get_le(r, 8);
		else if (m.kind == CMD_CMP_VALUE)
			m.value = get_bytes(r, API_VALUE_MAX_LIMIT);
		if (r->bad || compare_size(&m) == 0)
			return false;
		if (cmp != NULL)
			cmp[i] = m;
	}
	for (int list = 0; list < 2; list++) {
		for (uint32_t i = 0; i < n[1 + list]; i++) {
			struct cmd_txn_op o;
			memset(&o, 0, sizeof o);
			o.kind = get_u8(r);
			uint8_t flags = get_u8(r);
			if (r->bad || (flags & ~CMD_F_RECURSE) != 0)
				return false;
			o.recurse = flags & CMD_F_RECURSE;
			o.key = get_bytes(r, API_KEY_MAX);
			if (o.kind == CMD_OP_PUT)
				o.value = get_bytes(r, API_VALUE_MAX_LIMIT);
			if (r->bad || op_size(&o) == 0)
				return false;
			if (ops[list] != NULL)
				ops[list][i] = o;
		}
	}
	return true;
}

/* Bytes of a transaction's encoded lists; 0 when it is invalid. */
static size_t txn_lists_size(const struct cmd_txn *t)
{
	if (t->n_compare > CMD_TXN_MAX || t->n_success > CMD_TXN_MAX || t->n_failure > CMD_TXN_MAX)
		return 0;
	if (t->lists.p != NULL) {
		/* The decoded form: valid when its bytes are. */
		struct reader r = {t->lists.p, t->lists.len, false};
		struct cmd_txn_op *none[2] = {NULL, NULL};
		uint32_t n[3];
		if (t->compare != NULL || t->success != NULL || t->failure != NULL ||
		    !read_txn(&r, n, NULL, none) || r.left != 0 || n[0] != t->n_compare ||
		    n[1] != t->n_success || n[2] != t->n_failure)
			return 0;
		return t->lists.len;
	}
	if ((t->n_compare > 0 && t->compare == NULL) || (t->n_success > 0 && t->success == NULL) ||
	    (t->n_failure > 0 && t->failure == NULL))
		return 0;
	size_t size = 6;
	for (uint32_t i = 0; i < t->n_compare; i++) {
		size_t n = compare_size(&t->compare[i]);
		if (n == 0)
			return 0;
		size += n;
	}
	const struct cmd_txn_op *lists[2] = {t->success, t->failure};
	const uint32_t counts[2] = {t->n_success, t->n_failure};
	for (int k = 0; k < 2; k++) {
		for (uint32_t i = 0; i < counts[k]; i++) {
			size_t n = op_size(&lists[k][i]);
			if (n == 0)
				return 0;
			size += n;
		}
	}
	return size;
}

int cmd_txn_unpack(const struct cmd_txn *t, struct cmd_txn_compare *compare,
		   struct cmd_txn_op *success, struct cmd_txn_op *failure)
{
	if (txn_lists_size(t) == 0)
		return -1;
	if (t->lists.p == NULL) {
		if (compare != NULL && t->n_compare > 0)
			memcpy(compare, t->compare, t->n_compare * sizeof *compare);
		if (success != NULL && t->n_success > 0)
			memcpy(success, t->success, t->n_success * sizeof *success);
		if (failure != NULL && t->n_failure > 0)
			memcpy(failure, t->failure, t->n_failure * sizeof *failure);
		return 0;
	}
	struct reader r = {t->lists.p, t->lists.len, false};
	struct cmd_txn_op *ops[2] = {success, failure};
	uint32_t n[3];
	return read_txn(&r, n, compare, ops) ? 0 : -1;
}

int cmd_decode(const uint8_t *buf, size_t len, struct cmd *c)
{
	struct reader r = {buf, len, false};
	struct cmd d;

	memset(&d, 0, sizeof d);
	if (get_u8(&r) != CMD_VERSION || r.bad)
		return -1;
	d.type = get_u8(&r);
	uint8_t flags = get_u8(&r);
	if (r.bad)
		return -1;
	switch (d.type) {
	case CMD_KV_PUT:
		if (flags & ~CMD_F_CAS)
			return -1;
		d.u.put.has_cas = flags & CMD_F_CAS;
		if (d.u.put.has_cas)
			d.u.put.cas = get_le(&r, 8);
		d.u.put.key = get_bytes(&r, API_KEY_MAX);
		d.u.put.value = get_bytes(&r, API_VALUE_MAX_LIMIT);
		if (r.bad || !key_ok(d.u.put.key, false))
			return -1;
		break;
	case CMD_KV_DELETE:
		if (flags & ~(CMD_F_CAS | CMD_F_RECURSE))
			return -1;
		d.u.del.has_cas = flags & CMD_F_CAS;
		d.u.del.recurse = flags & CMD_F_RECURSE;
		if (d.u.del.has_cas)
			d.u.del.cas = get_le(&r, 8);
		d.u.del.key = get_bytes(&r, API_KEY_MAX);
		if (r.bad || !key_ok(d.u.del.key, d.u.del.recurse))
			return -1;
		break;
	case CMD_TXN: {
		if (flags != 0)
			return -1;
		struct cmd_txn_op *none[2] = {NULL, NULL};
		uint32_t n[3];
		d.u.txn.lists.p = r.p;
		d.u.txn.lists.len = (uint32_t)r.left;
		if (r.left > UINT32_MAX || !read_txn(&r, n, NULL, none))
			return -1;
		d.u.txn.n_compare = n[0];
		d.u.txn.n_success = n[1];
		d.u.txn.n_failure = n[2];
		break;
	}
	default:
		return -1;
	}
	if (r.left != 0)
		return -1;
	*c = d;
	return 0;
}
