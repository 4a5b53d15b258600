/*
 * The fake backend (api_fake_backend.h). One mutex guards the map and the
 * queues; done() callbacks are always made without it, with results that
 * no longer point into the map (command results point into the job, query
 * results are deep copies freed by their release hook).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_fake_backend.h"

struct fentry {
	uint8_t *key;
	uint32_t klen;
	uint8_t *val;
	uint32_t vlen;
	uint64_t create, modify, version;
};

struct job {
	struct job *next;
	bool is_cmd;
	struct cmd cmd;
	struct query q;
	uint8_t *key; /* copies of the borrowed bytes */
	uint8_t *value;
	api_cmd_done cdone;
	api_query_done qdone;
	void *arg;
	uint64_t deadline_ms; /* blocking query */
	bool sync_wait;       /* FAKE_BEFORE_RET: the caller waits for `finished` */
	bool finished;
	atomic_bool taken;    /* FAKE_AFTER_RET: the worker holds the job */
	atomic_bool returned; /* FAKE_AFTER_RET: submit/query has returned */
	/* command results point into these */
	struct cmd_result res;
	uint8_t *cur_key, *cur_val;
	/* CMD_TXN: j->value holds the encoded command, j->cmd its decoded
	 * form; the op results and the bytes gets copied out of the map */
	struct cmd_txn_result *txn_res;
	uint8_t **owned;
	size_t n_owned;
};

struct fake {
	enum fake_mode mode;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fentry *e; /* sorted by key */
	size_t n, cap;
	uint64_t index, last_delete;
	struct job *head, *tail, *waiters;
	pthread_t worker;
	bool stop, drain;
	unsigned delay_ms;
	unsigned fail_n;
	enum api_status fail_s;
	char fail_msg[160];
	uint64_t node, leader, last_contact;
	enum api_status health;
	char reason[160];
	struct fake_seen seen;
	atomic_long results_out;
};

struct fqres {
	struct query_result res;
	struct fake *f;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n + 1);
	if (n > 0)
		memcpy(d, p, n);
	d[n] = 0;
	return d;
}

