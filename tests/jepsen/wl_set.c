/*
 * The set workload: unique adds, each its own key, then a listing from
 * every node after the faults are healed.
 *
 * Run side. add v is PUT /v1/kv/<prefix>s/<v> with body v, v unique in
 * the run. The final phase lists GET /v1/kv/<prefix>s/?recurse&keys
 * (linearizable) from every node that is up, retrying failures until the
 * deadline, and records each listing as a final-read op with one elem
 * line per key (history.h).
 *
 * Check side, over the ok final reads (none: unknown):
 *   lost           an ok add missing from a final read invoked after the
 *                  add completed, or an element a final read showed that
 *                  a later one no longer has (nothing is ever deleted);
 *   unexpected     an element no add was invoked for (or a key that is
 *                  not <prefix>s/<number>);
 *   failed present an element whose add failed (the server said it was
 *                  not done) yet is there;
 *   info adds      may be present or not: counted both ways;
 *   agreement      final reads that differ only by adds of unknown
 *                  outcome are fine (such an add may land late); other
 *                  differences are one of the above.
 * Any of lost, unexpected, failed present makes the history invalid.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define SHOW_MAX 20

/* ---- run side ---- */

static struct wl_config set_cfg;

static int set_start(const struct wl_config *cfg, char *err, size_t errcap)
{
	(void)err;
	(void)errcap;
	set_cfg = *cfg;
	return 0;
}

static void set_stop(void)
{
}

static void set_step(struct wl_client *c)
{
	char key[HIST_MAX_KEY + 1], path[HIST_MAX_KEY + 32], body[24], note[HIST_MAX_NOTE];
	struct wl_reply r;
	int64_t v = wl_next_value();
	snprintf(key, sizeof key, "%ss/%" PRId64, set_cfg.prefix, v);
	wl_invoke(c, "add", key, v, HIST_NONE);
	snprintf(path, sizeof path, "/v1/kv/%s", key);
	int n = snprintf(body, sizeof body, "%" PRId64, v);
	wl_request(c, "PUT", path, body, (size_t)n, &r);
	enum hist_type t = wl_classify(&r, false, note, sizeof note);
	wl_complete(c, t, v, HIST_NONE, note);
}

/* A growable array of elements; names owned. */
struct elems {
	struct hist_elem *e;
	size_t n, cap;
};

static void elems_free(struct elems *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	memset(l, 0, sizeof *l);
}

/* Adds the key name s[0..len): its number when it is <prefix>s/<v>. */
static int elems_add(struct elems *l, const char *s, size_t len, const char *prefix)
{
	if (l->n == HIST_MAX_ELEMS)
		return -1;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct hist_elem *e = realloc(l->e, cap * sizeof *e);
		if (e == NULL)
			return -1;
		l->e = e;
		l->cap = cap;
	}
	size_t pl = strlen(prefix);
	struct hist_elem *e = &l->e[l->n];
	e->v = HIST_NONE;
	e->name = NULL;
	if (len > pl && len - pl <= 18 && memcmp(s, prefix, pl) == 0 && s[pl] >= '1' &&
	    s[pl] <= '9') {
		int64_t v = 0;
		size_t i = pl;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			v = v * 10 + (s[i] - '0');
		if (i == len)
			e->v = v;
	}
	if (e->v == HIST_NONE && (e->name = strndup(s, len < 120 ? len : 120)) == NULL)
		return -1;
	l->n++;
	return 0;
}

/* Parses a JSON array of strings (key names; no escapes in ours: a name
 * with one is kept raw and counts as unexpected). 0, or -1 when the body
 * is not such an array. */
