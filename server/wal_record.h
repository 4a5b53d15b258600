/*
 * wal_record: the on-disk formats of a log segment.
 *
 * A segment file "wal-<seq, 20 digits>.seg" starts with a 64-byte header:
 *   0 magic "CAIRNWAL"  8 version (1)  12 header bytes (64)  16 seq
 *   24..59 zero  60 CRC32C of bytes 0..59
 * then records, each 8-byte aligned:
 *   0 CRC32C of bytes 4..(32+len) (rest of the header and the payload)
 *   4 payload length   8 index   16 term   24 type   25..27 zero
 *   28 hint: an offset in this segment below which everything was durable
 *      when the record was staged (recovery uses it to tell a torn tail
 *      from corruption of synced data)
 *   32 payload, then zero padding to the next multiple of 8.
 * All integers little-endian. Bytes past the last record are zero (the
 * segment is preallocated) or belong to writes never made durable.
 */
#ifndef CAIRN_WAL_RECORD_H
#define CAIRN_WAL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "raftcore.h"

#define WAL_SEG_HEADER 64u
#define WAL_REC_HEADER 32u
#define WAL_NAME_MAX 32

/* Bytes a record with a len-byte payload occupies, padding included. */
static inline uint32_t wal_rec_span(uint32_t len)
{
	return (WAL_REC_HEADER + len + 7u) & ~7u;
}

/* Writes e's record (wal_rec_span(e->len) bytes) at dst. */
void wal_rec_encode(uint8_t *dst, const struct rc_entry *e, uint32_t hint);

enum wal_rec_status {
	WAL_REC_OK,
	WAL_REC_ZERO, /* an all-zero header: where the records end */
	WAL_REC_BAD,  /* truncated, checksum mismatch or nonsense fields */
};

struct wal_rec {
	rc_index index;
	rc_term term;
	uint8_t type;
	uint32_t len;
	uint32_t hint;
	const uint8_t *data; /* borrowed from the buffer decoded */
};

/* Decodes the record at p, avail bytes readable. Checks the checksum and
 * that the record fits, not its place in the log. */
enum wal_rec_status wal_rec_decode(const uint8_t *p, size_t avail, struct wal_rec *out);

void wal_seg_header_encode(uint8_t *dst, uint64_t seq);
/* 0 when p holds a valid header for seq, -1 otherwise. */
int wal_seg_header_check(const uint8_t *p, size_t avail, uint64_t seq);

/* "wal-<seq>.seg" (and ".tmp" with tmp) into buf (WAL_NAME_MAX bytes). */
void wal_seg_name(char *buf, uint64_t seq, int tmp);
/* Parses a segment or temporary segment name: 1 for ".seg", 2 for ".tmp",
 * 0 for anything else. */
int wal_seg_parse_name(const char *name, uint64_t *seq);

#endif
