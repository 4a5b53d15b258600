/*
 * Test fixture: the HTTP front on 127.0.0.1 and an ephemeral port over a
 * fake backend (api_fake_backend.h), torn down the way the node must do
 * it: fail what the backend holds, stop the front, check every lent query
 * result came back, free the backend.
 */
#ifndef CAIRN_TEST_API_TEST_SERVER_H
#define CAIRN_TEST_API_TEST_SERVER_H

#include <stdint.h>

#include "api_fake_backend.h"
#include "http.h"

struct test_server {
	struct fake *fake;
	struct api_http *http;
	uint16_t port;
};

/* o NULL: the defaults. The port is always 0 (ephemeral). Fails the test
 * on error. Owned by the caller (ts_stop). */
struct test_server *ts_start(enum fake_mode mode, const struct api_http_options *o);
void ts_stop(struct test_server *ts);

#endif
