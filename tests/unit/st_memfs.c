/*
 * st_memfs: in-memory file system with power cuts (see st_memfs.h).
 *
 * Each inode keeps its current bytes, the bytes made durable by its last
 * fsync, and the writes and size changes since then, in order. The
 * directory keeps its current names, the names made durable by the last
 * directory fsync, and the changes since. A power cut rebuilds every file
 * and the directory from the durable state plus what the cut mode lets
 * survive.
 */
#include "st_memfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#define SECTOR 512

struct op {
	int write; /* 1: write of len bytes at off; 0: size set to off */
	size_t off, len;
	uint8_t *data;
};

struct inode {
	uint8_t *data;
	size_t len;
	uint8_t *dur;
	size_t dur_len;
	struct op *ops;
	size_t nops;
	struct inode *next_all;
	int locked;
};

struct name {
	char *path;
	struct inode *ino;
};

struct names {
	struct name *v;
	size_t n;
};

struct dirop {
	int kind; /* 0 link path->ino, 1 unlink path, 2 rename path->to */
	char *path, *to;
	struct inode *ino;
};

struct fd {
	int used;
	struct inode *ino; /* NULL: a directory */
};

#define MAX_FDS 256
#define FD_BASE 1000

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct inode *all;
static struct names cur, dur;
static struct dirop *dops;
static size_t ndops;
static char *dirs[16];
static size_t ndirs;
static struct fd fds[MAX_FDS];
static uint64_t quota, nops_done, die_at;
static bool dead;

static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		abort();
	return q;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

static struct name *find(struct names *ns, const char *path)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i].path, path) == 0)
			return &ns->v[i];
	return NULL;
}

static void set_name(struct names *ns, const char *path, struct inode *ino)
{
	struct name *e = find(ns, path);
	if (e != NULL) {
		e->ino = ino;
		return;
	}
	ns->v = xrealloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->v[ns->n].path = xstrdup(path);
	ns->v[ns->n++].ino = ino;
}

static void del_name(struct names *ns, const char *path)
{
	struct name *e = find(ns, path);
	if (e == NULL)
		return;
	free(e->path);
	*e = ns->v[--ns->n];
}

static void clear_names(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i].path);
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

static void copy_names(struct names *dst, const struct names *src)
{
	clear_names(dst);
	for (size_t i = 0; i < src->n; i++)
		set_name(dst, src->v[i].path, src->v[i].ino);
}

static void clear_dops(void)
{
	for (size_t i = 0; i < ndops; i++) {
		free(dops[i].path);
		free(dops[i].to);
	}
	free(dops);
	dops = NULL;
	ndops = 0;
}

static void add_dop(int kind, const char *path, const char *to, struct inode *ino)
{
	dops = xrealloc(dops, (ndops + 1) * sizeof(*dops));
	dops[ndops].kind = kind;
	dops[ndops].path = xstrdup(path);
	dops[ndops].to = to ? xstrdup(to) : NULL;
	dops[ndops++].ino = ino;
}

static void clear_ops(struct inode *ino)
{
	for (size_t i = 0; i < ino->nops; i++)
		free(ino->ops[i].data);
	free(ino->ops);
	ino->ops = NULL;
	ino->nops = 0;
}

static void add_op(struct inode *ino, int write, size_t off, const void *data, size_t len)
{
	ino->ops = xrealloc(ino->ops, (ino->nops + 1) * sizeof(*ino->ops));
	ino->ops[ino->nops].write = write;
	ino->ops[ino->nops].off = off;
	ino->ops[ino->nops].len = len;
	ino->ops[ino->nops].data = NULL;
	if (write) {
		ino->ops[ino->nops].data = xrealloc(NULL, len);
		if (len > 0)
			memcpy(ino->ops[ino->nops].data, data, len);
	}
	ino->nops++;
}

static void resize(uint8_t **buf, size_t *len, size_t n)
{
	*buf = xrealloc(*buf, n);
	if (n > *len)
		memset(*buf + *len, 0, n - *len);
	*len = n;
}

/* Bytes of every file that still has a name or an open descriptor. */
static size_t total_bytes(void)
{
	size_t t = 0;
	for (struct inode *i = all; i != NULL; i = i->next_all) {
		bool live = false;
		for (size_t k = 0; k < cur.n && !live; k++)
			live = cur.v[k].ino == i;
		for (int k = 0; k < MAX_FDS && !live; k++)
			live = fds[k].used && fds[k].ino == i;
		if (live)
			t += i->len;
	}
	return t;
}

/* Counts a mutating call; false when the process is (now) dead. */
static bool step(void)
{
	if (dead)
		return false;
	nops_done++;
	if (die_at != 0 && nops_done >= die_at) {
		dead = true;
		return false;
	}
	return true;
}

