/*
 * The backend the HTTP front talks to. The api declares it; server/
 * implements it (the node) and tests implement it (a fake). The api knows
 * nothing of Raft, peers or SQLite: it hands over typed commands and
 * queries (api/command.h) and renders what comes back.
 *
 * Threading: the api calls submit/query from its HTTP thread(s); the backend
 * calls `done` exactly once per call, from any thread (typically the node's
 * event loop), possibly before submit/query returns. After `done` the
 * backend never touches the request again.
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
	/* GET /v1/health: true when healthy; else reason filled. */
	bool (*health)(void *impl, char *reason, size_t cap);
	/* Headers of a request that never reaches submit/query (errors). */
	void (*meta)(void *impl, struct api_meta *out);
};

#endif
