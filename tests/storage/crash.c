/*
 * crash: crash-consistency search for storage. For each seed it generates
 * a long sequence of appends, truncations, hard-state changes, syncs,
 * snapshots (taken locally, or installed from a "leader", past or across
 * the log) and compactions, runs it once on the in-memory file system
 * (tests/unit/st_memfs) to count its file-system calls, then reruns it
 * with a power cut at many of those calls: everything not fsynced is lost,
 * or torn, or kept in any order (the mode rotates). After each cut it
 * reopens the storage and checks:
 *   - open succeeds (a crash is never reported as corruption);
 *   - the snapshot is the last one committed, or the one being committed;
 *   - the hard state and the log equal a state staged at or after the
 *     last acknowledged sync (nothing half-applied, nothing invented), the
 *     log holds every acknowledged entry no later staged truncation
 *     removed, and no log term exceeds the hard state's term;
 *   - the log still takes appends and keeps them across another reopen.
 *
 *   crash [--seeds N] [--first S] [--cuts K]   search N seeds from S
 *   crash --seed S [--cut C]                   replay one seed (one cut)
 * Everything is deterministic: a failure prints the line that replays it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/st_memfs.h"
#include "storage.h"

#define DIR "/data"
#define MAX_INDEX 4000
#define MAX_STATES 64
#define SEG 8192

static uint64_t rng;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}
static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* Entry and snapshot contents are functions of their identity. */
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

/* One staged state of everything. log[i] for base < i <= len. */
struct state {
	struct rc_hard_state hs;
	rc_index base; /* the snapshot index this log starts after */
	rc_index len;
	rc_term term[MAX_INDEX + 1];
	uint32_t size[MAX_INDEX + 1];
};

static struct state cur; /* the workload's view */
static struct state states[MAX_STATES];
static size_t nstates;      /* states[0] is the last acknowledged */
static rc_index acked;      /* log durable up to here (in states[0]) */
static rc_index snap_acked; /* committed snapshot */
static rc_term snap_acked_term;
static bool snap_pending; /* a commit had begun */
static rc_index snap_pend_index;
static rc_term snap_pend_term;
static bool snap_pend_drops; /* it conflicts with the log: drops it */

static uint64_t cur_seed, cur_cut;
static int cur_mode;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "crash: FAILED seed %" PRIu64 " cut %" PRIu64 " mode %d: ", cur_seed,
		cur_cut, cur_mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nreplay: crash --seed %" PRIu64 " --cut %" PRIu64 "\n", cur_seed,
		cur_cut);
	exit(1);
}

/* Copies the part of a state in use. */
static void copy_state(struct state *dst, const struct state *src)
{
	dst->hs = src->hs;
	dst->base = src->base;
	dst->len = src->len;
	memcpy(dst->term, src->term, (src->len + 1) * sizeof(src->term[0]));
	memcpy(dst->size, src->size, (src->len + 1) * sizeof(src->size[0]));
}

static void push_state(void)
{
	if (nstates == MAX_STATES) { /* keep the acked one and the newest */
		for (size_t i = 2; i < MAX_STATES; i++)
			copy_state(&states[i - 1], &states[i]);
		nstates--;
	}
	copy_state(&states[nstates++], &cur);
}

static void mark_acked(rc_index index)
{
	acked = index;
	copy_state(&states[0], &cur);
	nstates = 1;
}

static struct storage *open_st(char *err)
{
	struct storage_options o;
	struct storage *st = NULL;
	storage_options_default(&o);
	o.io = memfs_io();
	o.segment_bytes = SEG;
	o.log = NULL;
	o.log_arg = NULL;
	if (storage_open(DIR, &o, &st, err) != 0)
		return NULL;
	return st;
}

static void quiet(void *arg, enum storage_log_level l, const char *m)
{
	(void)arg;
	(void)l;
	(void)m;
}

static struct storage *open_quiet(char *err)
{
	struct storage_options o;
	struct storage *st = NULL;
	storage_options_default(&o);
	o.io = memfs_io();
	o.segment_bytes = SEG;
	o.log = quiet;
	if (storage_open(DIR, &o, &st, err) != 0)
		return NULL;
	return st;
}

/* ---- the workload: stops at the first error (the power is off) ---- */

