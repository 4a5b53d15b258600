/*
 * One simulated node: a Replica, its disk and its KV state machine, and the
 * caller's side of the contract at the top of raftcore.h, followed to the
 * letter:
 *   after every rc_ call, rc_take_update and carry it out (node_drive):
 *   send u.msgs; write hard state, truncation and entries as one batch;
 *   when that batch is durable (node_fsync_done) send u.msgs_after_persist
 *   and call rc_persisted; write snapshot chunks and, once the last is
 *   durable, restore the KV from it and call rc_snapshot_installed; apply
 *   u.committed in order; serve u.reads once applied.
 * Nothing from an update is kept past the next rc_ call: messages are copied
 * (net.c), entries copied into the disk (disk.c).
 *
 * Booting (first start and every restart) rebuilds the Replica from the
 * durable state only: hard state, snapshot meta, log entries after the
 * snapshot, and applied = the snapshot index, since the KV state machine is
 * rebuilt from the snapshot and re-applies committed entries after it.
 *
 * Snapshots: when the KV has applied snap_every entries past the newest
 * snapshot, the node serializes it and writes it as a batch of its own;
 * once durable it calls rc_snapshot_taken (so the Replica never compacts
 * against a snapshot that a crash could still lose).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

struct node *sim_node(struct sim *s, rc_id id)
{
	if (id == 0 || id > SIM_MAX_NODES)
		return NULL;
	struct node *n = &s->nodes[id - 1];
	return n->id ? n : NULL;
}

static void snap_cache_add(struct node *n, struct blob *b)
{
	for (int i = 0; i < SIM_SNAP_CACHE; i++)
		if (n->snaps[i] && n->snaps[i]->meta.index == b->meta.index)
			return;
	blob_unref(n->snaps[SIM_SNAP_CACHE - 1]);
	memmove(n->snaps + 1, n->snaps, (SIM_SNAP_CACHE - 1) * sizeof(n->snaps[0]));
	n->snaps[0] = blob_ref(b);
}

static void snap_cache_clear(struct node *n)
{
	for (int i = 0; i < SIM_SNAP_CACHE; i++) {
		blob_unref(n->snaps[i]);
		n->snaps[i] = NULL;
	}
}

static void start_fsync(struct sim *s, struct node *n)
{
	struct disk *d = &n->disk;
	if (d->fsync_inflight || !d->n_q)
		return;
	d->fsync_inflight = true;
	d->fsync_covers = d->n_q;
	uint64_t lat = rng_range(&s->rdisk, s->sw.fsync_min, s->sw.fsync_max);
	sim_schedule(s, s->now + lat, EV_FSYNC, (int)n->id - 1, n->life, NULL);
}

static void restore_kv(struct sim *s, struct node *n, const struct blob *b, struct kv *out,
		       const char *what)
{
	if (b->len == 0) {
		kv_init(out, s->sw.nkeys, &b->meta);
		return;
	}
	const char *err = kv_decode(out, b->data, b->len);
	if (err) {
		sim_fail(s, "State Machine Safety", "n%" PRIu64 " %s snapshot %" PRIu64 ": %s",
			 n->id, what, b->meta.index, err);
		return;
	}
	if (out->applied != b->meta.index || out->applied_term != b->meta.term)
		sim_fail(s, "contract",
			 "n%" PRIu64 " %s snapshot meta %" PRIu64 "/t%" PRIu64
			 " but its state is at %" PRIu64 "/t%" PRIu64,
			 n->id, what, b->meta.index, b->meta.term, out->applied, out->applied_term);
	check_snapshot(s, n, out, what);
}

void node_boot(struct sim *s, struct node *n)
{
	struct rc_boot boot;
	struct rc_entry *ents = NULL;
	const char *err = disk_boot(&n->disk, &boot, &ents);
	if (err) {
		free(ents);
		sim_fail(s, "contract", "n%" PRIu64 " cannot boot: %s", n->id, err);
		return;
	}
	n->life++;
	struct rc_options o;
	rc_options_default(&o, n->id, s->seed * 0x9E3779B97F4A7C15ull + n->life);
	o.election_timeout_ms = s->sw.et;
	o.heartbeat_ms = s->sw.hb;
	o.max_append_entries = s->sw.max_ents;
	o.max_append_bytes = s->sw.max_bytes;
	o.max_inflight = s->sw.max_inflight;
	o.snapshot_chunk_bytes = s->sw.chunk;
	o.snapshot_trailing = s->sw.trailing;
	o.prevote = s->sw.prevote;
	o.check_quorum = true;
	char errmsg[256] = "";
	n->r = rc_replica_new(&o, &boot, errmsg);
	free(ents);
	if (!n->r) {
		sim_fail(s, "contract", "n%" PRIu64 " rc_replica_new refused its durable state: %s",
			 n->id, errmsg);
		return;
	}
	n->up = true;
	n->paused = false;
	struct blob *snap = n->disk.dur.snap;
	restore_kv(s, n, snap, &n->kv, "boots from");
	snap_cache_add(n, snap);
	n->role = rc_role(n->r);
	n->term = rc_term_of(n->r);
	n->commit = rc_commit_index(n->r);
	n->leader_since = 0;
	n->active_since = s->now;
	n->memb_at = s->now;
	memset(n->heard, 0, sizeof(n->heard));
	n->snap_inflight = false;
	n->installs_pending = 0;
	n->fresh = true;
	if (n->commit < boot.applied)
		sim_fail(s, "Monotonic commit",
			 "n%" PRIu64 " boots with commit %" PRIu64 " below its applied %" PRIu64,
			 n->id, n->commit, boot.applied);
	TRACE(s, n,
	      "boot life %u: t%" PRIu64 " vote %" PRIu64 " snapshot %" PRIu64 "/t%" PRIu64
	      " entries %zu members %u",
	      n->life, boot.hard_state.term, boot.hard_state.vote, boot.snapshot.index,
	      boot.snapshot.term, boot.n_entries, boot.snapshot.membership.n);
	sim_schedule_tick(s, n);
	node_drive(s, n);
}

void node_create(struct sim *s, rc_id id, const struct rc_membership *initial)
{
	struct node *n = &s->nodes[id - 1];
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->exists = true;
	n->clock_off = rng_below(&s->rnem, 1000000);
	disk_init(&n->disk, initial);
	if (id > s->n_slots)
		s->n_slots = (uint32_t)id;
	node_boot(s, n);
}

static void drop_held(struct node *n)
{
	for (size_t i = 0; i < n->n_held; i++)
		smsg_unref(n->held[i].msg);
	n->n_held = 0;
}

void node_crash(struct sim *s, struct node *n, bool forever)
{
	if (n->up) {
		lin_node_down(s, n);
		rc_replica_free(n->r);
		n->r = NULL;
		n->up = false;
		n->paused = false;
		size_t lost = disk_crash(&n->disk, &s->rdisk, s->sw.torn);
		drop_held(n);
		snap_cache_clear(n);
		n->role = RC_FOLLOWER;
		TRACE(s, n, "CRASH (%zu unsynced writes lost)%s", lost, forever ? " for good" : "");
	}
	if (forever) {
		n->exists = false;
		TRACE(s, n, "decommissioned");
	}
}

void node_hold(struct node *n, const struct ev *e)
{
	if (n->n_held == n->cap_held) {
		n->cap_held = n->cap_held ? 2 * n->cap_held : 32;
		n->held = xrealloc(n->held, n->cap_held * sizeof(*n->held));
	}
	n->held[n->n_held++] = *e;
}

void node_pause(struct sim *s, struct node *n)
{
	n->paused = true;
	TRACE(s, n, "PAUSE");
}

void node_unpause(struct sim *s, struct node *n)
{
	n->paused = false;
	n->active_since = s->now;
	TRACE(s, n, "UNPAUSE (%zu held events)", n->n_held);
	for (size_t i = 0; i < n->n_held; i++) {
		const struct ev *e = &n->held[i];
		sim_schedule(s, s->now, e->kind, e->node, e->gen, e->msg);
	}
	n->n_held = 0;
	sim_schedule_tick(s, n);
}

void node_free(struct node *n)
{
	rc_replica_free(n->r);
	n->r = NULL;
	disk_free(&n->disk);
	drop_held(n);
	free(n->held);
	free(n->reads);
	snap_cache_clear(n);
	memset(n, 0, sizeof(*n));
}

static void serve_reads(struct sim *s, struct node *n)
{
	size_t k = 0;
	for (size_t i = 0; i < n->n_reads; i++) {
		if (n->reads[i].index <= n->kv.applied && !s->failed)
			lin_read_serve(s, n, n->reads[i].rid);
		else
			n->reads[k++] = n->reads[i];
	}
	n->n_reads = k;
}

static void maybe_snapshot(struct sim *s, struct node *n)
{
	struct disk *d = &n->disk;
	if (!s->sw.snapshots || n->snap_inflight || n->installs_pending ||
	    n->kv.applied < d->cur.snap->meta.index + s->sw.snap_every)
		return;
	size_t len;
	uint8_t *data = kv_encode(&n->kv, s->sw.snap_pad, &len);
	struct rc_snapshot_meta meta = {.index = n->kv.applied,
					.term = n->kv.applied_term,
					.size = len,
					.membership = n->kv.memb};
	struct blob *b = blob_new(&meta, data, len);
	free(data);
	struct batch *bt = disk_batch(d);
	const char *err = disk_snap(d, bt, OP_SNAP_SAVE, b);
	bt->taken = b;
	disk_batch_done(d);
	if (err)
		sim_fail(s, "contract", "n%" PRIu64 " snapshot: %s", n->id, err);
	snap_cache_add(n, b);
	n->snap_inflight = true;
	TRACE(s, n, "snapshot taken at %" PRIu64 " (%zu bytes), syncing", meta.index, len);
	start_fsync(s, n);
}

/* The term of the entry a successful append acknowledgement refers to, as
 * the node's written log has it now (when the Replica made the message). */
