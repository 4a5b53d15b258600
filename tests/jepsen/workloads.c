/*
 * workloads: the registry of workloads, the runtime their run side shares
 * (connections, process ids, recording, the ok/fail/info rules) and the
 * helpers their checkers share (counting, printing ops).
 *
 * Invariants: a client has at most one op open; wl_invoke stamps the
 * invoke before the request is sent and wl_complete stamps the completion
 * after the answer arrived (history.h); a process that got an info
 * completion is never used again.
 */
#include "workload.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_NODES (HIST_MAX_NODE + 1)
#define REQ_HEAD_MAX 1024

/* ---- the registry ---- */

const struct workload *const wl_all[] = {&wl_register, &wl_set, NULL};

const struct workload *wl_find(const char *name)
{
	for (size_t i = 0; wl_all[i] != NULL; i++)
		if (strcmp(wl_all[i]->name, name) == 0)
			return wl_all[i];
	return NULL;
}

const char *check_verdict_name(enum check_verdict v)
{
	switch (v) {
	case CHECK_VALID:
		return "valid";
	case CHECK_INVALID:
		return "invalid";
	case CHECK_UNKNOWN:
		return "unknown";
	}
	return "?";
}

/* ---- the runtime ---- */

static struct {
	struct hist_writer *hist;
	struct sockaddr_in nodes[MAX_NODES];
	int n_nodes;
	int op_timeout_ms;
	atomic_uint_least64_t next_process;
	atomic_int_least64_t next_value;
	atomic_bool aborted;
	atomic_uint_least64_t ops, ok, fail, info, unexpected;
} rt;

void wl_runtime_init(struct hist_writer *h, const struct sockaddr_in *nodes, int n,
		     int op_timeout_ms, uint64_t first_free)
{
	assert(n > 0 && n <= MAX_NODES);
	rt.hist = h;
	memcpy(rt.nodes, nodes, (size_t)n * sizeof *nodes);
	rt.n_nodes = n;
	rt.op_timeout_ms = op_timeout_ms;
	atomic_store(&rt.next_process, first_free);
	atomic_store(&rt.next_value, 1);
	atomic_store(&rt.aborted, false);
}

void wl_runtime_end(void)
{
	rt.hist = NULL;
}

void wl_abort(void)
{
	atomic_store(&rt.aborted, true);
}

bool wl_aborted(void)
{
	return atomic_load(&rt.aborted);
}

uint64_t wl_new_process(void)
{
	return atomic_fetch_add(&rt.next_process, 1);
}

int64_t wl_next_value(void)
{
	return atomic_fetch_add(&rt.next_value, 1);
}

