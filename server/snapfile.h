/*
 * snapfile: snapshot files. A snapshot is two files:
 *   snap-<index>.data  the store's bytes, opaque here (an SQLite database
 *                      file, so the store can open or copy it directly);
 *   snap-<index>.meta  index, term, size, CRC32C of the data, membership
 *                      bytes, and a CRC32C of itself.
 * The meta file is the commit record: a snapshot exists once its meta is
 * durable, and the data it names is durable before that (data fsync,
 * rename, directory fsync, then the same for meta). Temporary files are
 * named snap-*.tmp*. At start the snapshot with the highest index is
 * verified in full (a mismatch is corruption: the open fails naming the
 * file); everything else snap-* is deleted.
 */
#ifndef CAIRN_SNAPFILE_H
#define CAIRN_SNAPFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "datadir.h"
#include "storage.h"

struct snapfile_writer {
	const struct datadir *dir; /* borrowed */
	int fd;
	char path[DATADIR_PATH_MAX]; /* the temporary data file */
	uint64_t size;               /* bytes written through snapfile_write */
	uint32_t crc;                /* of those bytes */
};

/* Creates a temporary data file (nonce makes its name unique). The caller
 * owns *out until snapfile_commit or snapfile_abort. */
int snapfile_begin(const struct datadir *d, uint64_t nonce, struct snapfile_writer **out,
		   char *errmsg);
/* Appends at offset (== bytes so far; a repeat wholly inside them is a
 * no-op; otherwise -STORAGE_EOFFSET). */
int snapfile_write(struct snapfile_writer *w, uint64_t offset, const void *data, size_t len,
		   char *errmsg);
/* Makes it durable as snapshot meta->index (see the file comment). Frees
 * w whatever the result. */
int snapfile_commit(struct snapfile_writer *w, const struct storage_snapshot_meta *meta,
		    char *errmsg);
void snapfile_abort(struct snapfile_writer *w);

/* Finds and verifies the newest snapshot into *meta (*found false and meta
 * zeroed when there is none) and deletes every other snap-* file. */
int snapfile_recover(const struct datadir *d, struct storage_snapshot_meta *meta, bool *found,
		     char *errmsg);
/* Deletes every snapshot but the one at keep (directory fsynced). */
int snapfile_remove_others(const struct datadir *d, rc_index keep, char *errmsg);
/* Path of snapshot index's data file into buf (DATADIR_PATH_MAX). */
int snapfile_data_path(const struct datadir *d, rc_index index, char *buf);

#endif
