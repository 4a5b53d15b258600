/*
 * Unit tests of the hard state: durable through storage_stage and
 * storage_sync, written before the log, and readable after a torn write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "datadir.h"
#include "hardstate.h"
#include "st_memfs.h"
#include "st_util.h"
#include "storage.h"

#define HS_PATH ST_DIR "/hardstate"

static void stage_hs(struct storage *st, rc_term term, rc_id vote)
{
	struct rc_hard_state hs = {term, vote};
	assert_int_equal(storage_stage(st, &hs, 0, NULL, 0, NULL), 0);
	assert_int_equal(storage_sync(st, NULL), 0);
}

static void hard_state_survives_reopen(void **state)
{
	struct storage *st = st_open_mem(4096);
	(void)state;
	stage_hs(st, 3, 2);
	stage_hs(st, 4, 0);
	stage_hs(st, 4, 5);
	storage_close(st);
	assert_int_equal(st_reopen(4096, &st, NULL), 0);
	assert_int_equal(storage_hard_state(st).term, 4);
	assert_int_equal(storage_hard_state(st).vote, 5);
	storage_close(st);
}

static void staged_hard_state_is_visible_but_not_durable_before_sync(void **state)
{
	struct storage *st = st_open_mem(4096);
	struct rc_hard_state hs = {9, 1};
	(void)state;
	stage_hs(st, 8, 0);
	assert_int_equal(storage_stage(st, &hs, 0, NULL, 0, NULL), 0);
	assert_int_equal(storage_hard_state(st).term, 9);
	storage_close(st); /* dropped: never synced */
	assert_int_equal(st_reopen(4096, &st, NULL), 0);
	assert_int_equal(storage_hard_state(st).term, 8);
	storage_close(st);
}

static void a_torn_slot_leaves_the_previous_value(void **state)
{
	struct storage *st = st_open_mem(4096);
	(void)state;
	stage_hs(st, 5, 1); /* seq 2, slot 1 */
	stage_hs(st, 6, 2); /* seq 3, slot 0 */
	storage_close(st);
	/* a torn write of slot 0 (the newer one) */
	assert_int_equal(memfs_flip(HS_PATH, 20, 1), 0);
	assert_int_equal(st_reopen(4096, &st, NULL), 0);
	assert_int_equal(storage_hard_state(st).term, 5);
	assert_int_equal(storage_hard_state(st).vote, 1);
	/* the next write goes to slot 0 again, never over the good slot 1 */
	stage_hs(st, 7, 3);
	storage_close(st);
	assert_int_equal(memfs_flip(HS_PATH, 4096 + 20, 1), 0);
	assert_int_equal(st_reopen(4096, &st, NULL), 0);
	assert_int_equal(storage_hard_state(st).term, 7);
	storage_close(st);
}

static void both_slots_corrupt_stops_the_open(void **state)
{
	struct storage *st = st_open_mem(4096);
	char err[STORAGE_ERRMSG_SIZE];
	(void)state;
	stage_hs(st, 5, 1);
	storage_close(st);
	assert_int_equal(memfs_flip(HS_PATH, 20, 1), 0);
	assert_int_equal(memfs_flip(HS_PATH, 4096 + 20, 1), 0);
	assert_int_equal(st_reopen(4096, &st, err), -STORAGE_ECORRUPT);
	assert_non_null(strstr(err, "hardstate"));
}

static void hard_state_is_durable_before_entries_of_its_term(void **state)
{
	struct storage *st = st_open_mem(4096);
	struct rc_hard_state hs = {2, 0};
	uint8_t buf[300];
	struct rc_entry e = st_entry(1, 2, 10, 1, buf);
	(void)state;
	assert_int_equal(storage_stage(st, &hs, 0, &e, 1, NULL), 0);
	/* die at every step of the sync: the log never holds term 2 while
	 * the hard state still says term 0 */
	for (uint64_t n = 1;; n++) {
		struct storage *s2;
		memfs_reset();
		assert_int_equal(st_reopen(4096, &s2, NULL), 0);
		assert_int_equal(storage_stage(s2, &hs, 0, &e, 1, NULL), 0);
		memfs_die_after(n);
		int rv = storage_sync(s2, NULL);
		storage_close(s2);
		memfs_power_cut(MEMFS_CUT_REORDER, n);
		assert_int_equal(st_reopen(4096, &s2, NULL), 0);
		if (storage_last_index(s2) >= 1)
			assert_int_equal(storage_hard_state(s2).term, 2);
		storage_close(s2);
		if (rv == 0)
			break;
	}
	storage_close(st);
}

static void hardstate_module_creates_and_rewrites(void **state)
{
	struct datadir d;
	struct hardstate h;
	char err[STORAGE_ERRMSG_SIZE];
	struct rc_hard_state v = {11, 4};
	(void)state;
	memfs_reset();
	memset(&d, 0, sizeof(d));
	assert_int_equal(datadir_open(&d, memfs_io(), ST_DIR, err), 0);
	assert_int_equal(hardstate_open(&h, &d, err), 0);
	assert_int_equal(h.value.term, 0);
	assert_int_equal(hardstate_write(&h, &v, err), 0);
	assert_int_equal(h.slot, 1);
	hardstate_close(&h);
	assert_int_equal(hardstate_open(&h, &d, err), 0);
	assert_int_equal(h.value.term, 11);
	assert_int_equal(h.value.vote, 4);
	hardstate_close(&h);
	datadir_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hard_state_survives_reopen),
	    cmocka_unit_test(staged_hard_state_is_visible_but_not_durable_before_sync),
	    cmocka_unit_test(a_torn_slot_leaves_the_previous_value),
	    cmocka_unit_test(both_slots_corrupt_stops_the_open),
	    cmocka_unit_test(hard_state_is_durable_before_entries_of_its_term),
	    cmocka_unit_test(hardstate_module_creates_and_rewrites),
	};
	return cmocka_run_group_tests_name("storage_hardstate", tests, NULL, NULL);
}
