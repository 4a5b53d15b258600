/*
 * Response rendering: buffer, JSON writer, base64, errors (render.h).
 *
 * The JSON writer assumes its input strings are valid UTF-8 (callers check
 * with api_utf8_valid and switch to base64 otherwise), so it only escapes
 * what RFC 8259 requires: '"', '\\' and U+0000..U+001F. Runs of bytes that
 * need nothing are copied in one memcpy.
 */
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "render.h"

const char api_ct_json[] = "application/json";
const char api_ct_text[] = "text/plain";
const char api_ct_octets[] = "application/octet-stream";

void api_buf_init(struct api_buf *b, char *storage, size_t cap)
{
	b->p = storage;
	b->len = 0;
	b->cap = cap;
	b->inline_p = storage;
	b->inline_cap = cap;
	b->oom = false;
}

void api_buf_reset(struct api_buf *b)
{
	if (b->p != b->inline_p)
		free(b->p);
	api_buf_init(b, b->inline_p, b->inline_cap);
}

bool api_buf_reserve(struct api_buf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->cap - b->len >= n)
		return true;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return false;
	}
	size_t cap = b->cap < 256 ? 256 : b->cap;
	while (cap - b->len < n)
		cap *= 2;
	char *p;
	if (b->p == b->inline_p) {
		p = malloc(cap);
		if (p != NULL && b->len > 0)
			memcpy(p, b->p, b->len);
	} else {
		p = realloc(b->p, cap);
	}
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void api_buf_add(struct api_buf *b, const void *p, size_t n)
{
	if (n == 0 || !api_buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void api_buf_adds(struct api_buf *b, const char *s)
{
	api_buf_add(b, s, strlen(s));
}

size_t api_u64_str(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n] = '\0';
	return n;
}

void api_buf_u64(struct api_buf *b, uint64_t v)
{
	char s[21];
	api_buf_add(b, s, api_u64_str(s, v));
}

/* Bytes the JSON string writer copies unchanged. */
static bool json_plain(uint8_t c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

void api_json_str(struct api_buf *b, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;

	/* Most strings need no escape: room for that case at once (escapes
	 * grow the buffer as they come). */
	if (!api_buf_reserve(b, len + 2))
		return;
	api_buf_add(b, "\"", 1);
	while (i < len) {
		size_t run = i;
		while (run < len && json_plain(p[run]))
			run++;
		api_buf_add(b, p + i, run - i);
		if (run == len)
			break;
		uint8_t c = p[run];
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t n = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		api_buf_add(b, esc, n);
		i = run + 1;
	}
	api_buf_add(b, "\"", 1);
}

void api_base64(struct api_buf *b, const uint8_t *p, size_t len)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t out = (len + 2) / 3 * 4;

	if (!api_buf_reserve(b, out))
		return;
	char *d = b->p + b->len;
	size_t i = 0;
	for (; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*d++ = alphabet[v >> 18];
		*d++ = alphabet[(v >> 12) & 63];
		*d++ = alphabet[(v >> 6) & 63];
		*d++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*d++ = alphabet[v >> 18];
		*d++ = alphabet[(v >> 12) & 63];
		*d++ = '=';
		*d++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*d++ = alphabet[v >> 18];
		*d++ = alphabet[(v >> 12) & 63];
		*d++ = alphabet[(v >> 6) & 63];
		*d++ = '=';
	}
	b->len += out;
}

void api_json_entry(struct api_buf *b, const struct kv_entry *e)
{
	api_buf_adds(b, "{\"key\":");
	api_json_str(b, e->key.p, e->key.len);
	if (api_utf8_valid(e->value.p, e->value.len)) {
		api_buf_adds(b, ",\"value\":");
		api_json_str(b, e->value.p, e->value.len);
	} else {
		api_buf_adds(b, ",\"value_base64\":\"");
		api_base64(b, e->value.p, e->value.len);
		api_buf_add(b, "\"", 1);
	}
	api_buf_adds(b, ",\"create_index\":");
	api_buf_u64(b, e->create_index);
	api_buf_adds(b, ",\"modify_index\":");
	api_buf_u64(b, e->modify_index);
	api_buf_adds(b, ",\"version\":");
	api_buf_u64(b, e->version);
	api_buf_adds(b, ",\"session\":");
	/* Session ids are hex; a producer bug must still give valid JSON. */
	if (api_utf8_valid(e->session.p, e->session.len))
		api_json_str(b, e->session.p, e->session.len);
	else
		api_buf_adds(b, "\"\"");
	api_buf_add(b, "}", 1);
}

const char *api_status_message(enum api_status s)
{
	switch (s) {
	case API_OK:
		return "ok";
	case API_BAD_REQUEST:
		return "bad request";
	case API_NOT_FOUND:
		return "not found";
	case API_METHOD_NOT_ALLOWED:
		return "method not allowed for this path";
	case API_CAS_FAILED:
		return "compare-and-set failed: the key's modify_index differs";
	case API_TOO_LARGE:
		return "request too large";
	case API_NO_LEADER:
		return "no leader known right now; retry";
	case API_UNKNOWN_OUTCOME:
		return "the request was proposed but its outcome is unknown (leader lost)";
	case API_TIMEOUT:
		return "the request did not commit in time; its outcome is unknown";
	case API_INTERNAL:
	case API_STATUS_COUNT:
		break;
	}
	return "internal error";
}

void api_error_open(struct api_response *r, enum api_status s, const char *msg,
		    const struct api_meta *meta, uint64_t index)
{
	if (msg == NULL || msg[0] == '\0')
		msg = api_status_message(s);
	r->http = api_status_http(s);
	r->content_type = api_ct_json;
	r->retry_after = s == API_NO_LEADER;
	r->meta = *meta;
	r->index = index != 0 ? index : meta->index;
	r->body.len = 0;
	api_buf_adds(&r->body, "{\"error\":");
	/* Messages may quote request bytes; keep the JSON valid whatever. */
	size_t n = strlen(msg);
	if (api_utf8_valid((const uint8_t *)msg, n)) {
		api_json_str(&r->body, (const uint8_t *)msg, n);
	} else {
		char clean[API_MESSAGE_MAX];
		api_printable(clean, sizeof clean, (const uint8_t *)msg, n);
		api_json_str(&r->body, (const uint8_t *)clean, strlen(clean));
	}
	api_buf_adds(&r->body, ",\"code\":\"");
	api_buf_adds(&r->body, api_status_code(s));
	api_buf_add(&r->body, "\"", 1);
}

void api_error_close(struct api_response *r)
{
	api_buf_add(&r->body, "}", 1);
}

void api_render_error(struct api_response *r, enum api_status s, const char *msg,
		      const struct api_meta *meta, uint64_t index)
{
	api_error_open(r, s, msg, meta, index);
	api_error_close(r);
}

void api_response_finish(struct api_response *r)
{
	if (r->data != NULL)
		return;
	if (r->body.oom) {
		static const char oom[] = "{\"error\":\"out of memory\",\"code\":\"internal\"}";
		api_buf_reset(&r->body);
		r->http = api_status_http(API_INTERNAL);
		r->content_type = api_ct_json;
		r->retry_after = false;
		r->allow = NULL;
		r->data = oom;
		r->len = sizeof oom - 1;
		return;
	}
	r->data = r->body.p;
	r->len = r->body.len;
}
