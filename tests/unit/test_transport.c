/*
 * Unit tests of the peer transport (server/transport*.c) over real sockets:
 * several transports on one loop in one thread, on ephemeral ports of
 * 127.0.0.1, plus raw sockets playing hostile peers.
 *
 * Bounded in time: every wait runs the loop until a condition holds or a
 * deadline passes (then the test fails), and alarm() kills a run that hangs
 * anyway. No sleeps: waits end as soon as their condition holds.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "loop.h"
#include "transport.h"
#include "transport_addr.h"
#include "transport_wire.h"

#define MAX_ID 8
#define KINDS 4
#define CLUSTER 0xC1A5u
#define WAIT_MS 5000
#define RAW_ID 7 /* the id hostile raw sockets claim; a member of node 2 */

struct rx {
	uint64_t from;
	uint8_t kind;
	size_t len;
	uint8_t *data;
};

struct env;

struct node {
	struct env *e;
	uint64_t id;
	struct transport_options o; /* template for node_start */
	struct transport *t;
	uint16_t port;
	struct rx *rx;
	size_t n_rx, cap_rx;
	uint64_t reject;     /* accept_peer refuses this id */
	int ups[MAX_ID + 1]; /* on_peer_state(true) count per peer */
	int downs[MAX_ID + 1];
	bool remove_sender_on_frame;
	bool remove_peer_on_up;
};

typedef bool (*cond_fn)(struct env *e, const void *arg);

struct env {
	struct loop *loop;
	struct node n[MAX_ID + 1]; /* by id */
	char *log;
	size_t log_len, log_cap;
	cond_fn cond;
	const void *cond_arg;
	unsigned long turns; /* loop turns so far */
};

/* ---- the harness ---- */

static void log_fn(void *arg, int level, const char *msg)
{
	struct node *n = arg;
	struct env *e = n->e;
	static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	char line[700];
	int k = snprintf(line, sizeof(line), "n%llu %s %s\n", (unsigned long long)n->id,
			 level >= 0 && level <= 3 ? names[level] : "?", msg);
	size_t len = (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1;
	if (e->log_len + len + 1 > e->log_cap) {
		e->log_cap = (e->log_cap + len + 1) * 2;
		e->log = realloc(e->log, e->log_cap);
		assert_non_null(e->log);
	}
	memcpy(e->log + e->log_len, line, len + 1);
	e->log_len += len;
	if (getenv("TRANSPORT_TEST_LOG"))
		fputs(line, stderr);
}

static void on_frame(void *arg, uint64_t from, uint8_t kind, const uint8_t *payload, size_t len)
{
	struct node *n = arg;
	if (n->n_rx == n->cap_rx) {
		n->cap_rx = n->cap_rx ? n->cap_rx * 2 : 64;
		n->rx = realloc(n->rx, n->cap_rx * sizeof(*n->rx));
		assert_non_null(n->rx);
	}
	struct rx *r = &n->rx[n->n_rx++];
	r->from = from;
	r->kind = kind;
	r->len = len;
	r->data = malloc(len ? len : 1);
	assert_non_null(r->data);
	if (len)
		memcpy(r->data, payload, len);
	if (n->remove_sender_on_frame)
		transport_remove_peer(n->t, from);
}

static bool accept_peer(void *arg, uint64_t from)
{
	struct node *n = arg;
	return from != n->reject;
}

static void on_peer_state(void *arg, uint64_t peer, bool up)
{
	struct node *n = arg;
	assert_true(peer <= MAX_ID);
	if (up)
		n->ups[peer]++;
	else
		n->downs[peer]++;
	if (up && n->remove_peer_on_up)
		transport_remove_peer(n->t, peer);
}

static void on_turn_end(void *arg)
{
	struct env *e = arg;
	e->turns++;
	if (e->cond && e->cond(e, e->cond_arg))
		loop_stop(e->loop);
}

static void on_deadline(void *arg)
{
	struct env *e = arg;
	loop_stop(e->loop);
}

/* Runs the loop until cond holds (true) or ms pass (false). */
static bool run_until(struct env *e, cond_fn cond, const void *arg, uint64_t ms)
{
	if (cond(e, arg))
		return true;
	e->cond = cond;
	e->cond_arg = arg;
	loop_set_timer(e->loop, loop_clock_ms() + ms);
	assert_int_equal(loop_run(e->loop), 0);
	loop_set_timer(e->loop, 0);
	e->cond = NULL;
	return cond(e, arg);
}

static bool never(struct env *e, const void *arg)
{
	(void)e;
	(void)arg;
	return false;
}

/* Runs the loop for ms, for "nothing more happens" checks. */
static void run_for(struct env *e, uint64_t ms)
{
	run_until(e, never, NULL, ms);
}

static bool log_has(struct env *e, const void *arg)
{
	return e->log && strstr(e->log, arg) != NULL;
}

/* Lines of the log containing both a and b. */
static int log_lines(const struct env *e, const char *a, const char *b)
{
	int count = 0;
	const char *p = e->log;
	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *line = strndup(p, len);
		if (strstr(line, a) && (!b || strstr(line, b)))
			count++;
		free(line);
		p = end ? end + 1 : NULL;
	}
	return count;
}

