/*
 * Little-endian byte packing shared by the wire codecs (codec.c for peer
 * frames, membership.c for configuration payloads). Internal to raftcore.
 *
 * Every multi-byte integer is packed byte by byte, so the format does not
 * depend on the host's byte order, alignment or struct layout.
 *
 * Writer invariant: the caller sizes the buffer first (the codecs compute
 * the exact encoded size before writing), so a put never runs past the end;
 * an assert states it.
 *
 * Reader invariant: failure is sticky. A get that would read past the end,
 * or a boolean byte other than 0 or 1, clears ok; from then on every get
 * returns 0 (or NULL) and consumes nothing. A decoder can therefore read a
 * run of fields and check ok once, and it never reads outside the buffer.
 */
#ifndef CAIRN_RAFTCORE_BYTES_H
#define CAIRN_RAFTCORE_BYTES_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bytes_writer {
	uint8_t *p;   /* next byte to write */
	uint8_t *end; /* one past the last writable byte */
};

struct bytes_reader {
	const uint8_t *p; /* next byte to read */
	size_t left;      /* bytes from p to the end of the input */
	bool ok;          /* false once any get failed */
};

static inline struct bytes_writer bytes_writer(void *buf, size_t cap)
{
	struct bytes_writer w = {buf, (uint8_t *)buf + cap};
	return w;
}

static inline struct bytes_reader bytes_reader(const void *buf, size_t len)
{
	struct bytes_reader r = {buf, len, true};
	return r;
}

/* ---- fixed-position loads and stores (frame header and trailer) ---- */

static inline void bytes_store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t bytes_load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint16_t bytes_load_u16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

/* ---- writer ---- */

static inline void bytes_put_u8(struct bytes_writer *w, uint8_t v)
{
	assert(w->p < w->end);
	*w->p++ = v;
}

static inline void bytes_put_bool(struct bytes_writer *w, bool v)
{
	bytes_put_u8(w, v ? 1 : 0);
}

static inline void bytes_put_u16(struct bytes_writer *w, uint16_t v)
{
	bytes_put_u8(w, (uint8_t)v);
	bytes_put_u8(w, (uint8_t)(v >> 8));
}

static inline void bytes_put_u32(struct bytes_writer *w, uint32_t v)
{
	assert(w->end - w->p >= 4);
	bytes_store_u32(w->p, v);
	w->p += 4;
}

static inline void bytes_put_u64(struct bytes_writer *w, uint64_t v)
{
	bytes_put_u32(w, (uint32_t)v);
	bytes_put_u32(w, (uint32_t)(v >> 32));
}

/* Copies n bytes from src; src may be NULL only when n is 0. */
static inline void bytes_put_bytes(struct bytes_writer *w, const void *src, size_t n)
{
	assert((size_t)(w->end - w->p) >= n);
	if (n > 0)
		memcpy(w->p, src, n);
	w->p += n;
}

/* ---- reader ---- */

/* Returns the next n bytes (borrowed from the input) and consumes them, or
 * NULL and fails the reader when fewer than n are left. */
static inline const uint8_t *bytes_get_bytes(struct bytes_reader *r, size_t n)
{
	const uint8_t *p;
	if (!r->ok || r->left < n) {
		r->ok = false;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static inline uint8_t bytes_get_u8(struct bytes_reader *r)
{
	const uint8_t *p = bytes_get_bytes(r, 1);
	return p ? p[0] : 0;
}

/* A boolean travels as one byte, exactly 0 or 1: anything else is a
 * malformed frame, so that every value has one encoding. */
static inline bool bytes_get_bool(struct bytes_reader *r)
{
	uint8_t v = bytes_get_u8(r);
	if (v > 1)
		r->ok = false;
	return v == 1;
}

static inline uint16_t bytes_get_u16(struct bytes_reader *r)
{
	const uint8_t *p = bytes_get_bytes(r, 2);
	return p ? bytes_load_u16(p) : 0;
}

static inline uint32_t bytes_get_u32(struct bytes_reader *r)
{
	const uint8_t *p = bytes_get_bytes(r, 4);
	return p ? bytes_load_u32(p) : 0;
}

static inline uint64_t bytes_get_u64(struct bytes_reader *r)
{
	const uint8_t *p = bytes_get_bytes(r, 8);
	return p ? (uint64_t)bytes_load_u32(p) | (uint64_t)bytes_load_u32(p + 4) << 32 : 0;
}

#endif
