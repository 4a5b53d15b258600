/*
 * The hand-driven cluster of rc_harness.h. Everything is deterministic: no
 * clock but the per-node `now`, no randomness but each Replica's seed.
 */
#include "rc_harness.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmemdup(const void *p, size_t n)
{
	if (!n)
		return NULL;
	void *q = malloc(n);
	assert(q);
	memcpy(q, p, n);
	return q;
}

static struct rc_entry *copy_entries(const struct rc_entry *src, size_t n)
{
	if (!n)
		return NULL;
	struct rc_entry *e = calloc(n, sizeof(*e));
	assert(e);
	for (size_t i = 0; i < n; i++) {
		e[i] = src[i];
		e[i].data = xmemdup(src[i].data, src[i].len);
	}
	return e;
}

static void free_entries(struct rc_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)e[i].data);
	free(e);
}

static void copy_msg(struct h_msg *dst, const struct rc_message *m)
{
	memset(dst, 0, sizeof(*dst));
	dst->m = *m;
	if (m->type == RC_MSG_APPEND && m->u.append.n_entries) {
		dst->entries = copy_entries(m->u.append.entries, m->u.append.n_entries);
		dst->m.u.append.entries = dst->entries;
	}
	if (m->type == RC_MSG_SNAPSHOT) {
		/* The caller fills outgoing chunks; any bytes will do here. */
		dst->data = calloc(1, m->u.snapshot.len + 1);
		dst->m.u.snapshot.data = dst->data;
	}
}

static void free_msg(struct h_msg *m)
{
	if (m->entries)
		free_entries(m->entries, m->m.u.append.n_entries);
	free(m->data);
	memset(m, 0, sizeof(*m));
}

struct h_node *h_node(struct h_cluster *c, rc_id id)
{
	assert(id >= 1 && id <= c->n);
	return &c->nodes[id - 1];
}

struct rc_replica *h_r(struct h_cluster *c, rc_id id)
{
	return h_node(c, id)->r;
}

static void boot(struct h_cluster *c, struct h_node *nd)
{
	struct rc_options o = c->opts;
	o.id = nd->id;
	o.seed = c->opts.seed * 31 + nd->id;
	/* The stored log may still hold the trailing entries a snapshot
	 * covers; the Replica boots with those after it. */
	size_t skip = 0;
	while (skip < nd->n_log && nd->log[skip].index <= nd->snap.index)
		skip++;
	struct rc_boot b = {
	    .hard_state = nd->hs,
	    .snapshot = nd->snap,
	    .entries = nd->log + skip,
	    .n_entries = nd->n_log - skip,
	    .applied = nd->snap.index,
	};
	char err[256];
	nd->r = rc_replica_new(&o, &b, err);
	if (!nd->r) {
		fprintf(stderr, "boot node %llu: %s\n", (unsigned long long)nd->id, err);
		abort();
	}
	rc_tick(nd->r, nd->now);
	nd->up = true;
	nd->applied = nd->snap.index;
}

void h_init_spares(struct h_cluster *c, size_t n, size_t n_members, const struct rc_options *o)
{
	assert(n <= H_MAX_NODES && n_members <= n);
	memset(c, 0, sizeof(*c));
	c->n = n;
	c->opts = *o;
	struct rc_membership m = {.n = (uint32_t)n_members};
	for (size_t i = 0; i < n_members; i++) {
		m.members[i].id = i + 1;
		m.members[i].voter = true;
		snprintf(m.members[i].addr, RC_ADDR_MAX, "node%zu", i + 1);
	}
	for (size_t i = 0; i < n; i++) {
		struct h_node *nd = &c->nodes[i];
		nd->id = i + 1;
		if (i < n_members)
			nd->snap.membership = m; /* else: boots empty, to be added */
		nd->auto_persist = true;
		boot(c, nd);
	}
}

void h_init_opts(struct h_cluster *c, size_t n, const struct rc_options *o)
{
	h_init_spares(c, n, n, o);
}

void h_default_opts(struct rc_options *o, uint64_t seed)
{
	rc_options_default(o, 1, seed);
	o->election_timeout_ms = 100;
	o->heartbeat_ms = 10;
}

