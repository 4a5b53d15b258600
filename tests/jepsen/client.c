/*
 * jepsen-client: runs one workload against a cairn cluster and records
 * the history (history.h) for jepsen-check.
 *
 *   jepsen-client --nodes=A:P,B:P,... --workload=register|set --out=FILE
 *       [--prefix=STR] [--clients=10] [--duration=30] [--rate=20]
 *       [--op-timeout=3000] [--seed=S] [--final-timeout=60]
 *       [--keys=5] [--ops-per-key=400] [--healed-file=PATH]
 *
 * Phases:
 *   1. run: --clients threads, thread i bound to node i mod N (followers
 *      get traffic too), each on one keep-alive connection (reconnected
 *      after an error), one op at a time, --rate ops/s with jitter;
 *   2. stop, after --duration or on SIGTERM/SIGINT: no new ops; every op
 *      in flight completes (each is bounded by --op-timeout);
 *   3. heal wait: with --healed-file, until that file exists (the harness
 *      creates it once every fault is healed), then until every node
 *      answers GET /v1/health with 200, each at
 *      most --final-timeout; nodes that never do are recorded (comment
 *      lines) and left out of the final phase;
 *   4. final: the workload's reads from every healthy node (at most
 *      --final-timeout more);
 *   5. the history is flushed and closed; one summary line is printed.
 * A second SIGTERM/SIGINT cuts phases 3 and 4 short; the history is still
 * complete (every invoke has its completion). The history is also flushed
 * once a second while running.
 *
 * All random choices come from per-thread generators derived from --seed
 * (printed; default from the clock). Exit: 0 done, 2 usage or I/O error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

#define MAX_NODES 64
#define MAX_CLIENTS 1024
#define MAX_PREFIX 128
#define HEALTH_POLL_MS 250
#define FLUSH_EVERY_US 1000000u
#define PROGRESS_EVERY_US 10000000u

struct options {
	const struct workload *wl;
	struct sockaddr_in nodes[MAX_NODES];
	int n_nodes;
	const char *nodes_arg;
	char prefix[MAX_PREFIX + 1];
	int clients;
	double duration_s;
	double rate;
	int op_timeout_ms;
	uint64_t seed;
	const char *out;
	const char *healed_file; /* NULL: do not wait for the harness */
	int final_timeout_s;
	int keys, ops_per_key;
};

struct worker {
	pthread_t th;
	struct wl_client c;
	const struct options *o;
};

static atomic_int stop_requests;
static atomic_bool running;

static void on_signal(int sig)
{
	(void)sig;
	if (atomic_fetch_add(&stop_requests, 1) >= 1)
		wl_abort();
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: jepsen-client --nodes=A:P,B:P,... --workload=NAME --out=HISTORY\n"
		   "         [--prefix=STR] [--clients=10] [--duration=30] [--rate=20]\n"
		   "         [--op-timeout=3000] [--seed=S] [--final-timeout=60]\n"
		   "         [--keys=5] [--ops-per-key=400] [--healed-file=PATH]\n"
		   "workloads:\n");
	for (size_t i = 0; wl_all[i] != NULL; i++)
		fprintf(f, "  %-9s %s\n", wl_all[i]->name, wl_all[i]->about);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "jepsen-client: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (--help)\n");
	va_end(ap);
	exit(2);
}

static double num(const char *name, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) {
		fprintf(stderr, "jepsen-client: --%s=%s: expected a number in %g..%g\n", name, s,
			min, max);
		exit(2);
	}
	return v;
}

static void parse_nodes(struct options *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	if (copy == NULL)
		exit(2);
	for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (o->n_nodes == MAX_NODES)
			die_usage("--nodes: more than %d nodes", MAX_NODES);
		if (hc_parse_addr(t, &o->nodes[o->n_nodes]) != 0)
			die_usage("--nodes: '%s' is not IPv4:PORT", t);
		o->n_nodes++;
	}
	free(copy);
	o->nodes_arg = arg;
}

static void set_prefix(struct options *o, const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > MAX_PREFIX || p[0] == '/' ||
	    strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != n)
		die_usage("--prefix=%s: 1-128 bytes of [A-Za-z0-9._/-], not starting with '/'", p);
	strcpy(o->prefix, p);
}

