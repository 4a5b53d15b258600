/*
 * store: what outlives one process or one replica. The applied index across
 * close and open, refusing foreign files, determinism between replicas fed
 * the same entries in different batches, queries from other threads while
 * apply runs, snapshots taken while another thread applies, and restores
 * (valid ones replace the state; invalid ones change nothing).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_harness.h"

struct fx {
	char *dir;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->dir = sh_tmpdir();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sh_rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- a deterministic workload ---- */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static const char *const wl_prefixes[] = {"a/", "a/b/", "b/", "ab", ""};

/* Entry index of a random mix of KV commands over ~60 keys (index picks
 * the operation, so the sequence is the same for every caller). */
static struct store_entry workload_entry(uint64_t seed, uint64_t index)
{
	uint64_t s = seed ^ (index * 0xD1B54A32D192ED03ull);
	uint64_t r = rng_next(&s);
	char key[32], value[64];
	snprintf(key, sizeof(key), "%s%llu", wl_prefixes[r % 4],
		 (unsigned long long)(rng_next(&s) % 15));
	snprintf(value, sizeof(value), "v%llu-%llu", (unsigned long long)index,
		 (unsigned long long)rng_next(&s));
	uint64_t op = rng_next(&s) % 100;
	uint64_t cas = rng_next(&s) % 3 == 0 ? 0 : index - 1 - rng_next(&s) % (index < 8 ? 1 : 8);
	if (op < 40)
		return sh_put_s(index, key, value);
	if (op < 55)
		return sh_cas_s(index, key, value, cas);
	if (op < 75)
		return sh_del_s(index, key, false);
	if (op < 85)
		return sh_del(index, key, strlen(key), false, true, cas);
	if (op < 90)
		return sh_del_s(index, wl_prefixes[rng_next(&s) % 4], true);
	if (op < 93)
		return sh_del(index, "ab", 2, true, true, 1); /* refused: cas + recurse */
	return sh_noop(index);
}

/* Applies workload entries [from, to] in batches of batch (0: random 1..50). */
static void apply_workload(struct store *st, uint64_t seed, uint64_t from, uint64_t to,
			   size_t batch, struct sh_collector *c)
{
	uint64_t bs = seed;
	struct store_entry b[64];
	uint64_t i = from;
	while (i <= to) {
		size_t n = batch > 0 ? batch : 1 + rng_next(&bs) % 50;
		size_t k = 0;
		while (k < n && i <= to)
			b[k++] = workload_entry(seed, i++);
		int rv = sh_apply(st, b, k, c);
		if (rv != 0)
			fail_msg("apply: %s: %s", store_strerror(rv), store_errmsg(st));
	}
}

/* Every query the workload's keys and prefixes can ask, dumped. */
static char *dump_queries(struct store *st)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap);
	out[0] = 0;
	for (int p = 0; p < 5; p++) {
		for (int k = -1; k < 16; k++) {
			char key[32];
			if (k < 0)
				snprintf(key, sizeof(key), "%s", wl_prefixes[p]);
			else
				snprintf(key, sizeof(key), "%s%d", wl_prefixes[p], k);
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

static char *dump_results(const struct sh_collector *c)
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
		snprintf(line, sizeof(line), "#%llu/%llu deleted=%llu entry=%d current=%d %s\n",
			 (unsigned long long)r->index, (unsigned long long)r->term,
			 (unsigned long long)r->r.deleted, r->r.has_entry, r->r.has_current,
			 r->r.message);
		size_t n = strlen(d) + strlen(line);
		while (len + n + 1 > cap)
			out = realloc(out, cap *= 2);
		len += (size_t)sprintf(out + len, "%s%s", line, d);
		free(d);
	}
	return out;
}

/* ---- persistence ---- */