void h_init(struct h_cluster *c, size_t n, uint64_t seed)
{
	struct rc_options o;
	h_default_opts(&o, seed);
	h_init_opts(c, n, &o);
}

static void free_persist(struct h_persist *p)
{
	free_entries(p->entries, p->n_entries);
	for (size_t i = 0; i < p->n_after; i++)
		free_msg(&p->after[i]);
	free(p->after);
}

static void drop_pending(struct h_node *nd)
{
	for (size_t i = 0; i < nd->n_pending; i++)
		free_persist(&nd->pending[i]);
	free(nd->pending);
	nd->pending = NULL;
	nd->n_pending = 0;
}

void h_free(struct h_cluster *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct h_node *nd = &c->nodes[i];
		rc_replica_free(nd->r);
		drop_pending(nd);
		free_entries(nd->log, nd->n_log);
	}
	h_clear_msgs(c);
	free(c->msgs);
	c->msgs = NULL;
	c->cap_msgs = 0;
}

/* A free slot at the tail of the network queue. A queue this long means
 * a message storm (a livelock in the Replica): stop rather than exhaust
 * memory. */
#define H_MAX_QUEUE 100000
#define H_MAX_DELIVERIES 1000000
static struct h_msg *queue_slot(struct h_cluster *c)
{
	assert(c->n_msgs < H_MAX_QUEUE);
	if (c->n_msgs == c->cap_msgs) {
		c->cap_msgs = c->cap_msgs ? 2 * c->cap_msgs : 64;
		c->msgs = realloc(c->msgs, c->cap_msgs * sizeof(*c->msgs));
		assert(c->msgs);
	}
	return &c->msgs[c->n_msgs++];
}

static void send(struct h_cluster *c, const struct rc_message *m)
{
	if (c->drop[m->from][m->to])
		return;
	copy_msg(queue_slot(c), m);
}

static void send_copied(struct h_cluster *c, struct h_msg *m)
{
	if (c->drop[m->m.from][m->m.to]) {
		free_msg(m);
		return;
	}
	*queue_slot(c) = *m;
	memset(m, 0, sizeof(*m));
}

static void install_chunk(struct h_cluster *c, struct h_node *nd,
			  const struct rc_snapshot_chunk *ch)
{
	if (!ch->last)
		return;
	/* Every earlier log write completes first (raftcore.h contract). */
	h_persist_all(c, nd->id);
	/* The state machine is replaced by the snapshot; the stored log keeps
	 * what follows the snapshot's last entry if it holds that entry
	 * (Raft Figure 13), else it is emptied. */
	nd->snap = ch->meta;
	size_t keep_from = nd->n_log;
	for (size_t i = 0; i < nd->n_log; i++)
		if (nd->log[i].index == ch->meta.index && nd->log[i].term == ch->meta.term)
			keep_from = i + 1;
	for (size_t i = 0; i < keep_from; i++)
		free((void *)nd->log[i].data);
	memmove(nd->log, nd->log + keep_from, (nd->n_log - keep_from) * sizeof(*nd->log));
	nd->n_log -= keep_from;
	nd->applied = ch->meta.index;
	nd->chunk_last_seen = true;
	nd->chunk_meta = ch->meta;
	rc_snapshot_installed(nd->r, ch->meta.index, ch->meta.term);
}

/* The last index on the node's disk (its snapshot's when the log is empty). */
static rc_index durable_last(const struct h_node *nd)
{
	return nd->n_log ? nd->log[nd->n_log - 1].index : nd->snap.index;
}

