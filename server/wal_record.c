/*
 * wal_record: encoding and checking of segment headers and records (the
 * layout is in wal_record.h). Pure functions over memory, no I/O.
 */
#include "wal_record.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_le.h"

#define SEG_MAGIC "CAIRNWAL"
#define SEG_VERSION 1u

void wal_rec_encode(uint8_t *dst, const struct rc_entry *e, uint32_t hint)
{
	uint32_t span = wal_rec_span(e->len);

	put_le32(dst + 4, e->len);
	put_le64(dst + 8, e->index);
	put_le64(dst + 16, e->term);
	dst[24] = e->type;
	dst[25] = dst[26] = dst[27] = 0;
	put_le32(dst + 28, hint);
	if (e->len > 0)
		memcpy(dst + WAL_REC_HEADER, e->data, e->len);
	memset(dst + WAL_REC_HEADER + e->len, 0, span - WAL_REC_HEADER - e->len);
	put_le32(dst, rc_crc32c(0, dst + 4, WAL_REC_HEADER - 4 + e->len));
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

enum wal_rec_status wal_rec_decode(const uint8_t *p, size_t avail, struct wal_rec *out)
{
	uint32_t len;

	if (avail < WAL_REC_HEADER)
		return all_zero(p, avail) ? WAL_REC_ZERO : WAL_REC_BAD;
	if (all_zero(p, WAL_REC_HEADER))
		return WAL_REC_ZERO;
	len = get_le32(p + 4);
	if (len > RC_MAX_ENTRY_BYTES || (size_t)wal_rec_span(len) > avail)
		return WAL_REC_BAD;
	if (get_le32(p) != rc_crc32c(0, p + 4, WAL_REC_HEADER - 4 + len))
		return WAL_REC_BAD;
	out->len = len;
	out->index = get_le64(p + 8);
	out->term = get_le64(p + 16);
	out->type = p[24];
	out->hint = get_le32(p + 28);
	out->data = p + WAL_REC_HEADER;
	if (out->index == 0 || p[25] || p[26] || p[27])
		return WAL_REC_BAD;
	return WAL_REC_OK;
}

void wal_seg_header_encode(uint8_t *dst, uint64_t seq)
{
	memset(dst, 0, WAL_SEG_HEADER);
	memcpy(dst, SEG_MAGIC, 8);
	put_le32(dst + 8, SEG_VERSION);
	put_le32(dst + 12, WAL_SEG_HEADER);
	put_le64(dst + 16, seq);
	put_le32(dst + 60, rc_crc32c(0, dst, 60));
}

int wal_seg_header_check(const uint8_t *p, size_t avail, uint64_t seq)
{
	if (avail < WAL_SEG_HEADER || memcmp(p, SEG_MAGIC, 8) != 0 ||
	    get_le32(p + 60) != rc_crc32c(0, p, 60) || get_le32(p + 8) != SEG_VERSION ||
	    get_le32(p + 12) != WAL_SEG_HEADER || get_le64(p + 16) != seq)
		return -1;
	return 0;
}

void wal_seg_name(char *buf, uint64_t seq, int tmp)
{
	snprintf(buf, WAL_NAME_MAX, "wal-%020" PRIu64 ".%s", seq, tmp ? "tmp" : "seg");
}

int wal_seg_parse_name(const char *name, uint64_t *seq)
{
	char *end;
	unsigned long long v;

	if (strncmp(name, "wal-", 4) != 0 || strlen(name) != 4 + 20 + 4)
		return 0;
	for (int i = 4; i < 24; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	v = strtoull(name + 4, &end, 10);
	*seq = v;
	if (strcmp(end, ".seg") == 0)
		return 1;
	if (strcmp(end, ".tmp") == 0)
		return 2;
	return 0;
}
