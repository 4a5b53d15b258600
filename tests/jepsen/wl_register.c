/*
 * The register workload: reads, writes and compare-and-swaps on a few
 * keys at a time, checked for linearizability key by key (wgl.h).
 *
 * Run side. Keys are <prefix>r/<n>. cfg->keys slots each hold one key;
 * every invocation on a slot counts, and after cfg->ops_per_key of them the
 * slot moves on to a fresh key, so that each key's history stays small
 * enough to search. Values are unique in the run (wl_next_value), which
 * makes "who wrote what I read" unambiguous. The mix is 40% reads
 * (GET ?raw: 200 = value, 404 = nil), 30% writes (PUT) and 30% CAS
 * (POST /v1/txn comparing the value this client last saw for the key, or
 * absence when it saw none; the txn's failure branch reads the key, so a
 * failed compare teaches the client the current value). The final phase
 * reads every key ever used from every node that is up.
 *
 * Check side. Per key: the ok reads, writes and CASes, the writes and
 * CASes of unknown outcome (optional for the search), into wgl_check;
 * failed ops and reads of unknown outcome say nothing and are left out.
 * Independently, a direct stale-read test that needs no search: a read
 * that returned v although v had provably been overwritten before the
 * read began (the op that wrote v completed, then another write or
 * swapping CAS began and completed, all before the read was invoked).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wgl.h"
#include "workload.h"

#define MAX_THREADS 1024
#define MAX_SLOTS 256
#define CAS_BODY_MAX (3 * HIST_MAX_KEY + 256)
#define FINAL_TRIES 10
#define FINAL_NODE_GIVE_UP 3
#define SHOW_AROUND 5 /* ops printed either side of the one wgl got stuck on */
#define SHOW_MAX 20   /* stale reads printed */

/* ---- run side ---- */

struct seen {
	uint64_t key_id; /* the key this value belongs to (UINT64_MAX: none) */
	int64_t value;
};

