/*
 * Snapshots on the node: taking them (the store's online backup into a new
 * storage snapshot, then the Replica compacts the log), sending them in
 * chunks to followers that are too far behind, and installing one received
 * from the leader.
 *
 * The backup runs on a thread of its own (node_maybe_snapshot starts it,
 * node_snapshot_poll finishes it on the loop), so apply never waits for it.
 *
 * Rules kept here:
 * - A received snapshot is installed only once every earlier log write is
 *   durable (no pending persist), as rc_snapshot_installed requires.
 * - The membership stored with a snapshot is the one in force at its index
 *   (the store keeps the latest applied configuration entry; before any,
 *   the bootstrap membership of the identity file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "loop.h"
#include "node_internal.h"
#include "storage.h"
#include "store.h"

void node_fill_snapshot(struct node *n, struct rc_message *m, uint8_t **buf)
{
	struct rc_msg_snapshot *s = &m->u.snapshot;
	*buf = NULL;
	if (s->data || s->len == 0)
		return;
	*buf = malloc(s->len);
	if (!*buf)
		abort();
	size_t nread = 0;
	int rv = storage_snap_read(n->st, s->index, s->offset, *buf, s->len, &nread);
	if (rv != 0 || nread != s->len) {
		/* The Replica restarts the transfer with the newest snapshot
		 * when it learns of it; send nothing meanwhile. */
		free(*buf);
		*buf = NULL;
		s->len = 0;
		return;
	}
	s->data = *buf;
}

static void encode_conf(struct node *n, const struct rc_membership *m,
			struct storage_snapshot_meta *meta)
{
	int len = rc_membership_encode(m, meta->conf, sizeof(meta->conf));
	if (len < 0)
		node_fatal(n, "snapshot", "membership too large to store");
	meta->conf_len = (uint32_t)len;
}

void node_snapshot_chunk(struct node *n, const struct rc_snapshot_chunk *c)
{
	if (c->offset == 0) {
		if (n->snap_in)
			storage_snap_abort(n->st, n->snap_in);
		n->snap_in = NULL;
		if (storage_snap_begin(n->st, &n->snap_in) != 0)
			node_fatal(n, "receiving a snapshot", storage_errmsg(n->st));
		log_info("receiving snapshot %llu (term %llu, %llu bytes) from the leader",
			 (unsigned long long)c->meta.index, (unsigned long long)c->meta.term,
			 (unsigned long long)c->meta.size);
	}
	if (!n->snap_in)
		return;
	int rv = storage_snap_write(n->snap_in, c->offset, c->data, c->len);
	if (rv != 0 && rv != -STORAGE_EOFFSET)
		node_fatal(n, "writing a received snapshot", storage_errmsg(n->st));
	if (c->last) {
		n->install_wanted = true;
		n->install_meta = c->meta;
	}
}

void node_maybe_install(struct node *n)
{
	if (!n->install_wanted || n->n_pending > 0)
		return;
	node_snapshot_poll(n, true); /* our own backup is moot now */
	struct rc_snapshot_meta *rm = &n->install_meta;
	struct storage_snapshot_meta *meta = calloc(1, sizeof(*meta));
	if (!meta)
		abort();
	meta->index = rm->index;
	meta->term = rm->term;
	meta->size = rm->size;
	encode_conf(n, &rm->membership, meta);
	int rv = storage_snap_commit(n->st, n->snap_in, meta);
	free(meta);
	n->snap_in = NULL;
	if (rv != 0)
		node_fatal(n, "storing a received snapshot", storage_errmsg(n->st));
	char path[1024];
	if (storage_snap_path(n->st, path, sizeof(path)) != 0 || store_restore(n->store, path) != 0)
		node_fatal(n, "restoring a received snapshot", store_errmsg(n->store));
	n->applied = store_applied_index(n->store);
	n->last_snapshot_index = rm->index;
	n->install_wanted = false;
	rc_snapshot_installed(n->r, rm->index, rm->term);
	log_info("installed snapshot %llu (term %llu)", (unsigned long long)rm->index,
		 (unsigned long long)rm->term);
}

/* Runs on its own thread: the online backup copies the store while the
 * loop goes on applying. */
static void *snapshot_job(void *arg)
{
	struct node *n = arg;
	struct snapshot_job *job = &n->snap_job;
	job->rv = store_snapshot(n->store, job->path, &job->info, job->err);
	pthread_mutex_lock(&n->sync_mu);
	job->done = true;
	pthread_mutex_unlock(&n->sync_mu);
	loop_wake(n->loop);
	return NULL;
}

void node_maybe_snapshot(struct node *n)
{
	if (n->snap_job.running || n->cfg.snapshot_entries == 0 || n->install_wanted ||
	    n->snap_in || n->applied < n->last_snapshot_index + n->cfg.snapshot_entries)
		return;
	struct snapshot_job *job = &n->snap_job;
	memset(job, 0, sizeof(*job));
	if (storage_snap_begin(n->st, &job->w) != 0)
		node_fatal(n, "starting a snapshot", storage_errmsg(n->st));
	snprintf(job->path, sizeof(job->path), "%s", storage_snap_writer_path(job->w));
	if (pthread_create(&job->thread, NULL, snapshot_job, n) != 0) {
		log_error("snapshot: cannot start a thread; trying again later");
		storage_snap_abort(n->st, job->w);
		n->last_snapshot_index = n->applied;
		return;
	}
	job->running = true;
}

/* Loop thread: a finished backup becomes the current snapshot. */
void node_snapshot_poll(struct node *n, bool wait)
{
	struct snapshot_job *job = &n->snap_job;
	if (!job->running)
		return;
	pthread_mutex_lock(&n->sync_mu);
	bool done = job->done;
	pthread_mutex_unlock(&n->sync_mu);
	if (!done && !wait)
		return;
	pthread_join(job->thread, NULL);
	job->running = false;
	if (job->rv != 0 || wait) {
		if (job->rv != 0)
			log_error("snapshot failed: %s", job->err);
		storage_snap_abort(n->st, job->w);
		free(job->info.config);
		n->last_snapshot_index = n->applied; /* try again later */
		return;
	}
	if (job->info.index <= storage_snapshot(n->st)->index) {
		/* A snapshot from the leader overtook ours. */
		storage_snap_abort(n->st, job->w);
		free(job->info.config);
		return;
	}
	struct stat sb;
	struct storage_snapshot_meta *meta = calloc(1, sizeof(*meta));
	if (!meta || stat(job->path, &sb) != 0)
		node_fatal(n, "snapshot", "cannot size the snapshot file");
	meta->index = job->info.index;
	meta->term = job->info.term;
	meta->size = (uint64_t)sb.st_size;
	struct rc_membership m;
	if (job->info.config &&
	    rc_membership_decode(job->info.config, job->info.config_len, &m) == 0)
		encode_conf(n, &m, meta);
	else
		encode_conf(n, &n->id.bootstrap, meta);
	free(job->info.config);
	int rv = storage_snap_commit(n->st, job->w, meta);
	uint64_t size = meta->size;
	free(meta);
	if (rv != 0)
		node_fatal(n, "storing a snapshot", storage_errmsg(n->st));
	n->last_snapshot_index = job->info.index;
	rv = rc_snapshot_taken(n->r, job->info.index, size);
	if (rv != 0)
		log_warn("snapshot %llu not taken by the replica: %s",
			 (unsigned long long)job->info.index, rc_strerror(rv));
	log_info("snapshot taken at %llu (%llu bytes)", (unsigned long long)job->info.index,
		 (unsigned long long)size);
}
