/*
 * The Raft invariants, checked after every step of the simulation.
 *
 * The committed history. hist[i] is the entry at index i as the first
 * leader that declared it committed had it: whenever a leader's commit index
 * advances, its entries in the new range are recorded (or compared with the
 * record). h is the highest such index. Every apply anywhere is compared
 * with hist, and a follower may not believe in a commit beyond h (followers
 * learn their commit index from leaders, whose advances the simulator saw).
 * ct(i) is the lowest term of a leader whose commit covered i: "committed in
 * term ct(i)" in the sense of the Leader Completeness property.
 *
 * Checked (the violation names printed are in quotes):
 * - "Election Safety": at most one leader per term, over the whole run and
 *   across restarts (term -> leader is recorded forever); and one node does
 *   not lead the same term in two lives (it would have led a term it could
 *   forget in a crash, and could make two different entries at one index
 *   and term).
 * - "Leader Append-Only": a node that was leader of term T before a step and
 *   still is after it neither truncates its log nor appends entries of
 *   another term.
 * - "Log Matching": entries at the same (index, term) anywhere, any time, in
 *   any node's written log, have the same data and follow an entry of the
 *   same term. By induction over indexes this is the Log Matching property
 *   (same index and term => identical prefixes); it is checked on every
 *   entry as it is written, so it covers durable and in-memory logs alike.
 *   The Replica's in-memory log is compared with the written one (last
 *   index and term) after every update.
 * - "Leader Completeness": when a node becomes leader of term T, every entry
 *   committed in a term < T is in its log (or below its snapshot, whose state
 *   was itself checked against hist); and when an entry becomes committed
 *   in term C, every current leader of a term > C has it. (A leader of a
 *   term <= C need not: C's leader committed it after that election.)
 * - "State Machine Safety": every applied entry equals hist at its index
 *   (term and data hash), the state machine's hash chain equals hist's chain
 *   after each apply, and two leaders never declare different entries
 *   committed at one index. Snapshots restored anywhere must carry the
 *   chain of hist at their index.
 * - "Monotonic term": within one life a node's term never decreases; the
 *   hard state it asks to persist never lowers the term written before, so
 *   the durable term never decreases across crashes either.
 * - "Monotonic commit": within one life a node's commit index never
 *   decreases and never passes its log. Across a crash it restarts from the
 *   applied index the node boots with (the snapshot index, since the KV is
 *   rebuilt from the snapshot), which may be lower: commit is volatile in
 *   Raft. What must hold across lives is that every index it ever calls
 *   committed agrees with hist, which the commit-advance check and the apply
 *   check enforce.
 * - "One vote per term": every non-PreVote grant that leaves a node is
 *   recorded as (node, term) -> candidate forever; a second candidate in the
 *   same term, in any life, is a violation. The hard state a node writes
 *   may not change its vote within a term either.
 * - "CheckQuorum": see lease_check below.
 * - "Membership": a node's configuration (rc_membership) is the newest
 *   configuration entry in its log, committed or not (dissertation 4.1), or
 *   its snapshot's when the log holds none; checked whenever the log or the
 *   configuration changes (truncations of an uncommitted change included).
 *
 * Rule checks (DESIGN.md's persistence and commit rules; --no-rule-checks
 * turns them off to see what the end-to-end properties catch alone):
 * - a vote grant leaves only once (term, vote) is durable;
 * - an append acknowledgement leaves only once the acknowledged entry is
 *   durable;
 * - a leader's commit advances only to an entry of its own term (5.4.2),
 *   and only when a majority of its voters hold that entry durably;
 * - a follower truncates only at a real conflict: the entry replacing the
 *   first truncated one has a different term;
 * - a snapshot install keeps the log after a matching entry if it holds an
 *   entry the node acknowledged (node.c, align_after_install).
 *
 * Elsewhere: "Linearizability" (linearize.c); "Liveness" (cluster.c: a
 * leader and converged members within 30 s of the final heal, every
 * accepted read answered, no message storm); "contract" (the update asks
 * for something the contract in raftcore.h does not allow, e.g. entries
 * that do not follow the log, or a log that differs from what it wrote).
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

void checks_init(struct checks *c, uint32_t nkeys, const struct rc_membership *m)
{
	memset(c, 0, sizeof(*c));
	struct rc_snapshot_meta meta = {.membership = *m};
	kv_init(&c->oracle, nkeys, &meta);
}

void checks_free(struct checks *c)
{
	free(c->hist);
	free(c->lm);
	free(c->leader_of);
	free(c->leader_life);
	for (int i = 0; i < SIM_MAX_NODES; i++)
		free(c->votes[i]);
	memset(c, 0, sizeof(*c));
}

static struct node *slot_node(struct sim *s, uint32_t i)
{
	struct node *n = &s->nodes[i];
	return n->exists && n->up ? n : NULL;
}

/* Grows a term-indexed array of ids to hold term t. */
static void ensure_term(rc_id **a, size_t *cap, rc_term t)
{
	if (t < *cap)
		return;
	size_t nc = *cap ? *cap : 64;
	while (nc <= t)
		nc *= 2;
	*a = xrealloc(*a, nc * sizeof(**a));
	memset(*a + *cap, 0, (nc - *cap) * sizeof(**a));
	*cap = nc;
}

