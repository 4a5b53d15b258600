/*
 * A fake backend for the api tests: an in-memory key/value map that
 * implements struct api_backend the way the node will (typed commands in,
 * results out, blocking queries), completing its calls in one of several
 * ways so that every path of the HTTP layer's hand-off is exercised:
 *
 *   FAKE_SYNC        done() inside submit/query, on the caller's thread
 *   FAKE_BEFORE_RET  done() on the worker thread, but before submit/query
 *                    returns (submit waits for it)
 *   FAKE_ASYNC       queued to the worker thread, done() whenever it gets
 *                    there (after delay_ms): usually once the connection
 *                    is suspended, sometimes racing the suspend
 *   FAKE_AFTER_RET   done() on the worker thread the moment submit/query
 *                    has returned (the worker spins for it): aims at the
 *                    window between the call's return and the suspend
 *
 * Blocking queries (min_index/wait_ms) wait on the worker in FAKE_ASYNC
 * only; the other modes answer them at once. Transactions (CMD_TXN) go
 * through the command codec, as the node's do, and are applied with the
 * store's semantics (server/store_txn.c), minus the get-bytes bound.
 *
 * Every query result it lends is counted; fake_results_out() says how many
 * the api has not released yet (a leak check).
 */
#ifndef CAIRN_TEST_API_FAKE_BACKEND_H
#define CAIRN_TEST_API_FAKE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

enum fake_mode { FAKE_SYNC, FAKE_BEFORE_RET, FAKE_ASYNC, FAKE_AFTER_RET };

struct fake;

/* Owned by the caller (fake_free, after api_http_stop). */
struct fake *fake_new(enum fake_mode mode);
void fake_free(struct fake *f);
/* The backend interface over f (impl = f). */
struct api_backend fake_backend(struct fake *f);

/* Answers every waiting query now, and every later one at once: call it
 * before api_http_stop, as the node fails what it holds when stopping. */
void fake_drain(struct fake *f);
/* FAKE_ASYNC: the worker waits this long before each completion. */
void fake_set_delay_ms(struct fake *f, unsigned ms);
/* The next n submit/query calls fail with s and msg (msg copied). */
void fake_fail_next(struct fake *f, unsigned n, enum api_status s, const char *msg);
/* Headers facts: node id, leader id (0: none), applied index. */
void fake_set_meta(struct fake *f, uint64_t node, uint64_t leader);
/* Health: API_OK, or the status and reason to answer. */
void fake_set_health(struct fake *f, enum api_status s, const char *reason);
/* Stale reads report this last contact. */
void fake_set_last_contact(struct fake *f, uint64_t ms);

/* What the fake saw last (copies, for assertions). */
struct fake_seen {
	unsigned submits;
	unsigned queries;
	struct cmd cmd; /* byte strings point into key/value below (a
			   transaction's: decoded form over value) */
	uint8_t key[API_KEY_MAX];
	uint8_t *value; /* malloc'ed copy, owned by the fake */
	struct query query;
	uint8_t qkey[API_KEY_MAX];
};
/* Borrowed until the next call into f; read it only when no request is
 * in flight (fake_submits/fake_queries are safe at any time). */
const struct fake_seen *fake_seen(struct fake *f);
unsigned fake_submits(struct fake *f);
unsigned fake_queries(struct fake *f);

/* The index of the last write (0 when none). */
uint64_t fake_index(struct fake *f);
/* Query results lent and not yet released. */
long fake_results_out(struct fake *f);
/* Queries waiting (blocking) on the worker. */
size_t fake_waiting(struct fake *f);

#endif
