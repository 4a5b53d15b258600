/*
 * Unit tests of the log: staging, syncing, rolling, reading by index,
 * truncation of either end, and recovery (torn tails and corruption),
 * through storage.h on the in-memory file system.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "st_memfs.h"
#include "st_util.h"
#include "storage.h"
#include "wal_record.h"

#define SEG 4096

static char path_buf[256];
static const char *seg_path(uint64_t seq)
{
	char name[WAL_NAME_MAX];
	wal_seg_name(name, seq, 0);
	snprintf(path_buf, sizeof(path_buf), "%s/%s", ST_DIR, name);
	return path_buf;
}

static void reopen(struct storage **st)
{
	char err[STORAGE_ERRMSG_SIZE];
	storage_close(*st);
	if (st_reopen(SEG, st, err) != 0)
		fail_msg("reopen: %s", err);
}

static void empty_dir_opens_with_empty_log(void **state)
{
	struct storage *st = st_open_mem(SEG);
	struct rc_hard_state hs = storage_hard_state(st);
	struct storage_durable d;
	rc_term t;
	(void)state;
	assert_int_equal(storage_first_index(st), 1);
	assert_int_equal(storage_last_index(st), 0);
	assert_int_equal(storage_snapshot(st)->index, 0);
	assert_int_equal(hs.term, 0);
	assert_int_equal(hs.vote, 0);
	assert_int_equal(storage_term(st, 0, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(storage_term(st, 1, &t), -STORAGE_ENOTFOUND);
	assert_int_equal(storage_sync(st, &d), 0);
	assert_int_equal(d.index, 0);
	storage_close(st);
}

static void staged_entries_are_readable_before_sync(void **state)
{
	struct storage *st = st_open_mem(SEG);
	uint8_t buf[2][300];
	struct rc_entry es[2] = {st_entry(1, 1, 1 % 300, 7, buf[0]), st_entry(2, 1, 2, 7, buf[1])};
	struct storage_durable d;
	uint64_t ticket;
	rc_term t;
	(void)state;
	assert_int_equal(storage_stage(st, NULL, 0, es, 2, &ticket), 0);
	assert_int_equal(ticket, 1);
	assert_int_equal(storage_last_index(st), 2);
	assert_int_equal(storage_term(st, 2, &t), 0);
	assert_int_equal(t, 1);
	st_expect(st, 1, 2, 1, 7);
	storage_durable(st, &d);
	assert_int_equal(d.ticket, 0);
	assert_int_equal(storage_sync(st, &d), 0);
	assert_int_equal(d.ticket, 1);
	assert_int_equal(d.index, 2);
	assert_int_equal(d.term, 1);
	st_expect(st, 1, 2, 1, 7);
	storage_close(st);
}

static void entries_survive_reopen_across_rolled_segments(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	st_append(st, 1, 100, 1, 3);
	st_append(st, 101, 150, 2, 3);
	assert_true(memfs_exists(seg_path(2)));
	assert_true(memfs_exists(seg_path(5)));
	reopen(&st);
	assert_int_equal(storage_first_index(st), 1);
	assert_int_equal(storage_last_index(st), 150);
	st_expect(st, 1, 100, 1, 3);
	st_expect(st, 101, 150, 2, 3);
	st_expect(st, 77, 77, 1, 3);
	st_append(st, 151, 160, 2, 3);
	reopen(&st);
	st_expect(st, 140, 160, 2, 3);
	storage_close(st);
}

static void entry_larger_than_a_segment_fits_alone(void **state)
{
	struct storage *st = st_open_mem(SEG);
	uint8_t *big = malloc(3 * SEG);
	struct rc_entry e = st_entry(2, 1, 3 * SEG, 1, big);
	struct rc_entry *got;
	size_t n;
	(void)state;
	st_append(st, 1, 1, 1, 1);
	assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), 0);
	assert_int_equal(storage_sync(st, NULL), 0);
	st_append(st, 3, 4, 1, 1);
	reopen(&st);
	assert_int_equal(storage_entries(st, 2, 2, &got, &n), 0);
	assert_int_equal(got[0].len, 3 * SEG);
	assert_memory_equal(got[0].data, big, 3 * SEG);
	free(got);
	st_expect(st, 3, 4, 1, 1);
	free(big);
	storage_close(st);
}

static void stage_rejects_gaps_and_term_regressions(void **state)
{
	struct storage *st = st_open_mem(SEG);
	uint8_t buf[300];
	struct rc_entry e;
	(void)state;
	st_append(st, 1, 5, 3, 1);
	e = st_entry(7, 3, 1, 1, buf);
	assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), -STORAGE_EINVAL);
	e = st_entry(6, 2, 1, 1, buf);
	assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), -STORAGE_EINVAL);
	e = st_entry(3, 4, 1, 1, buf);
	assert_int_equal(storage_stage(st, NULL, 2, &e, 1, NULL), -STORAGE_EINVAL);
	assert_int_equal(storage_stage(st, NULL, 9, NULL, 0, NULL), -STORAGE_EINVAL);
	assert_int_equal(storage_last_index(st), 5);
	st_expect(st, 1, 5, 3, 1);
	storage_close(st);
}

static void truncating_a_suffix_within_a_segment(void **state)
{
	struct storage *st = st_open_mem(1 << 20);
	uint8_t buf[300];
	struct rc_entry e = st_entry(8, 5, 8, 9, buf);
	struct storage_durable d;
	(void)state;
	st_append(st, 1, 10, 2, 1);
	assert_int_equal(storage_stage(st, NULL, 8, &e, 1, NULL), 0);
	assert_int_equal(storage_last_index(st), 8);
	assert_int_equal(storage_sync(st, &d), 0);
	assert_int_equal(d.index, 8);
	assert_int_equal(d.term, 5);
	reopen(&st);
	assert_int_equal(storage_last_index(st), 8);
	st_expect(st, 1, 7, 2, 1);
	st_expect(st, 8, 8, 5, 9);
	storage_close(st);
}

static void truncating_across_segments_removes_their_files(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	st_append(st, 1, 300, 1, 1);
	assert_true(memfs_exists(seg_path(6)));
	assert_int_equal(storage_stage(st, NULL, 20, NULL, 0, NULL), 0);
	assert_int_equal(storage_sync(st, NULL), 0);
	assert_false(memfs_exists(seg_path(3)));
	st_append(st, 20, 40, 4, 2);
	reopen(&st);
	assert_int_equal(storage_last_index(st), 40);
	st_expect(st, 1, 19, 1, 1);
	st_expect(st, 20, 40, 4, 2);
	storage_close(st);
}

static void truncating_everything_then_appending(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	st_append(st, 1, 60, 1, 1);
	assert_int_equal(storage_stage(st, NULL, 1, NULL, 0, NULL), 0);
	assert_int_equal(storage_last_index(st), 0);
	st_append(st, 1, 3, 2, 2);
	reopen(&st);
	assert_int_equal(storage_last_index(st), 3);
	st_expect(st, 1, 3, 2, 2);
	storage_close(st);
}

static void truncation_of_unsynced_entries_leaves_nothing_stale(void **state)
{
	struct storage *st = st_open_mem(1 << 20);
	uint8_t buf[4][300];
	struct rc_entry a[2] = {st_entry(1, 1, 100, 1, buf[0]), st_entry(2, 1, 100, 1, buf[1])};
	struct rc_entry b[2] = {st_entry(1, 2, 100, 2, buf[2]), st_entry(2, 2, 100, 2, buf[3])};
	(void)state;
	assert_int_equal(storage_stage(st, NULL, 0, a, 2, NULL), 0);
	assert_int_equal(storage_stage(st, NULL, 1, b, 1, NULL), 0);
	assert_int_equal(storage_sync(st, NULL), 0);
	reopen(&st);
	assert_int_equal(storage_last_index(st), 1);
	assert_int_equal(storage_stage(st, NULL, 0, b + 1, 1, NULL), 0);
	assert_int_equal(storage_sync(st, NULL), 0);
	reopen(&st);
	assert_int_equal(storage_last_index(st), 2);
	storage_close(st);
}

static void compaction_removes_covered_segments(void **state)
{
	struct storage *st = st_open_mem(SEG);
	struct storage_snap_writer *w;
	struct storage_snapshot_meta m = {.index = 250, .term = 1, .size = 3};
	(void)state;
	st_append(st, 1, 300, 1, 1);
	assert_int_equal(storage_compact(st, 50), -STORAGE_EINVAL); /* no snapshot yet */
	assert_int_equal(storage_snap_begin(st, &w), 0);
	assert_int_equal(storage_snap_write(w, 0, "abc", 3), 0);
	assert_int_equal(storage_snap_commit(st, w, &m), 0);
	assert_int_equal(storage_last_index(st), 300);
	assert_int_equal(storage_compact(st, 200), 0);
	assert_int_equal(storage_first_index(st), 201);
	assert_int_equal(storage_sync(st, NULL), 0);
	assert_false(memfs_exists(seg_path(6))); /* 167..185 */
	assert_true(memfs_exists(seg_path(7)));  /* 186..202 */
	st_expect(st, 201, 300, 1, 1);
	{
		struct rc_entry *es;
		size_t n;
		assert_int_equal(storage_entries(st, 200, 201, &es, &n), -STORAGE_ENOTFOUND);
	}
	reopen(&st);
	assert_int_equal(storage_first_index(st), 251);
	assert_false(memfs_exists(seg_path(10))); /* 234..247 */
	assert_true(memfs_exists(seg_path(11)));  /* 248..260 */
	st_expect(st, 251, 300, 1, 1);
	storage_close(st);
}

