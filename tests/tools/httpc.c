/*
 * httpc.h: the tools' HTTP/1.1 client.
 */
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t hc_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int hc_parse_addr(const char *hostport, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(hostport, ':');
	if (colon == NULL || (size_t)(colon - hostport) >= sizeof host)
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

int hc_connect(const struct sockaddr_in *sa, bool nonblock)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 &&
	    !(nonblock && errno == EINPROGRESS)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Case-insensitive: does line[0..n) start with name (which ends in ':')? */
static bool header_is(const char *line, size_t n, const char *name)
{
	size_t l = strlen(name);
	return n >= l && strncasecmp(line, name, l) == 0;
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

int hc_parse(const char *buf, size_t len, struct hc_resp *r)
{
	const char *end = NULL;
	memset(r, 0, sizeof *r);
	for (size_t i = 3; i < len; i++)
		if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' &&
		    buf[i - 3] == '\r') {
			end = buf + i + 1;
			break;
		}
	if (end == NULL)
		return len > 65536 ? -1 : 0;
	r->head_len = (size_t)(end - buf);
	if (r->head_len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
		return -1;
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		st = st * 10 + (buf[i] - '0');
	}
	r->status = st;
	bool has_len = false;
	uint64_t clen = 0;
	const char *line = memchr(buf, '\n', r->head_len) + 1;
	while (line < end - 2) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		const char *colon = memchr(line, ':', n);
		if (colon != NULL) {
			const char *v = colon + 1;
			size_t vn = n - (size_t)(v - line);
			if (header_is(line, n, "content-length:")) {
				if (!parse_u64(v, vn, &clen))
					return -1;
				has_len = true;
			} else if (header_is(line, n, "x-cairn-index:")) {
				r->has_index = parse_u64(v, vn, &r->index);
			} else if (header_is(line, n, "transfer-encoding:")) {
				return -1; /* chunked: not something cairnd sends */
			} else if (header_is(line, n, "connection:")) {
				for (size_t i = 0; i + 5 <= vn; i++)
					if (strncasecmp(v + i, "close", 5) == 0)
						r->close = true;
			}
		}
		line = nl + 1;
	}
	if (!has_len) {
		/* Delimited by the close: complete only at EOF (the caller). */
		r->close = true;
		r->body = end;
		r->body_len = len - r->head_len;
		r->total = len;
		return 0;
	}
	if (clen > (uint64_t)64 << 20)
		return -1;
	if (len - r->head_len < clen)
		return 0;
	r->body = end;
	r->body_len = (size_t)clen;
	r->total = r->head_len + r->body_len;
	return 1;
}

void hc_buf_free(struct hc_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void hc_buf_consume(struct hc_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

long hc_recv(int fd, struct hc_buf *b)
{
	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			errno = ENOMEM;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	return (long)recv(fd, b->p + b->len, b->cap - b->len, 0);
}

int hc_roundtrip(int fd, const char *req, size_t reqlen, struct hc_buf *b, struct hc_resp *r,
		 int timeout_ms)
{
	uint64_t deadline = hc_now_us() + (uint64_t)timeout_ms * 1000u;
	size_t sent = 0;
	while (sent < reqlen) {
		ssize_t w = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = {fd, POLLOUT, 0};
				poll(&p, 1, 50);
				if (hc_now_us() > deadline) {
					errno = ETIMEDOUT;
					return -1;
				}
				continue;
			}
			return -1;
		}
		sent += (size_t)w;
	}
	for (;;) {
		int rc = hc_parse(b->p ? b->p : "", b->len, r);
		if (rc < 0) {
			errno = EPROTO;
			return -1;
		}
		if (rc > 0)
			return 0;
		uint64_t now = hc_now_us();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = {fd, POLLIN, 0};
		int left = (int)((deadline - now + 999) / 1000);
		int pr = poll(&p, 1, left);
		if (pr < 0 && errno != EINTR)
			return -1;
		if (pr <= 0)
			continue;
		long n = hc_recv(fd, b);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n == 0) {
			/* Closed: a close-delimited response ends here. */
			if (hc_parse(b->p ? b->p : "", b->len, r) == 0 && r->head_len > 0 &&
			    r->close && r->total == b->len)
				return 0;
			errno = ECONNRESET;
			return -1;
		}
		b->len += (size_t)n;
	}
}

int64_t hc_json_u64(const char *s, size_t len, const char *name)
{
	char pat[64];
	int pn = snprintf(pat, sizeof pat, "\"%s\":", name);
	if (pn <= 0 || (size_t)pn >= sizeof pat)
		return -1;
	for (size_t i = 0; i + (size_t)pn <= len; i++) {
		if (memcmp(s + i, pat, (size_t)pn) != 0)
			continue;
		size_t j = i + (size_t)pn;
		int64_t v = 0;
		bool any = false;
		while (j < len && s[j] >= '0' && s[j] <= '9') {
			v = v * 10 + (s[j] - '0');
			any = true;
			j++;
		}
		return any ? v : -1;
	}
	return -1;
}
