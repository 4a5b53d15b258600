/*
 * The command codec (api/command.c) and the status table: round trips,
 * canonical encodings, and refusal of truncated, corrupt or invalid input,
 * for the KV commands and transactions (both of a transaction's forms).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"

static struct cmd_bytes bytes(const char *s)
{
	struct cmd_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
	return b;
}

static struct cmd put(const char *key, const char *value, bool has_cas, uint64_t cas)
{
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.type = CMD_KV_PUT;
	c.u.put.key = bytes(key);
	c.u.put.value = bytes(value);
	c.u.put.has_cas = has_cas;
	c.u.put.cas = cas;
	return c;
}

static struct cmd del(const char *key, bool recurse, bool has_cas, uint64_t cas)
{
	struct cmd c;
	memset(&c, 0, sizeof c);
	c.type = CMD_KV_DELETE;
	c.u.del.key = bytes(key);
	c.u.del.recurse = recurse;
	c.u.del.has_cas = has_cas;
	c.u.del.cas = cas;
	return c;
}

static void assert_bytes_equal(struct cmd_bytes a, struct cmd_bytes b)
{
	assert_int_equal(a.len, b.len);
	if (a.len > 0)
		assert_memory_equal(a.p, b.p, a.len);
}

static void assert_cmd_equal(const struct cmd *a, const struct cmd *b)
{
	assert_int_equal(a->type, b->type);
	if (a->type == CMD_KV_PUT) {
		assert_bytes_equal(a->u.put.key, b->u.put.key);
		assert_bytes_equal(a->u.put.value, b->u.put.value);
		assert_int_equal(a->u.put.has_cas, b->u.put.has_cas);
		if (a->u.put.has_cas)
			assert_int_equal(a->u.put.cas, b->u.put.cas);
	} else {
		assert_bytes_equal(a->u.del.key, b->u.del.key);
		assert_int_equal(a->u.del.recurse, b->u.del.recurse);
		assert_int_equal(a->u.del.has_cas, b->u.del.has_cas);
		if (a->u.del.has_cas)
			assert_int_equal(a->u.del.cas, b->u.del.cas);
	}
}

/* Encodes c, decodes it back, checks equality and the size helpers. */
static void round_trip(const struct cmd *c)
{
	uint8_t *buf;
	size_t len;
	struct cmd back;

	assert_int_equal(cmd_encode(c, &buf, &len), 0);
	assert_int_equal(cmd_encoded_size(c), len);
	assert_int_equal(buf[0], CMD_VERSION);
	assert_int_equal(cmd_decode(buf, len, &back), 0);
	assert_cmd_equal(c, &back);
	uint8_t *again = malloc(len);
	assert_int_equal(cmd_encode_into(&back, again, len), len);
	assert_memory_equal(buf, again, len);
	assert_int_equal(cmd_encode_into(c, again, len - 1), 0); /* too small */
	free(again);
	free(buf);
}

static void commands_survive_a_round_trip(void **state)
{
	(void)state;
	struct cmd c = put("app/db/host", "10.0.0.5", false, 0);
	round_trip(&c);
	c = put("k", "", true, 0);
	round_trip(&c);
	c = put("k", "v", true, UINT64_MAX);
	round_trip(&c);
	c = del("k", false, false, 0);
	round_trip(&c);
	c = del("", true, false, 0);
	round_trip(&c);
	c = del("app/", true, false, 0);
	round_trip(&c);
	c = del("k", false, true, 42);
	round_trip(&c);

	/* binary values, NUL bytes included; the longest key */
	static uint8_t value[1000];
	for (size_t i = 0; i < sizeof value; i++)
		value[i] = (uint8_t)(i * 7);
	char key[API_KEY_MAX + 1];
	memset(key, 'k', API_KEY_MAX);
	key[API_KEY_MAX] = '\0';
	c = put(key, "", false, 0);
	c.u.put.value.p = value;
	c.u.put.value.len = sizeof value;
	round_trip(&c);
}

