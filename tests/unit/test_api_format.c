/*
 * ?format=env and ?format=lines (api/format.c): NAME derivation, quoting
 * and escaping byte for byte; a real POSIX shell evaluating the env
 * output of hostile values (quotes, $(...), backticks, newlines, a key
 * that tries to end its comment) and getting exactly the values back,
 * with nothing executed; and the parameters over HTTP (fake backend).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api_http_client.h"
#include "api_test_server.h"
#include "request.h"

struct kv {
	const char *key;
	const char *value;
	size_t vlen; /* 0: strlen(value) */
};

static void fill(struct kv_entry *e, const struct kv *in, size_t n)
{
	memset(e, 0, n * sizeof *e);
	for (size_t i = 0; i < n; i++) {
		e[i].key =
		    (struct cmd_bytes){(const uint8_t *)in[i].key, (uint32_t)strlen(in[i].key)};
		size_t vl = in[i].vlen ? in[i].vlen : strlen(in[i].value);
		e[i].value = (struct cmd_bytes){(const uint8_t *)in[i].value, (uint32_t)vl};
	}
}

/* Renders env (prefix) or lines (prefix NULL) into a malloc'ed string;
 * *len gets its length. */
static char *render(const struct kv *in, size_t n, const char *prefix, size_t *len)
{
	struct kv_entry e[64];
	struct api_buf b;
	assert_true(n <= 64);
	fill(e, in, n);
	api_buf_init(&b, NULL, 0);
	if (prefix != NULL)
		api_format_env(
		    &b, e, n,
		    (struct cmd_bytes){(const uint8_t *)prefix, (uint32_t)strlen(prefix)});
	else
		api_format_lines(&b, e, n);
	assert_false(b.oom);
	char *s = malloc(b.len + 1);
	if (b.len > 0)
		memcpy(s, b.p, b.len);
	s[b.len] = '\0';
	*len = b.len;
	api_buf_reset(&b);
	return s;
}

static void expect_env(const struct kv *in, size_t n, const char *prefix, const char *want)
{
	size_t len;
	char *got = render(in, n, prefix, &len);
	assert_string_equal(got, want);
	free(got);
}

static void names_follow_the_contract(void **state)
{
	(void)state;
	const struct kv in[] = {
	    {"app/", "prefix itself", 0},
	    {"app/-", "dash", 0},
	    {"app/1x", "digit", 0},
	    {"app/Mixed.Case", "m", 0},
	    {"app/_ok_", "u", 0},
	    {"app/db/host", "h", 0},
	    {"app/port", "5432", 0},
	    {"app/\xc3\xa9t\xc3\xa9", "utf8", 0},
	    {"app/z9", "", 0},
	};
	expect_env(in, sizeof in / sizeof in[0], "app/",
		   "# skipped: app/\n"
		   "_='dash'\n"
		   "_1X='digit'\n"
		   "MIXED_CASE='m'\n"
		   "_OK_='u'\n"
		   "DB_HOST='h'\n"
		   "PORT='5432'\n"
		   "__T__='utf8'\n"
		   "Z9=''\n");
	/* the empty prefix: NAME is the whole key */
	const struct kv all[] = {{"a/b", "1", 0}, {"9", "2", 0}};
	expect_env(all, 2, "", "A_B='1'\n_9='2'\n");
	/* the prefix is bytewise: app/b lists app/bc, whose NAME is C */
	const struct kv partial[] = {{"app/b", "x", 0}, {"app/bc", "y", 0}};
	expect_env(partial, 2, "app/b", "# skipped: app/b\nC='y'\n");
	expect_env(NULL, 0, "app/", "");
}

static void values_are_single_quoted_and_nul_is_skipped(void **state)
{
	(void)state;
	const struct kv in[] = {
	    {"p/a", "it's", 0},
	    {"p/b", "'", 0},
	    {"p/c", "''", 0},
	    {"p/d", "a\nb\n", 0},
	    {"p/e", "$(x) `y` \\ \"z\" ${H}", 0},
	    {"p/f", "nul\0here", 8},
	    {"p/g\nh", "nul\0", 4}, /* skipped, and its key escaped */
	    {"p/i\\j\tk", "\0", 1},
	};
	expect_env(in, sizeof in / sizeof in[0], "p/",
		   "A='it'\\''s'\n"
		   "B=''\\'''\n"
		   "C=''\\'''\\'''\n"
		   "D='a\nb\n'\n"
		   "E='$(x) `y` \\ \"z\" ${H}'\n"
		   "# skipped: p/f\n"
		   "# skipped: p/g\\nh\n"
		   "# skipped: p/i\\\\j\\tk\n");
}

