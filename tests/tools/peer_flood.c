/*
 * peer_flood: plays a hostile peer against a cairn node's peer port, for
 * the node's process-level test ("floods the peer port with garbage and
 * truncated frames: it logs and drops the connection, and keeps serving").
 *
 *   peer_flood HOST:PORT [--cluster N] [--from N] [--to N] [--rounds N]
 *              [--seed N] [--mode MODE]
 *
 * Each round opens one connection and plays one attack, chosen by --mode or,
 * with --mode mix (the default), in turn from the list below. Attacks that
 * get past the hello need the right --cluster, --to and a --from the node
 * accepts. Exit status 0 when the node closed every attacked connection
 * within 10 s (it dropped them, as it should), 1 if one stayed open, 2 on a
 * usage or connect error. One line per round on stdout.
 *
 * Modes: garbage (random bytes, no hello), halfhello (half a hello, then
 * silence until closed), badhello (hello with a bad CRC), truncated (hello,
 * a frame header and half its payload, then EOF), oversize (hello, a
 * header with a length of 4 GiB - 1), badcrc (hello, a frame with a wrong
 * CRC), badkind (hello, a frame of kind 255), postgarbage (hello, then
 * random bytes).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_addr.h"
#include "transport_wire.h"

struct opts {
	struct ta_addr addr;
	uint64_t cluster, from, to, seed;
	long rounds;
	const char *mode;
};

static const char *const modes[] = {"garbage",  "halfhello", "badhello", "truncated",
				    "oversize", "badcrc",    "badkind",  "postgarbage"};
#define N_MODES (sizeof(modes) / sizeof(modes[0]))

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void put(int fd, const void *buf, size_t len)
{
	/* The node may close at any byte: a failed send is part of the game. */
	ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
	(void)w;
}

static void hello(int fd, const struct opts *o, bool corrupt)
{
	uint8_t b[TW_HELLO_BYTES];
	struct tw_hello h = {.cluster_id = o->cluster, .from = o->from, .to = o->to};
	tw_hello_encode(&h, b);
	if (corrupt)
		b[20] ^= 0x5a;
	put(fd, b, sizeof(b));
}

static void attack(int fd, const char *mode, const struct opts *o, uint64_t *rng)
{
	uint8_t buf[4096];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)next_rand(rng);
	uint8_t h[TW_HEADER_BYTES];
	if (strcmp(mode, "garbage") == 0) {
		put(fd, buf, sizeof(buf));
	} else if (strcmp(mode, "halfhello") == 0) {
		uint8_t b[TW_HELLO_BYTES];
		struct tw_hello hh = {.cluster_id = o->cluster, .from = o->from, .to = o->to};
		tw_hello_encode(&hh, b);
		put(fd, b, TW_HELLO_BYTES / 2);
	} else if (strcmp(mode, "badhello") == 0) {
		hello(fd, o, true);
	} else if (strcmp(mode, "truncated") == 0) {
		hello(fd, o, false);
		tw_header_encode(h, 1, buf, 2048);
		put(fd, h, sizeof(h));
		put(fd, buf, 1024);
		shutdown(fd, SHUT_WR);
	} else if (strcmp(mode, "oversize") == 0) {
		hello(fd, o, false);
		memset(h, 0, sizeof(h));
		memset(h, 0xff, 4);
		h[4] = 1;
		put(fd, h, sizeof(h));
	} else if (strcmp(mode, "badcrc") == 0) {
		hello(fd, o, false);
		tw_header_encode(h, 1, buf, 512);
		buf[100] ^= 1;
		put(fd, h, sizeof(h));
		put(fd, buf, 512);
	} else if (strcmp(mode, "badkind") == 0) {
		hello(fd, o, false);
		tw_header_encode(h, 255, buf, 16);
		put(fd, h, sizeof(h));
		put(fd, buf, 16);
	} else {
		hello(fd, o, false);
		put(fd, buf, sizeof(buf));
	}
}

/* Waits up to ms for the node to close fd: EOF or reset. */
static bool closed_within(int fd, int ms)
{
	char sink[4096];
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, ms);
		if (n <= 0)
			return false;
		ssize_t r = recv(fd, sink, sizeof(sink), 0);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: peer_flood HOST:PORT [--cluster N] [--from N] [--to N] "
			"[--rounds N] [--seed N] [--mode mix|garbage|halfhello|badhello|"
			"truncated|oversize|badcrc|badkind|postgarbage]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct opts o = {
	    .cluster = 0, .from = 99, .to = 1, .seed = 1, .rounds = 100, .mode = "mix"};
	char err[256];
	if (argc < 2 || ta_parse(argv[1], false, &o.addr, err) != 0)
		return argc < 2 ? usage() : (fprintf(stderr, "peer_flood: %s\n", err), 2);
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		const char *k = argv[i], *v = argv[++i];
		if (strcmp(k, "--cluster") == 0)
			o.cluster = strtoull(v, NULL, 0);
		else if (strcmp(k, "--from") == 0)
			o.from = strtoull(v, NULL, 0);
		else if (strcmp(k, "--to") == 0)
			o.to = strtoull(v, NULL, 0);
		else if (strcmp(k, "--rounds") == 0)
			o.rounds = strtol(v, NULL, 0);
		else if (strcmp(k, "--seed") == 0)
			o.seed = strtoull(v, NULL, 0);
		else if (strcmp(k, "--mode") == 0)
			o.mode = v;
		else
			return usage();
	}
	uint64_t rng = o.seed | 1;
	int still_open = 0;
	for (long r = 0; r < o.rounds; r++) {
		const char *mode = strcmp(o.mode, "mix") == 0 ? modes[(size_t)r % N_MODES] : o.mode;
		int fd = socket(o.addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&o.addr.ss, o.addr.len) != 0) {
			fprintf(stderr, "peer_flood: connect %s: %s\n", argv[1], strerror(errno));
			return 2;
		}
		attack(fd, mode, &o, &rng);
		bool closed = closed_within(fd, 10000);
		printf("round %ld %s: %s\n", r, mode, closed ? "dropped" : "STILL OPEN");
		still_open += !closed;
		close(fd);
	}
	return still_open ? 1 : 0;
}
