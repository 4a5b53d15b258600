/*
 * bench-wgl: how long the linearizability checker (wgl.c) takes on
 * histories shaped like the ones a cluster under test produces.
 *
 *   bench-wgl [--seed=S] [--ops=N] [--keys=K] [--clients=C] [--plant-stale]
 *
 * Each key gets N/K operations from C clients of its own. A client calls,
 * waits for the answer, thinks, and calls again; with the default timings an
 * operation overlaps a few others. About 40% are reads, 30% writes and 30%
 * compare-and-swaps (expecting the value the client last saw), and about 2%
 * of the writes and CASes time out: the client never learns their outcome,
 * and they take effect a little later or never.
 *
 * The answers come from a simulated register that is linearizable by
 * construction: each operation takes effect at a point chosen inside its
 * interval, and reads and CASes answer from the register at that point.
 * Every key must therefore check ok; the exit status is 1 if one does not.
 *
 * --plant-stale corrupts one read of the first key to return a value that
 * a completed write had already overwritten before the read was invoked.
 * The checker must then report a violation on that key (and ok on the
 * others); the exit status is 1 if it does not. This shows the generator's
 * histories are ones the checker can tell apart.
 */
#include "wgl.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TIME_LIMIT_MS 60000 /* per key: a hung search fails the run */
#define MIN_LATENCY_US 50
#define MAX_LATENCY_US 600
#define MAX_THINK_US 4000
#define INDETERMINATE_PERCENT 2
#define WRITE_VALUES_FROM 1000

struct opts {
	uint64_t seed;
	size_t ops, keys, clients;
	bool plant_stale;
};

/* ---- randomness (splitmix64: small, and the same on every platform) ---- */