static rc_term ack_term_of(const struct node *n, const struct rc_message *m)
{
	rc_term t = 0;
	if (m->type == RC_MSG_APPEND_RESP && m->u.append_resp.success)
		dstate_term(&n->disk.cur, m->u.append_resp.match_index, &t);
	return t;
}

void node_drive(struct sim *s, struct node *n)
{
	if (!n->r || s->failed)
		return;
	struct rc_update u;
	rc_take_update(n->r, &u);
	struct disk *d = &n->disk;
	const char *err = NULL;

	if (u.membership_changed) {
		n->memb_at = s->now;
		TRACE(s, n, "membership now has %u members", rc_membership(n->r)->n);
	}
	check_update_entries(s, n, &u);
	check_observe(s, n, rc_role(n->r), rc_term_of(n->r), rc_commit_index(n->r));
	if (u.role_changed)
		TRACE(s, n, "role %s leader n%" PRIu64 " term %" PRIu64, rc_role_name(u.role),
		      u.leader, rc_term_of(n->r));

	/* Write what the update asks for; it becomes durable at an fsync. */
	struct batch *b = disk_batch(d);
	if (u.hard_state_changed) {
		TRACE(s, n, "write hard state t%" PRIu64 " vote n%" PRIu64, u.hard_state.term,
		      u.hard_state.vote);
		err = disk_hs(d, b, &u.hard_state);
	}
	if (!err && (u.truncate_from || u.n_entries))
		err = disk_entries(d, b, u.truncate_from, u.entries, u.n_entries);
	if (u.n_entries) {
		b->persisted = true;
		b->p_index = u.entries[u.n_entries - 1].index;
		b->p_term = u.entries[u.n_entries - 1].term;
		TRACE(s, n, "write entries %" PRIu64 "..%" PRIu64 "%s", u.entries[0].index,
		      b->p_index, u.truncate_from ? " after truncation" : "");
	}
	if (u.truncate_from)
		TRACE(s, n, "truncate from %" PRIu64, u.truncate_from);
	if (u.n_msgs_after_persist) {
		b->after = xrealloc(NULL, u.n_msgs_after_persist * sizeof(*b->after));
		for (size_t i = 0; i < u.n_msgs_after_persist; i++) {
			b->after[i] = net_copy(&u.msgs_after_persist[i]);
			b->after[i]->ack_term = ack_term_of(n, &u.msgs_after_persist[i]);
			b->n_after++;
		}
	}
	if (!err && u.has_snapshot_chunk) {
		struct blob *done = NULL;
		err = disk_chunk(d, &u.snapshot_chunk, &done);
		TRACE(s, n, "write snapshot chunk %" PRIu64 " off %" PRIu64 " len %u%s",
		      u.snapshot_chunk.meta.index, u.snapshot_chunk.offset, u.snapshot_chunk.len,
		      u.snapshot_chunk.last ? " last" : "");
		if (!err && done) {
			err = disk_snap(d, b, OP_SNAP_INSTALL, done);
			b->installed = done;
			n->installs_pending++;
		}
	}
	if (!err && u.compact_to && s->sw.compact) {
		rc_index snap = d->cur.snap->meta.index;
		err = disk_compact(d, b, u.compact_to);
		if (err) {
			disk_batch_done(d);
			sim_fail(s, "contract",
				 "n%" PRIu64 " compact_to %" PRIu64 " beyond its snapshot %" PRIu64
				 " (the Replica says %" PRIu64 ")",
				 n->id, u.compact_to, snap, rc_snapshot_index(n->r));
			return;
		}
	}
	disk_batch_done(d);
	if (err) {
		sim_fail(s, "contract", "n%" PRIu64 " disk: %s", n->id, err);
		return;
	}
	check_log_mirror(s, n);
	bool config_written = false;
	for (size_t i = 0; i < u.n_entries; i++)
		config_written |= u.entries[i].type == RC_ENTRY_CONFIG;
	if (!n->installs_pending && !s->failed &&
	    (u.membership_changed || u.truncate_from || config_written || n->fresh))
		check_membership(s, n);
	n->fresh = false;
	start_fsync(s, n);

	for (size_t i = 0; i < u.n_msgs && !s->failed; i++)
		net_send(s, n, &u.msgs[i], ack_term_of(n, &u.msgs[i]));

	for (size_t i = 0; i < u.n_committed && !s->failed; i++) {
		const struct rc_entry *e = &u.committed[i];
		check_apply(s, n, e);
		if (s->failed)
			return;
		err = kv_apply(&n->kv, e);
		if (err) {
			sim_fail(s, "State Machine Safety", "n%" PRIu64 " applies %" PRIu64 ": %s",
				 n->id, e->index, err);
			return;
		}
		if (n->kv.chain != s->chk.hist[e->index - 1].chain) {
			sim_fail(s, "State Machine Safety",
				 "n%" PRIu64 " state after applying %" PRIu64
				 " differs from the history",
				 n->id, e->index);
			return;
		}
	}
	if (u.n_committed)
		TRACE(s, n, "apply %" PRIu64 "..%" PRIu64, u.committed[0].index,
		      u.committed[u.n_committed - 1].index);
	for (size_t i = 0; i < u.n_reads && !s->failed; i++)
		lin_read_result(s, n, &u.reads[i]);
	serve_reads(s, n);
	maybe_snapshot(s, n);
}

