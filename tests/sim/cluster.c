/*
 * One simulation run: set up the cluster a seed describes, run the event
 * loop, inject faults (the nemesis) and client operations during the chaos
 * phase, then heal everything and require liveness: within 30 s of
 * simulated time a leader exists and every member of its configuration has
 * the same log, commit index and applied state; a few heartbeat rounds later
 * every read accepted before the heal has been answered. A run that needs
 * more than EVENT_CAP events is a message storm and fails too.
 *
 * Events that target a node carry its life (TICK, FSYNC) and are dropped if
 * the node restarted since; deliveries and fsync completions for a paused
 * node are held and replayed when it resumes (a stopped process keeps its
 * socket buffers), its ticks just stop.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define CONVERGE_MS 30000
/* A seed normally takes 10^4..10^5 events. A Replica that answers every
 * duplicate with more messages floods the network; stop and say so. */
#define EVENT_CAP 600000

void sim_schedule(struct sim *s, uint64_t at, uint8_t kind, int node, uint32_t gen,
		  struct smsg *msg)
{
	evq_push(
	    &s->q,
	    (struct ev){.time = at, .kind = kind, .node = (int8_t)node, .gen = gen, .msg = msg});
}

void sim_schedule_tick(struct sim *s, struct node *n)
{
	uint64_t at = s->now + rng_range(&s->rnet, s->sw.tick_min, s->sw.tick_max);
	sim_schedule(s, at, EV_TICK, (int)n->id - 1, n->life, NULL);
}

/* Up, running nodes; leaders only when want_leader. */
static struct node *pick_node(struct sim *s, struct rng *r, bool want_leader)
{
	struct node *c[SIM_MAX_NODES];
	int n = 0;
	for (uint32_t i = 0; i < s->n_slots; i++) {
		struct node *x = &s->nodes[i];
		if (x->exists && x->up && !x->paused &&
		    (!want_leader || rc_role(x->r) == RC_LEADER))
			c[n++] = x;
	}
	return n ? c[rng_below(r, (uint64_t)n)] : NULL;
}

static struct node *leader_node(struct sim *s)
{
	struct node *l = NULL;
	for (uint32_t i = 0; i < s->n_slots; i++) {
		struct node *x = &s->nodes[i];
		if (x->exists && x->up && !x->paused && rc_role(x->r) == RC_LEADER &&
		    (!l || rc_term_of(x->r) > rc_term_of(l->r)))
			l = x;
	}
	return l;
}

/* ---- clients ---- */

static void client_write(struct sim *s)
{
	struct rng *r = &s->rcli;
	struct node *n = rng_below(r, 100) < 85 ? pick_node(s, r, true) : NULL;
	if (!n)
		n = pick_node(s, r, false);
	if (!n)
		return;
	/* Backpressure, as a server would apply it: no new writes while the
	 * leader has a long uncommitted tail (else a slow configuration only
	 * builds an endless backlog). */
	if (rc_last_index(n->r) > rc_commit_index(n->r) + 64)
		return;
	if (s->chk.h >= s->log_budget)
		return;
	uint8_t key = (uint8_t)rng_below(r, s->sw.nkeys);
	uint32_t pad = (uint32_t)rng_below(r, s->sw.pad_max + 1);
	uint8_t buf[KV_CMD_MIN + 512];
	uint64_t wid = lin_write_invoke(s, key, n);
	size_t len = kv_cmd_put(buf, key, wid, pad);
	rc_index index = 0;
	rc_term term = 0;
	int rv = rc_propose(n->r, buf, (uint32_t)len, &index, &term);
	lin_write_proposed(s, wid, rv, index, term);
	if (rv)
		TRACE(s, n, "client write %" PRIu64 " key %u: %s", wid, key, rc_strerror(rv));
	else
		TRACE(s, n, "client write %" PRIu64 " key %u: proposed %" PRIu64 "/t%" PRIu64, wid,
		      key, index, term);
	node_drive(s, n);
}

