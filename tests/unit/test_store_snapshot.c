/*
 * store: snapshots and restores. A snapshot taken while another thread
 * applies holds exactly the state at its index; it is a plain SQLite file;
 * restoring it into a fresh store gives identical query results; an
 * invalid file is refused and changes nothing.
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
	sh_apply_workload(st, 3, 1, 200, 10, NULL);
	struct store_entry cfg = {
	    .index = 201, .term = 2, .type = STORE_ENTRY_CONFIG, .data = "m", .len = 1};
	assert_int_equal(store_apply_batch(st, &cfg, 1, NULL, NULL), 0);
	char *snap = sh_path(f->dir, "snap.db");
	sh_write_file(snap, "leftover bytes of an earlier attempt", 36); /* overwritten */
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
	char *a = sh_dump_queries(st), *b = sh_dump_queries(copy);
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
	sh_apply_workload(old, 5, 1, 100, 10, NULL);
	char *snap = sh_path(f->dir, "snap.db");
	char errmsg[STORE_ERRMSG_SIZE];
	struct store_snapshot_info info;
	assert_int_equal(store_snapshot(old, snap, &info, errmsg), 0);
	free(info.config);

	struct store *st = sh_open(f->dir, "s.db", NULL);
	sh_apply_workload(st, 6, 1, 300, 10, NULL);
	assert_int_equal(store_restore(st, snap), 0);
	assert_int_equal(store_applied_index(st), 100);
	char *a = sh_dump_queries(old), *b = sh_dump_queries(st);
	assert_string_equal(a, b);
	/* It applies from the snapshot's index on, like the original. */
	sh_apply_workload(old, 5, 101, 150, 10, NULL);
	sh_apply_workload(st, 5, 101, 150, 7, NULL);
	free(a);
	free(b);
	a = sh_dump_queries(old);
	b = sh_dump_queries(st);
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
	sh_apply_workload(st, 9, 1, 150, 10, NULL);
	char *before = sh_dump_queries(st);

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
	    {"missing", -STORE_EIO},
	    {"empty", -STORE_ENOTSTORE},
	    {"garbage", -STORE_ENOTSTORE},
	    {"foreign", -STORE_ENOTSTORE},
	    {"future", -STORE_EVERSION},
	    {"truncated", 0},
	    {"scribbled", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *p = sh_path(f->dir, cases[i].name);
		if (strcmp(cases[i].name, "empty") == 0) {
			sh_write_file(p, "", 0);
		} else if (strcmp(cases[i].name, "garbage") == 0) {
			unsigned char junk[4096];
			for (size_t k = 0; k < sizeof(junk); k++)
				junk[k] = (unsigned char)(k * 131 + 17);
			sh_write_file(p, junk, sizeof(junk));
		} else if (strcmp(cases[i].name, "foreign") == 0) {
			sh_sql(p, "CREATE TABLE kv(key, value); INSERT INTO kv VALUES ('a', 'b');");
		} else if (strcmp(cases[i].name, "future") == 0) {
			sh_write_file(p, bytes, size);
			sh_sql(p, "PRAGMA user_version = 2;");
		} else if (strcmp(cases[i].name, "truncated") == 0) {
			sh_write_file(p, bytes, size / 2);
		} else if (strcmp(cases[i].name, "scribbled") == 0) {
			unsigned char *copy = malloc(size);
			memcpy(copy, bytes, size);
			for (size_t k = size / 2; k < size / 2 + 8192 && k < size; k++)
				copy[k] = (unsigned char)(k * 37);
			sh_write_file(p, copy, size);
			free(copy);
		}
		int rv = store_restore(st, p);
		if (cases[i].rv != 0)
			assert_int_equal(rv, cases[i].rv);
		else
			assert_true(rv < 0);
		assert_true(strlen(store_errmsg(st)) > 0);
		assert_int_equal(store_applied_index(st), 150);
		char *after = sh_dump_queries(st);
		assert_string_equal(before, after);
		free(after);
		free(p);
	}
	/* Nothing failed for good: the store still applies and restores. */
	sh_apply_workload(st, 9, 151, 160, 10, NULL);
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
	    cmocka_unit_test_setup_teardown(
		snapshot_while_another_thread_applies_restores_identically, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_is_a_plain_sqlite_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(restore_replaces_a_newer_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(restore_of_an_invalid_file_fails_and_changes_nothing,
					    setup, teardown),
	};
	return cmocka_run_group_tests_name("store_snapshot", tests, NULL, NULL);
}
