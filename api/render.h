/*
 * Rendering answers: a growable byte buffer, a small JSON writer (faster
 * than building a cJSON tree for every response, and allocation-free while
 * the answer fits the buffer's inline storage), base64, and the response
 * every handler produces (status, headers' facts, body).
 *
 * Out of memory: a buffer that cannot grow becomes "failed" (oom) and
 * ignores further writes; whoever finishes the response checks it once and
 * answers 500 instead (api_response_finish). So renderers need no error
 * path of their own.
 */
#ifndef CAIRN_API_RENDER_H
#define CAIRN_API_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "command.h"

struct api_buf {
	char *p; /* the bytes: the inline storage or a heap block */
	size_t len;
	size_t cap;
	char *inline_p; /* storage lent by the owner at init; never freed */
	size_t inline_cap;
	bool oom;
};

/* storage[0..cap) is lent for the buffer's life (may be NULL, 0). */
void api_buf_init(struct api_buf *b, char *storage, size_t cap);
/* Empties b, back on its inline storage (a heap block is freed). */
void api_buf_reset(struct api_buf *b);
/* Room for n more bytes; false (and b->oom) when that cannot be had. */
bool api_buf_reserve(struct api_buf *b, size_t n);
void api_buf_add(struct api_buf *b, const void *p, size_t n);
void api_buf_adds(struct api_buf *b, const char *s);
void api_buf_u64(struct api_buf *b, uint64_t v);

/* Writes v in decimal into dst (at least 21 bytes), NUL-terminated;
 * returns the length. */
size_t api_u64_str(char *dst, uint64_t v);

/* A JSON string of p[0..len), which must be valid UTF-8 (NUL included):
 * quotes, backslash and control characters are escaped. */
void api_json_str(struct api_buf *b, const uint8_t *p, size_t len);
/* Padded standard base64 (RFC 4648 section 4), without quotes. */
void api_base64(struct api_buf *b, const uint8_t *p, size_t len);
/* API.md's entry object: value when valid UTF-8, else value_base64. */
void api_json_entry(struct api_buf *b, const struct kv_entry *e);

/*
 * An answer, ready for the HTTP layer. body is the rendered bytes; data
 * and len are what to send: body's bytes, or bytes borrowed from a query
 * result (a raw value) that the owner keeps alive until the response is
 * sent.
 */
struct api_response {
	int http;                 /* HTTP status code */
	const char *content_type; /* static */
	const char *allow;        /* 405: the Allow header (static), else NULL */
	bool retry_after;         /* 503 no_leader: Retry-After: 1 */
	uint64_t index;           /* X-Cairn-Index */
	struct api_meta meta;     /* X-Cairn-Node, -Leader, -Last-Contact */
	struct api_buf body;
	const void *data;
	size_t len;
};

extern const char api_ct_json[];
extern const char api_ct_text[];
extern const char api_ct_octets[];

/* A human message for status s when the producer gave none (static). */
const char *api_status_message(enum api_status s);

/*
 * Starts a JSON error answer {"error":msg,"code":...} with the status of
 * the table, but leaves the object open: the caller may add fields (CAS
 * failure's "current") before api_error_close. msg NULL or empty: the
 * default message of s. index: X-Cairn-Index (0: the meta's).
 */
void api_error_open(struct api_response *r, enum api_status s, const char *msg,
		    const struct api_meta *meta, uint64_t index);
void api_error_close(struct api_response *r);
/* Both at once. */
void api_render_error(struct api_response *r, enum api_status s, const char *msg,
		      const struct api_meta *meta, uint64_t index);
/* Points data/len at the body, or turns a failed (oom) body into a 500. */
void api_response_finish(struct api_response *r);

#endif
