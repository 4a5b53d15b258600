/*
 * Typed commands and queries: what an HTTP request means once it has been
 * parsed and validated, independent of HTTP and of Raft.
 *
 * A command changes state. The api layer builds it, the node encodes it
 * with cmd_encode into a log entry, and after commit server/store decodes
 * it with cmd_decode and applies it, deterministically, on every replica.
 * The encoding is versioned: a store refuses (fails the node) on a command
 * version it does not know rather than guessing.
 *
 * A query reads state; it never enters the log.
 *
 * Keys and values are byte strings (pointer + length), never assumed to be
 * NUL-terminated. Limits are explicit and enforced by the api parser and
 * again by cmd_decode.
 */
#ifndef CAIRN_API_COMMAND_H
#define CAIRN_API_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_VERSION 1
#define API_KEY_MAX 512                  /* bytes, after URL-decoding */
#define API_VALUE_MAX_DEFAULT (1u << 20) /* --max-value */
#define API_BODY_MAX (4u << 20)          /* any request body */
/* The largest --max-value a node may be configured with, and so the
 * largest value cmd_decode accepts whatever this node's own --max-value:
 * a replica must apply every value its leader accepted. */
#define API_VALUE_MAX_LIMIT API_BODY_MAX

/* Command types. Numbers are part of the log format: never reuse one. A
 * type added later keeps CMD_VERSION (the older types' bytes do not
 * change); a replica that does not know a type refuses the entry. */
enum cmd_type {
	CMD_KV_PUT = 1,
	CMD_KV_DELETE = 2,
	CMD_TXN = 3, /* POST /v1/txn */
};

struct cmd_bytes {
	const uint8_t *p;
	uint32_t len;
};

struct cmd_kv_put {
	struct cmd_bytes key;
	struct cmd_bytes value;
	bool has_cas;
	uint64_t cas; /* 0: create only */
};

struct cmd_kv_delete {
	struct cmd_bytes key; /* a prefix when recurse */
	bool recurse;
	bool has_cas;
	uint64_t cas;
};

/*
 * A transaction (API.md "Transactions"): if every compare holds, the
 * success ops run, else the failure ops; in order, each seeing the effects
 * of the ones before it, all at the entry's index, atomically. Get ops
 * travel in the command too: the store evaluates the whole transaction at
 * apply time, identically on every replica.
 */
#define CMD_TXN_MAX 128 /* entries in each of compare, success and failure */
/* The value bytes a transaction's get ops may return, in all. Part of the
 * replicated semantics (every replica must decide alike): a transaction
 * whose gets would return more changes nothing and answers API_TOO_LARGE. */
#define CMD_TXN_GET_BYTES_MAX API_BODY_MAX

enum cmd_txn_cmp_kind {
	CMD_CMP_MODIFY_INDEX = 1, /* the key exists with modify_index == index;
				     index 0: the key is absent (as cas=0) */
	CMD_CMP_ABSENT = 2,       /* the key does not exist */
	CMD_CMP_PRESENT = 3,      /* the key exists */
	CMD_CMP_VALUE = 4,        /* the key exists and its value == value */
};

struct cmd_txn_compare {
	uint8_t kind; /* enum cmd_txn_cmp_kind */
	struct cmd_bytes key;
	uint64_t index;         /* CMD_CMP_MODIFY_INDEX */
	struct cmd_bytes value; /* CMD_CMP_VALUE */
};

enum cmd_txn_op_kind {
	CMD_OP_GET = 1,
	CMD_OP_PUT = 2,
	CMD_OP_DELETE = 3,
};

struct cmd_txn_op {
	uint8_t kind; /* enum cmd_txn_op_kind */
	bool recurse; /* CMD_OP_DELETE only: key is a prefix (may be empty) */
	struct cmd_bytes key;
	struct cmd_bytes value; /* CMD_OP_PUT */
};

/*
 * Two forms. Built (by the api): the three arrays, of n_* entries each
 * (NULL when 0), and lists empty. Decoded (by cmd_decode): the arrays NULL
 * and lists the validated encoded lists, borrowed from the decoded buffer;
 * cmd_txn_unpack turns them into arrays. Both encode to the same bytes.
 */
struct cmd_txn {
	uint32_t n_compare, n_success, n_failure;
	const struct cmd_txn_compare *compare;
	const struct cmd_txn_op *success;
	const struct cmd_txn_op *failure;
	struct cmd_bytes lists;
};

struct cmd {
	uint8_t type; /* enum cmd_type */
	union {
		struct cmd_kv_put put;
		struct cmd_kv_delete del;
		struct cmd_txn txn;
	} u;
};

/*
 * Validity, checked by cmd_encode and again by cmd_decode: a known type;
 * keys of 1..API_KEY_MAX bytes (0 allowed only for a recursive delete: the
 * empty prefix), valid UTF-8 without NUL and not starting with '/'; values
 * of at most API_VALUE_MAX_LIMIT bytes. The encoding is canonical:
 * cmd_encode(cmd_decode(b)) == b for every b that decodes.
 */
/* Bytes cmd_encode_into needs for c; 0 when c is invalid. */
size_t cmd_encoded_size(const struct cmd *c);
/* Encodes c into buf[0..cap) (the caller's memory, e.g. a log batch);
 * returns the bytes written, or 0 when c is invalid or cap too small. */
