/*
 * watchers: many blocking-query loops on overlapping prefixes against a
 * cluster while writers make a known set of changes; then checks that
 * every watcher saw every change to what it covers and nothing else.
 * Driven by tests/integration/t_blocking_queries_see_every_change.sh.
 *
 *   watchers --api H:P[,H:P...] [--watchers 60] [--writers 4] [--ops 100]
 *            [--gap-ms 30] [--seed 1] [--slow 1] [--txn 0|1] [--verbose]
 *
 * Watchers. Each runs one loop on one keep-alive connection:
 *   GET /v1/kv/<w>[?recurse|?keys][&stale]          (no index: the start)
 *   GET ...?index=<X-Cairn-Index of the last answer>&wait=<30s or 1s>
 * Watcher i uses spec i % 12 (below) and replica r = i / 12: node
 * (spec + r) % nodes, ?stale when r % 3 == 1, wait=1s when r % 5 == 4 (so
 * timeouts happen), else 30s.
 *
 * Two phases of writes. The random phase: writers (threads, one
 * connection per node each) send, to node
 * (writer + op) % nodes, a seeded mix of: PUT of a covered key; PUT ?cas=0;
 * PUT ?cas=<never> (fails: takes an index, changes nothing); DELETE of a
 * key (present or not); DELETE ?recurse of a prefix (some hold nothing);
 * PUTs of keys no watcher but the root one covers; with --txn, POST
 * /v1/txn putting one key and deleting another. Writer 0 creates app/late
 * half-way (its watcher waits for the key's creation); writer 1 deletes
 * everything (DELETE /v1/kv/?recurse) three quarters of the way. Every
 * write must succeed (200, or 409 for a failed CAS): an unknown outcome
 * (503/504/no answer) fails the run. Once every watcher has caught up,
 * the quiet phase: 16 single writes of every kind (quiet_ops), one at a
 * time through every node, --slow * 250 ms apart (at most 500 ms, under
 * the 1 s wait, so no timeout can hide a missed wake-up).
 *
 * A watcher answered 503 (no leader for a moment) retries after 50 ms with
 * the same index, as a client would (at most 200 times; counted).
 *
 * The model. After the writers finish, their writes are sorted by index
 * (every write takes a distinct index) and replayed: each answer must be
 * what the replay predicts (entry indexes and version, deleted counts, CAS
 * verdicts). A write "changes" key k when it creates, overwrites or
 * removes k (a failed CAS or a delete of a missing key changes nothing).
 * For watcher W covering keys C(W), I(W) is the set of indexes of writes
 * that change a key in C(W); state(W, x) is C(W)'s entries after every
 * write with index <= x.
 *
 * What every watcher must show (the checks; "answer k" has index x_k and
 * was asked with index s_k = x_{k-1}):
 *   1. exact index: x_k is 0 or in I(W) (X-Cairn-Index is the last change
 *      to what the query covers: a write that changes nothing W covers
 *      never shows up as W's index);
 *   2. exact state: answer k's body is state(W, x_k), rendered as cairnd
 *      renders it (404 for a single missing key);
 *   3. no spurious wake-up: x_k > s_k, or x_k == s_k and the answer came
 *      after the wait ran out (a timeout); never x_k < s_k;
 *   4. none missed: for every i in I(W), some answer has x_k >= i, and the
 *      first such arrives within --slow * 2 s of the write's answer (for a
 *      quiet-phase write: before the next write is sent, i.e. W was woken
 *      by that very write, not by a later one); a timeout answer never
 *      misses a change acknowledged more than that long before (half the
 *      pause for a quiet-phase write); the last answer's index is
 *      max(I(W)), so W ends on the true final state (by 2).
 * Intermediate states may be skipped (two writes in quick succession can
 * reach a watcher as one answer): "every change" means every change is
 * reflected in some answer, in order, not that each one gets its own.
 *
 * Output: a summary per watcher spec and the wake latency (time from a
 * write's answer to the first watcher answer reflecting it); "watchers:
 * PASS" or "watchers: FAIL (N problems)" last; exit 0 when every check
 * held, 1 otherwise, 2 on a usage or connect error. Bounded: every
 * request has a timeout and the whole run a deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"

#define MAX_NODES 9
#define CAS_NEVER "9999999999999"

/* ---- the keys ---- */

/* Every key a writer may touch. The first N_COVERED are in the random
 * pool of covered writes; app/late is created once; the rest are the
 * "unrelated" pool (only the root watcher covers them). Sorted bytewise
 * here is not needed: listings are rendered in sorted order below. */
static const char *const keys[] = {
    "app/db/host", "app/db/hostname", "app/db/port", "app/db/x/y", "app/motd", "app/cache/size",
    "app/cache/ttl", "app", "apple", "web", "web/a", "web/b/c", "website",
    /* special */
    "app/late",
    /* unrelated to every watcher but the root */
    "zz/u0", "zz/u1", "zz/u2", "zz/u3", "other/o0", "other/o1", "ap", "aq/x"};
#define N_KEYS (sizeof keys / sizeof keys[0])
#define N_COVERED 13
#define KEY_LATE 13
#define FIRST_UNRELATED 14

static const char *const del_prefixes[] = {"app/db/",  "web/",      "app/cache/", "zz/",
					   "nothing/", "app/db/x/", "app/",       "web"};
#define N_DEL_PREFIXES (sizeof del_prefixes / sizeof del_prefixes[0])