/* Routes one update; false when it held nothing at all. */
static bool take_once(struct h_cluster *c, rc_id id)
{
	struct h_node *nd = h_node(c, id);
	struct rc_update u;
	rc_take_update(nd->r, &u);
	if (c->observe)
		c->observe(c, id, &u, c->observe_arg);
	bool empty = !u.n_msgs && !u.n_msgs_after_persist && !u.n_entries &&
		     !u.hard_state_changed && !u.truncate_from && !u.n_committed && !u.n_reads &&
		     !u.has_snapshot_chunk && !u.compact_to;
	for (size_t i = 0; i < u.n_msgs; i++)
		send(c, &u.msgs[i]);
	struct h_persist p = {0};
	p.has_hs = u.hard_state_changed;
	p.hs = u.hard_state;
	p.truncate_from = u.truncate_from;
	p.entries = copy_entries(u.entries, u.n_entries);
	p.n_entries = u.n_entries;
	p.n_after = u.n_msgs_after_persist;
	if (p.n_after) {
		p.after = calloc(p.n_after, sizeof(*p.after));
		for (size_t i = 0; i < p.n_after; i++)
			copy_msg(&p.after[i], &u.msgs_after_persist[i]);
	}
	nd->pending = realloc(nd->pending, (nd->n_pending + 1) * sizeof(*nd->pending));
	nd->pending[nd->n_pending++] = p;
	for (size_t i = 0; i < u.n_committed; i++) {
		const struct rc_entry *e = &u.committed[i];
		if (e->index != nd->applied + 1)
			nd->apply_out_of_order++;
		if (e->index > durable_last(nd))
			nd->apply_not_durable++;
		nd->applied = e->index;
		if (e->index < 4096)
			nd->applied_term[e->index] = e->term;
	}
	for (size_t i = 0; i < u.n_reads && nd->n_reads < 256; i++)
		nd->reads[nd->n_reads++] = u.reads[i];
	struct rc_snapshot_chunk chunk = u.snapshot_chunk;
	bool has_chunk = u.has_snapshot_chunk;
	if (has_chunk)
		nd->n_chunks++;
	if (u.compact_to) {
		size_t drop = 0;
		while (drop < nd->n_log && nd->log[drop].index <= u.compact_to)
			free((void *)nd->log[drop++].data);
		memmove(nd->log, nd->log + drop, (nd->n_log - drop) * sizeof(*nd->log));
		nd->n_log -= drop;
	}
	if (nd->auto_persist)
		h_persist_all(c, id);
	if (has_chunk)
		install_chunk(c, nd, &chunk);
	return !empty;
}

void h_take(struct h_cluster *c, rc_id id)
{
	struct h_node *nd = h_node(c, id);
	/* A completed persist or install can unlock more effects: drain them
	 * (a Replica that never settles is a bug: stop, do not spin). */
	for (int turns = 0; nd->up && take_once(c, id); turns++)
		assert(turns < 10000);
}

bool h_persist_one(struct h_cluster *c, rc_id id)
{
	struct h_node *nd = h_node(c, id);
	if (!nd->n_pending)
		return false;
	struct h_persist p = nd->pending[0];
	memmove(nd->pending, nd->pending + 1, (nd->n_pending - 1) * sizeof(*nd->pending));
	nd->n_pending--;
	if (p.has_hs)
		nd->hs = p.hs;
	if (p.truncate_from) {
		while (nd->n_log && nd->log[nd->n_log - 1].index >= p.truncate_from) {
			free((void *)nd->log[nd->n_log - 1].data);
			nd->n_log--;
		}
	}
	if (p.n_entries) {
		nd->log = realloc(nd->log, (nd->n_log + p.n_entries) * sizeof(*nd->log));
		for (size_t i = 0; i < p.n_entries; i++) {
			/* the stored log drops a conflicting suffix implicitly */
			while (nd->n_log && nd->log[nd->n_log - 1].index >= p.entries[i].index) {
				free((void *)nd->log[nd->n_log - 1].data);
				nd->n_log--;
			}
			nd->log[nd->n_log++] = p.entries[i];
		}
		free(p.entries);
		p.entries = NULL;
		p.n_entries = 0;
	}
	for (size_t i = 0; i < p.n_after; i++)
		if (p.after[i].m.to != id)
			send_copied(c, &p.after[i]);
	if (nd->n_log)
		rc_persisted(nd->r, nd->log[nd->n_log - 1].index, nd->log[nd->n_log - 1].term);
	/* Contract step 4: an after-persist message to the node itself (a
	 * candidate's own vote) goes straight back to it, never through the
	 * network, so it is neither lost nor partitioned away. */
	for (size_t i = 0; i < p.n_after; i++)
		if (p.after[i].m.to == id)
			rc_step(nd->r, &p.after[i].m);
	free_persist(&p);
	return true;
}

void h_persist_all(struct h_cluster *c, rc_id id)
{
	while (h_persist_one(c, id))
		;
}

