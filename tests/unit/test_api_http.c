/*
 * The HTTP front as a client sees it, over raw sockets: routing errors,
 * validation errors (keys, percent-encoding, numbers, durations, unknown
 * parameters), body limits enforced while the body streams in, keep-alive,
 * concurrency through the suspend/resume hand-off, long-polls, start-up
 * failures, and what libmicrohttpd itself refuses.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api_http_client.h"
#include "api_test_server.h"

static struct http_resp last;

static int setup_sync(void **state)
{
	*state = ts_start(FAKE_SYNC, NULL);
	return 0;
}

static int setup_async(void **state)
{
	*state = ts_start(FAKE_ASYNC, NULL);
	return 0;
}

static int setup_threads(void **state)
{
	struct api_http_options o;
	api_http_options_default(&o);
	o.threads = 4;
	*state = ts_start(FAKE_AFTER_RET, &o);
	return 0;
}

static int setup_racing(void **state)
{
	*state = ts_start(FAKE_AFTER_RET, NULL);
	return 0;
}

/* Small limits, to test them cheaply. */
static int setup_small(void **state)
{
	struct api_http_options o;
	api_http_options_default(&o);
	o.max_value = 16;
	o.max_body = 64;
	*state = ts_start(FAKE_ASYNC, &o);
	return 0;
}

static int teardown(void **state)
{
	http_resp_free(&last);
	ts_stop(*state);
	return 0;
}

static struct http_resp *req(struct test_server *ts, const char *method, const char *target,
			     const char *body)
{
	http_resp_free(&last);
	assert_int_equal(http_do(ts->port, method, target, body, body ? strlen(body) : 0, &last),
			 0);
	return &last;
}

/* Sends raw bytes on a fresh connection and reads one response. */
static struct http_resp *raw(struct test_server *ts, const char *bytes)
{
	http_resp_free(&last);
	int fd = http_connect(ts->port);
	assert_true(fd >= 0);
	assert_int_equal(http_sends(fd, bytes), 0);
	http_read(fd, false, &last);
	close(fd);
	return &last;
}

static void assert_header(const struct http_resp *r, const char *name, const char *want)
{
	const char *v = http_header(r, name);
	if (v == NULL)
		fail_msg("header %s missing in:\n%s", name, r->head);
	assert_string_equal(v, want);
}

static void assert_error(const struct http_resp *r, int status, const char *code,
			 const char *msg_part)
{
	char want[64];
	if (r->status != status)
		fail_msg("status %d, want %d: %s", r->status, status, r->body);
	snprintf(want, sizeof want, "\"code\":\"%s\"}", code);
	if (strstr(r->body, want) == NULL || strncmp(r->body, "{\"error\":\"", 10) != 0)
		fail_msg("body %s, want code %s", r->body, code);
	if (msg_part != NULL && strstr(r->body, msg_part) == NULL)
		fail_msg("body %s lacks %s", r->body, msg_part);
	assert_header(r, "Content-Type", "application/json");
	assert_non_null(http_header(r, "X-Cairn-Index"));
	assert_non_null(http_header(r, "X-Cairn-Leader"));
	assert_non_null(http_header(r, "X-Cairn-Node"));
}

static void unknown_path_is_404(void **state)
{
	struct test_server *ts = *state;
	assert_error(req(ts, "GET", "/v1/nothing", NULL), 404, "not_found", "/v1/nothing");
	assert_error(req(ts, "GET", "/v1/kv", NULL), 404, "not_found", NULL);
	assert_error(req(ts, "GET", "/v1/status/", NULL), 404, "not_found", NULL);
	assert_error(req(ts, "DELETE", "/", NULL), 404, "not_found", NULL);
	assert_error(req(ts, "GET", "/v1/%6bv/a", NULL), 404, "not_found", NULL);
	assert_error(req(ts, "POST", "/v1/txn/x", "{}"), 404, "not_found", NULL);
	assert_int_equal(fake_seen(ts->fake)->queries + fake_seen(ts->fake)->submits, 0);
}

