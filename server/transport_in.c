/*
 * transport_in: the listener and the connections it accepts. Each accepted
 * connection must send a valid hello within handshake_timeout_ms; after it,
 * frames, delivered to on_frame one by one.
 *
 *   accept --> TC_HELLO --hello ok, accept_peer yes--> TC_FRAMES
 *                 |  bad hello, refused, timeout          |  bad frame, EOF, error
 *                 +--------------------> closed <---------+
 *
 * Memory a remote end can make us hold, at most: TW_HELLO_BYTES for each of
 * TRANSPORT_MAX_HELLO_CONNS connections in their hello, and for each
 * accepted peer id (one connection each) a buffer that grows only as bytes
 * actually arrive, up to TW_HEADER_BYTES + max_frame_bytes. A header is
 * checked as soon as its 12 bytes are in, so an oversized length is refused
 * before anything is allocated for it.
 *
 * Fairness: one recv per readiness event; the loop is level-triggered, so a
 * peer with more to say is served again next turn, after the others.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "transport_impl.h"

#define ACCEPTS_PER_EVENT 32
#define LISTEN_BACKLOG 128
#define LISTEN_PAUSE_MS 100 /* after EMFILE and the like */

void tin_free(struct tconn *c)
{
	free(c->buf);
	free(c);
}

