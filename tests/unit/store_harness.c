/*
 * Helpers for the store unit tests; see store_harness.h.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_harness.h"

char *sh_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof(tmpl), "%s/cairn-store-XXXXXX", base != NULL ? base : "/tmp");
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	return strdup(dir);
}

void sh_rmdir(char *dir)
{
	DIR *d = opendir(dir);
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char *p = sh_path(dir, de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

char *sh_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static struct store_entry encode(uint64_t index, const struct cmd *c)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(cmd_encode(c, &buf, &len), 0);
	return (struct store_entry){
	    .index = index, .term = 1, .type = STORE_ENTRY_COMMAND, .data = buf, .len = len};
}

struct store_entry sh_put(uint64_t index, const void *key, size_t klen, const void *value,
			  size_t vlen, bool has_cas, uint64_t cas)
{
	struct cmd c = {.type = CMD_KV_PUT};
	c.u.put.key = (struct cmd_bytes){key, (uint32_t)klen};
	c.u.put.value = (struct cmd_bytes){value, (uint32_t)vlen};
	c.u.put.has_cas = has_cas;
	c.u.put.cas = cas;
	return encode(index, &c);
}

struct store_entry sh_put_s(uint64_t index, const char *key, const char *value)
{
	return sh_put(index, key, strlen(key), value, strlen(value), false, 0);
}

struct store_entry sh_cas_s(uint64_t index, const char *key, const char *value, uint64_t cas)
{
	return sh_put(index, key, strlen(key), value, strlen(value), true, cas);
}

struct store_entry sh_del(uint64_t index, const void *key, size_t klen, bool recurse, bool has_cas,
			  uint64_t cas)
{
	struct cmd c = {.type = CMD_KV_DELETE};
	c.u.del.key = (struct cmd_bytes){key, (uint32_t)klen};
	c.u.del.recurse = recurse;
	c.u.del.has_cas = has_cas;
	c.u.del.cas = cas;
	return encode(index, &c);
}

struct store_entry sh_del_s(uint64_t index, const char *key, bool recurse)
{
	return sh_del(index, key, strlen(key), recurse, false, 0);
}

struct store_entry sh_txn(uint64_t index, const struct cmd_txn *t)
{
	struct cmd c = {.type = CMD_TXN};
	c.u.txn = *t;
	return encode(index, &c);
}

struct store_entry sh_noop(uint64_t index)
{
	return (struct store_entry){.index = index, .term = 1, .type = STORE_ENTRY_NOOP};
}

void sh_entry_free(struct store_entry *e)
{
	free((void *)e->data);
	e->data = NULL;
}

static void copy_bytes(struct cmd_bytes *b, uint8_t **slot)
{
	*slot = malloc(b->len + 1);
	assert_non_null(*slot);
	if (b->len > 0)
		memcpy(*slot, b->p, b->len);
	b->p = *slot;
}

static void copy_entry(struct kv_entry *e, uint8_t **slots)
{
	copy_bytes(&e->key, &slots[0]);
	copy_bytes(&e->value, &slots[1]);
	copy_bytes(&e->session, &slots[2]);
}

void sh_collect(void *arg, uint64_t index, uint64_t term, const struct cmd_result *res)
{
	struct sh_collector *c = arg;
	if (c->n == c->cap) {
		c->cap = c->cap > 0 ? c->cap * 2 : 8;
		c->res = realloc(c->res, c->cap * sizeof(*c->res));
		assert_non_null(c->res);
	}
	struct sh_result *r = &c->res[c->n++];
	memset(r, 0, sizeof(*r));
	r->index = index;
	r->term = term;
	r->r = *res;
	if (res->has_entry)
		copy_entry(&r->r.entry, &r->bytes[0]);
	if (res->has_current)
		copy_entry(&r->r.current, &r->bytes[3]);
	if (res->n_txn > 0) {
		struct cmd_txn_result *t = calloc(res->n_txn, sizeof(*t));
		r->txn_bytes = calloc(3 * (size_t)res->n_txn, sizeof(*r->txn_bytes));
		assert_non_null(t);
		assert_non_null(r->txn_bytes);
		memcpy(t, res->txn, res->n_txn * sizeof(*t));
		for (uint32_t i = 0; i < res->n_txn; i++)
			if (t[i].kind == CMD_OP_PUT || t[i].found)
				copy_entry(&t[i].entry, &r->txn_bytes[3 * i]);
		r->r.txn = t;
	} else {
		r->r.txn = NULL;
	}
}

void sh_result_free(struct sh_result *res)
{
	for (int i = 0; i < 6; i++)
		free(res->bytes[i]);
	for (size_t i = 0; res->txn_bytes != NULL && i < 3 * (size_t)res->r.n_txn; i++)
		free(res->txn_bytes[i]);
	free(res->txn_bytes);
	free((void *)res->r.txn);
	memset(res, 0, sizeof(*res));
}

void sh_collector_free(struct sh_collector *c)
{
	for (size_t i = 0; i < c->n; i++)
		sh_result_free(&c->res[i]);
	free(c->res);
	memset(c, 0, sizeof(*c));
}

int sh_apply(struct store *st, struct store_entry *entries, size_t n, struct sh_collector *c)
{
	int rv = store_apply_batch(st, entries, n, c != NULL ? sh_collect : NULL, c);
	for (size_t i = 0; i < n; i++)
		sh_entry_free(&entries[i]);
	return rv;
}

struct sh_result sh_apply1(struct store *st, struct store_entry e)
{
	struct sh_collector c = {0};
	int rv = sh_apply(st, &e, 1, &c);
	if (rv != 0)
		fail_msg("apply: %s: %s", store_strerror(rv), store_errmsg(st));
	assert_int_equal(c.n, 1);
	struct sh_result r = c.res[0];
	free(c.res);
	return r;
}

void sh_query(struct store *st, const void *key, size_t klen, bool recurse, bool keys_only,
	      struct query_result *out)
{
	struct query q = {.type = QUERY_KV_GET,
			  .key = {key, (uint32_t)klen},
			  .recurse = recurse,
			  .keys_only = keys_only};
	int rv = store_query(st, &q, out);
	if (rv != 0)
		fail_msg("query: %s: %s", store_strerror(rv), out->message);
}

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
}

static void put_bytes(struct buf *b, struct cmd_bytes s)
{
	assert_true(s.len == 0 || s.p != NULL);
	assert_non_null(s.p); /* never NULL, also when empty */
	put(b, "[");
	for (uint32_t i = 0; i < s.len; i++)
		put(b, "%02x", s.p[i]);
	put(b, "]");
}