static void wrong_method_is_405_with_allow(void **state)
{
	struct test_server *ts = *state;
	assert_error(req(ts, "POST", "/v1/kv/a", "x"), 405, "method_not_allowed", "POST");
	assert_header(&last, "Allow", "GET, HEAD, PUT, DELETE");
	assert_error(req(ts, "PATCH", "/v1/kv/a", NULL), 405, "method_not_allowed", NULL);
	assert_error(req(ts, "PUT", "/v1/status", "x"), 405, "method_not_allowed", NULL);
	assert_header(&last, "Allow", "GET, HEAD");
	assert_error(req(ts, "DELETE", "/v1/health", NULL), 405, "method_not_allowed", NULL);
	/* 405 comes before looking at the key or the parameters */
	assert_error(req(ts, "POST", "/v1/kv/%zz?bogus", NULL), 405, "method_not_allowed", NULL);
}

static void malformed_percent_encoding_is_400(void **state)
{
	struct test_server *ts = *state;
	const char *bad[] = {"/v1/kv/a%zz",      "/v1/kv/a%4",   "/v1/kv/a%",    "/v1/kv/%g0",
			     "/v1/kv/a?raw=%z1", "/v1/kv/a?%zz", "/v1/kv/a?ra%w"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_error(req(ts, "GET", bad[i], NULL), 400, "bad_request", "percent-encoding");
	assert_error(req(ts, "PUT", "/v1/kv/a?cas=%", "v"), 400, "bad_request", "percent-encoding");
	assert_int_equal(fake_seen(ts->fake)->queries + fake_seen(ts->fake)->submits, 0);
	/* upper and lower case hex both decode */
	assert_int_equal(req(ts, "PUT", "/v1/kv/%4a%4A", "v")->status, 200);
	assert_non_null(strstr(last.body, "\"key\":\"JJ\""));
}

static void nul_in_key_is_400(void **state)
{
	struct test_server *ts = *state;
	assert_error(req(ts, "GET", "/v1/kv/a%00b", NULL), 400, "bad_request", "NUL");
	assert_error(req(ts, "PUT", "/v1/kv/%00", "v"), 400, "bad_request", "NUL");
	assert_error(req(ts, "GET", "/v1/kv/a%00?recurse", NULL), 400, "bad_request", "NUL");
	assert_int_equal(fake_seen(ts->fake)->queries + fake_seen(ts->fake)->submits, 0);
}

static void key_of_513_bytes_is_413(void **state)
{
	struct test_server *ts = *state;
	char target[2048];
	int n = snprintf(target, sizeof target, "/v1/kv/");
	memset(target + n, 'k', 512);
	target[n + 512] = '\0';
	assert_int_equal(req(ts, "PUT", target, "v")->status, 200);
	assert_int_equal(req(ts, "GET", target, NULL)->status, 200);
	strcat(target, "k");
	assert_error(req(ts, "PUT", target, "v"), 413, "too_large", "512");
	assert_error(req(ts, "GET", target, NULL), 413, "too_large", NULL);
	/* the limit is on decoded bytes: 171 x "%e2%82%ac" is 513 bytes */
	n = snprintf(target, sizeof target, "/v1/kv/");
	for (int i = 0; i < 171; i++)
		n += snprintf(target + n, sizeof target - (size_t)n, "%%e2%%82%%ac");
	assert_error(req(ts, "GET", target, NULL), 413, "too_large", NULL);
	/* ... and 170 of them plus "ab" is 512 bytes: fine */
	target[n - 9] = '\0';
	strcat(target, "ab");
	assert_int_equal(req(ts, "PUT", target, "v")->status, 200);
}

static void key_shape_rules(void **state)
{
	struct test_server *ts = *state;
	assert_error(req(ts, "GET", "/v1/kv//a", NULL), 400, "bad_request", "start with");
	assert_error(req(ts, "PUT", "/v1/kv/%2Fa", "v"), 400, "bad_request", "start with");
	assert_error(req(ts, "GET", "/v1/kv/", NULL), 400, "bad_request", "empty key");
	assert_error(req(ts, "PUT", "/v1/kv/", "v"), 400, "bad_request", "empty key");
	assert_error(req(ts, "DELETE", "/v1/kv/", NULL), 400, "bad_request", "empty key");
	assert_error(req(ts, "GET", "/v1/kv/%ff", NULL), 400, "bad_request", "UTF-8");
	assert_error(req(ts, "PUT", "/v1/kv/a%c0%af", "v"), 400, "bad_request", "UTF-8");
	assert_int_equal(req(ts, "DELETE", "/v1/kv/?recurse", NULL)->status, 200);
	assert_int_equal(req(ts, "GET", "/v1/kv/?recurse", NULL)->status, 200);
}

static void bad_durations_are_400(void **state)
{
	struct test_server *ts = *state;
	/* (A raw space, "1 s", is refused earlier, as a control byte in the
	 * target: see the bad-input integration test.) */
	const char *bad[] = {"10",
			     "1.5s",
			     "-1s",
			     "%2B1s",
			     "10x",
			     "s",
			     "",
			     "1S",
			     "1sec",
			     "0x10s",
			     "99999999999999999999ms", /* over 2^64 */
			     "5124095576031h",         /* 2^64 ms overflows */
			     "18446744073709552s"};
	char target[128];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(target, sizeof target, "/v1/kv/a?index=0&wait=%s", bad[i]);
		assert_error(req(ts, "GET", target, NULL), 400, "bad_request", "duration");
	}
	assert_error(req(ts, "GET", "/v1/kv/a?index=0&wait", NULL), 400, "bad_request", "duration");
	const char *good[] = {"500ms", "10s", "5m", "1h", "0s", "5124095576030h"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(target, sizeof target, "/v1/kv/a?index=0&wait=%s", good[i]);
		assert_int_equal(req(ts, "GET", target, NULL)->status, 404);
	}
}

