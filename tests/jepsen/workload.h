/*
 * workload: the plug-in interface of the fault harness. A workload is one
 * file (wl_<name>.c) holding both halves of a test:
 *
 *   the run side, called by jepsen-client:
 *     start  once, before the client threads start;
 *     step   by each client thread, over and over: choose the next
 *            operation, record its invoke, perform it over HTTP against
 *            the thread's node, classify the answer (ok/fail/info) and
 *            record the completion (helpers below; one op per call);
 *     final  once, after the run, with the faults healed: reads from
 *            every node that is up, recorded in the same history;
 *     stop   free what start made;
 *   the check side, called by jepsen-check:
 *     check  reads a parsed history, writes a human report, fills the
 *            stats and returns the verdict.
 *
 * The registry (workloads.c) lists every workload in one static table;
 * adding a workload is one file here plus one line there. For example, a
 * lock workload would be wl_lock.c: step acquires and releases
 * /v1/lock/<prefix>l/<n> with short-TTL sessions and, while holding it,
 * writes the fencing token into a protected key with a CAS on the last
 * token seen; check verifies that tokens strictly increase in acquisition
 * order, that no two holders' hold intervals overlap on the protected key
 * (beyond the session TTL), and that no token is handed out twice.
 *
 * The runtime the run side uses (workloads.c) owns the connections, the
 * history writer and the process ids, and keeps the classification rules
 * in one place (wl_classify), so that every workload reads answers the
 * same way.
 */
#ifndef CAIRN_JEPSEN_WORKLOAD_H
#define CAIRN_JEPSEN_WORKLOAD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../tools/httpc.h"
#include "history.h"

/* ---- the check side ---- */

enum check_verdict { CHECK_VALID, CHECK_INVALID, CHECK_UNKNOWN };

const char *check_verdict_name(enum check_verdict v);

struct check_opts {
	uint64_t key_limit_ms;   /* search time per key (register); 0: none */
	uint64_t total_limit_ms; /* search time for the whole history; 0: none */
};

/* Counters a checker fills (check.c prints them; 0 when they do not apply). */
struct check_stats {
	uint64_t ops, ok, fail, info, unexpected;  /* every op, final reads included */
	uint64_t stale_reads;                      /* register */
	uint64_t lost;                             /* set: ok adds missing from a final read */
	uint64_t check_ms;                         /* filled by the caller */
	uint64_t keys, keys_invalid, keys_unknown; /* register */
	uint64_t final_reads;                      /* ok final reads */
	uint64_t unexpected_elems, failed_present, info_found, info_missing; /* set */
};

/* Counts ops by type and the unexpected answers into st. */
void check_count(const struct history *h, struct check_stats *st);

/* Prints the ops whose answer was unexpected (at most max of them). */
void check_print_unexpected(const struct history *h, FILE *report, size_t max);

/* The column titles of check_print_op's lines. */
void check_print_header(FILE *report);

/* One op as a report line: times relative to the history's start. */
void check_print_op(const struct history *h, const struct hist_op *op, const char *mark,
		    FILE *report);

/* ---- the run side ---- */

struct wl_config {
	const char *prefix; /* key prefix (borrowed for the run) */
	int clients;        /* client threads */
	int nodes;          /* API addresses */
	int keys;           /* register: keys in use at a time */
	int ops_per_key;    /* register: invocations before a key is retired */
	int op_timeout_ms;
};

/* A client: one thread bound to one node, on one keep-alive connection.
 * Fields under "runtime" belong to workloads.c. */
struct wl_client {
	int thread;       /* 0..clients-1; -1 in the final phase */
	int node;         /* index into the node list */
	uint64_t process; /* the current process id (changes after info) */
	uint64_t rng;     /* this client's generator (seeded) */
	/* runtime */
	int fd;
	struct hc_buf buf;
	size_t consume; /* bytes of the last answer still in buf */
	bool open;      /* an op is invoked and not completed */
	char f[HIST_MAX_F + 1];
	char key[HIST_MAX_KEY + 1];
	int64_t a, b;
};

