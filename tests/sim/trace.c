/*
 * The readable trace (--trace) and violation reports. A trace line is
 * "<sim time in s.ms> <node> <what happened>": messages sent and received
 * with their fields, role changes, commits and applies, disk syncs, faults
 * and client operations. Only the first violation of a run is kept: the
 * run stops after the step that caused it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

void sim_trace(struct sim *s, const struct node *n, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	char who[16] = "--";
	if (n)
		snprintf(who, sizeof(who), "n%" PRIu64, n->id);
	printf("%6" PRIu64 ".%03" PRIu64 " %-3s %s\n", s->now / 1000, s->now % 1000, who, line);
}

void sim_fail(struct sim *s, const char *inv, const char *fmt, ...)
{
	if (s->failed)
		return;
	s->failed = true;
	s->fail_time = s->now;
	snprintf(s->fail_inv, sizeof(s->fail_inv), "%s", inv);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->fail_msg, sizeof(s->fail_msg), fmt, ap);
	va_end(ap);
	if (s->trace)
		printf("%6" PRIu64 ".%03" PRIu64 " !!! VIOLATION %s: %s\n", s->now / 1000,
		       s->now % 1000, s->fail_inv, s->fail_msg);
}

const char *msg_str(const struct rc_message *m, char *buf, size_t cap)
{
	int k = snprintf(buf, cap, "%s %" PRIu64 "->%" PRIu64 " t%" PRIu64,
			 rc_msg_type_name(m->type), m->from, m->to, m->term);
	if (k < 0 || (size_t)k >= cap)
		return buf;
	char *p = buf + k;
	size_t left = cap - (size_t)k;
	switch (m->type) {
	case RC_MSG_APPEND: {
		const struct rc_msg_append *a = &m->u.append;
		int w = snprintf(p, left,
				 " prev=%" PRIu64 "/t%" PRIu64 " commit=%" PRIu64 " seq=%" PRIu64
				 " n=%u",
				 a->prev_index, a->prev_term, a->commit, a->seq, a->n_entries);
		if (a->n_entries && w > 0 && (size_t)w < left)
			snprintf(p + w, left - (size_t)w,
				 " [%" PRIu64 "/t%" PRIu64 "..%" PRIu64 "/t%" PRIu64 "]",
				 a->entries[0].index, a->entries[0].term,
				 a->entries[a->n_entries - 1].index,
				 a->entries[a->n_entries - 1].term);
		break;
	}
	case RC_MSG_APPEND_RESP: {
		const struct rc_msg_append_resp *a = &m->u.append_resp;
		snprintf(p, left,
			 " %s match=%" PRIu64 " reject=%" PRIu64 " hint=%" PRIu64 "/t%" PRIu64
			 " seq=%" PRIu64,
			 a->success ? "ok" : "REJECT", a->match_index, a->reject_index,
			 a->hint_index, a->hint_term, a->seq);
		break;
	}
	case RC_MSG_VOTE:
		snprintf(p, left, "%s%s last=%" PRIu64 "/t%" PRIu64,
			 m->u.vote.prevote ? " pre" : "", m->u.vote.transfer ? " transfer" : "",
			 m->u.vote.last_index, m->u.vote.last_term);
		break;
	case RC_MSG_VOTE_RESP:
		snprintf(p, left, "%s %s", m->u.vote_resp.prevote ? " pre" : "",
			 m->u.vote_resp.granted ? "GRANT" : "deny");
		break;
	case RC_MSG_SNAPSHOT: {
		const struct rc_msg_snapshot *a = &m->u.snapshot;
		snprintf(p, left,
			 " snap=%" PRIu64 "/t%" PRIu64 " size=%" PRIu64 " off=%" PRIu64
			 " len=%u%s members=%u",
			 a->index, a->snap_term, a->size, a->offset, a->len, a->last ? " last" : "",
			 a->membership.n);
		break;
	}
	case RC_MSG_SNAPSHOT_RESP:
		snprintf(p, left, " snap=%" PRIu64 " next=%" PRIu64 "%s", m->u.snapshot_resp.index,
			 m->u.snapshot_resp.next_offset,
			 m->u.snapshot_resp.rejected ? " rejected" : "");
		break;
	case RC_MSG_READ_INDEX:
		snprintf(p, left, " ctx=%" PRIu64, m->u.read_index.ctx);
		break;
	case RC_MSG_READ_INDEX_RESP:
		snprintf(p, left, " ctx=%" PRIu64 " index=%" PRIu64 "%s", m->u.read_index_resp.ctx,
			 m->u.read_index_resp.index, m->u.read_index_resp.ok ? "" : " FAILED");
		break;
	default:
		break;
	}
	return buf;
}