static void bad_unsigned_integers_are_400(void **state)
{
	struct test_server *ts = *state;
	const char *bad[] = {"-1",
			     "%2B1",
			     "1e3",
			     "%201",
			     "18446744073709551616",
			     "",
			     "0x10",
			     "1.0",
			     "99999999999999999999999"};
	char target[128];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(target, sizeof target, "/v1/kv/a?cas=%s", bad[i]);
		assert_error(req(ts, "PUT", target, "v"), 400, "bad_request", "unsigned integer");
		snprintf(target, sizeof target, "/v1/kv/a?index=%s", bad[i]);
		assert_error(req(ts, "GET", target, NULL), 400, "bad_request", "unsigned integer");
	}
	assert_error(req(ts, "PUT", "/v1/kv/a?cas", "v"), 400, "bad_request", "unsigned integer");
	assert_int_equal(fake_seen(ts->fake)->submits, 0);
	assert_int_equal(req(ts, "PUT", "/v1/kv/a?cas=18446744073709551615", "v")->status, 409);
	assert_int_equal(fake_seen(ts->fake)->cmd.u.put.cas, UINT64_MAX);
	assert_int_equal(req(ts, "PUT", "/v1/kv/a?cas=00", "v")->status, 200);
}

static void unknown_and_misplaced_parameters_are_400(void **state)
{
	struct test_server *ts = *state;
	assert_error(req(ts, "GET", "/v1/kv/a?foo", NULL), 400, "bad_request",
		     "unknown query parameter \\\"foo\\\"");
	assert_error(req(ts, "GET", "/v1/kv/a?raw&fo%6f=1", NULL), 400, "bad_request",
		     "\\\"foo\\\"");
	assert_error(req(ts, "GET", "/v1/kv/a?=1", NULL), 400, "bad_request", "unknown");
	assert_error(req(ts, "GET", "/v1/kv/a?format=env", NULL), 400, "bad_request",
		     "format=env lists a prefix: add recurse");
	assert_error(req(ts, "PUT", "/v1/kv/a?session=abc", "v"), 400, "bad_request", "session");
	assert_error(req(ts, "PUT", "/v1/kv/a?raw", "v"), 400, "bad_request",
		     "\\\"raw\\\" is not allowed with PUT");
	assert_error(req(ts, "GET", "/v1/kv/a?cas=1", NULL), 400, "bad_request",
		     "not allowed with GET");
	assert_error(req(ts, "DELETE", "/v1/kv/a?stale", NULL), 400, "bad_request",
		     "not allowed with DELETE");
	assert_error(req(ts, "PUT", "/v1/kv/a?cas=1&cas=2", "v"), 400, "bad_request", "twice");
	assert_error(req(ts, "GET", "/v1/kv/a?raw=maybe", NULL), 400, "bad_request", "true");
	assert_error(req(ts, "GET", "/v1/kv/a?wait=1s", NULL), 400, "bad_request", "index");
	assert_error(req(ts, "GET", "/v1/kv/a?raw&recurse", NULL), 400, "bad_request", "raw");
	assert_error(req(ts, "GET", "/v1/kv/a?raw&keys", NULL), 400, "bad_request", "raw");
	assert_error(req(ts, "DELETE", "/v1/kv/a?recurse&cas=1", NULL), 400, "bad_request", "cas");
	assert_error(req(ts, "GET", "/v1/status?verbose", NULL), 400, "bad_request", "verbose");
	assert_error(req(ts, "GET", "/v1/health?x=1", NULL), 400, "bad_request", "\\\"x\\\"");
	/* a hostile name is shown printable and cut */
	char target[256];
	snprintf(target, sizeof target, "/v1/kv/a?%%01%%ff%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_error(req(ts, "GET", target, NULL), 400, "bad_request", "\\\"??aaa");
	assert_int_equal(fake_seen(ts->fake)->queries + fake_seen(ts->fake)->submits, 0);
	/* empty pieces and false flags are fine */
	assert_int_equal(req(ts, "GET", "/v1/kv/a?&&raw=false&", NULL)->status, 404);
	assert_int_equal(req(ts, "GET", "/v1/kv/a?raw=0&stale=1&recurse=", NULL)->status, 200);
}