struct want_rx {
	uint64_t id;
	size_t n;
};

static bool has_rx(struct env *e, const void *arg)
{
	const struct want_rx *w = arg;
	return e->n[w->id].n_rx >= w->n;
}

struct want_state {
	uint64_t id, peer;
	int ups, downs;
};

static bool has_state(struct env *e, const void *arg)
{
	const struct want_state *w = arg;
	return e->n[w->id].ups[w->peer] >= w->ups && e->n[w->id].downs[w->peer] >= w->downs;
}

static struct env *env_new(void)
{
	char err[256];
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->loop = loop_new(err);
	assert_non_null(e->loop);
	loop_on_turn_end(e->loop, on_turn_end, e);
	loop_on_timer(e->loop, on_deadline, e);
	for (uint64_t id = 1; id <= MAX_ID; id++) {
		struct node *n = &e->n[id];
		n->e = e;
		n->id = id;
		n->o = (struct transport_options){
		    .self_id = id,
		    .cluster_id = CLUSTER,
		    .max_kind = KINDS,
		    .handshake_timeout_ms = 2000,
		    .backoff_min_ms = 10,
		    .backoff_max_ms = 40,
		    .log = log_fn,
		    .log_arg = n,
		};
	}
	return e;
}

static void node_stop(struct env *e, uint64_t id)
{
	transport_free(e->n[id].t);
	e->n[id].t = NULL;
}

static void env_free(struct env *e)
{
	for (uint64_t id = 1; id <= MAX_ID; id++) {
		struct node *n = &e->n[id];
		node_stop(e, id);
		for (size_t i = 0; i < n->n_rx; i++)
			free(n->rx[i].data);
		free(n->rx);
	}
	loop_free(e->loop);
	free(e->log);
	free(e);
}

static void node_start(struct env *e, uint64_t id, uint16_t port)
{
	struct node *n = &e->n[id];
	char addr[32], err[256];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
	n->o.listen_addr = addr;
	struct transport_handlers h = {
	    .on_frame = on_frame,
	    .accept_peer = accept_peer,
	    .on_peer_state = on_peer_state,
	    .arg = n,
	};
	int rv = transport_new(e->loop, &n->o, &h, &n->t, err);
	if (rv != 0)
		fail_msg("transport_new: %s", err);
	n->port = transport_port(n->t);
	assert_true(n->port != 0);
	assert_true(port == 0 || n->port == port);
}

/* Tells node `from` where node `to` listens. */
static void link_to(struct env *e, uint64_t from, uint64_t to)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)e->n[to].port);
	assert_int_equal(transport_set_peer(e->n[from].t, to, addr), 0);
}

/* Payload i of a test stream: its index, then bytes derived from it. */
static size_t make_payload(uint8_t *buf, uint32_t i, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k * 7);
	if (len >= 4)
		memcpy(buf, &i, 4);
	return len;
}

static void check_payload(const struct rx *r, uint32_t i, size_t len)
{
	assert_int_equal(r->len, len);
	uint8_t *want = malloc(len ? len : 1);
	make_payload(want, i, len);
	assert_memory_equal(r->data, want, len);
	free(want);
}

/* ---- raw sockets playing peers ---- */

static int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The raw socket's own address, as the transport logs it. */
static void raw_name(int fd, char text[TA_TEXT_MAX])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	ta_format((struct sockaddr *)&ss, len, text);
}

static void raw_send(int fd, const void *buf, size_t len)
{
	ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
	assert_int_equal(w, (ssize_t)len);
}

static void raw_hello(int fd, uint64_t cluster, uint64_t from, uint64_t to)
{
	uint8_t b[TW_HELLO_BYTES];
	struct tw_hello h = {.cluster_id = cluster, .from = from, .to = to};
	tw_hello_encode(&h, b);
	raw_send(fd, b, sizeof(b));
}