static void stage_refuses_when_too_much_is_staged(void **state)
{
	struct storage_options o;
	struct storage *st;
	uint8_t buf[300];
	struct rc_entry e;
	(void)state;
	memfs_reset();
	st_options(&o, memfs_io(), SEG);
	o.max_staged_bytes = 1000;
	assert_int_equal(storage_open(ST_DIR, &o, &st, NULL), 0);
	for (rc_index i = 1; i <= 3; i++) {
		e = st_entry(i, 1, 290, 1, buf);
		assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), 0);
	}
	e = st_entry(4, 1, 290, 1, buf);
	assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), -STORAGE_EBUSY);
	assert_int_equal(storage_last_index(st), 3);
	assert_int_equal(storage_sync(st, NULL), 0);
	assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), 0);
	storage_close(st);
}

static void torn_tail_is_truncated_and_reported(void **state)
{
	struct storage *st = st_open_mem(1 << 20);
	uint8_t buf[300];
	struct rc_entry e = st_entry(11, 1, 200, 5, buf);
	(void)state;
	st_append(st, 1, 10, 1, 5);
	/* The process dies in the middle of writing entry 11. */
	assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), 0);
	memfs_die_after(1);
	assert_int_equal(storage_sync(st, NULL), -STORAGE_EIO);
	storage_close(st);
	memfs_power_cut(MEMFS_CUT_TORN, 1);
	{
		uint8_t *d;
		size_t len;
		/* make sure the tail really is torn: write garbage after entry 10 */
		assert_int_equal(memfs_read(seg_path(1), &d, &len), 0);
		free(d);
	}
	assert_int_equal(st_reopen(1 << 20, &st, NULL), 0);
	assert_int_equal(storage_last_index(st), 10);
	st_expect(st, 1, 10, 1, 5);
	st_append(st, 11, 12, 1, 6);
	storage_close(st);
}

