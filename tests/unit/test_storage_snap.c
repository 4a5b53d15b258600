/*
 * Unit tests of snapshots: written whole, received in chunks, written by
 * the store through the file's path, read back in chunks, installed over a
 * log, and checked at open.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "st_memfs.h"
#include "st_util.h"
#include "storage.h"

#define SEG 4096

static void fill(uint8_t *p, size_t n, uint32_t salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + salt);
}

static struct storage_snapshot_meta meta(rc_index index, rc_term term, uint64_t size)
{
	struct storage_snapshot_meta m;
	memset(&m, 0, sizeof(m));
	m.index = index;
	m.term = term;
	m.size = size;
	m.conf_len = 5;
	memcpy(m.conf, "conf!", 5);
	return m;
}

static void take(struct storage *st, rc_index index, rc_term term, size_t size, uint32_t salt)
{
	struct storage_snap_writer *w;
	uint8_t *data = malloc(size + 1);
	struct storage_snapshot_meta m = meta(index, term, size);
	fill(data, size, salt);
	assert_int_equal(storage_snap_begin(st, &w), 0);
	for (size_t off = 0; off < size; off += 1000)
		assert_int_equal(
		    storage_snap_write(w, off, data + off, size - off < 1000 ? size - off : 1000),
		    0);
	assert_int_equal(storage_snap_commit(st, w, &m), 0);
	free(data);
}

static void expect_snapshot(struct storage *st, rc_index index, rc_term term, size_t size,
			    uint32_t salt)
{
	const struct storage_snapshot_meta *m = storage_snapshot(st);
	uint8_t *want = malloc(size + 1), *got = malloc(size + 1);
	size_t n = 0, off = 0;
	assert_int_equal(m->index, index);
	assert_int_equal(m->term, term);
	assert_int_equal(m->size, size);
	assert_int_equal(m->conf_len, 5);
	assert_memory_equal(m->conf, "conf!", 5);
	fill(want, size, salt);
	while (off < size) {
		assert_int_equal(storage_snap_read(st, index, off, got + off, 777, &n), 0);
		assert_true(n > 0);
		off += n;
	}
	assert_int_equal(storage_snap_read(st, index, size, got, 10, &n), 0);
	assert_int_equal(n, 0);
	assert_memory_equal(got, want, size);
	free(want);
	free(got);
}

static void reopen(struct storage **st)
{
	char err[STORAGE_ERRMSG_SIZE];
	storage_close(*st);
	if (st_reopen(SEG, st, err) != 0)
		fail_msg("reopen: %s", err);
}

static void snapshot_is_current_and_survives_reopen(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	st_append(st, 1, 50, 1, 1);
	take(st, 40, 1, 5000, 3);
	expect_snapshot(st, 40, 1, 5000, 3);
	assert_int_equal(storage_last_index(st), 50); /* the log agrees: kept */
	reopen(&st);
	expect_snapshot(st, 40, 1, 5000, 3);
	assert_int_equal(storage_first_index(st), 41);
	st_expect(st, 41, 50, 1, 1);
	storage_close(st);
}

static void an_empty_snapshot_at_index_zero_holds_the_first_membership(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	take(st, 0, 0, 0, 0);
	reopen(&st);
	expect_snapshot(st, 0, 0, 0, 0);
	st_append(st, 1, 3, 1, 1);
	storage_close(st);
}

static void newer_snapshot_replaces_older_files(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	st_append(st, 1, 50, 1, 1);
	take(st, 10, 1, 100, 1);
	take(st, 20, 1, 200, 2);
	assert_false(memfs_exists(ST_DIR "/snap-00000000000000000010.meta"));
	assert_false(memfs_exists(ST_DIR "/snap-00000000000000000010.data"));
	assert_true(memfs_exists(ST_DIR "/snap-00000000000000000020.data"));
	/* the old snapshot can no longer be read: the sender restarts */
	{
		uint8_t b[10];
		size_t n;
		assert_int_equal(storage_snap_read(st, 10, 0, b, 10, &n), -STORAGE_ENOTFOUND);
	}
	{
		struct storage_snap_writer *w;
		struct storage_snapshot_meta m = meta(15, 1, 0);
		assert_int_equal(storage_snap_begin(st, &w), 0);
		assert_int_equal(storage_snap_commit(st, w, &m), -STORAGE_EINVAL);
		/* the same index again keeps what is there */
		m = meta(20, 1, 0);
		assert_int_equal(storage_snap_begin(st, &w), 0);
		assert_int_equal(storage_snap_commit(st, w, &m), 0);
		expect_snapshot(st, 20, 1, 200, 2);
	}
	reopen(&st);
	expect_snapshot(st, 20, 1, 200, 2);
	storage_close(st);
}