/* ---- Log Matching: (index, term) -> (data hash, previous term) ---- */

static uint64_t lm_key(rc_index i, rc_term t)
{
	uint64_t z = i * 0x9E3779B97F4A7C15ull ^ (t + 0x7F4A7C159E3779B9ull);
	z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
	return z ^ (z >> 29);
}

static struct lm_slot *lm_find(struct checks *c, rc_index i, rc_term t)
{
	if (c->lm_n * 2 >= c->lm_cap) {
		struct lm_slot *old = c->lm;
		size_t oc = c->lm_cap;
		c->lm_cap = oc ? 2 * oc : 1024;
		c->lm = calloc(c->lm_cap, sizeof(*c->lm));
		if (!c->lm)
			abort();
		c->lm_n = 0;
		for (size_t k = 0; k < oc; k++)
			if (old[k].index) {
				struct lm_slot *s = lm_find(c, old[k].index, old[k].term);
				*s = old[k];
				c->lm_n++;
			}
		free(old);
	}
	size_t mask = c->lm_cap - 1;
	for (size_t k = lm_key(i, t) & mask;; k = (k + 1) & mask)
		if (!c->lm[k].index || (c->lm[k].index == i && c->lm[k].term == t))
			return &c->lm[k];
}

static void log_matching(struct sim *s, struct node *n, const struct rc_entry *e, rc_term prev,
			 bool prev_known)
{
	struct checks *c = &s->chk;
	uint64_t h = entry_hash(e->type, e->data, e->len);
	struct lm_slot *slot = lm_find(c, e->index, e->term);
	if (!slot->index) {
		*slot = (struct lm_slot){e->index, e->term, h, prev_known ? prev : RC_TERM_UNKNOWN};
		c->lm_n++;
		return;
	}
	if (slot->hash != h) {
		sim_fail(s, "Log Matching",
			 "n%" PRIu64 " wrote entry %" PRIu64 "/t%" PRIu64
			 " with data different from another log's entry at the same index and term",
			 n->id, e->index, e->term);
		return;
	}
	if (!prev_known)
		return;
	if (slot->prev_term == RC_TERM_UNKNOWN)
		slot->prev_term = prev;
	else if (slot->prev_term != prev)
		sim_fail(s, "Log Matching",
			 "n%" PRIu64 " has entry %" PRIu64 "/t%" PRIu64
			 " after an entry of term %" PRIu64
			 ", another log has it after term %" PRIu64,
			 n->id, e->index, e->term, prev, slot->prev_term);
}

/* ---- what an update asks to write ---- */