/* The disk kept the log after the snapshot when it holds the snapshot's
 * last entry (Figure 13 step 6); if the Replica dropped it, acknowledged
 * entries may go with it, which is unsafe: the leader counted them. */
static void align_after_install(struct sim *s, struct node *n, const struct blob *b)
{
	struct disk *d = &n->disk;
	rc_index kept = rc_last_index(n->r), disk_last = dlog_last(&d->cur.log);
	if (kept >= disk_last)
		return;
	rc_term t;
	if (s->rule_checks && n->acked_index > kept && n->acked_index <= disk_last &&
	    dstate_term(&d->cur, n->acked_index, &t) && t == n->acked_term) {
		sim_fail(s, "rule: acknowledged entries survive a snapshot install",
			 "n%" PRIu64 " acknowledged %" PRIu64 "/t%" PRIu64
			 " but installing snapshot %" PRIu64 "/t%" PRIu64
			 " (which its log holds) drops its log after %" PRIu64,
			 n->id, n->acked_index, n->acked_term, b->meta.index, b->meta.term, kept);
		return;
	}
	struct batch *bt = disk_batch(d);
	const char *err = disk_entries(d, bt, kept + 1, NULL, 0);
	disk_batch_done(d);
	if (err)
		sim_fail(s, "contract", "n%" PRIu64 " disk: %s", n->id, err);
	start_fsync(s, n);
}

