/*
 * libFuzzer target for the peer message codec (raftcore/codec.c).
 *
 * Each input is decoded twice: as it is, and "repaired" (its header's body
 * length and its CRC made consistent with its size), since random bytes
 * almost never carry a valid CRC and would otherwise stop at the checksum.
 * Whenever a decode succeeds, these must hold:
 *   - the encoding is canonical: re-encoding gives back the very same
 *     bytes, and rc_msg_encoded_size predicts their number;
 *   - decoding the re-encoded frame gives an equal message;
 *   - rc_frame_length of the header gives the frame's length.
 * When a decode fails it must leave nothing to release. ASan, UBSan and
 * LeakSanitizer catch memory errors, undefined behaviour and leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/rc_msg_equal.h"
#include "raftcore.h"

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "property failed: %s (%s:%d)\n", #cond, __FILE__, \
				__LINE__);                                                \
			abort();                                                          \
		}                                                                         \
	} while (0)

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void check_frame(const uint8_t *frame, size_t len)
{
	struct rc_message m, again;
	uint8_t *buf;
	int rv, n;

	rv = rc_msg_decode(frame, len, &m);
	if (rv != 0) {
		CHECK(rv == -RC_ECORRUPT || rv == -RC_ENOMEM);
		CHECK(m.u.append.entries == NULL);
		return;
	}
	CHECK(rc_frame_length(frame, len) == (int64_t)len);
	CHECK(rc_msg_encoded_size(&m) == len);
	buf = malloc(len);
	CHECK(buf != NULL);
	n = rc_msg_encode(&m, buf, len);
	CHECK(n == (int)len);
	CHECK(memcmp(buf, frame, len) == 0);
	CHECK(rc_msg_decode(buf, len, &again) == 0);
	CHECK(msg_equal(&m, &again));
	CHECK(rc_msg_type_name(m.type)[0] != 'u'); /* not "unknown" */
	rc_msg_release(&again);
	rc_msg_release(&m);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	check_frame(data, size);
	if (size >= RC_FRAME_HEADER_BYTES) {
		int64_t n = rc_frame_length(data, size);
		CHECK(n == -RC_ECORRUPT || (n >= 16 && n <= (int64_t)RC_FRAME_MAX_BYTES));
	}
	if (size < RC_FRAME_HEADER_BYTES + 4 + 24)
		return 0;
	copy = malloc(size);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	put_u32(copy + 8, (uint32_t)(size - 16));
	put_u32(copy + size - 4, rc_crc32c(0, copy, size - 4));
	check_frame(copy, size);
	free(copy);
	return 0;
}