void tin_close(struct transport *t, struct tconn *c)
{
	struct tconn **pp = &t->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	if (c->state == TC_HELLO)
		t->n_hello--;
	loop_del(t->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
	c->next = t->dead_conns;
	t->dead_conns = c;
}

void tin_close_from(struct transport *t, uint64_t id)
{
	struct tconn *c = t->conns;
	while (c) {
		struct tconn *next = c->next;
		if (c->state == TC_FRAMES && c->from == id) {
			t_log(t, LOG_INFO, "closing connection from removed peer %llu (%s)",
			      (unsigned long long)id, c->remote);
			tin_close(t, c);
		}
		c = next;
	}
}

/* Logs why c is being dropped, naming the peer as well as we know it. */
static void drop(struct transport *t, struct tconn *c, int level, const char *why)
{
	if (c->state == TC_FRAMES)
		t_log(t, level, "closed connection from node %llu (%s): %s",
		      (unsigned long long)c->from, c->remote, why);
	else
		t_log(t, level, "closed connection from %s: %s", c->remote, why);
	tin_close(t, c);
}

static void refuse(struct transport *t, struct tconn *c, uint64_t from, const char *why)
{
	t_log(t, LOG_WARN, "refused connection from node %llu (%s): %s", (unsigned long long)from,
	      c->remote, why);
	tin_close(t, c);
}

/* A whole hello is in: check it against this node and the membership. */
static void finish_hello(struct transport *t, struct tconn *c)
{
	struct tw_hello h;
	enum tw_status st = tw_hello_check(c->hello, c->hello_len, &h);
	if (st != TW_OK) {
		drop(t, c, LOG_WARN, tw_strerror(st));
		return;
	}
	if (h.cluster_id != t->o.cluster_id) {
		refuse(t, c, h.from, "cluster id mismatch");
		return;
	}
	if (h.to != t->o.self_id) {
		refuse(t, c, h.from, "addressed to another node id");
		return;
	}
	if (h.from == 0 || h.from == t->o.self_id) {
		refuse(t, c, h.from, "bad node id");
		return;
	}
	if (t->h.accept_peer && !t->h.accept_peer(t->h.arg, h.from)) {
		if (!c->dead)
			refuse(t, c, h.from, "not a member");
		return;
	}
	if (c->dead)
		return;
	/* The dialer keeps one connection per peer: an older one from the
	 * same id is a leftover of a connection it already gave up. */
	for (struct tconn *o = t->conns; o; o = o->next) {
		if (o != c && o->state == TC_FRAMES && o->from == h.from) {
			t_log(t, LOG_INFO,
			      "node %llu reconnected from %s; closing its connection from %s",
			      (unsigned long long)h.from, c->remote, o->remote);
			tin_close(t, o);
			break;
		}
	}
	c->state = TC_FRAMES;
	t->n_hello--;
	c->from = h.from;
	c->deadline = 0;
	t_log(t, LOG_INFO, "accepted connection from node %llu (%s)", (unsigned long long)h.from,
	      c->remote);
}

static void read_hello(struct transport *t, struct tconn *c)
{
	ssize_t r =
	    recv(c->fd, c->hello + c->hello_len, TW_HELLO_BYTES - c->hello_len, MSG_DONTWAIT);
	if (r == 0) {
		drop(t, c, c->hello_len ? LOG_WARN : LOG_INFO, "closed before its hello");
		return;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			drop(t, c, LOG_INFO, strerror(errno));
		return;
	}
	c->hello_len += (size_t)r;
	struct tw_hello h;
	if (c->hello_len < TW_HELLO_BYTES) {
		enum tw_status st = tw_hello_check(c->hello, c->hello_len, &h);
		if (st != TW_OK)
			drop(t, c, LOG_WARN, tw_strerror(st));
		return;
	}
	finish_hello(t, c);
}

/* Total size of the frame whose header starts at p (already checked). */
static size_t frame_total(const uint8_t *p)
{
	return TW_HEADER_BYTES + (size_t)tw_frame_len(p);
}

/* Makes room to read into: the first buffer, or a bigger one when a frame
 * larger than the buffer fills it. Growth doubles, capped by the frame's
 * own (checked) size, so memory follows bytes actually received. */
static int make_room(struct tconn *c)
{
	if (!c->buf) {
		c->buf = malloc(TRANSPORT_READ_BUF_BYTES);
		if (!c->buf)
			return -ENOMEM;
		c->cap = TRANSPORT_READ_BUF_BYTES;
		return 0;
	}
	if (c->len < c->cap)
		return 0;
	/* Full: it holds one partial frame, starting at 0, longer than cap. */
	size_t need = frame_total(c->buf);
	size_t n = c->cap * 2 < need ? c->cap * 2 : need;
	uint8_t *b = realloc(c->buf, n);
	if (!b)
		return -ENOMEM;
	c->buf = b;
	c->cap = n;
	return 0;
}

/* After a large frame, give the memory back. */
static void maybe_shrink(struct tconn *c)
{
	if (c->cap <= TRANSPORT_READ_BUF_BYTES || c->len > TRANSPORT_READ_BUF_BYTES)
		return;
	if (c->len >= TW_HEADER_BYTES && frame_total(c->buf) > TRANSPORT_READ_BUF_BYTES)
		return; /* another large frame is arriving */
	uint8_t *b = realloc(c->buf, TRANSPORT_READ_BUF_BYTES);
	if (b) {
		c->buf = b;
		c->cap = TRANSPORT_READ_BUF_BYTES;
	}
}

static void read_frames(struct transport *t, struct tconn *c)
{
	if (make_room(c) != 0) {
		drop(t, c, LOG_ERROR, "out of memory for its frame");
		return;
	}
	ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
	if (r == 0) {
		if (c->len)
			drop(t, c, LOG_WARN, "truncated frame (closed in the middle of it)");
		else
			drop(t, c, LOG_INFO, "closed by the peer");
		return;
	}
	if (r < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			drop(t, c, LOG_INFO, strerror(errno));
		return;
	}
	c->len += (size_t)r;
	size_t off = 0;
	while (c->len - off >= TW_HEADER_BYTES) {
		const uint8_t *hdr = c->buf + off;
		uint32_t flen;
		uint8_t kind;
		enum tw_status st =
		    tw_header_check(hdr, t->o.max_frame_bytes, t->o.max_kind, &flen, &kind);
		if (st != TW_OK) {
			char why[128];
			if (st == TW_TOO_LARGE)
				snprintf(why, sizeof(why),
					 "frame of %u bytes over the limit of %zu",
					 (unsigned)tw_frame_len(hdr), t->o.max_frame_bytes);
			else if (st == TW_BAD_KIND)
				snprintf(why, sizeof(why), "unknown frame kind %u",
					 (unsigned)hdr[4]);
			else
				snprintf(why, sizeof(why), "%s", tw_strerror(st));
			drop(t, c, LOG_WARN, why);
			return;
		}
		if (c->len - off - TW_HEADER_BYTES < flen)
			break;
		const uint8_t *payload = hdr + TW_HEADER_BYTES;
		if (tw_payload_check(hdr, payload, flen) != TW_OK) {
			drop(t, c, LOG_WARN, "bad frame CRC");
			return;
		}
		t->h.on_frame(t->h.arg, c->from, kind, payload, flen);
		if (c->dead)
			return; /* the handler removed this peer; the buffer lives on until t_leave */
		off += TW_HEADER_BYTES + flen;
	}
	if (off) {
		memmove(c->buf, c->buf + off, c->len - off);
		c->len -= off;
	}
	maybe_shrink(c);
}

static void on_conn_event(void *arg, int fd, uint32_t events)
{
	struct tconn *c = arg;
	struct transport *t = c->t;
	(void)fd;
	(void)events; /* errors and hang-ups show up as recv results */
	t_enter(t);
	if (c->state == TC_HELLO)
		read_hello(t, c);
	else
		read_frames(t, c);
	t_leave(t);
}

static void accept_one(struct transport *t, int fd, const struct sockaddr_storage *ss,
		       socklen_t len)
{
	char remote[TA_TEXT_MAX];
	ta_format((const struct sockaddr *)ss, len, remote);
	if (t->n_hello >= TRANSPORT_MAX_HELLO_CONNS) {
		uint64_t now = t_now();
		if (now - t->last_refusal_log >= 1000) {
			t->last_refusal_log = now;
			t_log(t, LOG_WARN,
			      "refused connection from %s: %d connections already waiting for "
			      "their hello",
			      remote, TRANSPORT_MAX_HELLO_CONNS);
		}
		close(fd);
		return;
	}
	struct tconn *c = calloc(1, sizeof(*c));
	if (!c) {
		t_log(t, LOG_ERROR, "refused connection from %s: out of memory", remote);
		close(fd);
		return;
	}
	c->t = t;
	c->fd = fd;
	c->state = TC_HELLO;
	memcpy(c->remote, remote, sizeof(remote));
	c->deadline = t_now() + t->o.handshake_timeout_ms;
	int rv = loop_add(t->loop, fd, EPOLLIN, on_conn_event, c);
	if (rv != 0) {
		t_log(t, LOG_ERROR, "refused connection from %s: %s", remote, strerror(-rv));
		close(fd);
		free(c);
		return;
	}
	c->next = t->conns;
	t->conns = c;
	t->n_hello++;
	t_log(t, LOG_DEBUG, "connection from %s", remote);
}

static void on_listen_event(void *arg, int lfd, uint32_t events)
{
	struct transport *t = arg;
	(void)events;
	t_enter(t);
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			accept_one(t, fd, &ss, len);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* Level-triggered: the pending connection would wake
			 * us again at once, forever. Stop listening a moment. */
			t_log(t, LOG_ERROR, "transport: accept: %s; pausing for %d ms",
			      strerror(errno), LISTEN_PAUSE_MS);
			loop_mod(t->loop, lfd, 0);
			t->listen_resume = t_now() + LISTEN_PAUSE_MS;
		}
		break; /* EAGAIN, or paused */
	}
	t_leave(t);
}

