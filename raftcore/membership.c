/*
 * Membership codec: the payload of RC_ENTRY_CONFIG log entries, and the
 * configuration carried by InstallSnapshot frames (see docs/WIRE.md).
 *
 *   version u8 (= RC_MEMBERSHIP_VERSION) | n u8 | n × member
 *   member  = id u64 | voter u8 (0/1) | addr_len u8 | addr[addr_len]
 *
 * Config entries live in the log for as long as the log is kept, so this
 * format carries its own version, independent of the peer wire version.
 *
 * Invariants of every membership that is encoded or decoded: at most
 * RC_MAX_MEMBERS members, ids non-zero and unique, each addr a string of
 * fewer than RC_ADDR_MAX bytes without an embedded NUL. The encoding is
 * canonical: a decoded membership encodes back to the same bytes.
 */
#include <string.h>

#include "membership.h"

#define MEMBER_FIXED_BYTES 10 /* id u64, voter u8, addr_len u8 */

int membership_wire_check(const struct rc_membership *m)
{
	if (m->n > RC_MAX_MEMBERS)
		return -RC_EINVAL;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct rc_member *a = &m->members[i];
		if (a->id == 0 || memchr(a->addr, '\0', RC_ADDR_MAX) == NULL)
			return -RC_EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (m->members[j].id == a->id)
				return -RC_EINVAL;
	}
	return 0;
}

size_t membership_wire_size(const struct rc_membership *m)
{
	size_t size = 2;
	assert(m->n <= RC_MAX_MEMBERS);
	for (uint32_t i = 0; i < m->n; i++)
		size += MEMBER_FIXED_BYTES + strlen(m->members[i].addr);
	return size;
}

void membership_wire_put(struct bytes_writer *w, const struct rc_membership *m)
{
	assert(membership_wire_check(m) == 0);
	bytes_put_u8(w, RC_MEMBERSHIP_VERSION);
	bytes_put_u8(w, (uint8_t)m->n);
	for (uint32_t i = 0; i < m->n; i++) {
		const struct rc_member *a = &m->members[i];
		size_t alen = strlen(a->addr); /* < RC_ADDR_MAX, by the check */
		bytes_put_u64(w, a->id);
		bytes_put_bool(w, a->voter);
		bytes_put_u8(w, (uint8_t)alen);
		bytes_put_bytes(w, a->addr, alen);
	}
}

int membership_wire_get(struct bytes_reader *r, struct rc_membership *out)
{
	uint8_t version, n;

	memset(out, 0, sizeof *out);
	version = bytes_get_u8(r);
	n = bytes_get_u8(r);
	if (!r->ok || version != RC_MEMBERSHIP_VERSION || n > RC_MAX_MEMBERS)
		goto corrupt;
	for (uint32_t i = 0; i < n; i++) {
		struct rc_member *a = &out->members[i];
		uint8_t alen;
		const uint8_t *addr;

		a->id = bytes_get_u64(r);
		a->voter = bytes_get_bool(r);
		alen = bytes_get_u8(r);
		if (alen >= RC_ADDR_MAX)
			goto corrupt;
		addr = bytes_get_bytes(r, alen);
		/* An embedded NUL would not survive the round trip. */
		if (!r->ok || memchr(addr, '\0', alen) != NULL)
			goto corrupt;
		memcpy(a->addr, addr, alen); /* the NUL is there from memset */
	}
	out->n = n;
	if (membership_wire_check(out) != 0)
		goto corrupt;
	return 0;

corrupt:
	r->ok = false;
	return -RC_ECORRUPT;
}

size_t rc_membership_encoded_size(const struct rc_membership *m)
{
	if (membership_wire_check(m) != 0)
		return 0;
	return membership_wire_size(m);
}

/* m is borrowed for the call; buf is the caller's. */
int rc_membership_encode(const struct rc_membership *m, void *buf, size_t cap)
{
	struct bytes_writer w;
	size_t size;

	if (membership_wire_check(m) != 0)
		return -RC_EINVAL;
	size = membership_wire_size(m);
	if (size > cap)
		return -RC_EINVAL;
	w = bytes_writer(buf, cap);
	membership_wire_put(&w, m);
	assert((size_t)(w.p - (uint8_t *)buf) == size);
	return (int)size; /* at most 2 + 16 × 105 bytes */
}

/* Decodes exactly len bytes: trailing bytes are corruption. out is
 * self-contained (addresses are copied): nothing in it points into buf. */
int rc_membership_decode(const void *buf, size_t len, struct rc_membership *out)
{
	struct bytes_reader r = bytes_reader(buf, len);

	if (membership_wire_get(&r, out) != 0 || r.left != 0) {
		memset(out, 0, sizeof *out);
		return -RC_ECORRUPT;
	}
	return 0;
}

const struct rc_member *rc_membership_find(const struct rc_membership *m, rc_id id)
{
	for (uint32_t i = 0; i < m->n && i < RC_MAX_MEMBERS; i++)
		if (m->members[i].id == id)
			return &m->members[i];
	return NULL;
}