static int do_stage(struct storage *st)
{
	struct rc_entry es[40];
	static uint8_t buf[40][700];
	struct rc_hard_state hs, *hsp = NULL;
	rc_index trunc = 0;
	size_t n = 1 + below(40);
	rc_term term = cur.hs.term ? cur.hs.term : 1;
	rc_index last = cur.len > cur.base ? cur.len : cur.base;

	if (below(4) == 0 || cur.hs.term == 0) {
		hs.term = cur.hs.term + 1 + below(2);
		hs.vote = below(5);
		hsp = &hs;
		term = hs.term;
	}
	/* Raft truncates only uncommitted entries, never under a snapshot */
	rc_index low = cur.base > snap_acked ? cur.base : snap_acked;
	if (last > low + 1 && below(5) == 0) {
		trunc = low + 1 + below(last - low);
		if (hsp == NULL) {
			hs.term = cur.hs.term + 1;
			hs.vote = 0;
			hsp = &hs;
			term = hs.term;
		}
		last = trunc - 1;
	}
	if (last + n > MAX_INDEX)
		n = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)(below(8) == 0 ? below(700) : below(120));
		fill(buf[i], len, last + 1 + i, term);
		es[i] = (struct rc_entry){term, last + 1 + i, RC_ENTRY_COMMAND, len, buf[i]};
	}
	int rv = storage_stage(st, hsp, trunc, es, n, NULL);
	if (rv != 0)
		return rv;
	if (hsp) {
		/* the hard state is durable first: a cut may fall in between */
		cur.hs = *hsp;
		push_state();
	}
	for (size_t i = 0; i < n; i++) {
		cur.term[last + 1 + i] = term;
		cur.size[last + 1 + i] = es[i].len;
	}
	cur.len = last + n;
	push_state();
	return 0;
}

static int do_sync(struct storage *st)
{
	struct storage_durable d;
	int rv = storage_sync(st, &d);
	if (rv != 0)
		return rv;
	if (d.index != (cur.len > cur.base ? cur.len : cur.base))
		die("sync reported %" PRIu64 ", staged up to %" PRIu64, d.index, cur.len);
	mark_acked(d.index);
	return 0;
}

static int commit_snapshot(struct storage *st, rc_index index, rc_term term, bool drops)
{
	struct storage_snap_writer *w;
	struct storage_snapshot_meta m;
	uint8_t data[5000];
	size_t size = (size_t)((index * 131) % sizeof(data));
	int rv;

	memset(&m, 0, sizeof(m));
	m.index = index;
	m.term = term;
	m.size = size;
	m.conf_len = 8;
	memcpy(m.conf, &index, 8);
	fill(data, size, index, term + 7);
	rv = storage_snap_begin(st, &w);
	if (rv != 0)
		return rv;
	for (size_t off = 0; off < size && rv == 0; off += 1024)
		rv = storage_snap_write(w, off, data + off, size - off < 1024 ? size - off : 1024);
	if (rv != 0) {
		storage_snap_abort(st, w);
		return rv;
	}
	snap_pending = true;
	snap_pend_index = index;
	snap_pend_term = term;
	snap_pend_drops = drops;
	rv = storage_snap_commit(st, w, &m);
	if (rv != 0)
		return rv;
	snap_pending = false;
	snap_acked = index;
	snap_acked_term = term;
	return 0;
}

static int do_snapshot(struct storage *st)
{
	int rv;
	if (acked <= snap_acked || acked <= states[0].base)
		return 0;
	/* a local snapshot at an applied (durable) index */
	rc_index idx = snap_acked + 1 + below(acked - snap_acked);
	if (idx <= cur.base || idx > cur.len || cur.term[idx] != states[0].term[idx])
		return 0;
	rv = commit_snapshot(st, idx, cur.term[idx], false);
	if (rv != 0)
		return rv;
	rc_index keep = below(20);
	return storage_compact(st, idx > keep ? idx - keep : 0);
}

static int do_install(struct storage *st)
{
	rc_index last = cur.len > cur.base ? cur.len : cur.base;
	rc_index idx;
	rc_term term = cur.hs.term + 1;
	struct rc_hard_state hs = {term, 0};
	int rv;
	if (below(2) == 0 && last > snap_acked + 1)
		idx = snap_acked + 1 + below(last - snap_acked); /* across the log */
	else
		idx = last + 1 + below(50); /* past it */
	if (idx + 50 > MAX_INDEX)
		return 0;
	/* the follower adopts the leader's term first */
	rv = storage_stage(st, &hs, 0, NULL, 0, NULL);
	if (rv != 0)
		return rv;
	cur.hs = hs;
	push_state();
	rv = do_sync(st);
	if (rv != 0)
		return rv;
	bool keeps = idx <= cur.len && idx > cur.base && cur.term[idx] == term;
	rv = commit_snapshot(st, idx, term, !keeps);
	if (rv != 0)
		return rv;
	/* the log now continues after the snapshot, unless it agreed there */
	if (!keeps) {
		cur.base = idx;
		cur.len = idx;
	}
	push_state();
	return 0;
}

