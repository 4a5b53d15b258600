/*
 * transport_out: one peer's outbound connection. Dials without blocking,
 * writes the hello and then the queue with sendmsg (gathered, MSG_NOSIGNAL),
 * and redials with backoff while the peer is configured.
 *
 *   TP_BACKOFF --deadline--> TP_CONNECTING --writable, SO_ERROR 0--> TP_CONNECTED
 *        ^                        |  error or connect timeout        |
 *        +------------------------+----------------------------------+ error/EOF
 *
 * The acceptor never writes on this connection, so anything readable is
 * either its end-of-file (it closed: refused our hello, or went away) or a
 * protocol violation; both close the connection.
 *
 * Backoff: the n-th consecutive failure waits between 3/4 and all of
 * min(backoff_max, backoff_min * 2^n), never less than backoff_min. The
 * jitter is a hash of (own id, peer id, n): reproducible in a test, and
 * different for every pair of nodes, so a restarted cluster does not dial in
 * lockstep. A connection that lasted at least backoff_max resets n.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "transport_impl.h"

#define WRITE_IOVS 64
#define WRITE_ROUND_BYTES ((size_t)1 << 20)
#define WRITE_ROUNDS 8 /* then yield to the loop; EPOLLOUT brings us back */
/* A peer that stops acknowledging data is declared dead after this long
 * instead of the kernel's ~15 minutes of retransmissions. */
#define TCP_USER_TIMEOUT_MS 10000

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t backoff_ms(const struct transport *t, const struct tpeer *p)
{
	uint64_t lo = t->o.backoff_min_ms, hi = t->o.backoff_max_ms;
	uint32_t n = p->attempts > 0 ? p->attempts - 1 : 0;
	uint64_t cap = n >= 32 ? hi : lo << n;
	if (cap > hi)
		cap = hi;
	uint64_t r = mix64(t->o.self_id * 0x100000001b3ull ^ mix64(p->id) ^ p->attempts);
	uint64_t d = cap - cap / 4 + r % (cap / 4 + 1);
	return d < lo ? lo : d;
}

void tout_init(struct transport *t, struct tpeer *p)
{
	struct tw_hello h = {.cluster_id = t->o.cluster_id, .from = t->o.self_id, .to = p->id};
	tw_hello_encode(&h, p->hello);
	p->hello_off = 0;
}

/* Leaves p waiting for its next dial after a failure. */
static void schedule_retry(struct transport *t, struct tpeer *p)
{
	if (p->attempts < UINT32_MAX)
		p->attempts++;
	p->state = TP_BACKOFF;
	p->deadline = t_now() + backoff_ms(t, p);
}

