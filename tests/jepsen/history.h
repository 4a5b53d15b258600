/*
 * history: the record of one Jepsen-style run, and its parser.
 *
 * A history is a text file, one event per line, nine fields separated by
 * single tabs, so that grep, cut and awk work on it:
 *
 *   <time_us> <process> <type> <f> <key> <a> <b> <node> <note>
 *
 *   time_us  microseconds since the client started (monotonic clock). The
 *            writer stamps each event under its lock, so times never go
 *            down the file. An invoke is stamped before the request is
 *            sent, a completion after its answer arrived: the interval
 *            [invoke, completion] contains the operation's real one.
 *   process  the logical client (decimal). A process has at most one
 *            operation outstanding: an invoke, then its completion, then
 *            maybe the next invoke. After an `info` completion the process
 *            id is never used again (the operation may still be in flight
 *            and take effect later); the thread goes on under a fresh id.
 *   type     invoke | ok | fail | info | elem
 *              ok    it happened, with the result in a/b;
 *              fail  it certainly did not happen (nothing was sent, or the
 *                    server said it was not done);
 *              info  unknown: it may have happened, or may still happen;
 *              elem  one element of a listing (below).
 *   f        the operation: read, write, cas, add, final-read ([a-z-]).
 *   key      the key it works on (no tab, newline, space); `-` when none.
 *   a, b     values: a decimal int64, `nil` (no value: the key is absent)
 *            or `-` (not used by this operation).
 *   node     index (0-based, in the client's --nodes order) of the node the
 *            request went to; `-` when none.
 *   note     short free text: the HTTP status and error code, or the
 *            transport error; `-` when empty. A note that starts with
 *            "unexpected" marks an answer no correct server gives (a
 *            harness or server bug); the checkers count and print those.
 *
 * What a and b hold, per operation (an invoke carries the arguments, a
 * completion the result; a fail/info completion repeats the arguments):
 *
 *   read        invoke a=- b=-      ok: a = the value read, or nil
 *   final-read  (register) as read, issued after the cluster was healed
 *   write       invoke a=v          completion a=v
 *   cas         invoke a=from b=to  (from nil: "only if absent")
 *               ok: a, b as invoked, and the note is `swapped` or
 *               `unchanged` (the compare held or not; both are ok)
 *   add         invoke a=v          (set: key <prefix>s/<v>)
 *   final-read  (set) key = the prefix listed; between the invoke and the
 *               ok completion, one `elem` line per key found, with a = the
 *               element (or a=- and the key in the note when the key is not
 *               <prefix>s/<decimal>); the ok line's a = the element count.
 *
 * Lines that start with '#' are comments (the run's parameters, node
 * health after the run); blank lines are ignored. Example:
 *
 *   # jepsen-client workload=register seed=7 nodes=127.0.0.1:7700,...
 *   1200	3	invoke	cas	t1/r/0	nil	17	0	-
 *   4377	3	ok	cas	t1/r/0	nil	17	0	swapped
 *   5120	4	invoke	write	t1/r/1	18	-	1	-
 *   3005120	4	info	write	t1/r/1	18	-	1	timeout (client, 3000 ms)
 *
 * Limits: a line holds at most HIST_MAX_LINE bytes, a history at most
 * HIST_MAX_OPS operations and HIST_MAX_ELEMS elements; the parser refuses
 * more with an error naming the line.
 */
#ifndef CAIRN_JEPSEN_HISTORY_H
#define CAIRN_JEPSEN_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_MAX_LINE 2048
#define HIST_MAX_F 23
#define HIST_MAX_KEY 512
#define HIST_MAX_NOTE 200
#define HIST_MAX_OPS (1u << 24)
#define HIST_MAX_ELEMS (1u << 26)
#define HIST_MAX_NODE 255

#define HIST_NIL INT64_MIN        /* `nil`: no value (equals WGL_NIL) */
#define HIST_NONE (INT64_MIN + 1) /* `-`: the field is not used */
#define HIST_NO_NODE (-1)         /* `-` in the node field */
#define HIST_NEVER UINT64_MAX     /* return time of an info or unanswered op */

