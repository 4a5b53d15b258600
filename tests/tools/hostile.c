/*
 * hostile: malformed and hostile HTTP clients for the bad-input test
 * (tests/integration/t_bad_input_is_refused_and_node_keeps_serving.sh).
 * Traffic to the one address given (the test uses 127.0.0.1 only).
 *
 *   hostile send HOST:PORT [--timeout-ms N] [--chunk N --delay-ms N] [--shut-wr]
 *                [--check-close]
 *       Sends stdin's bytes as they are (a raw request: anything), reading
 *       the answer meanwhile (so a refusal that comes before the whole
 *       request is sent is still seen), until a complete response, the
 *       connection's end or the timeout. --chunk/--delay-ms send slowly;
 *       --shut-wr half-closes after the last byte. Prints one line:
 *         STATUS <code> <bytes sent> | CLOSED <bytes sent> | TIMEOUT <bytes sent>
 *       and for STATUS two more: HEAD <header lines joined with " | ">,
 *       BODY <the first 400 bytes, bytes outside printable ASCII as \xNN>;
 *       with --check-close a fourth, after waiting up to 500 ms more:
 *       AFTER closed (the node closed the connection) | open | data <bytes>.
 *
 *   hostile slow HOST:PORT --mode headers|body|idle [--conns N]
 *                [--seconds N] [--interval-ms N]
 *       Slowloris: N connections (default 100) each send one byte every
 *       interval (default 200 ms): headers mode dribbles a header section
 *       that never ends, body mode sends complete headers announcing a
 *       1 MB body and dribbles that, idle mode sends nothing. For --seconds
 *       (default 10), then closes them. Prints
 *         slow: mode=M conns=N opened=O bytes=B closed_by_node=C answered=A
 *
 *   hostile client HOST:PORT [--max-seconds N] [--stop-file F] [--interval-ms N]
 *       The well-behaved client: PUT /v1/kv/bg/<i%50> = bg-<i>, then GET it
 *       ?raw and compare, every interval (default 10 ms), every 4th pair on a
 *       fresh connection; until the stop file exists or max-seconds
 *       (default 60) pass (SIGTERM also stops it). Prints
 *         client: pairs=N ok=M failed=F p50=X ms p99=Y ms max=Z ms
 *       and one line per failure (the first 20). Exit 0 when none failed.
 *
 * Exit status: 0 (send, slow: the run happened; the caller judges the
 * output), 1 (client: a failure), 2 (usage, connect error).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpc.h"

static struct sockaddr_in addr;

static void usage(void)
{
	fprintf(stderr, "usage: hostile send|slow|client HOST:PORT [options] (see hostile.c)\n");
	exit(2);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void print_escaped(const char *tag, const char *p, size_t n, size_t max)
{
	printf("%s ", tag);
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	if (n > max)
		printf("...");
	printf("\n");
}

/* ---- send ---- */

