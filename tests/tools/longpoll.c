/*
 * longpoll: the long-poll benchmark's client (tests/bench/longpoll.sh,
 * `make bench-longpoll`): many idle blocking queries on one node, the
 * node's memory with them parked, and how fast they wake.
 *
 *   longpoll --api H:P --pid PID [--watchers 10000] [--prefix-every 4]
 *            [--writers 16] [--rate 2000] [--max-seconds 120]
 *            [--target-mib 64] [--target-ms 50]
 *
 * 1. Raises its own RLIMIT_NOFILE (to watchers + 256, up to the hard
 *    limit; as root it may raise the hard limit too).
 * 2. Creates the keys lp/00000 .. lp/<N-1> (PUT over --writers
 *    connections) and keeps each key's modify_index.
 * 3. Reads the node's VmRSS (/proc/PID/status), opens N connections
 *    (epoll, at most 256 connects in flight) and sends on each
 *      GET /v1/kv/lp/<i>?index=<its modify_index>&wait=5m
 *    (every --prefix-every'th one a prefix watch instead:
 *      GET /v1/kv/lp/<i>?recurse&index=...&wait=5m, which covers only
 *    that key: the names are zero-padded), waits until the node holds N
 *    more open descriptors and one more second, and reads VmRSS again.
 *    None may answer meanwhile (their index is current: they must block).
 * 4. PUTs every key again, --rate PUTs per second in all over --writers
 *    connections, and times each watcher's answer from the answer to its
 *    key's PUT (negative: the watcher was answered first; counted as 0).
 *    Each must answer 200 with the PUT's index and the new value.
 * Prints the figures, a RESULT line for scripts, then "longpoll: PASS" or
 * "longpoll: FAIL (...)" (RSS growth over --target-mib, a wake over
 * --target-ms, a watcher that never woke or answered early or wrongly).
 * Exit 0 on PASS, 1 on FAIL, 2 on a usage or setup error. Every phase is
 * bounded by --max-seconds in all.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "httpc.h"

static struct sockaddr_in addr;
static int n_watch = 10000, prefix_every = 4, n_writers = 16, rate = 2000, max_seconds = 120;
static int target_mib = 64, target_ms = 50;
static long node_pid;
static uint64_t t_end;

static uint64_t *key_index;     /* modify_index of lp/<i> after the first PUT */
static uint64_t *put_index;     /* index of the second PUT */
static _Atomic uint64_t *t_ack; /* when the second PUT's answer came (us) */
static uint64_t *t_put;         /* when the second PUT was sent */
static atomic_int setup_errors;

