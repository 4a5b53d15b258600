/*
 * store: what outlives one process or one thread. The applied index across
 * close and open, refusing foreign files, determinism between replicas fed
 * the same entries in different batches, queries from other threads while
 * apply runs, and a WAL that stays bounded under sustained apply.
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

/* ---- persistence ---- */

static void applied_index_and_data_survive_close_and_open(void **state)
{
	struct fx *f = *state;
	struct store *st = sh_open(f->dir, "s.db", NULL);
	sh_apply_workload(st, 7, 1, 300, 16, NULL);
	struct store_entry cfg = {
	    .index = 301, .term = 4, .type = STORE_ENTRY_CONFIG, .data = "conf", .len = 4};
	assert_int_equal(store_apply_batch(st, &cfg, 1, NULL, NULL), 0);
	char *before = sh_dump_queries(st);
	uint64_t floor = store_tombstone_floor(st);
	store_close(st);

	st = sh_open(f->dir, "s.db", NULL);
	assert_int_equal(store_applied_index(st), 301);
	assert_int_equal(store_applied_term(st), 4);
	assert_int_equal(store_tombstone_floor(st), floor);
	char *after = sh_dump_queries(st);
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

static void open_refuses_files_that_are_not_cairn_stores(void **state)
{
	struct fx *f = *state;
	char errmsg[STORE_ERRMSG_SIZE];
	struct store *st = NULL;

	char *garbage = sh_path(f->dir, "garbage");
	char junk[8192];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	sh_write_file(garbage, junk, sizeof(junk));
	assert_int_equal(store_open(garbage, NULL, &st, errmsg), -STORE_ENOTSTORE);
	assert_non_null(strstr(errmsg, "not a cairn store"));

	char *foreign = sh_path(f->dir, "foreign.db");
	sh_sql(foreign, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
	assert_int_equal(store_open(foreign, NULL, &st, errmsg), -STORE_ENOTSTORE);

	char *future = sh_path(f->dir, "future.db");
	st = sh_open(f->dir, "future.db", NULL);
	store_close(st);
	sh_sql(future, "PRAGMA user_version = 99;");
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
	sh_apply_workload(a, 42, 1, 2000, 1, &ca); /* one entry per batch */
	sh_apply_workload(b, 42, 1, 2000, 0, &cb); /* random batches */
	assert_int_equal(ca.n, cb.n);
	char *ra = sh_dump_results(&ca), *rb = sh_dump_results(&cb);
	assert_string_equal(ra, rb);
	char *qa = sh_dump_queries(a), *qb = sh_dump_queries(b);
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

/* ---- the WAL stays bounded ---- */

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

static void wal_stays_bounded_under_sustained_apply(void **state)
{
	struct fx *f = *state;
	struct store *st = sh_open(f->dir, "s.db", NULL);
	char *wal = sh_path(f->dir, "s.db-wal");
	/* ~3,000-byte values over 4,000 keys: each batch of 100 dirties some
	 * 200 pages, so 150 batches append ~30,000 frames (120 MiB) to a WAL
	 * that nothing checkpointed. */
	char value[3000];
	uint64_t index = 0;
	off_t largest = 0;
	for (int round = 0; round < 150; round++) {
		struct store_entry b[100];
		for (int k = 0; k < 100; k++) {
			char key[16];
			index++;
			snprintf(key, sizeof(key), "w/%04llu",
				 (unsigned long long)(index * 2654435761u % 4000));
			memset(value, 'a' + (int)(index % 26), sizeof(value));
			b[k] = sh_put(index, key, strlen(key), value, sizeof(value), false, 0);
		}
		assert_int_equal(sh_apply(st, b, 100, NULL), 0);
		off_t size = file_size(wal);
		if (size > largest)
			largest = size;
	}
	/* The bound: 8,192 frames (4,120 bytes each) plus one batch. */
	assert_true(largest > 0);
	assert_true(largest < 40 * 1024 * 1024);
	store_close(st);
	assert_int_equal(file_size(wal), 0); /* closing checkpointed and removed it */
	free(wal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(applied_index_and_data_survive_close_and_open, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(open_refuses_files_that_are_not_cairn_stores, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(replicas_fed_the_same_entries_agree_byte_for_byte,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(queries_run_on_other_threads_while_apply_continues,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(results_may_be_released_after_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(wal_stays_bounded_under_sustained_apply, setup,
					    teardown),
	};
	return cmocka_run_group_tests_name("store_durable", tests, NULL, NULL);
}
