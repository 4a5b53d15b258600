/*
 * The simulated network. A message is a value: net_send copies it out of
 * the update (entries, their data, snapshot chunk bytes), or, when the seed
 * says "wire", encodes it with rc_msg_encode and decodes the frame with
 * rc_msg_decode, checking that the round trip changes nothing, so every
 * message also exercises the codec. Messages can be lost, duplicated,
 * delayed (which reorders them) and held back very long (stale duplicates
 * arriving after the cluster moved on). Partitions block directed pairs,
 * both at send and at delivery, so a partition also swallows what was in
 * flight.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void smsg_unref(struct smsg *sm)
{
	if (!sm || --sm->refs)
		return;
	if (sm->decoded)
		rc_msg_release(&sm->m);
	else
		free(sm->ents);
	free(sm->buf);
	free(sm);
}

static struct smsg *smsg_alloc(void)
{
	struct smsg *sm = calloc(1, sizeof(*sm));
	if (!sm)
		abort();
	sm->refs = 1;
	return sm;
}

struct smsg *net_copy(const struct rc_message *m)
{
	struct smsg *sm = smsg_alloc();
	sm->m = *m;
	if (m->type == RC_MSG_APPEND && m->u.append.n_entries) {
		uint32_t n = m->u.append.n_entries;
		size_t total = 0;
		for (uint32_t i = 0; i < n; i++)
			total += m->u.append.entries[i].len;
		sm->ents = malloc(n * sizeof(*sm->ents));
		sm->buf = malloc(total ? total : 1);
		if (!sm->ents || !sm->buf)
			abort();
		size_t off = 0;
		for (uint32_t i = 0; i < n; i++) {
			sm->ents[i] = m->u.append.entries[i];
			if (sm->ents[i].len)
				memcpy(sm->buf + off, sm->ents[i].data, sm->ents[i].len);
			sm->ents[i].data = sm->buf + off;
			off += sm->ents[i].len;
		}
		sm->m.u.append.entries = sm->ents;
	} else if (m->type == RC_MSG_APPEND) {
		sm->m.u.append.entries = NULL;
	} else if (m->type == RC_MSG_SNAPSHOT && m->u.snapshot.data) {
		uint32_t len = m->u.snapshot.len;
		sm->buf = malloc(len ? len : 1);
		if (!sm->buf)
			abort();
		if (len)
			memcpy(sm->buf, m->u.snapshot.data, len);
		sm->m.u.snapshot.data = sm->buf;
	}
	return sm;
}

bool memb_same(const struct rc_membership *a, const struct rc_membership *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (a->members[i].id != b->members[i].id ||
		    a->members[i].voter != b->members[i].voter ||
		    strcmp(a->members[i].addr, b->members[i].addr) != 0)
			return false;
	return true;
}

/* Field by field: what the receiver can observe must survive the codec. */
static bool msg_same(const struct rc_message *a, const struct rc_message *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term)
		return false;
	switch (a->type) {
	case RC_MSG_APPEND: {
		const struct rc_msg_append *x = &a->u.append, *y = &b->u.append;
		if (x->prev_index != y->prev_index || x->prev_term != y->prev_term ||
		    x->commit != y->commit || x->seq != y->seq || x->n_entries != y->n_entries)
			return false;
		for (uint32_t i = 0; i < x->n_entries; i++) {
			const struct rc_entry *e = &x->entries[i], *f = &y->entries[i];
			if (e->term != f->term || e->index != f->index || e->type != f->type ||
			    e->len != f->len || (e->len && memcmp(e->data, f->data, e->len)))
				return false;
		}
		return true;
	}
	case RC_MSG_APPEND_RESP: {
		const struct rc_msg_append_resp *x = &a->u.append_resp, *y = &b->u.append_resp;
		return x->success == y->success && x->match_index == y->match_index &&
		       x->reject_index == y->reject_index && x->hint_index == y->hint_index &&
		       x->hint_term == y->hint_term && x->seq == y->seq;
	}
	case RC_MSG_VOTE: {
		const struct rc_msg_vote *x = &a->u.vote, *y = &b->u.vote;
		return x->prevote == y->prevote && x->transfer == y->transfer &&
		       x->last_index == y->last_index && x->last_term == y->last_term;
	}
	case RC_MSG_VOTE_RESP:
		return a->u.vote_resp.prevote == b->u.vote_resp.prevote &&
		       a->u.vote_resp.granted == b->u.vote_resp.granted;
	case RC_MSG_SNAPSHOT: {
		const struct rc_msg_snapshot *x = &a->u.snapshot, *y = &b->u.snapshot;
		return x->index == y->index && x->snap_term == y->snap_term &&
		       memb_same(&x->membership, &y->membership) && x->size == y->size &&
		       x->offset == y->offset && x->len == y->len && x->last == y->last &&
		       (!x->len || memcmp(x->data, y->data, x->len) == 0);
	}
	case RC_MSG_SNAPSHOT_RESP: {
		const struct rc_msg_snapshot_resp *x = &a->u.snapshot_resp,
						  *y = &b->u.snapshot_resp;
		return x->index == y->index && x->next_offset == y->next_offset &&
		       x->rejected == y->rejected;
	}
	case RC_MSG_TIMEOUT_NOW:
		return true;
	case RC_MSG_READ_INDEX:
		return a->u.read_index.ctx == b->u.read_index.ctx;
	case RC_MSG_READ_INDEX_RESP: {
		const struct rc_msg_read_index_resp *x = &a->u.read_index_resp,
						    *y = &b->u.read_index_resp;
		return x->ctx == y->ctx && x->index == y->index && x->ok == y->ok;
	}
	}
	return false;
}

