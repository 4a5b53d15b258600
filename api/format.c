/*
 * ?format=env and ?format=lines: a KV listing as text for shells
 * (API.md "Key/value", docs/API.md "Formats").
 *
 * env, one line per entry, for `eval "$(curl -s ...)"`:
 *     NAME='value'
 *   NAME is the key without the listing's prefix, upper-cased (ASCII
 *   a-z), every byte outside [A-Z0-9_] turned into '_', and '_' put in
 *   front when it would start with a digit: always a valid shell name.
 *   The value sits in single quotes, where a POSIX shell expands nothing
 *   ($, `, \, newlines are literal); a single quote in it is written '\''
 *   (close, escaped quote, reopen). NUL is the one byte a shell variable
 *   cannot hold, so an entry whose value has one is skipped, as is one
 *   whose NAME would be empty (the key equals the prefix):
 *     # skipped: <key>
 *   with the key escaped as for lines, so a newline in it cannot end the
 *   comment and start a command. Entries come in key order; two keys with
 *   the same NAME both print, so the later key wins in the shell.
 *
 * lines, one line per entry:
 *     key<TAB>value
 *   with the full key; a tab, newline or backslash inside key or value is
 *   written \t, \n, \\. Every other byte (CR, NUL, invalid UTF-8) is
 *   written as it is.
 *
 * Both write only into the buffer (its oom flag reports failure).
 */
#include <string.h>

#include "request.h"

/* Appends p[0..n) with tab, newline and backslash escaped. */
static void add_escaped(struct api_buf *b, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (run < n && p[run] != '\t' && p[run] != '\n' && p[run] != '\\')
			run++;
		api_buf_add(b, p + i, run - i);
		if (run == n)
			break;
		api_buf_adds(b, p[run] == '\t' ? "\\t" : p[run] == '\n' ? "\\n" : "\\\\");
		i = run + 1;
	}
}

static void add_name(struct api_buf *b, const uint8_t *p, size_t n)
{
	if (!api_buf_reserve(b, n + 1))
		return;
	if (p[0] >= '0' && p[0] <= '9')
		api_buf_add(b, "_", 1);
	for (size_t i = 0; i < n; i++) {
		char c = (char)p[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			c = '_';
		api_buf_add(b, &c, 1);
	}
}

/* Appends p[0..n) between single quotes, each ' written as '\''. */
static void add_quoted(struct api_buf *b, const uint8_t *p, size_t n)
{
	size_t i = 0;
	api_buf_add(b, "'", 1);
	while (i < n) {
		const uint8_t *q = memchr(p + i, '\'', n - i);
		size_t run = q != NULL ? (size_t)(q - p) : n;
		api_buf_add(b, p + i, run - i);
		if (q == NULL)
			break;
		api_buf_adds(b, "'\\''");
		i = run + 1;
	}
	api_buf_add(b, "'", 1);
}

void api_format_env(struct api_buf *b, const struct kv_entry *entries, size_t n,
		    struct cmd_bytes prefix)
{
	for (size_t i = 0; i < n; i++) {
		const struct kv_entry *e = &entries[i];
		bool under = e->key.len > prefix.len &&
			     (prefix.len == 0 || memcmp(e->key.p, prefix.p, prefix.len) == 0);
		bool nul = e->value.len > 0 && memchr(e->value.p, 0, e->value.len) != NULL;
		if (!under || nul) {
			api_buf_adds(b, "# skipped: ");
			add_escaped(b, e->key.p, e->key.len);
			api_buf_add(b, "\n", 1);
			continue;
		}
		add_name(b, e->key.p + prefix.len, e->key.len - prefix.len);
		api_buf_add(b, "=", 1);
		add_quoted(b, e->value.p, e->value.len);
		api_buf_add(b, "\n", 1);
	}
}

void api_format_lines(struct api_buf *b, const struct kv_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		add_escaped(b, entries[i].key.p, entries[i].key.len);
		api_buf_add(b, "\t", 1);
		add_escaped(b, entries[i].value.p, entries[i].value.len);
		api_buf_add(b, "\n", 1);
	}
}
