/*
 * Unit tests of the fault harness' history (tests/jepsen/history.c) and of
 * the checkers on hand-made histories: the set checker (tests/jepsen/
 * wl_set.c) and the register checker's stale-read test (wl_register.c).
 * Histories are written here as text, exactly as jepsen-client writes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "history.h"
#include "workload.h"

/* Parses text; returns hist_parse's result, the error in err. */
static int parse_text(const char *text, struct history *h, char *err, size_t cap)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	assert_non_null(f);
	err[0] = '\0';
	int rc = hist_parse(f, h, err, cap);
	fclose(f);
	return rc;
}

static void parse_ok(const char *text, struct history *h)
{
	char err[512];
	int rc = parse_text(text, h, err, sizeof err);
	if (rc != 0)
		fail_msg("unexpected parse error: %s", err);
}

/* ---- the writer and the parser ---- */

static void writer_output_parses_back_to_the_same_ops(void **state)
{
	(void)state;
	char path[] = "/tmp/test_jepsen_history.XXXXXX", err[256];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct hist_writer *w = hist_open(path, err, sizeof err);
	assert_non_null(w);
	hist_comment(w, "a comment\nwith a newline");
	struct hist_event evs[] = {
	    {1, HIST_INVOKE, "read", "p/r/0", HIST_NONE, HIST_NONE, 0, NULL},
	    {1, HIST_OK, "read", "p/r/0", HIST_NIL, HIST_NONE, 0, "404 not_found"},
	    {2, HIST_INVOKE, "cas", "p/r/0", HIST_NIL, 7, 2, NULL},
	    {2, HIST_INFO, "cas", "p/r/0", HIST_NIL, 7, 2, "a\ttab and\nnewline"},
	    {3, HIST_INVOKE, "final-read", "p/s/", HIST_NONE, HIST_NONE, 1, ""},
	    {3, HIST_ELEM, "final-read", "p/s/", -5, HIST_NONE, 1, NULL},
	    {3, HIST_ELEM, "final-read", "p/s/", HIST_NONE, HIST_NONE, 1, "p/s/x y"},
	    {3, HIST_OK, "final-read", "p/s/", 2, HIST_NONE, 1, "200"},
	};
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		hist_write(w, &evs[i], 1);
	assert_int_equal(hist_close(w, err, sizeof err), 0);

	struct history h;
	assert_int_equal(hist_load(path, &h, err, sizeof err), 0);
	unlink(path);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.ops[0].type, HIST_OK);
	assert_string_equal(h.ops[0].f, "read");
	assert_string_equal(h.ops[0].key, "p/r/0");
	assert_true(h.ops[0].a == HIST_NIL && h.ops[0].in_a == HIST_NONE);
	assert_string_equal(h.ops[0].note, "404 not_found");
	assert_true(h.ops[0].call_us <= h.ops[0].return_us);
	assert_int_equal(h.ops[1].type, HIST_INFO);
	assert_true(h.ops[1].return_us == HIST_NEVER);
	assert_true(h.ops[1].in_a == HIST_NIL && h.ops[1].in_b == 7);
	assert_int_equal(h.ops[1].node, 2);
	assert_string_equal(h.ops[1].note, "a tab and newline");
	assert_int_equal(h.ops[2].n_elems, 2);
	assert_true(h.ops[2].elems[0].v == -5 && h.ops[2].elems[0].name == NULL);
	assert_true(h.ops[2].elems[1].v == HIST_NONE);
	assert_string_equal(h.ops[2].elems[1].name, "p/s/x y");
	assert_true(h.ops[1].call_us >= h.ops[0].return_us); /* times never go down */
	hist_free(&h);
}

struct bad_case {
	const char *text;
	const char *error; /* what the message must contain */
};

