/*
 * Settings for cairnd: the table, the command line, the config file.
 *
 * Config file syntax (postgresql.conf style): one `name = value` per line,
 * `#` starts a comment, blank lines ignored, values may be single-quoted.
 * A setting named twice keeps the last value. Unknown names, bad values and
 * malformed lines are refused with the file and line number.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_STR, K_U64, K_MS, K_BYTES, K_BOOL, K_MEMBERS };

struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	size_t size; /* for strings */
	const char *def;
	const char *help;
};

#define STR(field) K_STR, offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define NUM(kind, field) kind, offsetof(struct config, field), 0

static const struct setting settings[] = {
    {"id", NUM(K_U64, id), "1", "this node's id (1..2^63), unique in the cluster"},
    {"api", STR(api), "127.0.0.1:7700", "HTTP API address host:port"},
    {"peer", STR(peer), "127.0.0.1:7701", "peer (Raft) address host:port"},
    {"data", STR(data), "./cairn-data", "data directory"},
    {"members", K_MEMBERS, offsetof(struct config, members_text),
     sizeof(((struct config *)0)->members_text), "",
     "initial cluster, ID=HOST:PORT,... (peer addresses); empty: a single-node cluster of this "
     "node"},
    {"log-level", STR(log_level), "info", "debug, info, warn or error"},
    {"election-timeout", NUM(K_MS, election_timeout_ms), "1s",
     "base election timeout (drawn in [T, 2T))"},
    {"heartbeat", NUM(K_MS, heartbeat_ms), "100ms", "leader heartbeat interval"},
    {"request-timeout", NUM(K_MS, request_timeout_ms), "5s",
     "how long a write may wait to commit (then 504)"},
    {"max-value", NUM(K_BYTES, max_value), "1MiB", "largest value accepted (then 413)"},
    {"snapshot-entries", NUM(K_U64, snapshot_entries), "10000",
     "take a snapshot every this many applied entries"},
    {"max-connections", NUM(K_U64, max_connections), "16384", "most simultaneous HTTP connections"},
    {"segment-size", NUM(K_BYTES, segment_bytes), "64MiB", "log segment size"},
    {"config", STR(config_file), "", "read settings from this file first"},
    {"help", NUM(K_BOOL, help), "false", "print this help and exit"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find(const char *name, size_t len)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strlen(settings[i].name) == len && memcmp(settings[i].name, name, len) == 0)
			return &settings[i];
	return NULL;
}

static int parse_u64(const char *s, uint64_t *out)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

struct unit {
	const char *suffix;
	uint64_t scale;
};

/* A decimal number followed by one of the units; the product must fit. */
static int parse_scaled(const char *s, const struct unit *units, size_t n_units, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	for (size_t i = 0; i < n_units; i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].scale)
			return -1;
		*out = v * units[i].scale;
		return 0;
	}
	return -1;
}

/* "500ms", "10s", "5m", "1h" -> milliseconds. */
static int parse_ms(const char *s, uint64_t *out)
{
	static const struct unit units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	return parse_scaled(s, units, 4, out);
}

/* "1048576", "64KiB", "1MiB", "1GiB" -> bytes. */
static int parse_bytes(const char *s, uint64_t *out)
{
	static const struct unit units[] = {
	    {"", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024}};
	return parse_scaled(s, units, 4, out);
}

/* "host:port" with a non-empty host (an IPv6 literal in brackets is fine)
 * and a port of 1..65535 written in digits only. */
static bool valid_address(const char *a)
{
	const char *colon = strrchr(a, ':');
	if (!colon || colon == a || colon[1] == 0 || strlen(colon + 1) > 5)
		return false;
	for (const char *p = colon + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	long port = strtol(colon + 1, NULL, 10);
	return port >= 1 && port <= 65535;
}

static int parse_members(struct config *c, const char *s, char *err)
{
	c->n_members = 0;
	const char *p = s;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (!eq || c->n_members == CONFIG_MAX_MEMBERS) {
			snprintf(err, 256,
				 "members: expected ID=HOST:PORT,... (at most %d), got '%.*s'",
				 CONFIG_MAX_MEMBERS, (int)len, p);
			return -1;
		}
		char idbuf[32];
		size_t idlen = (size_t)(eq - p);
		size_t addrlen = len - idlen - 1;
		struct config_member *m = &c->members[c->n_members];
		if (idlen == 0 || idlen >= sizeof(idbuf) || addrlen == 0 ||
		    addrlen >= CONFIG_ADDR_MAX) {
			snprintf(err, 256, "members: bad entry '%.*s'", (int)len, p);
			return -1;
		}
		memcpy(idbuf, p, idlen);
		idbuf[idlen] = 0;
		if (parse_u64(idbuf, &m->id) != 0 || m->id == 0 || m->id > INT64_MAX) {
			snprintf(err, 256, "members: bad id '%s'", idbuf);
			return -1;
		}
		memcpy(m->peer, eq + 1, addrlen);
		m->peer[addrlen] = 0;
		if (!valid_address(m->peer)) {
			snprintf(err, 256,
				 "members: bad address '%s' for id %s (expected HOST:PORT)",
				 m->peer, idbuf);
			return -1;
		}
		for (size_t i = 0; i < c->n_members; i++)
			if (c->members[i].id == m->id) {
				snprintf(err, 256, "members: id %" PRIu64 " listed twice", m->id);
				return -1;
			}
		c->n_members++;
		p += len + (comma ? 1 : 0);
	}
	return 0;
}

