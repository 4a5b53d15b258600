/*
 * Deep equality of decoded peer messages and memberships, for the codec
 * unit tests and the fuzz targets: compares every field of the message's
 * type and the bytes behind every data pointer (not the pointers).
 */
#ifndef CAIRN_TESTS_RC_MSG_EQUAL_H
#define CAIRN_TESTS_RC_MSG_EQUAL_H

#include <stdbool.h>

#include "raftcore.h"

bool membership_equal(const struct rc_membership *a, const struct rc_membership *b);
bool msg_equal(const struct rc_message *a, const struct rc_message *b);

#endif
