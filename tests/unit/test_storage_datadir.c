/*
 * Unit tests of the data directory, on the real file system: the flock
 * keeps a second opener out, and the FORMAT file guards the format.
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

#include "storage.h"
#include "sysio.h"

static char dir[256];

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");
	(void)state;
	snprintf(dir, sizeof(dir), "%s/cairn-datadir-XXXXXX", base ? base : "/tmp");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text)
{
	char path[400];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void a_second_open_is_refused_while_locked(void **state)
{
	struct storage *a, *b;
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	assert_int_equal(storage_open(dir, NULL, &a, err), 0);
	assert_int_equal(storage_open(dir, NULL, &b, err), -STORAGE_ELOCKED);
	assert_non_null(strstr(err, "LOCK"));
	storage_close(a);
	assert_int_equal(storage_open(dir, NULL, &b, err), 0);
	storage_close(b);
}

static void an_unknown_format_is_refused(void **state)
{
	struct storage *st;
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	assert_int_equal(storage_open(dir, NULL, &st, err), 0);
	storage_close(st);
	write_file("FORMAT", "cairn-storage 2\n");
	assert_int_equal(storage_open(dir, NULL, &st, err), -STORAGE_EVERSION);
	assert_non_null(strstr(err, "cairn-storage 2"));
}

static void storage_files_without_format_are_refused(void **state)
{
	struct storage *st;
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	write_file("wal-00000000000000000001.seg", "x");
	assert_int_equal(storage_open(dir, NULL, &st, err), -STORAGE_EVERSION);
	assert_non_null(strstr(err, "no FORMAT"));
}

static void a_missing_directory_is_created(void **state)
{
	struct storage *st;
	char sub[300], err[STORAGE_ERRMSG_SIZE];
	(void)state;
	snprintf(sub, sizeof(sub), "%s/node1", dir);
	assert_int_equal(storage_open(sub, NULL, &st, err), 0);
	storage_close(st);
	assert_int_equal(storage_open(sub, NULL, &st, err), 0);
	storage_close(st);
}

static void the_kernel_sysio_round_trips(void **state)
{
	const struct sysio *io = sysio_default();
	char path[300], buf[6];
	char **names;
	size_t n;
	int fd;
	(void)state;
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = io->open(path, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(sysio_write_all(io, fd, "hello", 5, 10), 0);
	assert_int_equal(io->fallocate(fd, 0, 4096), 0);
	assert_int_equal(sysio_read_all(io, fd, buf, 5, 10), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(io->fdatasync(fd), 0);
	assert_int_equal(sysio_fsync_dir(io, dir), 0);
	assert_int_equal(io->listdir(dir, &names, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "f");
	sysio_free_names(names, n);
	io->close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(a_second_open_is_refused_while_locked, setup, teardown),
	    cmocka_unit_test_setup_teardown(an_unknown_format_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(storage_files_without_format_are_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(a_missing_directory_is_created, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_kernel_sysio_round_trips, setup, teardown),
	};
	return cmocka_run_group_tests_name("storage_datadir", tests, NULL, NULL);
}