struct workload {
	const char *name;
	const char *about; /* one line for --help */
	/* Prepares the run. 0, or -1 with a reason in err. */
	int (*start)(const struct wl_config *cfg, char *err, size_t errcap);
	/* Chooses, performs and records one operation. */
	void (*step)(struct wl_client *c);
	/* After the run: cl[0..n) are fresh clients, one per node that came
	 * back healthy. Gives up at deadline_us (hc_now_us) or wl_aborted(). */
	void (*final)(struct wl_client *cl, size_t n, uint64_t deadline_us);
	void (*stop)(void);
	/* Checks h; writes a report for a person; fills st. */
	enum check_verdict (*check)(const struct history *h, const struct check_opts *opts,
				    FILE *report, struct check_stats *st);
};

/* The registry: every workload, NULL-terminated. */
extern const struct workload *const wl_all[];
extern const struct workload wl_register, wl_set;

/* The workload named name, or NULL. */
const struct workload *wl_find(const char *name);

/* ---- the runtime (workloads.c), for the run side ---- */

/* Starts the runtime: the history (borrowed until wl_runtime_end), the
 * nodes (copied) and the per-request timeout. Process ids from first_free
 * on are handed out by wl_new_process. */
void wl_runtime_init(struct hist_writer *h, const struct sockaddr_in *nodes, int n,
		     int op_timeout_ms, uint64_t first_free);
void wl_runtime_end(void);

/* A second stop request: final phases give up. */
void wl_abort(void);
bool wl_aborted(void);

/* A client on node, under process, with a generator seeded from seed. */
void wl_client_init(struct wl_client *c, int thread, int node, uint64_t process, uint64_t seed);
/* Closes its connection; asserts no op is open. */
void wl_client_close(struct wl_client *c);

uint64_t wl_new_process(void);
uint64_t wl_rand(struct wl_client *c);
/* A value never handed out before in this run (1, 2, 3...). */
int64_t wl_next_value(void);

/* Records the invoke of c's next op (c must have none open). key and
 * values as in history.h. */
void wl_invoke(struct wl_client *c, const char *f, const char *key, int64_t a, int64_t b);
/* Records the completion of c's open op. info retires c's process: c goes
 * on under a fresh one. */
void wl_complete(struct wl_client *c, enum hist_type type, int64_t a, int64_t b, const char *note);
/* Records the elem lines els[0..n) and the ok completion (a = n) of c's
 * open op, at one instant. */
void wl_complete_elems(struct wl_client *c, const struct hist_elem *els, size_t n,
		       const char *note);

/* How far a request got. */
enum wl_sent {
	WL_NOT_SENT, /* no connection: nothing reached the server */
	WL_LOST,     /* sent, but no complete answer (timeout, reset, garbage) */
	WL_ANSWERED,
};

struct wl_reply {
	enum wl_sent sent;
	int status;
	char code[32];    /* the error body's "code", "" if none */
	char error[96];   /* the error body's "error" or the transport error */
	const char *body; /* valid until c's next request */
	size_t body_len;
};

/* Sends one request on c's connection (connecting first when needed) and
 * waits for the answer, at most the op timeout in all. body may be NULL. */
void wl_request(struct wl_client *c, const char *method, const char *path, const char *body,
		size_t body_len, struct wl_reply *r);

/* The rules every workload shares (history.h's ok/fail/info):
 *   nothing sent                                  -> fail
 *   200; 404 on a read                            -> ok
 *   409; 503 no_leader                            -> fail (not done)
 *   503 unknown_outcome, 504, lost after sending  -> info (fail for reads:
 *                                                    a read has no effect)
 *   other 5xx                                     -> info, unexpected (fail for reads)
 *   any other status                              -> fail, unexpected
 * Writes the note for the completion into note. */
enum hist_type wl_classify(const struct wl_reply *r, bool is_read, char *note, size_t cap);

/* Counts of completions recorded so far (for the client's summary). */
struct wl_totals {
	uint64_t ops, ok, fail, info, unexpected;
};
void wl_totals(struct wl_totals *out);

#endif