/* Writes garbage just past the last record, as a torn write would. */
static void garbage_after(const char *path, size_t off)
{
	uint8_t junk[100];
	memset(junk, 0xA5, sizeof(junk));
	for (size_t i = 0; i < sizeof(junk); i++)
		memfs_flip(path, off + i, (int)(i % 8));
}

static void garbage_tail_is_reported_with_file_and_offset(void **state)
{
	struct storage *st = st_open_mem(1 << 20);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	st_append(st, 1, 3, 1, 1);
	storage_close(st);
	/* records: 64 + span(1) + span(2) + span(3) = 64 + 40 + 40 + 40 */
	garbage_after(seg_path(1), 184);
	assert_int_equal(st_reopen(1 << 20, &st, err), 0);
	assert_non_null(strstr(st_log_text(), "torn tail at offset 184"));
	assert_int_equal(storage_last_index(st), 3);
	storage_close(st);
}

static void bit_flip_in_a_closed_segment_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(SEG);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	st_append(st, 1, 100, 1, 1);
	storage_close(st);
	assert_int_equal(memfs_flip(seg_path(2), 300, 3), 0);
	assert_int_equal(st_reopen(SEG, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "wal-00000000000000000002.seg"));
	assert_non_null(strstr(err, "offset"));
}

static void bit_flip_in_synced_part_of_the_last_segment_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(1 << 20);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	st_append(st, 1, 10, 1, 1);
	st_append(st, 11, 20, 1, 1); /* staged after 1..10 were durable */
	storage_close(st);
	assert_int_equal(memfs_flip(seg_path(1), 64 + 40 + 5, 0), 0); /* entry 2 */
	assert_int_equal(st_reopen(1 << 20, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "offset 104"));
	assert_non_null(strstr(err, "had been synced"));
}