static void applied_index_and_data_survive_close_and_open(void **state)
{
	struct fx *f = *state;
	struct store *st = sh_open(f->dir, "s.db", NULL);
	apply_workload(st, 7, 1, 300, 16, NULL);
	struct store_entry cfg = {
		.index = 301, .term = 4, .type = STORE_ENTRY_CONFIG, .data = "conf", .len = 4};
	assert_int_equal(store_apply_batch(st, &cfg, 1, NULL, NULL), 0);
	char *before = dump_queries(st);
	uint64_t floor = store_tombstone_floor(st);
	store_close(st);

	st = sh_open(f->dir, "s.db", NULL);
	assert_int_equal(store_applied_index(st), 301);
	assert_int_equal(store_applied_term(st), 4);
	assert_int_equal(store_tombstone_floor(st), floor);
	char *after = dump_queries(st);
	assert_string_equal(before, after);
	uint64_t ci;
	uint8_t *data;
	size_t len;
	assert_int_equal(store_config(st, &ci, &data, &len), 0);
	assert_int_equal(ci, 301);
	assert_memory_equal(data, "conf", 4);
	free(data);
	/* A restart hands the log from some earlier point: only 302 applies. */
	struct store_entry b[2] = {sh_put_s(301, "x", "old"), sh_put_s(302, "x", "new")};
	struct sh_collector c = {0};
	assert_int_equal(sh_apply(st, b, 2, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.res[0].index, 302);
	sh_collector_free(&c);
	assert_int_equal(store_sync(st), 0);
	store_close(st);
	free(before);
	free(after);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static void sql_on(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

static void open_refuses_files_that_are_not_cairn_stores(void **state)
{
	struct fx *f = *state;
	char errmsg[STORE_ERRMSG_SIZE];
	struct store *st = NULL;

	char *garbage = sh_path(f->dir, "garbage");
	char junk[8192];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(garbage, junk, sizeof(junk));
	assert_int_equal(store_open(garbage, NULL, &st, errmsg), -STORE_ENOTSTORE);
	assert_non_null(strstr(errmsg, "not a cairn store"));

	char *foreign = sh_path(f->dir, "foreign.db");
	sql_on(foreign, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
	assert_int_equal(store_open(foreign, NULL, &st, errmsg), -STORE_ENOTSTORE);

	char *future = sh_path(f->dir, "future.db");
	st = sh_open(f->dir, "future.db", NULL);
	store_close(st);
	sql_on(future, "PRAGMA user_version = 99;");
	assert_int_equal(store_open(future, NULL, &st, errmsg), -STORE_EVERSION);
	assert_non_null(strstr(errmsg, "99"));

	char *missing_dir = sh_path(f->dir, "no/such/dir/s.db");
	assert_int_equal(store_open(missing_dir, NULL, &st, errmsg), -STORE_EIO);
	free(garbage);
	free(foreign);
	free(future);
	free(missing_dir);
}

/* ---- determinism ---- */

static void replicas_fed_the_same_entries_agree_byte_for_byte(void **state)
{
	struct fx *f = *state;
	struct store_opts o = {.tombstone_max = 12}; /* prune often */
	struct store *a = sh_open(f->dir, "a.db", &o);
	struct store *b = sh_open(f->dir, "b.db", &o);
	struct sh_collector ca = {0}, cb = {0};
	apply_workload(a, 42, 1, 2000, 1, &ca); /* one entry per batch */
	apply_workload(b, 42, 1, 2000, 0, &cb); /* random batches */
	assert_int_equal(ca.n, cb.n);
	char *ra = dump_results(&ca), *rb = dump_results(&cb);
	assert_string_equal(ra, rb);
	char *qa = dump_queries(a), *qb = dump_queries(b);
	assert_string_equal(qa, qb);
	assert_true(store_tombstone_floor(a) > 0);
	assert_int_equal(store_tombstone_floor(a), store_tombstone_floor(b));
	/* The workload exercised every outcome. */
	assert_non_null(strstr(ra, "status=0")); /* ok */
	assert_non_null(strstr(ra, "status=4")); /* cas failed */
	assert_non_null(strstr(ra, "status=1")); /* cas with recurse */
	free(ra);
	free(rb);
	free(qa);
	free(qb);
	sh_collector_free(&ca);
	sh_collector_free(&cb);
	store_close(a);
	store_close(b);
}

/* ---- queries from other threads ---- */

struct reader_arg {
	struct store *st;
	atomic_bool *stop;
	unsigned queries;
};

/* The writer puts "c" = its own index and p/<i % 8>; a reader must see
 * whole commits: the value of c is its modify_index, and the prefix index
 * is the newest entry under it, never behind an earlier answer. */
static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	uint64_t last_c = 0, last_p = 0;
	while (!atomic_load(a->stop)) {
		struct query_result r;
		sh_query(a->st, "c", 1, false, false, &r);
		if (r.status == API_OK) {
			char buf[32];
			snprintf(buf, sizeof(buf), "%llu",
				 (unsigned long long)r.entries[0].modify_index);
			assert_int_equal(r.entries[0].value.len, strlen(buf));
			assert_memory_equal(r.entries[0].value.p, buf, strlen(buf));
			assert_true(r.index >= last_c);
			last_c = r.index;
		}
		r.release(&r);
		sh_query(a->st, "p/", 2, true, false, &r);
		uint64_t max = 0;
		for (size_t i = 0; i < r.n_entries; i++)
			if (r.entries[i].modify_index > max)
				max = r.entries[i].modify_index;
		assert_int_equal(r.index, max);
		assert_true(r.index >= last_p);
		last_p = r.index;
		r.release(&r);
		a->queries++;
	}
	return NULL;
}

static void queries_run_on_other_threads_while_apply_continues(void **state)
{
	struct fx *f = *state;
	struct store_opts o = {.max_readers = 2}; /* three readers share two */
	struct store *st = sh_open(f->dir, "s.db", &o);
	atomic_bool stop = false;
	struct reader_arg args[3];
	pthread_t th[3];
	for (int i = 0; i < 3; i++) {
		args[i] = (struct reader_arg){st, &stop, 0};
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
	}
	uint64_t index = 0;
	for (int round = 0; round < 300; round++) {
		struct store_entry b[8];
		for (int k = 0; k < 8; k++) {
			char key[8], value[32];
			index++;
			snprintf(value, sizeof(value), "%llu", (unsigned long long)index);
			if (k % 2 == 0) {
				b[k] = sh_put_s(index, "c", value);
			} else {
				snprintf(key, sizeof(key), "p/%d", (int)(index % 8));
				b[k] = sh_put_s(index, key, value);
			}
		}
		assert_int_equal(sh_apply(st, b, 8, NULL), 0);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_true(args[i].queries > 0);
	}
	store_close(st);
}

static void results_may_be_released_after_close(void **state)
{
	struct fx *f = *state;
	struct store *st = sh_open(f->dir, "s.db", NULL);
	struct store_entry e = sh_put_s(1, "k", "v");
	assert_int_equal(sh_apply(st, &e, 1, NULL), 0);
	struct query_result r;
	sh_query(st, "k", 1, false, false, &r);
	store_close(st);
	assert_memory_equal(r.entries[0].value.p, "v", 1);
	r.release(&r);
}

/* ---- snapshots ---- */

static struct store_entry big_put(uint64_t index)
{
	char key[32], value[400];
	snprintf(key, sizeof(key), "k/%05llu", (unsigned long long)(index * 7919 % 5000));
	memset(value, 'a' + (int)(index % 26), sizeof(value) - 1);
	value[sizeof(value) - 1] = 0;
	snprintf(value, 24, "%llu;", (unsigned long long)index);
	value[strlen(value)] = '-';
	return sh_put_s(index, key, value);
}

static void apply_big(struct store *st, uint64_t from, uint64_t to)
{
	struct store_entry b[100];
	while (from <= to) {
		size_t k = 0;
		while (k < 100 && from <= to)
			b[k++] = big_put(from++);
		assert_int_equal(sh_apply(st, b, k, NULL), 0);
	}
}

/* The applier thread: applies one batch whenever the snapshot's step hook
 * asks, so commits land between every two backup steps. */
struct applier {
	struct store *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned requested, done;
	bool quit;
	uint64_t next;
};

static void *applier_main(void *p)
{
	struct applier *a = p;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (a->requested == a->done && !a->quit)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->requested == a->done && a->quit)
			break;
		pthread_mutex_unlock(&a->mu);
		apply_big(a->st, a->next, a->next + 19);
		a->next += 20;
		pthread_mutex_lock(&a->mu);
		a->done++;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static void step_hook(void *arg, unsigned step)
{
	struct applier *a = arg;
	/* A backup that restarts whenever the source changes never ends. */
	assert_true(step < 1000);
	pthread_mutex_lock(&a->mu);
	unsigned want = ++a->requested;
	pthread_cond_broadcast(&a->cv);
	while (a->done < want)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
}

static struct store *restore_fresh(const char *dir, const char *name, const char *snap)
{
	struct store *st = sh_open(dir, name, NULL);
	int rv = store_restore(st, snap);
	if (rv != 0)
		fail_msg("restore: %s: %s", store_strerror(rv), store_errmsg(st));
	return st;
}

static void snapshot_while_another_thread_applies_restores_identically(void **state)
{
	struct fx *f = *state;
	struct applier a = {.next = 3001};
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	struct store_opts o = {
		.snapshot_step_pages = 8, .snapshot_step_hook = step_hook, .snapshot_step_arg = &a};
	a.st = sh_open(f->dir, "live.db", &o);
	apply_big(a.st, 1, 3000);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, applier_main, &a), 0);

	char *snap = sh_path(f->dir, "snap.db");
	char errmsg[STORE_ERRMSG_SIZE];
	struct store_snapshot_info info;
	int rv = store_snapshot(a.st, snap, &info, errmsg);
	if (rv != 0)
		fail_msg("snapshot: %s: %s", store_strerror(rv), errmsg);
	pthread_mutex_lock(&a.mu);
	a.quit = true;
	pthread_cond_broadcast(&a.cv);
	pthread_mutex_unlock(&a.mu);
	pthread_join(th, NULL);

	/* Many commits landed during the copy; the copy is the state before. */
	assert_true(a.done >= 20);
	assert_int_equal(info.index, 3000);
	assert_int_equal(info.term, 1);
	assert_int_equal(store_applied_index(a.st), 3000 + 20 * (uint64_t)a.done);

	struct store *ref = sh_open(f->dir, "ref.db", NULL);
	apply_big(ref, 1, 3000);
	struct store *restored = restore_fresh(f->dir, "restored.db", snap);
	assert_int_equal(store_applied_index(restored), 3000);
	char *want = sh_dump_store(ref), *got = sh_dump_store(restored);
	assert_string_equal(want, got);
	/* And the restored store carries on from there like the live one. */
	apply_big(restored, 3001, 3000 + 20 * (uint64_t)a.done);
	char *live = sh_dump_store(a.st), *again = sh_dump_store(restored);
	assert_string_equal(live, again);

	free(want);
	free(got);
	free(live);
	free(again);
	free(snap);
	store_close(ref);
	store_close(restored);
	store_close(a.st);
	pthread_cond_destroy(&a.cv);
	pthread_mutex_destroy(&a.mu);
}

static void snapshot_is_a_plain_sqlite_file(void **state)
{
	struct fx *f = *state;
	struct store *st = sh_open(f->dir, "s.db", NULL);
	apply_workload(st, 3, 1, 200, 10, NULL);
	struct store_entry cfg = {
		.index = 201, .term = 2, .type = STORE_ENTRY_CONFIG, .data = "m", .len = 1};
	assert_int_equal(store_apply_batch(st, &cfg, 1, NULL, NULL), 0);
	char *snap = sh_path(f->dir, "snap.db");
	write_file(snap, "leftover bytes of an earlier attempt", 36); /* overwritten */
	char errmsg[STORE_ERRMSG_SIZE];
	struct store_snapshot_info info;
	assert_int_equal(store_snapshot(st, snap, &info, errmsg), 0);
	assert_int_equal(info.index, 201);
	assert_int_equal(info.term, 2);
	assert_int_equal(info.config_index, 201);
	assert_int_equal(info.config_len, 1);
	assert_memory_equal(info.config, "m", 1);
	free(info.config);

	/* Rollback-journal mode in the header (bytes 18 and 19 are 1, not 2),
	 * and nothing beside the file. */
	FILE *fp = fopen(snap, "rb");
	unsigned char hdr[100];
	assert_int_equal(fread(hdr, 1, sizeof(hdr), fp), sizeof(hdr));
	fclose(fp);
	assert_memory_equal(hdr, "SQLite format 3", 16);
	assert_int_equal(hdr[18], 1);
	assert_int_equal(hdr[19], 1);
	char *wal = sh_path(f->dir, "snap.db-wal"), *journal = sh_path(f->dir, "snap.db-journal");
	struct stat sb;
	assert_int_not_equal(stat(wal, &sb), 0);
	assert_int_not_equal(stat(journal, &sb), 0);

	struct store *copy = restore_fresh(f->dir, "copy.db", snap);
	char *a = dump_queries(st), *b = dump_queries(copy);
	assert_string_equal(a, b);
	assert_int_equal(store_applied_term(copy), 2);
	uint64_t ci;
	uint8_t *data;
	size_t len;
	assert_int_equal(store_config(copy, &ci, &data, &len), 0);
	assert_int_equal(ci, 201);
	free(data);
	free(a);
	free(b);
	free(wal);
	free(journal);
	free(snap);
	store_close(copy);
	store_close(st);
}

static void restore_replaces_a_newer_state(void **state)
{
	struct fx *f = *state;
	struct store *old = sh_open(f->dir, "old.db", NULL);
	apply_workload(old, 5, 1, 100, 10, NULL);
	char *snap = sh_path(f->dir, "snap.db");
	char errmsg[STORE_ERRMSG_SIZE];
	struct store_snapshot_info info;
	assert_int_equal(store_snapshot(old, snap, &info, errmsg), 0);
	free(info.config);

	struct store *st = sh_open(f->dir, "s.db", NULL);
	apply_workload(st, 6, 1, 300, 10, NULL);
	assert_int_equal(store_restore(st, snap), 0);
	assert_int_equal(store_applied_index(st), 100);
	char *a = dump_queries(old), *b = dump_queries(st);
	assert_string_equal(a, b);
	/* It applies from the snapshot's index on, like the original. */
	apply_workload(old, 5, 101, 150, 10, NULL);
	apply_workload(st, 5, 101, 150, 7, NULL);
	free(a);
	free(b);
	a = dump_queries(old);
	b = dump_queries(st);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(snap);
	store_close(old);
	store_close(st);
}

static void restore_of_an_invalid_file_fails_and_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct store *st = sh_open(f->dir, "s.db", NULL);
	apply_workload(st, 9, 1, 150, 10, NULL);
	char *before = dump_queries(st);

	/* A valid snapshot to damage. */
	struct store *src = sh_open(f->dir, "src.db", NULL);
	apply_big(src, 1, 400);
	char *good = sh_path(f->dir, "good.db");
	char errmsg[STORE_ERRMSG_SIZE];
	struct store_snapshot_info info;
	assert_int_equal(store_snapshot(src, good, &info, errmsg), 0);
	store_close(src);
	FILE *fp = fopen(good, "rb");
	fseek(fp, 0, SEEK_END);
	size_t size = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	unsigned char *bytes = malloc(size);
	assert_int_equal(fread(bytes, 1, size, fp), size);
	fclose(fp);

	struct {
		const char *name;
		int rv;
	} cases[] = {
		{"missing", -STORE_EIO},   {"empty", -STORE_ENOTSTORE},
		{"garbage", -STORE_ENOTSTORE}, {"foreign", -STORE_ENOTSTORE},
		{"future", -STORE_EVERSION}, {"truncated", 0},
		{"scribbled", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = sh_path(f->dir, cases[i].name);
		if (strcmp(cases[i].name, "empty") == 0) {
			write_file(p, "", 0);
		} else if (strcmp(cases[i].name, "garbage") == 0) {
			unsigned char junk[4096];
			for (size_t k = 0; k < sizeof(junk); k++)
				junk[k] = (unsigned char)(k * 131 + 17);
			write_file(p, junk, sizeof(junk));
		} else if (strcmp(cases[i].name, "foreign") == 0) {
			sql_on(p, "CREATE TABLE kv(key, value); INSERT INTO kv VALUES ('a', 'b');");
		} else if (strcmp(cases[i].name, "future") == 0) {
			write_file(p, bytes, size);
			sql_on(p, "PRAGMA user_version = 2;");
		} else if (strcmp(cases[i].name, "truncated") == 0) {
			write_file(p, bytes, size / 2);
		} else if (strcmp(cases[i].name, "scribbled") == 0) {
			unsigned char *copy = malloc(size);
			memcpy(copy, bytes, size);
			for (size_t k = size / 2; k < size / 2 + 8192 && k < size; k++)
				copy[k] = (unsigned char)(k * 37);
			write_file(p, copy, size);
			free(copy);
		}
		int rv = store_restore(st, p);
		if (cases[i].rv != 0)
			assert_int_equal(rv, cases[i].rv);
		else
			assert_true(rv < 0);
		assert_true(strlen(store_errmsg(st)) > 0);
		assert_int_equal(store_applied_index(st), 150);
		char *after = dump_queries(st);
		assert_string_equal(before, after);
		free(after);
		free(p);
	}
	/* Nothing failed for good: the store still applies and restores. */
	apply_workload(st, 9, 151, 160, 10, NULL);
	assert_int_equal(store_restore(st, good), 0);
	assert_int_equal(store_applied_index(st), 400);
	free(bytes);
	free(good);
	free(before);
	store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(applied_index_and_data_survive_close_and_open,
						setup, teardown),
		cmocka_unit_test_setup_teardown(open_refuses_files_that_are_not_cairn_stores,
						setup, teardown),
		cmocka_unit_test_setup_teardown(replicas_fed_the_same_entries_agree_byte_for_byte,
						setup, teardown),
		cmocka_unit_test_setup_teardown(queries_run_on_other_threads_while_apply_continues,
						setup, teardown),
		cmocka_unit_test_setup_teardown(results_may_be_released_after_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			snapshot_while_another_thread_applies_restores_identically, setup,
			teardown),
		cmocka_unit_test_setup_teardown(snapshot_is_a_plain_sqlite_file, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_replaces_a_newer_state, setup, teardown),
		cmocka_unit_test_setup_teardown(restore_of_an_invalid_file_fails_and_changes_nothing,
						setup, teardown),
	};
	return cmocka_run_group_tests_name("store_snapshot", tests, NULL, NULL);
}
