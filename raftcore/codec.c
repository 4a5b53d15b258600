/*
 * Peer message codec: struct rc_message <-> one binary frame.
 *
 *   frame  = header (12) | body (body_len) | crc32c u32 over header and body
 *   header = magic u32 "CRN1" | version u8 | type u8 | reserved u16 (0)
 *            | body_len u32
 *   body   = from u64 | to u64 | term u64 | the type's fields
 *
 * All integers little-endian, packed field by field; docs/WIRE.md has the
 * layout of every body.
 *
 * Invariants:
 * - One rule set. check_message() is what a message must satisfy to be
 *   encoded, and a decoded message must satisfy it too, so whatever one node
 *   can send the other accepts, and a frame a correct peer could never have
 *   sent is rejected as corrupt.
 * - The encoding is canonical (booleans are 0/1, reserved bytes 0, no
 *   trailing bytes, lengths exact): encode(decode(frame)) == frame. The fuzz
 *   target checks this.
 * - Decoding never reads outside the input and never trusts a length or a
 *   count before comparing it with the bytes actually left.
 * - A failed decode leaves nothing allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "membership.h"
#include "raftcore.h"

#define FRAME_MAGIC 0x314E5243u /* the bytes 'C' 'R' 'N' '1' */
#define FRAME_TRAILER_BYTES 4   /* crc32c */
#define FRAME_OVERHEAD (RC_FRAME_HEADER_BYTES + FRAME_TRAILER_BYTES)
#define COMMON_BYTES 24       /* from, to, term */
#define ENTRY_HEADER_BYTES 21 /* term u64, index u64, type u8, len u32 */

/* Body bytes after the common fields, for the fixed-size bodies. */
static const size_t fixed_body[RC_MSG_TYPE_MAX + 1] = {
    [RC_MSG_APPEND] = 8 * 4 + 4, /* then the entries */
    [RC_MSG_APPEND_RESP] = 1 + 8 * 5,     [RC_MSG_VOTE] = 1 + 1 + 8 + 8, [RC_MSG_VOTE_RESP] = 1 + 1,
    [RC_MSG_SNAPSHOT] = 8 * 4 + 1 + 4, /* plus membership and data */
    [RC_MSG_SNAPSHOT_RESP] = 8 + 8 + 1,   [RC_MSG_TIMEOUT_NOW] = 0,      [RC_MSG_READ_INDEX] = 8,
    [RC_MSG_READ_INDEX_RESP] = 8 + 8 + 1,
};

static bool valid_entry_type(uint8_t type)
{
	return type == RC_ENTRY_COMMAND || type == RC_ENTRY_NOOP || type == RC_ENTRY_CONFIG;
}

/* The entries of an AppendEntries extend the leader's log right after
 * prev_index: consecutive indexes, terms never decreasing (terms in a Raft
 * log only grow, Raft paper 5.3) and never above the leader's term. */
static int check_append(const struct rc_message *m)
{
	const struct rc_msg_append *a = &m->u.append;
	rc_term last_term = a->prev_term;

	if (a->n_entries > 0 && a->entries == NULL)
		return -RC_EINVAL;
	if (a->prev_term > m->term || a->prev_index > UINT64_MAX - a->n_entries)
		return -RC_EINVAL;
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct rc_entry *e = &a->entries[i];
		if (e->index != a->prev_index + 1 + i || !valid_entry_type(e->type) ||
		    e->len > RC_MAX_ENTRY_BYTES || (e->len > 0 && e->data == NULL) ||
		    e->term < last_term || e->term > m->term)
			return -RC_EINVAL;
		last_term = e->term;
	}
	return 0;
}

/* A chunk lies inside the snapshot, and it is the last one exactly when it
 * reaches the end. */
static int check_snapshot(const struct rc_msg_snapshot *s)
{
	if (s->offset > s->size || s->len > s->size - s->offset ||
	    s->last != (s->offset + s->len == s->size) || (s->len > 0 && s->data == NULL))
		return -RC_EINVAL;
	return membership_wire_check(&s->membership);
}

static int check_message(const struct rc_message *m)
{
	if (m->type < 1 || m->type > RC_MSG_TYPE_MAX || m->from == 0 || m->to == 0)
		return -RC_EINVAL;
	switch (m->type) {
	case RC_MSG_APPEND:
		return check_append(m);
	case RC_MSG_SNAPSHOT:
		return check_snapshot(&m->u.snapshot);
	case RC_MSG_READ_INDEX_RESP:
		/* A failed read carries no index. */
		return (!m->u.read_index_resp.ok && m->u.read_index_resp.index != 0) ? -RC_EINVAL
										     : 0;
	default:
		return 0;
	}
}