enum mode { M_KEY, M_RECURSE, M_KEYS };
struct spec {
	const char *key;
	enum mode mode;
};
static const struct spec specs[] = {
    {"", M_RECURSE},          {"app/", M_RECURSE},        {"app/", M_KEYS},
    {"app/db/", M_RECURSE},   {"app/db/host", M_RECURSE}, {"app/db/host", M_KEY},
    {"app/db/x/", M_RECURSE}, {"web/", M_RECURSE},        {"web", M_RECURSE},
    {"app/late", M_KEY},      {"apple", M_KEY},           {"nothing/", M_RECURSE},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static bool covers(const struct spec *s, const char *key)
{
	if (s->mode == M_KEY)
		return strcmp(s->key, key) == 0;
	return strncmp(key, s->key, strlen(s->key)) == 0;
}

static const char *mode_name(enum mode m)
{
	return m == M_KEY ? "key" : m == M_RECURSE ? "recurse" : "keys";
}

/* ---- settings ---- */

static struct sockaddr_in nodes[MAX_NODES];
static const char *node_names[MAX_NODES];
static int n_nodes;
static int n_watchers = 60, n_writers = 4, n_ops = 100, gap_ms = 30, slow = 1, pause_ms;
static uint64_t seed = 1;
static char *api_list; /* node_names point into it */
static bool use_txn, verbose;

static int problems;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 2))) static void problem(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	problems++;
	if (problems <= 40) {
		printf("  problem: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	} else if (problems == 41) {
		printf("  (more problems not shown)\n");
	}
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- writes ---- */

enum op_kind { OP_PUT, OP_PUT_CAS0, OP_PUT_CASBAD, OP_DEL, OP_DEL_RECURSE, OP_TXN };
static const char *const op_names[] = {"PUT",    "PUT?cas=0",      "PUT?cas=never",
				       "DELETE", "DELETE?recurse", "TXN"};

struct op {
	enum op_kind kind;
	int key, key2;      /* indexes into keys[]; key2: the txn's delete */
	const char *prefix; /* OP_DEL_RECURSE */
	char value[24];
	int node;
	bool quiet;      /* a write of the quiet phase */
	uint64_t t_send; /* when it was sent */
	uint64_t t_next; /* quiet: when the next write was sent (the wake deadline) */
	/* the answer */
	int status;
	uint64_t index;
	uint64_t t_ack;
	char *body;
	size_t body_len;
};

struct writer {
	int id;
	int pause_ms; /* the quiet phase: this long after each write */
	pthread_t th;
	struct op *ops;
	int n;
	int fds[MAX_NODES];
	struct hc_buf buf;
};

static void gen_ops(struct writer *w)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + (uint64_t)w->id * 7919 + 1;
	for (int i = 0; i < 4; i++)
		rnd(&x);
	for (int j = 0; j < w->n; j++) {
		struct op *o = &w->ops[j];
		memset(o, 0, sizeof *o);
		snprintf(o->value, sizeof o->value, "w%d-%d", w->id, j);
		o->node = (w->id + j) % n_nodes;
		o->key = (int)(rnd(&x) % N_COVERED);
		o->key2 = (int)(rnd(&x) % N_COVERED);
		unsigned p = (unsigned)(rnd(&x) % 100);
		if (w->id == 0 && j == w->n / 2) {
			o->kind = OP_PUT;
			o->key = KEY_LATE;
		} else if (w->id == 1 % n_writers && j == (w->n * 3) / 4) {
			o->kind = OP_DEL_RECURSE;
			o->prefix = "";
		} else if (p < 32) {
			o->kind = OP_PUT;
		} else if (p < 40) {
			o->kind = OP_PUT_CAS0;
		} else if (p < 47) {
			o->kind = OP_PUT_CASBAD;
		} else if (p < 59) {
			o->kind = OP_DEL;
		} else if (p < 65) {
			o->kind = OP_DEL_RECURSE;
			o->prefix = del_prefixes[rnd(&x) % N_DEL_PREFIXES];
		} else if (p < 88 || !use_txn) {
			o->kind = OP_PUT;
			o->key = FIRST_UNRELATED + (int)(rnd(&x) % (N_KEYS - FIRST_UNRELATED));
		} else {
			o->kind = OP_TXN;
		}
	}
}

/* The quiet phase: one write at a time, pause_ms apart, each of a kind
 * whose wake-ups the check can time exactly (every watcher it concerns
 * must answer before the next write is sent). */
static const struct {
	enum op_kind kind;
	const char *key, *key2;
} quiet_ops[] = {
    {OP_PUT, "app/db/host", NULL},
    {OP_PUT, "app/db/hostname", NULL},
    {OP_PUT, "app/db/x/y", NULL},
    {OP_DEL, "app/db/host", NULL},
    {OP_DEL_RECURSE, "app/db/x/", NULL},
    {OP_PUT, "web/a", NULL},
    {OP_PUT, "website", NULL},
    {OP_TXN, "apple", "web/a"},
    {OP_PUT, "zz/u0", NULL},
    {OP_PUT_CASBAD, "app/db/port", NULL},
    {OP_DEL_RECURSE, "nothing/", NULL},
    {OP_PUT, "app/db/port", NULL},
    {OP_DEL_RECURSE, "app/", NULL},
    {OP_PUT, "app/late", NULL},
    {OP_DEL_RECURSE, "", NULL},
    {OP_PUT, "app/db/host", NULL},
};
#define N_QUIET (sizeof quiet_ops / sizeof quiet_ops[0])

static int key_index(const char *k)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i], k) == 0)
			return (int)i;
	abort();
}