/* Waits up to ms for fd to become readable. */
static bool readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, ms) == 1;
}

static void declared_body_over_the_limit_is_refused_before_it_is_sent(void **state)
{
	struct test_server *ts = *state;
	int fd = http_connect(ts->port);
	assert_int_equal(http_sends(fd, "PUT /v1/kv/a HTTP/1.1\r\nHost: t\r\n"
					"Content-Length: 1000000\r\n\r\n"),
			 0);
	/* no body byte sent: the answer must come anyway */
	assert_true(readable(fd, 2000));
	http_resp_free(&last);
	assert_int_equal(http_read(fd, false, &last), 0);
	assert_error(&last, 413, "too_large", "--max-value (16 bytes)");
	close(fd);

	fd = http_connect(ts->port);
	assert_int_equal(http_sends(fd, "PUT /v1/kv/a HTTP/1.1\r\nHost: t\r\n"
					"Expect: 100-continue\r\nContent-Length: 17\r\n\r\n"),
			 0);
	http_resp_free(&last);
	assert_int_equal(http_read(fd, false, &last), 0);
	assert_error(&last, 413, "too_large", NULL);
	close(fd);

	/* exactly at the limit is fine; one more byte is not */
	assert_int_equal(req(ts, "PUT", "/v1/kv/a", "0123456789abcdef")->status, 200);
	assert_error(req(ts, "PUT", "/v1/kv/a", "0123456789abcdefg"), 413, "too_large", NULL);
	/* a body where none is wanted is bounded by max_body (64) */
	assert_int_equal(req(ts, "GET", "/v1/kv/a?raw", "ignored body")->status, 200);
	char big[100];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_error(req(ts, "GET", "/v1/kv/a", big), 413, "too_large", "64 bytes");
	assert_int_equal(fake_seen(ts->fake)->submits, 1);
}

static void chunked_body_over_the_limit_is_413(void **state)
{
	struct test_server *ts = *state;
	int fd = http_connect(ts->port);
	assert_int_equal(http_sends(fd, "PUT /v1/kv/c HTTP/1.1\r\nHost: t\r\n"
					"Transfer-Encoding: chunked\r\n\r\n"
					"a\r\n0123456789\r\n"),
			 0);
	assert_false(readable(fd, 100)); /* 10 bytes: under the limit */
	assert_int_equal(http_sends(fd, "a\r\n0123456789\r\n0\r\n\r\n"), 0);
	http_resp_free(&last);
	assert_int_equal(http_read(fd, false, &last), 0);
	assert_error(&last, 413, "too_large", "--max-value");
	close(fd);
	assert_int_equal(fake_seen(ts->fake)->submits, 0);

	/* within the limit, chunked works */
	assert_int_equal(raw(ts, "PUT /v1/kv/c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
			     ->status,
			 200);
	assert_non_null(strstr(last.body, "\"value\":\"abcde\""));
}

static void chunked_body_past_max_body_drops_the_connection(void **state)
{
	struct test_server *ts = *state;
	char chunk[64];
	int fd = http_connect(ts->port);
	assert_int_equal(http_sends(fd, "PUT /v1/kv/c HTTP/1.1\r\nHost: t\r\n"
					"Transfer-Encoding: chunked\r\n\r\n"),
			 0);
	memset(chunk, 'x', sizeof chunk);
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++) {
		char size[16];
		snprintf(size, sizeof size, "%zx\r\n", sizeof chunk);
		rc = http_sends(fd, size);
		if (rc == 0)
			rc = http_send(fd, chunk, sizeof chunk);
		if (rc == 0)
			rc = http_sends(fd, "\r\n");
	}
	/* the server closed: no answer, and reading ends */
	http_resp_free(&last);
	assert_int_equal(http_read(fd, false, &last), -1);
	assert_int_equal(last.status, 0);
	close(fd);
	/* and it keeps serving everyone else */
	assert_int_equal(req(ts, "GET", "/v1/kv/c", NULL)->status, 404);
}

