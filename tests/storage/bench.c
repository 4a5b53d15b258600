/*
 * bench: storage benchmark (make bench-storage). In one run, on the file
 * system holding DIR, it measures
 *   1. the raw disk: 4 KiB pwrite + fdatasync into a preallocated file;
 *   2. the log: durable appends of 100-byte entries, one stage + one
 *      storage_sync per batch, for batches of 1, 16, 128 and 1024; the
 *      1-entry case alternates with raw writes, op by op, so both see the
 *      same disk even when other work shares it;
 *   3. replay: opening a log of 1,000,000 entries (recovery: read, check
 *      and index every record), then also loading them all.
 * "stage" is the p50 time of storage_stage alone (the loop thread's cost;
 * the rest of each append is the syncer's write and fdatasync).
 * and prints rates and p50/p99 latencies next to the targets.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"

#define RUN_SECONDS 2.0
#define REPLAY_ENTRIES 1000000

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct lat {
	double *v;
	size_t n, cap;
};

static void lat_add(struct lat *l, double s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(double));
		if (l->v == NULL)
			abort();
	}
	l->v[l->n++] = s;
}

static double pct(struct lat *l, double p)
{
	size_t i;
	qsort(l->v, l->n, sizeof(double), cmp_double);
	i = (size_t)(p * (double)(l->n - 1));
	return l->v[i];
}

static void rmrf(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		exit(1);
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "bench: %s: %s\n", what, why);
	exit(1);
}

/* The raw file is written with zeros first, so the timed writes overwrite
 * allocated blocks (the cheapest case for the disk: no extent changes). */
static int raw_file(const char *path)
{
	static char zero[1 << 20];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	for (off_t off = 0; off < (off_t)(64 << 20); off += sizeof(zero))
		if (pwrite(fd, zero, sizeof(zero), off) != (ssize_t)sizeof(zero))
			return -1;
	if (fdatasync(fd) != 0)
		return -1;
	return fd;
}

static double raw(const char *dir, double *p50, double *p99)
{
	char path[4200];
	static char buf[4096] __attribute__((aligned(4096)));
	struct lat l = {0};
	double t0, t;
	off_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/raw", dir);
	fd = raw_file(path);
	if (fd < 0)
		die("raw file", path);
	memset(buf, 'x', sizeof(buf));
	t0 = now();
	while ((t = now()) - t0 < RUN_SECONDS) {
		if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf) || fdatasync(fd) != 0)
			die("raw write", path);
		lat_add(&l, now() - t);
		off = (off + 4096) % (64 << 20);
	}
	t = now() - t0;
	close(fd);
	unlink(path);
	*p50 = pct(&l, 0.5);
	*p99 = pct(&l, 0.99);
	free(l.v);
	return (double)l.n / t;
}

static struct storage *fresh(const char *dir)
{
	struct storage *st;
	char err[STORAGE_ERRMSG_SIZE];
	rmrf(dir);
	if (storage_open(dir, NULL, &st, err) != 0)
		die("open", err);
	return st;
}

static double appends(const char *dir, size_t batch, double *p50, double *p99, double *stage_us)
{
	struct storage *st = fresh(dir);
	struct rc_entry *es = calloc(batch, sizeof(*es));
	static uint8_t data[100];
	struct lat l = {0}, ls = {0};
	rc_index next = 1;
	double t0, t;

	memset(data, 'e', sizeof(data));
	t0 = now();
	while ((t = now()) - t0 < RUN_SECONDS) {
		for (size_t i = 0; i < batch; i++)
			es[i] =
			    (struct rc_entry){1, next + i, RC_ENTRY_COMMAND, sizeof(data), data};
		if (storage_stage(st, NULL, 0, es, batch, NULL) != 0)
			die("stage", storage_errmsg(st));
		lat_add(&ls, now() - t);
		if (storage_sync(st, NULL) != 0)
			die("sync", storage_sync_errmsg(st));
		lat_add(&l, now() - t);
		next += batch;
	}
	t = now() - t0;
	storage_close(st);
	free(es);
	*p50 = pct(&l, 0.5);
	*p99 = pct(&l, 0.99);
	*stage_us = pct(&ls, 0.5) * 1e6;
	free(l.v);
	free(ls.v);
	return (double)(next - 1) / t;
}

/* One raw 4 KiB write+fdatasync, then one 1-entry durable append, in
 * turn, for RUN_SECONDS. */