static void gen_quiet_ops(struct writer *w)
{
	for (int j = 0; j < w->n; j++) {
		struct op *o = &w->ops[j];
		memset(o, 0, sizeof *o);
		o->quiet = true;
		o->kind = quiet_ops[j].kind;
		if (o->kind == OP_TXN && !use_txn)
			o->kind = OP_PUT; /* no /v1/txn: its put alone */
		o->node = j % n_nodes;
		snprintf(o->value, sizeof o->value, "q-%d", j);
		if (o->kind == OP_DEL_RECURSE)
			o->prefix = quiet_ops[j].key;
		else
			o->key = key_index(quiet_ops[j].key);
		if (quiet_ops[j].key2 != NULL)
			o->key2 = key_index(quiet_ops[j].key2);
	}
}

static int build_write(const struct op *o, char *req, size_t cap)
{
	switch (o->kind) {
	case OP_PUT:
	case OP_PUT_CAS0:
	case OP_PUT_CASBAD:
		return snprintf(req, cap,
				"PUT /v1/kv/%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				"Content-Length: %zu\r\n\r\n%s",
				keys[o->key],
				o->kind == OP_PUT_CAS0     ? "?cas=0"
				: o->kind == OP_PUT_CASBAD ? "?cas=" CAS_NEVER
							   : "",
				strlen(o->value), o->value);
	case OP_DEL:
		return snprintf(req, cap, "DELETE /v1/kv/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
				keys[o->key]);
	case OP_DEL_RECURSE:
		return snprintf(req, cap,
				"DELETE /v1/kv/%s?recurse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
				o->prefix);
	case OP_TXN: {
		char body[256];
		int bn = snprintf(body, sizeof body,
				  "{\"success\":[{\"op\":\"put\",\"key\":\"%s\",\"value\":\"%s\"},"
				  "{\"op\":\"delete\",\"key\":\"%s\"}]}",
				  keys[o->key], o->value, keys[o->key2]);
		return snprintf(req, cap,
				"POST /v1/txn HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				bn, body);
	}
	}
	return -1;
}

static void op_describe(const struct op *o, char *s, size_t cap)
{
	if (o->kind == OP_DEL_RECURSE)
		snprintf(s, cap, "%s '%s' via node %d", op_names[o->kind], o->prefix, o->node + 1);
	else if (o->kind == OP_TXN)
		snprintf(s, cap, "TXN put '%s'='%s' delete '%s' via node %d", keys[o->key],
			 o->value, keys[o->key2], o->node + 1);
	else if (o->kind == OP_DEL)
		snprintf(s, cap, "DELETE '%s' via node %d", keys[o->key], o->node + 1);
	else
		snprintf(s, cap, "%s '%s'='%s' via node %d", op_names[o->kind], keys[o->key],
			 o->value, o->node + 1);
}

static atomic_bool writers_go;
static uint64_t run_deadline; /* no write is sent after it */

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t x = seed * 31 + (uint64_t)w->id * 104729 + 5;
	int burst = 0;
	char req[1024];
	for (int i = 0; i < MAX_NODES; i++)
		w->fds[i] = -1;
	for (int j = 0; j < w->n; j++) {
		struct op *o = &w->ops[j];
		if (hc_now_us() > run_deadline) {
			problem("writer %d: the run's deadline passed; %d writes not sent", w->id,
				w->n - j);
			for (; j < w->n; j++)
				w->ops[j].status = -1;
			break;
		}
		int rl = build_write(o, req, sizeof req);
		if (w->fds[o->node] < 0) {
			w->fds[o->node] = hc_connect(&nodes[o->node], false);
			if (w->fds[o->node] < 0) {
				problem("writer %d: cannot connect to node %d: %s", w->id,
					o->node + 1, strerror(errno));
				o->status = -1;
				continue;
			}
		}
		struct hc_resp r;
		o->t_send = hc_now_us();
		if (j > 0 && w->ops[j - 1].quiet)
			w->ops[j - 1].t_next = o->t_send;
		if (hc_roundtrip(w->fds[o->node], req, (size_t)rl, &w->buf, &r, 6000 * slow) != 0) {
			char d[160];
			op_describe(o, d, sizeof d);
			problem("writer %d: %s: no answer (%s): outcome unknown", w->id, d,
				strerror(errno));
			o->status = -1;
			close(w->fds[o->node]);
			w->fds[o->node] = -1;
			w->buf.len = 0;
			continue;
		}
		o->t_ack = hc_now_us();
		o->status = r.status;
		o->index = r.has_index ? r.index : 0;
		o->body = malloc(r.body_len + 1);
		if (o->body == NULL)
			abort();
		memcpy(o->body, r.body, r.body_len);
		o->body[r.body_len] = '\0';
		o->body_len = r.body_len;
		hc_buf_consume(&w->buf, r.total);
		if (r.close) {
			close(w->fds[o->node]);
			w->fds[o->node] = -1;
			w->buf.len = 0;
		}
		/* Pacing: mostly a random gap, sometimes a burst without one. */
		if (o->quiet) {
			sleep_ms(w->pause_ms);
			o->t_next = hc_now_us();
		} else if (burst > 0) {
			burst--;
		} else if (rnd(&x) % 100 < 8) {
			burst = 5;
		} else if (gap_ms > 0) {
			sleep_ms((int)(rnd(&x) % (uint64_t)(2 * gap_ms + 1)));
		}
	}
	for (int i = 0; i < MAX_NODES; i++)
		if (w->fds[i] >= 0)
			close(w->fds[i]);
	hc_buf_free(&w->buf);
	return NULL;
}

/* ---- the model ---- */

struct kstate {
	bool exists;
	const char *value;
	uint64_t create, modify, version;
};

struct step {
	struct op *op;
	uint64_t index;
	struct kstate after[N_KEYS];
	bool changed[N_KEYS];
};

static struct step *steps; /* sorted by index */
static size_t n_steps;