static void the_largest_value_round_trips(void **state)
{
	(void)state;
	uint8_t *value = calloc(1, API_VALUE_MAX_LIMIT + 1);
	struct cmd c = put("big", "", false, 0);
	c.u.put.value.p = value;
	c.u.put.value.len = API_VALUE_MAX_LIMIT;
	round_trip(&c);
	c.u.put.value.len = API_VALUE_MAX_LIMIT + 1;
	assert_int_equal(cmd_encoded_size(&c), 0);
	free(value);
}

static void invalid_commands_do_not_encode(void **state)
{
	(void)state;
	uint8_t *buf = NULL;
	size_t len;
	char key[API_KEY_MAX + 2];
	memset(key, 'k', API_KEY_MAX + 1);
	key[API_KEY_MAX + 1] = '\0';
	struct cmd bad[] = {
	    put("", "v", false, 0),     put(key, "v", false, 0),  put("/a", "v", false, 0),
	    put("\xff", "v", false, 0), del("", false, false, 0), del(key, true, false, 0),
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(cmd_encoded_size(&bad[i]), 0);
		assert_int_equal(cmd_encode(&bad[i], &buf, &len), -1);
	}
	struct cmd nul = put("a", "v", false, 0);
	nul.u.put.key.len = 3; /* "a\0v"... reads past "a" into its NUL */
	nul.u.put.key.p = (const uint8_t *)"a\0b";
	assert_int_equal(cmd_encoded_size(&nul), 0);
	struct cmd unknown;
	memset(&unknown, 0, sizeof unknown);
	unknown.type = 99;
	assert_int_equal(cmd_encoded_size(&unknown), 0);
	assert_null(buf);
}

static void every_truncation_is_refused(void **state)
{
	(void)state;
	struct cmd cmds[] = {put("key", "value", true, 7), del("prefix/", true, false, 0),
			     del("k", false, true, 3)};
	for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
		uint8_t *buf;
		size_t len;
		struct cmd out;
		assert_int_equal(cmd_encode(&cmds[k], &buf, &len), 0);
		for (size_t n = 0; n < len; n++)
			assert_int_equal(cmd_decode(buf, n, &out), -1);
		/* and a trailing byte too */
		uint8_t *longer = malloc(len + 1);
		memcpy(longer, buf, len);
		longer[len] = 0;
		assert_int_equal(cmd_decode(longer, len + 1, &out), -1);
		free(longer);
		free(buf);
	}
}

/* Every single-byte corruption either fails or decodes to a command that
 * encodes back to exactly the corrupted bytes (the encoding is canonical). */
