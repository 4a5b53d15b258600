/*
 * Writes the fuzz seed corpora: one valid frame per file, at least one of
 * each message type (tests/fuzz/corpus/codec/), and a few encoded
 * memberships (tests/fuzz/corpus/membership/). Run by `make fuzz-corpus`;
 * the output is checked in, so the seeds are stable between runs.
 *
 *   gen_corpus <corpus-dir>      (the subfolders must exist)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raftcore.h"

static const char *dir;

static void write_file(const char *sub, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void frame(const char *name, const struct rc_message *m)
{
	static unsigned char buf[1 << 16];
	int n = rc_msg_encode(m, buf, sizeof buf);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", name, rc_strerror(n));
		exit(1);
	}
	write_file("codec", name, buf, (size_t)n);
}

static struct rc_membership members(uint32_t n, uint32_t addr_len)
{
	struct rc_membership ms;
	memset(&ms, 0, sizeof ms);
	ms.n = n;
	for (uint32_t i = 0; i < n; i++) {
		ms.members[i].id = i + 1;
		ms.members[i].voter = i < 3;
		snprintf(ms.members[i].addr, RC_ADDR_MAX, "10.0.0.%u:7701", i + 1);
		if (addr_len > 0)
			memset(ms.members[i].addr, 'h', addr_len);
	}
	return ms;
}

static struct rc_message msg(uint8_t type)
{
	struct rc_message m;
	memset(&m, 0, sizeof m);
	m.type = type;
	m.from = 1;
	m.to = 2;
	m.term = 3;
	return m;
}

static void memberships(void)
{
	static const struct {
		const char *name;
		uint32_t n, addr_len;
	} cases[] = {{"empty", 0, 0},
		     {"one", 1, 0},
		     {"three", 3, 0},
		     {"five", 5, 0},
		     {"full_long_addrs", RC_MAX_MEMBERS, RC_ADDR_MAX - 1}};
	unsigned char buf[4096];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rc_membership ms = members(cases[i].n, cases[i].addr_len);
		int n = rc_membership_encode(&ms, buf, sizeof buf);
		if (n < 0)
			exit(1);
		write_file("membership", cases[i].name, buf, (size_t)n);
	}
}

static void frames(void)
{
	static unsigned char config[4096];
	struct rc_membership ms = members(3, 0);
	struct rc_entry e[3];
	struct rc_message m;
	int n = rc_membership_encode(&ms, config, sizeof config);

	m = msg(RC_MSG_APPEND);
	m.u.append.prev_index = 4;
	m.u.append.prev_term = 2;
	m.u.append.commit = 4;
	m.u.append.seq = 9;
	frame("append_heartbeat", &m);
	e[0] = (struct rc_entry){2, 5, RC_ENTRY_COMMAND, 5, "hello"};
	e[1] = (struct rc_entry){3, 6, RC_ENTRY_NOOP, 0, NULL};
	e[2] = (struct rc_entry){3, 7, RC_ENTRY_CONFIG, (uint32_t)n, config};
	m.u.append.n_entries = 3;
	m.u.append.entries = e;
	frame("append_entries", &m);

	m = msg(RC_MSG_APPEND_RESP);
	m.u.append_resp.success = true;
	m.u.append_resp.match_index = 7;
	m.u.append_resp.seq = 9;
	frame("append_resp_ok", &m);
	m.u.append_resp.success = false;
	m.u.append_resp.match_index = 0;
	m.u.append_resp.reject_index = 4;
	m.u.append_resp.hint_index = 3;
	m.u.append_resp.hint_term = 1;
	frame("append_resp_reject", &m);

	m = msg(RC_MSG_VOTE);
	m.u.vote.prevote = true;
	m.u.vote.last_index = 7;
	m.u.vote.last_term = 3;
	frame("vote", &m);
	m = msg(RC_MSG_VOTE_RESP);
	m.u.vote_resp.granted = true;
	frame("vote_resp", &m);

	m = msg(RC_MSG_SNAPSHOT);
	m.u.snapshot.index = 100;
	m.u.snapshot.snap_term = 3;
	m.u.snapshot.membership = members(3, 0);
	m.u.snapshot.size = 10;
	m.u.snapshot.offset = 4;
	m.u.snapshot.len = 6;
	m.u.snapshot.data = "SQLite";
	m.u.snapshot.last = true;
	frame("snapshot", &m);
	m = msg(RC_MSG_SNAPSHOT_RESP);
	m.u.snapshot_resp.index = 100;
	m.u.snapshot_resp.next_offset = 10;
	frame("snapshot_resp", &m);

	m = msg(RC_MSG_TIMEOUT_NOW);
	frame("timeout_now", &m);
	m = msg(RC_MSG_READ_INDEX);
	m.u.read_index.ctx = 12345;
	frame("read_index", &m);
	m = msg(RC_MSG_READ_INDEX_RESP);
	m.u.read_index_resp.ctx = 12345;
	m.u.read_index_resp.index = 7;
	m.u.read_index_resp.ok = true;
	frame("read_index_resp", &m);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	frames();
	memberships();
	return 0;
}