static void client_read(struct sim *s)
{
	struct rng *r = &s->rcli;
	struct node *n = rng_coin(r) ? pick_node(s, r, true) : NULL;
	if (!n)
		n = pick_node(s, r, false);
	if (!n)
		return;
	uint8_t key = (uint8_t)rng_below(r, s->sw.nkeys);
	uint64_t rid = lin_read_invoke(s, key, n);
	int rv = rc_read_index(n->r, rid);
	TRACE(s, n, "client read %" PRIu64 " key %u%s%s", rid, key, rv ? ": " : "",
	      rv ? rc_strerror(rv) : "");
	if (rv)
		lin_read_refused(s, rid);
	node_drive(s, n);
}

/* ---- faults ---- */

static rc_id fresh_id(struct sim *s)
{
	for (rc_id id = 1; id <= SIM_MAX_NODES; id++)
		if (!s->nodes[id - 1].id)
			return id;
	return 0;
}

static void change_membership(struct sim *s)
{
	struct rng *r = &s->rnem;
	struct node *l = leader_node(s);
	if (!l)
		return;
	const struct rc_membership *m = rc_membership(l->r);
	uint32_t voters = 0, learners = 0;
	for (uint32_t i = 0; i < m->n; i++)
		m->members[i].voter ? voters++ : learners++;
	struct rc_member mb = {0};
	enum rc_change kind;
	rc_id id = fresh_id(s);
	uint64_t roll = rng_below(r, 10);
	if (id && m->n < 6 && (roll < 5 || voters < 2)) {
		kind = RC_ADD;
		mb.id = id;
	} else if (learners && roll < 7) {
		kind = RC_PROMOTE;
		for (uint32_t i = 0; i < m->n; i++)
			if (!m->members[i].voter)
				mb.id = m->members[i].id;
	} else {
		const struct rc_member *victim = &m->members[rng_below(r, m->n)];
		if (victim->voter && voters < 2)
			return;
		kind = RC_REMOVE;
		mb.id = victim->id;
	}
	snprintf(mb.addr, sizeof(mb.addr), "sim-n%" PRIu64, mb.id);
	rc_index index = 0;
	int rv = rc_change_membership(l->r, kind, &mb, &index);
	static const char *names[] = {"ADD", "PROMOTE", "REMOVE"};
	if (rv)
		TRACE(s, l, "nemesis membership %s n%" PRIu64 ": %s", names[kind], mb.id,
		      rc_strerror(rv));
	else
		TRACE(s, l, "nemesis membership %s n%" PRIu64 ": config entry %" PRIu64,
		      names[kind], mb.id, index);
	node_drive(s, l);
	if (rv == 0 && kind == RC_ADD && !s->failed)
		node_create(s, mb.id, NULL);
}

static void transfer(struct sim *s)
{
	struct node *l = leader_node(s);
	if (!l)
		return;
	const struct rc_membership *m = rc_membership(l->r);
	rc_id to = m->members[rng_below(&s->rnem, m->n)].id;
	int rv = rc_transfer_leadership(l->r, to);
	TRACE(s, l, "nemesis transfer leadership to n%" PRIu64 ": %s", to, rc_strerror(rv));
	node_drive(s, l);
}

static void crash(struct sim *s, struct node *n, uint64_t down_min, uint64_t down_max)
{
	if (!n)
		return;
	s->n_crashes++;
	node_crash(s, n, false);
	sim_schedule(s, s->now + rng_range(&s->rnem, down_min, down_max), EV_RESTART,
		     (int)n->id - 1, 0, NULL);
}

