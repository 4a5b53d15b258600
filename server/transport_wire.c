/*
 * transport_wire: hello and frame header encoding and checks; see
 * transport_wire.h for the layout. No allocation, no I/O.
 */
#include "transport_wire.h"

#include <string.h>

#include "raftcore.h"

#define HELLO_CRC_AT 32
#define HEADER_CRC_AT 8

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

uint32_t tw_frame_len(const uint8_t in[TW_HEADER_BYTES])
{
	return get_le32(in);
}

const char *tw_strerror(enum tw_status s)
{
	switch (s) {
	case TW_OK:
		return "ok";
	case TW_BAD_MAGIC:
		return "not a cairn peer (bad magic)";
	case TW_BAD_VERSION:
		return "unsupported transport version";
	case TW_BAD_RESERVED:
		return "reserved bytes not zero";
	case TW_BAD_CRC:
		return "bad CRC";
	case TW_TOO_LARGE:
		return "frame over the size limit";
	case TW_BAD_KIND:
		return "unknown frame kind";
	}
	return "unknown error";
}

void tw_hello_encode(const struct tw_hello *h, uint8_t out[TW_HELLO_BYTES])
{
	memcpy(out, TW_MAGIC, 4);
	out[4] = TW_VERSION;
	out[5] = out[6] = out[7] = 0;
	put_le64(out + 8, h->cluster_id);
	put_le64(out + 16, h->from);
	put_le64(out + 24, h->to);
	put_le32(out + HELLO_CRC_AT, rc_crc32c(0, out, HELLO_CRC_AT));
}

enum tw_status tw_hello_check(const uint8_t *in, size_t len, struct tw_hello *out)
{
	size_t magic_seen = len < 4 ? len : 4;
	if (memcmp(in, TW_MAGIC, magic_seen) != 0)
		return TW_BAD_MAGIC;
	if (len < TW_HELLO_BYTES)
		return TW_OK;
	/* The CRC first: a version or reserved byte in a corrupted hello is
	 * noise, not a statement about what the peer speaks. */
	if (get_le32(in + HELLO_CRC_AT) != rc_crc32c(0, in, HELLO_CRC_AT))
		return TW_BAD_CRC;
	if (in[4] != TW_VERSION)
		return TW_BAD_VERSION;
	if (in[5] || in[6] || in[7])
		return TW_BAD_RESERVED;
	out->cluster_id = get_le64(in + 8);
	out->from = get_le64(in + 16);
	out->to = get_le64(in + 24);
	return TW_OK;
}

void tw_header_encode(uint8_t out[TW_HEADER_BYTES], uint8_t kind, const void *payload, uint32_t len)
{
	put_le32(out, len);
	out[4] = kind;
	out[5] = out[6] = out[7] = 0;
	uint32_t crc = rc_crc32c(0, out, HEADER_CRC_AT);
	put_le32(out + HEADER_CRC_AT, rc_crc32c(crc, payload, len));
}

enum tw_status tw_header_check(const uint8_t in[TW_HEADER_BYTES], size_t max_len, uint8_t max_kind,
			       uint32_t *len, uint8_t *kind)
{
	uint32_t n = get_le32(in);
	if (n > max_len)
		return TW_TOO_LARGE;
	if (in[4] == 0 || in[4] > max_kind)
		return TW_BAD_KIND;
	if (in[5] || in[6] || in[7])
		return TW_BAD_RESERVED;
	*len = n;
	*kind = in[4];
	return TW_OK;
}

enum tw_status tw_payload_check(const uint8_t in[TW_HEADER_BYTES], const uint8_t *payload,
				uint32_t len)
{
	uint32_t crc = rc_crc32c(0, in, HEADER_CRC_AT);
	crc = rc_crc32c(crc, payload, len);
	return crc == get_le32(in + HEADER_CRC_AT) ? TW_OK : TW_BAD_CRC;
}