static void sleep_us(uint64_t us)
{
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long proc_kib(const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", node_pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	long v = -1;
	size_t fl = strlen(field);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			v = strtol(line + fl + 1, NULL, 10);
	fclose(f);
	return v;
}

static int node_fds(void)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/fd", node_pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- writers: PUT lp/<i> for i = id, id + W, ... ---- */

struct writer {
	int id;
	int round; /* 0: create (key_index), 1: change (put_index, t_ack) */
	pthread_t th;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct hc_buf b = {0};
	int fd = hc_connect(&addr, false);
	if (fd < 0) {
		fprintf(stderr, "longpoll: writer %d: connect: %s\n", w->id, strerror(errno));
		atomic_fetch_add(&setup_errors, 1);
		return NULL;
	}
	/* Pace: this writer's share of the rate (round 1 only). */
	uint64_t gap =
	    w->round == 1 && rate > 0 ? 1000000ull * (uint64_t)n_writers / (uint64_t)rate : 0;
	uint64_t next = hc_now_us() + gap * (uint64_t)w->id / (uint64_t)n_writers;
	for (int i = w->id; i < n_watch; i += n_writers) {
		if (hc_now_us() > t_end)
			break;
		if (gap) {
			uint64_t now = hc_now_us();
			if (now < next)
				sleep_us(next - now);
			next += gap;
		}
		char req[256];
		int rl = snprintf(req, sizeof req,
				  "PUT /v1/kv/lp/%05d HTTP/1.1\r\nHost: "
				  "127.0.0.1\r\nContent-Length: 2\r\n\r\nv%d",
				  i, w->round);
		struct hc_resp r;
		if (w->round == 1)
			t_put[i] = hc_now_us();
		if (hc_roundtrip(fd, req, (size_t)rl, &b, &r, 10000) != 0 || r.status != 200 ||
		    !r.has_index) {
			fprintf(stderr, "longpoll: PUT lp/%05d: %s\n", i,
				errno ? strerror(errno) : "not 200");
			atomic_fetch_add(&setup_errors, 1);
			break;
		}
		if (w->round == 0) {
			key_index[i] = r.index;
		} else {
			atomic_store(&t_ack[i], hc_now_us());
			put_index[i] = r.index;
		}
		hc_buf_consume(&b, r.total);
	}
	close(fd);
	hc_buf_free(&b);
	return NULL;
}

static int run_writers(int round)
{
	struct writer *ws = calloc((size_t)n_writers, sizeof *ws);
	if (ws == NULL)
		return -1;
	for (int i = 0; i < n_writers; i++) {
		ws[i].id = i;
		ws[i].round = round;
		if (pthread_create(&ws[i].th, NULL, writer_main, &ws[i]) != 0)
			return -1;
	}
	for (int i = 0; i < n_writers; i++)
		pthread_join(ws[i].th, NULL);
	free(ws);
	return atomic_load(&setup_errors) ? -1 : 0;
}

struct round1 {
	pthread_t th;
};
static void *round1_main(void *arg)
{
	(void)arg;
	run_writers(1);
	return NULL;
}

/* ---- the watchers ---- */

enum wstate { W_CONNECTING, W_WAITING, W_DONE, W_FAILED };

struct watcher {
	int fd;
	enum wstate st;
	uint64_t t_wake;
	uint64_t got_index; /* the answer: its X-Cairn-Index, and whether */
	bool got_ok;        /* it was a 200 with the new value, in the right shape */
	char buf[1024];
	size_t len;
};

static struct watcher *wt;
static int epfd;
static int early, wrong, failed_conn;

static void watcher_send(int i)
{
	struct watcher *w = &wt[i];
	char req[256];
	bool prefix = prefix_every > 0 && i % prefix_every == 0;
	int rl = snprintf(req, sizeof req,
			  "GET /v1/kv/lp/%05d?%sindex=%" PRIu64
			  "&wait=5m HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
			  i, prefix ? "recurse&" : "", key_index[i]);
	ssize_t n = send(w->fd, req, (size_t)rl, MSG_NOSIGNAL);
	if (n != rl) {
		w->st = W_FAILED;
		failed_conn++;
		return;
	}
	w->st = W_WAITING;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
	epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

/* A watcher's socket is readable: its answer (or the node closed it). */
static void watcher_read(int i, bool changing)
{
	struct watcher *w = &wt[i];
	ssize_t n = recv(w->fd, w->buf + w->len, sizeof w->buf - w->len, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		if (w->st == W_WAITING) {
			w->st = W_FAILED;
			failed_conn++;
		}
		epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
		return;
	}
	w->len += (size_t)n;
	struct hc_resp r;
	int rc = hc_parse(w->buf, w->len, &r);
	if (rc == 0 && w->len < sizeof w->buf)
		return;
	uint64_t now = hc_now_us();
	epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (!changing) {
		early++;
		if (early <= 5)
			fprintf(stderr, "longpoll: watcher %d answered before any change: %.*s\n",
				i, (int)(rc == 1 ? r.body_len : 0), rc == 1 ? r.body : "");
		w->st = W_FAILED;
		return;
	}
	/* Checked against the PUT's index at the end: the watcher may be
	 * answered before its PUT is. */
	bool prefix = prefix_every > 0 && i % prefix_every == 0;
	w->got_ok = rc == 1 && r.status == 200 && r.has_index &&
		    memmem(r.body, r.body_len, "\"value\":\"v1\"", 12) != NULL &&
		    (!prefix || (r.body_len > 0 && r.body[0] == '['));
	w->got_index = rc == 1 && r.has_index ? r.index : 0;
	if (!w->got_ok && ++wrong <= 5)
		fprintf(stderr, "longpoll: watcher %d: answer %d: %.*s\n", i,
			rc == 1 ? r.status : -1, (int)(rc == 1 ? r.body_len : 0),
			rc == 1 ? r.body : "");
	w->t_wake = now;
	w->st = W_DONE;
}

static void raise_nofile(size_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max < want) {
		struct rlimit up = {want, want};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0) /* root only */
			return;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: longpoll --api H:P --pid PID [--watchers N] [--prefix-every K] "
		"[--writers W] [--rate R] [--max-seconds S] [--target-mib M] [--target-ms T]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	bool have_api = false;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (strcmp(a, "--api") == 0)
			have_api = hc_parse_addr(v, &addr) == 0;
		else if (strcmp(a, "--pid") == 0)
			node_pid = atol(v);
		else if (strcmp(a, "--watchers") == 0)
			n_watch = atoi(v);
		else if (strcmp(a, "--prefix-every") == 0)
			prefix_every = atoi(v);
		else if (strcmp(a, "--writers") == 0)
			n_writers = atoi(v);
		else if (strcmp(a, "--rate") == 0)
			rate = atoi(v);
		else if (strcmp(a, "--max-seconds") == 0)
			max_seconds = atoi(v);
		else if (strcmp(a, "--target-mib") == 0)
			target_mib = atoi(v);
		else if (strcmp(a, "--target-ms") == 0)
			target_ms = atoi(v);
		else
			usage();
	}
	if (argc % 2 != 1 || !have_api || node_pid <= 0 || n_watch < 1 || n_watch > 99999 ||
	    n_writers < 1 || n_writers > 256 || rate < 0 || max_seconds < 1 || prefix_every < 0)
		usage();
	t_end = hc_now_us() + (uint64_t)max_seconds * 1000000;

	raise_nofile((size_t)n_watch + 256);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	printf("longpoll: client fd limit %llu (hard %llu), %d long-polls wanted\n",
	       (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, n_watch);
	if (rl.rlim_cur < (rlim_t)n_watch + 64) {
		printf(
		    "longpoll: FAIL (this client may open only %llu files: raise the hard limit, "
		    "e.g. `ulimit -Hn %d` as root, or run with fewer --watchers)\n",
		    (unsigned long long)rl.rlim_cur, n_watch + 256);
		return 2;
	}
	key_index = calloc((size_t)n_watch, sizeof *key_index);
	put_index = calloc((size_t)n_watch, sizeof *put_index);
	t_ack = calloc((size_t)n_watch, sizeof *t_ack);
	t_put = calloc((size_t)n_watch, sizeof *t_put);
	wt = calloc((size_t)n_watch, sizeof *wt);
	if (key_index == NULL || put_index == NULL || t_ack == NULL || t_put == NULL || wt == NULL)
		return 2;

	/* 2. the keys */
	uint64_t t0 = hc_now_us();
	if (run_writers(0) != 0) {
		printf("longpoll: FAIL (creating the keys failed)\n");
		return 2;
	}
	printf("longpoll: created %d keys in %" PRIu64 " ms\n", n_watch, (hc_now_us() - t0) / 1000);

	/* 3. open the long-polls */
	sleep_us(300000);
	long rss0 = proc_kib("VmRSS"), fds0 = node_fds();
	printf("longpoll: node pid %ld: VmRSS %ld KiB, %ld open fds before\n", node_pid, rss0,
	       fds0);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event *evs = calloc(1024, sizeof *evs);
	if (epfd < 0 || evs == NULL)
		return 2;
	t0 = hc_now_us();
	int next = 0, connecting = 0, sent = 0;
	while ((sent + failed_conn < n_watch) && hc_now_us() < t_end) {
		while (next < n_watch && connecting < 256) {
			struct watcher *w = &wt[next];
			w->fd = hc_connect(&addr, true);
			if (w->fd < 0) {
				if (errno == EMFILE || errno == ENFILE) {
					printf("longpoll: out of file descriptors at watcher %d\n",
					       next);
					n_watch = next;
					break;
				}
				w->st = W_FAILED;
				failed_conn++;
				next++;
				continue;
			}
			w->st = W_CONNECTING;
			struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)next};
			epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev);
			connecting++;
			next++;
		}
		int n = epoll_wait(epfd, evs, 1024, 100);
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			struct watcher *w = &wt[i];
			if (w->st == W_CONNECTING) {
				connecting--;
				int err = 0;
				socklen_t el = sizeof err;
				getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err != 0 || (evs[k].events & (EPOLLERR | EPOLLHUP))) {
					w->st = W_FAILED;
					failed_conn++;
					epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
					continue;
				}
				watcher_send(i);
				if (w->st == W_WAITING)
					sent++;
			} else if (w->st == W_WAITING) {
				watcher_read(i, false);
			}
		}
	}
	uint64_t t_open = hc_now_us() - t0;
	/* Until the node holds them all, then a second more to park them. */
	long fds1 = node_fds();
	while (fds1 < fds0 + sent && hc_now_us() < t_end) {
		int n = epoll_wait(epfd, evs, 1024, 50);
		for (int k = 0; k < n; k++)
			watcher_read((int)evs[k].data.u32, false);
		fds1 = node_fds();
	}
	uint64_t settle = hc_now_us() + 1000000;
	while (hc_now_us() < settle) {
		int n = epoll_wait(epfd, evs, 1024, 50);
		for (int k = 0; k < n; k++)
			watcher_read((int)evs[k].data.u32, false);
	}
	long rss1 = proc_kib("VmRSS");
	fds1 = node_fds();
	printf("longpoll: opened %d long-polls (%d on prefixes) in %" PRIu64 " ms; %d failed to "
	       "connect, %d answered early; node: %ld open fds\n",
	       sent, prefix_every ? (n_watch + prefix_every - 1) / prefix_every : 0, t_open / 1000,
	       failed_conn, early, fds1);
	long delta = rss1 - rss0;
	printf("longpoll: node VmRSS %ld KiB with them parked: +%ld KiB (%.1f MiB), %.0f bytes per "
	       "long-poll (target: at most %d MiB for 10,000)\n",
	       rss1, delta, (double)delta / 1024, sent ? (double)delta * 1024 / sent : 0,
	       target_mib);

	/* 4. change every key; time the wake-ups */
	struct round1 r1;
	t0 = hc_now_us();
	if (pthread_create(&r1.th, NULL, round1_main, NULL) != 0)
		return 2;
	int done = 0, waiting = sent - early;
	while (done < waiting && hc_now_us() < t_end) {
		int n = epoll_wait(epfd, evs, 1024, 100);
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			if (wt[i].st != W_WAITING)
				continue;
			watcher_read(i, true);
			if (wt[i].st != W_WAITING)
				done++;
		}
		/* Stop waiting 10 s after the last PUT was answered. */
		static uint64_t writers_done_at;
		if (writers_done_at == 0) {
			bool all = true;
			for (int i = 0; i < n_watch && all; i++)
				all = atomic_load(&t_ack[i]) != 0;
			if (all)
				writers_done_at = hc_now_us();
		} else if (hc_now_us() > writers_done_at + 10000000) {
			break;
		}
	}
	pthread_join(r1.th, NULL);
	uint64_t t_change = hc_now_us() - t0;
	long rss2 = proc_kib("VmRSS");

	int64_t *lat = calloc((size_t)n_watch + 1, sizeof *lat);
	int64_t *lat_s = calloc((size_t)n_watch + 1, sizeof *lat_s);
	int n_lat = 0, woke = 0, before_ack = 0, over = 0, never = 0;
	for (int i = 0; i < n_watch; i++) {
		if (wt[i].st == W_DONE && wt[i].got_ok && wt[i].got_index != put_index[i]) {
			if (++wrong <= 5)
				fprintf(stderr,
					"longpoll: watcher %d: answered index %" PRIu64
					", its PUT's is %" PRIu64 "\n",
					i, wt[i].got_index, put_index[i]);
			wt[i].got_ok = false;
		}
		if (wt[i].st == W_DONE && wt[i].got_ok) {
			woke++;
			int64_t l = (int64_t)wt[i].t_wake - (int64_t)atomic_load(&t_ack[i]);
			if (l < 0) {
				before_ack++;
				l = 0;
			}
			if (l > (int64_t)target_ms * 1000)
				over++;
			lat_s[n_lat] = (int64_t)wt[i].t_wake - (int64_t)t_put[i];
			lat[n_lat++] = l;
		} else if (wt[i].st == W_WAITING) {
			never++;
		}
	}
	qsort(lat, (size_t)n_lat, sizeof *lat, cmp_i64);
	qsort(lat_s, (size_t)n_lat, sizeof *lat_s, cmp_i64);
	double p50 = n_lat ? (double)lat[n_lat / 2] / 1000 : 0;
	double p99 = n_lat ? (double)lat[(n_lat * 99) / 100] / 1000 : 0;
	double mx = n_lat ? (double)lat[n_lat - 1] / 1000 : 0;
	printf("longpoll: changed %d keys in %" PRIu64
	       " ms (%d PUT/s asked, %d connections); woke %d "
	       "of %d, %d never, %d wrong answers\n",
	       n_watch, t_change / 1000, rate, n_writers, woke, waiting, never, wrong);
	printf(
	    "longpoll: wake latency after the PUT's answer: p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
	    "%d over %d ms; %d answered before their PUT's answer (counted 0)\n",
	    p50, p99, mx, over, target_ms, before_ack);
	if (n_lat)
		printf(
		    "longpoll: from the PUT's request instead (an upper bound of apply-to-wake): "
		    "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		    (double)lat_s[n_lat / 2] / 1000, (double)lat_s[(n_lat * 99) / 100] / 1000,
		    (double)lat_s[n_lat - 1] / 1000);
	/* Memory once answered (idle keep-alive connections), then closed. */
	for (int i = 0; i < n_watch; i++)
		if (wt[i].fd > 0)
			close(wt[i].fd);
	sleep_us(1000000);
	long rss3 = proc_kib("VmRSS");
	printf("longpoll: node VmRSS %ld KiB once they had all woke (the connections still open), "
	       "%ld KiB a second after the client closed them\n",
	       rss2, rss3);
	printf("longpoll: RESULT watchers=%d parked=%d rss_before_kib=%ld rss_parked_kib=%ld "
	       "rss_delta_kib=%ld woke=%d p50_us=%.0f p99_us=%.0f max_us=%.0f over_target=%d\n",
	       n_watch, sent, rss0, rss1, delta, woke, p50 * 1000, p99 * 1000, mx * 1000, over);
	char why[512] = "";
	size_t wl = 0;
#define WHY(...) wl += (size_t)snprintf(why + wl, sizeof why - wl, __VA_ARGS__)
	if (sent < n_watch)
		WHY("%s%d of %d long-polls opened", wl ? "; " : "", sent, n_watch);
	if (early)
		WHY("%s%d answered before any change", wl ? "; " : "", early);
	if (never || woke < waiting)
		WHY("%s%d never woke", wl ? "; " : "", waiting - woke);
	if (wrong)
		WHY("%s%d wrong answers", wl ? "; " : "", wrong);
	if (delta > (long)target_mib * 1024 * n_watch / 10000)
		WHY("%sRSS grew %.1f MiB (target %d MiB per 10,000)", wl ? "; " : "",
		    (double)delta / 1024, target_mib);
	if (over)
		WHY("%s%d woke later than %d ms after their PUT", wl ? "; " : "", over, target_ms);
#undef WHY
	if (wl == 0)
		printf("longpoll: PASS\n");
	else
		printf("longpoll: FAIL (%s)\n", why);
	free(lat);
	free(lat_s);
	free(t_put);
	free(evs);
	free(wt);
	free(key_index);
	free(put_index);
	free(t_ack);
	close(epfd);
	return wl == 0 ? 0 : 1;
}
