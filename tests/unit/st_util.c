/*
 * st_util: helpers for the storage unit tests (see st_util.h).
 */
#include "st_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "st_memfs.h"

static char logbuf[8192];

static void capture(void *arg, enum storage_log_level level, const char *msg)
{
	size_t n = strlen(logbuf);
	(void)arg;
	snprintf(logbuf + n, sizeof(logbuf) - n, "%s: %s\n",
		 level == STORAGE_LOG_WARN ? "warn" : "info", msg);
}

const char *st_log_text(void)
{
	return logbuf;
}

void st_options(struct storage_options *o, const struct sysio *io, uint64_t segment_bytes)
{
	storage_options_default(o);
	o->io = io;
	o->segment_bytes = segment_bytes;
	o->log = capture;
	logbuf[0] = '\0';
}

struct rc_entry st_entry(rc_index index, rc_term term, uint32_t len, uint32_t salt, uint8_t *buf)
{
	uint64_t x = index * 0x9E3779B97F4A7C15ull ^ term << 32 ^ salt;
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	return (struct rc_entry){term, index, RC_ENTRY_COMMAND, len, buf};
}

void st_append(struct storage *st, rc_index from, rc_index to, rc_term term, uint32_t salt)
{
	size_t n = (size_t)(to - from + 1);
	struct rc_entry *es = calloc(n, sizeof(*es));
	uint8_t *buf = malloc(n * 300);
	struct storage_durable d;

	assert_non_null(es);
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		es[i] = st_entry(from + i, term, (uint32_t)((from + i) % 300), salt, buf + i * 300);
	assert_int_equal(storage_stage(st, NULL, 0, es, n, NULL), 0);
	assert_int_equal(storage_sync(st, &d), 0);
	assert_int_equal(d.index, to);
	assert_int_equal(d.term, term);
	free(buf);
	free(es);
}

void st_expect(struct storage *st, rc_index from, rc_index to, rc_term term, uint32_t salt)
{
	struct rc_entry *es = NULL;
	size_t n = 0;
	uint8_t buf[300];
	int rv = storage_entries(st, from, to, &es, &n);
	if (rv != 0)
		fail_msg("storage_entries(%llu, %llu): %s: %s", (unsigned long long)from,
			 (unsigned long long)to, storage_strerror(rv), storage_errmsg(st));
	assert_int_equal(n, to - from + 1);
	for (size_t i = 0; i < n; i++) {
		struct rc_entry want =
		    st_entry(from + i, term, (uint32_t)((from + i) % 300), salt, buf);
		assert_int_equal(es[i].index, want.index);
		assert_int_equal(es[i].term, want.term);
		assert_int_equal(es[i].len, want.len);
		assert_int_equal(es[i].type, want.type);
		assert_memory_equal(es[i].data, buf, want.len);
	}
	free(es);
}

struct storage *st_open_mem(uint64_t segment_bytes)
{
	struct storage *st = NULL;
	char err[STORAGE_ERRMSG_SIZE];
	memfs_reset();
	if (st_reopen(segment_bytes, &st, err) != 0)
		fail_msg("open: %s", err);
	return st;
}

int st_reopen(uint64_t segment_bytes, struct storage **out, char *errmsg)
{
	struct storage_options o;
	st_options(&o, memfs_io(), segment_bytes);
	return storage_open(ST_DIR, &o, out, errmsg);
}
