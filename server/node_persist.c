/*
 * Group commit: the loop stages each update's hard state and entries
 * (storage_stage, memory only) and the syncer thread writes and fsyncs
 * everything staged so far in one go (storage_sync), so proposals arriving
 * while a fsync runs share the next one. When the syncer publishes a new
 * durable point the loop sends the after-persist messages of every update
 * it covers and tells the Replica (rc_persisted).
 *
 * Rules kept here:
 * - After-persist messages of an update leave only when that update, and
 *   every earlier one, is durable: an update with nothing to persist still
 *   queues behind earlier pending persists.
 * - A failed fsync stops the node (storage says which codes are fatal);
 *   ENOSPC leaves everything staged and is retried every second.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "node_internal.h"
#include "storage.h"
#include "transport.h"

/* A group commit slower than this is logged: it stalls every write. */
#define SLOW_SYNC_MS 100

static void *syncer_main(void *arg)
{
	struct node *n = arg;
	pthread_mutex_lock(&n->sync_mu);
	for (;;) {
		while (!n->sync_wanted && !n->sync_stop)
			pthread_cond_wait(&n->sync_cv, &n->sync_mu);
		if (n->sync_stop)
			break;
		n->sync_wanted = false;
		pthread_mutex_unlock(&n->sync_mu);
		uint64_t t0 = loop_clock_ms();
		int rv = storage_sync(n->st, NULL);
		uint64_t took = loop_clock_ms() - t0;
		if (took >= SLOW_SYNC_MS)
			log_warn("slow log write: %llu ms for one group commit",
				 (unsigned long long)took);
		pthread_mutex_lock(&n->sync_mu);
		if (rv != 0) {
			n->sync_rv = rv;
			n->sync_failed = true;
		}
		loop_wake(n->loop);
	}
	pthread_mutex_unlock(&n->sync_mu);
	return NULL;
}

int node_syncer_start(struct node *n)
{
	pthread_mutex_init(&n->sync_mu, NULL);
	pthread_cond_init(&n->sync_cv, NULL);
	return pthread_create(&n->syncer, NULL, syncer_main, n) == 0 ? 0 : -1;
}

void node_syncer_stop(struct node *n)
{
	pthread_mutex_lock(&n->sync_mu);
	n->sync_stop = true;
	pthread_cond_signal(&n->sync_cv);
	pthread_mutex_unlock(&n->sync_mu);
	pthread_join(n->syncer, NULL);
	pthread_cond_destroy(&n->sync_cv);
	pthread_mutex_destroy(&n->sync_mu);
	for (size_t i = 0; i < n->n_pending; i++) {
		struct pending_persist *p = &n->pending[i];
		for (size_t k = 0; k < p->n_frames; k++)
			free(p->frames[k]);
		free(p->frames);
		free(p->frame_lens);
		free(p->frame_to);
		free(p->self_msgs);
	}
	free(n->pending);
}

static void kick_syncer(struct node *n)
{
	pthread_mutex_lock(&n->sync_mu);
	n->sync_wanted = true;
	pthread_cond_signal(&n->sync_cv);
	pthread_mutex_unlock(&n->sync_mu);
}

/* Encodes the after-persist messages now (the update's memory is only
 * borrowed until the next rc_take_update). */
static void hold_messages(struct node *n, struct pending_persist *p, const struct rc_update *u)
{
	size_t count = u->n_msgs_after_persist;
	p->frames = calloc(count, sizeof(*p->frames));
	p->frame_lens = calloc(count, sizeof(*p->frame_lens));
	p->frame_to = calloc(count, sizeof(*p->frame_to));
	p->self_msgs = calloc(count, sizeof(*p->self_msgs));
	if (count && (!p->frames || !p->frame_lens || !p->frame_to || !p->self_msgs))
		node_fatal(n, "persist", "out of memory");
	for (size_t i = 0; i < count; i++) {
		const struct rc_message *m = &u->msgs_after_persist[i];
		if (m->to == n->id.node_id) {
			/* Only a self-vote comes back: it carries no entries. */
			p->self_msgs[p->n_self++] = *m;
			continue;
		}
		size_t len = rc_msg_encoded_size(m);
		uint8_t *buf = malloc(len);
		if (!buf || rc_msg_encode(m, buf, len) < 0)
			node_fatal(n, "persist", "cannot encode a message");
		p->frames[p->n_frames] = buf;
		p->frame_lens[p->n_frames] = len;
		p->frame_to[p->n_frames] = m->to;
		p->n_frames++;
	}
}