/* True once the other end closed: EOF or a reset. */
static bool raw_closed(struct env *e, const void *arg)
{
	(void)e;
	int fd = *(const int *)arg;
	char c[64];
	for (;;) {
		ssize_t r = recv(fd, c, sizeof(c), MSG_DONTWAIT);
		if (r == 0)
			return true;
		if (r < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
	}
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

/* Node 1 -> node 2 still works: one more frame arrives, intact. */
static void good_peer_still_served(struct env *e)
{
	static uint32_t seq = 1000000;
	uint8_t buf[300];
	make_payload(buf, seq, sizeof(buf));
	assert_int_equal(transport_send(e->n[1].t, 2, 1, buf, sizeof(buf), 0), 0);
	struct want_rx w = {2, e->n[2].n_rx + 1};
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	check_payload(&e->n[2].rx[e->n[2].n_rx - 1], seq, sizeof(buf));
	assert_int_equal(e->n[2].rx[e->n[2].n_rx - 1].from, 1);
	seq++;
}

/* Nodes 1 and 2, 1 dialling 2, connected. */
static struct env *pair(void)
{
	struct env *e = env_new();
	node_start(e, 1, 0);
	node_start(e, 2, 0);
	link_to(e, 1, 2);
	struct want_state w = {1, 2, 1, 0};
	assert_true(run_until(e, has_state, &w, WAIT_MS));
	return e;
}

/* ---- delivery ---- */

static void frames_arrive_in_order_with_the_senders_id(void **state)
{
	(void)state;
	struct env *e = env_new();
	for (uint64_t id = 1; id <= 3; id++)
		node_start(e, id, 0);
	link_to(e, 1, 2);
	link_to(e, 3, 2);
	link_to(e, 2, 1);
	/* Queued before any connection is up: they wait for the hello. */
	uint8_t buf[5000];
	for (uint32_t i = 0; i < 200; i++) {
		size_t len = (i * 37) % sizeof(buf);
		make_payload(buf, i, len);
		assert_int_equal(
		    transport_send(e->n[1].t, 2, (uint8_t)(1 + i % KINDS), buf, len, 0), 0);
		make_payload(buf, i + 1000, len);
		assert_int_equal(transport_send(e->n[3].t, 2, 2, buf, len, 0), 0);
	}
	make_payload(buf, 7, 10);
	assert_int_equal(transport_send(e->n[2].t, 1, 3, buf, 10, 0), 0);
	struct want_rx w2 = {2, 400}, w1 = {1, 1};
	assert_true(run_until(e, has_rx, &w2, WAIT_MS));
	assert_true(run_until(e, has_rx, &w1, WAIT_MS));
	uint32_t next1 = 0, next3 = 0;
	for (size_t k = 0; k < e->n[2].n_rx; k++) {
		const struct rx *r = &e->n[2].rx[k];
		if (r->from == 1) {
			check_payload(r, next1, (next1 * 37) % sizeof(buf));
			assert_int_equal(r->kind, 1 + next1 % KINDS);
			next1++;
		} else {
			assert_int_equal(r->from, 3);
			check_payload(r, next3 + 1000, (next3 * 37) % sizeof(buf));
			next3++;
		}
	}
	assert_int_equal(next1, 200);
	assert_int_equal(next3, 200);
	assert_int_equal(e->n[1].rx[0].from, 2);
	assert_int_equal(e->n[1].rx[0].kind, 3);
	check_payload(&e->n[1].rx[0], 7, 10);
	/* Connected transitions were reported once each. */
	assert_int_equal(e->n[1].ups[2], 1);
	assert_int_equal(e->n[3].ups[2], 1);
	assert_int_equal(e->n[2].ups[1], 1);
	struct transport_peer_stats st;
	assert_int_equal(transport_peer_stats(e->n[1].t, 2, &st), 0);
	assert_true(st.connected);
	assert_int_equal(st.sent_frames, 200);
	assert_int_equal(st.queued_frames, 0);
	assert_int_equal(log_lines(e, "n2 INFO accepted connection from node 1", NULL), 1);
	env_free(e);
}

static void large_frames_cross_many_partial_writes(void **state)
{
	(void)state;
	struct env *e = env_new();
	const size_t max = 8u << 20;
	e->n[1].o.max_frame_bytes = max;
	e->n[2].o.max_frame_bytes = max;
	node_start(e, 1, 0);
	node_start(e, 2, 0);
	link_to(e, 1, 2);
	uint8_t *buf = malloc(max + 1);
	assert_non_null(buf);
	size_t lens[] = {1u << 20, 3, max, 1u << 20, 0, max - 1, 65536, 65537, 1};
	size_t n = sizeof(lens) / sizeof(lens[0]);
	for (uint32_t i = 0; i < n; i++) {
		make_payload(buf, i, lens[i]);
		assert_int_equal(transport_send(e->n[1].t, 2, 1, buf, lens[i], 0), 0);
	}
	assert_int_equal(transport_send(e->n[1].t, 2, 1, buf, max + 1, 0), -EMSGSIZE);
	struct want_rx w = {2, n};
	assert_true(run_until(e, has_rx, &w, 4 * WAIT_MS));
	for (uint32_t i = 0; i < n; i++)
		check_payload(&e->n[2].rx[i], i, lens[i]);
	free(buf);
	env_free(e);
}

static void idle_connections_leave_the_loop_idle(void **state)
{
	(void)state;
	struct env *e = pair();
	link_to(e, 2, 1);
	struct want_state up = {2, 1, 1, 0};
	assert_true(run_until(e, has_state, &up, WAIT_MS));
	/* A backlog that needed EPOLLOUT, then silence. */
	uint8_t *buf = calloc(1, 4u << 20);
	for (int i = 0; i < 4; i++)
		assert_int_equal(transport_send(e->n[1].t, 2, 1, buf, 4u << 20, 0), 0);
	struct want_rx w = {2, 4};
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	free(buf);
	run_for(e, 20);
	/* An fd left registered for EPOLLOUT would wake the loop thousands
	 * of times here; idle, only the deadline does. */
	unsigned long before = e->turns;
	run_for(e, 100);
	assert_true(e->turns - before <= 3);
	env_free(e);
}

/* ---- queues ---- */

static void queued_heartbeat_is_replaced_by_a_newer_one(void **state)
{
	(void)state;
	struct env *e = env_new();
	node_start(e, 2, 0);
	uint16_t port = e->n[2].port;
	node_stop(e, 2); /* nobody listens there now: frames stay queued */
	node_start(e, 1, 0);
	e->n[2].port = port;
	link_to(e, 1, 2);
	const uint64_t hb = 0x4842;
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "hb1", 3, hb), 0);
	assert_int_equal(transport_send(e->n[1].t, 2, 2, "d1", 2, 0), 0);
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "hb2", 3, hb), 0);
	assert_int_equal(transport_send(e->n[1].t, 2, 2, "d2", 2, 0), 0);
	run_for(e, 30); /* a few refused dials */
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "hb3", 3, hb), 0);
	struct transport_peer_stats st;
	assert_int_equal(transport_peer_stats(e->n[1].t, 2, &st), 0);
	assert_false(st.connected);
	assert_int_equal(st.queued_frames, 3);
	assert_int_equal(st.coalesced, 2);
	node_start(e, 2, port);
	struct want_rx w = {2, 3};
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	run_for(e, 20);
	assert_int_equal(e->n[2].n_rx, 3);
	assert_memory_equal(e->n[2].rx[0].data, "d1", 2);
	assert_memory_equal(e->n[2].rx[1].data, "d2", 2);
	assert_memory_equal(e->n[2].rx[2].data, "hb3", 3);
	env_free(e);
}