void check_update_entries(struct sim *s, struct node *n, const struct rc_update *u)
{
	const struct dstate *cur = &n->disk.cur;
	struct rc_replica *r = n->r;
	rc_term term_now = rc_term_of(r);
	bool still_leader = n->role == RC_LEADER && rc_role(r) == RC_LEADER && n->term == term_now;

	if (u->hard_state_changed) {
		const struct rc_hard_state *hs = &u->hard_state;
		if (hs->term < cur->hs.term)
			sim_fail(s, "Monotonic term",
				 "n%" PRIu64 " persists term %" PRIu64 " after term %" PRIu64,
				 n->id, hs->term, cur->hs.term);
		else if (hs->term == cur->hs.term && cur->hs.vote && hs->vote != cur->hs.vote)
			sim_fail(s, "One vote per term",
				 "n%" PRIu64 " persists vote n%" PRIu64 " in term %" PRIu64
				 " after voting n%" PRIu64,
				 n->id, hs->vote, hs->term, cur->hs.vote);
		else if (hs->term != term_now || hs->vote != rc_vote_of(r))
			sim_fail(s, "contract",
				 "n%" PRIu64 " update hard state t%" PRIu64 "/v%" PRIu64
				 " differs from the replica's t%" PRIu64 "/v%" PRIu64,
				 n->id, hs->term, hs->vote, term_now, rc_vote_of(r));
	}

	rc_index last = dlog_last(&cur->log);
	rc_index next = last + 1;
	rc_index t = u->truncate_from;
	if (t) {
		if (still_leader)
			sim_fail(s, "Leader Append-Only",
				 "leader n%" PRIu64 " of term %" PRIu64
				 " truncates its log from %" PRIu64,
				 n->id, term_now, t);
		const struct sentry *old = dlog_at(&cur->log, t);
		if (old) {
			if (t <= n->commit)
				sim_fail(s, "State Machine Safety",
					 "n%" PRIu64 " truncates from %" PRIu64
					 " below its own commit index %" PRIu64,
					 n->id, t, n->commit);
			else if (t <= s->chk.h && old->term == s->chk.hist[t - 1].term)
				sim_fail(s, "State Machine Safety",
					 "n%" PRIu64 " truncates committed entry %" PRIu64
					 "/t%" PRIu64,
					 n->id, t, old->term);
			if (s->rule_checks) {
				const struct rc_entry *rep = NULL;
				for (size_t i = 0; i < u->n_entries; i++)
					if (u->entries[i].index == t)
						rep = &u->entries[i];
				if (!rep || rep->term == old->term)
					sim_fail(s, "rule: truncate only on conflict",
						 "n%" PRIu64 " truncates from %" PRIu64 "/t%" PRIu64
						 " but %s",
						 n->id, t, old->term,
						 rep ? "the new entry there has the same term"
						     : "writes no entry there");
			}
		}
		if (t <= last)
			next = t;
	}
	for (size_t i = 0; i < u->n_entries && !s->failed; i++) {
		const struct rc_entry *e = &u->entries[i];
		if (e->index != next + i) {
			sim_fail(s, "contract",
				 "n%" PRIu64 " appends entry %" PRIu64 " where %" PRIu64
				 " should follow its log",
				 n->id, e->index, next + i);
			return;
		}
		if (e->term > term_now || (still_leader && e->term != term_now)) {
			sim_fail(s, still_leader ? "Leader Append-Only" : "contract",
				 "n%" PRIu64 " in term %" PRIu64 " appends entry %" PRIu64
				 "/t%" PRIu64,
				 n->id, term_now, e->index, e->term);
			return;
		}
		rc_term prev = 0;
		bool known = true;
		if (i > 0)
			prev = u->entries[i - 1].term;
		else
			known = dstate_term(cur, e->index - 1, &prev);
		if (known && prev > e->term) {
			sim_fail(s, "Log Matching",
				 "n%" PRIu64 " entry %" PRIu64 "/t%" PRIu64
				 " follows a higher term %" PRIu64,
				 n->id, e->index, e->term, prev);
			return;
		}
		log_matching(s, n, e, prev, known);
	}
}

