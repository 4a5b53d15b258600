/*
 * tests/sim/sim: the command line of the simulator.
 *
 *   sim --seed=S [--trace] [--steps=N]   replay one seed bit for bit
 *   sim --seeds=N [--start=S0] [--jobs=J] run seeds S0 .. S0+N-1, print
 *                                         seeds/s and events/s
 *   sim ... --until-fail [--time-limit=SEC] [--mutant=NAME]
 *       stop at the first failing seed (the lowest, whatever the jobs'
 *       timing) and, with --mutant, print "MUTANT NAME caught by seed S" or
 *       "MUTANT NAME SURVIVED"; the exit status is 0 iff a seed failed.
 *   --stats            print one line of statistics per seed
 *   --no-read-answers  do not require every accepted read to be answered
 *   --no-rule-checks   check only the end-to-end properties (see checks.c)
 *   --baseline=BIN     (with --mutant) ignore seeds that BIN, the simulator
 *                      without the mutant, fails as well
 *
 * The seeds are split over J forked workers (--jobs, default 1; seed
 * start+i goes to worker i mod J), which report one line per seed through a
 * pipe. A worker that dies (an assertion in raftcore, a crash) fails the seed
 * it was running, and a new worker carries on after it. Wall-clock time is
 * read here only, for the rates; it never reaches a simulation.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

struct opts {
	uint64_t seed, start, seeds, steps;
	bool one, trace, stats, until_fail, rule_checks, read_answers, quiet;
	unsigned jobs;
	double time_limit;
	const char *mutant;
	const char *baseline;
	const char *argv0;
};

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(const char *argv0)
{
	fprintf(
	    stderr,
	    "usage: %s --seed=S [--trace] [--steps=N]\n"
	    "       %s --seeds=N [--start=S0] [--jobs=J] [--until-fail] [--time-limit=SEC]\n"
	    "          [--mutant=NAME] [--baseline=BIN] [--no-rule-checks] [--no-read-answers]\n"
	    "          [--stats] [--quiet]\n",
	    argv0, argv0);
	exit(2);
}

static bool arg_u64(const char *a, const char *name, uint64_t *out)
{
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0 || a[n] != '=')
		return false;
	char *end;
	errno = 0;
	*out = strtoull(a + n + 1, &end, 0);
	if (errno || *end || end == a + n + 1) {
		fprintf(stderr, "bad value in %s\n", a);
		exit(2);
	}
	return true;
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.start = 1,
			   .seeds = 1,
			   .jobs = 1,
			   .rule_checks = true,
			   .read_answers = true,
			   .argv0 = argv[0]};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v;
		if (arg_u64(a, "--seed", &o->seed))
			o->one = true;
		else if (arg_u64(a, "--seeds", &o->seeds) || arg_u64(a, "--start", &o->start) ||
			 arg_u64(a, "--steps", &o->steps))
			;
		else if (arg_u64(a, "--jobs", &v))
			o->jobs = v ? (unsigned)v : 1;
		else if (arg_u64(a, "--time-limit", &v))
			o->time_limit = (double)v;
		else if (!strcmp(a, "--trace"))
			o->trace = true;
		else if (!strcmp(a, "--stats"))
			o->stats = true;
		else if (!strcmp(a, "--until-fail"))
			o->until_fail = true;
		else if (!strcmp(a, "--no-rule-checks"))
			o->rule_checks = false;
		else if (!strcmp(a, "--no-read-answers"))
			o->read_answers = false;
		else if (!strcmp(a, "--quiet"))
			o->quiet = true;
		else if (!strncmp(a, "--mutant=", 9))
			o->mutant = a + 9;
		else if (!strncmp(a, "--baseline=", 11))
			o->baseline = a + 11;
		else
			usage(argv[0]);
	}
	if (o->one) {
		o->start = o->seed;
		o->seeds = 1;
		o->jobs = 1;
	}
	if (o->trace && !o->one)
		usage(argv[0]);
}

struct result {
	uint64_t seed, events;
	int failed;
	char msg[1200];
};

static void run_one(const struct opts *o, uint64_t seed, struct result *r)
{
	r->seed = seed;
	r->msg[0] = 0;
	struct sim_flags f = {.trace = o->trace,
			      .stats = o->stats,
			      .rule_checks = o->rule_checks,
			      .read_answers = o->read_answers,
			      .max_events = o->steps};
	r->failed = sim_run(seed, &f, &r->events, r->msg, sizeof(r->msg));
}

/* ---- the parent's bookkeeping ---- */