static struct smsg *smsg_wire(struct sim *s, const struct rc_message *m)
{
	size_t n = rc_msg_encoded_size(m);
	if (n == 0) {
		sim_fail(s, "codec", "rc_msg_encoded_size refuses a message the Replica sent");
		return NULL;
	}
	struct smsg *sm = smsg_alloc();
	sm->buf = malloc(n);
	if (!sm->buf)
		abort();
	int rv = rc_msg_encode(m, sm->buf, n);
	if (rv < 0 || (size_t)rv != n) {
		sim_fail(s, "codec", "rc_msg_encode returned %d for %zu bytes", rv, n);
		smsg_unref(sm);
		return NULL;
	}
	if (rc_frame_length(sm->buf, n) != (int64_t)n) {
		sim_fail(s, "codec", "rc_frame_length disagrees with the encoded size");
		smsg_unref(sm);
		return NULL;
	}
	rv = rc_msg_decode(sm->buf, n, &sm->m);
	if (rv != 0) {
		sim_fail(s, "codec", "rc_msg_decode of a fresh frame: %s", rc_strerror(rv));
		smsg_unref(sm);
		return NULL;
	}
	sm->decoded = true;
	if (!msg_same(m, &sm->m)) {
		char a[256];
		sim_fail(s, "codec", "round trip changed the message %s", msg_str(m, a, sizeof(a)));
		smsg_unref(sm);
		return NULL;
	}
	return sm;
}

static const struct blob *find_snapshot(const struct node *n, rc_index index)
{
	for (int i = 0; i < SIM_SNAP_CACHE; i++)
		if (n->snaps[i] && n->snaps[i]->meta.index == index)
			return n->snaps[i];
	return NULL;
}

static uint64_t delay(struct sim *s)
{
	uint64_t d = rng_range(&s->rnet, s->sw.delay_min, s->sw.delay_max);
	if (rng_ppm(&s->rnet, s->sw.long_ppm))
		d += rng_range(&s->rnet, 1, s->sw.long_max);
	return d;
}

void net_send(struct sim *s, struct node *from, const struct rc_message *m, rc_term ack_term)
{
	char buf[320];
	if (m->from != from->id) {
		sim_fail(s, "contract", "n%llu sent a message from n%llu",
			 (unsigned long long)from->id, (unsigned long long)m->from);
		return;
	}
	check_sent(s, from, m, ack_term);
	s->n_msgs++;
	TRACE(s, from, "send %s", msg_str(m, buf, sizeof(buf)));
	struct node *to = sim_node(s, m->to);
	if (!to || !to->exists)
		return;
	if (m->to == m->from) {
		/* Handed back to the node itself (its own vote, once durable):
		 * no network, but not within this update either (it is borrowed
		 * until the next rc_ call), so as the next event. */
		sim_schedule(s, s->now, EV_DELIVER, (int)m->to - 1, from->life, net_copy(m));
		return;
	}
	struct rc_message copy = *m;
	if (m->type == RC_MSG_SNAPSHOT && !m->u.snapshot.data) {
		const struct blob *b = find_snapshot(from, m->u.snapshot.index);
		if (!b) {
			sim_fail(
			    s, "contract", "n%llu sends snapshot %llu it never took or installed",
			    (unsigned long long)from->id, (unsigned long long)m->u.snapshot.index);
			return;
		}
		if (m->u.snapshot.offset > b->len ||
		    m->u.snapshot.len > b->len - m->u.snapshot.offset ||
		    m->u.snapshot.size != b->len) {
			sim_fail(s, "contract",
				 "snapshot chunk %llu+%u outside snapshot %llu of %zu bytes",
				 (unsigned long long)m->u.snapshot.offset, m->u.snapshot.len,
				 (unsigned long long)b->meta.index, b->len);
			return;
		}
		copy.u.snapshot.data = b->data + m->u.snapshot.offset;
	}
	int fs = (int)from->id - 1, ts = (int)m->to - 1;
	if (s->net.blocked[fs][ts] || rng_ppm(&s->rnet, s->sw.loss_ppm))
		return;
	struct smsg *sm = s->sw.wire ? smsg_wire(s, &copy) : net_copy(&copy);
	if (!sm)
		return;
	sim_schedule(s, s->now + delay(s), EV_DELIVER, ts, 0, sm);
	if (rng_ppm(&s->rnet, s->sw.dup_ppm)) {
		sm->refs++;
		sim_schedule(s, s->now + delay(s), EV_DELIVER, ts, 0, sm);
	}
}