static void chunks_must_arrive_in_order(void **state)
{
	struct storage *st = st_open_mem(SEG);
	struct storage_snap_writer *w;
	uint8_t data[3000];
	struct storage_snapshot_meta m = meta(100, 7, sizeof(data));
	(void)state;
	fill(data, sizeof(data), 9);
	assert_int_equal(storage_snap_begin(st, &w), 0);
	assert_int_equal(storage_snap_write(w, 0, data, 1000), 0);
	assert_int_equal(storage_snap_write(w, 2000, data + 2000, 1000), -STORAGE_EOFFSET);
	assert_int_equal(storage_snap_writer_size(w), 1000);
	assert_int_equal(storage_snap_write(w, 0, data, 1000), 0); /* repeated */
	assert_int_equal(storage_snap_write(w, 1000, data + 1000, 2000), 0);
	m.size = 2999;
	{
		/* a size that does not match is refused, and consumes w */
		struct storage_snap_writer *w2;
		assert_int_equal(storage_snap_begin(st, &w2), 0);
		assert_int_equal(storage_snap_write(w2, 0, data, 10), 0);
		assert_int_equal(storage_snap_commit(st, w2, &m), -STORAGE_EINVAL);
	}
	m.size = sizeof(data);
	assert_int_equal(storage_snap_commit(st, w, &m), 0);
	expect_snapshot(st, 100, 7, sizeof(data), 9);
	storage_close(st);
}

static void installing_a_snapshot_past_the_log_drops_the_log(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	st_append(st, 1, 200, 1, 1);
	take(st, 500, 3, 64, 1);
	assert_int_equal(storage_first_index(st), 501);
	assert_int_equal(storage_last_index(st), 500);
	{
		rc_term t;
		assert_int_equal(storage_term(st, 500, &t), 0);
		assert_int_equal(t, 3);
	}
	assert_int_equal(storage_sync(st, NULL), 0);
	assert_false(memfs_exists(ST_DIR "/wal-00000000000000000001.seg"));
	st_append(st, 501, 510, 3, 2);
	reopen(&st);
	assert_int_equal(storage_first_index(st), 501);
	st_expect(st, 501, 510, 3, 2);
	storage_close(st);
}

static void installing_a_snapshot_that_conflicts_drops_the_log(void **state)
{
	struct storage *st = st_open_mem(SEG);
	(void)state;
	st_append(st, 1, 200, 1, 1);
	take(st, 100, 2, 64, 1); /* the log has 100 at term 1: conflict */
	assert_int_equal(storage_last_index(st), 100);
	assert_int_equal(storage_first_index(st), 101);
	/* crash before the reset reaches the disk: open reconciles it */
	storage_close(st);
	assert_int_equal(st_reopen(SEG, &st, NULL), 0);
	assert_non_null(strstr(st_log_text(), "dropping the log"));
	assert_int_equal(storage_first_index(st), 101);
	assert_int_equal(storage_last_index(st), 100);
	storage_close(st);
}