static void full_queue_refuses_with_enobufs(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[1].o.max_queue_bytes = 16 << 10;
	node_start(e, 1, 0);
	/* A listener that never accepts: the peer is down for good. */
	assert_int_equal(transport_set_peer(e->n[1].t, 2, "127.0.0.1:1"), 0);
	uint8_t buf[1000] = {0};
	int sent = 0, rv;
	while ((rv = transport_send(e->n[1].t, 2, 1, buf, sizeof(buf), 0)) == 0)
		sent++;
	assert_int_equal(rv, -ENOBUFS);
	assert_true(sent >= 10 && sent <= 16);
	struct transport_peer_stats st;
	assert_int_equal(transport_peer_stats(e->n[1].t, 2, &st), 0);
	assert_int_equal(st.queued_frames, (size_t)sent);
	assert_true(st.queued_bytes <= 16 << 10);
	assert_int_equal(st.dropped, 1);
	/* A small frame may still fit; the queue never exceeds its bound. */
	while (transport_send(e->n[1].t, 2, 1, buf, 1, 0) == 0)
		;
	assert_int_equal(transport_peer_stats(e->n[1].t, 2, &st), 0);
	assert_true(st.queued_bytes <= 16 << 10);
	env_free(e);
}

static void peer_that_stops_reading_fills_the_queue_not_memory(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[1].o.max_queue_bytes = 4u << 20;
	node_start(e, 1, 0);
	/* Accepts (the kernel does) but never reads. */
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	assert_int_equal(transport_set_peer(e->n[1].t, 2, addr), 0);
	struct want_state up = {1, 2, 1, 0};
	assert_true(run_until(e, has_state, &up, WAIT_MS));
	uint8_t *buf = calloc(1, 256 << 10);
	int rv = 0;
	for (int i = 0; i < 4000 && rv == 0; i++) {
		rv = transport_send(e->n[1].t, 2, 1, buf, 256 << 10, 0);
		run_for(e, 1);
	}
	assert_int_equal(rv, -ENOBUFS);
	struct transport_peer_stats st;
	assert_int_equal(transport_peer_stats(e->n[1].t, 2, &st), 0);
	assert_true(st.connected);
	assert_true(st.queued_bytes <= 4u << 20);
	assert_true(st.sent_frames > 0); /* the kernel buffers took some */
	free(buf);
	close(lfd);
	env_free(e);
}