void h_tick(struct h_cluster *c, rc_id id, uint64_t ms)
{
	struct h_node *nd = h_node(c, id);
	nd->now += ms;
	if (!nd->up)
		return;
	rc_tick(nd->r, nd->now);
	h_take(c, id);
}

void h_deliver_at(struct h_cluster *c, size_t i)
{
	assert(i < c->n_msgs);
	struct h_msg m = c->msgs[i];
	memmove(&c->msgs[i], &c->msgs[i + 1], (c->n_msgs - i - 1) * sizeof(c->msgs[0]));
	c->n_msgs--;
	struct h_node *nd = h_node(c, m.m.to);
	if (nd->up && !c->drop[m.m.from][m.m.to]) {
		rc_step(nd->r, &m.m);
		c->delivered++;
		/* No unit test needs this many: the nodes are in a livelock. */
		assert(c->delivered < H_MAX_DELIVERIES);
		h_take(c, m.m.to);
	}
	free_msg(&m);
}

size_t h_deliver_all(struct h_cluster *c, size_t limit)
{
	size_t n = 0;
	while (c->n_msgs && n < limit) {
		h_deliver_at(c, 0);
		n++;
	}
	return n;
}

void h_clear_msgs(struct h_cluster *c)
{
	for (size_t i = 0; i < c->n_msgs; i++)
		free_msg(&c->msgs[i]);
	c->n_msgs = 0;
}

long h_find_msg(struct h_cluster *c, uint8_t type, rc_id from, rc_id to)
{
	for (size_t i = 0; i < c->n_msgs; i++)
		if (c->msgs[i].m.type == type && c->msgs[i].m.from == from && c->msgs[i].m.to == to)
			return (long)i;
	return -1;
}

void h_run(struct h_cluster *c, uint64_t ms, uint64_t step)
{
	for (uint64_t t = 0; t < ms; t += step) {
		for (size_t i = 0; i < c->n; i++)
			h_tick(c, c->nodes[i].id, step);
		h_deliver_all(c, 100000);
	}
}

void h_elect(struct h_cluster *c, rc_id id)
{
	struct h_node *nd = h_node(c, id);
	for (int round = 0; round < 50 && rc_role(nd->r) != RC_LEADER; round++) {
		/* Only the chosen node's clock runs past its timeout. */
		nd->now += 2 * c->opts.election_timeout_ms;
		rc_tick(nd->r, nd->now);
		h_take(c, id);
		h_deliver_all(c, 100000);
	}
	assert(rc_role(nd->r) == RC_LEADER);
	/* Let the no-op commit everywhere reachable. */
	for (int i = 0; i < 3; i++) {
		h_tick(c, id, c->opts.heartbeat_ms);
		h_deliver_all(c, 100000);
	}
}

bool h_campaign(struct h_cluster *c, rc_id id)
{
	struct h_node *nd = h_node(c, id);
	for (int round = 0; round < 10 && rc_role(nd->r) != RC_LEADER; round++) {
		h_tick(c, id, 2 * c->opts.election_timeout_ms);
		while (h_deliver_matching(c, RC_MSG_VOTE, 0, 0) +
		       h_deliver_matching(c, RC_MSG_VOTE_RESP, 0, 0))
			;
	}
	return rc_role(nd->r) == RC_LEADER;
}

void h_crash(struct h_cluster *c, rc_id id)
{
	struct h_node *nd = h_node(c, id);
	rc_replica_free(nd->r);
	nd->r = NULL;
	nd->up = false;
	drop_pending(nd);
}

void h_restart(struct h_cluster *c, rc_id id)
{
	struct h_node *nd = h_node(c, id);
	assert(!nd->up);
	boot(c, nd);
}

rc_index h_propose(struct h_cluster *c, rc_id id, uint8_t b)
{
	rc_index idx = 0;
	rc_term t;
	if (rc_propose(h_r(c, id), &b, 1, &idx, &t) != 0)
		return 0;
	h_take(c, id);
	return idx;
}

void h_isolate(struct h_cluster *c, rc_id id, bool isolated)
{
	for (size_t i = 1; i <= c->n; i++) {
		c->drop[id][i] = isolated;
		c->drop[i][id] = isolated;
	}
}