static void malformed_lines_are_refused_naming_the_line(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
	    {"# c\n1\t1\tinvoke\tread\tk\t-\t-\t0\n", "line 2: 8 fields"},
	    {"1\t1\tinvoke\tread\tk\t-\t-\t0\t-\textra\n", "line 1: more than 9"},
	    {"1\t1\tinvoke\tread\tk\t-\t-\t0\t-\nx\t1\tok\tread\tk\t1\t-\t0\t-\n",
	     "line 2: bad time"},
	    {"\n1\t1\tstart\tread\tk\t-\t-\t0\t-\n", "line 2: bad type"},
	    {"1\t1\tinvoke\tRead\tk\t-\t-\t0\t-\n", "line 1: bad operation"},
	    {"1\t1\tinvoke\twrite\tk\t1x\t-\t0\t-\n", "line 1: bad value a"},
	    {"1\t1\tinvoke\twrite\tk\t-9223372036854775808\t-\t0\t-\n", "line 1: bad value a"},
	    {"1\t1\tinvoke\twrite\tk\t1\t-\t256\t-\n", "line 1: bad node"},
	    {"1\t1\tinvoke\twrite\tk\t1\t\t0\t-\n", "line 1: field 7 is empty"},
	    {"1\t1\tok\twrite\tk\t1\t-\t0\t-\n", "line 1: ok for process 1, which has no open op"},
	    {"1\t1\tinvoke\twrite\tk\t1\t-\t0\t-\n2\t1\tinvoke\tread\tk\t-\t-\t0\t-\n",
	     "line 2: process 1 invoked while its op from line 1 is open"},
	    {"1\t1\tinvoke\twrite\tk\t1\t-\t0\t-\n2\t1\tok\tread\tk\t1\t-\t0\t-\n",
	     "line 2: ok does not match the invoke on line 1"},
	    {"5\t1\tinvoke\twrite\tk\t1\t-\t0\t-\n4\t1\tok\twrite\tk\t1\t-\t0\t-\n",
	     "line 2: time 4 is before"},
	    {"1\t1\tinvoke\twrite\tk\t1\t-\t0\t-\n2\t1\tinfo\twrite\tk\t1\t-\t0\t-\n"
	     "3\t1\tinvoke\twrite\tk\t2\t-\t0\t-\n",
	     "line 3: process 1 reused after its info completion on line 2"},
	    {"1\t1\tinvoke\tfinal-read\tk\t-\t-\t0\t-\n2\t1\telem\tfinal-read\tk\t4\t-\t0\t-\n"
	     "3\t1\tok\tfinal-read\tk\t2\t-\t0\t-\n",
	     "line 3: a=2 but 1 elem lines"},
	    {"1\t1\tinvoke\twrite\tk\t1\t-\t0\t-", "line 1: no newline"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct history h;
		char err[512];
		assert_int_equal(parse_text(cases[i].text, &h, err, sizeof err), -1);
		if (strstr(err, cases[i].error) == NULL)
			fail_msg("case %zu: error '%s' lacks '%s'", i, err, cases[i].error);
		assert_int_equal(h.n, 0);
	}
}

static void overlong_line_is_refused(void **state)
{
	(void)state;
	size_t n = HIST_MAX_LINE + 100;
	char *text = malloc(n + 64);
	assert_non_null(text);
	int hl = snprintf(text, 64, "1\t1\tinvoke\tread\tk\t-\t-\t0\t");
	memset(text + hl, 'x', n);
	strcpy(text + hl + n, "\n");
	struct history h;
	char err[512];
	assert_int_equal(parse_text(text, &h, err, sizeof err), -1);
	assert_non_null(strstr(err, "line 1: longer than"));
	free(text);
}

static void invokes_pair_with_completions_of_the_same_process(void **state)
{
	(void)state;
	struct history h;
	parse_ok("10\t1\tinvoke\twrite\tk\t5\t-\t0\t-\n"
		 "11\t2\tinvoke\tread\tk\t-\t-\t1\t-\n"
		 "12\t3\tinvoke\tcas\tk\t5\t6\t2\t-\n"
		 "20\t2\tok\tread\tk\tnil\t-\t1\t404\n"
		 "25\t3\tfail\tcas\tk\t5\t6\t2\t503 no_leader\n"
		 "30\t1\tok\twrite\tk\t5\t-\t0\t200\n"
		 "31\t2\tinvoke\tread\tk\t-\t-\t1\t-\n"
		 "40\t2\tok\tread\tk\t5\t-\t1\t200\n",
		 &h);
	assert_int_equal(h.n, 4);
	assert_int_equal(h.first_us, 10);
	/* In invoke order, each with its own completion. */
	assert_true(h.ops[0].process == 1 && h.ops[0].call_us == 10 && h.ops[0].return_us == 30);
	assert_true(h.ops[1].process == 2 && h.ops[1].a == HIST_NIL && h.ops[1].return_us == 20);
	assert_true(h.ops[2].process == 3 && h.ops[2].type == HIST_FAIL);
	assert_string_equal(h.ops[2].note, "503 no_leader");
	assert_true(h.ops[3].process == 2 && h.ops[3].a == 5 && h.ops[3].line == 7);
	assert_int_equal(h.ops[3].ret_line, 8);
	hist_free(&h);
}