/* ---- what leaves a node ---- */

void check_sent(struct sim *s, struct node *n, const struct rc_message *m, rc_term ack_term)
{
	const struct dstate *dur = &n->disk.dur;
	int slot = (int)n->id - 1;
	if (m->type == RC_MSG_VOTE_RESP && m->u.vote_resp.granted && !m->u.vote_resp.prevote) {
		struct checks *c = &s->chk;
		ensure_term(&c->votes[slot], &c->cap_votes[slot], m->term);
		rc_id *v = &c->votes[slot][m->term];
		if (*v && *v != m->to) {
			sim_fail(s, "One vote per term",
				 "n%" PRIu64 " granted its vote in term %" PRIu64 " to n%" PRIu64
				 " and to n%" PRIu64,
				 n->id, m->term, *v, m->to);
			return;
		}
		*v = m->to;
		if (s->rule_checks &&
		    !(dur->hs.term > m->term || (dur->hs.term == m->term && dur->hs.vote == m->to)))
			sim_fail(s, "rule: vote durable before granted",
				 "n%" PRIu64 " grants n%" PRIu64 " its vote in term %" PRIu64
				 " but its durable hard state is t%" PRIu64 "/v%" PRIu64,
				 n->id, m->to, m->term, dur->hs.term, dur->hs.vote);
	}
	if (m->type == RC_MSG_APPEND_RESP && m->u.append_resp.success && s->rule_checks) {
		rc_index i = m->u.append_resp.match_index;
		if (i > n->acked_index) {
			n->acked_index = i;
			n->acked_term = ack_term;
		}
		if (!dstate_covers(dur, i, ack_term))
			sim_fail(s, "rule: append acknowledged after persist",
				 "n%" PRIu64 " acknowledges entry %" PRIu64 "/t%" PRIu64
				 " to n%" PRIu64
				 " before it is durable (durable log ends at %" PRIu64 ")",
				 n->id, i, ack_term, m->to, dlog_last(&dur->log));
	}
}

/* ---- the committed history ---- */

static bool entry_covered(struct node *n, rc_index i, const struct gent *g)
{
	if (i <= rc_snapshot_index(n->r))
		return true;
	const struct rc_entry *e = rc_entry_at(n->r, i);
	return e && e->term == g->term && entry_hash(e->type, e->data, e->len) == g->hash;
}

/* Leader Completeness for one committed index against current leaders. */
static void completeness_at(struct sim *s, rc_index i)
{
	const struct gent *g = &s->chk.hist[i - 1];
	for (uint32_t k = 0; k < s->n_slots && !s->failed; k++) {
		struct node *l = slot_node(s, k);
		if (!l || rc_role(l->r) != RC_LEADER || rc_term_of(l->r) <= g->ct)
			continue;
		if (!entry_covered(l, i, g))
			sim_fail(s, "Leader Completeness",
				 "entry %" PRIu64 "/t%" PRIu64 " committed in term %" PRIu64
				 " is missing from leader n%" PRIu64 " of term %" PRIu64,
				 i, g->term, g->ct, l->id, rc_term_of(l->r));
	}
}

static void schedule_decommissions(struct sim *s)
{
	const struct rc_membership *m = &s->chk.oracle.memb;
	for (uint32_t k = 0; k < s->n_slots; k++) {
		struct node *n = &s->nodes[k];
		if (!n->exists)
			continue;
		bool member = rc_membership_find(m, n->id) != NULL;
		if (member)
			n->joined = true;
		else if (n->joined && !n->decommission_scheduled) {
			n->decommission_scheduled = true;
			sim_schedule(s, s->now + rng_range(&s->rnem, 0, 2 * s->sw.et),
				     EV_DECOMMISSION, (int)k, 0, NULL);
		}
	}
}