static struct {
	struct wl_config cfg;
	pthread_mutex_t mu;
	uint64_t slot_key[MAX_SLOTS];
	uint64_t slot_ops[MAX_SLOTS];
	uint64_t next_key;
	struct seen *seen; /* [thread * keys + slot] */
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int reg_start(const struct wl_config *cfg, char *err, size_t errcap)
{
	if (cfg->keys < 1 || cfg->keys > MAX_SLOTS || cfg->clients > MAX_THREADS ||
	    cfg->ops_per_key < 1) {
		snprintf(err, errcap,
			 "register: keys must be 1..%d, clients at most %d, ops per key >= 1",
			 MAX_SLOTS, MAX_THREADS);
		return -1;
	}
	reg.cfg = *cfg;
	reg.seen = calloc((size_t)cfg->clients * (size_t)cfg->keys, sizeof *reg.seen);
	if (reg.seen == NULL) {
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	for (int i = 0; i < cfg->clients * cfg->keys; i++)
		reg.seen[i].key_id = UINT64_MAX;
	for (int s = 0; s < cfg->keys; s++)
		reg.slot_key[s] = (uint64_t)s;
	reg.next_key = (uint64_t)cfg->keys;
	return 0;
}

static void reg_stop(void)
{
	free(reg.seen);
	reg.seen = NULL;
}

/* Takes one invocation on slot s; returns the key to use. */
static uint64_t claim(int s)
{
	pthread_mutex_lock(&reg.mu);
	uint64_t id = reg.slot_key[s];
	if (++reg.slot_ops[s] >= (uint64_t)reg.cfg.ops_per_key) {
		reg.slot_key[s] = reg.next_key++;
		reg.slot_ops[s] = 0;
	}
	pthread_mutex_unlock(&reg.mu);
	return id;
}

static struct seen *seen_of(const struct wl_client *c, int s)
{
	return &reg.seen[c->thread * reg.cfg.keys + s];
}

static void key_name(uint64_t id, char *buf, size_t cap)
{
	snprintf(buf, cap, "%sr/%" PRIu64, reg.cfg.prefix, id);
}

/* A decimal int64 filling s[0..n) exactly. */
static bool parse_value(const char *s, size_t n, int64_t *v)
{
	char tmp[24];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	char *end;
	long long x = strtoll(tmp, &end, 10);
	if (*end != '\0' || (tmp[0] < '0' || tmp[0] > '9'))
		return false;
	*v = (int64_t)x;
	return true;
}

/* One read of key (f: read or final-read). Returns the history type. */
static enum hist_type do_read(struct wl_client *c, const char *f, const char *key, int64_t *out)
{
	char path[HIST_MAX_KEY + 32], note[HIST_MAX_NOTE];
	struct wl_reply r;
	wl_invoke(c, f, key, HIST_NONE, HIST_NONE);
	snprintf(path, sizeof path, "/v1/kv/%s?raw", key);
	wl_request(c, "GET", path, NULL, 0, &r);
	enum hist_type t = wl_classify(&r, true, note, sizeof note);
	int64_t v = HIST_NONE;
	if (t == HIST_OK && r.status == 404 && strcmp(r.code, "not_found") != 0) {
		t = HIST_FAIL;
		snprintf(note, sizeof note, "unexpected 404 without code not_found");
	} else if (t == HIST_OK && r.status == 404) {
		v = HIST_NIL;
	} else if (t == HIST_OK && !parse_value(r.body, r.body_len, &v)) {
		t = HIST_FAIL;
		snprintf(note, sizeof note, "unexpected 200 body '%.*s'",
			 (int)(r.body_len < 40 ? r.body_len : 40), r.body);
	}
	wl_complete(c, t, t == HIST_OK ? v : HIST_NONE, HIST_NONE, note);
	*out = v;
	return t;
}

static void do_write(struct wl_client *c, const char *key, struct seen *sn, uint64_t id)
{
	char path[HIST_MAX_KEY + 32], body[24], note[HIST_MAX_NOTE];
	struct wl_reply r;
	int64_t v = wl_next_value();
	wl_invoke(c, "write", key, v, HIST_NONE);
	snprintf(path, sizeof path, "/v1/kv/%s", key);
	int n = snprintf(body, sizeof body, "%" PRId64, v);
	wl_request(c, "PUT", path, body, (size_t)n, &r);
	enum hist_type t = wl_classify(&r, false, note, sizeof note);
	wl_complete(c, t, v, HIST_NONE, note);
	if (t == HIST_OK)
		*sn = (struct seen){id, v};
}

static int cas_body(char *buf, size_t cap, const char *key, int64_t from, int64_t to)
{
	char cmp[HIST_MAX_KEY + 64];
	if (from == HIST_NIL)
		snprintf(cmp, sizeof cmp, "{\"key\":\"%s\",\"absent\":true}", key);
	else
		snprintf(cmp, sizeof cmp, "{\"key\":\"%s\",\"value\":\"%" PRId64 "\"}", key, from);
	return snprintf(
	    buf, cap,
	    "{\"compare\":[%s],\"success\":[{\"op\":\"put\",\"key\":\"%s\",\"value\":\"%" PRId64
	    "\"}],\"failure\":[{\"op\":\"get\",\"key\":\"%s\"}]}",
	    cmp, key, to, key);
}

/* What a failed compare's "get" found: the key's value or nil. */
static bool current_value(const struct wl_reply *r, int64_t *v)
{
	const char *res = memmem(r->body, r->body_len, "\"results\":[", 11);
	if (res == NULL)
		return false;
	size_t off = (size_t)(res - r->body) + 11, left = r->body_len - off;
	if (left >= 4 && memcmp(r->body + off, "null", 4) == 0) {
		*v = HIST_NIL;
		return true;
	}
	const char *val = memmem(r->body + off, left, "\"value\":\"", 9);
	if (val == NULL)
		return false;
	const char *s = val + 9;
	const char *q = memchr(s, '"', r->body_len - (size_t)(s - r->body));
	return q != NULL && parse_value(s, (size_t)(q - s), v);
}

static void do_cas(struct wl_client *c, const char *key, struct seen *sn, uint64_t id)
{
	char body[CAS_BODY_MAX], note[HIST_MAX_NOTE];
	struct wl_reply r;
	int64_t from = sn->key_id == id ? sn->value : HIST_NIL;
	int64_t to = wl_next_value();
	wl_invoke(c, "cas", key, from, to);
	int n = cas_body(body, sizeof body, key, from, to);
	wl_request(c, "POST", "/v1/txn", body, (size_t)n, &r);
	enum hist_type t = wl_classify(&r, false, note, sizeof note);
	if (t == HIST_OK) {
		bool yes = memmem(r.body, r.body_len, "\"succeeded\":true", 16) != NULL;
		bool no = memmem(r.body, r.body_len, "\"succeeded\":false", 17) != NULL;
		int64_t cur;
		if (yes == no) {
			t = HIST_INFO; /* a 200 that does not say: it may have swapped */
			snprintf(note, sizeof note, "unexpected 200 without succeeded");
		} else if (yes) {
			snprintf(note, sizeof note, "swapped");
			*sn = (struct seen){id, to};
		} else {
			snprintf(note, sizeof note, "unchanged");
			if (current_value(&r, &cur))
				*sn = (struct seen){id, cur};
		}
	}
	wl_complete(c, t, from, to, note);
}

static void reg_step(struct wl_client *c)
{
	int s = (int)(wl_rand(c) % (uint64_t)reg.cfg.keys);
	uint64_t id = claim(s);
	struct seen *sn = seen_of(c, s);
	char key[HIST_MAX_KEY + 1];
	key_name(id, key, sizeof key);
	unsigned dice = (unsigned)(wl_rand(c) % 100);
	if (dice < 40) {
		int64_t v;
		if (do_read(c, "read", key, &v) == HIST_OK)
			*sn = (struct seen){id, v};
	} else if (dice < 70) {
		do_write(c, key, sn, id);
	} else {
		do_cas(c, key, sn, id);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Every key ever used, from every node given, a few tries each. A node
 * that fails FINAL_NODE_GIVE_UP keys in a row is skipped, so one bad node
 * cannot use up the deadline the others need; the checker then notices
 * keys nobody read. */
static void reg_final(struct wl_client *cl, size_t n, uint64_t deadline_us)
{
	pthread_mutex_lock(&reg.mu);
	uint64_t keys = reg.next_key;
	pthread_mutex_unlock(&reg.mu);
	for (size_t i = 0; i < n; i++) {
		int failed_in_a_row = 0;
		for (uint64_t id = 0; id < keys && failed_in_a_row < FINAL_NODE_GIVE_UP; id++) {
			char key[HIST_MAX_KEY + 1];
			key_name(id, key, sizeof key);
			int64_t v;
			bool ok = false;
			for (int t = 0; t < FINAL_TRIES && !ok; t++) {
				if (wl_aborted() || hc_now_us() >= deadline_us)
					return;
				ok = do_read(&cl[i], "final-read", key, &v) == HIST_OK;
				if (!ok)
					sleep_ms(100 << (t < 4 ? t : 4));
			}
			failed_in_a_row = ok ? 0 : failed_in_a_row + 1;
		}
	}
}

/* ---- check side ---- */

/* The ops of one key, as wgl sees them, with their history indexes. */
struct keyset {
	const struct history *h;
	const char *key;
	struct wgl_op *ops;
	size_t n;
};

static bool is_read(const struct hist_op *op)
{
	return strcmp(op->f, "read") == 0 || strcmp(op->f, "final-read") == 0;
}

static bool is_value(int64_t v)
{
	return v != HIST_NIL && v != HIST_NONE;
}

/* Converts one op; 1: added to ks, 0: says nothing (left out), -1: the op
 * does not belong to this workload (reported). */
static int to_wgl(const struct hist_op *op, size_t idx, struct wgl_op *w, FILE *report)
{
	bool ok = op->type == HIST_OK, info = op->type == HIST_INFO;
	memset(w, 0, sizeof *w);
	w->call_us = op->call_us;
	w->return_us = ok ? op->return_us : WGL_NEVER;
	w->id = (uint32_t)idx;
	if (is_read(op)) {
		if (!ok)
			return 0;
		if (op->a == HIST_NONE)
			goto bad;
		w->kind = WGL_READ;
		w->value = op->a;
		return 1;
	}
	if (op->type == HIST_FAIL)
		return 0;
	if (strcmp(op->f, "write") == 0 && is_value(op->in_a)) {
		w->kind = WGL_WRITE;
		w->value = op->in_a;
		return 1;
	}
	if (strcmp(op->f, "cas") == 0 && is_value(op->in_b) && op->in_a != HIST_NONE) {
		w->kind = WGL_CAS;
		w->expect = op->in_a;
		w->value = op->in_b;
		w->cas_ok = info || strcmp(op->note, "swapped") == 0;
		if (ok && !w->cas_ok && strcmp(op->note, "unchanged") != 0)
			goto bad;
		return 1;
	}
bad:
	fprintf(report, "register: line %zu: '%s' %s is not an op this checker knows\n", op->line,
		op->f, hist_type_name(op->type));
	return -1;
}

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (uint64_t)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* ---- stale reads ---- */

struct wr {
	int64_t value;
	uint64_t call, ret;
	size_t op; /* index into ks->ops */
};

static int wr_by_call(const void *x, const void *y)
{
	const struct wr *a = x, *b = y;
	return a->call < b->call ? -1 : a->call > b->call;
}

static int wr_by_value(const void *x, const void *y)
{
	const struct wr *a = x, *b = y;
	return a->value < b->value ? -1 : a->value > b->value;
}

/* The completed write of v (sorted by value), NULL when none or when v
 * was written more than once (then nothing can be proven). */
static const struct wr *writer_of(const struct wr *byval, size_t n, int64_t v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (byval[mid].value < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n || byval[lo].value != v || (lo + 1 < n && byval[lo + 1].value == v))
		return NULL;
	return &byval[lo];
}

/* The first of w[0..n) (sorted by call) that began after time t. */
static size_t first_after(const struct wr *w, size_t n, uint64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (w[mid].call <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void print_stale(const struct keyset *ks, const struct wgl_op *rd, const struct wr *w,
			const struct wr *x, bool first, FILE *report)
{
	const struct history *h = ks->h;
	const struct hist_op *r = &h->ops[rd->id];
	char v[24];
	fprintf(report,
		"stale read on %s: node %d returned %s after w wrote it and x, begun after w was "
		"done, overwrote it:\n",
		ks->key, r->node, hist_val(rd->value, v, sizeof v));
	if (first)
		check_print_header(report);
	if (w != NULL)
		check_print_op(h, &h->ops[ks->ops[w->op].id], "w", report);
	else
		fprintf(report, "   w (nil: the initial state)\n");
	check_print_op(h, &h->ops[ks->ops[x->op].id], "x", report);
	check_print_op(h, r, "r", report);
}

/* Counts (and prints up to SHOW_MAX of) the stale reads of one key. A
 * value can be written only once, so once the op that wrote v completed
 * and another write completed after starting later, v is gone for good. */
static uint64_t stale_reads(const struct keyset *ks, FILE *report, uint64_t shown)
{
	struct wr *w = malloc((ks->n + 1) * sizeof *w), *byval = malloc((ks->n + 1) * sizeof *w);
	uint64_t *sufmin = malloc((ks->n + 1) * sizeof *sufmin);
	size_t *argmin = malloc((ks->n + 1) * sizeof *argmin);
	size_t n = 0, nv = 0;
	uint64_t found = 0;
	if (w == NULL || byval == NULL || sufmin == NULL || argmin == NULL) {
		fprintf(report, "key %s: out of memory, stale reads not looked for\n", ks->key);
		goto out;
	}
	for (size_t i = 0; i < ks->n; i++) {
		const struct wgl_op *o = &ks->ops[i];
		if (o->kind == WGL_READ)
			continue;
		struct wr e = {o->value, o->call_us, o->return_us, i};
		byval[nv++] = e; /* every write, done or not, for uniqueness */
		if (o->return_us != WGL_NEVER && (o->kind == WGL_WRITE || o->cas_ok))
			w[n++] = e;
	}
	qsort(w, n, sizeof *w, wr_by_call);
	qsort(byval, nv, sizeof *byval, wr_by_value);
	sufmin[n] = UINT64_MAX;
	for (size_t i = n; i-- > 0;) {
		bool less = w[i].ret < sufmin[i + 1];
		sufmin[i] = less ? w[i].ret : sufmin[i + 1];
		argmin[i] = less ? i : argmin[i + 1];
	}
	for (size_t i = 0; i < ks->n; i++) {
		const struct wgl_op *rd = &ks->ops[i];
		if (rd->kind != WGL_READ)
			continue;
		const struct wr *src = NULL;
		size_t first = 0; /* the first write that began after src completed */
		if (rd->value != WGL_NIL) {
			const struct wr *cand = writer_of(byval, nv, rd->value);
			if (cand == NULL || cand->ret == WGL_NEVER ||
			    (ks->ops[cand->op].kind == WGL_CAS && !ks->ops[cand->op].cas_ok))
				continue;
			src = cand;
			first = first_after(w, n, src->ret);
		}
		if (sufmin[first] >= rd->call_us)
			continue;
		if (shown + found < SHOW_MAX)
			print_stale(ks, rd, src, &w[argmin[first]], shown + found == 0, report);
		found++;
	}
out:
	free(w);
	free(byval);
	free(sufmin);
	free(argmin);
	return found;
}

/* ---- one key ---- */

static void print_around(const struct keyset *ks, const struct wgl_result *res, FILE *report)
{
	size_t lo = res->bad > SHOW_AROUND ? res->bad - SHOW_AROUND : 0;
	size_t hi = res->bad + SHOW_AROUND + 1 < ks->n ? res->bad + SHOW_AROUND + 1 : ks->n;
	fprintf(report,
		"  operations around the one no order could get past (>>), by invoke time:\n");
	check_print_header(report);
	for (size_t i = lo; i < hi; i++)
		check_print_op(ks->h, &ks->h->ops[ks->ops[i].id], i == res->bad ? ">>" : "",
			       report);
}

/* Searches one key. Returns its verdict. */
static enum wgl_verdict check_key(const struct keyset *ks, uint64_t limit_ms, FILE *report)
{
	struct wgl_result res;
	memset(&res, 0, sizeof res);
	enum wgl_verdict v = wgl_check(ks->ops, ks->n, WGL_NIL, limit_ms, &res);
	if (v == WGL_VIOLATION) {
		fprintf(report,
			"key %s: NOT linearizable (%zu ops; the longest order found covers %zu; "
			"%" PRIu64 " search steps)\n",
			ks->key, ks->n, res.longest, res.steps);
		if (res.bad < ks->n)
			print_around(ks, &res, report);
	} else if (v == WGL_UNKNOWN) {
		fprintf(report,
			"key %s: UNKNOWN, the search gave up (%s; %zu ops, %" PRIu64
			" steps): counted as a failure\n",
			ks->key, limit_ms ? "time limit" : "out of memory", ks->n, res.steps);
	}
	return v;
}

/* ---- the whole history ---- */

static const struct history *sort_h;

static int by_key_then_call(const void *x, const void *y)
{
	const struct hist_op *a = &sort_h->ops[*(const size_t *)x];
	const struct hist_op *b = &sort_h->ops[*(const size_t *)y];
	int c = strcmp(a->key, b->key);
	if (c != 0)
		return c;
	if (a->call_us != b->call_us)
		return a->call_us < b->call_us ? -1 : 1;
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

struct totals {
	uint64_t violations, unknown, stale, steps;
	uint64_t unread; /* keys with no ok final read */
	size_t largest;
	bool malformed;
	struct timespec t0;
};

/* The search's budget for the next key: the per-key limit, cut to what
 * is left of the total. 0 with *none set when the total is spent. */
static uint64_t budget(const struct check_opts *o, const struct totals *t, bool *none)
{
	uint64_t lim = o->key_limit_ms;
	*none = false;
	if (o->total_limit_ms == 0)
		return lim;
	uint64_t used = ms_since(&t->t0);
	if (used >= o->total_limit_ms) {
		*none = true;
		return 0;
	}
	uint64_t left = o->total_limit_ms - used;
	return lim == 0 || left < lim ? left : lim;
}

/* Checks the ops idx[0..n) of one key. */
static void one_key(const struct history *h, const size_t *idx, size_t n,
		    const struct check_opts *o, struct totals *t, struct wgl_op *buf, FILE *report)
{
	struct keyset ks = {h, h->ops[idx[0]].key, buf, 0};
	for (size_t i = 0; i < n; i++) {
		int r = to_wgl(&h->ops[idx[i]], idx[i], &ks.ops[ks.n], report);
		if (r < 0) {
			t->malformed = true;
			return;
		}
		ks.n += (size_t)r;
	}
	if (ks.n == 0)
		return;
	if (ks.n > t->largest)
		t->largest = ks.n;
	t->stale += stale_reads(&ks, report, t->stale);
	bool none;
	uint64_t lim = budget(o, t, &none);
	if (none) {
		fprintf(
		    report,
		    "key %s: not searched, the total time limit is spent: counted as a failure\n",
		    ks.key);
		t->unknown++;
		return;
	}
	enum wgl_verdict v = check_key(&ks, lim, report);
	t->violations += v == WGL_VIOLATION;
	t->unknown += v == WGL_UNKNOWN;
}

static enum check_verdict verdict_of(const struct totals *t, const struct check_stats *st,
				     FILE *report)
{
	if (t->malformed) {
		fprintf(report, "register: the history holds ops this checker cannot read\n");
		return CHECK_UNKNOWN;
	}
	if (t->violations > 0 || t->stale > 0)
		return CHECK_INVALID;
	if (t->unknown > 0) {
		fprintf(report,
			"register: %" PRIu64 " key(s) not decided: unknown counts as a failure\n",
			t->unknown);
		return CHECK_UNKNOWN;
	}
	if (st->ok == 0) {
		fprintf(report, "register: no op completed: nothing was tested\n");
		return CHECK_UNKNOWN;
	}
	if (t->unread > 0) {
		fprintf(report,
			"register: %" PRIu64 " key(s) got no final read after healing: the run "
			"did not finish as it should\n",
			t->unread);
		return CHECK_UNKNOWN;
	}
	return CHECK_VALID;
}

static enum check_verdict reg_check(const struct history *h, const struct check_opts *o,
				    FILE *report, struct check_stats *st)
{
	struct totals t = {0};
	clock_gettime(CLOCK_MONOTONIC, &t.t0);
	check_count(h, st);
	size_t *idx = malloc((h->n + 1) * sizeof *idx);
	struct wgl_op *buf = malloc((h->n + 1) * sizeof *buf);
	if (idx == NULL || buf == NULL) {
		free(idx);
		free(buf);
		fprintf(report, "register: out of memory\n");
		return CHECK_UNKNOWN;
	}
	for (size_t i = 0; i < h->n; i++) {
		idx[i] = i;
		st->final_reads +=
		    h->ops[i].type == HIST_OK && strcmp(h->ops[i].f, "final-read") == 0;
	}
	sort_h = h;
	qsort(idx, h->n, sizeof *idx, by_key_then_call);
	for (size_t i = 0, j; i < h->n && !t.malformed; i = j) {
		for (j = i + 1; j < h->n && strcmp(h->ops[idx[j]].key, h->ops[idx[i]].key) == 0;
		     j++)
			;
		one_key(h, idx + i, j - i, o, &t, buf, report);
		st->keys++;
		bool read_after_heal = false;
		for (size_t k = i; k < j; k++) {
			const struct hist_op *op = &h->ops[idx[k]];
			read_after_heal |= op->type == HIST_OK && strcmp(op->f, "final-read") == 0;
		}
		t.unread += !read_after_heal;
	}
	free(idx);
	free(buf);
	st->stale_reads = t.stale;
	st->keys_invalid = t.violations;
	st->keys_unknown = t.unknown;
	fprintf(report,
		"register: %" PRIu64 " keys, %" PRIu64 " not linearizable, %" PRIu64
		" undecided; %" PRIu64 " stale reads; largest key %zu ops; %" PRIu64
		" ok final reads\n",
		st->keys, t.violations, t.unknown, t.stale, t.largest, st->final_reads);
	check_print_unexpected(h, report, SHOW_MAX);
	return verdict_of(&t, st, report);
}

const struct workload wl_register = {
    .name = "register",
    .about = "reads, writes and CAS on rotating keys; checked for linearizability",
    .start = reg_start,
    .step = reg_step,
    .final = reg_final,
    .stop = reg_stop,
    .check = reg_check,
};