static void same_name_twice_prints_both_in_key_order(void **state)
{
	(void)state;
	/* '-' (0x2d) sorts before '_' (0x5f): the store's order */
	const struct kv in[] = {{"p/a-b", "first", 0}, {"p/a_b", "second", 0}, {"p/A.B", "x", 0}};
	expect_env(in, 3, "p/", "A_B='first'\nA_B='second'\nA_B='x'\n");
}

static void lines_escape_tab_newline_and_backslash(void **state)
{
	(void)state;
	const struct kv in[] = {
	    {"app/a", "plain", 0},
	    {"app/t\tk", "v\tw", 0},
	    {"app/n\nk", "line1\nline2\n", 0},
	    {"app/b\\k", "c:\\dir\\n", 0},
	    {"app/empty", "", 0},
	    {"app/raw", "cr\r nul\0 \xff", 10},
	};
	size_t len;
	char *got = render(in, sizeof in / sizeof in[0], NULL, &len);
	const char want[] = "app/a\tplain\n"
			    "app/t\\tk\tv\\tw\n"
			    "app/n\\nk\tline1\\nline2\\n\n"
			    "app/b\\\\k\tc:\\\\dir\\\\n\n"
			    "app/empty\t\n"
			    "app/raw\tcr\r nul\0 \xff\n";
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(got, want, len);
	free(got);
}

/* ---- a real shell ---- */

static char tmpdir[64];

