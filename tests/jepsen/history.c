/*
 * history: the writer (thread-safe, buffered) and the parser that pairs
 * each invoke with its completion. The format is described in history.h.
 *
 * The parser is strict: a line that does not follow the format, or an
 * event that breaks the process rules (two ops open at once, a completion
 * without an invoke, a retired process reused), is refused with its line
 * number rather than guessed at, because a checker verdict on a history
 * that was misread is worse than none.
 */
#include "history.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_FIELDS 9
#define WRITE_BUF (1u << 20)

static const char *const type_names[] = {
    [HIST_INVOKE] = "invoke", [HIST_OK] = "ok",     [HIST_FAIL] = "fail",
    [HIST_INFO] = "info",     [HIST_ELEM] = "elem",
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

const char *hist_type_name(enum hist_type t)
{
	return (size_t)t < N_TYPES ? type_names[t] : "?";
}

const char *hist_val(int64_t v, char *buf, size_t cap)
{
	if (v == HIST_NIL)
		snprintf(buf, cap, "nil");
	else if (v == HIST_NONE)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%" PRId64, v);
	return buf;
}

bool hist_unexpected(const struct hist_op *op)
{
	return strncmp(op->note, "unexpected", 10) == 0;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- writing ---- */

struct hist_writer {
	FILE *f;
	pthread_mutex_t mu;
	uint64_t t0;
	int err; /* first errno of a failed write, 0 if none */
	char *vbuf;
};

struct hist_writer *hist_open_stream(FILE *f)
{
	struct hist_writer *w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->vbuf = malloc(WRITE_BUF);
	if (w->vbuf != NULL)
		setvbuf(f, w->vbuf, _IOFBF, WRITE_BUF);
	w->f = f;
	pthread_mutex_init(&w->mu, NULL);
	w->t0 = mono_us();
	return w;
}

struct hist_writer *hist_open(const char *path, char *err, size_t errcap)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct hist_writer *w = hist_open_stream(f);
	if (w == NULL) {
		fclose(f);
		snprintf(err, errcap, "out of memory");
	}
	return w;
}

uint64_t hist_now_us(const struct hist_writer *w)
{
	return mono_us() - w->t0;
}

static bool token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n <= max && strpbrk(s, " \t\r\n") == NULL;
}

/* The note as one field: at most HIST_MAX_NOTE bytes, no tab or newline. */
static void clean_note(const char *in, char *out)
{
	size_t n = 0;
	if (in != NULL)
		for (; in[n] != '\0' && n < HIST_MAX_NOTE; n++)
			out[n] = (in[n] == '\t' || in[n] == '\n' || in[n] == '\r') ? ' ' : in[n];
	out[n] = '\0';
	if (n == 0)
		strcpy(out, "-");
}

static void write_line(struct hist_writer *w, uint64_t t, const struct hist_event *e)
{
	char a[24], b[24], node[8], note[HIST_MAX_NOTE + 1];
	const char *key = e->key != NULL && e->key[0] != '\0' ? e->key : "-";
	assert(token_ok(e->f, HIST_MAX_F) && token_ok(key, HIST_MAX_KEY));
	assert(e->node == HIST_NO_NODE || (e->node >= 0 && e->node <= HIST_MAX_NODE));
	if (e->node == HIST_NO_NODE)
		strcpy(node, "-");
	else
		snprintf(node, sizeof node, "%d", e->node);
	clean_note(e->note, note);
	int rc = fprintf(w->f, "%" PRIu64 "\t%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t,
			 e->process, hist_type_name(e->type), e->f, key,
			 hist_val(e->a, a, sizeof a), hist_val(e->b, b, sizeof b), node, note);
	if (rc < 0 && w->err == 0)
		w->err = errno ? errno : EIO;
}

uint64_t hist_write(struct hist_writer *w, const struct hist_event *evs, size_t n)
{
	pthread_mutex_lock(&w->mu);
	uint64_t t = hist_now_us(w);
	for (size_t i = 0; i < n; i++)
		write_line(w, t, &evs[i]);
	pthread_mutex_unlock(&w->mu);
	return t;
}

void hist_comment(struct hist_writer *w, const char *fmt, ...)
{
	char text[HIST_MAX_LINE - 4];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	for (char *p = text; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&w->mu);
	if (fprintf(w->f, "# %s\n", text) < 0 && w->err == 0)
		w->err = errno ? errno : EIO;
	pthread_mutex_unlock(&w->mu);
}

void hist_flush(struct hist_writer *w)
{
	pthread_mutex_lock(&w->mu);
	if (fflush(w->f) != 0 && w->err == 0)
		w->err = errno ? errno : EIO;
	pthread_mutex_unlock(&w->mu);
}

