/*
 * The HTTP front, the api folder's entry point for server/: a
 * libmicrohttpd daemon on host:port that serves API.md (the endpoints
 * built so far: /v1/kv/<key>, /v1/txn, /v1/status, /v1/health) over a backend
 * (backend.h), which the node implements.
 *
 * Each request is parsed and validated on the HTTP thread into a typed
 * command or query (command.h) and handed to the backend. The connection
 * is then suspended, holding no thread, until the backend's `done` resumes
 * it; a backend that completes inside submit/query is answered at once,
 * without a suspend. Bodies are bounded as they stream in.
 *
 * Limits (docs/API.md "Limits"): key API_KEY_MAX bytes, value max_value
 * (--max-value), any body max_body, request line + headers
 * connection_memory (libmicrohttpd answers 431 beyond it), connections
 * connection_limit, idle connections idle_timeout_s. A suspended request
 * never times out here: the backend bounds it (request timeout, wait).
 *
 * Threads: api_http_start and api_http_stop from one thread (the node's
 * main); the backend's callbacks arrive on the HTTP thread(s).
 */
#ifndef CAIRN_API_HTTP_H
#define CAIRN_API_HTTP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"

#define API_ERRMSG_SIZE 256

struct api_http_options {
	const char *host;          /* listen address (name or literal); "127.0.0.1" */
	uint16_t port;             /* 0: an ephemeral port, see api_http_port */
	size_t max_value;          /* --max-value: <= API_VALUE_MAX_LIMIT */
	size_t max_body;           /* any request body: <= API_BODY_MAX */
	unsigned connection_limit; /* open connections at most */
	unsigned idle_timeout_s;   /* close a connection idle this long; 0: never */
	size_t connection_memory;  /* per connection; bounds request line + headers */
	unsigned threads;          /* HTTP polling threads, >= 1 */
	unsigned listen_backlog;
	/* libmicrohttpd's own error messages (malformed requests, accept
	 * failures); NULL: dropped. Called on HTTP threads. */
	void (*log)(void *arg, const char *fmt, va_list ap);
	void *log_arg;
};

/* The defaults: 127.0.0.1:7700, max_value 1 MiB, max_body 4 MiB, 16384
 * connections, 60 s idle timeout, 16 KiB per connection, 1 thread,
 * backlog 1024, no log. */
void api_http_options_default(struct api_http_options *o);

struct api_http;

/*
 * Binds host:port and starts serving. o is copied (host is only read during
 * the call); b is copied, and b->impl is borrowed until api_http_stop
 * returns. On success the caller owns *out (api_http_stop) and the backend
 * starts receiving calls at once. On failure returns -1 with a one-line
 * reason in errmsg (API_ERRMSG_SIZE bytes), e.g. an address in use or an
 * option out of range.
 */
int api_http_start(const struct api_http_options *o, const struct api_backend *b,
		   struct api_http **out, char *errmsg);

/* The bound port (the ephemeral one when o->port was 0). */
uint16_t api_http_port(const struct api_http *h);

/*
 * Stops accepting connections and answers every new request 503
 * no_leader ("shutting down"); waits until the backend has called `done`
 * for every submit/query it was given (the node must be failing or
 * completing them meanwhile: this call cancels nothing); then closes every
 * connection and frees h. No backend call starts after the wait.
 */
void api_http_stop(struct api_http *h);

#endif
