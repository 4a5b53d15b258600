/*
 * The membership wire format, for the codecs inside raftcore: codec.c embeds
 * a membership in InstallSnapshot frames with the same bytes that
 * rc_membership_encode() writes into RC_ENTRY_CONFIG entries. Internal to
 * raftcore; the public functions are in raftcore.h.
 */
#ifndef CAIRN_RAFTCORE_MEMBERSHIP_H
#define CAIRN_RAFTCORE_MEMBERSHIP_H

#include <stddef.h>

#include "bytes.h"
#include "raftcore.h"

#define RC_MEMBERSHIP_VERSION 1

/* 0 when m can be encoded: n <= RC_MAX_MEMBERS, ids non-zero and unique,
 * every addr NUL-terminated within RC_ADDR_MAX. -RC_EINVAL otherwise. */
int membership_wire_check(const struct rc_membership *m);

/* Encoded size of m; m must pass membership_wire_check. */
size_t membership_wire_size(const struct rc_membership *m);

/* Writes m at w, which has room for membership_wire_size(m) bytes; m must
 * pass membership_wire_check. */
void membership_wire_put(struct bytes_writer *w, const struct rc_membership *m);

/* Reads one membership at r into out (overwritten whole, unused bytes
 * zeroed) and validates it as membership_wire_check does. Returns 0 or
 * -RC_ECORRUPT; on failure r has failed too and out is unspecified. */
int membership_wire_get(struct bytes_reader *r, struct rc_membership *out);

#endif