static struct fd *getfd(int fd)
{
	if (fd < FD_BASE || fd >= FD_BASE + MAX_FDS || !fds[fd - FD_BASE].used)
		return NULL;
	return &fds[fd - FD_BASE];
}

static bool is_dir(const char *path)
{
	for (size_t i = 0; i < ndirs; i++)
		if (strcmp(dirs[i], path) == 0)
			return true;
	return false;
}

#define LOCKED(expr)                       \
	do {                               \
		pthread_mutex_lock(&mu);   \
		expr;                      \
		pthread_mutex_unlock(&mu); \
	} while (0)

static int fail(int err)
{
	errno = err;
	return -1;
}

static int m_open_l(const char *path, int flags)
{
	struct inode *ino = NULL;
	struct name *e;
	int slot;

	if (dead)
		return fail(EIO);
	if (is_dir(path)) {
		ino = NULL;
	} else {
		if (flags & O_DIRECTORY)
			return fail(ENOENT);
		e = find(&cur, path);
		if (e == NULL) {
			if (!(flags & O_CREAT))
				return fail(ENOENT);
			if (!step())
				return fail(EIO);
			ino = calloc(1, sizeof(*ino));
			if (ino == NULL)
				abort();
			ino->next_all = all;
			all = ino;
			set_name(&cur, path, ino);
			add_dop(0, path, NULL, ino);
		} else {
			ino = e->ino;
			if (flags & O_TRUNC) {
				if (!step())
					return fail(EIO);
				resize(&ino->data, &ino->len, 0);
				add_op(ino, 0, 0, NULL, 0);
			}
		}
	}
	for (slot = 0; slot < MAX_FDS && fds[slot].used; slot++)
		;
	if (slot == MAX_FDS)
		return fail(EMFILE);
	fds[slot].used = 1;
	fds[slot].ino = ino;
	return FD_BASE + slot;
}

static int m_open(const char *path, int flags, mode_t mode)
{
	int rv;
	(void)mode;
	LOCKED(rv = m_open_l(path, flags));
	return rv;
}