static void interleaved(const char *dir, const char *logdir, struct lat *lr, struct lat *ll)
{
	char path[4200];
	static char buf[4096];
	static uint8_t data[100];
	struct storage *st = fresh(logdir);
	double t0, t;
	rc_index next = 1;
	off_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/raw", dir);
	fd = raw_file(path);
	if (fd < 0)
		die("raw file", path);
	memset(buf, 'x', sizeof(buf));
	memset(data, 'e', sizeof(data));
	t0 = now();
	while ((t = now()) - t0 < RUN_SECONDS) {
		struct rc_entry e = {1, next++, RC_ENTRY_COMMAND, sizeof(data), data};
		if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf) || fdatasync(fd) != 0)
			die("raw write", path);
		lat_add(lr, now() - t);
		off = (off + 4096) % (64 << 20);
		t = now();
		if (storage_stage(st, NULL, 0, &e, 1, NULL) != 0 || storage_sync(st, NULL) != 0)
			die("append", storage_errmsg(st));
		lat_add(ll, now() - t);
	}
	close(fd);
	unlink(path);
	storage_close(st);
}

static void replay(const char *dir, double *open_s, double *load_s)
{
	struct storage *st = fresh(dir);
	struct rc_entry *es = calloc(4096, sizeof(*es)), *all;
	static uint8_t data[100];
	char err[STORAGE_ERRMSG_SIZE];
	size_t n;
	double t0;

	memset(data, 'r', sizeof(data));
	for (rc_index next = 1; next <= REPLAY_ENTRIES; next += 4096) {
		size_t k = REPLAY_ENTRIES - next + 1 < 4096 ? REPLAY_ENTRIES - next + 1 : 4096;
		for (size_t i = 0; i < k; i++)
			es[i] =
			    (struct rc_entry){1, next + i, RC_ENTRY_COMMAND, sizeof(data), data};
		if (storage_stage(st, NULL, 0, es, k, NULL) != 0 || storage_sync(st, NULL) != 0)
			die("fill", storage_errmsg(st));
	}
	storage_close(st);
	free(es);
	t0 = now();
	if (storage_open(dir, NULL, &st, err) != 0)
		die("reopen", err);
	*open_s = now() - t0;
	if (storage_last_index(st) != REPLAY_ENTRIES)
		die("replay", "entries missing");
	if (storage_entries(st, 1, REPLAY_ENTRIES, &all, &n) != 0)
		die("load", storage_errmsg(st));
	*load_s = now() - t0;
	free(all);
	storage_close(st);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "bench-data";
	char logdir[4200];
	struct statfs fs;
	double rate, p50, p99, raw_p50, raw_p99, open_s, load_s, stage_us;
	static const size_t batches[] = {1, 16, 128, 1024};

	mkdir(dir, 0755);
	if (statfs(dir, &fs) != 0)
		die("statfs", dir);
	printf("storage benchmark in %s (file system magic 0x%lx%s)\n", dir,
	       (unsigned long)fs.f_type,
	       fs.f_type == 0x01021994 ? ": tmpfs, fsync is free, figures are meaningless" : "");
	rate = raw(dir, &raw_p50, &raw_p99);
	printf("raw 4 KiB write+fdatasync: %8.0f ops/s   p50 %7.1f us  p99 %7.1f us\n", rate,
	       raw_p50 * 1e6, raw_p99 * 1e6);
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	{
		struct lat lr = {0}, ll = {0};
		interleaved(dir, logdir, &lr, &ll);
		double r50 = pct(&lr, 0.5), r99 = pct(&lr, 0.99);
		double l50 = pct(&ll, 0.5), l99 = pct(&ll, 0.99);
		printf("interleaved, op by op:  raw 4 KiB p50 %7.1f us p99 %7.1f us | "
		       "log 1 entry p50 %7.1f us p99 %7.1f us  => p50 %.2fx raw (target <= 1.3x)\n",
		       r50 * 1e6, r99 * 1e6, l50 * 1e6, l99 * 1e6, l50 / r50);
		free(lr.v);
		free(ll.v);
	}
	for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		rate = appends(logdir, batches[i], &p50, &p99, &stage_us);
		printf("log, %4zu x 100 B per fsync: %9.0f entries/s   p50 %7.1f us  p99 %7.1f us"
		       "  (stage %6.1f us)",
		       batches[i], rate, p50 * 1e6, p99 * 1e6, stage_us);
		if (batches[i] == 1)
			printf("   (p50 %.2fx raw; target <= 1.3x)", p50 / raw_p50);
		else
			printf("   (target >= 300000/s)");
		printf("\n");
	}
	replay(logdir, &open_s, &load_s);
	printf("replay 1,000,000 entries: open (recover + index) %.3f s, open + load all %.3f s "
	       "(target < 2 s)\n",
	       open_s, load_s);
	rmrf(logdir);
	return 0;
}
