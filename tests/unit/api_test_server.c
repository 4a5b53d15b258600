/*
 * The api test fixture (api_test_server.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api_test_server.h"

struct test_server *ts_start(enum fake_mode mode, const struct api_http_options *o)
{
	struct test_server *ts = calloc(1, sizeof *ts);
	struct api_http_options opts;
	char errmsg[API_ERRMSG_SIZE];

	if (o != NULL)
		opts = *o;
	else
		api_http_options_default(&opts);
	opts.host = "127.0.0.1";
	opts.port = 0;
	ts->fake = fake_new(mode);
	struct api_backend b = fake_backend(ts->fake);
	if (api_http_start(&opts, &b, &ts->http, errmsg) != 0)
		fail_msg("api_http_start: %s", errmsg);
	ts->port = api_http_port(ts->http);
	assert_true(ts->port != 0);
	return ts;
}

void ts_stop(struct test_server *ts)
{
	fake_drain(ts->fake);
	api_http_stop(ts->http);
	assert_int_equal(fake_results_out(ts->fake), 0);
	fake_free(ts->fake);
	free(ts);
}