struct tally {
	uint64_t done, failed, events;
	uint64_t min_fail;       /* UINT64_MAX: none */
	uint64_t baseline_fails; /* failures that are not the mutant's */
	char min_fail_msg[1200];
};

/* With --baseline=BIN (the simulator built without the mutant), a seed
 * counts only if it passes there: a mutant is caught by what it breaks, not
 * by a bug the unmutated core also has. */
static bool baseline_fails(const struct opts *o, uint64_t seed)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "'%s' --seed=%" PRIu64 " >/dev/null 2>&1", o->baseline, seed);
	int st = system(cmd);
	return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void account(const struct opts *o, struct tally *t, const struct result *r)
{
	t->done++;
	t->events += r->events;
	if (!r->failed)
		return;
	if (o->baseline && r->seed < t->min_fail && baseline_fails(o, r->seed)) {
		t->baseline_fails++;
		return;
	}
	t->failed++;
	if (r->seed < t->min_fail) {
		t->min_fail = r->seed;
		snprintf(t->min_fail_msg, sizeof(t->min_fail_msg), "%s", r->msg);
	}
	if (!o->quiet || !o->until_fail)
		printf("FAIL seed=%" PRIu64 " %s\n  replay: %s --seed=%" PRIu64 " --trace\n",
		       r->seed, r->msg, o->argv0, r->seed);
	fflush(stdout);
}

struct worker {
	pid_t pid;
	int fd;
	char buf[4096];
	size_t len;
	uint64_t next; /* index of the next seed it runs (seeds next, next+J, ...) */
	bool done;
};

static void worker_main(const struct opts *o, uint64_t first, unsigned stride, int fd)
{
	FILE *out = fdopen(fd, "w");
	if (!out)
		_exit(3);
	for (uint64_t i = first; i < o->seeds; i += stride) {
		struct result r;
		run_one(o, o->start + i, &r);
		for (char *p = r.msg; *p; p++)
			if (*p == '\n')
				*p = ' ';
		fprintf(out, "%" PRIu64 " %" PRIu64 " %d %s\n", r.seed, r.events, r.failed, r.msg);
		fflush(out);
	}
	fclose(out);
	exit(0);
}

static void spawn(const struct opts *o, struct worker *w, unsigned k, unsigned nj, uint64_t first)
{
	int p[2];
	fflush(stdout);
	if (pipe(p) != 0) {
		perror("pipe");
		exit(2);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		close(p[0]);
		for (unsigned j = 0; j < nj; j++)
			if (j != k && !w[j].done && w[j].pid)
				close(w[j].fd);
		worker_main(o, first, nj, p[1]);
	}
	close(p[1]);
	w[k] = (struct worker){.pid = pid, .fd = p[0], .next = first};
}

/* A worker ended: fine if it ran all its seeds; if it died (an assertion
 * in raftcore, a crash), the seed it was running failed: report it and go
 * on with the next one in a new worker. */