static void install_done(struct sim *s, struct node *n, struct blob *b)
{
	struct kv kv;
	restore_kv(s, n, b, &kv, "installs");
	if (s->failed)
		return;
	if (!memb_same(&kv.memb, &b->meta.membership))
		sim_fail(s, "contract",
			 "n%" PRIu64 " snapshot %" PRIu64
			 " carries a membership of %u members, the state"
			 " at that index has %u",
			 n->id, b->meta.index, b->meta.membership.n, kv.memb.n);
	if (n->kv.applied > kv.applied)
		sim_fail(s, "contract",
			 "n%" PRIu64 " installs snapshot %" PRIu64 " after applying up to %" PRIu64,
			 n->id, kv.applied, n->kv.applied);
	if (s->failed)
		return;
	n->kv = kv;
	snap_cache_add(n, b);
	n->installs_pending--;
	s->n_snap_installs++;
	TRACE(s, n, "snapshot %" PRIu64 "/t%" PRIu64 " installed", b->meta.index, b->meta.term);
	rc_snapshot_installed(n->r, b->meta.index, b->meta.term);
	align_after_install(s, n, b);
	node_drive(s, n);
	serve_reads(s, n);
}

/* The fsync in flight completes: its batches become durable one by one, in
 * order, each followed by what waited for it (so a check made when a
 * message leaves sees the disk as it was when that message's batch became
 * durable, not later). */