static void nemesis(struct sim *s)
{
	struct rng *r = &s->rnem;
	const struct swarm *w = &s->sw;
	enum { PART, CRASH, PAUSE, MEMB, XFER, CHURN } acts[8];
	int n = 0;
	if (w->partitions)
		acts[n++] = PART;
	if (w->crashes)
		acts[n++] = CRASH;
	if (w->pauses)
		acts[n++] = PAUSE;
	if (w->membership)
		acts[n++] = MEMB;
	if (w->transfers)
		acts[n++] = XFER;
	if (w->churn) {
		acts[n++] = CHURN;
		acts[n++] = CHURN;
	}
	if (!n)
		return;
	switch (acts[rng_below(r, (uint64_t)n)]) {
	case PART:
		if (s->net.partitioned && rng_below(r, 3) == 0)
			net_heal(s);
		else
			net_partition(s);
		break;
	case CRASH: {
		if (rng_below(r, 4) == 0) {
			/* A power failure: most nodes lose their unsynced writes
			 * at the same moment (what makes an early acknowledgement
			 * or an early self-count visible end to end). */
			TRACE(s, NULL, "nemesis power failure");
			for (uint32_t i = 0; i < s->n_slots; i++)
				if (s->nodes[i].exists && s->nodes[i].up && rng_below(r, 10) < 8)
					crash(s, &s->nodes[i], w->et / 4, w->fault_max);
			break;
		}
		struct node *x = rng_coin(r) ? leader_node(s) : NULL;
		crash(s, x ? x : pick_node(s, r, false), w->fault_min / 4, w->fault_max);
		break;
	}
	case PAUSE: {
		struct node *x = rng_coin(r) ? leader_node(s) : pick_node(s, r, false);
		if (!x)
			break;
		node_pause(s, x);
		sim_schedule(s, s->now + rng_range(r, w->fault_min / 2, w->fault_max), EV_UNPAUSE,
			     (int)x->id - 1, x->life, NULL);
		break;
	}
	case MEMB:
		change_membership(s);
		break;
	case XFER:
		transfer(s);
		break;
	case CHURN: /* Figure 8: leaders that die young, right after appending */
		crash(s, leader_node(s), w->et / 4, 2 * w->et);
		break;
	}
}

static void final_heal(struct sim *s)
{
	s->phase = PH_HEALED;
	s->heal_at = s->now;
	TRACE(s, NULL, "FINAL HEAL: no more faults, loss or clients");
	net_heal(s);
	s->sw.loss_ppm = s->sw.dup_ppm = s->sw.long_ppm = 0;
	for (uint32_t i = 0; i < s->n_slots && !s->failed; i++) {
		struct node *n = &s->nodes[i];
		if (!n->exists)
			continue;
		if (!n->up)
			node_boot(s, n);
		else if (n->paused)
			node_unpause(s, n);
	}
	sim_schedule(s, s->now + 10, EV_CONVERGE, -1, 0, NULL);
}

/* Once converged, every read a still-running node accepted before the heal
 * must have been answered by the Replica (ok or failed, exactly once) within
 * a few heartbeat rounds: the cluster is healthy, nothing can hold it any
 * longer. (Serving an answered read needs the node to apply its index: the
 * members do, having converged; a node left outside the configuration, e.g.
 * one whose addition was truncated, never will, and that is no fault.) */
static void check_reads_answered(struct sim *s)
{
	for (size_t i = 0; s->read_answers && i < s->lin.nr; i++) {
		const struct rop *r = &s->lin.r[i];
		const struct node *n = &s->nodes[r->node];
		if (r->state == R_WAIT_INDEX && n->up && n->life == r->life &&
		    r->t_inv < s->heal_at) {
			sim_fail(s, "Liveness",
				 "read %zu asked of n%" PRIu64 " at %" PRIu64
				 " ms is still unanswered %" PRIu64
				 " ms after the cluster converged",
				 i + 1, n->id, r->t_inv, s->now - s->converged_at);
			return;
		}
	}
}