static uint64_t rnd(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint64_t rnd_between(uint64_t *x, uint64_t lo, uint64_t hi)
{
	return lo + rnd(x) % (hi - lo + 1);
}

/* ---- the simulated register and its clients ---- */

/* A pending effect on the register: at time `at`, op takes effect. */
struct effect {
	uint64_t at;
	size_t op;
};

struct client {
	uint64_t next_call; /* when idle */
	size_t op;          /* the operation in flight, or SIZE_MAX */
	uint64_t answer_at; /* when the answer (or the timeout) arrives */
	int64_t seen;       /* the last value this client saw in the register */
};

struct sim {
	uint64_t rng;
	struct wgl_op *ops;
	size_t n, want;
	struct client *clients;
	size_t nclients;
	struct effect *effects; /* at most one per client plus the timed-out ones */
	size_t neffects;
	int64_t reg;
	int64_t next_value;
};

static enum wgl_kind pick_kind(struct sim *s)
{
	uint64_t r = rnd(&s->rng) % 10;
	return r < 4 ? WGL_READ : r < 7 ? WGL_WRITE : WGL_CAS;
}

/* Client c invokes its next operation at time now. */
static void invoke(struct sim *s, struct client *c, uint64_t now)
{
	size_t i = s->n++;
	struct wgl_op *op = &s->ops[i];
	uint64_t latency = rnd_between(&s->rng, MIN_LATENCY_US, MAX_LATENCY_US);
	*op = (struct wgl_op){.kind = pick_kind(s), .call_us = now, .id = (uint32_t)i};
	if (op->kind != WGL_READ)
		op->value = s->next_value++;
	if (op->kind == WGL_CAS)
		op->expect = c->seen;
	c->op = i;
	c->answer_at = now + latency;

	bool times_out = op->kind != WGL_READ && rnd(&s->rng) % 100 < INDETERMINATE_PERCENT;
	if (times_out) {
		op->return_us = WGL_NEVER;
		/* Half of them never happen; the others land up to 3 timeouts on. */
		if (rnd(&s->rng) % 2 == 0)
			return;
		uint64_t at = now + rnd_between(&s->rng, 0, 3 * latency);
		s->effects[s->neffects++] = (struct effect){.at = at, .op = i};
		return;
	}
	op->return_us = c->answer_at;
	uint64_t at = rnd_between(&s->rng, now, c->answer_at);
	s->effects[s->neffects++] = (struct effect){.at = at, .op = i};
}

/* Operation i takes effect: the register answers it. */
static void take_effect(struct sim *s, size_t i)
{
	struct wgl_op *op = &s->ops[i];
	switch (op->kind) {
	case WGL_READ:
		op->value = s->reg;
		break;
	case WGL_WRITE:
		s->reg = op->value;
		break;
	case WGL_CAS:
		op->cas_ok = s->reg == op->expect;
		if (op->cas_ok)
			s->reg = op->value;
		break;
	}
}

/* The client learns the answer (or gives up) and thinks before the next. */
static void answer(struct sim *s, struct client *c)
{
	const struct wgl_op *op = &s->ops[c->op];
	if (op->return_us != WGL_NEVER) {
		if (op->kind != WGL_CAS || op->cas_ok)
			c->seen = op->value;
	}
	c->op = SIZE_MAX;
	c->next_call = c->answer_at + rnd_between(&s->rng, 0, MAX_THINK_US);
}

/* Runs the next event: the earliest effect, answer or invocation (effects
 * first at equal times, so an answer never precedes its own effect). */
static void step(struct sim *s)
{
	size_t first_effect = SIZE_MAX;
	for (size_t k = 0; k < s->neffects; k++)
		if (first_effect == SIZE_MAX || s->effects[k].at < s->effects[first_effect].at)
			first_effect = k;
	struct client *first_client = NULL;
	uint64_t client_at = UINT64_MAX;
	for (size_t k = 0; k < s->nclients; k++) {
		struct client *c = &s->clients[k];
		bool busy = c->op != SIZE_MAX;
		bool done = !busy && s->n == s->want;
		uint64_t at = busy ? c->answer_at : c->next_call;
		if (!done && at < client_at) {
			client_at = at;
			first_client = c;
		}
	}
	if (first_effect != SIZE_MAX && s->effects[first_effect].at <= client_at) {
		take_effect(s, s->effects[first_effect].op);
		s->effects[first_effect] = s->effects[--s->neffects];
	} else if (first_client->op != SIZE_MAX) {
		answer(s, first_client);
	} else {
		invoke(s, first_client, client_at);
	}
}

static bool sim_done(const struct sim *s)
{
	if (s->n < s->want || s->neffects > 0)
		return false;
	for (size_t k = 0; k < s->nclients; k++)
		if (s->clients[k].op != SIZE_MAX)
			return false;
	return true;
}

/* Fills ops[0..want) with the history of one key. Returns -1 when out of
 * memory. */
static int generate(uint64_t *rng, size_t nclients, struct wgl_op *ops, size_t want)
{
	struct sim s = {.rng = *rng, .ops = ops, .want = want, .nclients = nclients};
	s.reg = WGL_NIL;
	s.next_value = WRITE_VALUES_FROM;
	s.clients = calloc(nclients, sizeof(*s.clients));
	s.effects = calloc(want + 1, sizeof(*s.effects));
	if (!s.clients || !s.effects) {
		free(s.effects);
		free(s.clients);
		return -1;
	}
	for (size_t k = 0; k < nclients; k++)
		s.clients[k] = (struct client){.next_call = rnd_between(&s.rng, 0, MAX_THINK_US),
					       .op = SIZE_MAX,
					       .seen = WGL_NIL};
	while (!sim_done(&s))
		step(&s);
	*rng = s.rng;
	free(s.effects);
	free(s.clients);
	return 0;
}

/* ---- planting a stale read ---- */

static bool completed_write(const struct wgl_op *op)
{
	return op->return_us != WGL_NEVER &&
	       (op->kind == WGL_WRITE || (op->kind == WGL_CAS && op->cas_ok));
}

/* Makes a read in the second half of ops[] return the value of a write w
 * that a later completed write w2 overwrote before the read was invoked
 * (w returned before w2 was invoked, and w2 returned before the read was).
 * Values written are unique, so no linearization explains the read.
 * Returns the read's index, or SIZE_MAX if the history has no such read. */
static size_t plant_stale(struct wgl_op *ops, size_t n)
{
	for (size_t r = n / 2; r < n; r++) {
		if (ops[r].kind != WGL_READ || ops[r].return_us == WGL_NEVER)
			continue;
		for (size_t w2 = 0; w2 < n; w2++) {
			if (!completed_write(&ops[w2]) || ops[w2].return_us >= ops[r].call_us)
				continue;
			for (size_t w = 0; w < n; w++) {
				if (completed_write(&ops[w]) &&
				    ops[w].return_us < ops[w2].call_us &&
				    ops[w].value != ops[r].value) {
					ops[r].value = ops[w].value;
					return r;
				}
			}
		}
	}
	return SIZE_MAX;
}

/* How many other completed operations the interval of a completed one
 * overlaps (or touches), on average. */
static double mean_overlap(const struct wgl_op *ops, size_t n)
{
	size_t pairs = 0, completed = 0;
	for (size_t i = 0; i < n; i++) {
		if (ops[i].return_us == WGL_NEVER)
			continue;
		completed++;
		for (size_t j = i + 1; j < n; j++)
			if (ops[j].return_us != WGL_NEVER && ops[i].call_us <= ops[j].return_us &&
			    ops[j].call_us <= ops[i].return_us)
				pairs++;
	}
	return completed ? 2.0 * (double)pairs / (double)completed : 0;
}

/* ---- the command line ---- */

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seed=S] [--ops=N] [--keys=K] [--clients=C] [--plant-stale]\n",
		argv0);
	exit(2);
}

