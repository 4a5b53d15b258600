/*
 * httpc: the small HTTP/1.1 client the test tools share (watchers,
 * longpoll, hostile). Raw sockets to an IPv4 host:port, one request at a
 * time per connection, responses with a Content-Length (cairnd always
 * sends one). No allocation except the receive buffer a caller may grow.
 */
#ifndef CAIRN_TESTS_HTTPC_H
#define CAIRN_TESTS_HTTPC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic clock, microseconds. */
uint64_t hc_now_us(void);

/* "A.B.C.D:PORT" into sa; -1 if malformed. */
int hc_parse_addr(const char *hostport, struct sockaddr_in *sa);

/* A TCP connection to sa (TCP_NODELAY, close-on-exec). nonblock: the
 * connect is started but may still be in progress. -1 on failure (errno). */
int hc_connect(const struct sockaddr_in *sa, bool nonblock);

/* A parsed response: the status, X-Cairn-Index when present, the body. */
struct hc_resp {
	int status;
	bool has_index;
	uint64_t index;
	bool close; /* Connection: close */
	size_t head_len;
	size_t body_len;
	const char *body; /* points into the parsed buffer */
	size_t total;     /* head_len + body_len: the bytes this response took */
};

/* Parses buf[0..len) as the start of one response. 1: complete (r filled);
 * 0: more bytes needed; -1: not a response this parser understands. */
int hc_parse(const char *buf, size_t len, struct hc_resp *r);

/* A growable receive buffer. */
struct hc_buf {
	char *p;
	size_t len, cap;
};
void hc_buf_free(struct hc_buf *b);
/* Drops the first n bytes. */
void hc_buf_consume(struct hc_buf *b, size_t n);

/* Sends all of req (MSG_NOSIGNAL), then reads until one response is
 * complete or timeout_ms passes. 0: *r filled (its body points into b;
 * call hc_buf_consume(b, r->total) when done with it); -1: an error or the
 * peer closed (errno: ETIMEDOUT on the timeout, ECONNRESET when closed). */
int hc_roundtrip(int fd, const char *req, size_t reqlen, struct hc_buf *b, struct hc_resp *r,
		 int timeout_ms);

/* Reads from fd (non-blocking or not) into b; returns what recv returned. */
long hc_recv(int fd, struct hc_buf *b);

/* The value of a JSON field "name":<number> in s[0..len), or -1. */
int64_t hc_json_u64(const char *s, size_t len, const char *name);

#endif