int hist_close(struct hist_writer *w, char *err, size_t errcap)
{
	int e = w->err;
	if (fflush(w->f) != 0 && e == 0)
		e = errno ? errno : EIO;
	if (fclose(w->f) != 0 && e == 0)
		e = errno ? errno : EIO;
	pthread_mutex_destroy(&w->mu);
	free(w->vbuf);
	free(w);
	if (e != 0) {
		snprintf(err, errcap, "writing the history: %s", strerror(e));
		return -1;
	}
	return 0;
}

/* ---- reading: the process table ---- */

enum proc_state { P_IDLE = 1, P_OPEN, P_RETIRED };

/* Open addressing, linear probing: process id -> its state. */
struct proc {
	uint64_t id;
	uint8_t state; /* 0: empty slot */
	size_t op;     /* P_OPEN: the open op; P_RETIRED: the op that retired it */
};

struct proc_table {
	struct proc *slots;
	size_t mask, count;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct proc *proc_find(struct proc_table *t, uint64_t id)
{
	size_t i = (size_t)mix(id) & t->mask;
	while (t->slots[i].state != 0 && t->slots[i].id != id)
		i = (i + 1) & t->mask;
	return &t->slots[i];
}

static int proc_grow(struct proc_table *t)
{
	size_t cap = t->slots == NULL ? 1024 : (t->mask + 1) * 2;
	struct proc *old = t->slots;
	size_t old_cap = old == NULL ? 0 : t->mask + 1;
	t->slots = calloc(cap, sizeof *t->slots);
	if (t->slots == NULL) {
		t->slots = old;
		return -1;
	}
	t->mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].state != 0)
			*proc_find(t, old[i].id) = old[i];
	free(old);
	return 0;
}

/* The entry for id, created idle when new; NULL when out of memory. */
static struct proc *proc_get(struct proc_table *t, uint64_t id)
{
	if (t->slots == NULL || (t->count + 1) * 2 > t->mask + 1)
		if (proc_grow(t) != 0)
			return NULL;
	struct proc *p = proc_find(t, id);
	if (p->state == 0) {
		p->id = id;
		p->state = P_IDLE;
		t->count++;
	}
	return p;
}

/* ---- reading: one line ---- */

struct line {
	uint64_t t, process;
	enum hist_type type;
	char *f, *key, *note; /* point into the line buffer */
	int64_t a, b;
	int node;
};

struct parser {
	struct history *h;
	size_t cap;
	size_t lineno;
	size_t elems_total;
	struct proc_table procs;
	char *err;
	size_t errcap;
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errcap, "line %zu: %s", p->lineno, msg);
	return -1;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (*s == '\0' || strlen(s) > 20)
		return false;
	uint64_t v = 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* `nil`, `-` or a decimal int64 other than the two reserved values. */
static bool parse_val(const char *s, int64_t *out)
{
	if (strcmp(s, "nil") == 0) {
		*out = HIST_NIL;
		return true;
	}
	if (strcmp(s, "-") == 0) {
		*out = HIST_NONE;
		return true;
	}
	bool neg = *s == '-';
	uint64_t m;
	if (!parse_u64(s + neg, &m))
		return false;
	if (neg ? m > (uint64_t)INT64_MAX - 1 : m > (uint64_t)INT64_MAX)
		return false; /* INT64_MIN and INT64_MIN + 1 are nil and - */
	*out = neg ? -(int64_t)m : (int64_t)m;
	return true;
}

static bool parse_f(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > HIST_MAX_F)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-'))
			return false;
	return true;
}

static int parse_type(const char *s, enum hist_type *t)
{
	for (size_t i = 0; i < N_TYPES; i++)
		if (strcmp(s, type_names[i]) == 0) {
			*t = (enum hist_type)i;
			return 0;
		}
	return -1;
}

static int parse_node(const char *s, int *node)
{
	uint64_t v;
	if (strcmp(s, "-") == 0) {
		*node = HIST_NO_NODE;
		return 0;
	}
	if (!parse_u64(s, &v) || v > HIST_MAX_NODE)
		return -1;
	*node = (int)v;
	return 0;
}

/* Splits buf (no newline) at tabs into exactly N_FIELDS fields. */
static int split(struct parser *p, char *buf, char **fld)
{
	size_t n = 0;
	char *s = buf;
	for (;;) {
		if (n == N_FIELDS)
			return fail(p, "more than %d tab-separated fields", N_FIELDS);
		fld[n++] = s;
		char *tab = strchr(s, '\t');
		if (tab == NULL)
			break;
		*tab = '\0';
		s = tab + 1;
	}
	if (n != N_FIELDS)
		return fail(p, "%zu fields, expected %d (time process type f key a b node note)", n,
			    N_FIELDS);
	for (size_t i = 0; i < n; i++)
		if (fld[i][0] == '\0')
			return fail(p, "field %zu is empty (use '-')", i + 1);
	return 0;
}