static void missing_middle_segment_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(SEG);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	st_append(st, 1, 100, 1, 1);
	storage_close(st);
	assert_int_equal(memfs_io()->unlink(seg_path(2)), 0);
	assert_int_equal(st_reopen(SEG, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "missing"));
}

static void bad_segment_header_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(SEG);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	st_append(st, 1, 10, 1, 1);
	storage_close(st);
	assert_int_equal(memfs_flip(seg_path(1), 3, 1), 0);
	assert_int_equal(st_reopen(SEG, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "header at offset 0"));
}

struct syncer {
	struct storage *st;
	int stop; /* atomic */
	int errors;
};

static void *sync_loop(void *arg)
{
	struct syncer *s = arg;
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
		if (storage_sync(s->st, NULL) != 0)
			s->errors++;
	return NULL;
}

static void sync_on_another_thread_while_staging(void **state)
{
	struct storage *st = st_open_mem(SEG);
	struct syncer s = {st, 0, 0};
	struct storage_durable d;
	pthread_t th;
	uint8_t buf[300];
	uint64_t ticket = 0;
	(void)state;
	assert_int_equal(pthread_create(&th, NULL, sync_loop, &s), 0);
	for (rc_index i = 1; i <= 2000; i++) {
		struct rc_entry e = st_entry(i, 1 + i / 500, (uint32_t)(i % 300), 4, buf);
		struct rc_hard_state hs = {1 + i / 500, 0};
		if (i % 97 == 0 && i > 10) {
			/* a conflict: rewrite the last 5 entries */
			assert_int_equal(storage_stage(st, &hs, i - 5, NULL, 0, NULL), 0);
			for (rc_index k = i - 5; k < i; k++) {
				struct rc_entry f =
				    st_entry(k, 1 + i / 500, (uint32_t)(k % 300), 4, buf);
				assert_int_equal(storage_stage(st, NULL, 0, &f, 1, NULL), 0);
			}
		}
		while (storage_stage(st, i % 500 == 0 ? &hs : NULL, 0, &e, 1, &ticket) ==
		       -STORAGE_EBUSY)
			;
	}
	do
		storage_durable(st, &d);
	while (d.ticket < ticket);
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_int_equal(s.errors, 0);
	assert_int_equal(d.index, 2000);
	reopen(&st);
	assert_int_equal(storage_last_index(st), 2000);
	assert_int_equal(storage_hard_state(st).term, 5);
	for (rc_index i = 1; i <= 2000; i += 123) {
		rc_term t;
		assert_int_equal(storage_term(st, i, &t), 0);
	}
	storage_close(st);
}