static void keep_alive_serves_many_requests(void **state)
{
	struct test_server *ts = *state;
	int fd = http_connect(ts->port);
	char buf[256];
	for (int i = 0; i < 50; i++) {
		snprintf(buf, sizeof buf,
			 "PUT /v1/kv/ka HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n%02d", i);
		assert_int_equal(http_sends(fd, buf), 0);
		http_resp_free(&last);
		assert_int_equal(http_read(fd, false, &last), 0);
		assert_int_equal(last.status, 200);
		assert_int_equal(http_sends(fd, "GET /v1/kv/ka?raw HTTP/1.1\r\nHost: t\r\n\r\n"),
				 0);
		http_resp_free(&last);
		assert_int_equal(http_read(fd, false, &last), 0);
		assert_int_equal(last.status, 200);
		snprintf(buf, sizeof buf, "%02d", i);
		assert_string_equal(last.body, buf);
		/* an error answer keeps the connection too */
		assert_int_equal(http_sends(fd, "GET /v1/kv/ka?nope HTTP/1.1\r\nHost: t\r\n\r\n"),
				 0);
		http_resp_free(&last);
		assert_int_equal(http_read(fd, false, &last), 0);
		assert_int_equal(last.status, 400);
	}
	/* pipelined: three requests in one write */
	assert_int_equal(http_sends(fd, "GET /v1/kv/ka?raw HTTP/1.1\r\nHost: t\r\n\r\n"
					"GET /v1/kv/zz HTTP/1.1\r\nHost: t\r\n\r\n"
					"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n"),
			 0);
	int want[] = {200, 404, 200};
	for (int i = 0; i < 3; i++) {
		http_resp_free(&last);
		assert_int_equal(http_read(fd, false, &last), 0);
		assert_int_equal(last.status, want[i]);
	}
	close(fd);
}

struct client_arg {
	uint16_t port;
	int id;
	int ok;
};

