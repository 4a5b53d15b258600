/*
 * libFuzzer target for the membership codec (raftcore/membership.c), the
 * payload of RC_ENTRY_CONFIG entries, read back from every log on restart.
 *
 * Whenever rc_membership_decode accepts an input, these must hold: the
 * membership is valid (n in range, ids non-zero and unique, addresses
 * terminated), rc_membership_find finds every member, re-encoding gives
 * back the very same bytes, and decoding those gives an equal membership.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/rc_msg_equal.h"
#include "raftcore.h"

#define CHECK(cond)                                                                       \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "property failed: %s (%s:%d)\n", #cond, __FILE__, \
				__LINE__);                                                \
			abort();                                                          \
		}                                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rc_membership m, again;
	uint8_t *buf;
	int n;

	if (rc_membership_decode(data, size, &m) != 0)
		return 0;
	CHECK(m.n <= RC_MAX_MEMBERS);
	for (uint32_t i = 0; i < m.n; i++) {
		CHECK(m.members[i].id != 0);
		CHECK(memchr(m.members[i].addr, '\0', RC_ADDR_MAX) != NULL);
		CHECK(rc_membership_find(&m, m.members[i].id) == &m.members[i]);
	}
	CHECK(rc_membership_find(&m, 0) == NULL);
	CHECK(rc_membership_encoded_size(&m) == size);
	buf = malloc(size);
	CHECK(buf != NULL);
	n = rc_membership_encode(&m, buf, size);
	CHECK(n == (int)size);
	CHECK(memcmp(buf, data, size) == 0);
	CHECK(rc_membership_decode(buf, size, &again) == 0);
	CHECK(membership_equal(&m, &again));
	free(buf);
	return 0;
}