static void converge(struct sim *s)
{
	char why[256];
	if (s->phase == PH_DRAIN) {
		check_reads_answered(s);
		s->phase = PH_DONE;
		return;
	}
	if (check_converged(s, why, sizeof(why))) {
		s->phase = PH_DRAIN;
		s->converged_at = s->now;
		TRACE(s, NULL, "CONVERGED %" PRIu64 " ms after the heal", s->now - s->heal_at);
		sim_schedule(s, s->now + 4ull * s->sw.et + 2ull * s->sw.delay_max, EV_CONVERGE, -1,
			     0, NULL);
		return;
	}
	if (s->now >= s->heal_at + CONVERGE_MS) {
		sim_fail(s, "Liveness", "no convergence %u ms after the final heal: %s",
			 CONVERGE_MS, why);
		return;
	}
	sim_schedule(s, s->now + 10, EV_CONVERGE, -1, 0, NULL);
}

/* Without snapshots, a node added or cut off early must catch up entry by
 * entry, at most inflight x entries-per-message per round trip. Keep the log
 * short enough to replicate in about 15 s of the 30 s the final convergence
 * gets, or a slow but correct configuration would fail it. */
static uint64_t log_budget(const struct swarm *w)
{
	if (w->snapshots)
		return UINT64_MAX;
	uint64_t entry = KV_CMD_MIN + w->pad_max / 2 + 40;
	uint64_t per_msg = w->max_bytes / entry;
	if (per_msg < 1)
		per_msg = 1;
	if (per_msg > w->max_ents)
		per_msg = w->max_ents;
	uint64_t rtt =
	    w->delay_min + w->delay_max + (w->fsync_min + w->fsync_max) / 2 + w->tick_max + 1;
	uint64_t budget = 15000 * w->max_inflight * per_msg / rtt;
	return budget < 100 ? 100 : budget;
}

static uint64_t gap(struct rng *r, uint32_t every)
{
	return rng_range(r, 1, 2ull * every);
}

static void dispatch(struct sim *s, struct ev *e)
{
	struct node *n = e->node >= 0 ? &s->nodes[e->node] : NULL;
	switch (e->kind) {
	case EV_TICK:
		if (!n->exists || !n->up || e->gen != n->life || n->paused)
			return;
		rc_tick(n->r, s->now + n->clock_off);
		node_drive(s, n);
		sim_schedule_tick(s, n);
		return;
	case EV_DELIVER:
		if (e->gen && e->gen != n->life)
			return; /* handed back to itself by a life that ended */
		if (n->exists && n->up && n->paused) {
			node_hold(n, e);
			e->msg = NULL;
			return;
		}
		net_deliver(s, e->msg);
		return;
	case EV_FSYNC:
		if (!n->exists || !n->up || e->gen != n->life)
			return;
		if (n->paused) {
			node_hold(n, e);
			return;
		}
		node_fsync_done(s, n);
		return;
	case EV_NEMESIS:
		if (s->phase != PH_CHAOS)
			return;
		nemesis(s);
		sim_schedule(s, s->now + rng_range(&s->rnem, s->sw.nem_min, s->sw.nem_max),
			     EV_NEMESIS, -1, 0, NULL);
		return;
	case EV_WRITE:
		if (s->phase != PH_CHAOS)
			return;
		client_write(s);
		sim_schedule(s, s->now + gap(&s->rcli, s->sw.write_every), EV_WRITE, -1, 0, NULL);
		return;
	case EV_READ:
		if (s->phase != PH_CHAOS)
			return;
		client_read(s);
		sim_schedule(s, s->now + gap(&s->rcli, s->sw.read_every), EV_READ, -1, 0, NULL);
		return;
	case EV_RESTART:
		if (n->exists && !n->up)
			node_boot(s, n);
		return;
	case EV_UNPAUSE:
		if (n->exists && n->up && n->paused && e->gen == n->life)
			node_unpause(s, n);
		return;
	case EV_HEAL:
		if (e->gen == s->net.part_gen)
			net_heal(s);
		return;
	case EV_FINAL_HEAL:
		final_heal(s);
		return;
	case EV_CONVERGE:
		converge(s);
		return;
	case EV_DECOMMISSION:
		if (n->exists && !rc_membership_find(&s->chk.oracle.memb, n->id))
			node_crash(s, n, true);
		return;
	}
}