static void info_op_never_returns_and_missing_completion_is_info(void **state)
{
	(void)state;
	struct history h;
	parse_ok("1\t1\tinvoke\twrite\tk\t5\t-\t0\t-\n"
		 "2\t1\tinfo\twrite\tk\t5\t-\t0\ttimeout (client, 3000 ms)\n"
		 "3\t7\tinvoke\twrite\tk\t6\t-\t0\t-\n"
		 "4\t8\tinvoke\tread\tk\t-\t-\t1\t-\n",
		 &h);
	assert_int_equal(h.n, 3);
	assert_true(h.ops[0].type == HIST_INFO && h.ops[0].completed);
	assert_true(h.ops[0].return_us == HIST_NEVER);
	assert_true(h.ops[1].type == HIST_INFO && !h.ops[1].completed);
	assert_true(h.ops[1].return_us == HIST_NEVER && h.ops[1].a == 6);
	assert_true(h.ops[2].type == HIST_INFO && !h.ops[2].completed);
	hist_free(&h);
}

/* ---- the checkers ---- */

/* Runs workload name's checker on text; the report is kept in *report
 * (caller frees). */
static enum check_verdict check_text(const char *name, const char *text, struct check_stats *st,
				     char **report)
{
	struct history h;
	size_t len;
	struct check_opts o = {10000, 60000};
	parse_ok(text, &h);
	FILE *out = open_memstream(report, &len);
	assert_non_null(out);
	memset(st, 0, sizeof *st);
	enum check_verdict v = wl_find(name)->check(&h, &o, out, st);
	fclose(out);
	hist_free(&h);
	return v;
}

/* Three adds (1 ok, 2 info, 3 failed) and final reads from two nodes. */
#define SET_ADDS                                                  \
	"10\t0\tinvoke\tadd\tp/s/1\t1\t-\t0\t-\n"                 \
	"20\t0\tok\tadd\tp/s/1\t1\t-\t0\t200\n"                   \
	"21\t1\tinvoke\tadd\tp/s/2\t2\t-\t1\t-\n"                 \
	"22\t2\tinvoke\tadd\tp/s/3\t3\t-\t0\t-\n"                 \
	"30\t1\tinfo\tadd\tp/s/2\t2\t-\t1\t503 unknown_outcome\n" \
	"31\t2\tfail\tadd\tp/s/3\t3\t-\t0\t503 no_leader\n"       \
	"100\t10\tinvoke\tfinal-read\tp/s/\t-\t-\t0\t-\n"
#define SET_READ2                                         \
	"200\t11\tinvoke\tfinal-read\tp/s/\t-\t-\t1\t-\n" \
	"201\t11\telem\tfinal-read\tp/s/\t1\t-\t1\t-\n"   \
	"201\t11\tok\tfinal-read\tp/s/\t1\t-\t1\t200\n"

static void set_check_valid_history(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	enum check_verdict v =
	    check_text("set",
		       SET_ADDS "110\t10\telem\tfinal-read\tp/s/\t1\t-\t0\t-\n"
				"110\t10\tok\tfinal-read\tp/s/\t1\t-\t0\t200\n" SET_READ2,
		       &st, &report);
	assert_int_equal(v, CHECK_VALID);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.final_reads, 2);
	assert_int_equal(st.info_missing, 1);
	assert_int_equal(st.ops, 5);
	assert_int_equal(st.ok, 3);
	assert_int_equal(st.fail, 1);
	assert_int_equal(st.info, 1);
	assert_non_null(strstr(report, "final reads agree"));
	free(report);
}