/* ---- connections ---- */

static void restarted_peer_on_the_same_port_is_reconnected(void **state)
{
	(void)state;
	struct env *e = pair();
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "one", 3, 0), 0);
	struct want_rx w = {2, 1};
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	uint16_t port = e->n[2].port;
	node_stop(e, 2);
	struct want_state down = {1, 2, 1, 1};
	assert_true(run_until(e, has_state, &down, WAIT_MS));
	/* While it is down, frames wait. */
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "two", 3, 0), 0);
	run_for(e, 50);
	node_start(e, 2, port);
	struct want_state up2 = {1, 2, 2, 1};
	assert_true(run_until(e, has_state, &up2, WAIT_MS));
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "three", 5, 0), 0);
	w.n = 3;
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	assert_memory_equal(e->n[2].rx[1].data, "two", 3);
	assert_memory_equal(e->n[2].rx[2].data, "three", 5);
	assert_int_equal(e->n[1].downs[2], 1);
	assert_int_equal(log_lines(e, "n1 INFO lost connection to peer 2", NULL), 1);
	env_free(e);
}

static void node_of_another_cluster_is_refused_and_logged(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[3].o.cluster_id = CLUSTER + 1;
	node_start(e, 2, 0);
	node_start(e, 3, 0);
	link_to(e, 3, 2);
	assert_int_equal(transport_send(e->n[3].t, 2, 1, "x", 1, 0), 0);
	assert_true(
	    run_until(e, log_has, "n2 WARN refused connection from node 3 (127.0.0.1:", WAIT_MS));
	assert_true(log_has(e, "cluster id mismatch"));
	/* The dialer notices the close and backs off. */
	struct want_state down = {3, 2, 1, 1};
	assert_true(run_until(e, has_state, &down, WAIT_MS));
	assert_int_equal(e->n[2].n_rx, 0);
	env_free(e);
}

static void node_that_is_not_a_member_is_refused_and_logged(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[2].reject = 3;
	node_start(e, 2, 0);
	node_start(e, 3, 0);
	link_to(e, 3, 2);
	assert_int_equal(transport_send(e->n[3].t, 2, 1, "x", 1, 0), 0);
	assert_true(
	    run_until(e, log_has, "n2 WARN refused connection from node 3 (127.0.0.1:", WAIT_MS));
	assert_true(log_has(e, "): not a member"));
	/* It keeps retrying with backoff and keeps being refused. */
	struct want_state downs = {3, 2, 3, 3};
	assert_true(run_until(e, has_state, &downs, WAIT_MS));
	assert_int_equal(e->n[2].n_rx, 0);
	env_free(e);
}

static void hello_for_another_node_id_is_refused(void **state)
{
	(void)state;
	struct env *e = pair();
	int fd = raw_connect(e->n[2].port);
	raw_hello(fd, CLUSTER, RAW_ID, 5);
	assert_true(run_until(e, raw_closed, &fd, WAIT_MS));
	assert_true(log_has(e, "): addressed to another node id"));
	raw_hello(fd = raw_connect(e->n[2].port), CLUSTER, 2, 2); /* claims to be node 2 */
	assert_true(run_until(e, raw_closed, &fd, WAIT_MS));
	assert_true(log_has(e, "refused connection from node 2"));
	good_peer_still_served(e);
	env_free(e);
}

static void newer_connection_from_the_same_peer_replaces_the_older(void **state)
{
	(void)state;
	struct env *e = pair();
	int a = raw_connect(e->n[2].port);
	raw_hello(a, CLUSTER, RAW_ID, 2);
	assert_true(run_until(e, log_has, "accepted connection from node 7", WAIT_MS));
	int b = raw_connect(e->n[2].port);
	raw_hello(b, CLUSTER, RAW_ID, 2);
	assert_true(run_until(e, raw_closed, &a, WAIT_MS));
	assert_true(log_has(e, "node 7 reconnected from"));
	assert_false(raw_closed(e, &b));
	uint8_t frame[TW_HEADER_BYTES + 2];
	tw_header_encode(frame, 1, "hi", 2);
	memcpy(frame + TW_HEADER_BYTES, "hi", 2);
	raw_send(b, frame, sizeof(frame));
	struct want_rx w = {2, 1};
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	assert_int_equal(e->n[2].rx[0].from, RAW_ID);
	close(a);
	close(b);
	env_free(e);
}

/* ---- hostile connections ---- */

struct hostile {
	const char *name;
	/* Writes the attack on fd; returns after the last byte. */
	void (*attack)(int fd, size_t max_frame);
	const char *reason; /* expected in the log line */
};

static void http_request(int fd, size_t max)
{
	(void)max;
	const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	raw_send(fd, req, strlen(req));
}