enum {
	O_NODES = 1,
	O_WORKLOAD,
	O_PREFIX,
	O_CLIENTS,
	O_DURATION,
	O_RATE,
	O_OP_TIMEOUT,
	O_SEED,
	O_OUT,
	O_FINAL_TIMEOUT,
	O_KEYS,
	O_OPS_PER_KEY,
	O_HEALED_FILE,
	O_HELP
};

static const struct option long_opts[] = {
    {"nodes", required_argument, NULL, O_NODES},
    {"workload", required_argument, NULL, O_WORKLOAD},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"clients", required_argument, NULL, O_CLIENTS},
    {"duration", required_argument, NULL, O_DURATION},
    {"rate", required_argument, NULL, O_RATE},
    {"op-timeout", required_argument, NULL, O_OP_TIMEOUT},
    {"seed", required_argument, NULL, O_SEED},
    {"out", required_argument, NULL, O_OUT},
    {"final-timeout", required_argument, NULL, O_FINAL_TIMEOUT},
    {"keys", required_argument, NULL, O_KEYS},
    {"ops-per-key", required_argument, NULL, O_OPS_PER_KEY},
    {"healed-file", required_argument, NULL, O_HEALED_FILE},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static void parse_seed(struct options *o, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		die_usage("--seed=%s: expected an unsigned decimal", s);
	o->seed = v;
}

static void apply_opt(struct options *o, int c, const char *arg)
{
	switch (c) {
	case O_NODES:
		parse_nodes(o, arg);
		break;
	case O_WORKLOAD:
		if ((o->wl = wl_find(arg)) == NULL)
			die_usage("--workload=%s: no such workload", arg);
		break;
	case O_PREFIX:
		set_prefix(o, arg);
		break;
	case O_CLIENTS:
		o->clients = (int)num("clients", arg, 1, MAX_CLIENTS);
		break;
	case O_DURATION:
		o->duration_s = num("duration", arg, 0, 86400);
		break;
	case O_RATE:
		o->rate = num("rate", arg, 0.01, 100000);
		break;
	case O_OP_TIMEOUT:
		o->op_timeout_ms = (int)num("op-timeout", arg, 10, 600000);
		break;
	case O_SEED:
		parse_seed(o, arg);
		break;
	case O_OUT:
		o->out = arg;
		break;
	case O_FINAL_TIMEOUT:
		o->final_timeout_s = (int)num("final-timeout", arg, 0, 86400);
		break;
	case O_KEYS:
		o->keys = (int)num("keys", arg, 1, 256);
		break;
	case O_OPS_PER_KEY:
		o->ops_per_key = (int)num("ops-per-key", arg, 1, 1e9);
		break;
	case O_HEALED_FILE:
		o->healed_file = arg;
		break;
	case O_HELP:
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		exit(2);
	}
}

static void parse_options(struct options *o, int argc, char **argv)
{
	*o = (struct options){.clients = 10,
			      .duration_s = 30,
			      .rate = 20,
			      .op_timeout_ms = 3000,
			      .final_timeout_s = 60,
			      .keys = 5,
			      .ops_per_key = 400};
	bool seeded = false;
	int c;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		apply_opt(o, c, optarg);
		seeded |= c == O_SEED;
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (o->n_nodes == 0 || o->wl == NULL || o->out == NULL)
		die_usage("--nodes, --workload and --out are required");
	if (!seeded) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		o->seed =
		    ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
	}
	if (o->prefix[0] == '\0')
		snprintf(o->prefix, sizeof o->prefix, "jepsen-%" PRIu64 "-%ld/", o->seed % 1000000,
			 (long)time(NULL));
}

/* ---- the run ---- */