static int parse_line(struct parser *p, char *buf, struct line *l)
{
	char *fld[N_FIELDS];
	if (split(p, buf, fld) != 0)
		return -1;
	if (!parse_u64(fld[0], &l->t))
		return fail(p, "bad time '%.40s'", fld[0]);
	if (!parse_u64(fld[1], &l->process))
		return fail(p, "bad process '%.40s'", fld[1]);
	if (parse_type(fld[2], &l->type) != 0)
		return fail(p, "bad type '%.40s' (invoke, ok, fail, info or elem)", fld[2]);
	if (!parse_f(fld[3]))
		return fail(p, "bad operation '%.40s'", fld[3]);
	if (strlen(fld[4]) > HIST_MAX_KEY || strchr(fld[4], ' ') != NULL)
		return fail(p, "bad key (longer than %d bytes or has a space)", HIST_MAX_KEY);
	if (!parse_val(fld[5], &l->a))
		return fail(p, "bad value a '%.40s' (decimal int64, nil or -)", fld[5]);
	if (!parse_val(fld[6], &l->b))
		return fail(p, "bad value b '%.40s' (decimal int64, nil or -)", fld[6]);
	if (parse_node(fld[7], &l->node) != 0)
		return fail(p, "bad node '%.40s' (0..%d or -)", fld[7], HIST_MAX_NODE);
	l->f = fld[3];
	l->key = strcmp(fld[4], "-") == 0 ? "" : fld[4];
	l->note = strcmp(fld[8], "-") == 0 ? "" : fld[8];
	return 0;
}

/* ---- reading: pairing ---- */

static int on_invoke(struct parser *p, const struct line *l, struct proc *pr)
{
	struct history *h = p->h;
	if (pr->state == P_OPEN)
		return fail(p, "process %" PRIu64 " invoked while its op from line %zu is open",
			    l->process, h->ops[pr->op].line);
	if (pr->state == P_RETIRED)
		return fail(p, "process %" PRIu64 " reused after its info completion on line %zu",
			    l->process, h->ops[pr->op].ret_line);
	if (h->n == HIST_MAX_OPS)
		return fail(p, "more than %u operations", HIST_MAX_OPS);
	if (h->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		struct hist_op *ops = realloc(h->ops, cap * sizeof *ops);
		if (ops == NULL)
			return fail(p, "out of memory");
		h->ops = ops;
		p->cap = cap;
	}
	struct hist_op *op = &h->ops[h->n];
	memset(op, 0, sizeof *op);
	op->key = strdup(l->key);
	op->note = strdup("");
	if (op->key == NULL || op->note == NULL) {
		free(op->key);
		free(op->note);
		return fail(p, "out of memory");
	}
	h->n++;
	op->process = l->process;
	strcpy(op->f, l->f);
	op->type = HIST_INFO;
	op->in_a = op->a = l->a;
	op->in_b = op->b = l->b;
	op->call_us = l->t;
	op->return_us = HIST_NEVER;
	op->node = l->node;
	op->line = p->lineno;
	pr->state = P_OPEN;
	pr->op = h->n - 1;
	return 0;
}

/* The op a completion or elem line belongs to, checked to match. */
static struct hist_op *open_op(struct parser *p, const struct line *l, struct proc *pr)
{
	if (pr->state != P_OPEN) {
		fail(p, "%s for process %" PRIu64 ", which has no open op", hist_type_name(l->type),
		     l->process);
		return NULL;
	}
	struct hist_op *op = &p->h->ops[pr->op];
	if (strcmp(op->f, l->f) != 0 || strcmp(op->key, l->key) != 0 || op->node != l->node) {
		fail(p, "%s does not match the invoke on line %zu (f, key and node must be equal)",
		     hist_type_name(l->type), op->line);
		return NULL;
	}
	if (l->t < op->call_us) {
		fail(p, "time %" PRIu64 " is before the invoke's (line %zu)", l->t, op->line);
		return NULL;
	}
	return op;
}