static int shell_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/cairn-env-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int shell_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Runs `shell` in tmpdir: eval "$(cat file)", then prints each of names'
 * values NUL-terminated; returns the output (malloc'ed), *len its size. */
static char *eval_in(const char *shell, const char *file, const char *const *names, size_t n,
		     size_t *len)
{
	char script[4096];
	size_t k =
	    (size_t)snprintf(script, sizeof script, "eval \"$(cat '%s')\"; printf '%%s\\0'", file);
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(script + k, sizeof script - k, " \"$%s\"", names[i]);
	/* the script has quotes of its own: hand it over in a file */
	char cmd[256], spath[128];
	snprintf(spath, sizeof spath, "%s/script.sh", tmpdir);
	FILE *fp = fopen(spath, "w");
	assert_non_null(fp);
	fputs(script, fp);
	fclose(fp);
	snprintf(cmd, sizeof cmd, "cd '%s' && %s ./script.sh", tmpdir, shell);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t cap = 1 << 16;
	char *out = malloc(cap);
	*len = fread(out, 1, cap, p);
	assert_int_equal(pclose(p), 0);
	return out;
}

static void eval_of_env_sets_hostile_values_exactly(void **state)
{
	(void)state;
	static char big[20000];
	for (size_t i = 0; i < sizeof big - 1; i++)
		big[i] = "'\"$`\\\n(){};&|<> x"[i % 18];
	big[sizeof big - 1] = '\0';
	const struct kv in[] = {
	    {"app/", "$(touch pwned-prefix)", 0},
	    {"app/a", "it's", 0},
	    {"app/b", "$(touch pwned-dollar)", 0},
	    {"app/c", "`touch pwned-backtick`", 0},
	    {"app/d", "line1\nline2\n", 0},
	    {"app/e", "'; touch pwned-quote; '", 0},
	    {"app/f", "'\\''", 0},
	    {"app/g", "\\\\n \\ \"dq\" ${HOME} $HOME $$ $? $0 !x", 0},
	    {"app/h", "", 0},
	    {"app/i", "\xff\xfe not utf-8", 0},
	    {"app/j", "cr\rtab\t;|&<>*?[a]~", 0},
	    {"app/k", "'", 0},
	    {"app/l", "\n", 0},
	    {"app/m", big, 0},
	    {"app/n\n$(touch pwned-comment)", "nul\0", 4},
	    {"app/o", "a\0$(touch pwned-nul)", 20},
	    {"app/p-q", "first", 0},
	    {"app/p_q", "second wins", 0},
	    {"app/zz\n$(touch pwned-name)", "v", 0},
	};
	const char *const names[] = {"A", "B", "C", "D",   "E",
				     "F", "G", "H", "I",   "J",
				     "K", "L", "M", "P_Q", "ZZ___TOUCH_PWNED_NAME_"};
	const char *const want[] = {"it's",
				    "$(touch pwned-dollar)",
				    "`touch pwned-backtick`",
				    "line1\nline2\n",
				    "'; touch pwned-quote; '",
				    "'\\''",
				    "\\\\n \\ \"dq\" ${HOME} $HOME $$ $? $0 !x",
				    "",
				    "\xff\xfe not utf-8",
				    "cr\rtab\t;|&<>*?[a]~",
				    "'",
				    "\n",
				    big,
				    "second wins",
				    "v"};
	size_t n = sizeof names / sizeof names[0];
	size_t len;
	char *text = render(in, sizeof in / sizeof in[0], "app/", &len);
	char path[128];
	snprintf(path, sizeof path, "%s/env.txt", tmpdir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	fclose(fp);
	free(text);

	const char *shells[] = {"sh", "bash --posix", "bash", "dash"};
	int ran = 0;
	for (size_t s = 0; s < sizeof shells / sizeof shells[0]; s++) {
		char probe[64], first[16];
		sscanf(shells[s], "%15s", first);
		snprintf(probe, sizeof probe, "command -v %s >/dev/null 2>&1", first);
		if (system(probe) != 0)
			continue;
		ran++;
		char *out = eval_in(shells[s], "env.txt", names, n, &len);
		size_t off = 0;
		for (size_t i = 0; i < n; i++) {
			const char *v = out + off;
			size_t vl = strnlen(v, len - off);
			assert_true(off + vl < len);
			if (vl != strlen(want[i]) || memcmp(v, want[i], vl) != 0)
				fail_msg("%s: $%s is \"%.*s\", want \"%s\"", shells[s], names[i],
					 (int)(vl > 200 ? 200 : vl), v, want[i]);
			off += vl + 1;
		}
		assert_int_equal(off, len);
		free(out);
		/* nothing ran: no file appeared but ours */
		char cmd[256];
		snprintf(cmd, sizeof cmd,
			 "test -z \"$(ls '%s' | grep -v -e '^env.txt$' -e "
			 "'^script.sh$')\"",
			 tmpdir);
		if (system(cmd) != 0)
			fail_msg("%s: the eval created a file in %s", shells[s], tmpdir);
	}
	assert_true(ran >= 1);
}

/* ---- over HTTP ---- */

static struct http_resp last;

static struct http_resp *req(struct test_server *ts, const char *method, const char *target,
			     const void *body, size_t len)
{
	http_resp_free(&last);
	assert_int_equal(http_do(ts->port, method, target, body, len, &last), 0);
	return &last;
}

static enum fake_mode mode;

static int setup(void **state)
{
	*state = ts_start(mode, NULL);
	return 0;
}

static int teardown(void **state)
{
	http_resp_free(&last);
	ts_stop(*state);
	return 0;
}

static void formats_over_http(void **state)
{
	struct test_server *ts = *state;
	assert_int_equal(req(ts, "PUT", "/v1/kv/app/db/host", "10.0.0.5", 8)->status, 200);
	assert_int_equal(req(ts, "PUT", "/v1/kv/app/motd", "it's\nhere", 9)->status, 200);
	assert_int_equal(req(ts, "PUT", "/v1/kv/other", "x", 1)->status, 200);

	struct http_resp *r = req(ts, "GET", "/v1/kv/app/?recurse&format=env", NULL, 0);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "DB_HOST='10.0.0.5'\nMOTD='it'\\''s\nhere'\n");
	assert_string_equal(http_header(r, "Content-Type"), "text/plain");
	assert_string_equal(http_header(r, "X-Cairn-Index"), "2");

	r = req(ts, "GET", "/v1/kv/app/?recurse&format=lines", NULL, 0);
	assert_int_equal(r->status, 200);
	assert_string_equal(r->body, "app/db/host\t10.0.0.5\napp/motd\tit's\\nhere\n");
	assert_string_equal(http_header(r, "Content-Type"), "text/plain");

	r = req(ts, "GET", "/v1/kv/?recurse&format=lines", NULL, 0);
	assert_string_equal(r->body, "app/db/host\t10.0.0.5\napp/motd\tit's\\nhere\nother\tx\n");
	r = req(ts, "GET", "/v1/kv/app/?recurse=true&format=json", NULL, 0);
	assert_int_equal(r->status, 200);
	assert_string_equal(http_header(r, "Content-Type"), "application/json");
	assert_int_equal(r->body[0], '[');

	/* nothing under the prefix: 200 and an empty body */
	r = req(ts, "GET", "/v1/kv/none/?recurse&format=env", NULL, 0);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->body_len, 0);
	assert_string_equal(http_header(r, "Content-Type"), "text/plain");

	/* HEAD: the headers alone; blocking parameters pass through */
	r = req(ts, "HEAD", "/v1/kv/app/?recurse&format=env&index=1&wait=1s", NULL, 0);
	assert_int_equal(r->status, 200);
	assert_int_equal(fake_seen(ts->fake)->query.min_index, 1);
	assert_true(fake_seen(ts->fake)->query.recurse);
	assert_false(fake_seen(ts->fake)->query.keys_only);

	/* backend errors stay JSON */
	fake_fail_next(ts->fake, 1, API_NO_LEADER, "no leader");
	r = req(ts, "GET", "/v1/kv/app/?recurse&format=env", NULL, 0);
	assert_int_equal(r->status, 503);
	assert_string_equal(http_header(r, "Content-Type"), "application/json");
}