/* splitmix64: one step of a seeded, well-mixed sequence. */
uint64_t wl_rand(struct wl_client *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void wl_client_init(struct wl_client *c, int thread, int node, uint64_t process, uint64_t seed)
{
	memset(c, 0, sizeof *c);
	assert(node >= 0 && node < rt.n_nodes);
	c->thread = thread;
	c->node = node;
	c->process = process;
	c->rng = seed;
	c->fd = -1;
}

static void drop_conn(struct wl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void wl_client_close(struct wl_client *c)
{
	assert(!c->open);
	drop_conn(c);
	hc_buf_free(&c->buf);
}

void wl_totals(struct wl_totals *out)
{
	out->ops = atomic_load(&rt.ops);
	out->ok = atomic_load(&rt.ok);
	out->fail = atomic_load(&rt.fail);
	out->info = atomic_load(&rt.info);
	out->unexpected = atomic_load(&rt.unexpected);
}

/* ---- recording ---- */

void wl_invoke(struct wl_client *c, const char *f, const char *key, int64_t a, int64_t b)
{
	assert(!c->open);
	assert(strlen(f) <= HIST_MAX_F && strlen(key) <= HIST_MAX_KEY);
	strcpy(c->f, f);
	strcpy(c->key, key);
	c->a = a;
	c->b = b;
	c->open = true;
	struct hist_event e = {c->process, HIST_INVOKE, f, key, a, b, c->node, NULL};
	hist_write(rt.hist, &e, 1);
}

static void count(enum hist_type type, const char *note)
{
	atomic_fetch_add(&rt.ops, 1);
	if (type == HIST_OK)
		atomic_fetch_add(&rt.ok, 1);
	else if (type == HIST_FAIL)
		atomic_fetch_add(&rt.fail, 1);
	else
		atomic_fetch_add(&rt.info, 1);
	if (note != NULL && strncmp(note, "unexpected", 10) == 0)
		atomic_fetch_add(&rt.unexpected, 1);
}

void wl_complete(struct wl_client *c, enum hist_type type, int64_t a, int64_t b, const char *note)
{
	assert(c->open && (type == HIST_OK || type == HIST_FAIL || type == HIST_INFO));
	struct hist_event e = {c->process, type, c->f, c->key, a, b, c->node, note};
	hist_write(rt.hist, &e, 1);
	c->open = false;
	count(type, note);
	if (type == HIST_INFO)
		c->process = wl_new_process();
}

/* An event of c's open op. */
static struct hist_event event_of(const struct wl_client *c, enum hist_type type, int64_t a,
				  const char *note)
{
	return (struct hist_event){.process = c->process,
				   .type = type,
				   .f = c->f,
				   .key = c->key,
				   .a = a,
				   .b = HIST_NONE,
				   .node = c->node,
				   .note = note};
}

void wl_complete_elems(struct wl_client *c, const struct hist_elem *els, size_t n, const char *note)
{
	assert(c->open);
	struct hist_event *evs = malloc((n + 1) * sizeof *evs);
	if (evs == NULL) {
		/* Cannot record the listing: say so rather than record less. */
		wl_complete(c, HIST_FAIL, c->a, c->b, "out of memory recording the listing");
		return;
	}
	for (size_t i = 0; i < n; i++)
		evs[i] = event_of(c, HIST_ELEM, els[i].v, els[i].name);
	evs[n] = event_of(c, HIST_OK, (int64_t)n, note);
	hist_write(rt.hist, evs, n + 1);
	free(evs);
	c->open = false;
	count(HIST_OK, note);
}

/* ---- requests ---- */

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = hc_now_us();
	return now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
}

/* A kept-alive connection the server has closed (or sent something
 * unasked on) is not reused: sending on it would turn a request nobody
 * received into an op of unknown outcome. */
static bool conn_usable(struct wl_client *c)
{
	struct pollfd p = {c->fd, POLLIN, 0};
	return poll(&p, 1, 0) == 0;
}

/* Connects c to its node within the deadline. 0, or -1 with errno. */
static int connect_node(struct wl_client *c, uint64_t deadline)
{
	c->fd = hc_connect(&rt.nodes[c->node], true);
	if (c->fd < 0)
		return -1;
	for (;;) {
		struct pollfd p = {c->fd, POLLOUT, 0};
		int pr = poll(&p, 1, remaining_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		int e = 0;
		socklen_t len = sizeof e;
		if (pr == 0)
			e = ETIMEDOUT;
		else if (pr < 0)
			e = errno;
		else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
			e = errno;
		if (e == 0)
			return 0;
		drop_conn(c);
		errno = e;
		return -1;
	}
}

/* Copies the string value of "name":"..." in body into out (no
 * unescaping: the codes and messages this reads are plain ASCII). */
static void json_str(const char *body, size_t len, const char *name, char *out, size_t cap)
{
	char pat[32];
	int pn = snprintf(pat, sizeof pat, "\"%s\":\"", name);
	out[0] = '\0';
	for (size_t i = 0; pn > 0 && i + (size_t)pn <= len; i++) {
		if (memcmp(body + i, pat, (size_t)pn) != 0)
			continue;
		size_t j = i + (size_t)pn, n = 0;
		while (j < len && body[j] != '"' && n + 1 < cap)
			out[n++] = body[j++];
		out[n] = '\0';
		return;
	}
}

static void lost(struct wl_client *c, struct wl_reply *r, int e)
{
	r->sent = WL_LOST;
	if (e == ETIMEDOUT)
		snprintf(r->error, sizeof r->error, "timeout (client, %d ms)", rt.op_timeout_ms);
	else if (e == ECONNRESET)
		snprintf(r->error, sizeof r->error, "connection closed before the answer");
	else if (e == EPROTO)
		snprintf(r->error, sizeof r->error, "malformed answer");
	else
		snprintf(r->error, sizeof r->error, "%s", strerror(e));
	drop_conn(c);
	c->buf.len = 0;
}

void wl_request(struct wl_client *c, const char *method, const char *path, const char *body,
		size_t body_len, struct wl_reply *r)
{
	uint64_t deadline = hc_now_us() + (uint64_t)rt.op_timeout_ms * 1000u;
	memset(r, 0, sizeof *r);
	hc_buf_consume(&c->buf, c->consume);
	c->consume = 0;
	if (c->fd >= 0 && !conn_usable(c))
		drop_conn(c);
	if (c->fd < 0) {
		c->buf.len = 0;
		if (connect_node(c, deadline) != 0) {
			r->sent = WL_NOT_SENT;
			snprintf(r->error, sizeof r->error, "connect: %s", strerror(errno));
			return;
		}
	}
	size_t cap = REQ_HEAD_MAX + strlen(path) + body_len;
	char *req = malloc(cap);
	if (req == NULL) {
		r->sent = WL_NOT_SENT;
		snprintf(r->error, sizeof r->error, "out of memory");
		return;
	}
	char host[INET_ADDRSTRLEN] = "";
	inet_ntop(AF_INET, &rt.nodes[c->node].sin_addr, host, sizeof host);
	int hl = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n\r\n",
			  method, path, host, body_len);
	assert(hl > 0 && (size_t)hl + body_len <= cap);
	if (body_len > 0)
		memcpy(req + hl, body, body_len);
	struct hc_resp resp;
	int rc = hc_roundtrip(c->fd, req, (size_t)hl + body_len, &c->buf, &resp,
			      remaining_ms(deadline) > 0 ? remaining_ms(deadline) : 1);
	int e = errno;
	free(req);
	if (rc != 0) {
		lost(c, r, e);
		return;
	}
	r->sent = WL_ANSWERED;
	r->status = resp.status;
	r->body = resp.body;
	r->body_len = resp.body_len;
	c->consume = resp.total;
	if (r->status != 200) {
		json_str(resp.body, resp.body_len, "code", r->code, sizeof r->code);
		json_str(resp.body, resp.body_len, "error", r->error, sizeof r->error);
	}
	if (resp.close)
		drop_conn(c); /* the answer stays in c->buf until the next request */
}

enum hist_type wl_classify(const struct wl_reply *r, bool is_read, char *note, size_t cap)
{
	if (r->sent != WL_ANSWERED) {
		snprintf(note, cap, "%s", r->error);
		if (r->sent == WL_NOT_SENT)
			return HIST_FAIL;
		return is_read ? HIST_FAIL : HIST_INFO;
	}
	int st = r->status;
	snprintf(note, cap, "%d%s%s", st, r->code[0] ? " " : "", r->code);
	if (st == 200 || (st == 404 && is_read))
		return HIST_OK;
	if (st == 409 || (st == 503 && strcmp(r->code, "no_leader") == 0))
		return HIST_FAIL;
	if ((st == 503 && strcmp(r->code, "unknown_outcome") == 0) ||
	    (st == 504 && strcmp(r->code, "timeout") == 0))
		return is_read ? HIST_FAIL : HIST_INFO;
	/* Not an answer the API defines here: a harness or server bug. A 5xx
	 * write may still have been applied, so it stays of unknown outcome. */
	snprintf(note, cap, "unexpected %d %s: %s", st, r->code[0] ? r->code : "-", r->error);
	return st >= 500 && !is_read ? HIST_INFO : HIST_FAIL;
}

/* ---- checker helpers ---- */

void check_count(const struct history *h, struct check_stats *st)
{
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_op *op = &h->ops[i];
		st->ops++;
		if (op->type == HIST_OK)
			st->ok++;
		else if (op->type == HIST_FAIL)
			st->fail++;
		else
			st->info++;
		if (hist_unexpected(op))
			st->unexpected++;
	}
}