size_t cmd_encode_into(const struct cmd *c, uint8_t *buf, size_t cap);
/* Encodes c into a malloc'ed buffer the caller owns (free). 0 or -1 on
 * allocation failure or an invalid command. */
int cmd_encode(const struct cmd *c, uint8_t **out, size_t *len);
/* Decodes; on success *c's byte strings point into buf (borrowed: buf must
 * outlive *c). -1 on malformed input or an unknown version or type. A
 * CMD_TXN is validated whole (every compare and op) and comes out in its
 * decoded form (see struct cmd_txn). */
int cmd_decode(const uint8_t *buf, size_t len, struct cmd *c);
/*
 * The lists of a transaction as arrays: compare[0..t->n_compare),
 * success[0..t->n_success), failure[0..t->n_failure), the caller's memory
 * (any may be NULL when its count is 0, or when the caller does not want
 * it). Byte strings point where t's do (borrowed likewise). Works on both
 * forms. 0, or -1 when t is not a valid transaction.
 */
int cmd_txn_unpack(const struct cmd_txn *t, struct cmd_txn_compare *compare,
		   struct cmd_txn_op *success, struct cmd_txn_op *failure);

/* ---- results ---- */

/* One key/value entry as the API shows it. Byte strings borrowed from
 * whoever produced the result, until the result is released. */
struct kv_entry {
	struct cmd_bytes key;
	struct cmd_bytes value;
	uint64_t create_index;
	uint64_t modify_index;
	uint64_t version;
	struct cmd_bytes session; /* empty when not bound */
};

/* Outcome codes, mapped to HTTP by the api (API.md error table). */
#define API_STATUSES(X)                                      \
	X(API_OK, 200, "ok")                                 \
	X(API_BAD_REQUEST, 400, "bad_request")               \
	X(API_NOT_FOUND, 404, "not_found")                   \
	X(API_METHOD_NOT_ALLOWED, 405, "method_not_allowed") \
	X(API_CAS_FAILED, 409, "cas_failed")                 \
	X(API_TOO_LARGE, 413, "too_large")                   \
	X(API_NO_LEADER, 503, "no_leader")                   \
	X(API_UNKNOWN_OUTCOME, 503, "unknown_outcome")       \
	X(API_TIMEOUT, 504, "timeout")                       \
	X(API_INTERNAL, 500, "internal")

enum api_status {
#define API_STATUS_ENUM(name, http, code) name,
	API_STATUSES(API_STATUS_ENUM)
#undef API_STATUS_ENUM
	    API_STATUS_COUNT
};
/* The HTTP status and the "code" string of s (static); a value outside the
 * table maps to 500 "internal". */
int api_status_http(enum api_status s);
const char *api_status_code(enum api_status s);

/* The result of one op of a transaction. */
struct cmd_txn_result {
	uint8_t kind;          /* the op's enum cmd_txn_op_kind */
	bool found;            /* CMD_OP_GET: the key exists (entry is set) */
	struct kv_entry entry; /* CMD_OP_GET when found; CMD_OP_PUT: as written */
	uint64_t deleted;      /* CMD_OP_DELETE: how many keys */
};

/* What applying a command produced (store) or why it did not apply (node).
 * Every byte string and array it points to is borrowed from its producer
 * for as long as the producer says (the store: the result callback). */
struct cmd_result {
	enum api_status status;
	char message[160]; /* human reason when status != API_OK */
	uint64_t index;    /* raft index of the write (0 when it did not commit) */
	bool has_entry;    /* PUT: the entry as written */
	struct kv_entry entry;
	uint64_t deleted; /* DELETE: how many keys */
	bool has_current; /* CAS failure: the current entry, if the key exists */
	struct kv_entry current;
	/* CMD_TXN with status API_OK: whether every compare held, and one
	 * result per op of the branch that ran, in order. */
	bool succeeded;
	const struct cmd_txn_result *txn;
	uint32_t n_txn;
};

/* ---- queries ---- */
enum query_type {
	QUERY_KV_GET = 1, /* one key, or a prefix with recurse */
};

enum consistency {
	CONSISTENCY_LINEARIZABLE = 0, /* default: ReadIndex on the leader */
	CONSISTENCY_STALE = 1,        /* ?stale: the local replica */
};

struct query {
	uint8_t type; /* enum query_type */
	enum consistency consistency;
	struct cmd_bytes key; /* a prefix when recurse */
	bool recurse;
	bool keys_only;
	/* Blocking query: answer once the query's index exceeds min_index, or
	 * after wait_ms with the unchanged state. wait_ms == 0: no blocking. */
	uint64_t min_index;
	uint64_t wait_ms;
};

struct query_result {
	enum api_status status;
	char message[160];
	/* X-Cairn-Index: the index of the last change to what the query
	 * covers (API.md "Blocking queries"). */
	uint64_t index;
	struct kv_entry *entries; /* sorted by key */
	size_t n_entries;
	/* The owner's release hook: the api calls it once done with the
	 * result (entries and their bytes are borrowed until then). */
	void (*release)(struct query_result *res);
	void *owner;
};

#endif