static bool verbose;

static void run(struct storage *st, uint64_t seed)
{
	static const char *names[] = {"stage", "sync", "snapshot", "install"};
	rng = seed;
	for (int step = 0; step < 120; step++) {
		uint64_t r = below(100);
		int kind = r < 55 ? 0 : r < 85 ? 1 : r < 95 ? 2 : 3;
		int rv;
		if (kind == 0)
			rv = do_stage(st);
		else if (kind == 1)
			rv = do_sync(st);
		else if (kind == 2)
			rv = do_snapshot(st);
		else
			rv = do_install(st);
		if (verbose)
			fprintf(stderr,
				"step %d %s -> %d (ops %" PRIu64 "): hs %" PRIu64 " log %" PRIu64
				"..%" PRIu64 " acked %" PRIu64 " snap %" PRIu64 "\n",
				step, names[kind], rv, memfs_ops(), cur.hs.term, cur.base + 1,
				cur.len, acked, snap_acked);
		if (rv != 0) {
			if (!memfs_dead())
				die("step %d (%s) failed without a power cut: %d", step,
				    names[kind], rv);
			return;
		}
	}
}

static void reset_model(void)
{
	cur.hs = (struct rc_hard_state){0, 0};
	cur.base = cur.len = 0;
	cur.term[0] = 0;
	cur.size[0] = 0;
	nstates = 0;
	push_state();
	acked = 0;
	snap_acked = 0;
	snap_acked_term = 0;
	snap_pending = false;
}

/* ---- checks after the cut ---- */

static void check(struct storage *st)
{
	const struct storage_snapshot_meta *sm = storage_snapshot(st);
	struct rc_hard_state hs = storage_hard_state(st);
	rc_index si = sm->index, last = storage_last_index(st), first = storage_first_index(st);
	struct rc_entry *es = NULL;
	size_t n = 0;
	bool ok_snap = si == snap_acked ||
		       (snap_pending && si == snap_pend_index && sm->term == snap_pend_term);
	if (!ok_snap)
		die("snapshot at %" PRIu64 ", committed %" PRIu64 " (pending %" PRIu64 ")", si,
		    snap_acked, snap_pending ? snap_pend_index : 0);
	if (si > 0 || sm->size > 0) {
		uint8_t got[5000], want[5000];
		size_t nr;
		if (storage_snap_read(st, si, 0, got, sizeof(got), &nr) != 0 || nr != sm->size)
			die("snapshot %" PRIu64 " unreadable", si);
		fill(want, nr, si, sm->term + 7);
		if (memcmp(got, want, nr) != 0)
			die("snapshot %" PRIu64 " content differs", si);
	}
	if (first != si + 1)
		die("log starts at %" PRIu64 " after snapshot %" PRIu64, first, si);
	if (last > si && storage_entries(st, first, last, &es, &n) != 0)
		die("entries %" PRIu64 "..%" PRIu64 " unreadable: %s", first, last,
		    storage_errmsg(st));
	for (size_t i = 0; i < n; i++) {
		uint8_t want[700];
		if (es[i].len > sizeof(want))
			die("entry %" PRIu64 " too long", es[i].index);
		fill(want, es[i].len, es[i].index, es[i].term);
		if (memcmp(es[i].data, want, es[i].len) != 0)
			die("entry %" PRIu64 " content differs", es[i].index);
		if (es[i].term > hs.term)
			die("entry %" PRIu64 " has term %" PRIu64
			    " above the hard state's %" PRIu64,
			    es[i].index, es[i].term, hs.term);
	}
	/* The hard state equals one staged since the last ack, and the log one
	 * staged no later than it (a sync writes the newest hard state, then
	 * the log changes staged before it, in order). */
	size_t sh = nstates;
	for (size_t s = 0; s < nstates; s++)
		if (states[s].hs.term == hs.term && states[s].hs.vote == hs.vote)
			sh = s;
	if (sh == nstates)
		die("hard state %" PRIu64 "/%" PRIu64 " was never staged since the last ack",
		    hs.term, hs.vote);
	bool match = false;
	for (size_t s = 0; s <= sh && !match; s++) {
		const struct state *x = &states[s];
		if (last > si && (last > x->len || first <= x->base))
			continue;
		match = true;
		for (size_t i = 0; i < n && match; i++)
			match =
			    x->term[es[i].index] == es[i].term && x->size[es[i].index] == es[i].len;
	}
	if (!match)
		die("log %" PRIu64 "..%" PRIu64 " matches no state staged up to hard state %" PRIu64
		    "/%" PRIu64,
		    first, last, hs.term, hs.vote);
	/* every acknowledged entry that no later staged state dropped */
	rc_index need = acked;
	for (size_t s = 1; s < nstates; s++) {
		rc_index c = states[0].base;
		while (c < need && c < states[s].len && c >= states[s].base &&
		       states[s].term[c + 1] == states[0].term[c + 1])
			c++;
		if (states[s].base > states[0].base)
			c = states[s].base; /* an install dropped the log after it */
		if (c < need)
			need = c;
	}
	if (snap_pending && si == snap_pend_index && snap_pend_drops && need > si)
		need = si; /* the install being committed drops the log */
	if (need > si && last < need)
		die("acknowledged entries up to %" PRIu64 " lost: log ends at %" PRIu64, need,
		    last);
	free(es);
}