static int parse_keys(const char *b, size_t len, const char *prefix, struct elems *out)
{
	size_t i = 0;
	while (i < len && b[i] != '[')
		i++;
	if (i == len)
		return -1;
	for (i++;;) {
		while (i < len && (b[i] == ' ' || b[i] == ',' || b[i] == '\n'))
			i++;
		if (i < len && b[i] == ']')
			return 0;
		if (i == len || b[i] != '"')
			return -1;
		size_t s = ++i;
		while (i < len && b[i] != '"')
			i += b[i] == '\\' ? 2 : 1;
		if (i >= len || elems_add(out, b + s, i - s, prefix) != 0)
			return -1;
		i++;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One listing from c's node. true when it was ok. */
static bool final_read(struct wl_client *c, const char *listed)
{
	char path[HIST_MAX_KEY + 48], note[HIST_MAX_NOTE];
	struct wl_reply r;
	struct elems l = {0};
	wl_invoke(c, "final-read", listed, HIST_NONE, HIST_NONE);
	snprintf(path, sizeof path, "/v1/kv/%s?recurse&keys", listed);
	wl_request(c, "GET", path, NULL, 0, &r);
	enum hist_type t = wl_classify(&r, true, note, sizeof note);
	if (t == HIST_OK && (r.status != 200 || parse_keys(r.body, r.body_len, listed, &l) != 0)) {
		t = HIST_FAIL;
		snprintf(note, sizeof note, "unexpected %d: not a JSON array of keys (%zu bytes)",
			 r.status, r.body_len);
	}
	if (t == HIST_OK)
		wl_complete_elems(c, l.e, l.n, note);
	else
		wl_complete(c, t, HIST_NONE, HIST_NONE, note);
	elems_free(&l);
	return t == HIST_OK;
}

static void set_final(struct wl_client *cl, size_t n, uint64_t deadline_us)
{
	char listed[HIST_MAX_KEY + 1];
	snprintf(listed, sizeof listed, "%ss/", set_cfg.prefix);
	for (size_t i = 0; i < n; i++)
		for (int t = 0; !wl_aborted() && hc_now_us() < deadline_us; t++) {
			if (final_read(&cl[i], listed))
				break;
			sleep_ms(100 << (t < 4 ? t : 4));
		}
}

/* ---- check side ---- */

struct add {
	int64_t v;
	const struct hist_op *op;
};

static int cmp_add(const void *x, const void *y)
{
	const struct add *a = x, *b = y;
	return a->v < b->v ? -1 : a->v > b->v;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static const struct add *find_add(const struct add *adds, size_t n, int64_t v)
{
	struct add key = {v, NULL};
	return bsearch(&key, adds, n, sizeof *adds, cmp_add);
}

/* One ok final read: its op and its numeric elements, sorted. */
struct fread {
	const struct hist_op *op;
	int64_t *v;
	size_t n;
};

static bool has(const struct fread *r, int64_t v)
{
	return bsearch(&v, r->v, r->n, sizeof v, cmp_i64) != NULL;
}

struct setcheck {
	const struct history *h;
	struct add *adds;
	size_t n_adds;
	struct fread *reads;
	size_t n_reads;
	FILE *report;
	struct check_stats *st;
	bool malformed;
};

/* Collects the adds (sorted by value) and the ok final reads. */
static int collect(struct setcheck *sc)
{
	const struct history *h = sc->h;
	sc->adds = malloc((h->n + 1) * sizeof *sc->adds);
	sc->reads = calloc(h->n + 1, sizeof *sc->reads);
	if (sc->adds == NULL || sc->reads == NULL)
		return -1;
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_op *op = &h->ops[i];
		if (strcmp(op->f, "add") == 0 && op->in_a != HIST_NIL && op->in_a != HIST_NONE) {
			sc->adds[sc->n_adds++] = (struct add){op->in_a, op};
		} else if (strcmp(op->f, "final-read") == 0) {
			if (op->type == HIST_OK)
				sc->reads[sc->n_reads++].op = op;
		} else {
			fprintf(sc->report, "set: line %zu: '%s' is not an op this checker knows\n",
				op->line, op->f);
			sc->malformed = true;
		}
	}
	qsort(sc->adds, sc->n_adds, sizeof *sc->adds, cmp_add);
	return 0;
}

/* Checks the elements of read r against the adds; fills r->v. */
static int scan_read(struct setcheck *sc, struct fread *r)
{
	const struct hist_op *op = r->op;
	r->v = malloc((op->n_elems + 1) * sizeof *r->v);
	if (r->v == NULL)
		return -1;
	for (size_t i = 0; i < op->n_elems; i++) {
		const struct hist_elem *e = &op->elems[i];
		const struct add *a =
		    e->v == HIST_NONE ? NULL : find_add(sc->adds, sc->n_adds, e->v);
		if (a == NULL) {
			char v[24];
			const char *what = e->name ? e->name : hist_val(e->v, v, sizeof v);
			if (sc->st->unexpected_elems++ < SHOW_MAX)
				fprintf(sc->report,
					"unexpected element %s (node %d, line %zu): no add was "
					"invoked for it\n",
					what, op->node, op->line);
		} else if (a->op->type == HIST_FAIL) {
			if (sc->st->failed_present++ < SHOW_MAX) {
				fprintf(sc->report,
					"element %" PRId64
					" is present (node %d) but its add failed:\n",
					e->v, op->node);
				check_print_op(sc->h, a->op, "", sc->report);
			}
		}
		if (e->v != HIST_NONE)
			r->v[r->n++] = e->v;
	}
	qsort(r->v, r->n, sizeof *r->v, cmp_i64);
	return 0;
}

/* Is v known to be in the set before time t: an ok add done before t, or
 * shown by a final read done before t? Returns the evidence's line. */
static size_t known_before(const struct setcheck *sc, const struct add *a, uint64_t t)
{
	if (a->op->type == HIST_OK && a->op->return_us < t)
		return a->op->line;
	for (size_t i = 0; i < sc->n_reads; i++)
		if (sc->reads[i].op->return_us < t && has(&sc->reads[i], a->v))
			return sc->reads[i].op->line;
	return 0;
}

/* Lost: every element known to be in the set must be in every read that
 * began after it was known. Counts elements, not (element, read) pairs. */
static void find_lost(struct setcheck *sc)
{
	for (size_t i = 0; i < sc->n_adds; i++) {
		const struct add *a = &sc->adds[i];
		if (a->op->type == HIST_FAIL)
			continue;
		for (size_t j = 0; j < sc->n_reads; j++) {
			const struct fread *r = &sc->reads[j];
			size_t ev = known_before(sc, a, r->op->call_us);
			if (ev == 0 || has(r, a->v))
				continue;
			if (sc->st->lost++ < SHOW_MAX) {
				fprintf(sc->report,
					"lost: %" PRId64
					" is missing from the final read of node %d (line %zu), "
					"though line %zu showed it was added:\n",
					a->v, r->op->node, r->op->line, ev);
				check_print_op(sc->h, a->op, "", sc->report);
			}
			break;
		}
	}
}

/* Info adds found in some final read, and not found in any. */
static void count_info(struct setcheck *sc)
{
	for (size_t i = 0; i < sc->n_adds; i++) {
		const struct add *a = &sc->adds[i];
		if (a->op->type != HIST_INFO)
			continue;
		bool found = false;
		for (size_t j = 0; j < sc->n_reads && !found; j++)
			found = has(&sc->reads[j], a->v);
		if (found)
			sc->st->info_found++;
		else
			sc->st->info_missing++;
	}
}

/* Elements on which two final reads differ (0: they all agree). */
static size_t disagreement(const struct setcheck *sc)
{
	size_t diff = 0;
	for (size_t j = 1; j < sc->n_reads; j++) {
		const struct fread *a = &sc->reads[0], *b = &sc->reads[j];
		for (size_t i = 0; i < a->n; i++)
			diff += !has(b, a->v[i]);
		for (size_t i = 0; i < b->n; i++)
			diff += !has(a, b->v[i]);
	}
	return diff;
}

static void summary(const struct setcheck *sc)
{
	const struct check_stats *st = sc->st;
	uint64_t ok_adds = 0;
	for (size_t i = 0; i < sc->n_adds; i++)
		ok_adds += sc->adds[i].op->type == HIST_OK;
	fprintf(sc->report, "set: %zu adds (%" PRIu64 " ok), %zu ok final reads:", sc->n_adds,
		ok_adds, sc->n_reads);
	for (size_t j = 0; j < sc->n_reads; j++)
		fprintf(sc->report, " node %d: %zu", sc->reads[j].op->node, sc->reads[j].n);
	size_t diff = disagreement(sc);
	fprintf(sc->report, "\nset: final reads %s", diff == 0 ? "agree" : "differ");
	if (diff > 0)
		fprintf(sc->report, " (%zu element differences%s)", diff,
			st->lost + st->unexpected_elems + st->failed_present == 0
			    ? ", all adds of unknown outcome that landed between reads"
			    : "");
	fprintf(sc->report,
		"\nset: lost %" PRIu64 ", unexpected %" PRIu64 ", failed-but-present %" PRIu64
		"; adds of unknown outcome: %" PRIu64 " present, %" PRIu64 " absent\n",
		st->lost, st->unexpected_elems, st->failed_present, st->info_found,
		st->info_missing);
}

static void setcheck_free(struct setcheck *sc)
{
	for (size_t j = 0; sc->reads != NULL && j < sc->n_reads; j++)
		free(sc->reads[j].v);
	free(sc->reads);
	free(sc->adds);
}

static enum check_verdict set_check(const struct history *h, const struct check_opts *o,
				    FILE *report, struct check_stats *st)
{
	struct setcheck sc = {.h = h, .report = report, .st = st};
	enum check_verdict v = CHECK_UNKNOWN;
	(void)o;
	check_count(h, st);
	if (collect(&sc) != 0)
		goto oom;
	for (size_t j = 0; j < sc.n_reads; j++)
		if (scan_read(&sc, &sc.reads[j]) != 0)
			goto oom;
	st->final_reads = sc.n_reads;
	find_lost(&sc);
	count_info(&sc);
	summary(&sc);
	check_print_unexpected(h, report, SHOW_MAX);
	if (sc.malformed)
		fprintf(report, "set: the history holds ops this checker cannot read\n");
	else if (st->lost + st->unexpected_elems + st->failed_present > 0)
		v = CHECK_INVALID;
	else if (sc.n_reads == 0)
		fprintf(report, "set: no final read succeeded: nothing to check against\n");
	else
		v = CHECK_VALID;
	setcheck_free(&sc);
	return v;
oom:
	fprintf(report, "set: out of memory\n");
	setcheck_free(&sc);
	return CHECK_UNKNOWN;
}

const struct workload wl_set = {
    .name = "set",
    .about = "unique adds, one key each; every node's final listing must hold every ok add",
    .start = set_start,
    .step = set_step,
    .final = set_final,
    .stop = set_stop,
    .check = set_check,
};