static int cmd_send(int argc, char **argv)
{
	int timeout_ms = 5000, chunk = 0, delay_ms = 0;
	bool shut_wr = false, check_close = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--shut-wr") == 0)
			shut_wr = true;
		else if (strcmp(argv[i], "--check-close") == 0)
			check_close = true;
		else if (i + 1 < argc && strcmp(argv[i], "--timeout-ms") == 0)
			timeout_ms = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--chunk") == 0)
			chunk = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--delay-ms") == 0)
			delay_ms = atoi(argv[++i]);
		else
			usage();
	}
	/* The request: all of stdin (bounded). */
	size_t cap = 1 << 16, len = 0;
	char *req = malloc(cap);
	for (;;) {
		if (req == NULL)
			return 2;
		if (len == cap) {
			if (cap >= (size_t)64 << 20) {
				fprintf(stderr, "hostile: request over 64 MiB\n");
				return 2;
			}
			cap *= 2;
			req = realloc(req, cap);
			continue;
		}
		ssize_t n = read(0, req + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	int fd = hc_connect(&addr, false);
	if (fd < 0) {
		fprintf(stderr, "hostile: connect: %s\n", strerror(errno));
		return 2;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	struct hc_buf b = {0};
	struct hc_resp r;
	size_t sent = 0;
	bool can_send = true, eof = false;
	uint64_t deadline = hc_now_us() + (uint64_t)timeout_ms * 1000;
	uint64_t next_send = 0;
	int got = 0;
	while (!eof) {
		uint64_t now = hc_now_us();
		if (now >= deadline)
			break;
		if (can_send && sent == len) {
			can_send = false;
			if (shut_wr)
				shutdown(fd, SHUT_WR);
		}
		struct pollfd p = {fd, POLLIN, 0};
		int wait_ms = (int)((deadline - now) / 1000) + 1;
		if (can_send) {
			if (now >= next_send)
				p.events |= POLLOUT;
			else if ((int)((next_send - now) / 1000) + 1 < wait_ms)
				wait_ms = (int)((next_send - now) / 1000) + 1;
		}
		int pr = poll(&p, 1, wait_ms);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			long n = hc_recv(fd, &b);
			if (n > 0) {
				b.len += (size_t)n;
				got = hc_parse(b.p, b.len, &r);
				if (got != 0)
					break;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				eof = true;
				break;
			}
		}
		if (can_send && (p.revents & POLLOUT)) {
			size_t n = len - sent;
			if (chunk > 0 && n > (size_t)chunk)
				n = (size_t)chunk;
			if (n > 65536)
				n = 65536;
			ssize_t w = send(fd, req + sent, n, MSG_NOSIGNAL);
			if (w > 0) {
				sent += (size_t)w;
				if (chunk > 0)
					next_send = hc_now_us() + (uint64_t)delay_ms * 1000;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				can_send = false; /* the node closed: read what it said */
			}
		}
	}
	if (got == 0 && eof && b.len > 0)
		got = hc_parse(b.p, b.len, &r) == 0 && r.head_len > 0 && r.close ? 1 : -1;
	if (got == 1) {
		printf("STATUS %d %zu\n", r.status, sent);
		print_escaped("HEAD", b.p, r.head_len > 4 ? r.head_len - 4 : 0, 2000);
		print_escaped("BODY", r.body, r.body_len, 400);
		if (check_close) {
			/* Does the node close after this answer, or wait for more? */
			size_t rest = b.len - r.total;
			if (rest == 0) {
				struct pollfd p = {fd, POLLIN, 0};
				if (poll(&p, 1, 500) > 0) {
					long n = hc_recv(fd, &b);
					if (n > 0)
						b.len += (size_t)n;
					else if (n == 0 || errno != EAGAIN)
						rest = SIZE_MAX; /* closed */
				}
			}
			if (rest == SIZE_MAX)
				printf("AFTER closed\n");
			else if (b.len > r.total)
				print_escaped("AFTER data", b.p + r.total, b.len - r.total, 200);
			else
				printf("AFTER open\n");
		}
	} else if (got < 0) {
		printf("GARBLED %zu\n", sent);
		print_escaped("RAW", b.p, b.len, 400);
	} else if (eof) {
		printf("CLOSED %zu\n", sent);
	} else {
		printf("TIMEOUT %zu\n", sent);
	}
	close(fd);
	hc_buf_free(&b);
	free(req);
	return 0;
}

/* ---- slow ---- */

struct slow_conn {
	int fd;
	bool open, headers_done;
	uint64_t next;
	size_t pos;
	char head[256];
	size_t head_len;
	struct hc_buf in;
};

static void raise_nofile(size_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int cmd_slow(int argc, char **argv)
{
	const char *mode = NULL;
	int conns = 100, seconds = 10, interval = 200;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--mode") == 0)
			mode = argv[i + 1];
		else if (strcmp(argv[i], "--conns") == 0)
			conns = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--interval-ms") == 0)
			interval = atoi(argv[i + 1]);
		else
			usage();
	}
	if (argc % 2 != 0 || mode == NULL || conns < 1 || conns > 5000 || seconds < 1 ||
	    seconds > 120 || interval < 1)
		usage();
	int m = strcmp(mode, "headers") == 0 ? 0
		: strcmp(mode, "body") == 0  ? 1
		: strcmp(mode, "idle") == 0  ? 2
					     : -1;
	if (m < 0)
		usage();
	raise_nofile((size_t)conns + 64);
	struct slow_conn *c = calloc((size_t)conns, sizeof *c);
	struct pollfd *p = calloc((size_t)conns, sizeof *p);
	if (c == NULL || p == NULL)
		return 2;
	uint64_t t0 = hc_now_us(), end = t0 + (uint64_t)seconds * 1000000;
	int opened = 0, closed = 0, answered = 0;
	uint64_t bytes = 0;
	for (int i = 0; i < conns; i++) {
		c[i].fd = hc_connect(&addr, true);
		if (c[i].fd < 0)
			continue;
		c[i].open = true;
		opened++;
		/* Spread the sends over the interval. */
		c[i].next = t0 + (uint64_t)interval * 1000 * (uint64_t)i / (uint64_t)conns;
		if (m == 0)
			c[i].head_len = (size_t)snprintf(
			    c[i].head, sizeof c[i].head,
			    "GET /v1/kv/slow/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n", i);
		else if (m == 1)
			c[i].head_len =
			    (size_t)snprintf(c[i].head, sizeof c[i].head,
					     "PUT /v1/kv/slow/%d HTTP/1.1\r\nHost: "
					     "127.0.0.1\r\nContent-Length: 1000000\r\n\r\n",
					     i);
	}
	while (hc_now_us() < end) {
		uint64_t now = hc_now_us();
		for (int i = 0; i < conns; i++) {
			p[i].fd = c[i].open ? c[i].fd : -1;
			p[i].events = POLLIN;
			p[i].revents = 0;
			if (!c[i].open || m == 2 || now < c[i].next)
				continue;
			/* One byte: of the head first (all of it at once), then of the
			 * endless header section or the body. */
			char one[256];
			size_t n = 1;
			if (c[i].pos < c[i].head_len) {
				n = c[i].head_len;
				memcpy(one, c[i].head, n);
			} else if (m == 0) {
				static const char hdr[] = "X-Slow: aaaaaaaa\r\n";
				one[0] = hdr[(c[i].pos - c[i].head_len) % (sizeof hdr - 1)];
			} else {
				one[0] = 'b';
			}
			ssize_t w = send(c[i].fd, one, n, MSG_NOSIGNAL);
			if (w > 0) {
				c[i].pos += (size_t)w;
				bytes += (uint64_t)w;
			}
			c[i].next = now + (uint64_t)interval * 1000;
		}
		int pr = poll(p, (nfds_t)conns, 10);
		if (pr <= 0)
			continue;
		for (int i = 0; i < conns; i++) {
			if (!c[i].open || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			long n = hc_recv(c[i].fd, &c[i].in);
			if (n > 0) {
				c[i].in.len += (size_t)n;
				struct hc_resp r;
				if (hc_parse(c[i].in.p, c[i].in.len, &r) == 1) {
					answered++;
					hc_buf_consume(&c[i].in, r.total);
				}
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(c[i].fd);
				c[i].open = false;
				closed++;
			}
		}
	}
	for (int i = 0; i < conns; i++) {
		if (c[i].open)
			close(c[i].fd);
		hc_buf_free(&c[i].in);
	}
	printf("slow: mode=%s conns=%d opened=%d bytes=%" PRIu64 " closed_by_node=%d answered=%d\n",
	       mode, conns, opened, bytes, closed, answered);
	free(c);
	free(p);
	return 0;
}

/* ---- client ---- */

static volatile sig_atomic_t stop_flag;
static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmd_client(int argc, char **argv)
{
	int max_seconds = 60, interval = 10;
	const char *stop_file = NULL;
	for (int i = 0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--max-seconds") == 0)
			max_seconds = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--stop-file") == 0)
			stop_file = argv[i + 1];
		else if (strcmp(argv[i], "--interval-ms") == 0)
			interval = atoi(argv[i + 1]);
		else
			usage();
	}
	if (argc % 2 != 0 || max_seconds < 1)
		usage();
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	uint64_t end = hc_now_us() + (uint64_t)max_seconds * 1000000;
	size_t cap = 4096, n_lat = 0;
	uint64_t *lat = malloc(cap * sizeof *lat);
	int pairs = 0, ok = 0, failed = 0, fd = -1;
	struct hc_buf b = {0};
	while (!stop_flag && hc_now_us() < end &&
	       (stop_file == NULL || access(stop_file, F_OK) != 0)) {
		pairs++;
		if (pairs % 4 == 0 && fd >= 0) {
			close(fd);
			fd = -1;
		}
		char req[512], val[32];
		int vl = snprintf(val, sizeof val, "bg-%d", pairs);
		bool good = true;
		for (int step = 0; step < 2 && good; step++) {
			if (fd < 0) {
				fd = hc_connect(&addr, false);
				b.len = 0;
			}
			int rl =
			    step == 0
				? snprintf(req, sizeof req,
					   "PUT /v1/kv/bg/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n"
					   "Content-Length: %d\r\n\r\n%s",
					   pairs % 50, vl, val)
				: snprintf(
				      req, sizeof req,
				      "GET /v1/kv/bg/%d?raw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
				      pairs % 50);
			struct hc_resp r;
			uint64_t t = hc_now_us();
			int rc = fd < 0 ? -1 : hc_roundtrip(fd, req, (size_t)rl, &b, &r, 10000);
			uint64_t l = hc_now_us() - t;
			if (n_lat == cap) {
				cap *= 2;
				lat = realloc(lat, cap * sizeof *lat);
				if (lat == NULL)
					return 2;
			}
			lat[n_lat++] = l;
			const char *what = step == 0 ? "PUT" : "GET";
			if (rc != 0) {
				good = false;
				if (failed < 20)
					printf("client: %s bg/%d: no answer after %" PRIu64
					       " ms: %s\n",
					       what, pairs % 50, l / 1000, strerror(errno));
			} else if (r.status != 200 ||
				   (step == 1 && (r.body_len != (size_t)vl ||
						  memcmp(r.body, val, (size_t)vl) != 0))) {
				good = false;
				if (failed < 20)
					printf("client: %s bg/%d: HTTP %d, body %.*s (wanted 200 "
					       "%s)\n",
					       what, pairs % 50, r.status,
					       (int)(r.body_len > 200 ? 200 : r.body_len), r.body,
					       step == 1 ? val : "");
			}
			if (rc == 0) {
				hc_buf_consume(&b, r.total);
				if (r.close) {
					close(fd);
					fd = -1;
				}
			} else if (fd >= 0) {
				close(fd);
				fd = -1;
			}
		}
		if (good)
			ok++;
		else
			failed++;
		sleep_ms(interval);
	}
	if (fd >= 0)
		close(fd);
	qsort(lat, n_lat, sizeof *lat, cmp_u64);
	printf("client: pairs=%d ok=%d failed=%d p50=%.1f ms p99=%.1f ms max=%.1f ms\n", pairs, ok,
	       failed, n_lat ? (double)lat[n_lat / 2] / 1000 : 0,
	       n_lat ? (double)lat[(n_lat * 99) / 100] / 1000 : 0,
	       n_lat ? (double)lat[n_lat - 1] / 1000 : 0);
	free(lat);
	hc_buf_free(&b);
	return failed == 0 && pairs > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3 || hc_parse_addr(argv[2], &addr) != 0)
		usage();
	if (strcmp(argv[1], "send") == 0)
		return cmd_send(argc - 3, argv + 3);
	if (strcmp(argv[1], "slow") == 0)
		return cmd_slow(argc - 3, argv + 3);
	if (strcmp(argv[1], "client") == 0)
		return cmd_client(argc - 3, argv + 3);
	usage();
	return 2;
}