/* After recovery the log must keep working. */
static void check_usable(struct storage *st)
{
	struct rc_hard_state hs = storage_hard_state(st);
	rc_index last = storage_last_index(st);
	rc_term term = hs.term + 1;
	struct rc_hard_state nhs = {term, 0};
	struct rc_entry es[3];
	uint8_t buf[3][50];
	char err[STORAGE_ERRMSG_SIZE];
	for (int i = 0; i < 3; i++) {
		fill(buf[i], 50, last + 1 + (rc_index)i, term);
		es[i] =
		    (struct rc_entry){term, last + 1 + (rc_index)i, RC_ENTRY_COMMAND, 50, buf[i]};
	}
	if (storage_stage(st, &nhs, 0, es, 3, NULL) != 0 || storage_sync(st, NULL) != 0)
		die("appending after recovery: %s / %s", storage_errmsg(st),
		    storage_sync_errmsg(st));
	storage_close(st);
	st = open_quiet(err);
	if (st == NULL)
		die("second reopen: %s", err);
	if (storage_last_index(st) != last + 3)
		die("entries appended after recovery lost");
	storage_close(st);
}

static uint64_t one_cut(uint64_t seed, uint64_t cut, int mode)
{
	char err[STORAGE_ERRMSG_SIZE];
	struct storage *st;
	cur_seed = seed;
	cur_cut = cut;
	cur_mode = mode;
	memfs_reset();
	reset_model();
	st = open_st(err);
	if (st == NULL)
		die("first open: %s", err);
	if (cut)
		memfs_die_after(cut);
	run(st, seed);
	storage_close(st);
	if (cut == 0)
		return memfs_ops();
	memfs_power_cut((enum memfs_cut)mode, seed * 7919 + cut);
	st = open_quiet(err);
	if (st == NULL)
		die("reopen after the cut: %s", err);
	check(st);
	check_usable(st);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t seeds = 100, first = 1, cuts = 40, only_seed = 0, only_cut = 0;
	bool one = false;
	unsigned long long total = 0;
	verbose = getenv("CRASH_VERBOSE") != NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		uint64_t v = strtoull(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--seeds") == 0)
			seeds = v;
		else if (strcmp(argv[i], "--first") == 0)
			first = v;
		else if (strcmp(argv[i], "--cuts") == 0)
			cuts = v;
		else if (strcmp(argv[i], "--seed") == 0)
			one = true, only_seed = v;
		else if (strcmp(argv[i], "--cut") == 0)
			only_cut = v;
	}
	if (one) {
		first = only_seed;
		seeds = 1;
	}
	for (uint64_t seed = first; seed < first + seeds; seed++) {
		uint64_t ops = one_cut(seed, 0, 0);
		if (one && only_cut) {
			for (int mode = 0; mode < 3; mode++)
				one_cut(seed, only_cut, mode);
			total += 3;
			continue;
		}
		/* every call for short runs, else an even spread plus random */
		for (uint64_t k = 0; k < cuts && k < ops; k++) {
			uint64_t cut = ops <= cuts
					   ? k + 1
					   : (k % 2 ? 1 + (seed * 2654435761u + k * 40503u) % ops
						    : 1 + k * ops / cuts);
			one_cut(seed, cut, (int)((seed + k) % 3));
			total++;
		}
	}
	printf("crash: %llu power cuts over seeds %" PRIu64 "..%" PRIu64 ": all recovered\n", total,
	       first, first + seeds - 1);
	memfs_reset();
	return 0;
}