int tin_listen(struct transport *t, const char *addr, char *errmsg)
{
	struct ta_addr sa;
	int rv = ta_parse(addr, true, &sa, errmsg);
	if (rv != 0)
		return rv;
	int fd = socket(sa.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rv = -errno;
		goto fail;
	}
	int one = 1;
	/* A restarted node must get its port back while old connections
	 * linger in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa.ss, sa.len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		rv = -errno;
		goto fail_fd;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		rv = -errno;
		goto fail_fd;
	}
	if (bound.ss_family == AF_INET)
		t->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	else
		t->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
	rv = loop_add(t->loop, fd, EPOLLIN, on_listen_event, t);
	if (rv != 0)
		goto fail_fd;
	t->lfd = fd;
	return 0;

fail_fd:
	close(fd);
fail:
	snprintf(errmsg, 256, "transport: listen on %s: %s", addr, strerror(-rv));
	return rv;
}

void tin_close_listener(struct transport *t)
{
	if (t->lfd >= 0) {
		loop_del(t->loop, t->lfd);
		close(t->lfd);
		t->lfd = -1;
	}
}

void tin_deadlines(struct transport *t, uint64_t now)
{
	struct tconn *c = t->conns;
	while (c) {
		struct tconn *next = c->next;
		if (c->state == TC_HELLO && c->deadline <= now) {
			char why[64];
			snprintf(why, sizeof(why), "no hello within %u ms",
				 (unsigned)t->o.handshake_timeout_ms);
			drop(t, c, LOG_WARN, why);
		}
		c = next;
	}
	if (t->listen_resume && t->listen_resume <= now) {
		t->listen_resume = 0;
		loop_mod(t->loop, t->lfd, EPOLLIN);
	}
}

uint64_t tin_next_deadline(const struct transport *t)
{
	uint64_t d = t->listen_resume;
	for (const struct tconn *c = t->conns; c; c = c->next)
		if (c->state == TC_HELLO && (!d || c->deadline < d))
			d = c->deadline;
	return d;
}