static void set_check_finds_a_lost_write(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	/* Node 0's final read lacks the ok add 1. */
	enum check_verdict v =
	    check_text("set",
		       SET_ADDS "110\t10\telem\tfinal-read\tp/s/\t2\t-\t0\t-\n"
				"110\t10\tok\tfinal-read\tp/s/\t1\t-\t0\t200\n" SET_READ2,
		       &st, &report);
	assert_int_equal(v, CHECK_INVALID);
	assert_int_equal(st.lost, 2); /* 1 never there; 2, shown on node 0, gone on node 1 */
	assert_int_equal(st.info_found, 1);
	assert_non_null(strstr(report, "lost: 1 is missing from the final read of node 0"));
	free(report);
}

static void set_check_finds_unexpected_and_failed_elements(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	enum check_verdict v =
	    check_text("set",
		       SET_ADDS "110\t10\telem\tfinal-read\tp/s/\t1\t-\t0\t-\n"
				"110\t10\telem\tfinal-read\tp/s/\t3\t-\t0\t-\n"
				"110\t10\telem\tfinal-read\tp/s/\t9\t-\t0\t-\n"
				"110\t10\telem\tfinal-read\tp/s/\t-\t-\t0\tp/s/zz\n"
				"110\t10\tok\tfinal-read\tp/s/\t4\t-\t0\t200\n",
		       &st, &report);
	assert_int_equal(v, CHECK_INVALID);
	assert_int_equal(st.unexpected_elems, 2); /* 9 and p/s/zz */
	assert_int_equal(st.failed_present, 1);   /* 3 */
	assert_int_equal(st.lost, 0);
	assert_non_null(strstr(report, "unexpected element p/s/zz"));
	free(report);
}

static void set_check_without_final_read_is_unknown(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	enum check_verdict v =
	    check_text("set", SET_ADDS "110\t10\tfail\tfinal-read\tp/s/\t-\t-\t0\t503 no_leader\n",
		       &st, &report);
	assert_int_equal(v, CHECK_UNKNOWN);
	free(report);
}

static void register_check_accepts_a_linearizable_history(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	/* The read overlaps write 2, so 1 is a fine answer; the cas found 2. */
	enum check_verdict v = check_text("register",
					  "0\t0\tinvoke\twrite\tp/r/0\t1\t-\t0\t-\n"
					  "10\t0\tok\twrite\tp/r/0\t1\t-\t0\t200\n"
					  "20\t1\tinvoke\twrite\tp/r/0\t2\t-\t1\t-\n"
					  "25\t2\tinvoke\tread\tp/r/0\t-\t-\t2\t-\n"
					  "30\t1\tok\twrite\tp/r/0\t2\t-\t1\t200\n"
					  "35\t2\tok\tread\tp/r/0\t1\t-\t2\t200\n"
					  "40\t0\tinvoke\tcas\tp/r/0\t2\t3\t0\t-\n"
					  "50\t0\tok\tcas\tp/r/0\t2\t3\t0\tswapped\n"
					  "60\t2\tinvoke\tfinal-read\tp/r/0\t-\t-\t2\t-\n"
					  "70\t2\tok\tfinal-read\tp/r/0\t3\t-\t2\t200\n",
					  &st, &report);
	assert_int_equal(v, CHECK_VALID);
	assert_int_equal(st.stale_reads, 0);
	assert_int_equal(st.keys, 1);
	free(report);
}

static void register_check_finds_a_stale_read(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	/* 1 was written, then replaced by 2 (both done), then node 2 read 1. */
	enum check_verdict v = check_text("register",
					  "0\t0\tinvoke\twrite\tp/r/0\t1\t-\t0\t-\n"
					  "10\t0\tok\twrite\tp/r/0\t1\t-\t0\t200\n"
					  "20\t1\tinvoke\twrite\tp/r/0\t2\t-\t1\t-\n"
					  "30\t1\tok\twrite\tp/r/0\t2\t-\t1\t200\n"
					  "40\t2\tinvoke\tread\tp/r/0\t-\t-\t2\t-\n"
					  "50\t2\tok\tread\tp/r/0\t1\t-\t2\t200\n",
					  &st, &report);
	assert_int_equal(v, CHECK_INVALID);
	assert_int_equal(st.stale_reads, 1);
	assert_int_equal(st.keys_invalid, 1);
	assert_non_null(strstr(report, "stale read on p/r/0: node 2 returned 1"));
	free(report);
}