static void sleep_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sleeps until t (hc_now_us), in slices, giving up when the run stops. */
static void pace_until(uint64_t t)
{
	for (;;) {
		uint64_t now = hc_now_us();
		if (now >= t || !atomic_load(&running))
			return;
		sleep_us(t - now < 50000 ? t - now : 50000);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	double gap_us = 1e6 / w->o->rate;
	while (atomic_load(&running)) {
		uint64_t t0 = hc_now_us();
		w->o->wl->step(&w->c);
		/* Uniform jitter in [0.5, 1.5) of the mean gap, from the seed. */
		double j = 0.5 + (double)(wl_rand(&w->c) >> 11) / 9007199254740992.0;
		pace_until(t0 + (uint64_t)(gap_us * j));
	}
	return NULL;
}

static uint64_t thread_seed(uint64_t seed, int i)
{
	struct wl_client tmp = {.rng = seed ^ (0xd1b54a32d192ed03ull * ((uint64_t)i + 1u))};
	return wl_rand(&tmp);
}

static void progress(uint64_t t0)
{
	struct wl_totals t;
	wl_totals(&t);
	printf("jepsen-client: %.0f s: ops=%" PRIu64 " ok=%" PRIu64 " fail=%" PRIu64
	       " info=%" PRIu64 "\n",
	       (double)(hc_now_us() - t0) / 1e6, t.ops, t.ok, t.fail, t.info);
	fflush(stdout);
}

/* The main phase: starts the workers, waits for the duration or a stop
 * request, stops them and waits for their ops in flight. */
static int run_phase(const struct options *o, struct worker *ws, struct hist_writer *h)
{
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old); /* workers: signals go to main */
	atomic_store(&running, true);
	int started = 0;
	for (; started < o->clients; started++) {
		ws[started].o = o;
		wl_client_init(&ws[started].c, started, started % o->n_nodes, (uint64_t)started,
			       thread_seed(o->seed, started));
		if (pthread_create(&ws[started].th, NULL, worker_main, &ws[started]) != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	uint64_t t0 = hc_now_us(), end = t0 + (uint64_t)(o->duration_s * 1e6);
	uint64_t flushed = t0, shown = t0;
	while (started == o->clients && atomic_load(&stop_requests) == 0 && hc_now_us() < end) {
		sleep_us(100000);
		if (hc_now_us() - flushed >= FLUSH_EVERY_US) {
			hist_flush(h);
			flushed = hc_now_us();
		}
		if (hc_now_us() - shown >= PROGRESS_EVERY_US) {
			progress(t0);
			shown = hc_now_us();
		}
	}
	atomic_store(&running, false);
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].th, NULL);
	for (int i = 0; i < started; i++)
		wl_client_close(&ws[i].c);
	hist_comment(h, "run phase over after %.1f s%s", (double)(hc_now_us() - t0) / 1e6,
		     atomic_load(&stop_requests) ? " (stopped by a signal)" : "");
	if (started < o->clients) {
		fprintf(stderr, "jepsen-client: could not start thread %d\n", started);
		return -1;
	}
	return 0;
}

/* Waits until every node answers GET /v1/health with 200; healthy[i] says
 * which did. Records the outcome as comments. */
static void wait_healthy(const struct options *o, struct hist_writer *h, bool *healthy)
{
	uint64_t t0 = hc_now_us(), end = t0 + (uint64_t)o->final_timeout_s * 1000000u;
	char last[MAX_NODES][96];
	int left = o->n_nodes;
	for (int i = 0; i < o->n_nodes; i++) {
		healthy[i] = false;
		snprintf(last[i], sizeof last[i], "not asked");
	}
	while (left > 0 && !wl_aborted()) {
		for (int i = 0; i < o->n_nodes; i++) {
			if (healthy[i])
				continue;
			struct wl_client c;
			struct wl_reply r;
			wl_client_init(&c, -1, i, 0, 0);
			wl_request(&c, "GET", "/v1/health", NULL, 0, &r);
			if (r.sent == WL_ANSWERED && r.status == 200) {
				healthy[i] = true;
				left--;
				hist_comment(h, "node %d healthy after %.1f s", i,
					     (double)(hc_now_us() - t0) / 1e6);
			} else if (r.sent == WL_ANSWERED) {
				snprintf(last[i], sizeof last[i], "%d %s", r.status, r.code);
			} else {
				snprintf(last[i], sizeof last[i], "%s", r.error);
			}
			wl_client_close(&c);
		}
		if (left == 0 || hc_now_us() >= end)
			break;
		sleep_us(HEALTH_POLL_MS * 1000u);
	}
	double waited = (double)(hc_now_us() - t0) / 1e6;
	for (int i = 0; i < o->n_nodes; i++)
		if (!healthy[i]) {
			hist_comment(h,
				     "node %d NOT healthy, gave up after %.1f s (last answer: %s): "
				     "no final read",
				     i, waited, last[i]);
			fprintf(stderr,
				"jepsen-client: node %d not healthy, gave up after %.1f s (%s): no "
				"final read\n",
				i, waited, last[i]);
		}
}