static void bad_hello_crc(int fd, size_t max)
{
	(void)max;
	uint8_t b[TW_HELLO_BYTES];
	struct tw_hello h = {.cluster_id = CLUSTER, .from = RAW_ID, .to = 2};
	tw_hello_encode(&h, b);
	b[17] ^= 0x40;
	raw_send(fd, b, sizeof(b));
}

static void closed_mid_hello(int fd, size_t max)
{
	(void)max;
	uint8_t b[TW_HELLO_BYTES];
	struct tw_hello h = {.cluster_id = CLUSTER, .from = RAW_ID, .to = 2};
	tw_hello_encode(&h, b);
	raw_send(fd, b, 20);
	shutdown(fd, SHUT_WR);
}

static void half_a_hello(int fd, size_t max)
{
	(void)max;
	uint8_t b[TW_HELLO_BYTES];
	struct tw_hello h = {.cluster_id = CLUSTER, .from = RAW_ID, .to = 2};
	tw_hello_encode(&h, b);
	raw_send(fd, b, TW_HELLO_BYTES / 2);
}

static void truncated_frame(int fd, size_t max)
{
	(void)max;
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t payload[1000] = {1, 2, 3};
	uint8_t h[TW_HEADER_BYTES];
	tw_header_encode(h, 1, payload, sizeof(payload));
	raw_send(fd, h, sizeof(h));
	raw_send(fd, payload, 100);
	shutdown(fd, SHUT_WR);
}

static void oversized_length(int fd, size_t max)
{
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t h[TW_HEADER_BYTES] = {0};
	uint32_t len = (uint32_t)max + 1;
	memcpy(h, &len, 4); /* the test host is little-endian, as asserted in main */
	h[4] = 1;
	raw_send(fd, h, sizeof(h));
}

static void huge_length(int fd, size_t max)
{
	(void)max;
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t h[TW_HEADER_BYTES];
	memset(h, 0xff, sizeof(h));
	raw_send(fd, h, sizeof(h));
}

static void bad_frame_crc(int fd, size_t max)
{
	(void)max;
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t f[TW_HEADER_BYTES + 64];
	memset(f + TW_HEADER_BYTES, 'a', 64);
	tw_header_encode(f, 1, f + TW_HEADER_BYTES, 64);
	f[TW_HEADER_BYTES + 30] = 'b';
	raw_send(fd, f, sizeof(f));
}

static void unknown_kind(int fd, size_t max)
{
	(void)max;
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t f[TW_HEADER_BYTES + 4];
	tw_header_encode(f, 200, "abcd", 4);
	memcpy(f + TW_HEADER_BYTES, "abcd", 4);
	raw_send(fd, f, sizeof(f));
}

static void kind_zero(int fd, size_t max)
{
	(void)max;
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t f[TW_HEADER_BYTES] = {0};
	raw_send(fd, f, sizeof(f));
}

static void reserved_bytes(int fd, size_t max)
{
	(void)max;
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t f[TW_HEADER_BYTES + 4];
	tw_header_encode(f, 1, "abcd", 4);
	f[6] = 9;
	memcpy(f + TW_HEADER_BYTES, "abcd", 4);
	raw_send(fd, f, sizeof(f));
}

static void good_frame_then_garbage(int fd, size_t max)
{
	(void)max;
	raw_hello(fd, CLUSTER, RAW_ID, 2);
	uint8_t f[TW_HEADER_BYTES + 4 + 4096];
	tw_header_encode(f, 1, "good", 4);
	memcpy(f + TW_HEADER_BYTES, "good", 4);
	fill_random(f + TW_HEADER_BYTES + 4, 4096, 42);
	raw_send(fd, f, sizeof(f));
}

static const struct hostile hostiles[] = {
    {"http request", http_request, "not a cairn peer (bad magic)"},
    {"bad hello crc", bad_hello_crc, ": bad CRC"},
    {"closed mid-hello", closed_mid_hello, ": closed before its hello"},
    {"half a hello", half_a_hello, ": no hello within 300 ms"},
    {"truncated frame", truncated_frame, "truncated frame"},
    {"oversized length", oversized_length, "bytes over the limit of"},
    {"huge length", huge_length, "frame of 4294967295 bytes over the limit"},
    {"bad frame crc", bad_frame_crc, "bad frame CRC"},
    {"unknown kind", unknown_kind, "unknown frame kind 200"},
    {"kind zero", kind_zero, "unknown frame kind 0"},
    {"reserved bytes", reserved_bytes, "reserved bytes not zero"},
    {"good frame then garbage", good_frame_then_garbage, "closed connection from node 7"},
};