char *sh_dump(const struct query_result *r)
{
	struct buf b = {malloc(256), 0, 256};
	assert_non_null(b.p);
	b.p[0] = 0;
	put(&b, "status=%d index=%llu n=%zu\n", (int)r->status, (unsigned long long)r->index,
	    r->n_entries);
	for (size_t i = 0; i < r->n_entries; i++) {
		const struct kv_entry *e = &r->entries[i];
		put_bytes(&b, e->key);
		put(&b, " c=%llu m=%llu v=%llu s=", (unsigned long long)e->create_index,
		    (unsigned long long)e->modify_index, (unsigned long long)e->version);
		put_bytes(&b, e->session);
		put(&b, " ");
		put_bytes(&b, e->value);
		put(&b, "\n");
	}
	return b.p;
}

char *sh_dump_store(struct store *st)
{
	struct query_result r;
	sh_query(st, "", 0, true, false, &r);
	char *d = sh_dump(&r);
	r.release(&r);
	return d;
}

void sh_write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

void sh_sql(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

struct store *sh_open(const char *dir, const char *name, const struct store_opts *opts)
{
	char *path = sh_path(dir, name);
	char errmsg[STORE_ERRMSG_SIZE];
	struct store *st = NULL;
	int rv = store_open(path, opts, &st, errmsg);
	free(path);
	if (rv != 0)
		fail_msg("store_open: %s: %s", store_strerror(rv), errmsg);
	return st;
}

/* ---- the deterministic workload ---- */

uint64_t sh_rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static const char *const sh_wl_prefixes[] = {"a/", "a/b/", "b/", "ab", ""};

/* A random transaction over the workload's keys: 0-3 compares of every
 * kind, 0-4 ops of every kind in each branch. */
static struct store_entry workload_txn(uint64_t index, uint64_t *s)
{
	static char keys[3 + 8][32];
	static char vals[8][32];
	struct cmd_txn_compare cmp[3];
	struct cmd_txn_op ops[2][4];
	struct cmd_txn t = {0};
	size_t nk = 0;

	t.n_compare = (uint32_t)(sh_rng_next(s) % 4);
	for (uint32_t i = 0; i < t.n_compare; i++, nk++) {
		snprintf(keys[nk], sizeof(keys[nk]), "%s%llu", sh_wl_prefixes[sh_rng_next(s) % 4],
			 (unsigned long long)(sh_rng_next(s) % 15));
		memset(&cmp[i], 0, sizeof(cmp[i]));
		cmp[i].key =
		    (struct cmd_bytes){(const uint8_t *)keys[nk], (uint32_t)strlen(keys[nk])};
		cmp[i].kind = (uint8_t)(1 + sh_rng_next(s) % 4);
		cmp[i].index = index - 1 - sh_rng_next(s) % (index < 4 ? 1 : 4);
		cmp[i].value = (struct cmd_bytes){(const uint8_t *)"v", 1};
	}
	for (int b = 0; b < 2; b++) {
		uint32_t n = (uint32_t)(sh_rng_next(s) % 5);
		for (uint32_t i = 0; i < n; i++, nk++) {
			struct cmd_txn_op *o = &ops[b][i];
			size_t vi = nk - t.n_compare;
			memset(o, 0, sizeof(*o));
			o->kind = (uint8_t)(1 + sh_rng_next(s) % 3);
			o->recurse = o->kind == CMD_OP_DELETE && sh_rng_next(s) % 4 == 0;
			if (o->recurse)
				snprintf(keys[nk], sizeof(keys[nk]), "%s",
					 sh_wl_prefixes[sh_rng_next(s) % 5]);
			else
				snprintf(keys[nk], sizeof(keys[nk]), "%s%llu",
					 sh_wl_prefixes[sh_rng_next(s) % 4],
					 (unsigned long long)(sh_rng_next(s) % 15));
			snprintf(vals[vi], sizeof(vals[vi]), "t%llu-%u", (unsigned long long)index,
				 i);
			o->key = (struct cmd_bytes){(const uint8_t *)keys[nk],
						    (uint32_t)strlen(keys[nk])};
			o->value = (struct cmd_bytes){(const uint8_t *)vals[vi],
						      (uint32_t)strlen(vals[vi])};
		}
		if (b == 0)
			t.n_success = n;
		else
			t.n_failure = n;
	}
	t.compare = t.n_compare > 0 ? cmp : NULL;
	t.success = t.n_success > 0 ? ops[0] : NULL;
	t.failure = t.n_failure > 0 ? ops[1] : NULL;
	return sh_txn(index, &t);
}

/* Entry index of a random mix of KV commands over ~60 keys (index picks
 * the operation, so the sequence is the same for every caller). */
struct store_entry sh_workload_entry(uint64_t seed, uint64_t index)
{
	uint64_t s = seed ^ (index * 0xD1B54A32D192ED03ull);
	uint64_t r = sh_rng_next(&s);
	char key[32], value[64];
	snprintf(key, sizeof(key), "%s%llu", sh_wl_prefixes[r % 4],
		 (unsigned long long)(sh_rng_next(&s) % 15));
	snprintf(value, sizeof(value), "v%llu-%llu", (unsigned long long)index,
		 (unsigned long long)sh_rng_next(&s));
	uint64_t op = sh_rng_next(&s) % 100;
	uint64_t cas =
	    sh_rng_next(&s) % 3 == 0 ? 0 : index - 1 - sh_rng_next(&s) % (index < 8 ? 1 : 8);
	if (op < 40)
		return sh_put_s(index, key, value);
	if (op < 55)
		return sh_cas_s(index, key, value, cas);
	if (op < 75)
		return sh_del_s(index, key, false);
	if (op < 85)
		return sh_del(index, key, strlen(key), false, true, cas);
	if (op < 90)
		return sh_del_s(index, sh_wl_prefixes[sh_rng_next(&s) % 4], true);
	if (op < 93)
		return sh_del(index, "ab", 2, true, true, 1); /* refused: cas + recurse */
	if (op < 97)
		return workload_txn(index, &s);
	return sh_noop(index);
}

/* Applies workload entries [from, to] in batches of batch (0: random 1..50). */
void sh_apply_workload(struct store *st, uint64_t seed, uint64_t from, uint64_t to, size_t batch,
		       struct sh_collector *c)
{
	uint64_t bs = seed;
	struct store_entry b[64];
	uint64_t i = from;
	while (i <= to) {
		size_t n = batch > 0 ? batch : 1 + sh_rng_next(&bs) % 50;
		size_t k = 0;
		while (k < n && i <= to)
			b[k++] = sh_workload_entry(seed, i++);
		int rv = sh_apply(st, b, k, c);
		if (rv != 0)
			fail_msg("apply: %s: %s", store_strerror(rv), store_errmsg(st));
	}
}

/* Every query the workload's keys and prefixes can ask, dumped. */
char *sh_dump_queries(struct store *st)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	out[0] = 0;
	for (int p = 0; p < 5; p++) {
		for (int k = -1; k < 16; k++) {
			char key[32];
			if (k < 0)
				snprintf(key, sizeof(key), "%s", sh_wl_prefixes[p]);
			else
				snprintf(key, sizeof(key), "%s%d", sh_wl_prefixes[p], k);
			for (int mode = 0; mode < 3; mode++) {
				if (mode == 0 && key[0] == 0)
					continue;
				struct query_result r;
				sh_query(st, key, strlen(key), mode == 1, mode == 2, &r);
				char *d = sh_dump(&r);
				r.release(&r);
				size_t n = strlen(d);
				while (len + n + 1 > cap)
					out = realloc(out, cap *= 2);
				memcpy(out + len, d, n + 1);
				len += n;
				free(d);
			}
		}
	}
	return out;
}