static int on_elem(struct parser *p, const struct line *l, struct proc *pr)
{
	struct hist_op *op = open_op(p, l, pr);
	if (op == NULL)
		return -1;
	if (l->a == HIST_NIL || (l->a == HIST_NONE && l->note[0] == '\0'))
		return fail(p, "an elem needs a value, or '-' and the key in the note");
	if (p->elems_total == HIST_MAX_ELEMS)
		return fail(p, "more than %u elements", HIST_MAX_ELEMS);
	/* Doubling capacity: grow when the count is a power of two. */
	size_t n = op->n_elems;
	if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {
		size_t cap = n == 0 ? 16 : n * 2;
		struct hist_elem *e = realloc(op->elems, cap * sizeof *e);
		if (e == NULL)
			return fail(p, "out of memory");
		op->elems = e;
	}
	struct hist_elem *e = &op->elems[n];
	e->v = l->a;
	e->name = NULL;
	if (l->a == HIST_NONE && (e->name = strdup(l->note)) == NULL)
		return fail(p, "out of memory");
	op->n_elems++;
	p->elems_total++;
	return 0;
}

static int on_complete(struct parser *p, const struct line *l, struct proc *pr)
{
	struct hist_op *op = open_op(p, l, pr);
	if (op == NULL)
		return -1;
	if (op->n_elems > 0 && l->type != HIST_OK)
		return fail(p, "elem lines before a completion that is not ok");
	if (op->n_elems > 0 && l->a != (int64_t)op->n_elems)
		return fail(p, "a=%" PRId64 " but %zu elem lines came before", l->a, op->n_elems);
	char *note = strdup(l->note);
	if (note == NULL)
		return fail(p, "out of memory");
	free(op->note);
	op->note = note;
	op->type = l->type;
	op->a = l->a;
	op->b = l->b;
	op->completed = true;
	op->ret_line = p->lineno;
	op->return_us = l->type == HIST_INFO ? HIST_NEVER : l->t;
	pr->state = l->type == HIST_INFO ? P_RETIRED : P_IDLE;
	return 0;
}

static int on_line(struct parser *p, char *buf)
{
	struct line l;
	if (parse_line(p, buf, &l) != 0)
		return -1;
	if (p->h->n == 0 && l.type == HIST_INVOKE)
		p->h->first_us = l.t;
	struct proc *pr = proc_get(&p->procs, l.process);
	if (pr == NULL)
		return fail(p, "out of memory");
	switch (l.type) {
	case HIST_INVOKE:
		return on_invoke(p, &l, pr);
	case HIST_ELEM:
		return on_elem(p, &l, pr);
	default:
		return on_complete(p, &l, pr);
	}
}

/* Reads one line into buf (cap HIST_MAX_LINE + 2). 1: a line (newline
 * removed); 0: end of input; -1: error (reported). */
static int read_line(struct parser *p, FILE *in, char *buf)
{
	if (fgets(buf, HIST_MAX_LINE + 2, in) == NULL) {
		if (ferror(in))
			return fail(p, "read error: %s", strerror(errno));
		return 0;
	}
	p->lineno++;
	size_t n = strlen(buf);
	if (n == 0 || buf[n - 1] != '\n') {
		if (n > HIST_MAX_LINE)
			return fail(p, "longer than %d bytes", HIST_MAX_LINE);
		return fail(p, "no newline at the end (a truncated history?)");
	}
	buf[n - 1] = '\0';
	if (n >= 2 && buf[n - 2] == '\r')
		buf[n - 2] = '\0';
	return 1;
}

void hist_free(struct history *h)
{
	for (size_t i = 0; i < h->n; i++) {
		struct hist_op *op = &h->ops[i];
		for (size_t j = 0; j < op->n_elems; j++)
			free(op->elems[j].name);
		free(op->elems);
		free(op->key);
		free(op->note);
	}
	free(h->ops);
	memset(h, 0, sizeof *h);
}

int hist_parse(FILE *in, struct history *h, char *err, size_t errcap)
{
	struct parser p = {.h = h, .err = err, .errcap = errcap};
	char *buf = malloc(HIST_MAX_LINE + 2);
	int rc = -1;
	memset(h, 0, sizeof *h);
	if (buf == NULL) {
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	for (;;) {
		int r = read_line(&p, in, buf);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (buf[0] == '#' || buf[0] == '\0')
			continue;
		if (on_line(&p, buf) != 0)
			goto out;
	}
	h->lines = p.lineno;
	rc = 0;
out:
	free(p.procs.slots);
	free(buf);
	if (rc != 0)
		hist_free(h);
	return rc;
}

int hist_load(const char *path, struct history *h, char *err, size_t errcap)
{
	FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (in == NULL) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return -1;
	}
	char msg[320];
	int rc = hist_parse(in, h, msg, sizeof msg);
	if (rc != 0)
		snprintf(err, errcap, "%s: %s", path, msg);
	if (in != stdin)
		fclose(in);
	return rc;
}