static void reap(const struct opts *o, struct tally *t, struct worker *w, unsigned k, unsigned nj)
{
	int st = 0;
	close(w[k].fd);
	waitpid(w[k].pid, &st, 0);
	w[k].done = true;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return;
	if (w[k].next >= o->seeds) {
		fprintf(stderr, "sim: worker %u ended with status %d\n", k, st);
		t->failed++;
		return;
	}
	struct result r = {.seed = o->start + w[k].next, .failed = 1};
	snprintf(r.msg, sizeof(r.msg), "Crash: the simulation process died (%s %d)",
		 WIFSIGNALED(st) ? "signal" : "exit status",
		 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	account(o, t, &r);
	if (w[k].next + nj < o->seeds)
		spawn(o, w, k, nj, w[k].next + nj);
}

static void run_forked(const struct opts *o, struct tally *t, double t0)
{
	struct worker w[64] = {0};
	unsigned nj = o->jobs > 64 ? 64 : o->jobs;
	for (unsigned k = 0; k < nj; k++) {
		if (k < o->seeds)
			spawn(o, w, k, nj, k);
		else
			w[k].done = true;
	}
	bool stop = false;
	for (;;) {
		unsigned live = 0;
		for (unsigned k = 0; k < nj; k++)
			live += !w[k].done;
		if (!live || stop)
			break;
		struct pollfd pf[64];
		for (unsigned k = 0; k < nj; k++)
			pf[k] = (struct pollfd){.fd = w[k].done ? -1 : w[k].fd, .events = POLLIN};
		int rv = poll(pf, nj, 200);
		if (rv < 0 && errno != EINTR) {
			perror("poll");
			exit(2);
		}
		for (unsigned k = 0; k < nj && rv > 0; k++) {
			if (w[k].done || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got =
			    read(w[k].fd, w[k].buf + w[k].len, sizeof(w[k].buf) - 1 - w[k].len);
			if (got <= 0) {
				reap(o, t, w, k, nj);
				continue;
			}
			w[k].len += (size_t)got;
			w[k].buf[w[k].len] = 0;
			char *line = w[k].buf, *nl;
			while ((nl = strchr(line, '\n'))) {
				*nl = 0;
				struct result r = {0};
				int off = 0;
				if (sscanf(line, "%" SCNu64 " %" SCNu64 " %d %n", &r.seed,
					   &r.events, &r.failed, &off) >= 3) {
					snprintf(r.msg, sizeof(r.msg), "%s", line + off);
					account(o, t, &r);
					w[k].next = r.seed - o->start + nj;
				}
				line = nl + 1;
			}
			w[k].len = strlen(line);
			memmove(w[k].buf, line, w[k].len + 1);
		}
		if (o->until_fail && t->min_fail != UINT64_MAX) {
			/* Wait until no worker can still find a lower failing seed. */
			bool all_past = true;
			for (unsigned k = 0; k < nj; k++)
				if (!w[k].done && o->start + w[k].next < t->min_fail)
					all_past = false;
			stop = all_past;
		}
		if (o->time_limit > 0 && wall() - t0 > o->time_limit)
			stop = true;
	}
	for (unsigned k = 0; k < nj; k++) {
		if (w[k].done)
			continue;
		kill(w[k].pid, SIGKILL);
		close(w[k].fd);
		waitpid(w[k].pid, NULL, 0);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	parse(argc, argv, &o);
	struct tally t = {.min_fail = UINT64_MAX};
	double t0 = wall();
	if (o.one) {
		struct result r;
		run_one(&o, o.seed, &r);
		if (r.failed) {
			printf("VIOLATION seed=%" PRIu64 " %s\n  replay: %s --seed=%" PRIu64
			       " --trace\n",
			       r.seed, r.msg, o.argv0, r.seed);
			return 1;
		}
		printf("seed %" PRIu64 ": ok, %" PRIu64 " events\n", r.seed, r.events);
		return 0;
	}
	run_forked(&o, &t, t0);
	double dt = wall() - t0;
	if (dt <= 0)
		dt = 1e-9;
	if (o.mutant) {
		if (t.min_fail != UINT64_MAX)
			printf("MUTANT %s caught by seed %" PRIu64 "\n    %s\n", o.mutant,
			       t.min_fail, t.min_fail_msg);
		else
			printf("MUTANT %s SURVIVED\n    %" PRIu64 " seeds in %.1f s, %" PRIu64
			       " failing without the mutant too\n",
			       o.mutant, t.done, dt, t.baseline_fails);
		return t.min_fail != UINT64_MAX ? 0 : 1;
	}
	printf("sim: %" PRIu64 " seeds from %" PRIu64 ", %" PRIu64 " failed; %" PRIu64
	       " events in %.2f s: %.1f seeds/s, %.0f events/s (%u jobs)\n",
	       t.done, o.start, t.failed, t.events, dt, (double)t.done / dt, (double)t.events / dt,
	       o.jobs);
	if (o.until_fail)
		return t.min_fail != UINT64_MAX ? 0 : 1;
	return t.failed || t.done < o.seeds ? 1 : 0;
}
