/*
 * transport_addr: see transport_addr.h.
 */
#include "transport_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_MAX 256

/* Splits s into host (brackets removed) and port. */
static int split(const char *s, char *host, unsigned *port, char *errmsg)
{
	const char *colon = strrchr(s, ':');
	if (!colon) {
		snprintf(errmsg, 256, "address '%s' has no ':port'", s);
		return -EINVAL;
	}
	const char *h = s;
	size_t hlen = (size_t)(colon - s);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	} else if (memchr(h, ':', hlen)) {
		snprintf(errmsg, 256, "address '%s': write an IPv6 host as [host]:port", s);
		return -EINVAL;
	}
	if (hlen >= HOST_MAX) {
		snprintf(errmsg, 256, "address '%s': host name too long", s);
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	const char *p = colon + 1;
	char *end;
	errno = 0;
	unsigned long v = strtoul(p, &end, 10);
	if (*p < '0' || *p > '9' || *end != '\0' || errno || v > 65535) {
		snprintf(errmsg, 256, "address '%s': bad port", s);
		return -EINVAL;
	}
	*port = (unsigned)v;
	return 0;
}

int ta_parse(const char *s, bool passive, struct ta_addr *out, char *errmsg)
{
	char host[HOST_MAX];
	unsigned port;
	int rv = split(s, host, &port, errmsg);
	if (rv != 0)
		return rv;
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
	if (host[0] == '\0') {
		if (!passive) {
			snprintf(errmsg, 256, "address '%s' has no host", s);
			return -EINVAL;
		}
		v4->sin_family = AF_INET;
		v4->sin_addr.s_addr = htonl(INADDR_ANY);
		v4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		out->len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*v6);
		return 0;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, NULL, &hints, &res);
	if (gai != 0 || !res) {
		snprintf(errmsg, 256, "address '%s': %s", s,
			 gai != 0 ? gai_strerror(gai) : "no address");
		return -ENOENT;
	}
	if (res->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		snprintf(errmsg, 256, "address '%s': unsupported family", s);
		return -ENOENT;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	if (out->ss.ss_family == AF_INET)
		v4->sin_port = htons((uint16_t)port);
	else if (out->ss.ss_family == AF_INET6)
		v6->sin6_port = htons((uint16_t)port);
	else {
		snprintf(errmsg, 256, "address '%s': unsupported family", s);
		return -ENOENT;
	}
	return 0;
}

void ta_format(const struct sockaddr *sa, socklen_t len, char *buf)
{
	char ip[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
		snprintf(buf, TA_TEXT_MAX, "%s:%u", ip, (unsigned)ntohs(v4->sin_port));
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, TA_TEXT_MAX, "[%s]:%u", ip, (unsigned)ntohs(v6->sin6_port));
	} else {
		snprintf(buf, TA_TEXT_MAX, "(unknown address)");
	}
}
