/*
 * The libmicrohttpd glue (http.h): request objects, body streaming, the
 * suspend/resume hand-off with the backend, and turning an api_response
 * into an HTTP response.
 *
 * A request's life (one struct api_req, taken from a pool when
 * libmicrohttpd reports the request line, returned when it reports the
 * request finished):
 *
 *   on_uri        copy the raw URI (libmicrohttpd decodes its own copy in
 *                 place, losing %00 and malformed escapes)
 *   1st call      parse method + URI (api_parse_request); a Content-Length
 *                 over the limit is answered right away, before any body
 *                 byte is read (other errors wait for the last call, so
 *                 the connection stays open)
 *   body calls    keep the body if the route wants it, else count it; past
 *                 the limit stop keeping it (413 at the end), and past
 *                 max_body drop the connection
 *   last call     dispatch: status/health answer at once; a command or
 *                 query goes to the backend with phase CALLING
 *   done          (backend, any thread) store the answer, phase -> DONE,
 *                 and resume the connection if it was SUSPENDED
 *
 * The phase word decides, without a lock, who answers:
 *
 *   READ --dispatch--> CALLING --done--> DONE          (inside submit: the
 *                         |                              handler answers)
 *                         +--handler suspends--> SUSPENDED --done--> DONE
 *                                                 (done resumes; the next
 *                                                  handler call answers)
 *
 * The handler suspends *before* it publishes SUSPENDED, so done never
 * resumes a connection that is not suspended (undefined in libmicrohttpd);
 * if done won the race, the handler resumes the connection itself. After
 * done's exchange the request may be answered and freed by the HTTP thread
 * at any moment, so done reads everything it needs before it.
 *
 * Every backend call is counted in `inflight`; api_http_stop waits for the
 * count to reach zero before libmicrohttpd may be stopped (stopping it
 * with a suspended connection is an API violation).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"
#include "request.h"

#define URI_INLINE 48
#define BODY_INLINE 32
#define OUT_INLINE 192
#define POOL_MAX 1024 /* idle request objects kept for reuse */

enum phase { PH_READ, PH_CALLING, PH_SUSPENDED, PH_DONE };

struct api_req {
	struct api_req *next; /* pool link */
	struct api_http *h;
	struct MHD_Connection *conn;
	_Atomic int phase;
	bool started;
	bool over; /* the body passed body_limit */
	size_t body_seen;
	char *uri; /* uri_inline or a heap copy, until parsed */
	size_t uri_len;
	struct query_result *qres; /* lent by the backend until released */
	struct api_meta qmeta;
	struct api_buf body;
	struct api_response resp;
	struct api_request parsed;
	char uri_inline[URI_INLINE];
	char body_inline[BODY_INLINE];
	char out_inline[OUT_INLINE];
};

struct api_http {
	struct MHD_Daemon *daemon;
	struct api_backend backend;
	struct api_limits limits;
	uint16_t port;
	atomic_bool stopping;

	pthread_mutex_t pool_mu;
	struct api_req *pool;
	size_t pool_n;

	pthread_mutex_t mu; /* guards inflight, and stopping's rise */
	pthread_cond_t idle;
	size_t inflight;
};

void api_http_options_default(struct api_http_options *o)
{
	memset(o, 0, sizeof *o);
	o->host = "127.0.0.1";
	o->port = 7700;
	o->max_value = API_VALUE_MAX_DEFAULT;
	o->max_body = API_BODY_MAX;
	o->connection_limit = 16384;
	o->idle_timeout_s = 60;
	o->connection_memory = 16 * 1024;
	o->threads = 1;
	o->listen_backlog = 1024;
}

/* ---- request objects ---- */

static void req_init(struct api_req *r, struct api_http *h)
{
	r->next = NULL;
	r->h = h;
	r->conn = NULL;
	atomic_init(&r->phase, PH_READ);
	r->started = false;
	r->over = false;
	r->body_seen = 0;
	r->uri = NULL;
	r->uri_len = 0;
	r->qres = NULL;
	r->parsed.txn = NULL; /* the one field api_request_release reads */
	api_buf_init(&r->body, r->body_inline, sizeof r->body_inline);
	memset(&r->resp, 0, sizeof r->resp);
	api_buf_init(&r->resp.body, r->out_inline, sizeof r->out_inline);
}

