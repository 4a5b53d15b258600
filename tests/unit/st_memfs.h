/*
 * st_memfs: an in-memory file system behind struct sysio, for storage
 * tests. It remembers what each fsync made durable, so a test can cut the
 * power at any call and keep only durable data, optionally with some of
 * the unsynced writes (a torn last write, or any subset of 512-byte
 * sectors as out-of-order writeback would leave) and any subset of the
 * directory changes since the last directory fsync.
 *
 * One global instance (sysio has no context pointer); not thread-safe
 * beyond a single mutex around every call.
 */
#ifndef CAIRN_ST_MEMFS_H
#define CAIRN_ST_MEMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sysio.h"

const struct sysio *memfs_io(void);
/* Drops every file and directory; unlimited space; no pending death. */
void memfs_reset(void);
/* Writes that would make the files' total size exceed bytes fail with
 * ENOSPC (after writing what fits). 0: unlimited. */
void memfs_set_quota(uint64_t bytes);
/* Mutating calls (writes, syncs, renames, ...) made so far. */
uint64_t memfs_ops(void);
/* After n more mutating calls every call fails with EIO, as if the
 * process had died there. 0: never. */
void memfs_die_after(uint64_t n);
bool memfs_dead(void);

enum memfs_cut {
	MEMFS_CUT_DROP,    /* unsynced writes and directory changes all lost */
	MEMFS_CUT_TORN,    /* a prefix of them survives, the last one torn */
	MEMFS_CUT_REORDER, /* any subset of sectors and directory changes */
};
/* Power cut: closes every descriptor and keeps what mode allows. Clears
 * a pending death. */
void memfs_power_cut(enum memfs_cut mode, uint64_t seed);

/* Test access to a file's current bytes (read: the caller frees *data). */
int memfs_read(const char *path, uint8_t **data, size_t *len);
/* Flips one bit of a file durably (bit rot). */
int memfs_flip(const char *path, size_t off, int bit);
bool memfs_exists(const char *path);

#endif