void node_fsync_done(struct sim *s, struct node *n)
{
	struct disk *d = &n->disk;
	size_t k = d->fsync_covers;
	TRACE(s, n, "fsync: %zu updates durable", k);
	for (size_t i = 0; i < k && !s->failed; i++) {
		struct batch b;
		const char *err = disk_sync_one(d, &b);
		if (err)
			sim_fail(s, "contract", "n%" PRIu64 " durable write: %s", n->id, err);
		for (size_t j = 0; j < b.n_after && !s->failed; j++)
			net_send(s, n, &b.after[j]->m, b.after[j]->ack_term);
		if (b.persisted && !s->failed) {
			rc_persisted(n->r, b.p_index, b.p_term);
			node_drive(s, n);
		}
		if (b.installed && !s->failed)
			install_done(s, n, b.installed);
		if (b.taken && !s->failed) {
			n->snap_inflight = false;
			if (b.taken->meta.index > rc_snapshot_index(n->r)) {
				int rv = rc_snapshot_taken(n->r, b.taken->meta.index, b.taken->len);
				if (rv != 0)
					sim_fail(s, "contract",
						 "n%" PRIu64 " rc_snapshot_taken(%" PRIu64 "): %s",
						 n->id, b.taken->meta.index, rc_strerror(rv));
				node_drive(s, n);
			}
		}
		batch_free(&b);
	}
	d->fsync_inflight = false;
	d->fsync_covers = 0;
	if (!s->failed)
		start_fsync(s, n);
}