static void free_uri(struct api_req *r)
{
	if (r->uri != NULL && r->uri != r->uri_inline)
		free(r->uri);
	r->uri = NULL;
}

/* Returns r's resources, and r itself to the pool (or frees it). */
static void req_release(struct api_req *r)
{
	struct api_http *h = r->h;

	if (r->qres != NULL)
		r->qres->release(r->qres);
	r->qres = NULL;
	free_uri(r);
	api_request_release(&r->parsed);
	api_buf_reset(&r->body);
	api_buf_reset(&r->resp.body);
	pthread_mutex_lock(&h->pool_mu);
	if (h->pool_n < POOL_MAX) {
		r->next = h->pool;
		h->pool = r;
		h->pool_n++;
		r = NULL;
	}
	pthread_mutex_unlock(&h->pool_mu);
	free(r);
}

static struct api_req *req_get(struct api_http *h)
{
	pthread_mutex_lock(&h->pool_mu);
	struct api_req *r = h->pool;
	if (r != NULL) {
		h->pool = r->next;
		h->pool_n--;
	}
	pthread_mutex_unlock(&h->pool_mu);
	if (r == NULL)
		r = malloc(sizeof *r);
	if (r != NULL)
		req_init(r, h);
	return r;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the raw request URI, once per request. The
 * returned object comes back as *req_cls in every later callback, and to
 * on_completed even when the request fails before reaching the handler. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)conn;
	struct api_req *r = req_get(cls);
	if (r == NULL)
		return NULL;
	r->uri_len = strlen(uri);
	r->uri = r->uri_len < sizeof r->uri_inline ? r->uri_inline : malloc(r->uri_len + 1);
	if (r->uri == NULL) {
		req_release(r);
		return NULL;
	}
	memcpy(r->uri, uri, r->uri_len + 1);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct api_req *r = *req_cls;
	if (r == NULL)
		return;
	*req_cls = NULL;
	/* A request in the backend's hands is suspended, and libmicrohttpd
	 * never finishes a suspended connection (api_http_stop waits). */
	int phase = atomic_load(&r->phase);
	(void)phase;
	assert(phase == PH_READ || phase == PH_DONE);
	req_release(r);
}

/* We decode URIs ourselves from the copy on_uri took: spare libmicrohttpd
 * the work on its own copy. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

/* ---- answering ---- */

static enum MHD_Result add_header(struct MHD_Response *resp, const char *name, const char *value)
{
	return MHD_add_response_header(resp, name, value);
}

static enum MHD_Result add_u64(struct MHD_Response *resp, const char *name, uint64_t v)
{
	char s[21];
	api_u64_str(s, v);
	return add_header(resp, name, s);
}

/* Queues r->resp (rendering a query result first). */
static enum MHD_Result respond(struct api_req *r)
{
	struct api_response *a = &r->resp;

