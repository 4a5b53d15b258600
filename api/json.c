/*
 * The strict JSON reader (json.h). Every read is bounds-checked against
 * j->end; strings are decoded in one pass, and the bytes they are made of
 * are checked as UTF-8 with api_utf8_valid run by run (escapes produce
 * valid UTF-8 by construction).
 */
#include <string.h>

#include "json.h"
#include "parse.h"

void api_json_init(struct api_json *j, const uint8_t *p, size_t len)
{
	static const uint8_t none[1];
	j->start = p != NULL ? p : none;
	j->p = j->start;
	j->end = j->start + (p != NULL ? len : 0);
	j->why = NULL;
}

size_t api_json_offset(const struct api_json *j)
{
	return (size_t)(j->p - j->start);
}

static int fail(struct api_json *j, const char *why)
{
	j->why = why;
	return -1;
}

static void skip_ws(struct api_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

enum api_json_type api_json_peek(struct api_json *j)
{
	skip_ws(j);
	if (j->p == j->end)
		return API_JSON_END;
	switch (*j->p) {
	case '{':
		return API_JSON_OBJECT;
	case '[':
		return API_JSON_ARRAY;
	case '"':
		return API_JSON_STRING;
	case 't':
	case 'f':
		return API_JSON_BOOL;
	case 'n':
		return API_JSON_NULL;
	default:
		return *j->p == '-' || (*j->p >= '0' && *j->p <= '9') ? API_JSON_NUMBER
								      : API_JSON_BAD;
	}
}

static bool eat(struct api_json *j, char c)
{
	skip_ws(j);
	if (j->p < j->end && *j->p == (uint8_t)c) {
		j->p++;
		return true;
	}
	return false;
}

bool api_json_open(struct api_json *j, char open)
{
	if (eat(j, open))
		return true;
	fail(j, open == '{' ? "expected '{'" : "expected '['");
	return false;
}

int api_json_next(struct api_json *j, char close, bool *first)
{
	if (eat(j, close))
		return 0;
	if (*first) {
		*first = false;
		skip_ws(j);
		if (j->p == j->end)
			return fail(j, "unexpected end of input");
		return 1;
	}
	if (eat(j, ','))
		return 1;
	return fail(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

bool api_json_colon(struct api_json *j)
{
	if (eat(j, ':'))
		return true;
	fail(j, "expected ':'");
	return false;
}

static int hex4(const uint8_t *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* Reads the 4 hex digits of a \u escape at j->p (past "\u"), and its low
 * surrogate when it is a high one; *cp gets the code point. */
static int unicode_escape(struct api_json *j, uint32_t *cp)
{
	if (j->end - j->p < 4 || hex4(j->p, cp) != 0)
		return fail(j, "invalid \\u escape");
	j->p += 4;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return fail(j, "lone low surrogate in a \\u escape");
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return 0;
	uint32_t lo;
	if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) != 0 ||
	    lo < 0xDC00 || lo > 0xDFFF)
		return fail(j, "high surrogate without its low surrogate in a \\u escape");
	j->p += 6;
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	return 0;
}

static size_t utf8_encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* Appends p[0..n) to out at *len, within cap. */
static int emit(struct api_json *j, uint8_t *out, size_t cap, size_t *len, const uint8_t *p,
		size_t n)
{
	if (cap - *len < n) {
		j->why = "string too long";
		return -2;
	}
	if (n > 0)
		memcpy(out + *len, p, n);
	*len += n;
	return 0;
}

int api_json_string(struct api_json *j, uint8_t *out, size_t cap, size_t *len)
{
	*len = 0;
	if (!eat(j, '"'))
		return fail(j, "expected a string");
	for (;;) {
		const uint8_t *run = j->p;
		while (j->p < j->end && *j->p != '"' && *j->p != '\\' && *j->p >= 0x20)
			j->p++;
		if (!api_utf8_valid(run, (size_t)(j->p - run))) {
			j->p = run;
			return fail(j, "invalid UTF-8 in a string");
		}
		int rc = emit(j, out, cap, len, run, (size_t)(j->p - run));
		if (rc != 0)
			return rc;
		if (j->p == j->end)
			return fail(j, "unterminated string");
		uint8_t c = *j->p;
		if (c == '"') {
			j->p++;
			return 0;
		}
		if (c < 0x20)
			return fail(j, "control character in a string (escape it)");
		/* a backslash */
		if (j->end - j->p < 2)
			return fail(j, "unterminated string");
		uint8_t e = j->p[1], buf[4];
		size_t n = 1;
		j->p += 2;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			buf[0] = e;
			break;
		case 'b':
			buf[0] = '\b';
			break;
		case 'f':
			buf[0] = '\f';
			break;
		case 'n':
			buf[0] = '\n';
			break;
		case 'r':
			buf[0] = '\r';
			break;
		case 't':
			buf[0] = '\t';
			break;
		case 'u': {
			uint32_t cp;
			if (unicode_escape(j, &cp) != 0)
				return -1;
			n = utf8_encode(cp, buf);
			break;
		}
		default:
			j->p -= 2;
			return fail(j, "invalid escape in a string");
		}
		rc = emit(j, out, cap, len, buf, n);
		if (rc != 0)
			return rc;
	}
}

static bool digit(const struct api_json *j)
{
	return j->p < j->end && *j->p >= '0' && *j->p <= '9';
}

int api_json_u64(struct api_json *j, uint64_t *v)
{
	skip_ws(j);
	bool neg = j->p < j->end && *j->p == '-';
	if (neg)
		j->p++;
	if (!digit(j))
		return fail(j, "expected a number");
	bool overflow = false;
	uint64_t n = 0;
	if (*j->p == '0') {
		j->p++;
		if (digit(j))
			return fail(j, "leading zero in a number");
	} else {
		while (digit(j)) {
			uint64_t d = (uint64_t)(*j->p - '0');
			if (n > (UINT64_MAX - d) / 10)
				overflow = true;
			n = n * 10 + d;
			j->p++;
		}
	}
	bool fraction = j->p < j->end && *j->p == '.';
	if (fraction) {
		j->p++;
		if (!digit(j))
			return fail(j, "expected a digit after '.'");
		while (digit(j))
			j->p++;
	}
	bool exponent = j->p < j->end && (*j->p == 'e' || *j->p == 'E');
	if (exponent) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!digit(j))
			return fail(j, "expected a digit in the exponent");
		while (digit(j))
			j->p++;
	}
	if (neg || fraction || exponent || overflow) {
		j->why = "not an unsigned 64-bit integer";
		return -2;
	}
	*v = n;
	return 0;
}

static bool literal(struct api_json *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return false;
	j->p += n;
	return true;
}

int api_json_bool(struct api_json *j, bool *v)
{
	skip_ws(j);
	if (literal(j, "true")) {
		*v = true;
		return 0;
	}
	if (literal(j, "false")) {
		*v = false;
		return 0;
	}
	return fail(j, "expected true or false");
}