char *sh_dump_results(const struct sh_collector *c)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	out[0] = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct sh_result *r = &c->res[i];
		struct query_result q = {.status = r->r.status, .index = r->r.index};
		struct kv_entry e[1];
		if (r->r.has_entry || r->r.has_current) {
			e[0] = r->r.has_entry ? r->r.entry : r->r.current;
			q.entries = e;
			q.n_entries = 1;
		}
		char *d = sh_dump(&q);
		char line[256];
		snprintf(line, sizeof(line),
			 "#%llu/%llu deleted=%llu entry=%d current=%d succeeded=%d ops=%u %s\n",
			 (unsigned long long)r->index, (unsigned long long)r->term,
			 (unsigned long long)r->r.deleted, r->r.has_entry, r->r.has_current,
			 r->r.succeeded, (unsigned)r->r.n_txn, r->r.message);
		size_t n = strlen(d) + strlen(line);
		while (len + n + 1 > cap)
			out = realloc(out, cap *= 2);
		len += (size_t)sprintf(out + len, "%s%s", line, d);
		free(d);
		for (uint32_t k = 0; k < r->r.n_txn; k++) {
			const struct cmd_txn_result *t = &r->r.txn[k];
			struct query_result tq = {.status = API_OK, .index = t->deleted};
			if (t->kind == CMD_OP_PUT || t->found) {
				tq.entries = (struct kv_entry *)&t->entry;
				tq.n_entries = 1;
			}
			d = sh_dump(&tq);
			size_t dn = strlen(d);
			while (len + dn + 16 > cap)
				out = realloc(out, cap *= 2);
			len += (size_t)sprintf(out + len, "  op%u %s", (unsigned)t->kind, d);
			free(d);
		}
	}
	return out;
}