	if (r->qres != NULL) {
		r->parsed.render_query(&r->parsed, r->qres, &r->qmeta, a);
		/* A raw value is sent from the result's own bytes: keep the
		 * result until the request completes; else release it now. */
		if (a->data == NULL) {
			r->qres->release(r->qres);
			r->qres = NULL;
		}
	}
	api_response_finish(a);

	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	enum MHD_Result ok = add_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
	if (ok == MHD_YES)
		ok = add_u64(resp, "X-Cairn-Index", a->index);
	if (ok == MHD_YES) {
		/* No leader: an empty value, which libmicrohttpd refuses; a lone
		 * space is the same to HTTP (optional whitespace around a
		 * field value is not part of it, RFC 9110 section 5.5). */
		char leader[21] = " ";
		if (a->meta.leader_id != 0)
			api_u64_str(leader, a->meta.leader_id);
		ok = add_header(resp, "X-Cairn-Leader", leader);
	}
	if (ok == MHD_YES)
		ok = add_u64(resp, "X-Cairn-Node", a->meta.node_id);
	if (ok == MHD_YES && a->meta.stale)
		ok = add_u64(resp, "X-Cairn-Last-Contact", a->meta.last_contact_ms);
	if (ok == MHD_YES && a->retry_after)
		ok = add_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (ok == MHD_YES && a->allow != NULL)
		ok = add_header(resp, MHD_HTTP_HEADER_ALLOW, a->allow);
	if (ok == MHD_YES)
		ok = MHD_queue_response(r->conn, (unsigned)a->http, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result respond_error(struct api_req *r, enum api_status s, const char *msg)
{
	struct api_http *h = r->h;
	struct api_meta meta;

	memset(&meta, 0, sizeof meta);
	h->backend.meta(h->backend.impl, &meta);
	api_render_error(&r->resp, s, msg, &meta, 0);
	r->resp.allow = r->parsed.allow;
	return respond(r);
}

static enum MHD_Result respond_parsed_error(struct api_req *r)
{
	return respond_error(r, r->parsed.status, r->parsed.message);
}

/* ---- the backend hand-off ---- */

/* Counts a backend call about to start; false once api_http_stop began
 * (checked under the same lock it waits with, so no call slips in after
 * it saw zero). */
static bool inflight_add(struct api_http *h)
{
	pthread_mutex_lock(&h->mu);
	bool ok = !atomic_load(&h->stopping);
	if (ok)
		h->inflight++;
	pthread_mutex_unlock(&h->mu);
	return ok;
}

static void inflight_done(struct api_http *h)
{
	pthread_mutex_lock(&h->mu);
	assert(h->inflight > 0);
	if (--h->inflight == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->mu);
}

/* The answer is in r: hand it to whoever answers (see the file comment). */
static void complete(struct api_req *r)
{
	struct api_http *h = r->h;
	struct MHD_Connection *conn = r->conn;

	int prev = atomic_exchange(&r->phase, PH_DONE);
	assert(prev == PH_CALLING || prev == PH_SUSPENDED);
	if (prev == PH_SUSPENDED)
		MHD_resume_connection(conn);
	inflight_done(h);
}

/* api_cmd_done: res and meta are borrowed for the call, so the answer is
 * rendered here, on the backend's thread. */
static void on_cmd_done(void *arg, const struct cmd_result *res, const struct api_meta *meta)
{
	struct api_req *r = arg;
	r->parsed.render_cmd(&r->parsed, res, meta, &r->resp);
	complete(r);
}

/* api_query_done: res is lent until released, so rendering waits for the
 * HTTP thread (respond), keeping the backend's thread free. */
static void on_query_done(void *arg, struct query_result *res, const struct api_meta *meta)
{
	struct api_req *r = arg;
	r->qres = res;
	r->qmeta = *meta;
	complete(r);
}

static enum MHD_Result call_backend(struct api_req *r)
{
	struct api_http *h = r->h;

	if (!inflight_add(h))
		return respond_error(r, API_NO_LEADER, "node shutting down");
	atomic_store(&r->phase, PH_CALLING);
	if (r->parsed.action == API_ACTION_SUBMIT)
		h->backend.submit(h->backend.impl, &r->parsed.cmd, on_cmd_done, r);
	else
		h->backend.query(h->backend.impl, &r->parsed.query, on_query_done, r);
	if (atomic_load(&r->phase) == PH_DONE)
		return respond(r); /* answered inside the call */
	MHD_suspend_connection(r->conn);
	int expected = PH_CALLING;
	if (!atomic_compare_exchange_strong(&r->phase, &expected, PH_SUSPENDED))
		MHD_resume_connection(r->conn); /* done came in between */
	return MHD_YES;
}

/* The last handler call before an answer: the body is complete. */
static enum MHD_Result dispatch(struct api_req *r)
{
	struct api_http *h = r->h;

	if (r->parsed.action == API_ACTION_ERROR)
		return respond_parsed_error(r);
	if (r->over) {
		api_parse_body(&r->parsed, NULL, r->body_seen); /* the 413 */
		return respond_parsed_error(r);
	}
	if (r->body.oom)
		return respond_error(r, API_INTERNAL, "out of memory");
	if (api_parse_body(&r->parsed, (const uint8_t *)r->body.p, r->body.len) != 0)
		return respond_parsed_error(r);
	if (atomic_load(&h->stopping))
		return respond_error(r, API_NO_LEADER, "node shutting down");

	switch (r->parsed.action) {
	case API_ACTION_STATUS: {
		struct api_node_status st;
		struct api_meta meta;
		memset(&st, 0, sizeof st);
		memset(&meta, 0, sizeof meta);
		h->backend.status(h->backend.impl, &st);
		h->backend.meta(h->backend.impl, &meta);
		api_status_render(&st, &meta, &r->resp);
		return respond(r);
	}
	case API_ACTION_HEALTH: {
		char reason[API_MESSAGE_MAX] = "";
		struct api_meta meta;
		memset(&meta, 0, sizeof meta);
		enum api_status s = h->backend.health(h->backend.impl, reason, sizeof reason);
		reason[sizeof reason - 1] = '\0';
		h->backend.meta(h->backend.impl, &meta);
		api_health_render(s, reason, &meta, &r->resp);
		return respond(r);
	}
	case API_ACTION_SUBMIT:
	case API_ACTION_QUERY:
		return call_backend(r);
	case API_ACTION_ERROR:
		break;
	}
	return respond_parsed_error(r);
}

/* The first handler call: request line and headers are in. */
struct header_census {
	unsigned content_length;
	unsigned transfer_encoding;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	(void)kind;
	(void)value;
	struct header_census *c = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		c->content_length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		c->transfer_encoding++;
	return MHD_YES;
}

/* Framing a proxy and this server could read differently is refused and
 * the connection closed (request smuggling, RFC 9112 6.3): a repeated
 * Content-Length, or Content-Length with Transfer-Encoding. A raw space
 * or control byte in the target is refused too, rather than taken into a
 * key. */
static const char *hostile_framing(struct api_req *r, struct MHD_Connection *conn)
{
	struct header_census c = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &c);
	if (c.content_length > 1)
		return "more than one Content-Length header";
	if (c.content_length && c.transfer_encoding)
		return "both Content-Length and Transfer-Encoding";
	for (size_t i = 0; i < r->uri_len; i++) {
		unsigned char b = (unsigned char)r->uri[i];
		if (b <= 0x20 || b == 0x7f)
			return "a raw space or control byte in the request target (percent-encode "
			       "it)";
	}
	return NULL;
}

static enum MHD_Result start(struct api_req *r, struct MHD_Connection *conn, const char *method)
{
	struct api_http *h = r->h;

