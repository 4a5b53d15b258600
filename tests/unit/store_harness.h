/*
 * Helpers for the store unit tests: a scratch directory per test, log
 * entries built with the real command codec (cmd_encode), results captured
 * as deep copies, and a canonical text dump of query results so two stores
 * can be compared byte for byte.
 *
 * Ownership: everything returned is malloc'ed and owned by the caller,
 * freed with the matching sh_*_free (or free for plain strings).
 */
#ifndef CAIRN_TESTS_STORE_HARNESS_H
#define CAIRN_TESTS_STORE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A fresh directory under $TMPDIR (or /tmp); sh_rmdir removes it and all
 * it holds (one level) and frees the string. */
char *sh_tmpdir(void);
void sh_rmdir(char *dir);
/* "<dir>/<name>", malloc'ed. */
char *sh_path(const char *dir, const char *name);
/* Writes len bytes as the whole file at path. */
void sh_write_file(const char *path, const void *data, size_t len);
/* Runs sql on the SQLite database at path (tampering with a store). */
void sh_sql(const char *path, const char *sql);

/* Command entries at index (term 1). Keys and values are byte strings
 * (pointer + length); the _s variants take C strings. The entry's data is
 * malloc'ed: sh_entry_free. A command the codec refuses fails the test. */
struct store_entry sh_put(uint64_t index, const void *key, size_t klen, const void *value,
			  size_t vlen, bool has_cas, uint64_t cas);
struct store_entry sh_put_s(uint64_t index, const char *key, const char *value);
struct store_entry sh_cas_s(uint64_t index, const char *key, const char *value, uint64_t cas);
struct store_entry sh_del(uint64_t index, const void *key, size_t klen, bool recurse, bool has_cas,
			  uint64_t cas);
struct store_entry sh_del_s(uint64_t index, const char *key, bool recurse);
struct store_entry sh_noop(uint64_t index);
/* A CMD_TXN entry of t (built form). */
struct store_entry sh_txn(uint64_t index, const struct cmd_txn *t);
void sh_entry_free(struct store_entry *e);

/* A captured result: r with its byte strings pointing into bytes (and a
 * transaction's results, r.txn, into txn_bytes). */
struct sh_result {
	uint64_t index;
	uint64_t term;
	struct cmd_result r;
	uint8_t *bytes[6];
	uint8_t **txn_bytes; /* 3 per op result */
};
void sh_result_free(struct sh_result *res);

/* Collects every callback of store_apply_batch (pass sh_collect, c). */
struct sh_collector {
	struct sh_result *res;
	size_t n;
	size_t cap;
};
void sh_collect(void *arg, uint64_t index, uint64_t term, const struct cmd_result *res);
void sh_collector_free(struct sh_collector *c);

/* Applies one entry (consumed: freed) and returns its single result; fails
 * the test when the apply fails or gives no result. */
struct sh_result sh_apply1(struct store *st, struct store_entry e);
/* Applies entries[0..n) as one batch and frees them; returns the rv. */
int sh_apply(struct store *st, struct store_entry *entries, size_t n, struct sh_collector *c);

/* store_query for a key (bytes) or a prefix. */
void sh_query(struct store *st, const void *key, size_t klen, bool recurse, bool keys_only,
	      struct query_result *out);
/* A canonical dump of a result: status, index, then one line per entry
 * with every field (bytes hex-escaped). malloc'ed. */
char *sh_dump(const struct query_result *r);
/* sh_dump of the whole store (empty prefix, recurse). */
char *sh_dump_store(struct store *st);

/* ---- a deterministic workload: a random mix of KV commands (puts, CAS
 * puts, deletes, CAS deletes, recursive deletes, a refused cas+recurse,
 * transactions, noops) over ~60 keys under a few prefixes; entry i depends only on seed
 * and i. ---- */
uint64_t sh_rng_next(uint64_t *state);
struct store_entry sh_workload_entry(uint64_t seed, uint64_t index);
/* Applies entries [from, to] in batches of batch (0: random sizes 1..50),
 * collecting results into c (may be NULL); fails the test on an error. */
void sh_apply_workload(struct store *st, uint64_t seed, uint64_t from, uint64_t to, size_t batch,
		       struct sh_collector *c);
/* The dumps of every key and prefix query the workload can ask. */
char *sh_dump_queries(struct store *st);
/* A dump of every collected result, every field (a transaction's op
 * results included). */
char *sh_dump_results(const struct sh_collector *c);

/* Opens a store at <dir>/<name> with opts (NULL: defaults). */
struct store *sh_open(const char *dir, const char *name, const struct store_opts *opts);

#endif
