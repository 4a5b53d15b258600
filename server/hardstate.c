/*
 * hardstate: two-slot atomic term+vote (see hardstate.h).
 *
 * Slot layout, little-endian, at offsets 0 and 4096:
 *   0 magic "CHS1"   4 version (1)   8 seq   16 term   24 vote
 *   32..63 reserved, zero (room for more fields; version says which)
 *   64 CRC32C of bytes 0..63
 * Invariant: h->slot holds the newest durable value; only the other slot
 * is ever written.
 */
#include "hardstate.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "storage_le.h"
#include "storage.h"

#define SLOT_STRIDE 4096
#define SLOT_BYTES 68
#define SLOT_MAGIC 0x31534843u /* "CHS1" */
#define SLOT_VERSION 1
#define TMP_NAME "hardstate.tmp"

static void encode(uint8_t *p, uint64_t seq, const struct rc_hard_state *v)
{
	memset(p, 0, SLOT_BYTES);
	put_le32(p, SLOT_MAGIC);
	put_le32(p + 4, SLOT_VERSION);
	put_le64(p + 8, seq);
	put_le64(p + 16, v->term);
	put_le64(p + 24, v->vote);
	put_le32(p + 64, rc_crc32c(0, p, 64));
}

static int decode(const uint8_t *p, uint64_t *seq, struct rc_hard_state *v)
{
	if (get_le32(p) != SLOT_MAGIC || get_le32(p + 64) != rc_crc32c(0, p, 64) ||
	    get_le32(p + 4) != SLOT_VERSION)
		return -1;
	*seq = get_le64(p + 8);
	v->term = get_le64(p + 16);
	v->vote = get_le64(p + 24);
	return 0;
}

/* A new file through a temporary name: a crash leaves either no file or a
 * whole one. */
static int create(struct hardstate *h, char *errmsg)
{
	const struct sysio *io = h->dir->io;
	char tmp[DATADIR_PATH_MAX], dst[DATADIR_PATH_MAX];
	uint8_t buf[SLOT_STRIDE + SLOT_BYTES];
	struct rc_hard_state zero = {0, 0};
	int fd, rv;

	datadir_join(h->dir, TMP_NAME, tmp);
	datadir_join(h->dir, HARDSTATE_NAME, dst);
	memset(buf, 0, sizeof(buf));
	encode(buf, 1, &zero);
	fd = io->open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		storage_errf(errmsg, "create %s: %s", tmp, strerror(errno));
		rv = datadir_errno_code(errno);
		goto err;
	}
	rv = sysio_write_all(io, fd, buf, sizeof(buf), 0);
	if (rv != 0) {
		storage_errf(errmsg, "write %s: %s", tmp, strerror(-rv));
		rv = datadir_errno_code(-rv);
		goto err_close;
	}
	if (io->fsync(fd) != 0) {
		storage_errf(errmsg, "fsync %s: %s", tmp, strerror(errno));
		rv = -STORAGE_EFSYNC;
		goto err_close;
	}
	if (io->rename(tmp, dst) != 0) {
		storage_errf(errmsg, "rename %s: %s", tmp, strerror(errno));
		rv = datadir_errno_code(errno);
		goto err_close;
	}
	rv = datadir_sync(h->dir, errmsg);
	if (rv != 0)
		goto err_close;
	h->fd = fd;
	h->seq = 1;
	h->slot = 0;
	h->value = zero;
	return 0;

err_close:
	io->close(fd);
	io->unlink(tmp);
err:
	assert(rv != 0);
	return rv;
}

int hardstate_open(struct hardstate *h, const struct datadir *dir, char *errmsg)
{
	const struct sysio *io = dir->io;
	char path[DATADIR_PATH_MAX];
	uint8_t buf[SLOT_STRIDE + SLOT_BYTES];
	struct rc_hard_state v[2];
	uint64_t seq[2];
	int ok[2];
	ssize_t got;
	int rv;

	h->dir = dir;
	h->fd = -1;
	datadir_join(dir, HARDSTATE_NAME, path);
	h->fd = io->open(path, O_RDWR, 0);
	if (h->fd < 0) {
		if (errno == ENOENT)
			return create(h, errmsg);
		storage_errf(errmsg, "open %s: %s", path, strerror(errno));
		return -STORAGE_EIO;
	}
	memset(buf, 0, sizeof(buf));
	got = sysio_read_all(io, h->fd, buf, sizeof(buf), 0);
	if (got < 0) {
		storage_errf(errmsg, "read %s: %s", path, strerror((int)-got));
		rv = -STORAGE_EIO;
		goto err;
	}
	for (int i = 0; i < 2; i++)
		ok[i] = decode(buf + i * SLOT_STRIDE, &seq[i], &v[i]) == 0;
	if (!ok[0] && !ok[1]) {
		storage_errf(errmsg, "%s: both slots (offsets 0 and %d) fail their checksum", path,
			     SLOT_STRIDE);
		rv = -STORAGE_ECORRUPT;
		goto err;
	}
	h->slot = ok[0] && (!ok[1] || seq[0] > seq[1]) ? 0 : 1;
	h->seq = seq[h->slot];
	h->value = v[h->slot];
	/* What we read may sit only in the page cache (a killed writer):
	 * make it durable before anyone acts on it. */
	if (io->fdatasync(h->fd) != 0) {
		storage_errf(errmsg, "fdatasync %s: %s", path, strerror(errno));
		rv = -STORAGE_EFSYNC;
		goto err;
	}
	return 0;

err:
	io->close(h->fd);
	h->fd = -1;
	assert(rv != 0);
	return rv;
}

void hardstate_close(struct hardstate *h)
{
	if (h->fd >= 0)
		h->dir->io->close(h->fd);
	h->fd = -1;
}

int hardstate_write(struct hardstate *h, const struct rc_hard_state *v, char *errmsg)
{
	const struct sysio *io = h->dir->io;
	uint8_t buf[SLOT_BYTES];
	int other = 1 - h->slot;
	int rv;

	encode(buf, h->seq + 1, v);
	rv = sysio_write_all(io, h->fd, buf, sizeof(buf), (off_t)other * SLOT_STRIDE);
	if (rv != 0) {
		storage_errf(errmsg, "write %s/%s at offset %d: %s", h->dir->path, HARDSTATE_NAME,
			     other * SLOT_STRIDE, strerror(-rv));
		return datadir_errno_code(-rv);
	}
	if (io->fdatasync(h->fd) != 0) {
		storage_errf(errmsg, "fdatasync %s/%s: %s", h->dir->path, HARDSTATE_NAME,
			     strerror(errno));
		return -STORAGE_EFSYNC;
	}
	h->slot = other;
	h->seq++;
	h->value = *v;
	return 0;
}