void h_partition(struct h_cluster *c, const rc_id *side, size_t n)
{
	bool in[H_MAX_NODES + 1] = {false};
	for (size_t i = 0; i < n; i++)
		in[side[i]] = true;
	for (rc_id a = 1; a <= c->n; a++)
		for (rc_id b = 1; b <= c->n; b++)
			if (in[a] != in[b])
				c->drop[a][b] = true;
}

void h_heal(struct h_cluster *c)
{
	memset(c->drop, 0, sizeof(c->drop));
}

rc_id h_leader(struct h_cluster *c)
{
	rc_id found = 0;
	rc_term best = 0;
	for (size_t i = 0; i < c->n; i++) {
		struct h_node *nd = &c->nodes[i];
		if (nd->up && rc_role(nd->r) == RC_LEADER && rc_term_of(nd->r) >= best) {
			best = rc_term_of(nd->r);
			found = nd->id;
		}
	}
	return found;
}

void h_set_log(struct h_cluster *c, rc_id id, const rc_term *terms, size_t n)
{
	struct h_node *nd = h_node(c, id);
	if (nd->up)
		h_crash(c, id);
	free_entries(nd->log, nd->n_log);
	nd->log = n ? calloc(n, sizeof(*nd->log)) : NULL;
	nd->n_log = n;
	for (size_t i = 0; i < n; i++) {
		assert(i == 0 || terms[i] >= terms[i - 1]);
		nd->log[i] = (struct rc_entry){
		    .term = terms[i], .index = nd->snap.index + 1 + i, .type = RC_ENTRY_NOOP};
	}
	if (n && nd->hs.term < terms[n - 1])
		nd->hs = (struct rc_hard_state){.term = terms[n - 1], .vote = 0};
	h_restart(c, id);
}

int h_step(struct h_cluster *c, const struct rc_message *m)
{
	int rv = rc_step(h_r(c, m->to), m);
	h_take(c, m->to);
	return rv;
}

static bool matches(const struct h_msg *q, uint8_t type, rc_id from, rc_id to)
{
	return (!type || q->m.type == type) && (!from || q->m.from == from) &&
	       (!to || q->m.to == to);
}

size_t h_count_msgs(struct h_cluster *c, uint8_t type, rc_id from, rc_id to)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_msgs; i++)
		if (matches(&c->msgs[i], type, from, to))
			n++;
	return n;
}

size_t h_deliver_matching(struct h_cluster *c, uint8_t type, rc_id from, rc_id to)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_msgs;) {
		if (!matches(&c->msgs[i], type, from, to)) {
			i++;
			continue;
		}
		h_deliver_at(c, i); /* what it produces is queued at the tail */
		n++;
	}
	return n;
}

void h_drop_at(struct h_cluster *c, size_t i)
{
	assert(i < c->n_msgs);
	free_msg(&c->msgs[i]);
	memmove(&c->msgs[i], &c->msgs[i + 1], (c->n_msgs - i - 1) * sizeof(c->msgs[0]));
	c->n_msgs--;
}

void h_copy_msg(struct h_cluster *c, size_t i, struct h_msg *out)
{
	assert(i < c->n_msgs);
	copy_msg(out, &c->msgs[i].m);
}

void h_inject(struct h_cluster *c, const struct h_msg *m)
{
	copy_msg(queue_slot(c), &m->m);
}

void h_msg_free(struct h_msg *m)
{
	free_msg(m);
}

int h_snapshot(struct h_cluster *c, rc_id id, rc_index index, uint64_t size)
{
	struct h_node *nd = h_node(c, id);
	const struct rc_entry *e = rc_entry_at(nd->r, index);
	struct rc_snapshot_meta meta = {.index = index,
					.term = e ? e->term : 0,
					.size = size,
					.membership = nd->snap.membership};
	/* The configuration at index: the newest config entry up to it. */
	for (size_t i = 0; i < nd->n_log && nd->log[i].index <= index; i++)
		if (nd->log[i].type == RC_ENTRY_CONFIG)
			rc_membership_decode(nd->log[i].data, nd->log[i].len, &meta.membership);
	int rv = rc_snapshot_taken(nd->r, index, size);
	if (rv == 0 && index > nd->snap.index)
		nd->snap = meta;
	h_take(c, id);
	return rv;
}