/* A leader of term `term` declares entry e committed. */
static void record_commit(struct sim *s, struct node *n, const struct rc_entry *e, rc_term term)
{
	struct checks *c = &s->chk;
	uint64_t h = entry_hash(e->type, e->data, e->len);
	rc_index i = e->index;
	if (i <= c->h) {
		struct gent *g = &c->hist[i - 1];
		if (g->term != e->term || g->hash != h) {
			sim_fail(s, "State Machine Safety",
				 "leader n%" PRIu64 " of term %" PRIu64 " commits %" PRIu64
				 "/t%" PRIu64 " but %" PRIu64 "/t%" PRIu64 " was committed before",
				 n->id, term, i, e->term, i, g->term);
			return;
		}
		if (term < g->ct) {
			g->ct = term;
			completeness_at(s, i);
		}
		return;
	}
	if (i != c->h + 1) {
		sim_fail(s, "contract", "commit of %" PRIu64 " skips past %" PRIu64, i, c->h + 1);
		return;
	}
	if (c->h == c->cap_h) {
		c->cap_h = c->cap_h ? 2 * c->cap_h : 1024;
		c->hist = xrealloc(c->hist, c->cap_h * sizeof(*c->hist));
	}
	uint64_t prev_chain = c->h ? c->hist[c->h - 1].chain : 0;
	c->hist[c->h++] = (struct gent){.term = e->term,
					.ct = term,
					.hash = h,
					.chain = chain_next(prev_chain, i, e->term, h),
					.type = e->type};
	const char *err = kv_apply(&c->oracle, e);
	if (err) {
		sim_fail(s, "State Machine Safety", "committed entry %" PRIu64 ": %s", i, err);
		return;
	}
	TRACE(s, n, "COMMITTED %" PRIu64 "/t%" PRIu64 " %s (leader term %" PRIu64 ")", i, e->term,
	      e->type == RC_ENTRY_COMMAND  ? "cmd"
	      : e->type == RC_ENTRY_CONFIG ? "config"
					   : "noop",
	      term);
	lin_committed(s, i, e);
	completeness_at(s, i);
	if (e->type == RC_ENTRY_CONFIG)
		schedule_decommissions(s);
}

static void leader_completeness_full(struct sim *s, struct node *n, rc_term term)
{
	const struct checks *c = &s->chk;
	for (rc_index i = 1; i <= c->h; i++) {
		const struct gent *g = &c->hist[i - 1];
		if (g->ct >= term || entry_covered(n, i, g))
			continue;
		const struct rc_entry *e = rc_entry_at(n->r, i);
		sim_fail(s, "Leader Completeness",
			 "n%" PRIu64 " became leader of term %" PRIu64
			 " without committed entry %" PRIu64 "/t%" PRIu64
			 " (committed in term %" PRIu64 "; it has %s%" PRIu64 ")",
			 n->id, term, i, g->term, g->ct, e ? "term " : "nothing, last index ",
			 e ? e->term : rc_last_index(n->r));
		return;
	}
}

/* The commit rules of 5.4.2 and DESIGN.md on a leader's commit advance. */
static void leader_commit_rules(struct sim *s, struct node *n, rc_index commit, rc_term term)
{
	const struct rc_entry *e = rc_entry_at(n->r, commit);
	if (!e)
		return;
	if (e->term != term) {
		sim_fail(s, "rule: commit by counting only own-term entries",
			 "leader n%" PRIu64 " of term %" PRIu64 " advanced its commit to %" PRIu64
			 " of term %" PRIu64,
			 n->id, term, commit, e->term);
		return;
	}
	const struct rc_membership *m = rc_membership(n->r);
	uint32_t voters = 0, durable = 0;
	for (uint32_t k = 0; k < m->n; k++) {
		if (!m->members[k].voter)
			continue;
		voters++;
		/* A decommissioned node's disk still says what it had durably
		 * when it acknowledged. */
		struct node *v = sim_node(s, m->members[k].id);
		if (v && dstate_covers(&v->disk.dur, commit, e->term))
			durable++;
	}
	if (2 * durable <= voters)
		sim_fail(s, "rule: committed only when durable on a majority",
			 "leader n%" PRIu64 " of term %" PRIu64 " commits %" PRIu64
			 " but only %u of %u voters hold it durably",
			 n->id, term, commit, durable, voters);
}