static int m_close(int fd)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct fd *f = getfd(fd);
	if (f == NULL) {
		rv = fail(EBADF);
	} else {
		if (f->ino != NULL)
			f->ino->locked = 0;
		f->used = 0;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static ssize_t m_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t rv;
	pthread_mutex_lock(&mu);
	struct fd *f = getfd(fd);
	if (dead) {
		rv = fail(EIO);
	} else if (f == NULL || f->ino == NULL) {
		rv = fail(EBADF);
	} else if ((size_t)off >= f->ino->len) {
		rv = 0;
	} else {
		size_t k = f->ino->len - (size_t)off;
		if (k > n)
			k = n;
		memcpy(buf, f->ino->data + off, k);
		rv = (ssize_t)k;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static ssize_t m_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t rv;
	pthread_mutex_lock(&mu);
	struct fd *f = getfd(fd);
	if (f == NULL || f->ino == NULL) {
		rv = fail(EBADF);
	} else if (!step()) {
		rv = fail(EIO);
	} else {
		struct inode *ino = f->ino;
		size_t end = (size_t)off + n;
		if (quota != 0 && end > ino->len && total_bytes() + (end - ino->len) > quota) {
			size_t room = quota > total_bytes() ? (size_t)(quota - total_bytes()) : 0;
			size_t fit = (size_t)off < ino->len ? ino->len - (size_t)off + room : 0;
			if ((size_t)off > ino->len && room > (size_t)off - ino->len)
				fit = room - ((size_t)off - ino->len);
			if (fit == 0) {
				rv = fail(ENOSPC);
				goto out;
			}
			n = fit < n ? fit : n;
			end = (size_t)off + n;
		}
		if (end > ino->len)
			resize(&ino->data, &ino->len, end);
		if (n > 0)
			memcpy(ino->data + off, buf, n);
		add_op(ino, 1, (size_t)off, buf, n);
		rv = (ssize_t)n;
	}
out:
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_fsync(int fd)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct fd *f = getfd(fd);
	if (f == NULL) {
		rv = fail(EBADF);
	} else if (!step()) {
		rv = fail(EIO);
	} else if (f->ino == NULL) {
		copy_names(&dur, &cur);
		clear_dops();
	} else {
		struct inode *ino = f->ino;
		ino->dur = xrealloc(ino->dur, ino->len);
		if (ino->len > 0)
			memcpy(ino->dur, ino->data, ino->len);
		ino->dur_len = ino->len;
		clear_ops(ino);
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_setsize(int fd, size_t len, bool grow_only)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct fd *f = getfd(fd);
	if (f == NULL || f->ino == NULL) {
		rv = fail(EBADF);
	} else if (!step()) {
		rv = fail(EIO);
	} else if (grow_only && len <= f->ino->len) {
		rv = 0;
	} else if (quota != 0 && len > f->ino->len && total_bytes() + (len - f->ino->len) > quota) {
		rv = fail(ENOSPC);
	} else {
		resize(&f->ino->data, &f->ino->len, len);
		add_op(f->ino, 0, len, NULL, 0);
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_ftruncate(int fd, off_t len)
{
	return m_setsize(fd, (size_t)len, false);
}

static int m_fallocate(int fd, off_t off, off_t len)
{
	return m_setsize(fd, (size_t)(off + len), true);
}

static int m_filesize(int fd, off_t *size)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct fd *f = getfd(fd);
	if (dead)
		rv = fail(EIO);
	else if (f == NULL || f->ino == NULL)
		rv = fail(EBADF);
	else
		*size = (off_t)f->ino->len;
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_rename(const char *from, const char *to)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct name *e = find(&cur, from);
	if (e == NULL) {
		rv = fail(dead ? EIO : ENOENT);
	} else if (!step()) {
		rv = fail(EIO);
	} else {
		struct inode *ino = e->ino;
		del_name(&cur, from);
		set_name(&cur, to, ino);
		add_dop(2, from, to, ino);
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_unlink(const char *path)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	if (find(&cur, path) == NULL) {
		rv = fail(dead ? EIO : ENOENT);
	} else if (!step()) {
		rv = fail(EIO);
	} else {
		del_name(&cur, path);
		add_dop(1, path, NULL, NULL);
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_mkdir(const char *path, mode_t mode)
{
	int rv = 0;
	(void)mode;
	pthread_mutex_lock(&mu);
	if (dead)
		rv = fail(EIO);
	else if (is_dir(path))
		rv = fail(EEXIST);
	else if (ndirs == 16)
		rv = fail(ENOSPC);
	else
		dirs[ndirs++] = xstrdup(path); /* directories are durable at once */
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_flock(int fd, int op)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct fd *f = getfd(fd);
	if (f == NULL || f->ino == NULL) {
		rv = fail(EBADF);
	} else if (op & LOCK_UN) {
		f->ino->locked = 0;
	} else {
		/* One process: a second lock on the same file is refused. */
		int holders = 0;
		for (int i = 0; i < MAX_FDS; i++)
			if (fds[i].used && fds[i].ino == f->ino && &fds[i] != f && f->ino->locked)
				holders++;
		if (holders)
			rv = fail(EWOULDBLOCK);
		else
			f->ino->locked = 1;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

static int m_listdir(const char *dir, char ***names, size_t *n)
{
	size_t dl = strlen(dir), k = 0;
	char **v;
	pthread_mutex_lock(&mu);
	if (dead || !is_dir(dir)) {
		pthread_mutex_unlock(&mu);
		return fail(dead ? EIO : ENOENT);
	}
	v = xrealloc(NULL, (cur.n + 1) * sizeof(*v));
	for (size_t i = 0; i < cur.n; i++) {
		const char *p = cur.v[i].path;
		if (strncmp(p, dir, dl) == 0 && p[dl] == '/' && strchr(p + dl + 1, '/') == NULL)
			v[k++] = xstrdup(p + dl + 1);
	}
	pthread_mutex_unlock(&mu);
	*names = v;
	*n = k;
	return 0;
}

static const struct sysio memfs = {
    .open = m_open,
    .close = m_close,
    .pread = m_pread,
    .pwrite = m_pwrite,
    .fsync = m_fsync,
    .fdatasync = m_fsync,
    .ftruncate = m_ftruncate,
    .fallocate = m_fallocate,
    .filesize = m_filesize,
    .rename = m_rename,
    .unlink = m_unlink,
    .mkdir = m_mkdir,
    .flock = m_flock,
    .listdir = m_listdir,
};

const struct sysio *memfs_io(void)
{
	return &memfs;
}

void memfs_reset(void)
{
	pthread_mutex_lock(&mu);
	while (all != NULL) {
		struct inode *next = all->next_all;
		clear_ops(all);
		free(all->data);
		free(all->dur);
		free(all);
		all = next;
	}
	clear_names(&cur);
	clear_names(&dur);
	clear_dops();
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	ndirs = 0;
	memset(fds, 0, sizeof(fds));
	quota = nops_done = die_at = 0;
	dead = false;
	pthread_mutex_unlock(&mu);
}

void memfs_set_quota(uint64_t bytes)
{
	LOCKED(quota = bytes);
}

uint64_t memfs_ops(void)
{
	uint64_t v;
	LOCKED(v = nops_done);
	return v;
}

void memfs_die_after(uint64_t n)
{
	LOCKED(die_at = n ? nops_done + n : 0);
}

bool memfs_dead(void)
{
	bool v;
	LOCKED(v = dead);
	return v;
}

/* Replays op onto (buf, len), all of it or only some sectors. */
static void replay(uint8_t **buf, size_t *len, const struct op *op, enum memfs_cut mode, bool torn)
{
	if (!op->write) {
		resize(buf, len, op->off);
		return;
	}
	for (size_t s = 0; s < op->len; s += SECTOR) {
		size_t k = op->len - s < SECTOR ? op->len - s : SECTOR;
		if (mode == MEMFS_CUT_REORDER && rnd() % 2)
			continue;
		if (torn && rnd() % 3 == 0)
			break;
		if (op->off + s + k > *len)
			resize(buf, len, op->off + s + k);
		memcpy(*buf + op->off + s, op->data + s, k);
	}
}

void memfs_power_cut(enum memfs_cut mode, uint64_t seed)
{
	pthread_mutex_lock(&mu);
	rng_state = seed;
	for (struct inode *ino = all; ino != NULL; ino = ino->next_all) {
		uint8_t *buf = NULL;
		size_t len = 0;
		size_t keep = 0;
		resize(&buf, &len, ino->dur_len);
		if (ino->dur_len)
			memcpy(buf, ino->dur, ino->dur_len);
		if (mode == MEMFS_CUT_TORN)
			keep = ino->nops ? (size_t)(rnd() % (ino->nops + 1)) : 0;
		for (size_t i = 0; i < ino->nops; i++) {
			if (mode == MEMFS_CUT_DROP)
				break;
			if (mode == MEMFS_CUT_TORN && i > keep)
				break;
			if (mode == MEMFS_CUT_REORDER && !ino->ops[i].write && rnd() % 2)
				continue;
			replay(&buf, &len, &ino->ops[i], mode, mode == MEMFS_CUT_TORN && i == keep);
		}
		clear_ops(ino);
		free(ino->data);
		ino->data = buf;
		ino->len = len;
		ino->dur = xrealloc(ino->dur, len);
		if (len)
			memcpy(ino->dur, buf, len);
		ino->dur_len = len;
		ino->locked = 0;
	}
	{
		size_t keep = ndops ? (size_t)(rnd() % (ndops + 1)) : 0;
		for (size_t i = 0; i < ndops; i++) {
			const struct dirop *d = &dops[i];
			if (mode == MEMFS_CUT_DROP || (mode == MEMFS_CUT_TORN && i >= keep) ||
			    (mode == MEMFS_CUT_REORDER && rnd() % 2))
				continue;
			if (d->kind == 0) {
				set_name(&dur, d->path, d->ino);
			} else if (d->kind == 1) {
				del_name(&dur, d->path);
			} else {
				struct name *e = find(&dur, d->path);
				if (e != NULL && e->ino == d->ino) {
					del_name(&dur, d->path);
					set_name(&dur, d->to, d->ino);
				}
			}
		}
		clear_dops();
		copy_names(&cur, &dur);
	}
	memset(fds, 0, sizeof(fds));
	die_at = 0;
	dead = false;
	pthread_mutex_unlock(&mu);
}

int memfs_read(const char *path, uint8_t **data, size_t *len)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct name *e = find(&cur, path);
	if (e == NULL) {
		rv = -1;
	} else {
		*data = xrealloc(NULL, e->ino->len);
		if (e->ino->len > 0)
			memcpy(*data, e->ino->data, e->ino->len);
		*len = e->ino->len;
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

int memfs_flip(const char *path, size_t off, int bit)
{
	int rv = 0;
	pthread_mutex_lock(&mu);
	struct name *e = find(&cur, path);
	if (e == NULL || off >= e->ino->len) {
		rv = -1;
	} else {
		e->ino->data[off] ^= (uint8_t)(1u << bit);
		if (off < e->ino->dur_len)
			e->ino->dur[off] ^= (uint8_t)(1u << bit);
		for (size_t i = 0; i < e->ino->nops; i++) {
			struct op *o = &e->ino->ops[i];
			if (o->write && off >= o->off && off < o->off + o->len)
				o->data[off - o->off] ^= (uint8_t)(1u << bit);
		}
	}
	pthread_mutex_unlock(&mu);
	return rv;
}

bool memfs_exists(const char *path)
{
	bool v;
	LOCKED(v = find(&cur, path) != NULL);
	return v;
}