	r->started = true;
	r->conn = conn;
	const char *hostile = hostile_framing(r, conn);
	if (hostile != NULL) {
		free_uri(r);
		return respond_error(r, API_BAD_REQUEST, hostile);
	}
	int rc = api_parse_request(&r->parsed, method, r->uri, r->uri_len, &h->limits);
	free_uri(r);

	/* A declared length over the limit is refused before reading it:
	 * answering now makes libmicrohttpd close the connection rather
	 * than drain the body. Any other answer waits for the last call
	 * (the body, if any, is read and dropped), because libmicrohttpd
	 * closes every connection answered at the first call, and an error
	 * should not cost a client its keep-alive connection. */
	const char *cl =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t len;
	if (cl != NULL && api_parse_u64(cl, strlen(cl), &len) == 0) {
		if (len > r->parsed.body_limit) {
			if (rc == 0)
				api_parse_body(&r->parsed, NULL, r->parsed.body_limit + 1);
			return respond_parsed_error(r);
		}
		if (rc == 0 && r->parsed.wants_body)
			api_buf_reserve(&r->body, (size_t)len);
	}
	return MHD_YES;
}

/* A piece of the body. Returns MHD_NO to drop the connection. */
static enum MHD_Result take_body(struct api_req *r, const char *data, size_t n)
{
	struct api_http *h = r->h;

	r->body_seen += n;
	if (r->body_seen > r->parsed.body_limit) {
		/* Without a Content-Length (chunked) the size shows only now,
		 * and libmicrohttpd cannot answer mid-body: keep nothing more,
		 * answer 413 at the end, but read no more than max_body. */
		r->over = true;
		api_buf_reset(&r->body);
		return r->body_seen > h->limits.max_body ? MHD_NO : MHD_YES;
	}
	if (r->parsed.wants_body)
		api_buf_add(&r->body, data, n);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	(void)cls;
	(void)url;
	(void)version;
	struct api_req *r = *req_cls;

