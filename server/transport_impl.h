/*
 * transport_impl: the transport's internal state, shared by transport.c
 * (lifecycle, peers, timer), transport_out.c (dialling and writing) and
 * transport_in.c (accepting and reading). Not for use outside server/.
 *
 * Invariants:
 * - A peer's fd is >= 0 exactly in TP_CONNECTING and TP_CONNECTED, and is
 *   then registered with the loop; in TP_BACKOFF it is -1 and the peer has
 *   a dial deadline.
 * - EPOLLOUT is registered for a connected peer only while it has bytes to
 *   write (out_armed mirrors what the loop has).
 * - An inbound connection reads a fixed-size hello into `hello` and owns no
 *   buffer until the hello passed; afterwards buf is at most
 *   TW_HEADER_BYTES + max_frame_bytes long. At most one connection per
 *   peer id is past its hello: a newer one closes the older.
 * - Handlers run with depth > 0. Anything closed then is unlinked and marked
 *   dead at once but freed only when depth returns to 0, so a handler's
 *   caller can still read `dead` (and a borrowed payload stays valid) after
 *   the handler removed the object under it.
 */
#ifndef CAIRN_SERVER_TRANSPORT_IMPL_H
#define CAIRN_SERVER_TRANSPORT_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "transport.h"
#include "transport_addr.h"
#include "transport_queue.h"
#include "transport_wire.h"

/* Connections still in their hello, at most; more are closed at accept. */
#define TRANSPORT_MAX_HELLO_CONNS 64
/* An accepted connection's read buffer between large frames. */
#define TRANSPORT_READ_BUF_BYTES ((size_t)64 << 10)

enum tpeer_state { TP_BACKOFF, TP_CONNECTING, TP_CONNECTED };

struct tpeer {
	struct tpeer *next; /* t->peers, or t->dead_peers once removed */
	struct transport *t;
	uint64_t id;
	char *addr; /* as configured (owned) */
	struct ta_addr sa;
	enum tpeer_state state;
	int fd;
	bool out_armed;
	bool dead;
	uint8_t hello[TW_HELLO_BYTES];
	size_t hello_off; /* bytes of the hello written; TW_HELLO_BYTES when done */
	struct tq q;
	uint32_t attempts;     /* failed dials since the last lasting connection */
	uint64_t deadline;     /* TP_BACKOFF: dial then; TP_CONNECTING: give up then */
	uint64_t up_since;     /* TP_CONNECTED: when */
	bool flapping;         /* its last connection died young: log quietly */
	bool told_unreachable; /* a failed dial was logged at INFO since the last connect */
};

enum tconn_state { TC_HELLO, TC_FRAMES };

struct tconn {
	struct tconn *next; /* t->conns, or t->dead_conns once closed */
	struct transport *t;
	int fd;
	enum tconn_state state;
	bool dead;
	char remote[TA_TEXT_MAX];
	uint64_t from;     /* TC_FRAMES: the peer's id */
	uint64_t deadline; /* TC_HELLO: close then */
	uint8_t hello[TW_HELLO_BYTES];
	size_t hello_len;
	uint8_t *buf; /* TC_FRAMES: received bytes, a partial frame at most at the end */
	size_t cap, len;
};

struct transport {
	struct loop *loop;
	struct transport_options o; /* defaults filled in; listen_addr NULL */
	struct transport_handlers h;
	int lfd; /* listener */
	uint16_t port;
	uint64_t listen_resume; /* accept paused (fd exhaustion) until then; 0 = not */
	int tfd;                /* timerfd for every deadline below */
	uint64_t armed;         /* deadline the timerfd holds; 0 = none */
	struct tpeer *peers;
	struct tconn *conns;
	size_t n_hello; /* conns in TC_HELLO */
	struct tpeer *dead_peers;
	struct tconn *dead_conns;
	int depth;                 /* transport frames on the stack */
	uint64_t last_refusal_log; /* rate limit for "too many connections" */
};

/* transport.c */
void t_log(struct transport *t, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Brackets every entry point. t_leave at the outermost level frees what
 * was closed meanwhile and re-arms the timer for the earliest deadline. */
void t_enter(struct transport *t);
void t_leave(struct transport *t);
uint64_t t_now(void);

/* transport_out.c */
void tout_init(struct transport *t, struct tpeer *p); /* the peer's hello */
void tout_dial(struct transport *t, struct tpeer *p);
/* Closes the outbound connection, if any, without calling a handler;
 * a partly written frame is dropped. Leaves the peer in TP_BACKOFF with
 * no deadline set (the caller sets one or frees the peer). */
void tout_close(struct transport *t, struct tpeer *p);
/* Writes what the socket takes now. Never calls a handler: a broken
 * connection is left for the loop to report (it shows as writable). */
void tout_flush(struct transport *t, struct tpeer *p);
/* The peer's deadline passed: dial, or give up a connect that hangs. */
void tout_deadline(struct transport *t, struct tpeer *p);

/* transport_in.c */
int tin_listen(struct transport *t, const char *addr, char *errmsg);
void tin_close_listener(struct transport *t);
/* Closes conn c (log line already written by the caller, if any). */
void tin_close(struct transport *t, struct tconn *c);
void tin_close_from(struct transport *t, uint64_t id);
/* Deadlines of conns in their hello, and of a paused listener. */
void tin_deadlines(struct transport *t, uint64_t now);
uint64_t tin_next_deadline(const struct transport *t);
void tin_free(struct tconn *c);

#endif