static void corruption_is_refused_or_canonical(void **state)
{
	(void)state;
	struct cmd c = put("app/x", "val\x01ue", true, 0x0102030405060708ull);
	uint8_t *buf;
	size_t len;
	assert_int_equal(cmd_encode(&c, &buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct cmd out;
			buf[i] ^= (uint8_t)(1u << bit);
			if (cmd_decode(buf, len, &out) == 0) {
				uint8_t again[64];
				assert_int_equal(cmd_encode_into(&out, again, sizeof again), len);
				assert_memory_equal(again, buf, len);
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(buf);
}

static void bad_headers_and_lengths_are_refused(void **state)
{
	(void)state;
	struct cmd out;
	/* version 1, PUT, no flags, key "k", value "v" */
	uint8_t ok[] = {1, 1, 0, 1, 0, 0, 0, 'k', 1, 0, 0, 0, 'v'};
	assert_int_equal(cmd_decode(ok, sizeof ok, &out), 0);

	uint8_t b[sizeof ok];
	memcpy(b, ok, sizeof b);
	b[0] = 2; /* unknown version */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[1] = 99; /* unknown type */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[1] = 0;
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[2] = 0x02; /* RECURSE is no PUT flag */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[2] = 0x80;
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[6] = 0x80; /* key length 2^31 + 1 */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[11] = 0xff; /* value length huge */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[7] = 0; /* NUL key */
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);
	memcpy(b, ok, sizeof b);
	b[7] = '/';
	assert_int_equal(cmd_decode(b, sizeof b, &out), -1);

	/* an empty key is only a recursive delete's prefix */
	uint8_t empty_put[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(cmd_decode(empty_put, sizeof empty_put, &out), -1);
	uint8_t empty_del[] = {1, 2, 0, 0, 0, 0, 0};
	assert_int_equal(cmd_decode(empty_del, sizeof empty_del, &out), -1);
	empty_del[2] = 0x02;
	assert_int_equal(cmd_decode(empty_del, sizeof empty_del, &out), 0);
	assert_true(out.u.del.recurse);
	assert_int_equal(cmd_decode(NULL, 0, &out), -1);
}

/* ---- transactions ---- */

static struct cmd_txn_compare cmp(uint8_t kind, const char *key, uint64_t index, const char *value)
{
	struct cmd_txn_compare m;
	memset(&m, 0, sizeof m);
	m.kind = kind;
	m.key = bytes(key);
	m.index = index;
	m.value = bytes(value);
	return m;
}

static struct cmd_txn_op op(uint8_t kind, const char *key, const char *value, bool recurse)
{
	struct cmd_txn_op o;
	memset(&o, 0, sizeof o);
	o.kind = kind;
	o.key = bytes(key);
	o.value = bytes(value);
	o.recurse = recurse;
	return o;
}

static struct cmd txn(const struct cmd_txn_compare *c, uint32_t nc, const struct cmd_txn_op *s,
		      uint32_t ns, const struct cmd_txn_op *f, uint32_t nf)
{
	struct cmd t;
	memset(&t, 0, sizeof t);
	t.type = CMD_TXN;
	t.u.txn.compare = nc ? c : NULL;
	t.u.txn.n_compare = nc;
	t.u.txn.success = ns ? s : NULL;
	t.u.txn.n_success = ns;
	t.u.txn.failure = nf ? f : NULL;
	t.u.txn.n_failure = nf;
	return t;
}

/* The fields a kind uses are equal (the others do not travel). */
static void assert_compare_equal(const struct cmd_txn_compare *a, const struct cmd_txn_compare *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_bytes_equal(a->key, b->key);
	if (a->kind == CMD_CMP_MODIFY_INDEX)
		assert_int_equal(a->index, b->index);
	if (a->kind == CMD_CMP_VALUE)
		assert_bytes_equal(a->value, b->value);
}

static void assert_op_equal(const struct cmd_txn_op *a, const struct cmd_txn_op *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->recurse, b->recurse);
	assert_bytes_equal(a->key, b->key);
	if (a->kind == CMD_OP_PUT)
		assert_bytes_equal(a->value, b->value);
}

/* Encodes a built transaction, decodes it, unpacks it, compares, and
 * checks the decoded form encodes to the same bytes. */
static void txn_round_trip(const struct cmd *c)
{
	uint8_t *buf;
	size_t len;
	struct cmd back;
	static struct cmd_txn_compare m[CMD_TXN_MAX];
	static struct cmd_txn_op s[CMD_TXN_MAX], f[CMD_TXN_MAX];

	assert_int_equal(cmd_encode(c, &buf, &len), 0);
	assert_int_equal(cmd_encoded_size(c), len);
	assert_int_equal(cmd_decode(buf, len, &back), 0);
	assert_int_equal(back.type, CMD_TXN);
	assert_null(back.u.txn.compare);
	assert_non_null(back.u.txn.lists.p);
	assert_int_equal(back.u.txn.n_compare, c->u.txn.n_compare);
	assert_int_equal(back.u.txn.n_success, c->u.txn.n_success);
	assert_int_equal(back.u.txn.n_failure, c->u.txn.n_failure);
	assert_int_equal(cmd_txn_unpack(&back.u.txn, m, s, f), 0);
	for (uint32_t i = 0; i < c->u.txn.n_compare; i++)
		assert_compare_equal(&c->u.txn.compare[i], &m[i]);
	for (uint32_t i = 0; i < c->u.txn.n_success; i++)
		assert_op_equal(&c->u.txn.success[i], &s[i]);
	for (uint32_t i = 0; i < c->u.txn.n_failure; i++)
		assert_op_equal(&c->u.txn.failure[i], &f[i]);
	/* the built form unpacks too, and both forms encode alike */
	assert_int_equal(cmd_txn_unpack(&c->u.txn, m, s, f), 0);
	uint8_t *again = malloc(len);
	assert_int_equal(cmd_encoded_size(&back), len);
	assert_int_equal(cmd_encode_into(&back, again, len), len);
	assert_memory_equal(buf, again, len);
	assert_int_equal(cmd_encode_into(&back, again, len - 1), 0);
	free(again);
	free(buf);
}

static void transactions_survive_a_round_trip(void **state)
{
	(void)state;
	struct cmd_txn_compare c[] = {
	    cmp(CMD_CMP_MODIFY_INDEX, "a", 42, ""), cmp(CMD_CMP_MODIFY_INDEX, "a", 0, ""),
	    cmp(CMD_CMP_ABSENT, "b", 0, ""),        cmp(CMD_CMP_PRESENT, "b", 0, ""),
	    cmp(CMD_CMP_VALUE, "c", 0, "on"),       cmp(CMD_CMP_VALUE, "c", 0, ""),
	};
	struct cmd_txn_op s[] = {
	    op(CMD_OP_PUT, "a", "1", false),   op(CMD_OP_PUT, "a", "", false),
	    op(CMD_OP_DELETE, "b", "", false), op(CMD_OP_DELETE, "", "", true),
	    op(CMD_OP_DELETE, "p/", "", true), op(CMD_OP_GET, "c", "", false),
	};
	struct cmd_txn_op f[] = {op(CMD_OP_GET, "a", "", false)};
	struct cmd t = txn(c, 6, s, 6, f, 1);
	txn_round_trip(&t);
	t = txn(NULL, 0, NULL, 0, NULL, 0); /* nothing at all */
	txn_round_trip(&t);
	t = txn(c, 1, NULL, 0, NULL, 0);
	txn_round_trip(&t);
	t = txn(NULL, 0, NULL, 0, f, 1);
	txn_round_trip(&t);

	/* the most of everything */
	static struct cmd_txn_compare mc[CMD_TXN_MAX];
	static struct cmd_txn_op ms[CMD_TXN_MAX], mf[CMD_TXN_MAX];
	for (int i = 0; i < CMD_TXN_MAX; i++) {
		mc[i] = c[i % 6];
		ms[i] = s[i % 6];
		mf[i] = s[(i + 3) % 6];
	}
	t = txn(mc, CMD_TXN_MAX, ms, CMD_TXN_MAX, mf, CMD_TXN_MAX);
	txn_round_trip(&t);
}

static void invalid_transactions_do_not_encode(void **state)
{
	(void)state;
	static struct cmd_txn_op many[CMD_TXN_MAX + 1];
	for (int i = 0; i <= CMD_TXN_MAX; i++)
		many[i] = op(CMD_OP_GET, "k", "", false);
	struct cmd_txn_compare good_c = cmp(CMD_CMP_ABSENT, "k", 0, "");
	struct cmd_txn_compare bad_c[] = {
	    cmp(0, "k", 0, ""),
	    cmp(5, "k", 0, ""),
	    cmp(CMD_CMP_ABSENT, "", 0, ""),
	    cmp(CMD_CMP_ABSENT, "/k", 0, ""),
	    cmp(CMD_CMP_VALUE, "\xc3", 0, "v"),
	};
	struct cmd_txn_op bad_o[] = {
	    op(0, "k", "", false),
	    op(4, "k", "", false),
	    op(CMD_OP_GET, "", "", false),
	    op(CMD_OP_GET, "k", "", true),
	    op(CMD_OP_PUT, "k", "v", true),
	    op(CMD_OP_PUT, "", "v", false),
	    op(CMD_OP_DELETE, "", "", false),
	};
	struct cmd t;
	for (size_t i = 0; i < sizeof bad_c / sizeof bad_c[0]; i++) {
		t = txn(&bad_c[i], 1, NULL, 0, NULL, 0);
		assert_int_equal(cmd_encoded_size(&t), 0);
		assert_int_equal(cmd_txn_unpack(&t.u.txn, NULL, NULL, NULL), -1);
	}
	for (size_t i = 0; i < sizeof bad_o / sizeof bad_o[0]; i++) {
		t = txn(&good_c, 1, &bad_o[i], 1, NULL, 0);
		assert_int_equal(cmd_encoded_size(&t), 0);
		t = txn(&good_c, 1, many, 1, &bad_o[i], 1);
		assert_int_equal(cmd_encoded_size(&t), 0);
	}
	t = txn(NULL, 0, many, CMD_TXN_MAX + 1, NULL, 0);
	assert_int_equal(cmd_encoded_size(&t), 0);
	t = txn(NULL, 0, NULL, 0, many, CMD_TXN_MAX + 1);
	assert_int_equal(cmd_encoded_size(&t), 0);
	t = txn(NULL, 0, many, CMD_TXN_MAX, NULL, 0);
	assert_true(cmd_encoded_size(&t) > 0);
	t.u.txn.success = NULL; /* a count without its array */
	assert_int_equal(cmd_encoded_size(&t), 0);

	/* a value past the codec's limit */
	uint8_t *big = calloc(1, API_VALUE_MAX_LIMIT + 1);
	struct cmd_txn_op put_big = op(CMD_OP_PUT, "k", "", false);
	put_big.value.p = big;
	put_big.value.len = API_VALUE_MAX_LIMIT + 1;
	t = txn(NULL, 0, &put_big, 1, NULL, 0);
	assert_int_equal(cmd_encoded_size(&t), 0);
	put_big.value.len = API_VALUE_MAX_LIMIT;
	assert_true(cmd_encoded_size(&t) > 0);
	free(big);
}

static void transaction_bytes_are_checked_field_by_field(void **state)
{
	(void)state;
	struct cmd out;
	/* compare absent "k"; success get "k"; no failure */
	uint8_t ok[] = {1, 3,   0,          1, 0, 1, 0, 0, 0,  CMD_CMP_ABSENT, 1, 0, 0,
			0, 'k', CMD_OP_GET, 0, 1, 0, 0, 0, 'k'};
	assert_int_equal(cmd_decode(ok, sizeof ok, &out), 0);
	uint8_t b[sizeof ok];
	const struct {
		size_t at;
		uint8_t v;
	} bad[] = {
	    {2, 0x01},        /* flags on a transaction */
	    {3, 2},           /* two compares announced */
	    {4, 0x81},        /* a count above CMD_TXN_MAX */
	    {9, 0},           /* compare kind 0 */
	    {9, 9},           /* compare kind 9 */
	    {14, 0},          /* NUL key */
	    {14, '/'},        /* leading '/' */
	    {15, 0},          /* op kind 0 */
	    {15, CMD_OP_PUT}, /* a put without its value */
	    {16, 0x02},       /* recurse on a get */
	    {16, 0x04},       /* an unknown op flag */
	    {17, 0},          /* empty key on a get */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memcpy(b, ok, sizeof b);
		b[bad[i].at] = bad[i].v;
		if (cmd_decode(b, sizeof b, &out) != -1)
			fail_msg("byte %zu = %u decoded", bad[i].at, bad[i].v);
	}
	for (size_t n = 0; n < sizeof ok; n++)
		assert_int_equal(cmd_decode(ok, n, &out), -1);

	/* a recursive delete may have the empty prefix */
	uint8_t del_all[] = {1, 3, 0, 0, 0, 1, 0, 0, 0, CMD_OP_DELETE, 0x02, 0, 0, 0, 0};
	assert_int_equal(cmd_decode(del_all, sizeof del_all, &out), 0);
	struct cmd_txn_op s[1];
	assert_int_equal(cmd_txn_unpack(&out.u.txn, NULL, s, NULL), 0);
	assert_true(s[0].recurse);
	assert_int_equal(s[0].key.len, 0);
	del_all[10] = 0; /* not recursive: the empty key is refused */
	assert_int_equal(cmd_decode(del_all, sizeof del_all, &out), -1);

	/* a decoded form whose bytes were tampered with does not encode */
	assert_int_equal(cmd_decode(ok, sizeof ok, &out), 0);
	memcpy(b, ok, sizeof b);
	out.u.txn.lists.p = b + 3;
	b[9] = 7;
	assert_int_equal(cmd_encoded_size(&out), 0);
	assert_int_equal(cmd_txn_unpack(&out.u.txn, NULL, NULL, NULL), -1);
	b[9] = CMD_CMP_ABSENT;
	out.u.txn.n_success = 0; /* counts that disagree with the bytes */
	assert_int_equal(cmd_encoded_size(&out), 0);
}

/* Every single-bit corruption of a transaction fails or is canonical. */
static void transaction_corruption_is_refused_or_canonical(void **state)
{
	(void)state;
	struct cmd_txn_compare c[] = {cmp(CMD_CMP_MODIFY_INDEX, "a", 0x0102030405060708ull, ""),
				      cmp(CMD_CMP_VALUE, "b", 0, "v\x01")};
	struct cmd_txn_op s[] = {op(CMD_OP_PUT, "a", "x", false), op(CMD_OP_DELETE, "p", "", true)};
	struct cmd_txn_op f[] = {op(CMD_OP_GET, "a", "", false)};
	struct cmd t = txn(c, 2, s, 2, f, 1);
	uint8_t *buf;
	size_t len;
	assert_int_equal(cmd_encode(&t, &buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct cmd out;
			buf[i] ^= (uint8_t)(1u << bit);
			if (cmd_decode(buf, len, &out) == 0) {
				uint8_t again[128];
				assert_int_equal(cmd_encode_into(&out, again, sizeof again), len);
				assert_memory_equal(again, buf, len);
				struct cmd_txn_compare m[CMD_TXN_MAX];
				struct cmd_txn_op os[CMD_TXN_MAX], of[CMD_TXN_MAX];
				assert_int_equal(cmd_txn_unpack(&out.u.txn, m, os, of), 0);
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(buf);
}

static void the_status_table_maps_every_status(void **state)
{
	(void)state;
	assert_int_equal(api_status_http(API_OK), 200);
	assert_string_equal(api_status_code(API_OK), "ok");
	assert_int_equal(api_status_http(API_BAD_REQUEST), 400);
	assert_string_equal(api_status_code(API_BAD_REQUEST), "bad_request");
	assert_int_equal(api_status_http(API_NOT_FOUND), 404);
	assert_int_equal(api_status_http(API_METHOD_NOT_ALLOWED), 405);
	assert_string_equal(api_status_code(API_METHOD_NOT_ALLOWED), "method_not_allowed");
	assert_int_equal(api_status_http(API_CAS_FAILED), 409);
	assert_string_equal(api_status_code(API_CAS_FAILED), "cas_failed");
	assert_int_equal(api_status_http(API_TOO_LARGE), 413);
	assert_string_equal(api_status_code(API_TOO_LARGE), "too_large");
	assert_int_equal(api_status_http(API_NO_LEADER), 503);
	assert_string_equal(api_status_code(API_NO_LEADER), "no_leader");
	assert_int_equal(api_status_http(API_UNKNOWN_OUTCOME), 503);
	assert_string_equal(api_status_code(API_UNKNOWN_OUTCOME), "unknown_outcome");
	assert_int_equal(api_status_http(API_TIMEOUT), 504);
	assert_string_equal(api_status_code(API_TIMEOUT), "timeout");
	assert_int_equal(api_status_http(API_INTERNAL), 500);
	assert_int_equal(api_status_http(API_STATUS_COUNT), 500);
	assert_string_equal(api_status_code((enum api_status) - 1), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(commands_survive_a_round_trip),
	    cmocka_unit_test(the_largest_value_round_trips),
	    cmocka_unit_test(invalid_commands_do_not_encode),
	    cmocka_unit_test(every_truncation_is_refused),
	    cmocka_unit_test(corruption_is_refused_or_canonical),
	    cmocka_unit_test(bad_headers_and_lengths_are_refused),
	    cmocka_unit_test(transactions_survive_a_round_trip),
	    cmocka_unit_test(invalid_transactions_do_not_encode),
	    cmocka_unit_test(transaction_bytes_are_checked_field_by_field),
	    cmocka_unit_test(transaction_corruption_is_refused_or_canonical),
	    cmocka_unit_test(the_status_table_maps_every_status),
	};
	return cmocka_run_group_tests_name("api_command", tests, NULL, NULL);
}
