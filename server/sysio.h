/*
 * sysio: the file-system calls storage makes, as a table of function
 * pointers, so tests can replace them: fail the Nth write or fsync, or run
 * everything against an in-memory file system that simulates power cuts.
 *
 * Every call behaves like its libc namesake: it returns -1 (or a short
 * count) and sets errno on failure. The sysio_* helpers below loop over
 * short transfers and EINTR and return 0 or -errno instead.
 *
 * The default table calls the kernel. A table is borrowed by whoever holds
 * it and must outlive every storage object that uses it.
 */
#ifndef CAIRN_SYSIO_H
#define CAIRN_SYSIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sysio {
	int (*open)(const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	/* Allocates [off, off+len) so later writes there cannot fail for
	 * want of space; bytes never written read as zeros. */
	int (*fallocate)(int fd, off_t off, off_t len);
	int (*filesize)(int fd, off_t *size);
	int (*rename)(const char *from, const char *to);
	int (*unlink)(const char *path);
	int (*mkdir)(const char *path, mode_t mode);
	int (*flock)(int fd, int op);
	/* Lists the names in dir (no "." or ".."). On success *names is a
	 * malloc'd array of *n malloc'd strings: the caller owns and frees
	 * them (sysio_free_names). */
	int (*listdir)(const char *dir, char ***names, size_t *n);
};

/* The kernel's calls. Static storage: never freed. */
const struct sysio *sysio_default(void);

/* Writes all n bytes at off; returns 0 or -errno (-ENOSPC on a short
 * write that made no progress). */
int sysio_write_all(const struct sysio *io, int fd, const void *buf, size_t n, off_t off);
/* Reads up to n bytes at off, stopping only at end of file; returns the
 * count read or -errno. */
ssize_t sysio_read_all(const struct sysio *io, int fd, void *buf, size_t n, off_t off);
/* fsync of a directory, so that creates, renames and unlinks in it are
 * durable. Returns 0 or -errno. */
int sysio_fsync_dir(const struct sysio *io, const char *dir);
void sysio_free_names(char **names, size_t n);

#endif