static uint64_t parse_u64(const char *argv0, const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	if (*s == '\0' || *end != '\0')
		usage(argv0);
	return (uint64_t)v;
}

static void parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"seed", required_argument, NULL, 's'},  {"ops", required_argument, NULL, 'n'},
	    {"keys", required_argument, NULL, 'k'},  {"clients", required_argument, NULL, 'c'},
	    {"plant-stale", no_argument, NULL, 'p'}, {NULL, 0, NULL, 0},
	};
	*o = (struct opts){.seed = 1, .ops = 10000, .keys = 10, .clients = 10};
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->seed = parse_u64(argv[0], optarg);
			break;
		case 'n':
			o->ops = (size_t)parse_u64(argv[0], optarg);
			break;
		case 'k':
			o->keys = (size_t)parse_u64(argv[0], optarg);
			break;
		case 'c':
			o->clients = (size_t)parse_u64(argv[0], optarg);
			break;
		case 'p':
			o->plant_stale = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || o->keys == 0 || o->clients == 0 || o->ops < o->keys)
		usage(argv[0]);
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The verdict this key must get. */
static enum wgl_verdict expected(const struct opts *o, size_t key)
{
	return o->plant_stale && key == 0 ? WGL_VIOLATION : WGL_OK;
}

int main(int argc, char **argv)
{
	struct opts o;
	parse(argc, argv, &o);
	printf("wgl bench: seed %" PRIu64 "%s\n", o.seed,
	       o.plant_stale ? ", planting a stale read" : "");

	size_t per_key = o.ops / o.keys;
	struct wgl_op *ops = calloc(per_key, sizeof(*ops));
	if (!ops) {
		perror("bench-wgl");
		return 1;
	}
	uint64_t rng = o.seed;
	uint64_t steps = 0;
	double elapsed = 0, overlap = 0;
	enum wgl_verdict worst = WGL_OK;
	int failures = 0;
	for (size_t key = 0; key < o.keys; key++) {
		if (generate(&rng, o.clients, ops, per_key) != 0) {
			perror("bench-wgl");
			free(ops);
			return 1;
		}
		size_t planted = SIZE_MAX;
		if (expected(&o, key) == WGL_VIOLATION) {
			planted = plant_stale(ops, per_key);
			if (planted == SIZE_MAX) {
				fprintf(stderr, "bench-wgl: no read to make stale in key 0\n");
				failures++;
			}
		}
		overlap += mean_overlap(ops, per_key) / (double)o.keys;
		struct wgl_result res;
		double t0 = seconds();
		enum wgl_verdict v = wgl_check(ops, per_key, WGL_NIL, TIME_LIMIT_MS, &res);
		elapsed += seconds() - t0;
		steps += res.steps;
		if (v > worst)
			worst = v;
		if (planted != SIZE_MAX)
			printf(
			    "wgl bench: key %zu: stale read planted at op %zu; checker: %s at op "
			    "%zu after %zu linearized\n",
			    key, planted, wgl_verdict_name(v), res.bad, res.longest);
		if (v != expected(&o, key)) {
			fprintf(stderr, "bench-wgl: key %zu: verdict %s, expected %s\n", key,
				wgl_verdict_name(v), wgl_verdict_name(expected(&o, key)));
			failures++;
		}
	}
	free(ops);
	printf("wgl bench: an operation overlaps %.1f others on average\n", overlap);
	printf("wgl bench: %zu ops over %zu keys, %zu clients/key: %.3f s, %" PRIu64
	       " steps, verdict %s (target < 5 s)\n",
	       per_key * o.keys, o.keys, o.clients, elapsed, steps, wgl_verdict_name(worst));
	return failures ? 1 : 0;
}
