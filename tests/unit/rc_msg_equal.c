/*
 * Deep equality of peer messages and memberships (see rc_msg_equal.h).
 * Fields outside the message's type are ignored, as the codec does not
 * carry them.
 */
#include <string.h>

#include "rc_msg_equal.h"

static bool bytes_equal(const void *a, const void *b, size_t len)
{
	return len == 0 || memcmp(a, b, len) == 0;
}

bool membership_equal(const struct rc_membership *a, const struct rc_membership *b)
{
	if (a->n != b->n || a->n > RC_MAX_MEMBERS)
		return false;
	for (uint32_t i = 0; i < a->n; i++) {
		const struct rc_member *x = &a->members[i], *y = &b->members[i];
		if (x->id != y->id || x->voter != y->voter ||
		    strncmp(x->addr, y->addr, RC_ADDR_MAX) != 0)
			return false;
	}
	return true;
}

static bool append_equal(const struct rc_msg_append *a, const struct rc_msg_append *b)
{
	if (a->prev_index != b->prev_index || a->prev_term != b->prev_term ||
	    a->commit != b->commit || a->seq != b->seq || a->n_entries != b->n_entries)
		return false;
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct rc_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->term != y->term || x->index != y->index || x->type != y->type ||
		    x->len != y->len || !bytes_equal(x->data, y->data, x->len))
			return false;
	}
	return true;
}

static bool snapshot_equal(const struct rc_msg_snapshot *a, const struct rc_msg_snapshot *b)
{
	return a->index == b->index && a->snap_term == b->snap_term &&
	       membership_equal(&a->membership, &b->membership) && a->size == b->size &&
	       a->offset == b->offset && a->len == b->len && a->last == b->last &&
	       bytes_equal(a->data, b->data, a->len);
}

bool msg_equal(const struct rc_message *a, const struct rc_message *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term)
		return false;
	switch (a->type) {
	case RC_MSG_APPEND:
		return append_equal(&a->u.append, &b->u.append);
	case RC_MSG_APPEND_RESP:
		return a->u.append_resp.success == b->u.append_resp.success &&
		       a->u.append_resp.match_index == b->u.append_resp.match_index &&
		       a->u.append_resp.reject_index == b->u.append_resp.reject_index &&
		       a->u.append_resp.hint_index == b->u.append_resp.hint_index &&
		       a->u.append_resp.hint_term == b->u.append_resp.hint_term &&
		       a->u.append_resp.seq == b->u.append_resp.seq;
	case RC_MSG_VOTE:
		return a->u.vote.prevote == b->u.vote.prevote &&
		       a->u.vote.transfer == b->u.vote.transfer &&
		       a->u.vote.last_index == b->u.vote.last_index &&
		       a->u.vote.last_term == b->u.vote.last_term;
	case RC_MSG_VOTE_RESP:
		return a->u.vote_resp.prevote == b->u.vote_resp.prevote &&
		       a->u.vote_resp.granted == b->u.vote_resp.granted;
	case RC_MSG_SNAPSHOT:
		return snapshot_equal(&a->u.snapshot, &b->u.snapshot);
	case RC_MSG_SNAPSHOT_RESP:
		return a->u.snapshot_resp.index == b->u.snapshot_resp.index &&
		       a->u.snapshot_resp.next_offset == b->u.snapshot_resp.next_offset &&
		       a->u.snapshot_resp.rejected == b->u.snapshot_resp.rejected;
	case RC_MSG_TIMEOUT_NOW:
		return true;
	case RC_MSG_READ_INDEX:
		return a->u.read_index.ctx == b->u.read_index.ctx;
	case RC_MSG_READ_INDEX_RESP:
		return a->u.read_index_resp.ctx == b->u.read_index_resp.ctx &&
		       a->u.read_index_resp.index == b->u.read_index_resp.index &&
		       a->u.read_index_resp.ok == b->u.read_index_resp.ok;
	default:
		return false;
	}
}