static int cmp_key(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

/* Index of the first entry >= key; *found when equal. */
static size_t lookup(struct fake *f, const uint8_t *k, size_t kn, bool *found)
{
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cmp_key(f->e[mid].key, f->e[mid].klen, k, kn) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < f->n && cmp_key(f->e[lo].key, f->e[lo].klen, k, kn) == 0;
	return lo;
}

static bool has_prefix(const struct fentry *e, const uint8_t *p, size_t pn)
{
	return e->klen >= pn && memcmp(e->key, p, pn) == 0;
}

static void entry_view(const struct fentry *e, struct kv_entry *out)
{
	memset(out, 0, sizeof *out);
	out->key.p = e->key;
	out->key.len = e->klen;
	out->value.p = e->val;
	out->value.len = e->vlen;
	out->create_index = e->create;
	out->modify_index = e->modify;
	out->version = e->version;
}

static void remove_at(struct fake *f, size_t i)
{
	free(f->e[i].key);
	free(f->e[i].val);
	memmove(&f->e[i], &f->e[i + 1], (f->n - i - 1) * sizeof f->e[0]);
	f->n--;
}

/* The current entry, copied into the job, for a CAS failure. */
static void set_current(struct job *j, const struct fentry *e)
{
	j->cur_key = dup_bytes(e->key, e->klen);
	j->cur_val = dup_bytes(e->val, e->vlen);
	entry_view(e, &j->res.current);
	j->res.current.key.p = j->cur_key;
	j->res.current.value.p = j->cur_val;
	j->res.has_current = true;
}

static void cas_fail(struct job *j, const struct fentry *e)
{
	j->res.status = API_CAS_FAILED;
	snprintf(j->res.message, sizeof j->res.message, "cas failed");
	if (e != NULL)
		set_current(j, e);
}

/* Keeps a copy of p[0..n) alive as long as the job. */
static const uint8_t *job_copy(struct job *j, const uint8_t *p, size_t n)
{
	j->owned = realloc(j->owned, (j->n_owned + 1) * sizeof *j->owned);
	j->owned[j->n_owned] = dup_bytes(p, n);
	return j->owned[j->n_owned++];
}

/* Inserts or updates key (mu held); returns its slot. */
static size_t fake_write(struct fake *f, struct cmd_bytes key, struct cmd_bytes value)
{
	bool found;
	size_t i = lookup(f, key.p, key.len, &found);
	if (!found) {
		if (f->n == f->cap) {
			f->cap = f->cap ? f->cap * 2 : 16;
			f->e = realloc(f->e, f->cap * sizeof f->e[0]);
		}
		memmove(&f->e[i + 1], &f->e[i], (f->n - i) * sizeof f->e[0]);
		f->n++;
		f->e[i].key = dup_bytes(key.p, key.len);
		f->e[i].klen = key.len;
		f->e[i].create = f->index;
		f->e[i].version = 0;
	} else {
		free(f->e[i].val);
	}
	f->e[i].val = dup_bytes(value.p, value.len);
	f->e[i].vlen = value.len;
	f->e[i].modify = f->index;
	f->e[i].version++;
	return i;
}

/* A transaction, as server/store_txn.c applies it (mu held). */
static void apply_txn(struct fake *f, struct job *j)
{
	const struct cmd_txn *t = &j->cmd.u.txn;
	struct cmd_txn_compare cmp[CMD_TXN_MAX];
	struct cmd_txn_op ops[2][CMD_TXN_MAX];
	if (cmd_txn_unpack(t, cmp, ops[0], ops[1]) != 0) {
		j->res.status = API_INTERNAL;
		snprintf(j->res.message, sizeof j->res.message, "undecodable transaction");
		return;
	}
	bool holds = true;
	for (uint32_t i = 0; i < t->n_compare && holds; i++) {
		bool found;
		size_t k = lookup(f, cmp[i].key.p, cmp[i].key.len, &found);
		switch (cmp[i].kind) {
		case CMD_CMP_MODIFY_INDEX:
			holds =
			    cmp[i].index == 0 ? !found : found && f->e[k].modify == cmp[i].index;
			break;
		case CMD_CMP_ABSENT:
			holds = !found;
			break;
		case CMD_CMP_PRESENT:
			holds = found;
			break;
		default:
			holds = found && f->e[k].vlen == cmp[i].value.len &&
				memcmp(f->e[k].val, cmp[i].value.p, cmp[i].value.len) == 0;
		}
	}
	f->index++;
	uint32_t n = holds ? t->n_success : t->n_failure;
	const struct cmd_txn_op *list = ops[holds ? 0 : 1];
	j->txn_res = calloc(n + 1, sizeof *j->txn_res);
	for (uint32_t i = 0; i < n; i++) {
		const struct cmd_txn_op *o = &list[i];
		struct cmd_txn_result *r = &j->txn_res[i];
		bool found;
		size_t k = lookup(f, o->key.p, o->key.len, &found);
		r->kind = o->kind;
		if (o->kind == CMD_OP_GET && found) {
			r->found = true;
			entry_view(&f->e[k], &r->entry);
			r->entry.key.p = job_copy(j, f->e[k].key, f->e[k].klen);
			r->entry.value.p = job_copy(j, f->e[k].val, f->e[k].vlen);
		} else if (o->kind == CMD_OP_PUT) {
			k = fake_write(f, o->key, o->value);
			entry_view(&f->e[k], &r->entry);
			r->entry.key = o->key; /* the job's own bytes */
			r->entry.value = o->value;
		} else if (o->kind == CMD_OP_DELETE) {
			while (k < f->n && (o->recurse ? has_prefix(&f->e[k], o->key.p, o->key.len)
						       : found && r->deleted == 0)) {
				remove_at(f, k);
				r->deleted++;
			}
			if (r->deleted > 0)
				f->last_delete = f->index;
		}
	}
	j->res.status = API_OK;
	j->res.index = f->index;
	j->res.succeeded = holds;
	j->res.txn = j->txn_res;
	j->res.n_txn = n;
}

/* Applies j->cmd to the map (mu held); fills j->res. */
static void apply(struct fake *f, struct job *j)
{
	bool found;
	struct cmd *c = &j->cmd;

	memset(&j->res, 0, sizeof j->res);
	if (c->type == CMD_TXN) {
		apply_txn(f, j);
		return;
	}
	if (c->type == CMD_KV_PUT) {
		struct cmd_kv_put *p = &c->u.put;
		size_t i = lookup(f, p->key.p, p->key.len, &found);
		if (p->has_cas && ((p->cas == 0 && found) ||
				   (p->cas != 0 && (!found || f->e[i].modify != p->cas)))) {
			cas_fail(j, found ? &f->e[i] : NULL);
			return;
		}
		f->index++;
		if (!found) {
			if (f->n == f->cap) {
				f->cap = f->cap ? f->cap * 2 : 16;
				f->e = realloc(f->e, f->cap * sizeof f->e[0]);
			}
			memmove(&f->e[i + 1], &f->e[i], (f->n - i) * sizeof f->e[0]);
			f->n++;
			f->e[i].key = dup_bytes(p->key.p, p->key.len);
			f->e[i].klen = p->key.len;
			f->e[i].create = f->index;
			f->e[i].version = 0;
		} else {
			free(f->e[i].val);
		}
		f->e[i].val = dup_bytes(p->value.p, p->value.len);
		f->e[i].vlen = p->value.len;
		f->e[i].modify = f->index;
		f->e[i].version++;
		j->res.index = f->index;
		j->res.has_entry = true;
		entry_view(&f->e[i], &j->res.entry);
		/* Point at the job's copies, not the map. */
		j->res.entry.key.p = j->key;
		j->res.entry.value.p = j->value;
		return;
	}
	struct cmd_kv_delete *d = &c->u.del;
	uint64_t deleted = 0;
	if (d->recurse) {
		size_t i = lookup(f, d->key.p, d->key.len, &found);
		while (i < f->n && has_prefix(&f->e[i], d->key.p, d->key.len)) {
			remove_at(f, i);
			deleted++;
		}
	} else {
		size_t i = lookup(f, d->key.p, d->key.len, &found);
		if (d->has_cas && ((d->cas == 0 && found) ||
				   (d->cas != 0 && (!found || f->e[i].modify != d->cas)))) {
			cas_fail(j, found ? &f->e[i] : NULL);
			return;
		}
		if (found) {
			remove_at(f, i);
			deleted = 1;
		}
	}
	f->index++;
	if (deleted > 0)
		f->last_delete = f->index;
	j->res.index = f->index;
	j->res.deleted = deleted;
}

static void release_qres(struct query_result *res)
{
	struct fqres *q = (struct fqres *)res;
	for (size_t i = 0; i < res->n_entries; i++) {
		free((void *)res->entries[i].key.p);
		free((void *)res->entries[i].value.p);
	}
	free(res->entries);
	atomic_fetch_sub(&q->f->results_out, 1);
	free(q);
}

/* The query's index (mu held): the last change to what it covers. */
static uint64_t query_index(struct fake *f, const struct query *q)
{
	bool found;
	size_t i = lookup(f, q->key.p, q->key.len, &found);
	uint64_t idx = f->last_delete;
	if (!q->recurse)
		return found ? f->e[i].modify : idx;
	for (; i < f->n && has_prefix(&f->e[i], q->key.p, q->key.len); i++)
		if (f->e[i].modify > idx)
			idx = f->e[i].modify;
	return idx;
}

/* A deep copy of the answer to q (mu held); the caller owns it until its
 * release hook runs. */
static struct query_result *answer(struct fake *f, const struct query *q)
{
	struct fqres *r = calloc(1, sizeof *r);
	bool found;

	r->f = f;
	r->res.release = release_qres;
	r->res.owner = f;
	r->res.index = query_index(f, q);
	size_t i = lookup(f, q->key.p, q->key.len, &found);
	size_t end = i;
	if (q->recurse)
		while (end < f->n && has_prefix(&f->e[end], q->key.p, q->key.len))
			end++;
	else if (found)
		end = i + 1;
	r->res.n_entries = end - i;
	r->res.entries = calloc(end - i + 1, sizeof *r->res.entries);
	for (size_t k = i; k < end; k++) {
		struct kv_entry *e = &r->res.entries[k - i];
		entry_view(&f->e[k], e);
		e->key.p = dup_bytes(f->e[k].key, f->e[k].klen);
		e->value.p = dup_bytes(f->e[k].val, f->e[k].vlen);
	}
	if (!q->recurse && !found) {
		r->res.status = API_NOT_FOUND;
		snprintf(r->res.message, sizeof r->res.message, "key not found");
	}
	atomic_fetch_add(&f->results_out, 1);
	return &r->res;
}

static void fill_meta(struct fake *f, const struct query *q, struct api_meta *m)
{
	memset(m, 0, sizeof *m);
	m->node_id = f->node;
	m->leader_id = f->leader;
	m->index = f->index;
	if (q != NULL && q->consistency == CONSISTENCY_STALE) {
		m->stale = true;
		m->last_contact_ms = f->last_contact;
	}
}

static void free_job(struct job *j)
{
	for (size_t i = 0; i < j->n_owned; i++)
		free(j->owned[i]);
	free(j->owned);
	free(j->txn_res);
	free(j->key);
	free(j->value);
	free(j->cur_key);
	free(j->cur_val);
	free(j);
}

/* Runs one job (mu held on entry and exit; released around done()).
 * Returns false when the job went back to wait (a blocking query). */
static bool run(struct fake *f, struct job *j)
{
	struct api_meta meta;

	if (f->fail_n > 0) {
		f->fail_n--;
		fill_meta(f, j->is_cmd ? NULL : &j->q, &meta);
		if (j->is_cmd) {
			memset(&j->res, 0, sizeof j->res);
			j->res.status = f->fail_s;
			snprintf(j->res.message, sizeof j->res.message, "%s", f->fail_msg);
			pthread_mutex_unlock(&f->mu);
			j->cdone(j->arg, &j->res, &meta);
		} else {
			struct query_result *res = answer(f, &j->q);
			res->status = f->fail_s;
			snprintf(res->message, sizeof res->message, "%s", f->fail_msg);
			pthread_mutex_unlock(&f->mu);
			j->qdone(j->arg, res, &meta);
		}
		pthread_mutex_lock(&f->mu);
		return true;
	}
	if (j->is_cmd) {
		apply(f, j);
		fill_meta(f, NULL, &meta);
		/* A write may wake waiters: put them back on the queue. */
		while (f->waiters != NULL) {
			struct job *w = f->waiters;
			f->waiters = w->next;
			w->next = NULL;
			if (f->tail != NULL)
				f->tail->next = w;
			else
				f->head = w;
			f->tail = w;
		}
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		j->cdone(j->arg, &j->res, &meta);
		pthread_mutex_lock(&f->mu);
		return true;
	}
	bool blocking = f->mode == FAKE_ASYNC && j->q.wait_ms > 0 && !f->drain &&
			now_ms() < j->deadline_ms && query_index(f, &j->q) <= j->q.min_index;
	if (blocking) {
		j->next = f->waiters;
		f->waiters = j;
		return false;
	}
	struct query_result *res = answer(f, &j->q);
	fill_meta(f, &j->q, &meta);
	pthread_mutex_unlock(&f->mu);
	j->qdone(j->arg, res, &meta);
	pthread_mutex_lock(&f->mu);
	return true;
}

static void finish(struct fake *f, struct job *j)
{
	if (j->sync_wait) {
		j->finished = true;
		pthread_cond_broadcast(&f->cv);
	} else {
		free_job(j);
	}
}

static void *worker(void *arg)
{
	struct fake *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		if (f->head != NULL) {
			struct job *j = f->head;
			f->head = j->next;
			if (f->head == NULL)
				f->tail = NULL;
			j->next = NULL;
			if (f->mode == FAKE_AFTER_RET) {
				pthread_mutex_unlock(&f->mu);
				atomic_store(&j->taken, true);
				while (!atomic_load(&j->returned))
					sched_yield();
				pthread_mutex_lock(&f->mu);
			}
			if (f->delay_ms > 0 && !j->sync_wait) {
				pthread_mutex_unlock(&f->mu);
				struct timespec ts = {0, (long)f->delay_ms * 1000000L};
				nanosleep(&ts, NULL);
				pthread_mutex_lock(&f->mu);
			}
			if (run(f, j))
				finish(f, j);
			continue;
		}
		/* Expire waiters whose wait ran out (or all, when draining). */
		uint64_t now = now_ms(), next = UINT64_MAX;
		struct job **pp = &f->waiters;
		bool moved = false;
		while (*pp != NULL) {
			struct job *w = *pp;
			if (f->drain || w->deadline_ms <= now) {
				*pp = w->next;
				w->next = f->head;
				f->head = w;
				if (f->tail == NULL)
					f->tail = w;
				moved = true;
				continue;
			}
			if (w->deadline_ms < next)
				next = w->deadline_ms;
			pp = &w->next;
		}
		if (moved)
			continue;
		if (f->stop && f->waiters == NULL)
			break;
		if (next == UINT64_MAX) {
			pthread_cond_wait(&f->cv, &f->mu);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t wait = next - now;
			ts.tv_sec += (time_t)(wait / 1000);
			ts.tv_nsec += (long)(wait % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		}
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void dispatch(struct fake *f, struct job *j)
{
	pthread_mutex_lock(&f->mu);
	if (f->mode == FAKE_SYNC) {
		run(f, j); /* never blocks: only FAKE_ASYNC waits */
		free_job(j);
		pthread_mutex_unlock(&f->mu);
		return;
	}
	j->sync_wait = f->mode == FAKE_BEFORE_RET;
	if (f->tail != NULL)
		f->tail->next = j;
	else
		f->head = j;
	f->tail = j;
	pthread_cond_broadcast(&f->cv);
	if (j->sync_wait) {
		while (!j->finished)
			pthread_cond_wait(&f->cv, &f->mu);
		free_job(j);
	}
	pthread_mutex_unlock(&f->mu);
}

/* The last thing submit/query do: from here on, the worker may answer a
 * FAKE_AFTER_RET job (which it may also free: j is not touched after). */
static void returning(struct fake *f, struct job *j)
{
	if (f->mode != FAKE_AFTER_RET)
		return;
	/* The worker spins ready before the call returns, so that done()
	 * lands within nanoseconds of the return. A re-queued blocking query
	 * never waits here: only FAKE_ASYNC blocks. */
	while (!atomic_load(&j->taken))
		sched_yield();
	atomic_store(&j->returned, true);
}

static void fake_submit(void *impl, const struct cmd *c, api_cmd_done done, void *arg)
{
	struct fake *f = impl;
	struct job *j = calloc(1, sizeof *j);

	j->is_cmd = true;
	j->cmd = *c;
	j->cdone = done;
	j->arg = arg;
	if (c->type == CMD_TXN) {
		/* Through the codec, as the node does: the job owns the bytes. */
		size_t len;
		if (cmd_encode(c, &j->value, &len) != 0 || cmd_decode(j->value, len, &j->cmd) != 0)
			abort();
		pthread_mutex_lock(&f->mu);
		f->seen.submits++;
		free(f->seen.value);
		f->seen.value = dup_bytes(j->value, len);
		cmd_decode(f->seen.value, len, &f->seen.cmd);
		pthread_mutex_unlock(&f->mu);
		dispatch(f, j);
		returning(f, j);
		return;
	}
	struct cmd_bytes *key = c->type == CMD_KV_PUT ? &j->cmd.u.put.key : &j->cmd.u.del.key;
	j->key = dup_bytes(key->p, key->len);
	key->p = j->key;
	if (c->type == CMD_KV_PUT) {
		j->value = dup_bytes(c->u.put.value.p, c->u.put.value.len);
		j->cmd.u.put.value.p = j->value;
	}

	pthread_mutex_lock(&f->mu);
	struct fake_seen *s = &f->seen;
	s->submits++;
	s->cmd = *c;
	memcpy(s->key, key->p, key->len);
	free(s->value);
	s->value = NULL;
	if (c->type == CMD_KV_PUT) {
		s->cmd.u.put.key.p = s->key;
		s->value = dup_bytes(c->u.put.value.p, c->u.put.value.len);
		s->cmd.u.put.value.p = s->value;
	} else {
		s->cmd.u.del.key.p = s->key;
	}
	pthread_mutex_unlock(&f->mu);
	dispatch(f, j);
	returning(f, j);
}

static void fake_query(void *impl, const struct query *q, api_query_done done, void *arg)
{
	struct fake *f = impl;
	struct job *j = calloc(1, sizeof *j);

	j->q = *q;
	j->qdone = done;
	j->arg = arg;
	j->key = dup_bytes(q->key.p, q->key.len);
	j->q.key.p = j->key;
	j->deadline_ms = now_ms() + q->wait_ms;

	pthread_mutex_lock(&f->mu);
	f->seen.queries++;
	f->seen.query = *q;
	memcpy(f->seen.qkey, q->key.p, q->key.len);
	f->seen.query.key.p = f->seen.qkey;
	pthread_mutex_unlock(&f->mu);
	dispatch(f, j);
	returning(f, j);
}

static void fake_status(void *impl, struct api_node_status *out)
{
	struct fake *f = impl;

	pthread_mutex_lock(&f->mu);
	memset(out, 0, sizeof *out);
	out->id = f->node;
	out->role = f->leader == f->node ? "leader" : "follower";
	out->term = 3;
	out->leader = f->leader;
	out->commit_index = f->index;
	out->applied_index = f->index;
	out->last_log_index = f->index;
	out->snapshot_index = 0;
	out->n_members = 3;
	for (size_t i = 0; i < 3; i++) {
		struct api_member_status *m = &out->members[i];
		m->id = i + 1;
		snprintf(m->api, sizeof m->api, "127.0.0.1:%zu", 7700 + 10 * i);
		snprintf(m->peer, sizeof m->peer, "127.0.0.1:%zu", 7701 + 10 * i);
		m->voter = i < 2;
		m->has_progress = f->leader == f->node && m->id != f->node;
		m->match_index = m->has_progress ? f->index : 0;
		m->last_contact_ms = m->has_progress ? 5 : 0;
	}
	pthread_mutex_unlock(&f->mu);
}

static enum api_status fake_health(void *impl, char *reason, size_t cap)
{
	struct fake *f = impl;
	pthread_mutex_lock(&f->mu);
	enum api_status s = f->health;
	snprintf(reason, cap, "%s", f->reason);
	pthread_mutex_unlock(&f->mu);
	return s;
}

static void fake_meta(void *impl, struct api_meta *out)
{
	struct fake *f = impl;
	pthread_mutex_lock(&f->mu);
	fill_meta(f, NULL, out);
	pthread_mutex_unlock(&f->mu);
}

struct fake *fake_new(enum fake_mode mode)
{
	struct fake *f = calloc(1, sizeof *f);

	f->mode = mode;
	f->node = 1;
	f->leader = 1;
	f->health = API_OK;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	atomic_init(&f->results_out, 0);
	pthread_create(&f->worker, NULL, worker, f);
	return f;
}

void fake_free(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	f->drain = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->worker, NULL);
	for (size_t i = 0; i < f->n; i++) {
		free(f->e[i].key);
		free(f->e[i].val);
	}
	free(f->e);
	free(f->seen.value);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

struct api_backend fake_backend(struct fake *f)
{
	struct api_backend b = {
	    .impl = f,
	    .submit = fake_submit,
	    .query = fake_query,
	    .status = fake_status,
	    .health = fake_health,
	    .meta = fake_meta,
	};
	return b;
}

void fake_drain(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	f->drain = true;
	pthread_cond_broadcast(&f->cv);
	while (f->waiters != NULL || f->head != NULL) {
		pthread_mutex_unlock(&f->mu);
		struct timespec ts = {0, 1000000L};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
}

void fake_set_delay_ms(struct fake *f, unsigned ms)
{
	pthread_mutex_lock(&f->mu);
	f->delay_ms = ms;
	pthread_mutex_unlock(&f->mu);
}

void fake_fail_next(struct fake *f, unsigned n, enum api_status s, const char *msg)
{
	pthread_mutex_lock(&f->mu);
	f->fail_n = n;
	f->fail_s = s;
	snprintf(f->fail_msg, sizeof f->fail_msg, "%s", msg);
	pthread_mutex_unlock(&f->mu);
}

void fake_set_meta(struct fake *f, uint64_t node, uint64_t leader)
{
	pthread_mutex_lock(&f->mu);
	f->node = node;
	f->leader = leader;
	pthread_mutex_unlock(&f->mu);
}

void fake_set_health(struct fake *f, enum api_status s, const char *reason)
{
	pthread_mutex_lock(&f->mu);
	f->health = s;
	snprintf(f->reason, sizeof f->reason, "%s", reason);
	pthread_mutex_unlock(&f->mu);
}

void fake_set_last_contact(struct fake *f, uint64_t ms)
{
	pthread_mutex_lock(&f->mu);
	f->last_contact = ms;
	pthread_mutex_unlock(&f->mu);
}

const struct fake_seen *fake_seen(struct fake *f)
{
	return &f->seen;
}

unsigned fake_submits(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	unsigned n = f->seen.submits;
	pthread_mutex_unlock(&f->mu);
	return n;
}

unsigned fake_queries(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	unsigned n = f->seen.queries;
	pthread_mutex_unlock(&f->mu);
	return n;
}

uint64_t fake_index(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	uint64_t i = f->index;
	pthread_mutex_unlock(&f->mu);
	return i;
}

long fake_results_out(struct fake *f)
{
	return atomic_load(&f->results_out);
}

size_t fake_waiting(struct fake *f)
{
	size_t n = 0;
	pthread_mutex_lock(&f->mu);
	for (struct job *w = f->waiters; w != NULL; w = w->next)
		n++;
	pthread_mutex_unlock(&f->mu);
	return n;
}
