/*
 * I/O-error loops (SQLite style): for each kind of call and each error,
 * fail the Nth such call, for N = 1, 2, ... until the operation completes
 * without the fault firing. After every failure: a failed fsync (or any
 * I/O error) is fatal and every later call refuses; ENOSPC is not, nothing
 * durable changed, and the same storage finishes the job once space is
 * back; and reopening always finds every acknowledged entry and nothing
 * that was not staged.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "st_faultio.h"
#include "st_memfs.h"
#include "st_util.h"
#include "storage.h"

#define SEG 4096

struct fault {
	unsigned kinds;
	int err;
	bool short_write;
};

static const struct fault faults[] = {
    {FAULT_WRITE, EIO, false},     {FAULT_WRITE, ENOSPC, false},  {FAULT_WRITE, ENOSPC, true},
    {FAULT_WRITE, EIO, true},      {FAULT_FSYNC, EIO, false},     {FAULT_FSYNC, ENOSPC, false},
    {FAULT_RENAME, EIO, false},    {FAULT_RENAME, ENOSPC, false}, {FAULT_FALLOCATE, ENOSPC, false},
    {FAULT_FALLOCATE, EIO, false}, {FAULT_FTRUNCATE, EIO, false}, {FAULT_UNLINK, EIO, false},
    {FAULT_OPEN, ENOSPC, false},   {FAULT_OPEN, EIO, false},
};

static struct storage *open_faulty(void)
{
	struct storage_options o;
	struct storage *st;
	char err[STORAGE_ERRMSG_SIZE];
	st_options(&o, faultio_wrap(memfs_io()), SEG);
	if (storage_open(ST_DIR, &o, &st, err) != 0)
		fail_msg("open: %s", err);
	return st;
}

/* The model: entry i has term terms[i] (salt = term). Every staged state
 * of the log is kept: after a crash the log must be a prefix of one staged
 * at or after the last acknowledged sync, and hold what that sync made
 * durable unless a later staged truncation removed it. */
#define MAX_STATES 16
static rc_term terms[1000];
static rc_index nterms;
static rc_term states[MAX_STATES][1000];
static rc_index state_len[MAX_STATES];
static size_t nstates, acked_state;
static rc_index acked; /* every entry <= acked was reported durable */

static void model_reset(void)
{
	memset(terms, 0, sizeof(terms));
	nterms = 0;
	nstates = 0;
	acked_state = 0;
	acked = 0;
}

static void model_push(void)
{
	assert_true(nstates < MAX_STATES);
	memcpy(states[nstates], terms, sizeof(terms));
	state_len[nstates++] = nterms;
}

/* Older states no longer matter once a later one is acknowledged. */
static void model_acked(rc_index index)
{
	acked = index;
	memcpy(states[0], states[nstates - 1], sizeof(terms));
	state_len[0] = state_len[nstates - 1];
	nstates = 1;
	acked_state = 0;
}

static int stage_range(struct storage *st, rc_index from, rc_index to, rc_term term, rc_index trunc)
{
	uint8_t *buf = malloc((size_t)(to - from + 1) * 300);
	struct rc_entry *es = calloc((size_t)(to - from + 1), sizeof(*es));
	int rv;
	for (rc_index i = from; i <= to; i++)
		es[i - from] =
		    st_entry(i, term, (uint32_t)(i % 300), (uint32_t)term, buf + (i - from) * 300);
	rv = storage_stage(st, NULL, trunc, es, (size_t)(to - from + 1), NULL);
	if (rv == 0) {
		for (rc_index i = from; i <= to; i++)
			terms[i] = term;
		nterms = to;
		model_push();
	}
	free(es);
	free(buf);
	return rv;
}

/* Runs the workload; returns the first failure (0 when none). */
static int workload(struct storage *st, const struct fault *f)
{
	static const struct {
		rc_index from, to, trunc;
		rc_term term;
	} steps[] = {
	    {31, 80, 0, 1},   {81, 140, 0, 2}, {120, 130, 120, 3},
	    {131, 200, 0, 3}, {60, 70, 60, 4}, {71, 90, 0, 4},
	};
	struct storage_durable d;
	int rv;
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		rv = stage_range(st, steps[k].from, steps[k].to, steps[k].term, steps[k].trunc);
		assert_int_equal(rv, 0);
		rv = storage_sync(st, &d);
		if (rv == -STORAGE_ENOSPC) {
			/* nothing lost, nothing new durable; space comes back */
			assert_false(storage_is_fatal(rv));
			assert_int_equal(f->err, ENOSPC);
			faultio_disarm();
			rv = storage_sync(st, &d);
			assert_int_equal(rv, 0);
		}
		if (rv != 0)
			return rv;
		assert_int_equal(d.index, steps[k].to);
		model_acked(d.index);
	}
	return 0;
}

