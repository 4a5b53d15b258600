/*
 * st_faultio: Nth-call fault injection over another sysio (st_faultio.h).
 */
#include "st_faultio.h"

#include <errno.h>
#include <fcntl.h>

static const struct sysio *u;
static unsigned armed_kinds;
static uint64_t nth, seen;
static int fail_err;
static bool short_w, fired;

/* True when this call must fail. */
static bool hit(unsigned kind)
{
	if (!(armed_kinds & kind) || fired)
		return false;
	if (++seen != nth)
		return false;
	fired = true;
	return true;
}

static int f_open(const char *path, int flags, mode_t mode)
{
	if ((flags & O_CREAT) && hit(FAULT_OPEN)) {
		errno = fail_err;
		return -1;
	}
	return u->open(path, flags, mode);
}

static ssize_t f_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (hit(FAULT_WRITE)) {
		if (short_w && n > 1)
			return u->pwrite(fd, buf, n / 2, off);
		errno = fail_err;
		return -1;
	}
	/* After a short write, the rest fails with the error. */
	if (fired && short_w && (armed_kinds & FAULT_WRITE) && seen == nth) {
		seen++;
		errno = fail_err;
		return -1;
	}
	return u->pwrite(fd, buf, n, off);
}

#define WRAP1(name, kind, type)           \
	static int f_##name(type a)       \
	{                                 \
		if (hit(kind)) {          \
			errno = fail_err; \
			return -1;        \
		}                         \
		return u->name(a);        \
	}

WRAP1(fsync, FAULT_FSYNC, int)
WRAP1(fdatasync, FAULT_FSYNC, int)
WRAP1(unlink, FAULT_UNLINK, const char *)

static int f_ftruncate(int fd, off_t len)
{
	if (hit(FAULT_FTRUNCATE)) {
		errno = fail_err;
		return -1;
	}
	return u->ftruncate(fd, len);
}

static int f_fallocate(int fd, off_t off, off_t len)
{
	if (hit(FAULT_FALLOCATE)) {
		errno = fail_err;
		return -1;
	}
	return u->fallocate(fd, off, len);
}

static int f_rename(const char *a, const char *b)
{
	if (hit(FAULT_RENAME)) {
		errno = fail_err;
		return -1;
	}
	return u->rename(a, b);
}

static int f_close(int fd)
{
	return u->close(fd);
}
static ssize_t f_pread(int fd, void *buf, size_t n, off_t off)
{
	return u->pread(fd, buf, n, off);
}
static int f_filesize(int fd, off_t *size)
{
	return u->filesize(fd, size);
}
static int f_mkdir(const char *p, mode_t m)
{
	return u->mkdir(p, m);
}
static int f_flock(int fd, int op)
{
	return u->flock(fd, op);
}
static int f_listdir(const char *d, char ***names, size_t *n)
{
	return u->listdir(d, names, n);
}

static const struct sysio table = {
    .open = f_open,
    .close = f_close,
    .pread = f_pread,
    .pwrite = f_pwrite,
    .fsync = f_fsync,
    .fdatasync = f_fdatasync,
    .ftruncate = f_ftruncate,
    .fallocate = f_fallocate,
    .filesize = f_filesize,
    .rename = f_rename,
    .unlink = f_unlink,
    .mkdir = f_mkdir,
    .flock = f_flock,
    .listdir = f_listdir,
};

const struct sysio *faultio_wrap(const struct sysio *under)
{
	u = under;
	faultio_disarm();
	fired = false;
	seen = 0;
	return &table;
}

void faultio_arm(unsigned kinds, uint64_t n, int err, bool short_write)
{
	armed_kinds = kinds;
	nth = n;
	seen = 0;
	fail_err = err;
	short_w = short_write;
	fired = false;
}

void faultio_disarm(void)
{
	armed_kinds = 0; /* fired and seen stay readable */
}

bool faultio_fired(void)
{
	return fired;
}

uint64_t faultio_seen(void)
{
	return seen;
}
