/*
 * datadir: lock and format version of the data directory (see datadir.h).
 *
 * FORMAT is written last when a directory is initialized, through a
 * temporary name, fsync, rename and directory fsync: a crash part-way
 * leaves a directory without FORMAT and without storage files, which the
 * next open initializes again.
 */
#include "datadir.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "storage.h"

#define FORMAT_NAME "FORMAT"
#define FORMAT_TMP "FORMAT.tmp"
#define LOCK_NAME "LOCK"

int datadir_errno_code(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		return -STORAGE_ENOSPC;
	if (err == ENOMEM)
		return -STORAGE_ENOMEM;
	return -STORAGE_EIO;
}

void storage_errf(char *errmsg, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errmsg, STORAGE_ERRMSG_SIZE, fmt, ap);
	va_end(ap);
}

void datadir_logf(const struct datadir *d, enum storage_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->log != NULL)
		d->log(d->log_arg, level, msg);
	else
		fprintf(stderr, "storage: %s: %s\n", level == STORAGE_LOG_WARN ? "warning" : "info",
			msg);
}

int datadir_join(const struct datadir *d, const char *name, char *buf)
{
	int n = snprintf(buf, DATADIR_PATH_MAX, "%s/%s", d->path, name);
	if (n < 0 || n >= DATADIR_PATH_MAX)
		return -STORAGE_EINVAL;
	return 0;
}

int datadir_sync(const struct datadir *d, char *errmsg)
{
	int rv = sysio_fsync_dir(d->io, d->path);
	if (rv != 0) {
		storage_errf(errmsg, "fsync of directory %s: %s", d->path, strerror(-rv));
		return -STORAGE_EFSYNC;
	}
	return 0;
}

int datadir_list(const struct datadir *d, char ***names, size_t *n, char *errmsg)
{
	if (d->io->listdir(d->path, names, n) != 0) {
		int err = errno;
		storage_errf(errmsg, "list %s: %s", d->path, strerror(err));
		return err == ENOMEM ? -STORAGE_ENOMEM : -STORAGE_EIO;
	}
	return 0;
}

static const char format_text[] = "cairn-storage 1\n";

static int storage_file(const char *name)
{
	return strncmp(name, "wal-", 4) == 0 || strncmp(name, "snap-", 5) == 0 ||
	       strncmp(name, "hardstate", 9) == 0;
}

static int write_format(struct datadir *d, char *errmsg)
{
	char tmp[DATADIR_PATH_MAX], dst[DATADIR_PATH_MAX];
	int fd, rv;

	if (datadir_join(d, FORMAT_TMP, tmp) != 0 || datadir_join(d, FORMAT_NAME, dst) != 0)
		return -STORAGE_EINVAL;
	fd = d->io->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		rv = datadir_errno_code(errno);
		storage_errf(errmsg, "create %s: %s", tmp, strerror(errno));
		goto err;
	}
	rv = sysio_write_all(d->io, fd, format_text, sizeof(format_text) - 1, 0);
	if (rv != 0) {
		storage_errf(errmsg, "write %s: %s", tmp, strerror(-rv));
		rv = datadir_errno_code(-rv);
		goto err_close;
	}
	if (d->io->fsync(fd) != 0) {
		storage_errf(errmsg, "fsync %s: %s", tmp, strerror(errno));
		rv = -STORAGE_EFSYNC;
		goto err_close;
	}
	d->io->close(fd);
	if (d->io->rename(tmp, dst) != 0) {
		rv = datadir_errno_code(errno);
		storage_errf(errmsg, "rename %s: %s", tmp, strerror(errno));
		goto err;
	}
	return datadir_sync(d, errmsg);

err_close:
	d->io->close(fd);
err:
	assert(rv != 0);
	return rv;
}

static int check_format(struct datadir *d, char *errmsg)
{
	char path[DATADIR_PATH_MAX], buf[64];
	char **names = NULL;
	size_t n = 0;
	ssize_t got;
	int fd, rv;

	if (datadir_join(d, FORMAT_NAME, path) != 0)
		return -STORAGE_EINVAL;
	fd = d->io->open(path, O_RDONLY, 0);
	if (fd >= 0) {
		got = sysio_read_all(d->io, fd, buf, sizeof(buf) - 1, 0);
		d->io->close(fd);
		if (got < 0) {
			storage_errf(errmsg, "read %s: %s", path, strerror((int)-got));
			return -STORAGE_EIO;
		}
		buf[got] = '\0';
		if (strcmp(buf, format_text) != 0) {
			storage_errf(errmsg,
				     "%s: unknown format \"%.*s\" (this build reads \"%.*s\")",
				     path, (int)strcspn(buf, "\n"), buf,
				     (int)sizeof(format_text) - 2, format_text);
			return -STORAGE_EVERSION;
		}
		return 0;
	}
	if (errno != ENOENT) {
		storage_errf(errmsg, "open %s: %s", path, strerror(errno));
		return -STORAGE_EIO;
	}
	/* No FORMAT: a new directory, or one whose initialization crashed. */
	rv = datadir_list(d, &names, &n, errmsg);
	if (rv != 0)
		return rv;
	for (size_t i = 0; i < n; i++) {
		if (storage_file(names[i])) {
			storage_errf(errmsg,
				     "%s holds %s but no FORMAT file: not initializing over it",
				     d->path, names[i]);
			sysio_free_names(names, n);
			return -STORAGE_EVERSION;
		}
	}
	sysio_free_names(names, n);
	return write_format(d, errmsg);
}

int datadir_open(struct datadir *d, const struct sysio *io, const char *path, char *errmsg)
{
	char lock[DATADIR_PATH_MAX];
	int rv;

	d->io = io;
	d->lock_fd = -1; /* d->log, d->log_arg: set by the caller */
	if (strlen(path) + 32 >= sizeof(d->path)) {
		storage_errf(errmsg, "data directory path too long");
		return -STORAGE_EINVAL;
	}
	strcpy(d->path, path);
	if (io->mkdir(path, 0755) != 0 && errno != EEXIST) {
		storage_errf(errmsg, "mkdir %s: %s", path, strerror(errno));
		return datadir_errno_code(errno);
	}
	datadir_join(d, LOCK_NAME, lock);
	d->lock_fd = io->open(lock, O_RDWR | O_CREAT, 0644);
	if (d->lock_fd < 0) {
		storage_errf(errmsg, "open %s: %s", lock, strerror(errno));
		rv = datadir_errno_code(errno);
		goto err;
	}
	if (io->flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			storage_errf(errmsg,
				     "%s is locked: another cairnd uses this data directory", lock);
			rv = -STORAGE_ELOCKED;
		} else {
			storage_errf(errmsg, "flock %s: %s", lock, strerror(errno));
			rv = -STORAGE_EIO;
		}
		goto err_close;
	}
	rv = check_format(d, errmsg);
	if (rv != 0)
		goto err_close;
	return 0;

err_close:
	io->close(d->lock_fd);
	d->lock_fd = -1;
err:
	assert(rv != 0);
	return rv;
}

void datadir_close(struct datadir *d)
{
	if (d->lock_fd >= 0)
		d->io->close(d->lock_fd); /* closing drops the flock */
	d->lock_fd = -1;
}