static void check_reopen(void)
{
	struct storage *st;
	char err[STORAGE_ERRMSG_SIZE];
	rc_index last;
	faultio_disarm();
	if (st_reopen(SEG, &st, err) != 0)
		fail_msg("reopen after fault: %s", err);
	last = storage_last_index(st);
	{
		rc_term got[1000];
		rc_index need = acked;
		bool match = false;
		for (rc_index i = 1; i <= last; i++) {
			assert_int_equal(storage_term(st, i, &got[i]), 0);
			st_expect(st, i, i, got[i], (uint32_t)got[i]);
		}
		for (size_t s = acked_state; s < nstates; s++) {
			rc_index common = 0;
			while (common < acked && common < state_len[s] &&
			       states[s][common + 1] == states[acked_state][common + 1])
				common++;
			if (common < need)
				need = common;
		}
		for (size_t s = acked_state; s < nstates; s++) {
			if (last > state_len[s])
				continue;
			match = true;
			for (rc_index i = 1; i <= last && match; i++)
				match = got[i] == states[s][i];
			if (match)
				break;
		}
		if (!match || last < need) {
			for (size_t s = acked_state; s < nstates; s++)
				fprintf(stderr, "state %zu: %llu entries\n", s,
					(unsigned long long)state_len[s]);
			for (rc_index i = 1; i <= last; i++)
				fprintf(stderr, "%llu:%llu ", (unsigned long long)i,
					(unsigned long long)got[i]);
			fail_msg("log of %llu entries matches no staged state (acked %llu, "
				 "need %llu)",
				 (unsigned long long)last, (unsigned long long)acked,
				 (unsigned long long)need);
		}
	}
	storage_close(st);
}

static void append_truncate_and_sync_survive_every_io_error(void **state)
{
	unsigned rounds = 0;
	(void)state;
	for (size_t fi = 0; fi < sizeof(faults) / sizeof(faults[0]); fi++) {
		const struct fault *f = &faults[fi];
		for (uint64_t n = 1;; n++) {
			struct storage *st;
			int rv;
			memfs_reset();
			model_reset();
			st = open_faulty();
			assert_int_equal(stage_range(st, 1, 30, 1, 0), 0);
			assert_int_equal(storage_sync(st, NULL), 0);
			model_acked(30);
			faultio_arm(f->kinds, n, f->err, f->short_write);
			rv = workload(st, f);
			if (rv != 0) {
				/* everything else was fatal: the node must stop */
				assert_true(storage_is_fatal(rv));
				assert_int_equal(storage_sync(st, NULL), -STORAGE_EFAILED);
				assert_int_equal(stage_range(st, 201, 201, 9, 0), -STORAGE_EFAILED);
			}
			storage_close(st);
			check_reopen();
			if (!faultio_fired())
				break;
			rounds++;
		}
	}
	print_message("%u fault rounds\n", rounds);
	assert_true(rounds > 100);
}

static void a_failed_fsync_is_never_retried(void **state)
{
	struct storage *st;
	(void)state;
	memfs_reset();
	st = open_faulty();
	assert_int_equal(stage_range(st, 1, 10, 1, 0), 0);
	faultio_arm(FAULT_FSYNC, 1, EIO, false);
	assert_int_equal(storage_sync(st, NULL), -STORAGE_EFSYNC);
	assert_non_null(strstr(storage_sync_errmsg(st), "fsync"));
	assert_int_equal(faultio_seen(), 1);
	assert_int_equal(storage_sync(st, NULL), -STORAGE_EFAILED);
	assert_int_equal(stage_range(st, 11, 11, 1, 0), -STORAGE_EFAILED);
	assert_int_equal(faultio_seen(), 1); /* no second fsync was tried */
	storage_close(st);
}

static void a_full_disk_fails_cleanly_and_recovers_when_space_is_freed(void **state)
{
	struct storage *st;
	struct storage_durable d;
	rc_index i;
	int rv = 0;
	(void)state;
	memfs_reset();
	st = st_open_mem(SEG);
	storage_close(st);
	memfs_set_quota(40000);
	assert_int_equal(st_reopen(SEG, &st, NULL), 0);
	model_reset();
	for (i = 1; i < 1000; i += 10) {
		assert_int_equal(stage_range(st, i, i + 9, 1, 0), 0);
		rv = storage_sync(st, &d);
		if (rv != 0)
			break;
		model_acked(d.index);
	}
	assert_int_equal(rv, -STORAGE_ENOSPC);
	assert_false(storage_is_fatal(rv));
	storage_durable(st, &d);
	assert_int_equal(d.index, acked);
	/* still serving reads, staged entries included */
	st_expect(st, 1, i + 9, 1, 1);
	assert_int_equal(storage_sync(st, &d), -STORAGE_ENOSPC);
	memfs_set_quota(0); /* space freed */
	assert_int_equal(storage_sync(st, &d), 0);
	assert_int_equal(d.index, i + 9);
	assert_int_equal(stage_range(st, i + 10, i + 20, 1, 0), 0);
	assert_int_equal(storage_sync(st, &d), 0);
	storage_close(st);
	assert_int_equal(st_reopen(SEG, &st, NULL), 0);
	assert_int_equal(storage_last_index(st), i + 20);
	st_expect(st, 1, i + 20, 1, 1);
	storage_close(st);
}

