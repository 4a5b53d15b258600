/*
 * datadir: the data directory itself. Holds an exclusive flock on LOCK for
 * as long as it is open, so two processes never share one directory, and
 * checks (or, in an empty directory, writes) the FORMAT file so that a
 * future change of on-disk format is detected rather than misread.
 *
 * Every storage file lives directly in the directory, so one directory
 * fsync makes any create, rename or unlink among them durable.
 */
#ifndef CAIRN_DATADIR_H
#define CAIRN_DATADIR_H

#include <stddef.h>

#include "storage.h"
#include "sysio.h"

#define DATADIR_FORMAT_VERSION 1
#define DATADIR_PATH_MAX 4096

struct datadir {
	const struct sysio *io; /* borrowed */
	char path[DATADIR_PATH_MAX];
	int lock_fd;
	/* Where recovery reports go (storage_options.log); NULL: stderr. */
	void (*log)(void *arg, enum storage_log_level level, const char *msg);
	void *log_arg;
};

/*
 * Creates path when missing (one level), locks it, and checks FORMAT
 * (d->log and d->log_arg are set by the caller beforehand). A
 * directory without FORMAT is initialized only when it holds no storage
 * files (wal-*, snap-*, hardstate); otherwise -STORAGE_EVERSION. Returns 0
 * or -STORAGE_E*, with the reason in errmsg (STORAGE_ERRMSG_SIZE bytes).
 */
int datadir_open(struct datadir *d, const struct sysio *io, const char *path, char *errmsg);
/* Unlocks; d may be opened again. */
void datadir_close(struct datadir *d);

/* Writes "<dir>/<name>" into buf (DATADIR_PATH_MAX bytes); -STORAGE_EINVAL
 * when it does not fit. */
int datadir_join(const struct datadir *d, const char *name, char *buf);
/* fsync of the directory: -STORAGE_EFSYNC on failure (fatal). */
int datadir_sync(const struct datadir *d, char *errmsg);
/* Lists the directory; see sysio.listdir for ownership. -STORAGE_EIO or
 * -STORAGE_ENOMEM on failure. */
int datadir_list(const struct datadir *d, char ***names, size_t *n, char *errmsg);

/* Formats a reason into errmsg (STORAGE_ERRMSG_SIZE bytes), cut to fit. */
void storage_errf(char *errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats a report and hands it to d->log. */
void datadir_logf(const struct datadir *d, enum storage_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Maps an errno from a write-side call to a storage code: ENOSPC and
 * EDQUOT to -STORAGE_ENOSPC, ENOMEM to -STORAGE_ENOMEM, the rest to
 * -STORAGE_EIO. */
int datadir_errno_code(int err);

#endif