static int set_value(struct config *c, const struct setting *st, const char *v, char *err)
{
	char *base = (char *)c;
	switch (st->kind) {
	case K_STR:
	case K_MEMBERS:
		if (strlen(v) >= st->size) {
			snprintf(err, 256, "%s: value too long", st->name);
			return -1;
		}
		memcpy(base + st->offset, v, strlen(v) + 1);
		return 0;
	case K_U64:
		if (parse_u64(v, (uint64_t *)(void *)(base + st->offset)) == 0)
			return 0;
		snprintf(err, 256, "%s: expected a non-negative integer, got '%s'", st->name, v);
		return -1;
	case K_MS:
		if (parse_ms(v, (uint64_t *)(void *)(base + st->offset)) == 0)
			return 0;
		snprintf(err, 256, "%s: expected a duration like 500ms, 10s, 5m or 1h, got '%s'",
			 st->name, v);
		return -1;
	case K_BYTES:
		if (parse_bytes(v, (uint64_t *)(void *)(base + st->offset)) == 0)
			return 0;
		snprintf(err, 256, "%s: expected a size like 1048576, 64KiB, 1MiB, got '%s'",
			 st->name, v);
		return -1;
	case K_BOOL:
		if (strcmp(v, "true") == 0 || strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
			*(bool *)(base + st->offset) = true;
		else if (strcmp(v, "false") == 0 || strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
			*(bool *)(base + st->offset) = false;
		else {
			snprintf(err, 256, "%s: expected true or false, got '%s'", st->name, v);
			return -1;
		}
		return 0;
	}
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* Cuts the line at a '#' that is not inside single quotes. */
static void strip_comment(char *line)
{
	bool quoted = false;
	for (char *p = line; *p; p++) {
		if (*p == '\'')
			quoted = !quoted;
		else if (*p == '#' && !quoted) {
			*p = 0;
			return;
		}
	}
}

static int load_file(struct config *c, const char *path, char *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, 256, "config %.200s: %s", path, strerror(errno));
		return -1;
	}
	char line[4096];
	int lineno = 0, rv = 0;
	while (rv == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, 256, "%.200s:%d: line too long", path, lineno);
			rv = -1;
			break;
		}
		strip_comment(line);
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, 256, "%.200s:%d: expected name = value", path, lineno);
			rv = -1;
			break;
		}
		*eq = 0;
		char *name = trim(s), *val = trim(eq + 1);
		if (val[0] == '\'') {
			size_t vl = strlen(val);
			if (vl < 2 || val[vl - 1] != '\'' || memchr(val + 1, '\'', vl - 2)) {
				snprintf(err, 256, "%.200s:%d: badly quoted value", path, lineno);
				rv = -1;
				break;
			}
			val[vl - 1] = 0;
			val++;
		}
		const struct setting *st = find(name, strlen(name));
		if (!st || strcmp(st->name, "config") == 0) {
			snprintf(err, 256, "%.150s:%d: unknown setting '%.60s'", path, lineno,
				 name);
			rv = -1;
			break;
		}
		char e2[256];
		if (set_value(c, st, val, e2) != 0) {
			snprintf(err, 256, "%.100s:%d: %.140s", path, lineno, e2);
			rv = -1;
		}
	}
	fclose(f);
	return rv;
}

static int set_defaults(struct config *c, char *err)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (set_value(c, &settings[i], settings[i].def, err) != 0)
			return -1;
	return 0;
}

