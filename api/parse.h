/*
 * The pieces of a request line, parsed strictly: percent-decoding, keys,
 * unsigned integers, durations, UTF-8, and the query string's
 * name[=value] pairs. Nothing here allocates; every output goes to memory
 * the caller provides, and every input is a pointer + length (never
 * assumed NUL-terminated).
 *
 * Rules (API.md "Conventions"):
 *   - %XX with two hex digits decodes to one byte; a '%' not followed by
 *     two hex digits is an error, never passed through. In the query string
 *     '+' is a space (HTML forms, curl --data-urlencode); in the path it is
 *     an ordinary byte.
 *   - Unsigned integers: decimal digits only (no sign, no space, no
 *     exponent), at least one, and the value fits in 64 bits.
 *   - Durations: an unsigned integer and one of the units ms, s, m, h;
 *     anything else (no unit, another unit, a fraction, a sign) or a value
 *     that overflows 64-bit milliseconds is an error.
 */
#ifndef CAIRN_API_PARSE_H
#define CAIRN_API_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

/* Sized like cmd_result.message, so a message moves between them whole. */
#define API_MESSAGE_MAX 160

enum api_pct {
	API_PCT_OK = 0,
	API_PCT_BAD = -1,  /* a '%' without two hex digits after it */
	API_PCT_LONG = -2, /* the decoded bytes do not fit in cap */
};

/* Decodes in[0..len) into out[0..cap); *out_len gets the decoded length
 * (on API_PCT_LONG: cap, the bytes decoded so far). */
enum api_pct api_pct_decode(const char *in, size_t len, bool plus_is_space, uint8_t *out,
			    size_t cap, size_t *out_len);

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF). NUL is a valid character. */
bool api_utf8_valid(const uint8_t *p, size_t len);

/*
 * Checks a decoded key: at most API_KEY_MAX bytes (else API_TOO_LARGE),
 * not empty unless allow_empty, no NUL, no leading '/', valid UTF-8 (so
 * that every key is a JSON string; else API_BAD_REQUEST). msg (cap bytes)
 * gets the reason when the answer is not API_OK.
 */
enum api_status api_key_check(const uint8_t *key, size_t len, bool allow_empty, char *msg,
			      size_t cap);

/* 0, or -1 when s[0..len) is not a valid unsigned integer (see above). */
int api_parse_u64(const char *s, size_t len, uint64_t *out);
/* 0, or -1 when s[0..len) is not a valid duration; *ms in milliseconds. */
int api_parse_duration_ms(const char *s, size_t len, uint64_t *ms);

/* One name[=value] of a query string, still percent-encoded; pointers
 * into the query string the iterator walks (borrowed from it). */
struct api_qparam {
	const char *name;
	size_t name_len;
	const char *value; /* NULL when there is no '=' */
	size_t value_len;
};

struct api_qiter {
	const char *p;
	const char *end;
};

/* Walks q[0..len) (the part after '?'); empty pieces ("a&&b") are skipped. */
void api_qiter_init(struct api_qiter *it, const char *q, size_t len);
/* The next pair, or false at the end. */
bool api_qiter_next(struct api_qiter *it, struct api_qparam *out);

/* Copies s[0..len) into dst (cap bytes, cap >= 4) as printable ASCII for a
 * message: other bytes become '?', and a long name is cut with "...". */
void api_printable(char *dst, size_t cap, const uint8_t *s, size_t len);

#endif