/* Size of the frame for m, which passed check_message. */
static size_t frame_size(const struct rc_message *m)
{
	size_t body = COMMON_BYTES + fixed_body[m->type];

	if (m->type == RC_MSG_APPEND) {
		for (uint32_t i = 0; i < m->u.append.n_entries; i++)
			body += ENTRY_HEADER_BYTES + m->u.append.entries[i].len;
	} else if (m->type == RC_MSG_SNAPSHOT) {
		body += membership_wire_size(&m->u.snapshot.membership) + m->u.snapshot.len;
	}
	return FRAME_OVERHEAD + body;
}

/* 0 and *size when m can be encoded, else -RC_EINVAL. */
static int sized(const struct rc_message *m, size_t *size)
{
	int rv = check_message(m);
	if (rv != 0)
		return rv;
	*size = frame_size(m);
	return *size > RC_FRAME_MAX_BYTES ? -RC_EINVAL : 0;
}

/* Returns 0 when m cannot be encoded (rc_msg_encode would refuse it). */
size_t rc_msg_encoded_size(const struct rc_message *m)
{
	size_t size;
	return sized(m, &size) == 0 ? size : 0;
}

static void put_body(struct bytes_writer *w, const struct rc_message *m)
{
	bytes_put_u64(w, m->from);
	bytes_put_u64(w, m->to);
	bytes_put_u64(w, m->term);
	switch (m->type) {
	case RC_MSG_APPEND: {
		const struct rc_msg_append *a = &m->u.append;
		bytes_put_u64(w, a->prev_index);
		bytes_put_u64(w, a->prev_term);
		bytes_put_u64(w, a->commit);
		bytes_put_u64(w, a->seq);
		bytes_put_u32(w, a->n_entries);
		for (uint32_t i = 0; i < a->n_entries; i++) {
			const struct rc_entry *e = &a->entries[i];
			bytes_put_u64(w, e->term);
			bytes_put_u64(w, e->index);
			bytes_put_u8(w, e->type);
			bytes_put_u32(w, e->len);
			bytes_put_bytes(w, e->data, e->len);
		}
		break;
	}
	case RC_MSG_APPEND_RESP: {
		const struct rc_msg_append_resp *a = &m->u.append_resp;
		bytes_put_bool(w, a->success);
		bytes_put_u64(w, a->match_index);
		bytes_put_u64(w, a->reject_index);
		bytes_put_u64(w, a->hint_index);
		bytes_put_u64(w, a->hint_term);
		bytes_put_u64(w, a->seq);
		break;
	}
	case RC_MSG_VOTE:
		bytes_put_bool(w, m->u.vote.prevote);
		bytes_put_bool(w, m->u.vote.transfer);
		bytes_put_u64(w, m->u.vote.last_index);
		bytes_put_u64(w, m->u.vote.last_term);
		break;
	case RC_MSG_VOTE_RESP:
		bytes_put_bool(w, m->u.vote_resp.prevote);
		bytes_put_bool(w, m->u.vote_resp.granted);
		break;
	case RC_MSG_SNAPSHOT: {
		const struct rc_msg_snapshot *s = &m->u.snapshot;
		bytes_put_u64(w, s->index);
		bytes_put_u64(w, s->snap_term);
		bytes_put_u64(w, s->size);
		bytes_put_u64(w, s->offset);
		bytes_put_bool(w, s->last);
		membership_wire_put(w, &s->membership);
		bytes_put_u32(w, s->len);
		bytes_put_bytes(w, s->data, s->len);
		break;
	}
	case RC_MSG_SNAPSHOT_RESP:
		bytes_put_u64(w, m->u.snapshot_resp.index);
		bytes_put_u64(w, m->u.snapshot_resp.next_offset);
		bytes_put_bool(w, m->u.snapshot_resp.rejected);
		break;
	case RC_MSG_TIMEOUT_NOW:
		break;
	case RC_MSG_READ_INDEX:
		bytes_put_u64(w, m->u.read_index.ctx);
		break;
	case RC_MSG_READ_INDEX_RESP:
		bytes_put_u64(w, m->u.read_index_resp.ctx);
		bytes_put_u64(w, m->u.read_index_resp.index);
		bytes_put_bool(w, m->u.read_index_resp.ok);
		break;
	default:
		assert(0 && "type checked by check_message");
	}
}

