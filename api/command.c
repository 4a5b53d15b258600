/*
 * The command codec (the bytes of a log entry) and the status table.
 *
 * Layout, little-endian, CMD_VERSION 1:
 *
 *   u8 version | u8 type | u8 flags | [u64 cas if CMD_F_CAS] | body
 *     CMD_KV_PUT:    u32 key_len | key | u32 value_len | value
 *     CMD_KV_DELETE: u32 key_len | key        (flags may hold CMD_F_RECURSE)
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
	default:
		return 0;
	}
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
	} else {
		p = put_bytes(p, c->u.del.key);
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
	default:
		return -1;
	}
	if (r.left != 0)
		return -1;
	*c = d;
	return 0;
}