/* Dissertation 6.2: with CheckQuorum a leader that has not heard from a
 * majority of voters within an election timeout steps down. A correct
 * Replica checks at least every 2T (its timeout is drawn in [T, 2T)), so it
 * steps down at most 2 x 2T after the last message it could count, plus a
 * tick on either side. The window D = 4T + 2 ticks + a heartbeat is therefore
 * never tripped by a correct Replica: "heard" here is any message delivered
 * from that voter, a superset of what the Replica can count. Skipped while
 * the window contains a boot, a pause or a membership change of the leader,
 * where "the voters" or "time" would be ambiguous. */
static void lease_check(struct sim *s, struct node *n)
{
	uint64_t d = 4ull * s->sw.et + 2ull * s->sw.tick_max + s->sw.hb;
	if (s->now < d || n->leader_since + d > s->now || n->active_since + d > s->now ||
	    n->memb_at + d > s->now)
		return;
	const struct rc_membership *m = rc_membership(n->r);
	const struct rc_member *self = rc_membership_find(m, n->id);
	if (!self || !self->voter)
		return;
	uint32_t voters = 0, heard = 0;
	for (uint32_t k = 0; k < m->n; k++) {
		if (!m->members[k].voter)
			continue;
		voters++;
		rc_id id = m->members[k].id;
		if (id == n->id ||
		    (id <= SIM_MAX_NODES && n->heard[id - 1] && n->heard[id - 1] - 1 + d >= s->now))
			heard++;
	}
	if (2 * heard <= voters)
		sim_fail(s, "CheckQuorum",
			 "n%" PRIu64 " is still leader of term %" PRIu64 " after %" PRIu64
			 " ms without hearing from a majority (%u of %u voters) for %" PRIu64 " ms",
			 n->id, n->term, s->now - n->leader_since, heard, voters, d);
}