/* m is borrowed for the call (entry and chunk data are copied into buf). */
int rc_msg_encode(const struct rc_message *m, void *buf, size_t cap)
{
	struct bytes_writer w;
	uint8_t *frame = buf;
	size_t size;
	int rv;

	rv = sized(m, &size);
	if (rv != 0)
		return rv;
	if (size > cap)
		return -RC_EINVAL;
	w = bytes_writer(buf, size);
	bytes_put_u32(&w, FRAME_MAGIC);
	bytes_put_u8(&w, RC_WIRE_VERSION);
	bytes_put_u8(&w, m->type);
	bytes_put_u16(&w, 0);
	bytes_put_u32(&w, (uint32_t)(size - FRAME_OVERHEAD));
	put_body(&w, m);
	bytes_put_u32(&w, rc_crc32c(0, frame, size - FRAME_TRAILER_BYTES));
	assert(w.p == w.end);
	return (int)size; /* <= RC_FRAME_MAX_BYTES, well inside an int */
}

/* The header alone proves these wrong; a stream reader can drop the peer
 * before waiting for a body. */
int64_t rc_frame_length(const void *header, size_t len)
{
	const uint8_t *h = header;
	uint32_t body_len;

	if (len < RC_FRAME_HEADER_BYTES)
		return -RC_EINVAL; /* the caller must wait for a whole header */
	body_len = bytes_load_u32(h + 8);
	if (bytes_load_u32(h) != FRAME_MAGIC || h[4] != RC_WIRE_VERSION || h[5] < 1 ||
	    h[5] > RC_MSG_TYPE_MAX || bytes_load_u16(h + 6) != 0 ||
	    body_len > RC_FRAME_MAX_BYTES - FRAME_OVERHEAD)
		return -RC_ECORRUPT;
	return (int64_t)body_len + FRAME_OVERHEAD;
}

/* On success a->entries is a new array (owned by the caller of decode) whose
 * data point into r's input. */
static int get_append(struct bytes_reader *r, struct rc_msg_append *a)
{
	struct rc_entry *entries;
	uint32_t n;

	a->prev_index = bytes_get_u64(r);
	a->prev_term = bytes_get_u64(r);
	a->commit = bytes_get_u64(r);
	a->seq = bytes_get_u64(r);
	n = bytes_get_u32(r);
	if (!r->ok)
		return -RC_ECORRUPT;
	if (n == 0)
		return 0;
	/* Every entry takes at least its header: bounds n before allocating. */
	if (n > r->left / ENTRY_HEADER_BYTES)
		return -RC_ECORRUPT;
	entries = malloc(n * sizeof *entries);
	if (entries == NULL)
		return -RC_ENOMEM;
	a->entries = entries;
	a->n_entries = n;
	for (uint32_t i = 0; i < n; i++) {
		struct rc_entry *e = &entries[i];
		e->term = bytes_get_u64(r);
		e->index = bytes_get_u64(r);
		e->type = bytes_get_u8(r);
		e->len = bytes_get_u32(r);
		e->data = bytes_get_bytes(r, e->len);
		if (!r->ok)
			return -RC_ECORRUPT;
	}
	return 0;
}

static int get_snapshot(struct bytes_reader *r, struct rc_msg_snapshot *s)
{
	s->index = bytes_get_u64(r);
	s->snap_term = bytes_get_u64(r);
	s->size = bytes_get_u64(r);
	s->offset = bytes_get_u64(r);
	s->last = bytes_get_bool(r);
	if (membership_wire_get(r, &s->membership) != 0)
		return -RC_ECORRUPT;
	s->len = bytes_get_u32(r);
	s->data = bytes_get_bytes(r, s->len);
	return r->ok ? 0 : -RC_ECORRUPT; /* trailing bytes are checked after */
}