static void snapshot_commit_survives_every_io_error(void **state)
{
	(void)state;
	for (size_t fi = 0; fi < sizeof(faults) / sizeof(faults[0]); fi++) {
		const struct fault *f = &faults[fi];
		for (uint64_t n = 1;; n++) {
			struct storage *st;
			struct storage_snap_writer *w = NULL;
			struct storage_snapshot_meta m;
			char err[STORAGE_ERRMSG_SIZE];
			uint8_t data[3000];
			int rv;
			memfs_reset();
			model_reset();
			st = open_faulty();
			assert_int_equal(stage_range(st, 1, 100, 1, 0), 0);
			assert_int_equal(storage_sync(st, NULL), 0);
			memset(&m, 0, sizeof(m));
			m.index = 60;
			m.term = 1;
			m.size = sizeof(data);
			memset(data, 7, sizeof(data));
			faultio_arm(f->kinds, n, f->err, f->short_write);
			rv = storage_snap_begin(st, &w);
			if (rv == 0)
				rv = storage_snap_write(w, 0, data, sizeof(data));
			if (rv == 0)
				rv = storage_snap_commit(st, w, &m);
			else if (w != NULL)
				storage_snap_abort(st, w);
			if (rv == 0)
				rv = storage_compact(st, 50);
			if (rv == 0)
				rv = storage_sync(st, NULL);
			if (rv != 0 && !storage_is_fatal(rv))
				assert_int_equal(f->err, ENOSPC);
			storage_close(st);
			faultio_disarm();
			if (st_reopen(SEG, &st, err) != 0)
				fail_msg("reopen: %s", err);
			/* either no snapshot, or the whole new one */
			if (storage_snapshot(st)->index == 60) {
				assert_int_equal(storage_snapshot(st)->size, sizeof(data));
				assert_int_equal(storage_first_index(st), 61);
			} else {
				assert_int_equal(storage_snapshot(st)->index, 0);
				assert_true(rv != 0);
				assert_int_equal(storage_first_index(st), 1);
			}
			assert_int_equal(storage_last_index(st), 100);
			storage_close(st);
			if (!faultio_fired())
				break;
		}
	}
}

static void recovery_survives_every_io_error(void **state)
{
	(void)state;
	for (size_t fi = 0; fi < sizeof(faults) / sizeof(faults[0]); fi++) {
		const struct fault *f = &faults[fi];
		for (uint64_t n = 1;; n++) {
			struct storage *st;
			struct storage_options o;
			uint8_t buf[300];
			struct rc_entry e = st_entry(101, 1, 101, 1, buf);
			int rv;
			memfs_reset();
			model_reset();
			st = st_open_mem(SEG);
			assert_int_equal(stage_range(st, 1, 100, 1, 0), 0);
			assert_int_equal(storage_sync(st, NULL), 0);
			model_acked(100);
			/* leave a torn record and a half-created segment behind */
			assert_int_equal(storage_stage(st, NULL, 0, &e, 1, NULL), 0);
			terms[101] = 1;
			nterms = 101;
			model_push();
			memfs_die_after(2);
			assert_true(storage_is_fatal(storage_sync(st, NULL)));
			storage_close(st);
			memfs_power_cut(MEMFS_CUT_TORN, n);
			st_options(&o, faultio_wrap(memfs_io()), SEG);
			faultio_arm(f->kinds, n, f->err, f->short_write);
			rv = storage_open(ST_DIR, &o, &st, NULL);
			if (rv == 0)
				storage_close(st);
			check_reopen();
			if (!faultio_fired())
				break;
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(append_truncate_and_sync_survive_every_io_error),
	    cmocka_unit_test(a_failed_fsync_is_never_retried),
	    cmocka_unit_test(a_full_disk_fails_cleanly_and_recovers_when_space_is_freed),
	    cmocka_unit_test(snapshot_commit_survives_every_io_error),
	    cmocka_unit_test(recovery_survives_every_io_error),
	};
	return cmocka_run_group_tests_name("storage_faults", tests, NULL, NULL);
}