static int cmp_step(const void *a, const void *b)
{
	const struct step *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static bool entry_matches(const char *body, size_t len, const struct kstate *k)
{
	return hc_json_u64(body, len, "create_index") == (int64_t)k->create &&
	       hc_json_u64(body, len, "modify_index") == (int64_t)k->modify &&
	       hc_json_u64(body, len, "version") == (int64_t)k->version;
}

static void op_put(struct kstate *st, bool *changed, int key, const char *value, uint64_t idx)
{
	struct kstate *k = &st[key];
	if (k->exists) {
		k->version++;
	} else {
		k->exists = true;
		k->create = idx;
		k->version = 1;
	}
	k->value = value;
	k->modify = idx;
	changed[key] = true;
}

static int op_delete(struct kstate *st, bool *changed, int key)
{
	if (!st[key].exists)
		return 0;
	memset(&st[key], 0, sizeof st[key]);
	changed[key] = true;
	return 1;
}

/* Replays the writes in index order; checks each answer against it. */
static void build_model(struct writer *ws, int n_ws, bool report)
{
#define MP(...)                               \
	do {                                  \
		if (report)                   \
			problem(__VA_ARGS__); \
	} while (0)
	size_t total = 0;
	for (int i = 0; i < n_ws; i++)
		total += (size_t)ws[i].n;
	free(steps);
	n_steps = 0;
	steps = calloc(total, sizeof *steps);
	if (steps == NULL)
		abort();
	for (int i = 0; i < n_ws; i++)
		for (int j = 0; j < ws[i].n; j++) {
			struct op *o = &ws[i].ops[j];
			if (o->status <= 0)
				continue; /* unknown outcome: reported already */
			steps[n_steps].op = o;
			steps[n_steps].index = o->index;
			n_steps++;
		}
	qsort(steps, n_steps, sizeof *steps, cmp_step);
	struct kstate st[N_KEYS];
	memset(st, 0, sizeof st);
	for (size_t s = 0; s < n_steps; s++) {
		struct step *sp = &steps[s];
		struct op *o = sp->op;
		char d[200];
		op_describe(o, d, sizeof d);
		if (sp->index == 0 || (s > 0 && steps[s - 1].index == sp->index))
			MP("write %s: index %" PRIu64 " is 0 or taken twice", d, sp->index);
		int64_t body_index = hc_json_u64(o->body, o->body_len, "index");
		if (o->status == 200 && body_index != (int64_t)sp->index)
			MP("write %s: body index %" PRId64 " but X-Cairn-Index %" PRIu64, d,
			   body_index, sp->index);
		switch (o->kind) {
		case OP_PUT:
		case OP_PUT_CAS0:
			if (o->kind == OP_PUT_CAS0 && st[o->key].exists) {
				if (o->status != 409 ||
				    strstr(o->body, "\"code\":\"cas_failed\"") == NULL)
					MP("write %s at %" PRIu64
					   ": the key exists, expected 409 cas_failed, got %d %s",
					   d, sp->index, o->status, o->body);
				break;
			}
			op_put(st, sp->changed, o->key, o->value, sp->index);
			if (o->status != 200 || !entry_matches(o->body, o->body_len, &st[o->key]))
				MP("write %s at %" PRIu64
				   ": expected 200 with create_index %" PRIu64
				   " modify_index %" PRIu64 " version %" PRIu64 ", got %d %s",
				   d, sp->index, st[o->key].create, st[o->key].modify,
				   st[o->key].version, o->status, o->body);
			break;
		case OP_PUT_CASBAD:
			if (o->status != 409 || strstr(o->body, "\"code\":\"cas_failed\"") == NULL)
				MP("write %s: expected 409 cas_failed, got %d %s", d, o->status,
				   o->body);
			break;
		case OP_DEL: {
			int n = op_delete(st, sp->changed, o->key);
			if (o->status != 200 || hc_json_u64(o->body, o->body_len, "deleted") != n)
				MP("write %s at %" PRIu64 ": expected 200 deleted %d, got %d %s", d,
				   sp->index, n, o->status, o->body);
			break;
		}
		case OP_DEL_RECURSE: {
			int n = 0;
			for (size_t k = 0; k < N_KEYS; k++)
				if (strncmp(keys[k], o->prefix, strlen(o->prefix)) == 0)
					n += op_delete(st, sp->changed, (int)k);
			if (o->status != 200 || hc_json_u64(o->body, o->body_len, "deleted") != n)
				MP("write %s at %" PRIu64 ": expected 200 deleted %d, got %d %s", d,
				   sp->index, n, o->status, o->body);
			break;
		}
		case OP_TXN: {
			op_put(st, sp->changed, o->key, o->value, sp->index);
			struct kstate put = st[o->key];
			int n = op_delete(st, sp->changed, o->key2);
			if (o->status != 200 || strstr(o->body, "\"succeeded\":true") == NULL ||
			    !entry_matches(o->body, o->body_len, &put) ||
			    hc_json_u64(o->body, o->body_len, "deleted") != n)
				MP("write %s at %" PRIu64
				   ": expected 200 succeeded, the put's entry at create_index "
				   "%" PRIu64 " version %" PRIu64 ", deleted %d; got %d %s",
				   d, sp->index, put.create, put.version, n, o->status, o->body);
			break;
		}
		}
		memcpy(sp->after, st, sizeof st);
	}
#undef MP
}

/* The state after every write with index <= x (NULL: before any). */
static const struct kstate *state_at(uint64_t x)
{
	size_t lo = 0, hi = n_steps; /* first step with index > x */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (steps[mid].index <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? NULL : steps[lo - 1].after;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(keys[*(const int *)a], keys[*(const int *)b]);
}

/* What cairnd answers for spec s in state st: the body into out; returns
 * the status (200, or 404 for a single missing key). */
static int render(const struct spec *s, const struct kstate *st, char *out, size_t cap)
{
	static const struct kstate none;
	int order[N_KEYS], n = 0;
	for (size_t k = 0; k < N_KEYS; k++)
		if (covers(s, keys[k]) && st != NULL && st[k].exists)
			order[n++] = (int)k;
	qsort(order, (size_t)n, sizeof order[0], cmp_key);
	size_t len = 0;
#define ADD(...) len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, __VA_ARGS__)
	if (s->mode == M_KEY) {
		if (n == 0) {
			out[0] = '\0';
			return 404;
		}
	} else {
		ADD("[");
	}
	for (int i = 0; i < n; i++) {
		const struct kstate *k = st ? &st[order[i]] : &none;
		if (i > 0)
			ADD(",");
		if (s->mode == M_KEYS)
			ADD("\"%s\"", keys[order[i]]);
		else
			ADD("{\"key\":\"%s\",\"value\":\"%s\",\"create_index\":%" PRIu64
			    ",\"modify_index\":%" PRIu64 ",\"version\":%" PRIu64
			    ",\"session\":\"\"}",
			    keys[order[i]], k->value, k->create, k->modify, k->version);
	}
	if (s->mode != M_KEY)
		ADD("]");
#undef ADD
	return 200;
}

/* ---- watchers ---- */

struct obs {
	uint64_t sent; /* the index asked with; UINT64_MAX: the first, plain GET */
	uint64_t x;
	uint64_t t_send, t_recv;
	int status;
	char *body;
};

struct watcher {
	int id;
	const struct spec *spec;
	int node;
	bool stale;
	int wait_ms;
	pthread_t th;
	_Atomic int fd;
	atomic_uint_fast64_t last_x;
	atomic_bool started; /* its first answer is in */
	atomic_bool failed;  /* stopped on an error */
	struct obs *obs;
	size_t n_obs, cap_obs;
	int reconnects;
	int retries; /* 503 answers retried */
};

static atomic_bool stopping;

static int build_get(const struct watcher *w, bool blocking, uint64_t index, char *req, size_t cap)
{
	char q[160];
	size_t ql = 0;
	q[0] = '\0';
#define QADD(s) ql += (size_t)snprintf(q + ql, sizeof q - ql, "%s%s", ql ? "&" : "?", s)
	if (w->spec->mode == M_RECURSE)
		QADD("recurse");
	if (w->spec->mode == M_KEYS)
		QADD("keys");
	if (w->stale)
		QADD("stale");
	if (blocking) {
		char b[64];
		snprintf(b, sizeof b, "index=%" PRIu64 "&wait=%dms", index, w->wait_ms);
		QADD(b);
	}
#undef QADD
	return snprintf(req, cap, "GET /v1/kv/%s%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
			w->spec->key, q);
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;
	struct hc_buf buf = {0};
	char req[512];
	bool first = true;
	uint64_t x = 0;
	while (!atomic_load(&stopping)) {
		if (atomic_load(&w->fd) < 0) {
			int fd = hc_connect(&nodes[w->node], false);
			if (fd < 0) {
				problem("watcher %d: cannot connect to node %d: %s", w->id,
					w->node + 1, strerror(errno));
				break;
			}
			atomic_store(&w->fd, fd);
			buf.len = 0;
		}
		int rl = build_get(w, !first, x, req, sizeof req);
		struct hc_resp r;
		uint64_t t0 = hc_now_us();
		int rc = hc_roundtrip(atomic_load(&w->fd), req, (size_t)rl, &buf, &r,
				      w->wait_ms + 5000 * slow);
		if (atomic_load(&stopping))
			break;
		if (rc != 0) {
			problem("watcher %d (%s %s on node %d): no answer to %.*s within %d ms: %s",
				w->id, w->spec->key, mode_name(w->spec->mode), w->node + 1,
				(int)(strchr(req, '\r') - req), req, w->wait_ms + 5000 * slow,
				strerror(errno));
			break;
		}
		if (r.status == 503 && w->retries < 200) {
			/* No leader for the moment (an election): a client retries. */
			w->retries++;
			hc_buf_consume(&buf, r.total);
			if (r.close)
				close(atomic_exchange(&w->fd, -1));
			sleep_ms(50);
			continue;
		}
		if (w->n_obs == w->cap_obs) {
			w->cap_obs = w->cap_obs ? w->cap_obs * 2 : 64;
			w->obs = realloc(w->obs, w->cap_obs * sizeof *w->obs);
			if (w->obs == NULL)
				abort();
		}
		struct obs *o = &w->obs[w->n_obs];
		o->sent = first ? UINT64_MAX : x;
		o->t_send = t0;
		o->t_recv = hc_now_us();
		o->status = r.status;
		o->x = r.has_index ? r.index : UINT64_MAX;
		o->body = malloc(r.body_len + 1);
		if (o->body == NULL)
			abort();
		memcpy(o->body, r.body, r.body_len);
		o->body[r.body_len] = '\0';
		w->n_obs++;
		hc_buf_consume(&buf, r.total);
		if (r.close) {
			close(atomic_exchange(&w->fd, -1));
			w->reconnects++;
		}
		if (!r.has_index || (r.status != 200 && r.status != 404)) {
			problem(
			    "watcher %d (%s %s on node %d): answer %d without a usable index: %s",
			    w->id, w->spec->key, mode_name(w->spec->mode), w->node + 1, r.status,
			    o->body);
			break;
		}
		x = r.index;
		atomic_store(&w->last_x, x);
		first = false;
		atomic_store(&w->started, true);
	}
	atomic_store(&w->failed, !atomic_load(&stopping));
	atomic_store(&w->started, true);
	hc_buf_free(&buf);
	return NULL;
}

/* ---- checks ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t *lat; /* wake latencies, us */
static size_t n_lat, cap_lat;

struct spec_stats {
	int watchers;
	size_t answers, wakes, timeouts, changes, ignored;
	uint64_t max_lat;
};

static void check_watcher(struct watcher *w, struct spec_stats *ss, uint64_t bound_us)
{
	char where[160], want[16384];
	snprintf(where, sizeof where, "watcher %d (%s'%s' %s, node %d%s, wait %dms)", w->id, "",
		 w->spec->key, mode_name(w->spec->mode), w->node + 1, w->stale ? " stale" : "",
		 w->wait_ms);
	/* I(W): indexes (and answer times) of the writes that change C(W). */
	size_t n_changes = 0;
	struct step **ch = calloc(n_steps + 1, sizeof *ch);
	if (ch == NULL)
		abort();
	for (size_t s = 0; s < n_steps; s++) {
		bool c = false;
		for (size_t k = 0; k < N_KEYS; k++)
			if (steps[s].changed[k] && covers(w->spec, keys[k]))
				c = true;
		if (c)
			ch[n_changes++] = &steps[s];
	}
	ss->changes += n_changes;
	ss->ignored += n_steps - n_changes;
	if (w->n_obs == 0) {
		problem("%s: no answer at all", where);
		free(ch);
		return;
	}
	for (size_t k = 0; k < w->n_obs; k++) {
		struct obs *o = &w->obs[k];
		ss->answers++;
		/* 1: the index is a change of what W covers (or 0). */
		bool known = o->x == 0;
		for (size_t c = 0; c < n_changes && !known; c++)
			known = ch[c]->index == o->x;
		if (!known) {
			const struct step *sp = NULL;
			for (size_t s = 0; s < n_steps; s++)
				if (steps[s].index == o->x)
					sp = &steps[s];
			char d[200] = "no write of the test";
			if (sp != NULL)
				op_describe(sp->op, d, sizeof d);
			problem("%s: answer %zu has X-Cairn-Index %" PRIu64
				", which changed nothing it covers (%s)",
				where, k, o->x, d);
		}
		/* 2: the body is the state at that index. */
		int want_status = render(w->spec, state_at(o->x), want, sizeof want);
		if (o->status != want_status ||
		    (want_status == 200 && strcmp(o->body, want) != 0) ||
		    (want_status == 404 && strstr(o->body, "\"code\":\"not_found\"") == NULL))
			problem("%s: answer %zu (index %" PRIu64 "): got %d %s\n    want %d %s",
				where, k, o->x, o->status, o->body, want_status,
				want_status == 404 ? "(not_found)" : want);
		/* 3: no spurious wake-up. */
		if (o->sent != UINT64_MAX) {
			uint64_t took = o->t_recv - o->t_send;
			if (o->x < o->sent) {
				problem("%s: answer %zu went back: asked index %" PRIu64
					", answered %" PRIu64,
					where, k, o->sent, o->x);
			} else if (o->x == o->sent) {
				ss->timeouts++;
				if (took + 50000 < (uint64_t)w->wait_ms * 1000)
					problem("%s: answer %zu: woken with the same index %" PRIu64
						" after %" PRIu64 " ms, before its wait of %d ms "
						"(a spurious wake-up)",
						where, k, o->x, took / 1000, w->wait_ms);
				/* A timeout must not hide a change acknowledged long before. */
				for (size_t c = 0; c < n_changes; c++) {
					uint64_t lim =
					    ch[c]->op->quiet ? (uint64_t)pause_ms * 500 : bound_us;
					if (ch[c]->index <= o->x ||
					    ch[c]->op->t_ack + lim >= o->t_recv)
						continue;
					char d[200];
					op_describe(ch[c]->op, d, sizeof d);
					problem("%s: answer %zu timed out at index %" PRIu64
						" although %s (index %" PRIu64
						") was acknowledged %" PRIu64 " ms before",
						where, k, o->x, d, ch[c]->index,
						(o->t_recv - ch[c]->op->t_ack) / 1000);
					break;
				}
			} else {
				ss->wakes++;
			}
		}
		if (k > 0 && o->x < w->obs[k - 1].x)
			problem("%s: answer %zu: index %" PRIu64 " after %" PRIu64, where, k, o->x,
				w->obs[k - 1].x);
	}
	/* 4: none missed, in time. */
	for (size_t c = 0; c < n_changes; c++) {
		const struct step *sp = ch[c];
		size_t k = 0;
		while (k < w->n_obs && w->obs[k].x < sp->index)
			k++;
		char d[200];
		op_describe(sp->op, d, sizeof d);
		if (k == w->n_obs) {
			problem("%s: never saw %s (index %" PRIu64
				"); its last answer has index %" PRIu64,
				where, d, sp->index, w->obs[w->n_obs - 1].x);
			continue;
		}
		uint64_t t = w->obs[k].t_recv;
		uint64_t l = t > sp->op->t_ack ? t - sp->op->t_ack : 0;
		if (l > bound_us)
			problem("%s: saw %s (index %" PRIu64 ") only %" PRIu64
				" ms after it was acknowledged",
				where, d, sp->index, l / 1000);
		else if (sp->op->quiet && t > sp->op->t_next)
			problem("%s: quiet phase: did not wake on %s (index %" PRIu64
				") before the next write, %" PRIu64 " ms after it was acknowledged "
				"(answered %" PRIu64 " ms after)",
				where, d, sp->index, (sp->op->t_next - sp->op->t_ack) / 1000,
				l / 1000);
		if (l > ss->max_lat)
			ss->max_lat = l;
		if (n_lat == cap_lat) {
			cap_lat = cap_lat ? cap_lat * 2 : 1024;
			lat = realloc(lat, cap_lat * sizeof *lat);
			if (lat == NULL)
				abort();
		}
		lat[n_lat++] = l;
	}
	uint64_t final = n_changes ? ch[n_changes - 1]->index : 0;
	if (w->obs[w->n_obs - 1].x != final)
		problem("%s: last answer has index %" PRIu64 ", the last change to what it covers "
			"is at %" PRIu64,
			where, w->obs[w->n_obs - 1].x, final);
	free(ch);
}

/* Until every watcher has reached the last change to what it covers
 * (bounded by bound_us + 1 s); final[] gets those indexes. */
static void wait_caught_up(struct watcher *ws, uint64_t *final, uint64_t bound_us)
{
	for (int i = 0; i < n_watchers; i++) {
		final[i] = 0;
		for (size_t s = 0; s < n_steps; s++)
			for (size_t k = 0; k < N_KEYS; k++)
				if (steps[s].changed[k] && covers(ws[i].spec, keys[k]))
					final[i] = steps[s].index;
	}
	uint64_t dl = hc_now_us() + bound_us + 1000000;
	for (;;) {
		int behind = 0;
		for (int i = 0; i < n_watchers; i++)
			if (!atomic_load(&ws[i].failed) && atomic_load(&ws[i].last_x) < final[i])
				behind++;
		if (behind == 0 || hc_now_us() > dl)
			break;
		sleep_ms(10);
	}
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: watchers --api H:P[,H:P...] [--watchers N] [--writers N] "
			"[--ops N] [--gap-ms N] [--seed N] [--slow N] [--txn 0|1] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--verbose") == 0) {
			verbose = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--api") == 0) {
			char *save = NULL;
			api_list = strdup(v);
			char *list = api_list;
			for (char *t = strtok_r(list, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (n_nodes == MAX_NODES ||
				    hc_parse_addr(t, &nodes[n_nodes]) != 0) {
					fprintf(stderr, "watchers: bad address '%s'\n", t);
					return 2;
				}
				node_names[n_nodes++] = t;
			}
		} else if (strcmp(a, "--watchers") == 0) {
			n_watchers = atoi(v);
		} else if (strcmp(a, "--writers") == 0) {
			n_writers = atoi(v);
		} else if (strcmp(a, "--ops") == 0) {
			n_ops = atoi(v);
		} else if (strcmp(a, "--gap-ms") == 0) {
			gap_ms = atoi(v);
		} else if (strcmp(a, "--seed") == 0) {
			seed = strtoull(v, NULL, 10);
		} else if (strcmp(a, "--slow") == 0) {
			slow = atoi(v);
		} else if (strcmp(a, "--txn") == 0) {
			use_txn = atoi(v) != 0;
		} else {
			usage();
		}
	}
	if (n_nodes == 0 || n_watchers < 1 || n_watchers > 2000 || n_writers < 1 ||
	    n_writers > 64 || n_ops < 4 || slow < 1 || gap_ms < 0)
		usage();
	uint64_t bound_us = 2000000ull * (uint64_t)slow;
	run_deadline = hc_now_us() + 40000000ull * (uint64_t)slow;
	/* Long enough for a follower to apply and answer, shorter than the
	 * 1 s wait (a timeout could hide a missed wake-up). */
	pause_ms = 250 * slow < 500 ? 250 * slow : 500;
	uint64_t t_start = hc_now_us();

	struct watcher *ws = calloc((size_t)n_watchers, sizeof *ws);
	struct writer *wr = calloc((size_t)n_writers + 1, sizeof *wr);
	if (ws == NULL || wr == NULL)
		abort();
	for (int i = 0; i < n_watchers; i++) {
		struct watcher *w = &ws[i];
		int s = i % (int)N_SPECS, r = i / (int)N_SPECS;
		w->id = i;
		w->spec = &specs[s];
		w->node = (s + r) % n_nodes;
		w->stale = r % 3 == 1;
		w->wait_ms = r % 5 == 4 ? 1000 : 30000;
		atomic_init(&w->fd, -1);
		atomic_init(&w->last_x, 0);
		if (pthread_create(&w->th, NULL, watcher_main, w) != 0) {
			fprintf(stderr, "watchers: pthread_create failed\n");
			return 2;
		}
	}
	/* Every watcher has its first answer and is (about to be) parked. */
	uint64_t dl = hc_now_us() + 10000000ull * (uint64_t)slow;
	for (int i = 0; i < n_watchers; i++)
		while (!atomic_load(&ws[i].started) && hc_now_us() < dl)
			sleep_ms(5);
	sleep_ms(300);
	printf("watchers: %d watchers on %d nodes started in %" PRIu64 " ms; %d writers x %d "
	       "writes%s\n",
	       n_watchers, n_nodes, (hc_now_us() - t_start) / 1000, n_writers, n_ops,
	       use_txn ? " (with transactions)" : "");

	uint64_t t_w0 = hc_now_us();
	for (int i = 0; i <= n_writers; i++) {
		wr[i].id = i;
		wr[i].n = i < n_writers ? n_ops : (int)N_QUIET;
		wr[i].ops = calloc((size_t)wr[i].n, sizeof *wr[i].ops);
		if (wr[i].ops == NULL)
			abort();
		if (i < n_writers)
			gen_ops(&wr[i]);
		else
			gen_quiet_ops(&wr[i]);
	}
	wr[n_writers].pause_ms = pause_ms;
	atomic_store(&writers_go, true);
	for (int i = 0; i < n_writers; i++)
		if (pthread_create(&wr[i].th, NULL, writer_main, &wr[i]) != 0) {
			fprintf(stderr, "watchers: pthread_create failed\n");
			return 2;
		}
	for (int i = 0; i < n_writers; i++)
		pthread_join(wr[i].th, NULL);
	uint64_t t_w1 = hc_now_us();
	build_model(wr, n_writers, false);
	printf("watchers: %zu writes acknowledged in %" PRIu64 " ms (indexes %" PRIu64 "..%" PRIu64
	       ")\n",
	       n_steps, (t_w1 - t_w0) / 1000, n_steps ? steps[0].index : 0,
	       n_steps ? steps[n_steps - 1].index : 0);
	uint64_t *final = calloc((size_t)n_watchers, sizeof *final);
	if (final == NULL)
		abort();
	wait_caught_up(ws, final, bound_us);

	/* The quiet phase: one write at a time. */
	if (pthread_create(&wr[n_writers].th, NULL, writer_main, &wr[n_writers]) != 0) {
		fprintf(stderr, "watchers: pthread_create failed\n");
		return 2;
	}
	pthread_join(wr[n_writers].th, NULL);
	build_model(wr, n_writers + 1, true);
	printf("watchers: then %zu single writes, %d ms apart (each must wake whom it concerns "
	       "before the next)\n",
	       N_QUIET, pause_ms);
	wait_caught_up(ws, final, bound_us);
	atomic_store(&stopping, true);
	for (int i = 0; i < n_watchers; i++) {
		int fd = atomic_load(&ws[i].fd);
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
	for (int i = 0; i < n_watchers; i++) {
		pthread_join(ws[i].th, NULL);
		int fd = atomic_exchange(&ws[i].fd, -1);
		if (fd >= 0)
			close(fd);
	}

	/* The checks. */
	struct spec_stats ss[N_SPECS];
	memset(ss, 0, sizeof ss);
	for (int i = 0; i < n_watchers; i++) {
		struct spec_stats *s = &ss[ws[i].spec - specs];
		s->watchers++;
		check_watcher(&ws[i], s, bound_us);
	}
	size_t n_unrelated = 0, n_failed_cas = 0, n_del_nothing = 0;
	for (size_t s = 0; s < n_steps; s++) {
		bool any = false;
		for (size_t k = 0; k < N_KEYS; k++)
			any |= steps[s].changed[k];
		if (!any)
			(steps[s].op->kind == OP_PUT_CASBAD || steps[s].op->kind == OP_PUT_CAS0)
			    ? n_failed_cas++
			    : n_del_nothing++;
		else if (steps[s].op->kind == OP_PUT && steps[s].op->key >= FIRST_UNRELATED)
			n_unrelated++;
	}
	printf("watchers: writes: %zu in all, %zu to keys only the root watcher covers, %zu failed "
	       "CAS, %zu deletes of nothing\n",
	       n_steps, n_unrelated, n_failed_cas, n_del_nothing);
	printf("  %-22s %3s %8s %7s %8s %8s %10s %9s\n", "watched", "n", "answers", "wakes",
	       "timeouts", "changes", "ignored", "max lat");
	for (size_t s = 0; s < N_SPECS; s++) {
		char name[64];
		snprintf(name, sizeof name, "'%s' %s", specs[s].key, mode_name(specs[s].mode));
		printf("  %-22s %3d %8zu %7zu %8zu %8zu %10zu %6" PRIu64 " ms\n", name,
		       ss[s].watchers, ss[s].answers, ss[s].wakes, ss[s].timeouts, ss[s].changes,
		       ss[s].ignored, ss[s].max_lat / 1000);
	}
	printf(
	    "  (per spec, summed over its watchers: changes = writes that changed what it covers,\n"
	    "   ignored = writes that did not and must not wake it; every wake-up moved the "
	    "index)\n");
	if (n_lat > 0) {
		qsort(lat, n_lat, sizeof *lat, cmp_u64);
		printf(
		    "watchers: latency from a write's answer to the first watcher answer showing "
		    "it, over %zu (watcher, change) pairs: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		    n_lat, (double)lat[n_lat / 2] / 1000, (double)lat[(n_lat * 99) / 100] / 1000,
		    (double)lat[n_lat - 1] / 1000);
	}
	int retries = 0;
	for (int i = 0; i < n_watchers; i++)
		retries += ws[i].retries;
	if (retries > 0)
		printf("watchers: %d answers were 503 (no leader for a moment) and retried\n",
		       retries);
	if (verbose)
		for (int i = 0; i < n_watchers; i++)
			printf("  watcher %d: %zu answers, last index %" PRIu64 " (final %" PRIu64
			       "), %d reconnects\n",
			       i, ws[i].n_obs, ws[i].n_obs ? ws[i].obs[ws[i].n_obs - 1].x : 0,
			       final[i], ws[i].reconnects);
	if (problems == 0)
		printf("watchers: PASS\n");
	else
		printf("watchers: FAIL (%d problems)\n", problems);
	/* Everything back (a sanitizer build checks for leaks). */
	for (int i = 0; i < n_watchers; i++) {
		for (size_t k = 0; k < ws[i].n_obs; k++)
			free(ws[i].obs[k].body);
		free(ws[i].obs);
	}
	for (int i = 0; i <= n_writers; i++) {
		for (int j = 0; j < wr[i].n; j++)
			free(wr[i].ops[j].body);
		free(wr[i].ops);
	}
	free(ws);
	free(wr);
	free(final);
	free(steps);
	free(lat);
	free(api_list);
	return problems == 0 ? 0 : 1;
}