static void format_parameter_errors(void **state)
{
	struct test_server *ts = *state;
	struct http_resp *r = req(ts, "GET", "/v1/kv/app/?format=env", NULL, 0);
	assert_int_equal(r->status, 400);
	assert_string_equal(r->body, "{\"error\":\"format=env lists a prefix: add recurse\","
				     "\"code\":\"bad_request\"}");
	r = req(ts, "GET", "/v1/kv/app/x?format=lines", NULL, 0);
	assert_int_equal(r->status, 400);
	r = req(ts, "GET", "/v1/kv/app/?recurse&format=yaml", NULL, 0);
	assert_int_equal(r->status, 400);
	assert_string_equal(r->body,
			    "{\"error\":\"invalid value for query parameter \\\"format\\\": "
			    "expected one of json, env, lines\",\"code\":\"bad_request\"}");
	r = req(ts, "GET", "/v1/kv/app/?recurse&format", NULL, 0);
	assert_int_equal(r->status, 400);
	r = req(ts, "GET", "/v1/kv/app/?recurse&format=ENV", NULL, 0);
	assert_int_equal(r->status, 400);
	r = req(ts, "GET", "/v1/kv/app/?recurse&format=env&format=env", NULL, 0);
	assert_int_equal(r->status, 400);
	r = req(ts, "GET", "/v1/kv/app/?keys&format=env", NULL, 0);
	assert_int_equal(r->status, 400);
	r = req(ts, "GET", "/v1/kv/app/?recurse&keys&format=lines", NULL, 0);
	assert_int_equal(r->status, 400);
	assert_string_equal(r->body,
			    "{\"error\":\"format=lines does not combine with keys or raw\","
			    "\"code\":\"bad_request\"}");
	r = req(ts, "PUT", "/v1/kv/app/x?format=env", "v", 1);
	assert_int_equal(r->status, 400);
	r = req(ts, "DELETE", "/v1/kv/app/?recurse&format=env", NULL, 0);
	assert_int_equal(r->status, 400);
	/* %-encoded is the same parameter */
	r = req(ts, "GET", "/v1/kv/app/?recurse&format=%65nv", NULL, 0);
	assert_int_equal(r->status, 200);
	assert_int_equal(fake_queries(ts->fake), 1);
}

int main(void)
{
	const struct CMUnitTest rendering[] = {
	    cmocka_unit_test(names_follow_the_contract),
	    cmocka_unit_test(values_are_single_quoted_and_nul_is_skipped),
	    cmocka_unit_test(same_name_twice_prints_both_in_key_order),
	    cmocka_unit_test(lines_escape_tab_newline_and_backslash),
	    cmocka_unit_test_setup_teardown(eval_of_env_sets_hostile_values_exactly, shell_setup,
					    shell_teardown),
	};
	const struct CMUnitTest http[] = {
	    cmocka_unit_test_setup_teardown(formats_over_http, setup, teardown),
	    cmocka_unit_test_setup_teardown(format_parameter_errors, setup, teardown),
	};
	int failed = cmocka_run_group_tests_name("api_format", rendering, NULL, NULL);
	static const enum fake_mode modes[] = {FAKE_SYNC, FAKE_ASYNC};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		mode = modes[i];
		failed += cmocka_run_group_tests_name("api_format_http", http, NULL, NULL);
	}
	return failed;
}
