/*
 * transport_wire: the bytes of the peer transport, apart from any socket.
 * Two things travel: one hello at the start of a connection, then frames.
 * docs/WIRE.md ("Transport framing") is the reference; this is the code.
 *
 *   hello (36)  = magic "CRNP" | version u8 | reserved u8[3] (0)
 *                 | cluster_id u64 | from u64 | to u64
 *                 | crc32c u32 over the 32 bytes before it
 *   frame       = header (12) | payload (len)
 *   header (12) = len u32 | kind u8 | reserved u8[3] (0)
 *                 | crc32c u32 over header bytes 0..7, then the payload
 *
 * All integers little-endian. The checks here are pure functions of their
 * input: they never read outside it and never trust a length they were not
 * given room for. Kept apart so tests and tools build the same bytes.
 */
#ifndef CAIRN_SERVER_TRANSPORT_WIRE_H
#define CAIRN_SERVER_TRANSPORT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define TW_MAGIC "CRNP"
#define TW_VERSION 1
#define TW_HELLO_BYTES 36
#define TW_HEADER_BYTES 12

struct tw_hello {
	uint64_t cluster_id;
	uint64_t from;
	uint64_t to;
};

/* Outcomes of a check; tw_strerror names them for log lines. */
enum tw_status {
	TW_OK = 0,
	TW_BAD_MAGIC,    /* not a cairn peer at all */
	TW_BAD_VERSION,  /* a cairn peer speaking another transport version */
	TW_BAD_RESERVED, /* reserved bytes not zero */
	TW_BAD_CRC,      /* checksum mismatch */
	TW_TOO_LARGE,    /* frame length over the limit */
	TW_BAD_KIND,     /* kind 0 or over the accepted maximum */
};

const char *tw_strerror(enum tw_status s);

/* Writes the hello for h into out (TW_HELLO_BYTES). */
void tw_hello_encode(const struct tw_hello *h, uint8_t out[TW_HELLO_BYTES]);

/* Checks the first len bytes of a hello as they arrive: TW_BAD_MAGIC as
 * soon as the magic bytes seen so far differ (so a stray HTTP client is
 * turned away without waiting for 36 bytes), the rest once len is
 * TW_HELLO_BYTES, filling *out. TW_OK with len < TW_HELLO_BYTES means
 * "nothing wrong yet". */
enum tw_status tw_hello_check(const uint8_t *in, size_t len, struct tw_hello *out);

/* Writes the header of a frame of kind carrying payload (len bytes). The
 * caller checked len fits in u32 and kind is non-zero. */
void tw_header_encode(uint8_t out[TW_HEADER_BYTES], uint8_t kind, const void *payload,
		      uint32_t len);

/* Checks a received header without its payload: length within max_len,
 * kind in 1..max_kind, reserved bytes zero. Fills *len and *kind. */
enum tw_status tw_header_check(const uint8_t in[TW_HEADER_BYTES], size_t max_len, uint8_t max_kind,
			       uint32_t *len, uint8_t *kind);

/* The payload length field of a header, unchecked. */
uint32_t tw_frame_len(const uint8_t in[TW_HEADER_BYTES]);

/* Checks the CRC of a header already accepted by tw_header_check against
 * its payload (len bytes). */
enum tw_status tw_payload_check(const uint8_t in[TW_HEADER_BYTES], const uint8_t *payload,
				uint32_t len);

#endif
