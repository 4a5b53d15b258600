/*
 * A tiny raw-socket HTTP/1.1 client for the api tests: no curl, full
 * control over the bytes sent (malformed requests, chunked bodies sent
 * piece by piece, keep-alive). Every socket has a 5 s receive timeout so a
 * hung server fails a test instead of hanging it.
 */
#ifndef CAIRN_TEST_API_HTTP_CLIENT_H
#define CAIRN_TEST_API_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_resp {
	int status;       /* 0 when no response came (connection dropped) */
	char head[16384]; /* status line and headers, NUL-terminated */
	char *body;       /* malloc'ed, NUL-terminated; owned (http_resp_free) */
	size_t body_len;
};

/* A connected socket to 127.0.0.1:port, or -1. The caller closes it. */
int http_connect(uint16_t port);
/* Writes all of data; 0, or -1 when the peer closed. */
int http_send(int fd, const void *data, size_t len);
int http_sends(int fd, const char *s);
/* Reads one response (Content-Length framed; a HEAD answer has no body
 * whatever its Content-Length). 0, or -1 when the connection closed or
 * timed out before a complete response (r->status is then 0). */
int http_read(int fd, bool head, struct http_resp *r);
void http_resp_free(struct http_resp *r);

/* One request on a fresh connection: method, target (path + query, sent
 * as is), body (may be NULL). Returns like http_read. */
int http_do(uint16_t port, const char *method, const char *target, const void *body,
	    size_t body_len, struct http_resp *r);

/* The value of header name (case-insensitive) copied into a thread-local
 * buffer, or NULL when absent. Valid until the thread's next call. */
const char *http_header(const struct http_resp *r, const char *name);

#endif