static void hostile_connections_are_dropped_and_good_peers_still_served(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[2].o.handshake_timeout_ms = 300;
	e->n[2].o.max_frame_bytes = 1u << 20;
	node_start(e, 1, 0);
	node_start(e, 2, 0);
	link_to(e, 1, 2);
	good_peer_still_served(e);
	for (size_t i = 0; i < sizeof(hostiles) / sizeof(hostiles[0]); i++) {
		const struct hostile *h = &hostiles[i];
		int fd = raw_connect(e->n[2].port);
		char name[TA_TEXT_MAX];
		raw_name(fd, name);
		h->attack(fd, e->n[2].o.max_frame_bytes);
		if (!run_until(e, raw_closed, &fd, WAIT_MS))
			fail_msg("%s: connection not closed", h->name);
		/* Exactly one line says why, naming the connection. */
		if (log_lines(e, name, h->reason) != 1) {
			fprintf(stderr, "%s", e->log);
			fail_msg("%s: want one line with '%s' and '%s'", h->name, name, h->reason);
		}
		assert_int_equal(log_lines(e, name, "closed connection") +
				     log_lines(e, name, "refused connection"),
				 1);
		close(fd);
		good_peer_still_served(e);
	}
	/* The one good frame of the last attack was delivered before the
	 * garbage after it closed the connection. */
	assert_true(log_has(e, "n2 INFO accepted connection from node 7"));
	env_free(e);
}

static void garbage_flood_never_starves_the_good_peer(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[2].o.handshake_timeout_ms = 500;
	node_start(e, 1, 0);
	node_start(e, 2, 0);
	link_to(e, 1, 2);
	good_peer_still_served(e);
	int fds[40];
	uint8_t junk[8192];
	for (int i = 0; i < 40; i++) {
		fds[i] = raw_connect(e->n[2].port);
		if (i % 2)
			raw_hello(fds[i], CLUSTER, RAW_ID, 2);
		fill_random(junk, sizeof(junk), (uint64_t)i + 1);
		raw_send(fds[i], junk, (size_t)(i + 1) * 200);
		if (i % 5 == 0)
			good_peer_still_served(e);
	}
	for (int i = 0; i < 40; i++) {
		if (!run_until(e, raw_closed, &fds[i], WAIT_MS))
			fail_msg("flood connection %d not closed", i);
		close(fds[i]);
	}
	good_peer_still_served(e);
	env_free(e);
}

static void connections_stuck_in_their_hello_are_capped_and_timed_out(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[2].o.handshake_timeout_ms = 400;
	node_start(e, 1, 0);
	node_start(e, 2, 0);
	link_to(e, 1, 2);
	good_peer_still_served(e);
	enum { N = 80 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = raw_connect(e->n[2].port);
	assert_true(run_until(e, log_has, "connections already waiting for their hello", WAIT_MS));
	good_peer_still_served(e);
	for (int i = 0; i < N; i++) {
		if (!run_until(e, raw_closed, &fds[i], WAIT_MS))
			fail_msg("stuck connection %d not closed", i);
		close(fds[i]);
	}
	/* The cap held: no more than 64 ever waited for their timeout. */
	int timed_out = log_lines(e, "no hello within 400 ms", NULL);
	assert_true(timed_out > 0 && timed_out <= 64);
	good_peer_still_served(e);
	env_free(e);
}

/* ---- handlers calling back in ---- */

static void handler_may_remove_the_peer_it_hears_from(void **state)
{
	(void)state;
	struct env *e = pair();
	e->n[2].remove_sender_on_frame = true;
	for (int i = 0; i < 50; i++)
		assert_int_equal(transport_send(e->n[1].t, 2, 1, "abcdefgh", 8, 0), 0);
	struct want_rx w = {2, 1};
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	assert_true(run_until(e, log_has, "closing connection from removed peer 1", WAIT_MS));
	/* Nothing more was delivered from the closed connection (and the
	 * dialer lost the rest with it). */
	run_for(e, 20);
	assert_int_equal(e->n[2].n_rx, 1);
	env_free(e);
}

static void handler_may_remove_the_peer_that_just_came_up(void **state)
{
	(void)state;
	struct env *e = env_new();
	e->n[1].remove_peer_on_up = true;
	node_start(e, 1, 0);
	node_start(e, 2, 0);
	link_to(e, 1, 2);
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "x", 1, 0), 0);
	struct want_state up = {1, 2, 1, 0};
	assert_true(run_until(e, has_state, &up, WAIT_MS));
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "x", 1, 0), -ENOTCONN);
	run_for(e, 50);
	assert_int_equal(e->n[1].downs[2], 0); /* removal reports nothing */
	env_free(e);
}

