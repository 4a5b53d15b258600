/*
 * hardstate: the Replica's term and vote, replaced atomically.
 *
 * The file "hardstate" holds two slots, 4 KiB apart so no single sector or
 * page write touches both. Each slot carries a sequence number and a
 * CRC32C. A write goes to the slot NOT holding the newest durable value and
 * is fdatasynced before it counts, so a torn write leaves the previous
 * value readable in the other slot. On open the valid slot with the higher
 * sequence wins. Single-threaded: the syncer calls hardstate_write.
 */
#ifndef CAIRN_HARDSTATE_H
#define CAIRN_HARDSTATE_H

#include <stdint.h>

#include "datadir.h"
#include "raftcore.h"

#define HARDSTATE_NAME "hardstate"

struct hardstate {
	const struct datadir *dir; /* borrowed, outlives this */
	int fd;
	uint64_t seq; /* of the newest durable slot */
	int slot;     /* which slot holds it (0 or 1) */
	struct rc_hard_state value;
};

/* Loads the newest valid slot, creating the file (term 0, no vote) when
 * missing. -STORAGE_ECORRUPT when neither slot is valid. */
int hardstate_open(struct hardstate *h, const struct datadir *dir, char *errmsg);
void hardstate_close(struct hardstate *h);
/* Writes v durably. -STORAGE_ENOSPC: nothing changed. -STORAGE_EIO,
 * -STORAGE_EFSYNC: fatal. */
int hardstate_write(struct hardstate *h, const struct rc_hard_state *v, char *errmsg);

#endif
