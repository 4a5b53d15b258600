/*
 * killer: the process that kill9.sh kills. "killer run DIR" appends
 * entries forever on a real data directory (the main thread stages, a
 * syncer thread syncs, as the node will) and prints "durable N" after every
 * sync that made entry N durable; now and then it takes a snapshot and
 * compacts. "killer check DIR N" reopens DIR and fails unless entry N and
 * everything before it (after the snapshot) is there and intact. Entry i
 * has term 1 + i/1000 and contents derived from (i, term), so a restarted
 * run continues the same log.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

static void fill(uint8_t *p, size_t len, uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 1) * 0xD1B54A32D192ED03ull;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static rc_term term_of(rc_index i)
{
	return 1 + i / 1000;
}

static uint32_t len_of(rc_index i)
{
	return (uint32_t)((i * 7919) % 400);
}

static struct storage *open_dir(const char *dir)
{
	struct storage_options o;
	struct storage *st;
	char err[STORAGE_ERRMSG_SIZE];
	storage_options_default(&o);
	o.segment_bytes = 256 << 10;
	if (storage_open(dir, &o, &st, err) != 0) {
		fprintf(stderr, "killer: open %s: %s\n", dir, err);
		exit(2);
	}
	return st;
}

static int syncer_failed; /* atomic */

static void *syncer(void *arg)
{
	struct storage *st = arg;
	rc_index last = 0;
	for (;;) {
		struct storage_durable d;
		int rv = storage_sync(st, &d);
		if (rv != 0) {
			fprintf(stderr, "killer: sync: %s\n", storage_sync_errmsg(st));
			__atomic_store_n(&syncer_failed, 1, __ATOMIC_RELEASE);
			return NULL;
		}
		if (d.index != last) {
			printf("durable %" PRIu64 "\n", d.index);
			fflush(stdout);
			last = d.index;
		}
	}
}

static int run(const char *dir)
{
	struct storage *st = open_dir(dir);
	rc_index next = storage_last_index(st) + 1;
	uint64_t seed = next * 2654435761u;
	pthread_t th;

	if (pthread_create(&th, NULL, syncer, st) != 0)
		return 2;
	for (;;) {
		struct rc_entry es[64];
		static uint8_t buf[64][400];
		struct rc_hard_state hs = {term_of(next + 63), 0};
		size_t n = 1 + (seed = seed * 6364136223846793005ull + 1) % 64;
		int rv;
		if (__atomic_load_n(&syncer_failed, __ATOMIC_ACQUIRE))
			return 1;
		for (size_t i = 0; i < n; i++) {
			rc_index idx = next + i;
			fill(buf[i], len_of(idx), idx, term_of(idx));
			es[i] = (struct rc_entry){term_of(idx), idx, RC_ENTRY_COMMAND, len_of(idx),
						  buf[i]};
		}
		rv = storage_stage(st, &hs, 0, es, n, NULL);
		if (rv == -STORAGE_EBUSY)
			continue;
		if (rv != 0) {
			fprintf(stderr, "killer: stage: %s\n", storage_errmsg(st));
			return 1;
		}
		next += n;
		/* now and then: a snapshot of durable entries, then compaction */
		if ((seed >> 20) % 200 == 0) {
			struct storage_durable d;
			storage_durable(st, &d);
			if (d.index > storage_snapshot(st)->index + 10) {
				struct storage_snap_writer *w;
				struct storage_snapshot_meta m;
				uint8_t data[3000];
				memset(&m, 0, sizeof(m));
				m.index = d.index;
				m.term = term_of(d.index);
				m.size = sizeof(data);
				fill(data, sizeof(data), m.index, 99);
				if (storage_snap_begin(st, &w) != 0 ||
				    storage_snap_write(w, 0, data, sizeof(data)) != 0 ||
				    storage_snap_commit(st, w, &m) != 0 ||
				    storage_compact(st, m.index > 100 ? m.index - 100 : 0) != 0) {
					fprintf(stderr, "killer: snapshot: %s\n",
						storage_errmsg(st));
					return 1;
				}
			}
		}
	}
}

static int check(const char *dir, rc_index durable)
{
	struct storage *st = open_dir(dir);
	rc_index first = storage_first_index(st), last = storage_last_index(st);
	const struct storage_snapshot_meta *sm = storage_snapshot(st);
	struct rc_entry *es = NULL;
	size_t n = 0;
	int bad = 0;

	if (last < durable) {
		fprintf(stderr,
			"killer: entry %" PRIu64 " was reported durable, log ends at %" PRIu64 "\n",
			durable, last);
		bad = 1;
	}
	if (last >= first && storage_entries(st, first, last, &es, &n) != 0) {
		fprintf(stderr, "killer: read: %s\n", storage_errmsg(st));
		bad = 1;
	}
	for (size_t i = 0; i < n && !bad; i++) {
		uint8_t want[400];
		rc_index idx = es[i].index;
		fill(want, len_of(idx), idx, term_of(idx));
		if (es[i].term != term_of(idx) || es[i].len != len_of(idx) ||
		    memcmp(es[i].data, want, es[i].len) != 0) {
			fprintf(stderr, "killer: entry %" PRIu64 " is wrong\n", idx);
			bad = 1;
		}
	}
	if (!bad && sm->index > 0) {
		uint8_t got[3000], want[3000];
		size_t nr;
		fill(want, sizeof(want), sm->index, 99);
		if (storage_snap_read(st, sm->index, 0, got, sizeof(got), &nr) != 0 ||
		    nr != sizeof(got) || memcmp(got, want, nr) != 0) {
			fprintf(stderr, "killer: snapshot %" PRIu64 " is wrong\n", sm->index);
			bad = 1;
		}
	}
	if (!bad && last > 0 && storage_hard_state(st).term < term_of(last)) {
		fprintf(stderr, "killer: hard state term below the log's\n");
		bad = 1;
	}
	printf("killer: ok: log %" PRIu64 "..%" PRIu64 ", snapshot %" PRIu64 ", %" PRIu64
	       " reported durable\n",
	       first, last, sm->index, durable);
	free(es);
	storage_close(st);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "run") == 0)
		return run(argv[2]);
	if (argc == 4 && strcmp(argv[1], "check") == 0)
		return check(argv[2], strtoull(argv[3], NULL, 10));
	fprintf(stderr, "usage: killer run DIR | killer check DIR DURABLE\n");
	return 2;
}