void check_observe(struct sim *s, struct node *n, enum rc_role role, rc_term term, rc_index commit)
{
	struct checks *c = &s->chk;
	if (term < n->term) {
		sim_fail(s, "Monotonic term", "n%" PRIu64 " term went from %" PRIu64 " to %" PRIu64,
			 n->id, n->term, term);
		return;
	}
	bool was_leader = n->role == RC_LEADER && n->term == term;
	if (role == RC_LEADER) {
		ensure_term(&c->leader_of, &c->cap_leader, term);
		rc_id *l = &c->leader_of[term];
		if (*l && *l != n->id) {
			sim_fail(s, "Election Safety",
				 "n%" PRIu64 " and n%" PRIu64 " are both leaders of term %" PRIu64,
				 *l, n->id, term);
			return;
		}
		*l = n->id;
		ensure_term(&c->leader_life, &c->cap_leader_life, term);
		if (!was_leader && c->leader_life[term] && c->leader_life[term] != n->life) {
			sim_fail(s, "Election Safety",
				 "n%" PRIu64 " leads term %" PRIu64 " a second time (lives %" PRIu64
				 " and %u): the term was not durable",
				 n->id, term, c->leader_life[term], n->life);
			return;
		}
		c->leader_life[term] = n->life;
		if (!was_leader) {
			s->n_elections++;
			n->leader_since = s->now;
			TRACE(s, n,
			      "LEADER of term %" PRIu64 " (last %" PRIu64 ", commit %" PRIu64 ")",
			      term, rc_last_index(n->r), commit);
			leader_completeness_full(s, n, term);
		}
	}
	rc_index last = rc_last_index(n->r), snap = rc_snapshot_index(n->r);
	if (commit < n->commit) {
		sim_fail(s, "Monotonic commit",
			 "n%" PRIu64 " commit index went from %" PRIu64 " to %" PRIu64, n->id,
			 n->commit, commit);
		return;
	}
	if (commit > (last > snap ? last : snap)) {
		sim_fail(s, "Monotonic commit",
			 "n%" PRIu64 " commit index %" PRIu64 " is beyond its log (last %" PRIu64
			 ")",
			 n->id, commit, last);
		return;
	}
	/* A leader may commit its own removal and step down in one step. */
	if (commit > n->commit && (role == RC_LEADER || was_leader)) {
		if (was_leader && s->rule_checks)
			leader_commit_rules(s, n, commit, term);
		for (rc_index i = n->commit + 1; i <= commit && !s->failed; i++) {
			const struct rc_entry *e = rc_entry_at(n->r, i);
			if (!e) {
				if (i <= snap)
					continue;
				sim_fail(s, "contract",
					 "leader n%" PRIu64 " committed %" PRIu64
					 " which is not in its log",
					 n->id, i);
				break;
			}
			record_commit(s, n, e, term);
		}
	} else if (commit > n->commit) {
		if (commit > c->h) {
			sim_fail(s, "State Machine Safety",
				 "n%" PRIu64 " believes %" PRIu64
				 " is committed but no leader committed beyond %" PRIu64,
				 n->id, commit, c->h);
			return;
		}
		for (rc_index i = n->commit + 1; i <= commit && !s->failed; i++) {
			const struct rc_entry *e = rc_entry_at(n->r, i);
			const struct gent *g = &c->hist[i - 1];
			if (e &&
			    (e->term != g->term || entry_hash(e->type, e->data, e->len) != g->hash))
				sim_fail(s, "State Machine Safety",
					 "n%" PRIu64 " commits %" PRIu64 "/t%" PRIu64
					 " but %" PRIu64 "/t%" PRIu64 " was committed",
					 n->id, i, e->term, i, g->term);
		}
	}
	if (role != n->role)
		TRACE(s, n, "role %s -> %s term %" PRIu64, rc_role_name(n->role),
		      rc_role_name(role), term);
	n->role = role;
	n->term = term;
	n->commit = commit;
	if (role == RC_LEADER && !s->failed)
		lease_check(s, n);
}

/* The Replica's log must be what it asked the disk to write (while no
 * snapshot install is pending, which replaces the log on both sides at
 * different moments). */
void check_log_mirror(struct sim *s, struct node *n)
{
	rc_index last = rc_last_index(n->r);
	if (!n->installs_pending && !s->failed) {
		const struct dstate *cur = &n->disk.cur;
		rc_index dl = dlog_last(&cur->log);
		if (dl < cur->snap->meta.index)
			dl = cur->snap->meta.index;
		const struct rc_entry *e = rc_entry_at(n->r, last);
		rc_term dt = 0;
		bool known = dstate_term(cur, last, &dt);
		if (dl != last || (e && known && e->term != dt))
			sim_fail(s, "contract",
				 "n%" PRIu64 " log ends at %" PRIu64 "/t%" PRIu64
				 " but it had the disk write up to %" PRIu64,
				 n->id, last, e ? e->term : 0, dl);
	}
}

void check_apply(struct sim *s, struct node *n, const struct rc_entry *e)
{
	struct checks *c = &s->chk;
	rc_index i = e->index;
	if (i == 0 || i > c->h) {
		sim_fail(s, "State Machine Safety",
			 "n%" PRIu64 " applies %" PRIu64 "/t%" PRIu64
			 " but no leader committed beyond %" PRIu64,
			 n->id, i, e->term, c->h);
		return;
	}
	const struct gent *g = &c->hist[i - 1];
	if (g->term != e->term || g->hash != entry_hash(e->type, e->data, e->len)) {
		sim_fail(s, "State Machine Safety",
			 "n%" PRIu64 " applies %" PRIu64 "/t%" PRIu64 " but %" PRIu64 "/t%" PRIu64
			 " was committed",
			 n->id, i, e->term, i, g->term);
		return;
	}
	if (i > c->g)
		c->g = i;
}

