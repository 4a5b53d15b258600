/*
 * transport: lifecycle, the peer table, transport_send and the one timer;
 * see transport.h for the contract and transport_impl.h for the invariants.
 * Dialling and writing live in transport_out.c, accepting and reading in
 * transport_in.c.
 *
 * Every entry point, public call or loop callback, runs between t_enter and
 * t_leave, so that objects closed by a handler are freed only after the
 * code below the handler is done with them, and so the timer is re-armed
 * once, after everything that moved a deadline.
 */
#include "transport.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "transport_impl.h"

uint64_t t_now(void)
{
	return loop_clock_ms();
}

void t_log(struct transport *t, int level, const char *fmt, ...)
{
	if (!t->o.log)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->o.log(t->o.log_arg, level, msg);
}

static void free_peer(struct tpeer *p)
{
	tq_clear(&p->q);
	free(p->addr);
	free(p);
}

static uint64_t next_deadline(const struct transport *t)
{
	uint64_t d = tin_next_deadline(t);
	for (const struct tpeer *p = t->peers; p; p = p->next)
		if (p->state != TP_CONNECTED && p->deadline && (!d || p->deadline < d))
			d = p->deadline;
	return d;
}

static void arm_timer(struct transport *t)
{
	uint64_t d = next_deadline(t);
	if (d == t->armed)
		return;
	struct itimerspec its = {0};
	if (d) {
		its.it_value.tv_sec = (time_t)(d / 1000);
		its.it_value.tv_nsec = (long)(d % 1000) * 1000000L;
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1;
	}
	if (timerfd_settime(t->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		t->armed = d;
	else
		t_log(t, LOG_ERROR, "transport: timerfd_settime: %s", strerror(errno));
}

void t_enter(struct transport *t)
{
	t->depth++;
}

void t_leave(struct transport *t)
{
	assert(t->depth > 0);
	if (--t->depth > 0)
		return;
	while (t->dead_peers) {
		struct tpeer *p = t->dead_peers;
		t->dead_peers = p->next;
		free_peer(p);
	}
	while (t->dead_conns) {
		struct tconn *c = t->dead_conns;
		t->dead_conns = c->next;
		tin_free(c);
	}
	arm_timer(t);
}

static void on_timer(void *arg, int fd, uint32_t events)
{
	struct transport *t = arg;
	(void)events;
	uint64_t expirations;
	ssize_t rv = read(fd, &expirations, sizeof(expirations));
	(void)rv; /* EAGAIN: a re-arm raced the expiry; the scan below decides */
	t_enter(t);
	t->armed = 0; /* fired, or about to be re-armed below */
	uint64_t now = t_now();
	for (struct tpeer *p = t->peers; p; p = p->next)
		if (p->state != TP_CONNECTED && p->deadline && p->deadline <= now)
			tout_deadline(t, p);
	tin_deadlines(t, now);
	t_leave(t);
}

static int check_options(const struct transport_options *o, const struct transport_handlers *h,
			 char *errmsg)
{
	if (!o->self_id) {
		snprintf(errmsg, 256, "transport: node id 0 is reserved");
		return -EINVAL;
	}
	if (!o->listen_addr) {
		snprintf(errmsg, 256, "transport: no listen address");
		return -EINVAL;
	}
	if (!o->max_kind) {
		snprintf(errmsg, 256, "transport: max_kind must be at least 1");
		return -EINVAL;
	}
	if (o->max_frame_bytes > UINT32_MAX) {
		snprintf(errmsg, 256, "transport: max_frame_bytes over 4 GiB");
		return -EINVAL;
	}
	if (o->backoff_min_ms && o->backoff_max_ms && o->backoff_min_ms > o->backoff_max_ms) {
		snprintf(errmsg, 256, "transport: backoff_min_ms over backoff_max_ms");
		return -EINVAL;
	}
	if (!h->on_frame) {
		snprintf(errmsg, 256, "transport: no on_frame handler");
		return -EINVAL;
	}
	return 0;
}

int transport_new(struct loop *l, const struct transport_options *opts,
		  const struct transport_handlers *handlers, struct transport **out, char *errmsg)
{
	int rv = check_options(opts, handlers, errmsg);
	if (rv != 0)
		return rv;
	struct transport *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(errmsg, 256, "transport: out of memory");
		return -ENOMEM;
	}
	t->loop = l;
	t->o = *opts;
	t->o.listen_addr = NULL;
	t->h = *handlers;
	if (!t->o.max_frame_bytes)
		t->o.max_frame_bytes = TRANSPORT_DEFAULT_MAX_FRAME_BYTES;
	if (!t->o.max_queue_bytes)
		t->o.max_queue_bytes = TRANSPORT_DEFAULT_MAX_QUEUE_BYTES;
	if (!t->o.handshake_timeout_ms)
		t->o.handshake_timeout_ms = TRANSPORT_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	if (!t->o.backoff_min_ms)
		t->o.backoff_min_ms = TRANSPORT_DEFAULT_BACKOFF_MIN_MS;
	if (!t->o.backoff_max_ms)
		t->o.backoff_max_ms = TRANSPORT_DEFAULT_BACKOFF_MAX_MS;
	if (t->o.backoff_max_ms < t->o.backoff_min_ms)
		t->o.backoff_max_ms = t->o.backoff_min_ms;
	t->lfd = -1;
	t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->tfd < 0) {
		rv = -errno;
		snprintf(errmsg, 256, "transport: timerfd: %s", strerror(errno));
		goto err_timerfd;
	}
	rv = loop_add(l, t->tfd, EPOLLIN, on_timer, t);
	if (rv != 0) {
		snprintf(errmsg, 256, "transport: loop: %s", strerror(-rv));
		goto err_loop;
	}
	rv = tin_listen(t, opts->listen_addr, errmsg);
	if (rv != 0)
		goto err_listen;
	*out = t;
	return 0;

err_listen:
	loop_del(l, t->tfd);
err_loop:
	close(t->tfd);
err_timerfd:
	free(t);
	assert(rv != 0);
	return rv;
}