static void readdressing_a_peer_redials_and_keeps_its_queue(void **state)
{
	(void)state;
	struct env *e = env_new();
	node_start(e, 1, 0);
	node_start(e, 2, 0);
	assert_int_equal(transport_set_peer(e->n[1].t, 2, "127.0.0.1:1"), 0);
	assert_int_equal(transport_send(e->n[1].t, 2, 1, "q", 1, 0), 0);
	run_for(e, 30);
	link_to(e, 1, 2); /* the right address now */
	link_to(e, 1, 2); /* the same again changes nothing */
	struct want_rx w = {2, 1};
	assert_true(run_until(e, has_rx, &w, WAIT_MS));
	assert_int_equal(log_lines(e, "peer 2 moves from 127.0.0.1:1 to", NULL), 1);
	env_free(e);
}

/* ---- API edges ---- */

static void api_refuses_bad_arguments(void **state)
{
	(void)state;
	struct env *e = env_new();
	node_start(e, 1, 0);
	struct transport *t = e->n[1].t;
	assert_int_equal(transport_send(t, 5, 1, "x", 1, 0), -ENOTCONN);
	assert_int_equal(transport_set_peer(t, 1, "127.0.0.1:5"), -EINVAL);
	assert_int_equal(transport_set_peer(t, 0, "127.0.0.1:5"), -EINVAL);
	assert_int_equal(transport_set_peer(t, 5, "127.0.0.1"), -EINVAL);
	assert_int_equal(transport_set_peer(t, 5, "127.0.0.1:5"), 0);
	assert_int_equal(transport_send(t, 5, 0, "x", 1, 0), -EINVAL);
	assert_int_equal(transport_send(t, 5, KINDS + 1, "x", 1, 0), -EINVAL);
	assert_int_equal(transport_send(t, 5, KINDS, "x", 1, 0), 0);
	struct transport_peer_stats st;
	assert_int_equal(transport_peer_stats(t, 6, &st), -ENOTCONN);
	transport_remove_peer(t, 5);
	transport_remove_peer(t, 5);
	assert_int_equal(transport_send(t, 5, 1, "x", 1, 0), -ENOTCONN);

	/* transport_new: the port taken, bad options. */
	char addr[32], err[256];
	struct transport *t2;
	struct transport_handlers h = {.on_frame = on_frame, .arg = &e->n[3]};
	struct transport_options o = e->n[3].o;
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)e->n[1].port);
	o.listen_addr = addr;
	assert_int_equal(transport_new(e->loop, &o, &h, &t2, err), -EADDRINUSE);
	assert_non_null(strstr(err, "listen on"));
	o.listen_addr = "nonsense";
	assert_int_equal(transport_new(e->loop, &o, &h, &t2, err), -EINVAL);
	o.listen_addr = "127.0.0.1:0";
	o.max_kind = 0;
	assert_int_equal(transport_new(e->loop, &o, &h, &t2, err), -EINVAL);
	o.max_kind = 1;
	o.self_id = 0;
	assert_int_equal(transport_new(e->loop, &o, &h, &t2, err), -EINVAL);
	o.self_id = 3;
	h.on_frame = NULL;
	assert_int_equal(transport_new(e->loop, &o, &h, &t2, err), -EINVAL);
	transport_free(NULL);
	env_free(e);
}

int main(void)
{
	uint32_t one = 1;
	if (*(uint8_t *)&one != 1) {
		fprintf(stderr, "test_transport assumes a little-endian host\n");
		return 1;
	}
	alarm(120); /* a hang fails the run instead of stalling CI */
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(frames_arrive_in_order_with_the_senders_id),
	    cmocka_unit_test(large_frames_cross_many_partial_writes),
	    cmocka_unit_test(idle_connections_leave_the_loop_idle),
	    cmocka_unit_test(queued_heartbeat_is_replaced_by_a_newer_one),
	    cmocka_unit_test(full_queue_refuses_with_enobufs),
	    cmocka_unit_test(peer_that_stops_reading_fills_the_queue_not_memory),
	    cmocka_unit_test(restarted_peer_on_the_same_port_is_reconnected),
	    cmocka_unit_test(node_of_another_cluster_is_refused_and_logged),
	    cmocka_unit_test(node_that_is_not_a_member_is_refused_and_logged),
	    cmocka_unit_test(hello_for_another_node_id_is_refused),
	    cmocka_unit_test(newer_connection_from_the_same_peer_replaces_the_older),
	    cmocka_unit_test(hostile_connections_are_dropped_and_good_peers_still_served),
	    cmocka_unit_test(garbage_flood_never_starves_the_good_peer),
	    cmocka_unit_test(connections_stuck_in_their_hello_are_capped_and_timed_out),
	    cmocka_unit_test(handler_may_remove_the_peer_it_hears_from),
	    cmocka_unit_test(handler_may_remove_the_peer_that_just_came_up),
	    cmocka_unit_test(readdressing_a_peer_redials_and_keeps_its_queue),
	    cmocka_unit_test(api_refuses_bad_arguments),
	};
	return cmocka_run_group_tests_name("transport", tests, NULL, NULL);
}
