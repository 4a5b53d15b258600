/*
 * snapfile: writing, committing and verifying snapshot files (see
 * snapfile.h for the scheme).
 *
 * Meta layout, little-endian:
 *   0 magic "CAIRNSNP"  8 version (1)  12 conf_len  16 index  24 term
 *   32 size  40 data CRC32C  44 zero  48 conf bytes  then a CRC32C of
 *   everything before it.
 */
#include "snapfile.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage_le.h"

#define META_MAGIC "CAIRNSNP"
#define META_VERSION 1u
#define META_FIXED 48u
#define META_MAX (META_FIXED + STORAGE_CONF_MAX + 4u)
#define CRC_CHUNK (1u << 20)

static void name_of(char *buf, size_t cap, rc_index index, const char *ext)
{
	snprintf(buf, cap, "snap-%020" PRIu64 ".%s", index, ext);
}

int snapfile_data_path(const struct datadir *d, rc_index index, char *buf)
{
	char name[64];
	name_of(name, sizeof(name), index, "data");
	return datadir_join(d, name, buf);
}

/* 1: finished data, 2: finished meta, 0: anything else named snap-*. */
static int parse_name(const char *name, rc_index *index)
{
	char *end;
	if (strncmp(name, "snap-", 5) != 0 || strlen(name) != 5 + 20 + 5)
		return 0;
	for (int i = 5; i < 25; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	*index = strtoull(name + 5, &end, 10);
	if (strcmp(end, ".data") == 0)
		return 1;
	if (strcmp(end, ".meta") == 0)
		return 2;
	return 0;
}

int snapfile_begin(const struct datadir *d, uint64_t nonce, struct snapfile_writer **out,
		   char *errmsg)
{
	struct snapfile_writer *w = calloc(1, sizeof(*w));
	char name[64];

	if (w == NULL)
		return -STORAGE_ENOMEM;
	w->dir = d;
	snprintf(name, sizeof(name), "snap-%" PRIu64 ".tmp", nonce);
	if (datadir_join(d, name, w->path) != 0) {
		free(w);
		return -STORAGE_EINVAL;
	}
	w->fd = d->io->open(w->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (w->fd < 0) {
		int rv = datadir_errno_code(errno);
		storage_errf(errmsg, "create %s: %s", w->path, strerror(errno));
		free(w);
		return rv;
	}
	*out = w;
	return 0;
}

int snapfile_write(struct snapfile_writer *w, uint64_t offset, const void *data, size_t len,
		   char *errmsg)
{
	int rv;
	if (offset < w->size && offset + len <= w->size)
		return 0; /* a chunk sent again */
	if (offset != w->size) {
		storage_errf(errmsg, "snapshot chunk at offset %" PRIu64 ", expected %" PRIu64,
			     offset, w->size);
		return -STORAGE_EOFFSET;
	}
	rv = sysio_write_all(w->dir->io, w->fd, data, len, (off_t)offset);
	if (rv != 0) {
		storage_errf(errmsg, "write %s at %" PRIu64 ": %s", w->path, offset, strerror(-rv));
		/* A partial write is overwritten by the retry at the same offset. */
		return datadir_errno_code(-rv);
	}
	w->crc = rc_crc32c(w->crc, data, len);
	w->size += len;
	return 0;
}

void snapfile_abort(struct snapfile_writer *w)
{
	if (w == NULL)
		return;
	w->dir->io->close(w->fd);
	w->dir->io->unlink(w->path);
	free(w);
}

/* CRC32C of the first size bytes of fd; -STORAGE_E* or 0. */
static int crc_file(const struct sysio *io, int fd, uint64_t size, uint32_t *crc, const char *path,
		    char *errmsg)
{
	uint8_t *buf = malloc(CRC_CHUNK);
	uint32_t c = 0;
	int rv = 0;

	if (buf == NULL)
		return -STORAGE_ENOMEM;
	for (uint64_t off = 0; off < size;) {
		size_t want = size - off < CRC_CHUNK ? (size_t)(size - off) : CRC_CHUNK;
		ssize_t got = sysio_read_all(io, fd, buf, want, (off_t)off);
		if (got != (ssize_t)want) {
			storage_errf(errmsg, "read %s at %" PRIu64 ": %s", path, off,
				     got < 0 ? strerror((int)-got) : "file shorter than its size");
			rv = -STORAGE_EIO;
			break;
		}
		c = rc_crc32c(c, buf, want);
		off += want;
	}
	free(buf);
	*crc = c;
	return rv;
}

static size_t meta_encode(uint8_t *p, const struct storage_snapshot_meta *m, uint32_t data_crc)
{
	memset(p, 0, META_FIXED);
	memcpy(p, META_MAGIC, 8);
	put_le32(p + 8, META_VERSION);
	put_le32(p + 12, m->conf_len);
	put_le64(p + 16, m->index);
	put_le64(p + 24, m->term);
	put_le64(p + 32, m->size);
	put_le32(p + 40, data_crc);
	memcpy(p + META_FIXED, m->conf, m->conf_len);
	put_le32(p + META_FIXED + m->conf_len, rc_crc32c(0, p, META_FIXED + m->conf_len));
	return META_FIXED + m->conf_len + 4;
}

/* Writes a file through a temporary name; durable when this returns 0. */
static int write_meta(const struct datadir *d, const struct storage_snapshot_meta *m,
		      uint32_t data_crc, char *tmp, char *errmsg)
{
	const struct sysio *io = d->io;
	uint8_t buf[META_MAX];
	size_t len = meta_encode(buf, m, data_crc);
	char name[64];
	int fd, rv;

	name_of(name, sizeof(name), m->index, "meta.tmp");
	datadir_join(d, name, tmp);
	fd = io->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		storage_errf(errmsg, "create %s: %s", tmp, strerror(errno));
		return datadir_errno_code(errno);
	}
	rv = sysio_write_all(io, fd, buf, len, 0);
	if (rv != 0) {
		storage_errf(errmsg, "write %s: %s", tmp, strerror(-rv));
		rv = datadir_errno_code(-rv);
		goto err;
	}
	if (io->fdatasync(fd) != 0) {
		storage_errf(errmsg, "fdatasync %s: %s", tmp, strerror(errno));
		rv = -STORAGE_EFSYNC;
		goto err;
	}
	io->close(fd);
	return 0;
err:
	io->close(fd);
	io->unlink(tmp);
	assert(rv != 0);
	return rv;
}

int snapfile_commit(struct snapfile_writer *w, const struct storage_snapshot_meta *meta,
		    char *errmsg)
{
	const struct datadir *d = w->dir;
	const struct sysio *io = d->io;
	char meta_tmp[DATADIR_PATH_MAX], data_dst[DATADIR_PATH_MAX], meta_dst[DATADIR_PATH_MAX];
	char name[64];
	uint32_t crc = w->crc;
	off_t fsize;
	int rv;

	if (meta->conf_len > STORAGE_CONF_MAX || io->filesize(w->fd, &fsize) != 0 ||
	    (uint64_t)fsize != meta->size || (w->size != 0 && w->size != meta->size)) {
		storage_errf(errmsg,
			     "snapshot commit: size %" PRIu64 " does not match the %" PRIu64
			     " bytes written",
			     meta->size, w->size ? w->size : (uint64_t)fsize);
		rv = -STORAGE_EINVAL;
		goto err;
	}
	if (w->size == 0 && meta->size > 0) { /* the store wrote the file itself */
		rv = crc_file(io, w->fd, meta->size, &crc, w->path, errmsg);
		if (rv != 0)
			goto err;
	}
	if (io->fdatasync(w->fd) != 0) {
		storage_errf(errmsg, "fdatasync %s: %s", w->path, strerror(errno));
		rv = -STORAGE_EFSYNC;
		goto err;
	}
	rv = write_meta(d, meta, crc, meta_tmp, errmsg);
	if (rv != 0)
		goto err;
	snapfile_data_path(d, meta->index, data_dst);
	name_of(name, sizeof(name), meta->index, "meta");
	datadir_join(d, name, meta_dst);
	/* Data first, and durable, so a meta on disk always has its data. */
	if (io->rename(w->path, data_dst) != 0) {
		storage_errf(errmsg, "rename %s: %s", w->path, strerror(errno));
		rv = datadir_errno_code(errno);
		goto err_meta;
	}
	rv = datadir_sync(d, errmsg);
	if (rv != 0)
		goto err_meta;
	if (io->rename(meta_tmp, meta_dst) != 0) {
		storage_errf(errmsg, "rename %s: %s", meta_tmp, strerror(errno));
		rv = datadir_errno_code(errno);
		goto err_meta;
	}
	rv = datadir_sync(d, errmsg);
	if (rv != 0)
		goto err_close;
	io->close(w->fd);
	free(w);
	return 0;

err_meta:
	io->unlink(meta_tmp);
err:
	io->unlink(w->path);
err_close:
	io->close(w->fd);
	free(w);
	assert(rv != 0);
	return rv;
}

/* Reads and checks one finished snapshot; 0 or -STORAGE_ECORRUPT/EIO. */
static int verify(const struct datadir *d, rc_index index, struct storage_snapshot_meta *m,
		  char *errmsg)
{
	const struct sysio *io = d->io;
	char name[64], path[DATADIR_PATH_MAX];
	uint8_t buf[META_MAX + 1];
	uint32_t conf_len, data_crc, crc;
	ssize_t got;
	off_t fsize;
	int fd, rv;

	name_of(name, sizeof(name), index, "meta");
	datadir_join(d, name, path);
	fd = io->open(path, O_RDONLY, 0);
	if (fd < 0) {
		storage_errf(errmsg, "open %s: %s", path, strerror(errno));
		return -STORAGE_EIO;
	}
	got = sysio_read_all(io, fd, buf, sizeof(buf), 0);
	io->close(fd);
	if (got < 0) {
		storage_errf(errmsg, "read %s: %s", path, strerror((int)-got));
		return -STORAGE_EIO;
	}
	conf_len = got >= (ssize_t)META_FIXED ? get_le32(buf + 12) : 0;
	if (got < (ssize_t)META_FIXED + 4 || memcmp(buf, META_MAGIC, 8) != 0 ||
	    conf_len > STORAGE_CONF_MAX || (size_t)got != META_FIXED + conf_len + 4 ||
	    get_le32(buf + META_FIXED + conf_len) != rc_crc32c(0, buf, META_FIXED + conf_len) ||
	    get_le32(buf + 8) != META_VERSION || get_le64(buf + 16) != index) {
		storage_errf(errmsg, "%s: corrupt snapshot metadata (%zd bytes from offset 0)",
			     path, got);
		return -STORAGE_ECORRUPT;
	}
	m->index = index;
	m->term = get_le64(buf + 24);
	m->size = get_le64(buf + 32);
	m->conf_len = conf_len;
	memcpy(m->conf, buf + META_FIXED, conf_len);
	data_crc = get_le32(buf + 40);

	snapfile_data_path(d, index, path);
	fd = io->open(path, O_RDONLY, 0);
	if (fd < 0) {
		storage_errf(errmsg, "open %s: %s", path, strerror(errno));
		return errno == ENOENT ? -STORAGE_ECORRUPT : -STORAGE_EIO;
	}
	if (io->filesize(fd, &fsize) != 0 || (uint64_t)fsize != m->size) {
		storage_errf(errmsg, "%s: %jd bytes but its metadata says %" PRIu64, path,
			     (intmax_t)fsize, m->size);
		io->close(fd);
		return -STORAGE_ECORRUPT;
	}
	rv = crc_file(io, fd, m->size, &crc, path, errmsg);
	io->close(fd);
	if (rv != 0)
		return rv;
	if (crc != data_crc) {
		storage_errf(errmsg,
			     "%s: checksum mismatch over bytes 0..%" PRIu64 " (corrupt snapshot)",
			     path, m->size);
		return -STORAGE_ECORRUPT;
	}
	return 0;
}

static int remove_name(const struct datadir *d, const char *name, char *errmsg)
{
	char path[DATADIR_PATH_MAX];
	datadir_join(d, name, path);
	if (d->io->unlink(path) != 0 && errno != ENOENT) {
		storage_errf(errmsg, "unlink %s: %s", path, strerror(errno));
		return -STORAGE_EIO;
	}
	return 0;
}

/* Deletes every finished snapshot but keep (none kept without keep_any),
 * and with temps every other snap-* file too (at open: nothing can be
 * writing them). Meta before data, so a meta never outlives its data. */
static int sweep(const struct datadir *d, rc_index keep, bool keep_any, bool temps, char *errmsg)
{
	char **names = NULL;
	size_t n = 0;
	int removed = 0, rv;

	rv = datadir_list(d, &names, &n, errmsg);
	if (rv != 0)
		return rv;
	for (int pass = 0; pass < 2 && rv == 0; pass++) {
		for (size_t i = 0; i < n && rv == 0; i++) {
			rc_index idx;
			int kind;
			if (strncmp(names[i], "snap-", 5) != 0)
				continue;
			kind = parse_name(names[i], &idx);
			if ((keep_any && kind != 0 && idx == keep) || (kind == 0 && !temps))
				continue;
			/* pass 0: metas and temporaries; pass 1: data */
			if ((pass == 0) != (kind != 1))
				continue;
			if (temps)
				datadir_logf(d, STORAGE_LOG_INFO, "removing stale %s", names[i]);
			rv = remove_name(d, names[i], errmsg);
			removed++;
		}
		if (rv == 0 && removed)
			rv = datadir_sync(d, errmsg);
		removed = 0;
	}
	sysio_free_names(names, n);
	return rv;
}

int snapfile_remove_others(const struct datadir *d, rc_index keep, char *errmsg)
{
	return sweep(d, keep, true, false, errmsg);
}

int snapfile_recover(const struct datadir *d, struct storage_snapshot_meta *meta, bool *foundp,
		     char *errmsg)
{
	char **names = NULL;
	size_t n = 0;
	rc_index newest = 0;
	bool found = false;
	int rv;

	*foundp = false;
	memset(meta, 0, sizeof(*meta));
	rv = datadir_list(d, &names, &n, errmsg);
	if (rv != 0)
		return rv;
	for (size_t i = 0; i < n; i++) {
		rc_index idx;
		if (parse_name(names[i], &idx) == 2 && (!found || idx > newest)) {
			newest = idx;
			found = true;
		}
	}
	sysio_free_names(names, n);
	if (found) {
		rv = verify(d, newest, meta, errmsg);
		if (rv != 0)
			return rv;
		*foundp = true;
	}
	return sweep(d, newest, found, true, errmsg);
}
