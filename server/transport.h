/*
 * transport: the TCP links between cairn nodes. Carries opaque payloads of a
 * few kinds (the node's Raft frames, forwarded requests and their answers)
 * and knows nothing of what they mean.
 *
 * Shape (docs/WIRE.md, "Transport framing", has the bytes):
 * - Connections are one-way. A node dials every configured peer and only
 *   writes on that outbound connection; it only reads on the connections it
 *   accepted. The dialer opens with a hello (cluster id, its id, the id it
 *   means to reach); the acceptor checks it and closes the connection,
 *   with a log line, on any mismatch. There is no answer to a hello.
 * - After the hello, a stream of frames: length, kind, CRC32C. A frame
 *   over the size limit, a bad CRC, an unknown kind or any other garbage
 *   closes that one connection with one log line; nothing a peer sends can
 *   crash the node, hang the loop or make it allocate more than
 *   max_frame_bytes per accepted connection (plus a fixed cap on connections
 *   still in their hello).
 * - Each peer has a bounded send queue. It survives disconnects: frames
 *   queued while a peer is down go out, after a new hello, once it is back.
 *   A frame that was half written when a connection broke is dropped (Raft
 *   tolerates loss). Reconnects back off exponentially with jitter.
 *
 * Threading: everything here runs on the loop thread; the transport has no
 * threads and registers its fds (listener, sockets, one timerfd) with the
 * loop. It never uses the loop's own timer, wake or turn-end callbacks.
 *
 * Callbacks: handlers run only from the loop's fd callbacks, never from
 * inside transport_send, transport_set_peer or transport_remove_peer. A
 * handler may call transport_send, transport_set_peer and
 * transport_remove_peer (for any peer, including the one it is told about);
 * it must not call transport_free. The log function must not call into the
 * transport at all.
 */
#ifndef CAIRN_SERVER_TRANSPORT_H
#define CAIRN_SERVER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raftcore.h" /* RC_FRAME_MAX_BYTES */

struct loop;
struct transport;

/* Defaults for the zero values of struct transport_options. The frame
 * limit leaves room around the largest raftcore frame for the node's own
 * framing of forwarded requests. */
#define TRANSPORT_DEFAULT_MAX_FRAME_BYTES ((size_t)RC_FRAME_MAX_BYTES + (64u << 10))
#define TRANSPORT_DEFAULT_MAX_QUEUE_BYTES ((size_t)64 << 20)
#define TRANSPORT_DEFAULT_HANDSHAKE_TIMEOUT_MS 5000u
#define TRANSPORT_DEFAULT_BACKOFF_MIN_MS 50u
#define TRANSPORT_DEFAULT_BACKOFF_MAX_MS 2000u

/* The log function's level is an enum log_level of log.h (LOG_DEBUG ..
 * LOG_ERROR); msg is borrowed for the call and has no newline. */
struct transport_options {
	uint64_t self_id;    /* non-zero */
	uint64_t cluster_id; /* must match in every hello */
	/* "host:port" or "[v6]:port" to listen on; port 0 picks a free one
	 * (transport_port tells which). Copied; may be freed after
	 * transport_new. */
	const char *listen_addr;
	/* Frames of kind 1..max_kind are delivered; 0 and larger kinds close
	 * the connection. Must be at least 1. */
	uint8_t max_kind;
	size_t max_frame_bytes;        /* payload limit; 0 = default */
	size_t max_queue_bytes;        /* per peer, frames + bookkeeping; 0 = default */
	uint32_t handshake_timeout_ms; /* hello and outbound connect; 0 = default */
	uint32_t backoff_min_ms;       /* 0 = default */
	uint32_t backoff_max_ms;       /* 0 = default */
	void (*log)(void *arg, int level, const char *msg); /* may be NULL */
	void *log_arg;
};

struct transport_handlers {
	/* A whole, CRC-checked frame from peer `from`. The payload is
	 * borrowed for the duration of the call. */
	void (*on_frame)(void *arg, uint64_t from, uint8_t kind, const uint8_t *payload,
			 size_t len);
	/* Asked once per accepted connection, after its hello passed every
	 * other check: is `from` a node this one talks to? NULL accepts all. */
	bool (*accept_peer)(void *arg, uint64_t from);
	/* The outbound connection to `peer` was established (true) or lost
	 * (false). Only transitions are reported: a false always follows a
	 * true. Not called by transport_remove_peer or transport_free. May be
	 * NULL. */
	void (*on_peer_state)(void *arg, uint64_t peer, bool connected);
	void *arg;
};

/* Creates a transport bound to opts->listen_addr on loop l (borrowed: it
 * must outlive the transport). opts and handlers are copied. On success
 * returns 0 and *out is owned by the caller (transport_free). On failure
 * returns -errno (-EINVAL for bad options or address, -EADDRINUSE, ...)
 * with the reason in errmsg (256 bytes). */
int transport_new(struct loop *l, const struct transport_options *opts,
		  const struct transport_handlers *handlers, struct transport **out, char *errmsg);

/* Closes every connection and frees everything, queued frames included.
 * No handler is called. NULL is a no-op. */
void transport_free(struct transport *t);

/* The port the listener is bound to. */
uint16_t transport_port(const struct transport *t);

/* Adds peer `id` at addr ("host:port"; copied) or changes its address. A new
 * peer, or a changed address, is dialled at once (the old connection is
 * closed, queued frames are kept). The same address again changes nothing.
 * A host name is resolved here, once, and may block; a numeric address
 * never does. Returns 0, -EINVAL (id 0, own id, unparsable address),
 * -ENOENT (name does not resolve) or -ENOMEM. */
int transport_set_peer(struct transport *t, uint64_t id, const char *addr);

/* Forgets peer `id`: closes its outbound connection, drops its queue, and
 * closes any connection accepted from it. Unknown ids are a no-op. */
void transport_remove_peer(struct transport *t, uint64_t id);

/* Queues a copy of payload (len bytes; borrowed for the call) for peer
 * `to`, and writes it at once when nothing is ahead of it. If coalesce_key
 * is non-zero, a frame to the same peer with the same key that is still
 * queued and not yet partly written is removed, and this one goes to the
 * tail (a newer heartbeat replaces an older one; order stays FIFO).
 * Returns 0; -ENOBUFS when the queue has no room (the frame is dropped,
 * the older ones stay); -EMSGSIZE when len is over max_frame_bytes; -EINVAL
 * for a kind outside 1..max_kind; -ENOTCONN when `to` is not a configured
 * peer; -ENOMEM. A frame queued while the peer is down waits for it. */
int transport_send(struct transport *t, uint64_t to, uint8_t kind, const void *payload, size_t len,
		   uint64_t coalesce_key);

struct transport_peer_stats {
	bool connected;       /* outbound connection established */
	size_t queued_frames; /* waiting, including a partly written one */
	size_t queued_bytes;  /* what max_queue_bytes bounds */
	uint64_t sent_frames; /* fully written to the socket */
	uint64_t dropped;     /* refused with -ENOBUFS/-ENOMEM, or lost half-written */
	uint64_t coalesced;   /* replaced by a newer frame with the same key */
};

/* Fills *st for peer id; returns 0 or -ENOTCONN for an unknown peer. */
int transport_peer_stats(const struct transport *t, uint64_t id, struct transport_peer_stats *st);

#endif