static void release(struct node *n, struct pending_persist *p)
{
	for (size_t k = 0; k < p->n_frames; k++) {
		transport_send(n->tp, p->frame_to[k], FRAME_RAFT, p->frames[k], p->frame_lens[k],
			       0);
		free(p->frames[k]);
	}
	for (size_t k = 0; k < p->n_self; k++)
		rc_step(n->r, &p->self_msgs[k]);
	free(p->frames);
	free(p->frame_lens);
	free(p->frame_to);
	free(p->self_msgs);
}

void node_persist_update(struct node *n, const struct rc_update *u)
{
	bool write = u->hard_state_changed || u->truncate_from || u->n_entries;
	if (write) {
		uint64_t ticket;
		int rv = storage_stage(n->st, u->hard_state_changed ? &u->hard_state : NULL,
				       u->truncate_from, u->entries, u->n_entries, &ticket);
		if (rv != 0)
			node_fatal(n, "staging the log", storage_errmsg(n->st));
		n->last_ticket = ticket;
		kick_syncer(n);
	}
	if (!write && u->n_msgs_after_persist == 0)
		return;
	if (!write && n->n_pending == 0) {
		/* Nothing of ours or before us is waiting: durable already. */
		struct pending_persist p = {0};
		hold_messages(n, &p, u);
		release(n, &p);
		return;
	}
	if (n->n_pending == n->cap_pending) {
		n->cap_pending = n->cap_pending ? n->cap_pending * 2 : 64;
		n->pending = realloc(n->pending, n->cap_pending * sizeof(*n->pending));
		if (!n->pending)
			node_fatal(n, "persist", "out of memory");
	}
	struct pending_persist *p = &n->pending[n->n_pending++];
	memset(p, 0, sizeof(*p));
	p->ticket = n->last_ticket;
	hold_messages(n, p, u);
}

/* Loop thread: what did the syncer make durable since we last looked? */
void node_collect_durable(struct node *n)
{
	pthread_mutex_lock(&n->sync_mu);
	bool failed = n->sync_failed;
	int rv = n->sync_rv;
	n->sync_failed = false;
	pthread_mutex_unlock(&n->sync_mu);
	if (failed) {
		if (storage_is_fatal(rv))
			node_fatal(n, "writing the log", storage_sync_errmsg(n->st));
		if (rv == -STORAGE_ENOSPC && n->retry_sync_at == 0) {
			log_error("log write: disk full; writes wait until space is freed "
				  "(retrying every second)");
			n->retry_sync_at = loop_now_ms(n->loop) + 1000;
		}
	}
	struct storage_durable d;
	storage_durable(n->st, &d);
	if (d.ticket <= n->durable_ticket)
		return;
	n->durable_ticket = d.ticket;
	n->retry_sync_at = 0;
	size_t k = 0;
	while (k < n->n_pending && n->pending[k].ticket <= d.ticket)
		release(n, &n->pending[k++]);
	memmove(n->pending, n->pending + k, (n->n_pending - k) * sizeof(*n->pending));
	n->n_pending -= k;
	if (d.index)
		rc_persisted(n->r, d.index, d.term);
}

/* Called from the tick: retries a sync that hit ENOSPC. */
void node_retry_sync(struct node *n, uint64_t now)
{
	if (n->retry_sync_at && now >= n->retry_sync_at) {
		n->retry_sync_at = now + 1000;
		kick_syncer(n);
	}
}
