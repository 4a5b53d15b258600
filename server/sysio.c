/*
 * sysio: the kernel-backed table and the retry helpers (see sysio.h).
 * EINTR is retried everywhere except close and fsync: a close is never
 * repeated on Linux, and a failed fsync is never retried by anyone.
 */
#include "sysio.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int k_open(const char *path, int flags, mode_t mode)
{
	int fd;
	do
		fd = open(path, flags | O_CLOEXEC, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

static int k_fallocate(int fd, off_t off, off_t len)
{
	/* posix_fallocate returns the error instead of setting errno, and
	 * falls back to writing zeros where the file system cannot. */
	int rv = posix_fallocate(fd, off, len);
	if (rv != 0) {
		errno = rv;
		return -1;
	}
	return 0;
}

static int k_filesize(int fd, off_t *size)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	*size = st.st_size;
	return 0;
}

static int k_flock(int fd, int op)
{
	int rv;
	do
		rv = flock(fd, op);
	while (rv != 0 && errno == EINTR);
	return rv;
}

static int k_listdir(const char *path, char ***names, size_t *n)
{
	DIR *d = opendir(path);
	char **v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *e;

	if (d == NULL)
		return -1;
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nv = realloc(v, ncap * sizeof(*v));
			if (nv == NULL)
				goto err_nomem;
			v = nv;
			cap = ncap;
		}
		v[len] = strdup(e->d_name);
		if (v[len] == NULL)
			goto err_nomem;
		len++;
	}
	if (errno != 0) {
		int saved = errno;
		sysio_free_names(v, len);
		closedir(d);
		errno = saved;
		return -1;
	}
	closedir(d);
	*names = v;
	*n = len;
	return 0;

err_nomem:
	sysio_free_names(v, len);
	closedir(d);
	errno = ENOMEM;
	return -1;
}

static const struct sysio kernel_io = {
    .open = k_open,
    .close = close,
    .pread = pread,
    .pwrite = pwrite,
    .fsync = fsync,
    .fdatasync = fdatasync,
    .ftruncate = ftruncate,
    .fallocate = k_fallocate,
    .filesize = k_filesize,
    .rename = rename,
    .unlink = unlink,
    .mkdir = mkdir,
    .flock = k_flock,
    .listdir = k_listdir,
};

const struct sysio *sysio_default(void)
{
	return &kernel_io;
}

int sysio_write_all(const struct sysio *io, int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = io->pwrite(fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno ? -errno : -EIO;
		}
		if (w == 0)
			return -ENOSPC;
		p += w;
		n -= (size_t)w;
		off += (off_t)w;
	}
	return 0;
}

ssize_t sysio_read_all(const struct sysio *io, int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;
	size_t done = 0;
	while (done < n) {
		ssize_t r = io->pread(fd, p + done, n - done, off + (off_t)done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno ? -errno : -EIO;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int sysio_fsync_dir(const struct sysio *io, const char *dir)
{
	int fd = io->open(dir, O_RDONLY | O_DIRECTORY, 0);
	int rv;
	if (fd < 0)
		return errno ? -errno : -EIO;
	rv = io->fsync(fd) == 0 ? 0 : (errno ? -errno : -EIO);
	io->close(fd);
	return rv;
}

void sysio_free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
