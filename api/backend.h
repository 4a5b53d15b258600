/*
 * The backend the HTTP front talks to. The api declares it; server/
 * implements it (the node) and tests implement it (a fake). The api knows
 * nothing of Raft, peers or SQLite: it hands over typed commands and
 * queries (api/command.h) and renders what comes back.
 *
 * Threading: the api calls submit/query from its HTTP thread(s); the backend
 * calls `done` exactly once per call, from any thread (typically the node's
 * event loop), possibly before submit/query returns. After `done` the
 * backend never touches the request again. A call's `done` must come
 * before the HTTP front is stopped (api_http_stop waits for it), so a node
 * shutting down fails what it still holds (API_UNKNOWN_OUTCOME for writes
 * in flight) rather than dropping it.
 *
 * status, health and meta are called from the HTTP thread(s), concurrently
 * with everything else: they must be cheap and never block on the loop.
 */
#ifndef CAIRN_API_BACKEND_H
#define CAIRN_API_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

/* Facts every response carries in its headers (API.md conventions). */
struct api_meta {
	uint64_t node_id;         /* X-Cairn-Node */
	uint64_t leader_id;       /* X-Cairn-Leader; 0: none known (empty) */
	bool stale;               /* answered from the local replica */
	uint64_t last_contact_ms; /* X-Cairn-Last-Contact, with stale */
	/* X-Cairn-Index of an answer that carries no index of its own (an
	 * error found before or instead of the write/read, /v1/health): this
	 * node's applied index. Results with an index (cmd_result.index when
	 * non-zero, query_result.index) take precedence. */
	uint64_t index;
};

/* res and meta are borrowed for the call. */
typedef void (*api_cmd_done)(void *arg, const struct cmd_result *res, const struct api_meta *meta);
/* res is lent until the api calls res->release(res) (it may do so later,
 * from its own thread); meta is borrowed for the call. */
typedef void (*api_query_done)(void *arg, struct query_result *res, const struct api_meta *meta);

#define API_MAX_MEMBERS 16

struct api_member_status {
	uint64_t id;
	char api[96];
	char peer[96];
	bool voter;
	bool has_progress; /* match/contact known (on the leader) */
	uint64_t match_index;
	uint64_t last_contact_ms;
};

/* GET /v1/status */
struct api_node_status {
	uint64_t id;
	const char *role; /* "leader", "follower", "candidate" (static) */
	uint64_t term;
	uint64_t leader;
	uint64_t commit_index;
	uint64_t applied_index;
	uint64_t last_log_index;
	uint64_t snapshot_index;
	size_t n_members;
	struct api_member_status members[API_MAX_MEMBERS];
};

struct api_backend {
	void *impl;
	/* A write. c and everything it points to are borrowed for the call. */
	void (*submit)(void *impl, const struct cmd *c, api_cmd_done done, void *arg);
	/* A read (blocking queries included). q borrowed for the call. */
	void (*query)(void *impl, const struct query *q, api_query_done done, void *arg);
	/* A snapshot of this node's state; any thread, never blocks long. */
	void (*status)(void *impl, struct api_node_status *out);
	/* GET /v1/health: API_OK when healthy (a leader is known and this
	 * node applied up to the commit index it last heard of); else the
	 * status to answer (API_NO_LEADER when no leader is known; the node
	 * picks the closest code otherwise) with reason filled (cap bytes). */
	enum api_status (*health)(void *impl, char *reason, size_t cap);
	/* Headers of a request that never reaches submit/query (errors). */
	void (*meta)(void *impl, struct api_meta *out);
};

#endif
