/*
 * jepsen-check: checks a history recorded by jepsen-client.
 *
 *   jepsen-check --workload=NAME [--time-limit=S] [--total-limit=S] HISTORY
 *
 * Parses HISTORY (history.h; "-" reads stdin), runs the workload's
 * checker, prints its report and, as the last line, a summary for
 * scripts:
 *
 *   verdict=valid|invalid|unknown workload=NAME ops=N ok=N fail=N info=N
 *   unexpected=N stale_reads=N lost=N check_ms=N
 *
 * (one line; fields a workload does not use are 0). --time-limit bounds
 * the search per key (default 30 s), --total-limit the whole check
 * (default 600 s); a search cut short is "unknown", which is a failure.
 * Exit: 0 valid, 1 invalid or unknown, 2 usage or parse error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workload.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jepsen-check --workload=NAME [--time-limit=S] [--total-limit=S] HISTORY\n"
		"workloads:");
	for (size_t i = 0; wl_all[i] != NULL; i++)
		fprintf(f, " %s", wl_all[i]->name);
	fprintf(f, "\n");
}

static uint64_t seconds_ms(const char *name, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 86400)) {
		fprintf(stderr,
			"jepsen-check: --%s=%s: expected seconds in 0..86400 (0: no limit)\n", name,
			s);
		exit(2);
	}
	return (uint64_t)(v * 1000);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"workload", required_argument, NULL, 'w'},
	    {"time-limit", required_argument, NULL, 't'},
	    {"total-limit", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct workload *wl = NULL;
	struct check_opts co = {30000, 600000};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'w' && (wl = wl_find(optarg)) == NULL) {
			fprintf(stderr, "jepsen-check: no workload '%s'\n", optarg);
			usage(stderr);
			return 2;
		} else if (c == 't') {
			co.key_limit_ms = seconds_ms("time-limit", optarg);
		} else if (c == 'T') {
			co.total_limit_ms = seconds_ms("total-limit", optarg);
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else if (c != 'w') {
			usage(stderr);
			return 2;
		}
	}
	if (wl == NULL || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	struct history h;
	char err[512];
	if (hist_load(argv[optind], &h, err, sizeof err) != 0) {
		fprintf(stderr, "jepsen-check: %s\n", err);
		return 2;
	}
	struct check_stats st;
	memset(&st, 0, sizeof st);
	printf("jepsen-check: %s, %zu ops in %zu lines\n", argv[optind], h.n, h.lines);
	uint64_t t0 = now_ms();
	enum check_verdict v = wl->check(&h, &co, stdout, &st);
	st.check_ms = now_ms() - t0;
	/* An answer no correct server gives is a finding too, even when the
	 * history is otherwise consistent: the run fails and gets looked at. */
	if (v == CHECK_VALID && st.unexpected > 0) {
		printf("%s: %" PRIu64 " unexpected answer(s) (listed above): not valid\n", wl->name,
		       st.unexpected);
		v = CHECK_UNKNOWN;
	}
	hist_free(&h);
	printf("verdict=%s workload=%s ops=%" PRIu64 " ok=%" PRIu64 " fail=%" PRIu64
	       " info=%" PRIu64 " unexpected=%" PRIu64 " stale_reads=%" PRIu64 " lost=%" PRIu64
	       " check_ms=%" PRIu64 "\n",
	       check_verdict_name(v), wl->name, st.ops, st.ok, st.fail, st.info, st.unexpected,
	       st.stale_reads, st.lost, st.check_ms);
	return v == CHECK_VALID ? 0 : 1;
}