/* Waits until the harness says every fault is healed (the file exists),
 * at most --final-timeout. */
static void wait_healed(const struct options *o, struct hist_writer *h)
{
	uint64_t t0 = hc_now_us(), end = t0 + (uint64_t)o->final_timeout_s * 1000000u;
	while (access(o->healed_file, F_OK) != 0 && !wl_aborted()) {
		if (hc_now_us() >= end) {
			hist_comment(h, "no word that the faults were healed after %.1f s",
				     (double)(hc_now_us() - t0) / 1e6);
			return;
		}
		sleep_us(HEALTH_POLL_MS * 1000u);
	}
	hist_comment(h, "faults healed %.1f s after the run stopped",
		     (double)(hc_now_us() - t0) / 1e6);
}

static void final_phase(const struct options *o, struct hist_writer *h)
{
	bool healthy[MAX_NODES];
	struct wl_client cl[MAX_NODES];
	size_t n = 0;
	if (o->healed_file)
		wait_healed(o, h);
	wait_healthy(o, h, healthy);
	for (int i = 0; i < o->n_nodes; i++)
		if (healthy[i])
			wl_client_init(&cl[n++], -1, i, wl_new_process(),
				       thread_seed(o->seed, MAX_CLIENTS + i));
	uint64_t t0 = hc_now_us();
	if (n > 0 && !wl_aborted())
		o->wl->final(cl, n, t0 + (uint64_t)o->final_timeout_s * 1000000u);
	hist_comment(h, "final phase over after %.1f s%s", (double)(hc_now_us() - t0) / 1e6,
		     wl_aborted() ? " (cut short by a second signal)" : "");
	for (size_t i = 0; i < n; i++)
		wl_client_close(&cl[i]);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void header(const struct options *o, struct hist_writer *h)
{
	hist_comment(
	    h,
	    "jepsen-client workload=%s seed=%" PRIu64
	    " prefix=%s clients=%d rate=%g duration=%g op-timeout=%d keys=%d ops-per-key=%d",
	    o->wl->name, o->seed, o->prefix, o->clients, o->rate, o->duration_s, o->op_timeout_ms,
	    o->keys, o->ops_per_key);
	hist_comment(h, "nodes=%s", o->nodes_arg);
	hist_comment(h, "time_us process type f key a b node note");
}

int main(int argc, char **argv)
{
	struct options o;
	char err[256];
	parse_options(&o, argc, argv);
	printf("jepsen-client: workload=%s seed=%" PRIu64 " prefix=%s nodes=%d clients=%d\n",
	       o.wl->name, o.seed, o.prefix, o.n_nodes, o.clients);
	fflush(stdout);
	struct hist_writer *h = hist_open(o.out, err, sizeof err);
	if (h == NULL) {
		fprintf(stderr, "jepsen-client: %s\n", err);
		return 2;
	}
	header(&o, h);
	install_signals();
	wl_runtime_init(h, o.nodes, o.n_nodes, o.op_timeout_ms, (uint64_t)o.clients);
	struct wl_config cfg = {o.prefix, o.clients,     o.n_nodes,
				o.keys,   o.ops_per_key, o.op_timeout_ms};
	struct worker *ws = calloc((size_t)o.clients, sizeof *ws);
	int rc = 0;
	if (ws == NULL || o.wl->start(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "jepsen-client: %s\n", ws == NULL ? "out of memory" : err);
		hist_close(h, err, sizeof err);
		free(ws);
		return 2;
	}
	if (run_phase(&o, ws, h) != 0)
		rc = 2;
	final_phase(&o, h);
	o.wl->stop();
	free(ws);
	wl_runtime_end();
	if (hist_close(h, err, sizeof err) != 0) {
		fprintf(stderr, "jepsen-client: %s: %s\n", o.out, err);
		rc = 2;
	}
	struct wl_totals t;
	wl_totals(&t);
	printf("jepsen-client: workload=%s ops=%" PRIu64 " ok=%" PRIu64 " fail=%" PRIu64
	       " info=%" PRIu64 " unexpected=%" PRIu64 "\n",
	       o.wl->name, t.ops, t.ok, t.fail, t.info, t.unexpected);
	return rc;
}