static void fmt_time(uint64_t t, uint64_t base, char *buf, size_t cap)
{
	if (t == HIST_NEVER)
		snprintf(buf, cap, "?");
	else
		snprintf(buf, cap, "%.3fs", (double)(t - (t > base ? base : t)) / 1e6);
}

void check_print_header(FILE *report)
{
	fprintf(report, "  %2s %9s %9s  %-6s %-3s %-10s %-5s %-6s %-8s %-9s %s\n", "", "invoke",
		"return", "proc", "nd", "op", "a", "b", "result", "type", "note");
}

void check_print_op(const struct history *h, const struct hist_op *op, const char *mark,
		    FILE *report)
{
	char t0[24], t1[24], a[24], b[24];
	fmt_time(op->call_us, h->first_us, t0, sizeof t0);
	fmt_time(op->return_us, h->first_us, t1, sizeof t1);
	if (op->type == HIST_INFO && op->completed)
		snprintf(t1, sizeof t1, "info");
	else if (!op->completed)
		snprintf(t1, sizeof t1, "none");
	/* Arguments as invoked, then the result when it differs (a read). */
	hist_val(op->in_a, a, sizeof a);
	hist_val(op->in_b, b, sizeof b);
	char result[32] = "";
	if (op->type == HIST_OK && (op->a != op->in_a || op->b != op->in_b)) {
		char ra[24];
		snprintf(result, sizeof result, "-> %s", hist_val(op->a, ra, sizeof ra));
	}
	fprintf(report,
		"  %2s %9s %9s  p%-5" PRIu64 " n%-2d %-10s %-5s %-6s %-8s %-9s %s  (line %zu)\n",
		mark, t0, t1, op->process, op->node, op->f, a, b, result, hist_type_name(op->type),
		op->note, op->line);
}

void check_print_unexpected(const struct history *h, FILE *report, size_t max)
{
	size_t shown = 0, total = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (!hist_unexpected(&h->ops[i]))
			continue;
		if (total++ == 0) {
			fprintf(report, "unexpected answers (a harness or server bug):\n");
			check_print_header(report);
		}
		if (shown < max) {
			check_print_op(h, &h->ops[i], "", report);
			shown++;
		}
	}
	if (total > shown)
		fprintf(report, "  ... and %zu more\n", total - shown);
}