static int get_body(struct bytes_reader *r, struct rc_message *m)
{
	m->from = bytes_get_u64(r);
	m->to = bytes_get_u64(r);
	m->term = bytes_get_u64(r);
	switch (m->type) {
	case RC_MSG_APPEND:
		return get_append(r, &m->u.append);
	case RC_MSG_APPEND_RESP: {
		struct rc_msg_append_resp *a = &m->u.append_resp;
		a->success = bytes_get_bool(r);
		a->match_index = bytes_get_u64(r);
		a->reject_index = bytes_get_u64(r);
		a->hint_index = bytes_get_u64(r);
		a->hint_term = bytes_get_u64(r);
		a->seq = bytes_get_u64(r);
		break;
	}
	case RC_MSG_VOTE:
		m->u.vote.prevote = bytes_get_bool(r);
		m->u.vote.transfer = bytes_get_bool(r);
		m->u.vote.last_index = bytes_get_u64(r);
		m->u.vote.last_term = bytes_get_u64(r);
		break;
	case RC_MSG_VOTE_RESP:
		m->u.vote_resp.prevote = bytes_get_bool(r);
		m->u.vote_resp.granted = bytes_get_bool(r);
		break;
	case RC_MSG_SNAPSHOT:
		return get_snapshot(r, &m->u.snapshot);
	case RC_MSG_SNAPSHOT_RESP:
		m->u.snapshot_resp.index = bytes_get_u64(r);
		m->u.snapshot_resp.next_offset = bytes_get_u64(r);
		m->u.snapshot_resp.rejected = bytes_get_bool(r);
		break;
	case RC_MSG_TIMEOUT_NOW:
		break;
	case RC_MSG_READ_INDEX:
		m->u.read_index.ctx = bytes_get_u64(r);
		break;
	case RC_MSG_READ_INDEX_RESP:
		m->u.read_index_resp.ctx = bytes_get_u64(r);
		m->u.read_index_resp.index = bytes_get_u64(r);
		m->u.read_index_resp.ok = bytes_get_bool(r);
		break;
	default:
		return -RC_ECORRUPT; /* rc_frame_length let no other type by */
	}
	return r->ok ? 0 : -RC_ECORRUPT;
}

/* buf is borrowed and must outlive *out: entry and chunk data point into it.
 * out->u.append.entries is owned by the caller (rc_msg_release). */
int rc_msg_decode(const void *buf, size_t len, struct rc_message *out)
{
	const uint8_t *frame = buf;
	struct bytes_reader r;
	int64_t flen;
	int rv;

	memset(out, 0, sizeof *out);
	if (len < FRAME_OVERHEAD)
		return -RC_ECORRUPT;
	flen = rc_frame_length(frame, len);
	if (flen < 0 || (uint64_t)flen != len)
		return -RC_ECORRUPT; /* short, or trailing bytes after the frame */
	if (rc_crc32c(0, frame, len - FRAME_TRAILER_BYTES) !=
	    bytes_load_u32(frame + len - FRAME_TRAILER_BYTES))
		return -RC_ECORRUPT;

	out->type = frame[5];
	r = bytes_reader(frame + RC_FRAME_HEADER_BYTES, len - FRAME_OVERHEAD);
	rv = get_body(&r, out);
	if (rv != 0)
		goto fail;
	rv = -RC_ECORRUPT;
	if (!r.ok || r.left != 0 || check_message(out) != 0)
		goto fail;
	return 0;

fail:
	rc_msg_release(out);
	memset(out, 0, sizeof *out);
	assert(rv != 0);
	return rv;
}

/* Frees what rc_msg_decode allocated; only for decoded messages (an
 * outgoing message's entries belong to the Replica). Safe to call twice. */
void rc_msg_release(struct rc_message *m)
{
	if (m->type == RC_MSG_APPEND) {
		free((void *)m->u.append.entries);
		m->u.append.entries = NULL;
		m->u.append.n_entries = 0;
	}
}

const char *rc_msg_type_name(uint8_t type)
{
	switch (type) {
	case RC_MSG_APPEND:
		return "append";
	case RC_MSG_APPEND_RESP:
		return "append_resp";
	case RC_MSG_VOTE:
		return "vote";
	case RC_MSG_VOTE_RESP:
		return "vote_resp";
	case RC_MSG_SNAPSHOT:
		return "snapshot";
	case RC_MSG_SNAPSHOT_RESP:
		return "snapshot_resp";
	case RC_MSG_TIMEOUT_NOW:
		return "timeout_now";
	case RC_MSG_READ_INDEX:
		return "read_index";
	case RC_MSG_READ_INDEX_RESP:
		return "read_index_resp";
	default:
		return "unknown";
	}
}