void transport_free(struct transport *t)
{
	if (!t)
		return;
	assert(t->depth == 0); /* never from inside a handler */
	t_enter(t);
	while (t->peers) {
		struct tpeer *p = t->peers;
		t->peers = p->next;
		tout_close(t, p);
		free_peer(p);
	}
	while (t->conns)
		tin_close(t, t->conns);
	tin_close_listener(t);
	t->depth--;
	while (t->dead_conns) {
		struct tconn *c = t->dead_conns;
		t->dead_conns = c->next;
		tin_free(c);
	}
	assert(t->dead_peers == NULL);
	loop_del(t->loop, t->tfd);
	close(t->tfd);
	free(t);
}

uint16_t transport_port(const struct transport *t)
{
	return t->port;
}

static struct tpeer *find_peer(const struct transport *t, uint64_t id)
{
	for (struct tpeer *p = t->peers; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

int transport_set_peer(struct transport *t, uint64_t id, const char *addr)
{
	char errmsg[256];
	if (!id || id == t->o.self_id) {
		t_log(t, LOG_ERROR, "transport: cannot add peer %llu: bad id",
		      (unsigned long long)id);
		return -EINVAL;
	}
	struct ta_addr sa;
	int rv = ta_parse(addr, false, &sa, errmsg);
	if (rv != 0) {
		t_log(t, LOG_ERROR, "transport: peer %llu: %s", (unsigned long long)id, errmsg);
		return rv;
	}
	struct tpeer *p = find_peer(t, id);
	if (p && strcmp(p->addr, addr) == 0 && sa.len == p->sa.len &&
	    memcmp(&sa.ss, &p->sa.ss, sa.len) == 0)
		return 0;
	char *copy = strdup(addr);
	if (!copy)
		return -ENOMEM;
	t_enter(t);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			free(copy);
			t_leave(t);
			return -ENOMEM;
		}
		p->t = t;
		p->id = id;
		p->fd = -1;
		p->state = TP_BACKOFF;
		tq_init(&p->q, t->o.max_queue_bytes);
		tout_init(t, p);
		p->next = t->peers;
		t->peers = p;
	} else {
		t_log(t, LOG_INFO, "peer %llu moves from %s to %s", (unsigned long long)id, p->addr,
		      addr);
		tout_close(t, p);
		free(p->addr);
	}
	p->addr = copy;
	p->sa = sa;
	p->attempts = 0;
	p->flapping = false;
	p->told_unreachable = false;
	tout_dial(t, p);
	t_leave(t);
	return 0;
}

void transport_remove_peer(struct transport *t, uint64_t id)
{
	t_enter(t);
	struct tpeer **pp = &t->peers;
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	struct tpeer *p = *pp;
	if (p) {
		*pp = p->next;
		tout_close(t, p);
		p->dead = true;
		p->next = t->dead_peers;
		t->dead_peers = p;
		t_log(t, LOG_INFO, "peer %llu removed", (unsigned long long)id);
	}
	tin_close_from(t, id);
	t_leave(t);
}

int transport_send(struct transport *t, uint64_t to, uint8_t kind, const void *payload, size_t len,
		   uint64_t coalesce_key)
{
	if (kind == 0 || kind > t->o.max_kind)
		return -EINVAL;
	if (len > t->o.max_frame_bytes)
		return -EMSGSIZE;
	struct tpeer *p = find_peer(t, to);
	if (!p)
		return -ENOTCONN;
	int rv = tq_push(&p->q, kind, payload, len, coalesce_key);
	if (rv != 0)
		return rv;
	/* Nothing ahead of it: write now rather than wait a loop turn for
	 * EPOLLOUT. With a backlog, EPOLLOUT is armed and the loop writes. */
	if (p->state == TP_CONNECTED && !p->out_armed)
		tout_flush(t, p);
	return 0;
}

int transport_peer_stats(const struct transport *t, uint64_t id, struct transport_peer_stats *st)
{
	const struct tpeer *p = find_peer(t, id);
	if (!p)
		return -ENOTCONN;
	st->connected = p->state == TP_CONNECTED;
	st->queued_frames = p->q.frames;
	st->queued_bytes = p->q.bytes;
	st->sent_frames = p->q.sent;
	st->dropped = p->q.dropped;
	st->coalesced = p->q.coalesced;
	return 0;
}