void tout_close(struct transport *t, struct tpeer *p)
{
	if (p->fd >= 0) {
		loop_del(t->loop, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	tq_drop_partial(&p->q);
	p->hello_off = 0;
	p->out_armed = false;
	p->state = TP_BACKOFF;
	p->deadline = 0;
}

/* Closes an established or pending connection because of `why`, logs it,
 * schedules the redial and tells the node if it had been told "up".
 *
 * Logging: connects and disconnects are logged at INFO, except while a
 * peer flaps (its connections keep dying young, as when it refuses our
 * hello): then only the first round is INFO and the rest DEBUG. Likewise
 * only the first failed dial of a series is INFO. */
static void fail(struct transport *t, struct tpeer *p, const char *why)
{
	bool was_up = p->state == TP_CONNECTED;
	if (was_up) {
		bool lasted = t_now() - p->up_since >= t->o.backoff_max_ms;
		t_log(t, lasted || !p->flapping ? LOG_INFO : LOG_DEBUG,
		      "lost connection to peer %llu at %s: %s", (unsigned long long)p->id, p->addr,
		      why);
		p->flapping = !lasted;
		if (lasted)
			p->attempts = 0;
	} else {
		t_log(t, p->told_unreachable ? LOG_DEBUG : LOG_INFO,
		      "cannot connect to peer %llu at %s: %s; retrying", (unsigned long long)p->id,
		      p->addr, why);
		p->told_unreachable = true;
	}
	tout_close(t, p);
	schedule_retry(t, p);
	if (was_up && t->h.on_peer_state)
		t->h.on_peer_state(t->h.arg, p->id, false);
}

static void set_out(struct transport *t, struct tpeer *p, bool want)
{
	if (p->out_armed == want)
		return;
	if (loop_mod(t->loop, p->fd, EPOLLIN | (want ? EPOLLOUT : 0)) == 0)
		p->out_armed = want;
}

/* Writes until the socket is full, the queue is empty or the round limit
 * is hit. Returns 0 (all written), -EAGAIN (more to write) or -errno. */
static int write_some(struct tpeer *p)
{
	for (int round = 0; round < WRITE_ROUNDS; round++) {
		struct iovec iov[WRITE_IOVS];
		int n = 0;
		size_t offered = 0;
		size_t hello_left = TW_HELLO_BYTES - p->hello_off;
		if (hello_left) {
			iov[0].iov_base = p->hello + p->hello_off;
			iov[0].iov_len = hello_left;
			n = 1;
		}
		n += tq_iov(&p->q, iov + n, WRITE_IOVS - n, WRITE_ROUND_BYTES);
		if (n == 0)
			return 0;
		for (int i = 0; i < n; i++)
			offered += iov[i].iov_len;
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(p->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		size_t done = (size_t)w;
		size_t h = done < hello_left ? done : hello_left;
		p->hello_off += h;
		tq_consume(&p->q, done - h);
		if (done < offered)
			return -EAGAIN;
	}
	return tq_empty(&p->q) ? 0 : -EAGAIN;
}

void tout_flush(struct transport *t, struct tpeer *p)
{
	if (p->state != TP_CONNECTED)
		return;
	int rv = write_some(p);
	/* On a hard error too: a broken socket reports writable (and
	 * EPOLLERR), and the event handler closes it. */
	set_out(t, p, rv != 0);
}

static void connected(struct transport *t, struct tpeer *p)
{
	p->state = TP_CONNECTED;
	p->up_since = t_now();
	p->deadline = 0;
	p->hello_off = 0;
	/* Connecting watched EPOLLOUT alone; now EOF matters too, and the
	 * hello waits to be written. */
	p->out_armed = loop_mod(t->loop, p->fd, EPOLLIN | EPOLLOUT) == 0;
	t_log(t, p->flapping ? LOG_DEBUG : LOG_INFO, "connected to peer %llu at %s",
	      (unsigned long long)p->id, p->addr);
	p->told_unreachable = false;
	int fd = p->fd;
	if (t->h.on_peer_state)
		t->h.on_peer_state(t->h.arg, p->id, true);
	/* The handler may have removed or re-addressed the peer. */
	if (!p->dead && p->state == TP_CONNECTED && p->fd == fd)
		tout_flush(t, p);
}

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}

static void on_event(void *arg, int fd, uint32_t events)
{
	struct tpeer *p = arg;
	struct transport *t = p->t;
	t_enter(t);
	if (p->state == TP_CONNECTING) {
		int err = sock_error(fd);
		if (err)
			fail(t, p, strerror(err));
		else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			connected(t, p);
		t_leave(t);
		return;
	}
	if (events & EPOLLERR) {
		int err = sock_error(fd);
		fail(t, p, err ? strerror(err) : "socket error");
	} else if (events & EPOLLIN) {
		char c;
		ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
		if (r == 0)
			fail(t, p, "closed by the peer");
		else if (r > 0)
			fail(t, p, "peer wrote on a one-way connection");
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			fail(t, p, strerror(errno));
	} else if (events & EPOLLHUP) {
		fail(t, p, "hung up");
	}
	if (!p->dead && p->state == TP_CONNECTED && p->fd == fd && (events & EPOLLOUT)) {
		int rv = write_some(p);
		if (rv != 0 && rv != -EAGAIN)
			fail(t, p, strerror(-rv));
		else
			set_out(t, p, rv != 0);
	}
	t_leave(t);
}

static void set_sockopts(int fd)
{
	int one = 1;
	unsigned timeout = TCP_USER_TIMEOUT_MS;
	/* Best effort: a missing option costs latency or detection time, not
	 * correctness. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
}

void tout_dial(struct transport *t, struct tpeer *p)
{
	tout_close(t, p);
	int fd = socket(p->sa.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(t, p, strerror(errno));
		return;
	}
	set_sockopts(fd);
	/* Even a connect that completes at once is reported through the loop,
	 * so that no handler runs inside transport_set_peer. */
	if (connect(fd, (struct sockaddr *)&p->sa.ss, p->sa.len) != 0 && errno != EINPROGRESS) {
		int err = errno;
		close(fd);
		fail(t, p, strerror(err));
		return;
	}
	int rv = loop_add(t->loop, fd, EPOLLOUT, on_event, p);
	if (rv != 0) {
		close(fd);
		fail(t, p, strerror(-rv));
		return;
	}
	p->fd = fd;
	p->state = TP_CONNECTING;
	p->deadline = t_now() + t->o.handshake_timeout_ms;
}

void tout_deadline(struct transport *t, struct tpeer *p)
{
	if (p->state == TP_CONNECTING)
		fail(t, p, "connect timed out");
	else if (p->state == TP_BACKOFF)
		tout_dial(t, p);
}
