/*
 * A node's identity, fixed at its first start and kept in its data
 * directory (file `identity`): its id, its cluster's id, and the member
 * list the cluster was bootstrapped with. On a restart the identity comes
 * from the file, never from the flags, so a node cannot change who it is;
 * flags that disagree are reported (the file wins).
 *
 * The cluster id is derived from the bootstrap member list (every node
 * started with the same list gets the same id), so peers of two clusters
 * started side by side refuse each other's connections.
 */
#ifndef CAIRN_SERVER_IDENTITY_H
#define CAIRN_SERVER_IDENTITY_H

#include <stdint.h>

#include "config.h"
#include "raftcore.h"

struct identity {
	uint64_t node_id;
	uint64_t cluster_id;
	struct rc_membership bootstrap; /* the membership "before index 1" */
};

/* Reads dir/identity, or creates it (atomically, durably) from cfg when
 * absent. Returns 0; -1 with a one-line reason in err (256 bytes). */
int identity_load_or_create(const char *dir, const struct config *cfg, struct identity *out,
			    char *err);

#endif