void net_deliver(struct sim *s, struct smsg *sm)
{
	const struct rc_message *m = &sm->m;
	struct node *to = sim_node(s, m->to);
	if (!to || !to->exists || !to->up)
		return;
	int fs = (int)m->from - 1, ts = (int)m->to - 1;
	if (s->net.blocked[fs][ts])
		return;
	if (fs != ts)
		to->heard[fs] = s->now + 1;
	char buf[320];
	TRACE(s, to, "recv %s", msg_str(m, buf, sizeof(buf)));
	int rv = rc_step(to->r, m);
	if (rv != 0)
		sim_fail(s, "contract", "rc_step refused a well-formed message: %s",
			 rc_strerror(rv));
	node_drive(s, to);
}

void net_heal(struct sim *s)
{
	memset(s->net.blocked, 0, sizeof(s->net.blocked));
	s->net.partitioned = false;
	s->net.part_gen++;
	TRACE(s, NULL, "nemesis heal partitions");
}

static rc_id some_leader(struct sim *s)
{
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (s->nodes[i].exists && s->nodes[i].up && s->nodes[i].role == RC_LEADER)
			return s->nodes[i].id;
	return 0;
}

void net_partition(struct sim *s)
{
	struct rng *r = &s->rnem;
	int ids[SIM_MAX_NODES], n = 0;
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (s->nodes[i].exists)
			ids[n++] = (int)i;
	if (n < 2)
		return;
	memset(s->net.blocked, 0, sizeof(s->net.blocked));
	int victim = ids[rng_below(r, (uint64_t)n)];
	rc_id leader = some_leader(s);
	if (leader && rng_below(r, 3) < 2)
		victim = (int)leader - 1;
	const char *kind;
	switch (rng_below(r, 5)) {
	case 0: { /* two random sides */
		bool side[SIM_MAX_NODES] = {0};
		for (int i = 0; i < n; i++)
			side[ids[i]] = rng_coin(r);
		for (int i = 0; i < n; i++)
			for (int j = 0; j < n; j++)
				if (side[ids[i]] != side[ids[j]])
					s->net.blocked[ids[i]][ids[j]] = true;
		kind = "split";
		break;
	}
	case 1: /* one node cut off both ways */
		for (int i = 0; i < n; i++)
			if (ids[i] != victim)
				s->net.blocked[victim][ids[i]] = s->net.blocked[ids[i]][victim] =
				    true;
		kind = "isolate";
		break;
	case 2: /* one node hears nobody but is heard (a deaf leader) */
		for (int i = 0; i < n; i++)
			if (ids[i] != victim)
				s->net.blocked[ids[i]][victim] = true;
		kind = "deaf";
		break;
	case 3: /* one node is heard by nobody */
		for (int i = 0; i < n; i++)
			if (ids[i] != victim)
				s->net.blocked[victim][ids[i]] = true;
		kind = "mute";
		break;
	default: /* random one-way links */
		for (int i = 0; i < n; i++)
			for (int j = 0; j < n; j++)
				if (i != j && rng_below(r, 10) < 3)
					s->net.blocked[ids[i]][ids[j]] = true;
		kind = "links";
		break;
	}
	s->net.partitioned = true;
	uint32_t gen = ++s->net.part_gen;
	uint64_t until = s->now + rng_range(r, s->sw.fault_min, s->sw.fault_max);
	if (s->trace) {
		char desc[256];
		size_t k = 0;
		desc[0] = 0;
		for (int i = 0; i < n && k < sizeof(desc) - 16; i++)
			for (int j = 0; j < n && k < sizeof(desc) - 16; j++)
				if (s->net.blocked[ids[i]][ids[j]])
					k += (size_t)snprintf(desc + k, sizeof(desc) - k, " %d>%d",
							      ids[i] + 1, ids[j] + 1);
		sim_trace(s, NULL, "nemesis partition %s victim n%d until %llu blocks:%s", kind,
			  victim + 1, (unsigned long long)until, desc);
	}
	sim_schedule(s, until, EV_HEAL, -1, gen, NULL);
}
