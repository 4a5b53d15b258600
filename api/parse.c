/*
 * Strict parsing of request-line pieces (see parse.h for the rules). Every
 * function reads only inside the bounds it is given and writes only inside
 * the caller's buffers; none allocates.
 */
#include <stdio.h>
#include <string.h>

#include "parse.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum api_pct api_pct_decode(const char *in, size_t len, bool plus_is_space, uint8_t *out,
			    size_t cap, size_t *out_len)
{
	size_t i = 0, n = 0;

	while (i < len) {
		uint8_t byte;
		if (in[i] == '%') {
			if (len - i < 3)
				goto bad;
			int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			byte = (uint8_t)(hi << 4 | lo);
			i += 3;
		} else {
			byte = (uint8_t)in[i];
			if (plus_is_space && byte == '+')
				byte = ' ';
			i++;
		}
		if (n == cap) {
			/* Keep scanning: a malformed escape later on is the
			 * better answer than "too long" (both are refusals). */
			for (; i < len; i++)
				if (in[i] == '%' && (len - i < 3 || hex_value(in[i + 1]) < 0 ||
						     hex_value(in[i + 2]) < 0))
					goto bad;
			*out_len = n;
			return API_PCT_LONG;
		}
		out[n++] = byte;
	}
	*out_len = n;
	return API_PCT_OK;
bad:
	*out_len = n;
	return API_PCT_BAD;
}

bool api_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		/* ASCII runs dominate: check eight bytes at a time. */
		while (len - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i == len)
			break;
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		/* RFC 3629 table 3.7: the allowed range of the second byte
		 * depends on the first; later bytes are 80..BF. */
		size_t more;
		uint8_t lo = 0x80, hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF) {
			more = 1;
		} else if (c == 0xE0) {
			more = 2;
			lo = 0xA0;
		} else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
			more = 2;
		} else if (c == 0xED) {
			more = 2;
			hi = 0x9F;
		} else if (c == 0xF0) {
			more = 3;
			lo = 0x90;
		} else if (c >= 0xF1 && c <= 0xF3) {
			more = 3;
		} else if (c == 0xF4) {
			more = 3;
			hi = 0x8F;
		} else {
			return false;
		}
		if (len - i - 1 < more)
			return false;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

enum api_status api_key_check(const uint8_t *key, size_t len, bool allow_empty, char *msg,
			      size_t cap)
{
	if (len > API_KEY_MAX) {
		snprintf(msg, cap, "key longer than %d bytes", API_KEY_MAX);
		return API_TOO_LARGE;
	}
	if (len == 0 && !allow_empty) {
		snprintf(msg, cap, "empty key");
		return API_BAD_REQUEST;
	}
	if (len > 0 && key[0] == '/') {
		snprintf(msg, cap, "key must not start with '/'");
		return API_BAD_REQUEST;
	}
	if (memchr(key, 0, len) != NULL) {
		snprintf(msg, cap, "key contains a NUL byte");
		return API_BAD_REQUEST;
	}
	if (!api_utf8_valid(key, len)) {
		snprintf(msg, cap, "key is not valid UTF-8");
		return API_BAD_REQUEST;
	}
	return API_OK;
}

int api_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int api_parse_duration_ms(const char *s, size_t len, uint64_t *ms)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}};
	size_t digits = 0;
	uint64_t v;

	while (digits < len && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (api_parse_u64(s, digits, &v) != 0)
		return -1;
	const char *unit = s + digits;
	size_t unit_len = len - digits;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (unit_len != strlen(units[i].name) || memcmp(unit, units[i].name, unit_len) != 0)
			continue;
		if (v > UINT64_MAX / units[i].ms)
			return -1;
		*ms = v * units[i].ms;
		return 0;
	}
	return -1;
}

void api_qiter_init(struct api_qiter *it, const char *q, size_t len)
{
	it->p = q;
	it->end = q + len;
}

bool api_qiter_next(struct api_qiter *it, struct api_qparam *out)
{
	while (it->p < it->end) {
		const char *start = it->p;
		const char *amp = memchr(start, '&', (size_t)(it->end - start));
		const char *stop = amp != NULL ? amp : it->end;
		it->p = amp != NULL ? amp + 1 : it->end;
		if (stop == start)
			continue;
		const char *eq = memchr(start, '=', (size_t)(stop - start));
		out->name = start;
		if (eq == NULL) {
			out->name_len = (size_t)(stop - start);
			out->value = NULL;
			out->value_len = 0;
		} else {
			out->name_len = (size_t)(eq - start);
			out->value = eq + 1;
			out->value_len = (size_t)(stop - eq - 1);
		}
		return true;
	}
	return false;
}

void api_printable(char *dst, size_t cap, const uint8_t *s, size_t len)
{
	bool cut = len > cap - 1;
	size_t n = cut ? cap - 4 : len;

	for (size_t i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	if (cut) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}