static void register_check_finds_a_stale_nil_read(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	enum check_verdict v = check_text("register",
					  "0\t0\tinvoke\tcas\tp/r/0\tnil\t1\t0\t-\n"
					  "10\t0\tok\tcas\tp/r/0\tnil\t1\t0\tswapped\n"
					  "20\t2\tinvoke\tread\tp/r/0\t-\t-\t1\t-\n"
					  "30\t2\tok\tread\tp/r/0\tnil\t-\t1\t404 not_found\n",
					  &st, &report);
	assert_int_equal(v, CHECK_INVALID);
	assert_int_equal(st.stale_reads, 1);
	free(report);
}

static void register_stale_test_ignores_unknown_and_unchanged_writes(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	/* Only an info write and a cas that did not swap came after 1: reading
	 * 1 later is not provably stale, and it is linearizable. */
	enum check_verdict v = check_text("register",
					  "0\t0\tinvoke\twrite\tp/r/0\t1\t-\t0\t-\n"
					  "10\t0\tok\twrite\tp/r/0\t1\t-\t0\t200\n"
					  "20\t1\tinvoke\twrite\tp/r/0\t2\t-\t1\t-\n"
					  "30\t1\tinfo\twrite\tp/r/0\t2\t-\t1\t504 timeout\n"
					  "40\t0\tinvoke\tcas\tp/r/0\t7\t3\t0\t-\n"
					  "50\t0\tok\tcas\tp/r/0\t7\t3\t0\tunchanged\n"
					  "60\t2\tinvoke\tread\tp/r/0\t-\t-\t2\t-\n"
					  "70\t2\tok\tread\tp/r/0\t1\t-\t2\t200\n"
					  "80\t2\tinvoke\tfinal-read\tp/r/0\t-\t-\t0\t-\n"
					  "90\t2\tok\tfinal-read\tp/r/0\t1\t-\t0\t200\n",
					  &st, &report);
	assert_int_equal(v, CHECK_VALID);
	assert_int_equal(st.stale_reads, 0);
	assert_int_equal(st.info, 1);
	free(report);
}

static void register_check_without_a_final_read_of_a_key_is_unknown(void **state)
{
	(void)state;
	struct check_stats st;
	char *report;
	/* Key p/r/1 was written but never read after healing: the run did not
	 * end as it should, so the history proves less than it claims. */
	enum check_verdict v = check_text("register",
					  "0\t0\tinvoke\twrite\tp/r/0\t1\t-\t0\t-\n"
					  "10\t0\tok\twrite\tp/r/0\t1\t-\t0\t200\n"
					  "20\t0\tinvoke\twrite\tp/r/1\t2\t-\t0\t-\n"
					  "30\t0\tok\twrite\tp/r/1\t2\t-\t0\t200\n"
					  "40\t0\tinvoke\tfinal-read\tp/r/0\t-\t-\t0\t-\n"
					  "50\t0\tok\tfinal-read\tp/r/0\t1\t-\t0\t200\n",
					  &st, &report);
	assert_int_equal(v, CHECK_UNKNOWN);
	assert_non_null(strstr(report, "no final read"));
	free(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(writer_output_parses_back_to_the_same_ops),
	    cmocka_unit_test(malformed_lines_are_refused_naming_the_line),
	    cmocka_unit_test(overlong_line_is_refused),
	    cmocka_unit_test(invokes_pair_with_completions_of_the_same_process),
	    cmocka_unit_test(info_op_never_returns_and_missing_completion_is_info),
	    cmocka_unit_test(set_check_valid_history),
	    cmocka_unit_test(set_check_finds_a_lost_write),
	    cmocka_unit_test(set_check_finds_unexpected_and_failed_elements),
	    cmocka_unit_test(set_check_without_final_read_is_unknown),
	    cmocka_unit_test(register_check_accepts_a_linearizable_history),
	    cmocka_unit_test(register_check_finds_a_stale_read),
	    cmocka_unit_test(register_check_finds_a_stale_nil_read),
	    cmocka_unit_test(register_stale_test_ignores_unknown_and_unchanged_writes),
	    cmocka_unit_test(register_check_without_a_final_read_of_a_key_is_unknown),
	};
	return cmocka_run_group_tests_name("jepsen_history", tests, NULL, NULL);
}