void check_snapshot(struct sim *s, struct node *n, const struct kv *kv, const char *what)
{
	const struct checks *c = &s->chk;
	rc_index i = kv->applied;
	if (i > c->h) {
		sim_fail(s, "State Machine Safety",
			 "n%" PRIu64 " %s a state at %" PRIu64 " beyond the committed %" PRIu64,
			 n->id, what, i, c->h);
		return;
	}
	uint64_t chain = i ? c->hist[i - 1].chain : 0;
	if (kv->chain != chain)
		sim_fail(s, "State Machine Safety",
			 "n%" PRIu64 " %s a state at %" PRIu64
			 " that differs from the committed history",
			 n->id, what, i);
}

bool check_converged(struct sim *s, char *why, size_t cap)
{
	struct node *l = NULL;
	for (uint32_t k = 0; k < s->n_slots; k++) {
		struct node *n = slot_node(s, k);
		if (n && rc_role(n->r) == RC_LEADER && (!l || rc_term_of(n->r) > rc_term_of(l->r)))
			l = n;
	}
	if (!l) {
		snprintf(why, cap, "no leader");
		return false;
	}
	rc_index commit = rc_commit_index(l->r), last = rc_last_index(l->r);
	if (commit != last || l->kv.applied != commit) {
		snprintf(why, cap,
			 "leader n%" PRIu64 " commit %" PRIu64 " last %" PRIu64 " applied %" PRIu64,
			 l->id, commit, last, l->kv.applied);
		return false;
	}
	const struct rc_membership *m = rc_membership(l->r);
	for (uint32_t k = 0; k < m->n; k++) {
		struct node *n = sim_node(s, m->members[k].id);
		if (!m->members[k].voter) {
			snprintf(why, cap, "n%" PRIu64 " is still a non-voter", m->members[k].id);
			return false;
		}
		if (!n || !n->exists || !n->up) {
			snprintf(why, cap, "member n%" PRIu64 " is not running", m->members[k].id);
			return false;
		}
		if (rc_term_of(n->r) != rc_term_of(l->r) || rc_commit_index(n->r) != commit ||
		    rc_last_index(n->r) != last || n->kv.applied != commit ||
		    n->kv.chain != l->kv.chain || (n != l && rc_leader(n->r) != l->id)) {
			snprintf(why, cap,
				 "n%" PRIu64 " t%" PRIu64 " commit %" PRIu64 " last %" PRIu64
				 " applied %" PRIu64 " leader n%" PRIu64 " vs leader n%" PRIu64
				 " t%" PRIu64 " commit %" PRIu64,
				 n->id, rc_term_of(n->r), rc_commit_index(n->r),
				 rc_last_index(n->r), n->kv.applied, rc_leader(n->r), l->id,
				 rc_term_of(l->r), commit);
			return false;
		}
	}
	return true;
}

void check_membership(struct sim *s, struct node *n)
{
	const struct dstate *cur = &n->disk.cur;
	struct rc_membership want = cur->snap->meta.membership;
	for (size_t k = cur->log.n; k-- > 0;) {
		const struct sentry *e = &cur->log.e[k];
		if (e->type != RC_ENTRY_CONFIG)
			continue;
		if (rc_membership_decode(e->p->data, e->p->len, &want) != 0) {
			sim_fail(s, "Membership",
				 "n%" PRIu64 " config entry %" PRIu64 " does not decode", n->id,
				 e->index);
			return;
		}
		break;
	}
	const struct rc_membership *got = rc_membership(n->r);
	if (!memb_same(got, &want))
		sim_fail(s, "Membership",
			 "n%" PRIu64 " uses a configuration of %u members, its log's newest has %u",
			 n->id, got->n, want.n);
}
