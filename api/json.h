/*
 * A strict, allocation-free JSON reader (RFC 8259) for request bodies with
 * a fixed shape (POST /v1/txn): the caller walks the document it expects
 * and refuses anything else, so there is no tree, no recursion and no
 * limit on depth to enforce. Internal to api/.
 *
 * Strict means: UTF-8 text only (invalid sequences and lone surrogate
 * escapes are errors), no control characters inside strings, no leading
 * zeros, no trailing commas, no comments, only the four whitespace bytes.
 * Strings decode into the caller's buffer; a decoded string is never
 * longer than its JSON form, so a buffer as long as the whole input holds
 * every string of it. Numbers are read as unsigned 64-bit integers only
 * (the shapes cairn takes have no others).
 *
 * Errors: a function that fails sets j->why (a static string) and leaves
 * j->p at the offending byte (api_json_offset), so the caller can say
 * "invalid JSON at byte N: why". After a failure the reader is spent.
 */
#ifndef CAIRN_API_JSON_H
#define CAIRN_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_json_type {
	API_JSON_END, /* no more input (only whitespace was left) */
	API_JSON_BAD, /* a byte no JSON value starts with */
	API_JSON_OBJECT,
	API_JSON_ARRAY,
	API_JSON_STRING,
	API_JSON_NUMBER,
	API_JSON_BOOL,
	API_JSON_NULL,
};

struct api_json {
	const uint8_t *start; /* the input, borrowed for the reader's life */
	const uint8_t *p;     /* the next byte */
	const uint8_t *end;
	const char *why; /* the last failure (static), NULL when none */
};

void api_json_init(struct api_json *j, const uint8_t *p, size_t len);
/* Bytes read so far: where a failure happened. */
size_t api_json_offset(const struct api_json *j);
/* Skips whitespace and tells what the next value is, consuming nothing. */
enum api_json_type api_json_peek(struct api_json *j);

/*
 * Containers. Open with api_json_open(j, '{') or (j, '['), then call
 * api_json_next(j, close, &first) before each member or element, with
 * first true at the start: it consumes the ',' between members (and, in
 * an object, nothing else: read the name with api_json_string, then
 * api_json_colon). It answers 1 when a member follows, 0 when the closing
 * byte was consumed, -1 on a syntax error.
 */
bool api_json_open(struct api_json *j, char open);
int api_json_next(struct api_json *j, char close, bool *first);
bool api_json_colon(struct api_json *j);

/*
 * A string, decoded into out[0..cap) (out may be NULL when cap is 0);
 * *len gets its length. 0; -1 on a syntax error (j->why); -2 when the
 * decoded string would not fit in cap (the reader is then spent too).
 */
int api_json_string(struct api_json *j, uint8_t *out, size_t cap, size_t *len);
/* A number that is an unsigned integer fitting 64 bits. 0; -1 on a
 * syntax error; -2 for a valid JSON number that is not such an integer
 * (a sign, a fraction, an exponent, too large). */
int api_json_u64(struct api_json *j, uint64_t *v);
/* true or false. 0, or -1. */
int api_json_bool(struct api_json *j, bool *v);

#endif