int sim_run(uint64_t seed, const struct sim_flags *f, uint64_t *events_out, char *fail,
	    size_t fail_cap)
{
	bool trace = f->trace, stats = f->stats;
	struct sim *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->seed = seed;
	s->trace = trace;
	s->rule_checks = f->rule_checks;
	s->read_answers = f->read_answers;
	s->max_events = f->max_events;
	swarm_pick(&s->sw, seed);
	rng_seed(&s->rnet, seed, 2);
	rng_seed(&s->rdisk, seed, 3);
	rng_seed(&s->rnem, seed, 4);
	rng_seed(&s->rcli, seed, 5);
	if (trace) {
		printf("seed %" PRIu64 "\n", seed);
		swarm_print(&s->sw, stdout);
	}

	struct rc_membership m = {.n = s->sw.n_nodes};
	for (uint32_t i = 0; i < m.n; i++) {
		m.members[i].id = i + 1;
		m.members[i].voter = true;
		snprintf(m.members[i].addr, RC_ADDR_MAX, "sim-n%u", i + 1);
	}
	checks_init(&s->chk, s->sw.nkeys, &m);
	s->log_budget = log_budget(&s->sw);
	for (uint32_t i = 0; i < m.n && !s->failed; i++) {
		node_create(s, i + 1, &m);
		s->nodes[i].joined = true;
	}
	sim_schedule(s, rng_range(&s->rnem, s->sw.nem_min, s->sw.nem_max), EV_NEMESIS, -1, 0, NULL);
	if (s->sw.write_every)
		sim_schedule(s, gap(&s->rcli, s->sw.write_every), EV_WRITE, -1, 0, NULL);
	if (s->sw.read_every)
		sim_schedule(s, gap(&s->rcli, s->sw.read_every), EV_READ, -1, 0, NULL);
	sim_schedule(s, s->sw.chaos_ms, EV_FINAL_HEAL, -1, 0, NULL);

	struct ev e;
	bool cut = false;
	while (!s->failed && s->phase != PH_DONE && evq_pop(&s->q, &e)) {
		s->now = e.time;
		s->events++;
		dispatch(s, &e);
		if (e.msg)
			smsg_unref(e.msg);
		if (s->max_events && s->events >= s->max_events) {
			cut = true;
			break;
		}
		if (s->events >= EVENT_CAP)
			sim_fail(s, "Liveness",
				 "message storm: %u events by %" PRIu64 " ms (%" PRIu64
				 " messages)",
				 EVENT_CAP, s->now, s->n_msgs);
	}
	if (!s->failed && !cut && s->phase != PH_DONE)
		sim_fail(s, "Liveness", "the simulation ran out of events");

	if (trace || s->failed) {
		snprintf(fail, fail_cap, "%s: %s (at %" PRIu64 " ms)", s->fail_inv, s->fail_msg,
			 s->fail_time);
	}
	if (trace || stats)
		printf("seed %" PRIu64 " end at %" PRIu64 " ms: %" PRIu64 " events, %" PRIu64
		       " messages, %" PRIu64 " elections, %" PRIu64 " crashes, %" PRIu64
		       " snapshot installs, committed %zu, "
		       "writes ok %" PRIu64 "/%zu, reads ok %" PRIu64 " failed %" PRIu64 "/%zu%s\n",
		       seed, s->now, s->events, s->n_msgs, s->n_elections, s->n_crashes,
		       s->n_snap_installs, s->chk.h, s->lin.writes_ok, s->lin.nw, s->lin.reads_ok,
		       s->lin.reads_failed, s->lin.nr, cut ? " (cut by --steps)" : "");
	*events_out = s->events;
	int failed = s->failed;
	for (uint32_t i = 0; i < SIM_MAX_NODES; i++)
		if (s->nodes[i].id)
			node_free(&s->nodes[i]);
	evq_free(&s->q);
	checks_free(&s->chk);
	lin_free(&s->lin);
	free(s);
	return failed ? 1 : 0;
}