static void *client(void *p)
{
	struct client_arg *a = p;
	struct http_resp r;
	char buf[256], want[32];
	int fd = http_connect(a->port);
	for (int i = 0; i < 200 && fd >= 0; i++) {
		snprintf(want, sizeof want, "c%d-%d", a->id, i);
		snprintf(buf, sizeof buf,
			 "PUT /v1/kv/c/%d HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n%s",
			 a->id, strlen(want), want);
		if (http_sends(fd, buf) != 0 || http_read(fd, false, &r) != 0)
			break;
		bool put_ok = r.status == 200;
		http_resp_free(&r);
		snprintf(buf, sizeof buf, "GET /v1/kv/c/%d?raw HTTP/1.1\r\nHost: t\r\n\r\n", a->id);
		if (http_sends(fd, buf) != 0 || http_read(fd, false, &r) != 0)
			break;
		if (put_ok && r.status == 200 && strcmp(r.body, want) == 0)
			a->ok++;
		http_resp_free(&r);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void concurrent_clients_are_all_answered(void **state)
{
	struct test_server *ts = *state;
	enum { N = 8 };
	pthread_t t[N];
	struct client_arg a[N];
	for (int i = 0; i < N; i++) {
		a[i] = (struct client_arg){ts->port, i, 0};
		pthread_create(&t[i], NULL, client, &a[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < N; i++)
		assert_int_equal(a[i].ok, 200);
	assert_int_equal(fake_index(ts->fake), N * 200);
	/* A raw answer's result is released once the request completes,
	 * just after its last byte went out: give that a moment. */
	for (int i = 0; i < 100 && fake_results_out(ts->fake) != 0; i++)
		usleep(10000);
	assert_int_equal(fake_results_out(ts->fake), 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void long_poll_waits_for_a_change(void **state)
{
	struct test_server *ts = *state;
	assert_int_equal(req(ts, "PUT", "/v1/kv/lp", "one")->status, 200);

	enum { N = 50 };
	int fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = http_connect(ts->port);
		assert_int_equal(http_sends(fds[i],
					    "GET /v1/kv/lp?index=1&wait=10s&raw HTTP/1.1\r\n"
					    "Host: t\r\n\r\n"),
				 0);
	}
	/* they wait (holding no thread: the fake's one worker is free) */
	for (int i = 0; i < 100 && fake_waiting(ts->fake) < N; i++)
		usleep(10000);
	assert_int_equal(fake_waiting(ts->fake), N);
	assert_false(readable(fds[0], 100));
	/* other requests are served meanwhile */
	assert_int_equal(req(ts, "GET", "/v1/kv/lp?raw", NULL)->status, 200);
	assert_int_equal(req(ts, "PUT", "/v1/kv/lp", "two")->status, 200);
	for (int i = 0; i < N; i++) {
		assert_true(readable(fds[i], 2000));
		http_resp_free(&last);
		assert_int_equal(http_read(fds[i], false, &last), 0);
		assert_int_equal(last.status, 200);
		assert_string_equal(last.body, "two");
		assert_header(&last, "X-Cairn-Index", "2");
		close(fds[i]);
	}
}

static void long_poll_times_out_with_the_same_index(void **state)
{
	struct test_server *ts = *state;
	assert_int_equal(req(ts, "PUT", "/v1/kv/lp", "one")->status, 200);
	uint64_t start = now_ms();
	struct http_resp *r = req(ts, "GET", "/v1/kv/lp?index=1&wait=200ms", NULL);
	assert_true(now_ms() - start >= 190);
	assert_int_equal(r->status, 200);
	assert_header(r, "X-Cairn-Index", "1");
	/* a missing key waits too, and stays 404 */
	start = now_ms();
	r = req(ts, "GET", "/v1/kv/none?index=0&wait=100ms", NULL);
	assert_true(now_ms() - start >= 90);
	assert_int_equal(r->status, 404);
}

static void delayed_backend_answers_through_resume(void **state)
{
	struct test_server *ts = *state;
	fake_set_delay_ms(ts->fake, 30);
	assert_int_equal(req(ts, "PUT", "/v1/kv/d", "v")->status, 200);
	assert_int_equal(req(ts, "GET", "/v1/kv/d?raw", NULL)->status, 200);
	assert_string_equal(last.body, "v");
	fake_fail_next(ts->fake, 1, API_NO_LEADER, "none");
	assert_error(req(ts, "DELETE", "/v1/kv/d", NULL), 503, "no_leader", "none");
}

static void start_fails_with_a_reason(void **state)
{
	struct test_server *ts = *state;
	struct api_http_options o;
	struct api_http *h = NULL;
	char errmsg[API_ERRMSG_SIZE];
	struct api_backend b = fake_backend(ts->fake);

	api_http_options_default(&o);
	o.port = ts->port;
	assert_int_equal(api_http_start(&o, &b, &h, errmsg), -1);
	assert_non_null(strstr(errmsg, "cannot listen on 127.0.0.1:"));
	assert_non_null(strstr(errmsg, "in use"));

	o.port = 0;
	o.max_value = API_VALUE_MAX_LIMIT + 1;
	assert_int_equal(api_http_start(&o, &b, &h, errmsg), -1);
	assert_non_null(strstr(errmsg, "max-value"));

	api_http_options_default(&o);
	o.port = 0;
	o.host = "no.such.host.invalid";
	assert_int_equal(api_http_start(&o, &b, &h, errmsg), -1);
	assert_non_null(strstr(errmsg, "no.such.host.invalid"));

	api_http_options_default(&o);
	b.meta = NULL;
	assert_int_equal(api_http_start(&o, &b, &h, errmsg), -1);
	assert_non_null(strstr(errmsg, "backend"));
	assert_null(h);
}

static void oversized_headers_and_garbage_are_refused(void **state)
{
	struct test_server *ts = *state;
	char *big = malloc(40000);
	int n = snprintf(big, 40000, "GET /v1/kv/a HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(big + n, 'a', 30000);
	strcpy(big + n + 30000, "\r\n\r\n");
	int fd = http_connect(ts->port);
	http_send(fd, big, strlen(big));
	http_resp_free(&last);
	http_read(fd, false, &last);
	assert_int_equal(last.status, 431);
	close(fd);
	free(big);

	struct http_resp *r = raw(ts, "GARBAGE\r\n\r\n");
	assert_true(r->status == 0 || r->status == 400);
	/* still serving */
	assert_int_equal(req(ts, "GET", "/v1/health", NULL)->status, 200);
	assert_int_equal(fake_results_out(ts->fake), 0);
}

struct stopper {
	struct api_http *http;
	uint64_t took_ms;
};

static void *stop_thread(void *p)
{
	struct stopper *s = p;
	uint64_t start = now_ms();
	api_http_stop(s->http);
	s->took_ms = now_ms() - start;
	return NULL;
}

/* api_http_stop waits for the backend to finish what it holds, and
 * answers 503 meanwhile instead of starting anything new. */
static void stop_waits_for_the_backend(void **state)
{
	(void)state;
	struct test_server *ts = ts_start(FAKE_ASYNC, NULL);
	int busy = http_connect(ts->port), idle = http_connect(ts->port);
	assert_int_equal(http_sends(idle, "GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
	http_resp_free(&last);
	assert_int_equal(http_read(idle, false, &last), 0);
	assert_int_equal(last.status, 200);

	fake_set_delay_ms(ts->fake, 300);
	assert_int_equal(http_sends(busy, "PUT /v1/kv/s HTTP/1.1\r\nHost: t\r\n"
					  "Content-Length: 1\r\n\r\nv"),
			 0);
	for (int i = 0; i < 100 && fake_submits(ts->fake) == 0; i++)
		usleep(5000);
	assert_int_equal(fake_submits(ts->fake), 1);

	struct stopper s = {ts->http, 0};
	pthread_t t;
	pthread_create(&t, NULL, stop_thread, &s);
	usleep(50000);
	assert_int_equal(http_sends(idle, "GET /v1/kv/s HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
	http_resp_free(&last);
	assert_int_equal(http_read(idle, false, &last), 0);
	assert_error(&last, 503, "no_leader", "shutting down");
	assert_header(&last, "Retry-After", "1");
	assert_int_equal(fake_queries(ts->fake), 0);
	pthread_join(t, NULL);
	assert_true(s.took_ms >= 200);
	assert_int_equal(fake_index(ts->fake), 1); /* the write did happen */
	close(busy);
	close(idle);
	http_resp_free(&last);
	assert_int_equal(fake_results_out(ts->fake), 0);
	fake_free(ts->fake);
	free(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(unknown_path_is_404, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(wrong_method_is_405_with_allow, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(malformed_percent_encoding_is_400, setup_sync,
					    teardown),
	    cmocka_unit_test_setup_teardown(nul_in_key_is_400, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(key_of_513_bytes_is_413, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(key_shape_rules, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(bad_durations_are_400, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(bad_unsigned_integers_are_400, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(unknown_and_misplaced_parameters_are_400, setup_sync,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		declared_body_over_the_limit_is_refused_before_it_is_sent, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(chunked_body_over_the_limit_is_413, setup_small,
					    teardown),
	    cmocka_unit_test_setup_teardown(chunked_body_past_max_body_drops_the_connection,
					    setup_small, teardown),
	    cmocka_unit_test_setup_teardown(keep_alive_serves_many_requests, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(keep_alive_serves_many_requests, setup_async, teardown),
	    cmocka_unit_test_setup_teardown(concurrent_clients_are_all_answered, setup_sync,
					    teardown),
	    cmocka_unit_test_setup_teardown(concurrent_clients_are_all_answered, setup_async,
					    teardown),
	    cmocka_unit_test_setup_teardown(concurrent_clients_are_all_answered, setup_racing,
					    teardown),
	    cmocka_unit_test_setup_teardown(concurrent_clients_are_all_answered, setup_threads,
					    teardown),
	    cmocka_unit_test(stop_waits_for_the_backend),
	    cmocka_unit_test_setup_teardown(long_poll_waits_for_a_change, setup_async, teardown),
	    cmocka_unit_test_setup_teardown(long_poll_times_out_with_the_same_index, setup_async,
					    teardown),
	    cmocka_unit_test_setup_teardown(delayed_backend_answers_through_resume, setup_async,
					    teardown),
	    cmocka_unit_test_setup_teardown(start_fails_with_a_reason, setup_sync, teardown),
	    cmocka_unit_test_setup_teardown(oversized_headers_and_garbage_are_refused, setup_sync,
					    teardown),
	};
	return cmocka_run_group_tests_name("api_http", tests, NULL, NULL);
}
