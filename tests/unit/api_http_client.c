/*
 * The tests' raw HTTP client (api_http_client.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api_http_client.h"

int http_connect(uint16_t port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int http_send(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int http_sends(int fd, const char *s)
{
	return http_send(fd, s, strlen(s));
}

/* Reads until the blank line ending the headers (one byte at a time: a
 * test client, and it must not read into the next response). */
static int read_head(int fd, struct http_resp *r)
{
	size_t n = 0;
	while (n + 1 < sizeof r->head) {
		ssize_t got = recv(fd, r->head + n, 1, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		n++;
		if (n >= 4 && memcmp(r->head + n - 4, "\r\n\r\n", 4) == 0) {
			r->head[n] = '\0';
			return 0;
		}
	}
	return -1;
}

int http_read(int fd, bool head, struct http_resp *r)
{
	memset(r, 0, sizeof *r);
	if (read_head(fd, r) != 0 || sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) {
		r->status = 0;
		return -1;
	}
	const char *cl = http_header(r, "Content-Length");
	size_t len = head || cl == NULL ? 0 : strtoul(cl, NULL, 10);
	r->body = malloc(len + 1);
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, r->body + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->status = 0;
			break;
		}
		got += (size_t)n;
	}
	r->body[got] = '\0';
	r->body_len = got;
	return r->status == 0 ? -1 : 0;
}

void http_resp_free(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
}

int http_do(uint16_t port, const char *method, const char *target, const void *body,
	    size_t body_len, struct http_resp *r)
{
	char head[4096];
	int fd = http_connect(port);
	memset(r, 0, sizeof *r);
	if (fd < 0)
		return -1;
	int n = snprintf(head, sizeof head,
			 "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 method, target, body_len);
	int rc = -1;
	if (n > 0 && (size_t)n < sizeof head && http_send(fd, head, (size_t)n) == 0 &&
	    (body_len == 0 || http_send(fd, body, body_len) == 0))
		rc = http_read(fd, strcmp(method, "HEAD") == 0, r);
	close(fd);
	return rc;
}

const char *http_header(const struct http_resp *r, const char *name)
{
	static _Thread_local char value[4096];
	size_t nlen = strlen(name);
	const char *line = strstr(r->head, "\r\n");

	while (line != NULL && line[2] != '\r') {
		line += 2;
		const char *end = strstr(line, "\r\n");
		if (end == NULL)
			break;
		if ((size_t)(end - line) > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			while (*v == ' ')
				v++;
			size_t vlen = (size_t)(end - v);
			if (vlen >= sizeof value)
				vlen = sizeof value - 1;
			memcpy(value, v, vlen);
			value[vlen] = '\0';
			return value;
		}
		line = end;
	}
	return NULL;
}