/* A sysio that stages a truncation from inside the syncer's first write,
 * as the owner thread may at any moment. */
static struct storage *hook_st;
static int hook_armed;
static ssize_t hook_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (hook_armed && hook_armed-- == 1)
		assert_int_equal(storage_stage(hook_st, NULL, 45, NULL, 0, NULL), 0);
	return memfs_io()->pwrite(fd, buf, n, off);
}

static void a_segment_truncated_away_during_a_sync_is_still_synced(void **state)
{
	struct sysio io = *memfs_io();
	struct storage_options o;
	struct storage *st;
	uint8_t buf[60][300];
	struct rc_entry es[60];
	struct storage_durable d;
	(void)state;
	io.pwrite = hook_pwrite;
	memfs_reset();
	st_options(&o, &io, SEG);
	assert_int_equal(storage_open(ST_DIR, &o, &st, NULL), 0);
	st_append(st, 1, 40, 1, 1); /* segment 1 */
	for (int i = 0; i < 60; i++)
		es[i] = st_entry(41 + (rc_index)i, 1, 200, 1, buf[i]);
	assert_int_equal(storage_stage(st, NULL, 0, es, 60, NULL), 0); /* rolls */
	hook_st = st;
	hook_armed = 1;
	assert_int_equal(storage_sync(st, &d), 0);
	assert_int_equal(d.index, 100);
	storage_close(st);
	/* power cut: everything reported durable must be there */
	memfs_power_cut(MEMFS_CUT_DROP, 1);
	assert_int_equal(st_reopen(SEG, &st, NULL), 0);
	assert_int_equal(storage_last_index(st), 100);
	storage_close(st);
}

static void error_strings_come_from_one_table(void **state)
{
	(void)state;
	assert_string_equal(storage_strerror(0), "ok");
	assert_non_null(strstr(storage_strerror(-STORAGE_EFSYNC), "fsync"));
	assert_string_equal(storage_strerror(-999), "unknown storage error");
	assert_true(storage_is_fatal(-STORAGE_EFSYNC));
	assert_true(storage_is_fatal(-STORAGE_EIO));
	assert_false(storage_is_fatal(-STORAGE_ENOSPC));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_dir_opens_with_empty_log),
	    cmocka_unit_test(staged_entries_are_readable_before_sync),
	    cmocka_unit_test(entries_survive_reopen_across_rolled_segments),
	    cmocka_unit_test(entry_larger_than_a_segment_fits_alone),
	    cmocka_unit_test(stage_rejects_gaps_and_term_regressions),
	    cmocka_unit_test(truncating_a_suffix_within_a_segment),
	    cmocka_unit_test(truncating_across_segments_removes_their_files),
	    cmocka_unit_test(truncating_everything_then_appending),
	    cmocka_unit_test(truncation_of_unsynced_entries_leaves_nothing_stale),
	    cmocka_unit_test(compaction_removes_covered_segments),
	    cmocka_unit_test(stage_refuses_when_too_much_is_staged),
	    cmocka_unit_test(torn_tail_is_truncated_and_reported),
	    cmocka_unit_test(garbage_tail_is_reported_with_file_and_offset),
	    cmocka_unit_test(bit_flip_in_a_closed_segment_stops_the_open),
	    cmocka_unit_test(bit_flip_in_synced_part_of_the_last_segment_stops_the_open),
	    cmocka_unit_test(missing_middle_segment_stops_the_open),
	    cmocka_unit_test(bad_segment_header_stops_the_open),
	    cmocka_unit_test(sync_on_another_thread_while_staging),
	    cmocka_unit_test(a_segment_truncated_away_during_a_sync_is_still_synced),
	    cmocka_unit_test(error_strings_come_from_one_table),
	};
	return cmocka_run_group_tests_name("storage_wal", tests, NULL, NULL);
}
