/*
 * The identity file; see identity.h. Format (text, one fact a line):
 *
 *   cairn-identity 1
 *   node 2
 *   cluster 8f3a...   (16 hex digits)
 *   member 1 127.0.0.1:7701
 *   member 2 127.0.0.1:7711
 *
 * Written to identity.tmp, fsynced, renamed, and the directory fsynced, so
 * a crash leaves either no identity or a whole one.
 */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a over "id=peer;" of the members in id order. */
static uint64_t cluster_id_of(const struct config *cfg)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint64_t done = 0;
	for (size_t k = 0; k < cfg->n_members; k++) {
		const struct config_member *next = NULL;
		for (size_t i = 0; i < cfg->n_members; i++)
			if (cfg->members[i].id > done && (!next || cfg->members[i].id < next->id))
				next = &cfg->members[i];
		char buf[160];
		int len = snprintf(buf, sizeof(buf), "%" PRIu64 "=%s;", next->id, next->peer);
		for (int i = 0; i < len; i++) {
			h ^= (uint8_t)buf[i];
			h *= 0x100000001b3ull;
		}
		done = next->id;
	}
	return h ? h : 1;
}

static int write_file(const char *dir, const char *text, char *err)
{
	char tmp[600], path[600];
	snprintf(tmp, sizeof(tmp), "%s/identity.tmp", dir);
	snprintf(path, sizeof(path), "%s/identity", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0)
		goto fail;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		if (dfd >= 0)
			close(dfd);
		goto fail;
	}
	close(dfd);
	return 0;
fail:
	snprintf(err, 256, "writing %.200s: %s", path, strerror(errno));
	return -1;
}

static int create(const char *dir, const struct config *cfg, struct identity *out, char *err)
{
	memset(out, 0, sizeof(*out));
	out->node_id = cfg->id;
	out->cluster_id = cluster_id_of(cfg);
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof(text),
				    "cairn-identity 1\nnode %" PRIu64 "\ncluster %016" PRIx64 "\n",
				    out->node_id, out->cluster_id);
	for (size_t i = 0; i < cfg->n_members; i++) {
		struct rc_member *m = &out->bootstrap.members[out->bootstrap.n++];
		m->id = cfg->members[i].id;
		m->voter = true;
		snprintf(m->addr, RC_ADDR_MAX, "%s", cfg->members[i].peer);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "member %" PRIu64 " %s\n", m->id,
				      m->addr);
	}
	return write_file(dir, text, err);
}

static int parse(const char *path, FILE *f, struct identity *out, char *err)
{
	char line[256];
	int lineno = 0;
	memset(out, 0, sizeof(*out));
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		uint64_t a;
		char addr[RC_ADDR_MAX];
		if (lineno == 1) {
			if (strcmp(line, "cairn-identity 1\n") != 0)
				goto bad;
		} else if (sscanf(line, "node %" SCNu64, &a) == 1) {
			out->node_id = a;
		} else if (sscanf(line, "cluster %" SCNx64, &a) == 1) {
			out->cluster_id = a;
		} else if (sscanf(line, "member %" SCNu64 " %95s", &a, addr) == 2 &&
			   out->bootstrap.n < RC_MAX_MEMBERS) {
			struct rc_member *m = &out->bootstrap.members[out->bootstrap.n++];
			m->id = a;
			m->voter = true;
			snprintf(m->addr, RC_ADDR_MAX, "%s", addr);
		} else {
			goto bad;
		}
	}
	if (out->node_id && out->cluster_id && out->bootstrap.n)
		return 0;
bad:
	snprintf(err, 256, "%.200s: unreadable identity (line %d)", path, lineno);
	return -1;
}

int identity_load_or_create(const char *dir, const struct config *cfg, struct identity *out,
			    char *err)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/identity", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno != ENOENT) {
			snprintf(err, 256, "%.200s: %s", path, strerror(errno));
			return -1;
		}
		return create(dir, cfg, out, err);
	}
	int rv = parse(path, f, out, err);
	fclose(f);
	return rv;
}