	if (r == NULL)
		return MHD_NO; /* on_uri could not allocate */
	if (!r->started)
		return start(r, conn, method);
	if (*upload_size != 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		return take_body(r, upload, n);
	}
	switch (atomic_load(&r->phase)) {
	case PH_READ:
		return dispatch(r);
	case PH_DONE:
		return respond(r);
	default:
		/* libmicrohttpd does not call into a suspended connection. */
		assert(0);
		return MHD_NO;
	}
}

/* ---- start and stop ---- */

static int listen_on(const struct api_http_options *o, int *fd_out, bool *v6, char *errmsg)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int err = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof port, "%u", (unsigned)o->port);
	int rc = getaddrinfo(o->host, port, &hints, &res);
	if (rc != 0) {
		snprintf(errmsg, API_ERRMSG_SIZE, "cannot resolve API address %s: %s", o->host,
			 gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, (int)o->listen_backlog) == 0) {
			*fd_out = fd;
			*v6 = ai->ai_family == AF_INET6;
			freeaddrinfo(res);
			return 0;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	snprintf(errmsg, API_ERRMSG_SIZE, "cannot listen on %s:%u: %s", o->host, (unsigned)o->port,
		 strerror(err));
	return -1;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int check_options(const struct api_http_options *o, const struct api_backend *b,
			 char *errmsg)
{
	const char *bad = NULL;
	if (o->host == NULL)
		bad = "no API host";
	else if (o->max_value == 0 || o->max_value > API_VALUE_MAX_LIMIT)
		bad = "max-value out of range (1 byte to 4 MiB)";
	else if (o->max_body == 0 || o->max_body > API_BODY_MAX)
		bad = "max-body out of range (1 byte to 4 MiB)";
	else if (o->connection_limit == 0 || o->threads == 0 || o->listen_backlog == 0)
		bad = "connection limit, threads and backlog must be at least 1";
	else if (o->connection_memory < 4096)
		bad = "connection memory below 4 KiB";
	else if (b == NULL || b->submit == NULL || b->query == NULL || b->status == NULL ||
		 b->health == NULL || b->meta == NULL)
		bad = "incomplete backend";
	if (bad == NULL)
		return 0;
	snprintf(errmsg, API_ERRMSG_SIZE, "HTTP API: %s", bad);
	return -1;
}

int api_http_start(const struct api_http_options *o, const struct api_backend *b,
		   struct api_http **out, char *errmsg)
{
	struct api_http *h;
	int fd, rv = -1;
	bool v6;

	if (check_options(o, b, errmsg) != 0)
		return -1;
	h = calloc(1, sizeof *h);
	if (h == NULL) {
		snprintf(errmsg, API_ERRMSG_SIZE, "HTTP API: out of memory");
		goto err;
	}
	h->backend = *b;
	h->limits.max_value = o->max_value;
	h->limits.max_body = o->max_body;
	atomic_init(&h->stopping, false);
	pthread_mutex_init(&h->pool_mu, NULL);
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->idle, NULL);

	if (listen_on(o, &fd, &v6, errmsg) != 0)
		goto err_after_init;
	h->port = bound_port(fd);

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
	flags |=
	    MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (o->log != NULL)
		flags |= MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[12];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
					    (intptr_t)o->connection_limit, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
					    (intptr_t)o->idle_timeout_s, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					    (intptr_t)o->connection_memory, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, h};
	/* Strict HTTP/1.1 parsing: e.g. a request without Host is refused. */
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)no_unescape, NULL};
	if (o->log != NULL)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)o->log,
						    o->log_arg};
	if (o->threads > 1)
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
						    (intptr_t)o->threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	assert(n <= sizeof opts / sizeof opts[0]);
	h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
				     MHD_OPTION_END);
	if (h->daemon == NULL) {
		snprintf(errmsg, API_ERRMSG_SIZE,
			 "HTTP API: libmicrohttpd failed to start on %s:%u", o->host,
			 (unsigned)h->port);
		close(fd);
		goto err_after_init;
	}
	*out = h;
	return 0;

err_after_init:
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->pool_mu);
	free(h);
err:
	assert(rv != 0);
	return rv;
}

uint16_t api_http_port(const struct api_http *h)
{
	return h->port;
}

void api_http_stop(struct api_http *h)
{
	MHD_socket fd = MHD_quiesce_daemon(h->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);

	pthread_mutex_lock(&h->mu);
	atomic_store(&h->stopping, true);
	while (h->inflight > 0)
		pthread_cond_wait(&h->idle, &h->mu);
	pthread_mutex_unlock(&h->mu);

	/* Every suspended connection has been resumed by now; libmicrohttpd
	 * finishes (or closes) them, calling on_completed for each. */
	MHD_stop_daemon(h->daemon);

	while (h->pool != NULL) {
		struct api_req *r = h->pool;
		h->pool = r->next;
		free(r);
	}
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->pool_mu);
	free(h);
}