static void the_store_may_write_the_file_by_path(void **state)
{
	struct storage *st = st_open_mem(SEG);
	struct storage_snap_writer *w;
	uint8_t data[5000];
	struct storage_snapshot_meta m = meta(7, 1, sizeof(data));
	char path[256];
	int fd;
	(void)state;
	fill(data, sizeof(data), 4);
	assert_int_equal(storage_snap_begin(st, &w), 0);
	fd = memfs_io()->open(storage_snap_writer_path(w), O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(sysio_write_all(memfs_io(), fd, data, sizeof(data), 0), 0);
	memfs_io()->close(fd);
	assert_int_equal(storage_snap_commit(st, w, &m), 0);
	assert_int_equal(storage_snap_path(st, path, sizeof(path)), 0);
	assert_string_equal(path, ST_DIR "/snap-00000000000000000007.data");
	reopen(&st);
	expect_snapshot(st, 7, 1, sizeof(data), 4);
	storage_close(st);
}

static void make_file(const char *path)
{
	int fd = memfs_io()->open(path, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(sysio_write_all(memfs_io(), fd, "junk", 4, 0), 0);
	memfs_io()->close(fd);
}

static void abort_and_leftovers_leave_no_temporary_files(void **state)
{
	struct storage *st = st_open_mem(SEG);
	struct storage_snap_writer *w;
	char tmp[256];
	(void)state;
	assert_int_equal(storage_snap_begin(st, &w), 0);
	snprintf(tmp, sizeof(tmp), "%s", storage_snap_writer_path(w));
	assert_true(memfs_exists(tmp));
	storage_snap_abort(st, w);
	assert_false(memfs_exists(tmp));
	take(st, 3, 1, 10, 1);
	storage_close(st);
	/* what a crash while receiving or committing leaves behind */
	make_file(ST_DIR "/snap-17.tmp");
	make_file(ST_DIR "/snap-00000000000000000009.meta.tmp");
	make_file(ST_DIR "/snap-00000000000000000009.data");
	assert_int_equal(st_reopen(SEG, &st, NULL), 0);
	assert_false(memfs_exists(ST_DIR "/snap-17.tmp"));
	assert_false(memfs_exists(ST_DIR "/snap-00000000000000000009.meta.tmp"));
	assert_false(memfs_exists(ST_DIR "/snap-00000000000000000009.data"));
	assert_non_null(strstr(st_log_text(), "removing stale snap-17.tmp"));
	expect_snapshot(st, 3, 1, 10, 1);
	storage_close(st);
}

static void bit_flip_in_snapshot_data_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(SEG);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	take(st, 30, 2, 4000, 1);
	storage_close(st);
	assert_int_equal(memfs_flip(ST_DIR "/snap-00000000000000000030.data", 1234, 5), 0);
	assert_int_equal(st_reopen(SEG, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "snap-00000000000000000030.data"));
}

static void bit_flip_in_snapshot_metadata_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(SEG);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	take(st, 30, 2, 4000, 1);
	storage_close(st);
	assert_int_equal(memfs_flip(ST_DIR "/snap-00000000000000000030.meta", 20, 0), 0);
	assert_int_equal(st_reopen(SEG, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "snap-00000000000000000030.meta"));
}

static void truncated_snapshot_data_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(SEG);
	char err[STORAGE_ERRMSG_SIZE];
	int fd;
	(void)state;
	take(st, 30, 2, 4000, 1);
	storage_close(st);
	fd = memfs_io()->open(ST_DIR "/snap-00000000000000000030.data", O_RDWR, 0);
	assert_int_equal(memfs_io()->ftruncate(fd, 3000), 0);
	memfs_io()->close(fd);
	assert_int_equal(st_reopen(SEG, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "3000 bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(snapshot_is_current_and_survives_reopen),
	    cmocka_unit_test(an_empty_snapshot_at_index_zero_holds_the_first_membership),
	    cmocka_unit_test(newer_snapshot_replaces_older_files),
	    cmocka_unit_test(chunks_must_arrive_in_order),
	    cmocka_unit_test(installing_a_snapshot_past_the_log_drops_the_log),
	    cmocka_unit_test(installing_a_snapshot_that_conflicts_drops_the_log),
	    cmocka_unit_test(the_store_may_write_the_file_by_path),
	    cmocka_unit_test(abort_and_leftovers_leave_no_temporary_files),
	    cmocka_unit_test(bit_flip_in_snapshot_data_stops_the_open),
	    cmocka_unit_test(bit_flip_in_snapshot_metadata_stops_the_open),
	    cmocka_unit_test(truncated_snapshot_data_stops_the_open),
	};
	return cmocka_run_group_tests_name("storage_snap", tests, NULL, NULL);
}
