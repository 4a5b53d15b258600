/*
 * transport_addr: "host:port" strings to socket addresses and back, for the
 * transport's listener, its peers and its log lines.
 *
 * Accepted forms: "1.2.3.4:7701", "[::1]:7701", "name:7701", ":7701" (any
 * address, for listening). The port is decimal 0..65535.
 */
#ifndef CAIRN_SERVER_TRANSPORT_ADDR_H
#define CAIRN_SERVER_TRANSPORT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct ta_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Text form of an address, "1.2.3.4:5" or "[::1]:5", always terminated. */
#define TA_TEXT_MAX 64

/* Parses and resolves s. passive: for bind (empty host = any address).
 * A numeric host never blocks; a name goes through getaddrinfo and may.
 * Returns 0, -EINVAL (malformed) or -ENOENT (does not resolve), with a
 * reason in errmsg (256 bytes). */
int ta_parse(const char *s, bool passive, struct ta_addr *out, char *errmsg);

/* Writes the text form of sa into buf (TA_TEXT_MAX bytes). */
void ta_format(const struct sockaddr *sa, socklen_t len, char *buf);

#endif