enum hist_type { HIST_INVOKE, HIST_OK, HIST_FAIL, HIST_INFO, HIST_ELEM };

const char *hist_type_name(enum hist_type t);

/* ---- writing ---- */

/* One line to write. Strings are borrowed for the call. key and note may
 * be NULL (written `-`); the note is cut to HIST_MAX_NOTE bytes and any
 * tab or newline in it becomes a space. */
struct hist_event {
	uint64_t process;
	enum hist_type type;
	const char *f;
	const char *key;
	int64_t a, b; /* HIST_NIL, HIST_NONE or a value */
	int node;     /* HIST_NO_NODE or 0..HIST_MAX_NODE */
	const char *note;
};

struct hist_writer;

/* Creates (truncates) path and starts the clock at 0. NULL on failure,
 * with the reason in err. The writer owns the file until hist_close. */
struct hist_writer *hist_open(const char *path, char *err, size_t errcap);

/* The same on an open stream, which the writer owns from now on. */
struct hist_writer *hist_open_stream(FILE *f);

/* Microseconds since the writer was opened. */
uint64_t hist_now_us(const struct hist_writer *w);

/* Writes evs[0..n) as consecutive lines, all stamped with the current time
 * (one lock: no other thread's line comes between them). Thread-safe.
 * Returns that time. An event with a key or f the format cannot carry is
 * a caller bug (assert). A write error is remembered for hist_close. */
uint64_t hist_write(struct hist_writer *w, const struct hist_event *evs, size_t n);

/* Writes "# <text>" (text as formatted; newlines become spaces). */
__attribute__((format(printf, 2, 3))) void hist_comment(struct hist_writer *w, const char *fmt,
							...);

/* Pushes buffered lines to the file. Thread-safe. */
void hist_flush(struct hist_writer *w);

/* Flushes, closes and frees. 0, or -1 when any write failed (err says
 * why). */
int hist_close(struct hist_writer *w, char *err, size_t errcap);

/* ---- reading ---- */

/* One element of a set listing (an `elem` line). */
struct hist_elem {
	int64_t v;  /* the element, or HIST_NONE when the key had no number */
	char *name; /* that key (NULL when v is a number) */
};

/* One operation: an invoke paired with its completion. */
struct hist_op {
	uint64_t process;
	char f[HIST_MAX_F + 1];
	char *key;           /* "" for `-` */
	enum hist_type type; /* HIST_OK, HIST_FAIL or HIST_INFO (also: no completion) */
	int64_t in_a, in_b;  /* as invoked */
	int64_t a, b;        /* from the completion (as invoked when there is none) */
	uint64_t call_us;
	uint64_t return_us; /* HIST_NEVER for info or a missing completion */
	int node;
	char *note;              /* the completion's note; "" for `-` or none */
	bool completed;          /* a completion line was found */
	size_t line;             /* line number of the invoke */
	size_t ret_line;         /* of the completion, 0 when none */
	struct hist_elem *elems; /* `elem` lines attached to this op */
	size_t n_elems;
};

/* A parsed history: operations in the order of their invoke lines (that
 * is, by call time). Every string and array belongs to the history. */
struct history {
	struct hist_op *ops;
	size_t n;
	size_t lines;
	uint64_t first_us; /* time of the first event (for relative times) */
};

/* Parses a whole history. 0, or -1 with a one-line reason naming the line
 * in err ("line 12: ..."); h is then empty (nothing to free). */
int hist_parse(FILE *in, struct history *h, char *err, size_t errcap);

/* hist_parse on a file by name ("-": stdin). */
int hist_load(const char *path, struct history *h, char *err, size_t errcap);

void hist_free(struct history *h);

/* Formats a value as the file does ("nil", "-" or decimal) into buf. */
const char *hist_val(int64_t v, char *buf, size_t cap);

/* True when op's note marks an answer the client did not expect. */
bool hist_unexpected(const struct hist_op *op);

#endif
