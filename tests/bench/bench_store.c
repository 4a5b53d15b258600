/*
 * bench_store: applied PUTs per second through store_apply_batch, for
 * batches of 1, 64 and 1024 entries (the node applies one batch per loop
 * turn; 64 is a busy turn). Entries are encoded beforehand with cmd_encode,
 * so the figure covers decoding, SQLite and the result callback, as in the
 * node. Keys are drawn from 100,000 (new keys and overwrites mix), values
 * are 64 bytes.
 *
 *   bench_store [DIR]   stores are created in a fresh directory under DIR
 *                       (default $TMPDIR or /tmp) and removed afterwards.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define KEYSPACE 100000u
#define VALUE_LEN 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rv, const char *msg)
{
	fprintf(stderr, "bench_store: %s: %s: %s\n", what, store_strerror(rv), msg);
	exit(1);
}

static void count_result(void *arg, uint64_t index, uint64_t term, const struct cmd_result *res)
{
	(void)index;
	(void)term;
	if (res->status == API_OK)
		++*(uint64_t *)arg;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *de;
	char path[4096 + 256];
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Applies n PUTs in batches of batch into a fresh store; returns PUTs/s. */
static double run(const char *dir, size_t batch, size_t n)
{
	char path[4096 + 64];
	snprintf(path, sizeof(path), "%s/bench-%zu.db", dir, batch);
	struct store_entry *e = calloc(n, sizeof(*e));
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	char value[VALUE_LEN];
	memset(value, 'v', sizeof(value));
	for (size_t i = 0; i < n; i++) {
		char key[32];
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		snprintf(key, sizeof(key), "bench/%05u", (unsigned)(seed % KEYSPACE));
		struct cmd c = {.type = CMD_KV_PUT};
		c.u.put.key = (struct cmd_bytes){(const uint8_t *)key, (uint32_t)strlen(key)};
		c.u.put.value = (struct cmd_bytes){(const uint8_t *)value, VALUE_LEN};
		uint8_t *buf;
		size_t len;
		if (cmd_encode(&c, &buf, &len) != 0)
			die("cmd_encode", 0, "refused");
		e[i] = (struct store_entry){.index = i + 1,
					    .term = 1,
					    .type = STORE_ENTRY_COMMAND,
					    .data = buf,
					    .len = len};
	}
	char errmsg[STORE_ERRMSG_SIZE];
	struct store *st;
	int rv = store_open(path, NULL, &st, errmsg);
	if (rv != 0)
		die("store_open", rv, errmsg);
	uint64_t ok = 0;
	double t0 = now_s();
	for (size_t i = 0; i < n; i += batch) {
		size_t k = n - i < batch ? n - i : batch;
		rv = store_apply_batch(st, e + i, k, count_result, &ok);
		if (rv != 0)
			die("store_apply_batch", rv, store_errmsg(st));
	}
	double dt = now_s() - t0;
	if (ok != n)
		die("results", 0, "not every PUT answered ok");
	store_close(st);
	for (size_t i = 0; i < n; i++)
		free((void *)e[i].data);
	free(e);
	double rate = (double)n / dt;
	printf("batch %5zu: %7zu PUTs in %6.3f s = %8.0f PUTs/s\n", batch, n, dt, rate);
	fflush(stdout);
	return rate;
}

int main(int argc, char **argv)
{
	const char *base = argc > 1 ? argv[1] : getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/bench-store-XXXXXX", base != NULL ? base : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("bench_store: mkdtemp");
		return 1;
	}
	printf("bench_store: SQLite %s, WAL, synchronous=NORMAL, %d-byte values, keys from %u, "
	       "in %s\n",
	       sqlite3_libversion(), VALUE_LEN, KEYSPACE, dir);
	run(dir, 1, 20000);
	double r64 = run(dir, 64, 320000);
	run(dir, 1024, 1024000);
	remove_dir(dir);
	printf("target: > 50000 PUTs/s in batches of 64: %s\n", r64 > 50000 ? "met" : "MISSED");
	return 0;
}