/* Splits "--name=value" / "--name value" into (setting, value). */
static int next_flag(int argc, char **argv, int *i, const struct setting **st, const char **val,
		     char *err)
{
	const char *a = argv[*i];
	if (strncmp(a, "--", 2) != 0) {
		snprintf(err, 256, "unexpected argument '%s' (settings are --name=value)", a);
		return -1;
	}
	a += 2;
	const char *eq = strchr(a, '=');
	size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
	*st = find(a, nlen);
	if (!*st) {
		snprintf(err, 256, "unknown setting '--%.*s' (see --help)", (int)nlen, a);
		return -1;
	}
	if (eq)
		*val = eq + 1;
	else if ((*st)->kind == K_BOOL)
		*val = "true";
	else if (*i + 1 < argc)
		*val = argv[++*i];
	else {
		snprintf(err, 256, "--%s needs a value", (*st)->name);
		return -1;
	}
	return 0;
}

static int validate(struct config *c, char *err)
{
	if (!valid_address(c->api)) {
		snprintf(err, 256, "api: expected HOST:PORT with a port of 1..65535, got '%s'",
			 c->api);
		return -1;
	}
	if (!valid_address(c->peer)) {
		snprintf(err, 256, "peer: expected HOST:PORT with a port of 1..65535, got '%s'",
			 c->peer);
		return -1;
	}
	if (c->id == 0 || c->id > INT64_MAX) {
		snprintf(err, 256, "id: must be between 1 and 2^63-1");
		return -1;
	}
	if (c->heartbeat_ms == 0 || c->heartbeat_ms * 2 > c->election_timeout_ms) {
		snprintf(err, 256,
			 "heartbeat (%" PRIu64
			 "ms) must be at most half the election timeout (%" PRIu64 "ms)",
			 c->heartbeat_ms, c->election_timeout_ms);
		return -1;
	}
	if (c->election_timeout_ms > 60000 || c->request_timeout_ms == 0) {
		snprintf(err, 256, "election-timeout must be at most 1m, request-timeout above 0");
		return -1;
	}
	if (c->max_value == 0 || c->max_value > (4u << 20)) {
		snprintf(err, 256, "max-value must be between 1 and 4MiB (the request body limit)");
		return -1;
	}
	if (c->segment_bytes < (1u << 20) || c->segment_bytes > (1ull << 30)) {
		snprintf(err, 256, "segment-size must be between 1MiB and 1GiB");
		return -1;
	}
	if (c->max_connections == 0 || c->max_connections > 1000000) {
		snprintf(err, 256, "max-connections must be between 1 and 1000000");
		return -1;
	}
	const char *levels[] = {"debug", "info", "warn", "error"};
	bool ok = false;
	for (size_t i = 0; i < 4; i++)
		ok |= strcmp(c->log_level, levels[i]) == 0;
	if (!ok) {
		snprintf(err, 256, "log-level: expected debug, info, warn or error");
		return -1;
	}
	if (parse_members(c, c->members_text, err) != 0)
		return -1;
	if (c->n_members == 0) {
		c->members[0].id = c->id;
		snprintf(c->members[0].peer, CONFIG_ADDR_MAX, "%s", c->peer);
		c->n_members = 1;
	}
	for (size_t i = 0; i < c->n_members; i++)
		if (c->members[i].id == c->id)
			return 0;
	snprintf(err, 256, "members: this node's id %" PRIu64 " is not in the list", c->id);
	return -1;
}

int config_load(struct config *c, int argc, char **argv, char *err)
{
	if (set_defaults(c, err) != 0)
		return -1;
	/* The file first, wherever --config appears, so flags override it. */
	for (int i = 1; i < argc; i++) {
		const struct setting *st;
		const char *val;
		if (next_flag(argc, argv, &i, &st, &val, err) != 0)
			return -1;
		if (strcmp(st->name, "config") == 0 && load_file(c, val, err) != 0)
			return -1;
	}
	for (int i = 1; i < argc; i++) {
		const struct setting *st;
		const char *val;
		next_flag(argc, argv, &i, &st, &val, err);
		if (set_value(c, st, val, err) != 0)
			return -1;
	}
	if (c->help)
		return 0;
	return validate(c, err);
}

void config_usage(void *file)
{
	FILE *f = file;
	fprintf(f, "usage: cairnd [--name=value ...]\n\n"
		   "Settings (also `name = value` lines in the --config file; flags win):\n");
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *st = &settings[i];
		fprintf(f, "  --%-18s %s", st->name, st->help);
		if (st->def[0])
			fprintf(f, " (default %s)", st->def);
		fprintf(f, "\n");
	}
}
