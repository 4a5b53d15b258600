/*
 * Snapshots on the node: taking them (the store's online backup into a new
 * storage snapshot, then the Replica compacts the log), sending them in
 * chunks to followers that are too far behind, and installing one received
 * from the leader.
 *
 * Rules kept here:
 * - A received snapshot is installed only once every earlier log write is
 *   durable (no pending persist), as rc_snapshot_installed requires.
 * - The membership stored with a snapshot is the one in force at its index
 *   (the store keeps the latest applied configuration entry; before any,
 *   the bootstrap membership of the identity file).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
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
	if (storage_snap_path(n->st, path, sizeof(path)) != 0 ||
	    store_restore(n->store, path) != 0)
		node_fatal(n, "restoring a received snapshot", store_errmsg(n->store));
	n->applied = store_applied_index(n->store);
	n->last_snapshot_index = rm->index;
	n->install_wanted = false;
	rc_snapshot_installed(n->r, rm->index, rm->term);
	log_info("installed snapshot %llu (term %llu)", (unsigned long long)rm->index,
		 (unsigned long long)rm->term);
}

void node_maybe_snapshot(struct node *n)
{
	if (n->cfg.snapshot_entries == 0 || n->install_wanted ||
	    n->applied < n->last_snapshot_index + n->cfg.snapshot_entries)
		return;
	struct storage_snap_writer *w;
	if (storage_snap_begin(n->st, &w) != 0)
		node_fatal(n, "starting a snapshot", storage_errmsg(n->st));
	const char *path = storage_snap_writer_path(w);
	struct store_snapshot_info info;
	char err[STORE_ERRMSG_SIZE];
	if (store_snapshot(n->store, path, &info, err) != 0) {
		log_error("snapshot failed: %s", err);
		storage_snap_abort(n->st, w);
		n->last_snapshot_index = n->applied; /* try again later */
		return;
	}
	struct stat sb;
	struct storage_snapshot_meta *meta = calloc(1, sizeof(*meta));
	if (!meta || stat(path, &sb) != 0)
		node_fatal(n, "snapshot", "cannot size the snapshot file");
	meta->index = info.index;
	meta->term = info.term;
	meta->size = (uint64_t)sb.st_size;
	struct rc_membership m;
	if (info.config && rc_membership_decode(info.config, info.config_len, &m) == 0)
		encode_conf(n, &m, meta);
	else
		encode_conf(n, &n->id.bootstrap, meta);
	free(info.config);
	int rv = storage_snap_commit(n->st, w, meta);
	uint64_t size = meta->size;
	free(meta);
	if (rv != 0)
		node_fatal(n, "storing a snapshot", storage_errmsg(n->st));
	n->last_snapshot_index = info.index;
	rv = rc_snapshot_taken(n->r, info.index, size);
	if (rv != 0)
		log_warn("snapshot %llu not taken by the replica: %s", (unsigned long long)info.index,
			 rc_strerror(rv));
	log_info("snapshot taken at %llu (%llu bytes)", (unsigned long long)info.index,
		 (unsigned long long)size);
}
