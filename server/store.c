/*
 * store: opening and closing the state machine, its error strings, the
 * pool of read connections, and the small apply-thread calls (sync,
 * config). Applying is in store_apply.c, the KV commands in store_kv.c,
 * queries in store_query.c, snapshots in store_snapshot.c.
 *
 * Writer pragmas (store_sql.c): journal_mode=WAL, so readers never block
 * the writer; synchronous=NORMAL, so a commit writes the WAL without an
 * fsync (checkpoints still fsync, so the file is never torn: a crash loses
 * at most the last transactions, whole, and the applied index in meta says
 * exactly which; the node replays them from its log). store_sync makes the
 * applied state durable when the node is about to drop log entries.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define STORE_DEFAULT_READERS 4
#define STORE_DEFAULT_STEP_PAGES 256
#define STORE_DEFAULT_TOMBSTONES 100000

const char *store_strerror(int rv)
{
	static const char *const msgs[] = {
#define STORE_ERR_MSG(code, msg) [code] = msg,
	    STORE_ERRORS(STORE_ERR_MSG)
#undef STORE_ERR_MSG
	};
	int code = rv < 0 ? -rv : rv;
	if (code >= STORE_ERROR_COUNT)
		return "unknown store error";
	return msgs[code];
}

void store_opts_default(struct store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_readers = STORE_DEFAULT_READERS;
	o->snapshot_step_pages = STORE_DEFAULT_STEP_PAGES;
	o->tombstone_max = STORE_DEFAULT_TOMBSTONES;
}

void store_set_errmsg(struct store *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
}

const char *store_errmsg(const struct store *st)
{
	return st->errmsg;
}

uint64_t store_applied_index(const struct store *st)
{
	return atomic_load(&st->applied_index);
}

uint64_t store_applied_term(const struct store *st)
{
	return atomic_load(&st->applied_term);
}

uint64_t store_tombstone_floor(const struct store *st)
{
	return atomic_load(&st->tomb_floor);
}

static int meta_get(struct store *st, const char *name, uint64_t *v)
{
	sqlite3_stmt *s = st->w->stmt[STMT_META_GET];
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v = store_column_u64(s, 0);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE) {
		store_set_errmsg(st, "corrupt store: meta row %s missing", name);
		return -STORE_ENOTSTORE;
	}
	if (rc != SQLITE_ROW)
		return store_sql_error(st->errmsg, st->w->db, rc, "reading meta");
	return 0;
}

int store_load_meta(struct store *st)
{
	uint64_t applied = 0, term = 0, floor = 0, count = 0;
	int rv = meta_get(st, "applied_index", &applied);
	if (rv == 0)
		rv = meta_get(st, "applied_term", &term);
	if (rv == 0)
		rv = meta_get(st, "tomb_floor", &floor);
	if (rv != 0)
		return rv;
	sqlite3_stmt *s = st->w->stmt[STMT_TOMB_COUNT];
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		count = store_column_u64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return store_sql_error(st->errmsg, st->w->db, rc, "counting tombstones");
	atomic_store(&st->applied_index, applied);
	atomic_store(&st->applied_term, term);
	atomic_store(&st->tomb_floor, floor);
	st->tomb_count = count;
	return 0;
}

/*
 * SQLite keeps global memory statistics behind a process-wide mutex taken
 * on every allocation; nothing in cairn reads them, and turning them off
 * saves about a tenth of the apply CPU. It must precede SQLite's
 * initialization, so it is done once, before the first store opens (a
 * process that initialized SQLite earlier keeps its statistics).
 */
static void configure_sqlite(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_open(const char *path, const struct store_opts *opts, struct store **out, char *errmsg)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, configure_sqlite);
	int rv = -STORE_ENOMEM;
	snprintf(errmsg, STORE_ERRMSG_SIZE, "out of memory opening the store");
	struct store *st = calloc(1, sizeof(*st));
	if (st == NULL)
		goto err;
	store_opts_default(&st->opts);
	if (opts != NULL) {
		if (opts->max_readers != 0)
			st->opts.max_readers = opts->max_readers;
		if (opts->snapshot_step_pages > 0)
			st->opts.snapshot_step_pages = opts->snapshot_step_pages;
		if (opts->tombstone_max != 0)
			st->opts.tombstone_max = opts->tombstone_max;
		st->opts.snapshot_step_hook = opts->snapshot_step_hook;
		st->opts.snapshot_step_arg = opts->snapshot_step_arg;
	}
	st->path = strdup(path);
	if (st->path == NULL)
		goto err_store;
	if (pthread_mutex_init(&st->mu, NULL) != 0)
		goto err_path;
	if (pthread_cond_init(&st->cv, NULL) != 0)
		goto err_mutex;
	rv = store_conn_open(path, true, &st->w, errmsg);
	if (rv != 0)
		goto err_cond;
	rv = store_load_meta(st);
	if (rv != 0) {
		snprintf(errmsg, STORE_ERRMSG_SIZE, "%s", st->errmsg);
		goto err_writer;
	}
	rv = -STORE_ENOMEM;
	if (pthread_mutex_init(&st->ckpt_mu, NULL) != 0)
		goto err_writer;
	if (pthread_cond_init(&st->ckpt_cv, NULL) != 0)
		goto err_ckpt_mutex;
	rv = store_checkpointer_start(st, errmsg);
	if (rv != 0)
		goto err_ckpt_cond;
	*out = st;
	return 0;

err_ckpt_cond:
	pthread_cond_destroy(&st->ckpt_cv);
err_ckpt_mutex:
	pthread_mutex_destroy(&st->ckpt_mu);
err_writer:
	store_conn_close(st->w);
err_cond:
	pthread_cond_destroy(&st->cv);
err_mutex:
	pthread_mutex_destroy(&st->mu);
err_path:
	free(st->path);
err_store:
	free(st);
err:
	assert(rv != 0);
	return rv;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	assert(st->idle == NULL || st->n_readers > 0);
	unsigned closed = 0;
	while (st->idle != NULL) {
		struct store_conn *c = st->idle;
		st->idle = c->next;
		store_conn_close(c);
		closed++;
	}
	assert(closed == st->n_readers); /* no query in flight */
	(void)closed;
	store_checkpointer_stop(st);
	pthread_cond_destroy(&st->ckpt_cv);
	pthread_mutex_destroy(&st->ckpt_mu);
	store_conn_close(st->w); /* the last connection: SQLite checkpoints */
	free(st->results);
	store_arena_free(&st->scratch);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st->path);
	free(st);
}

int store_reader_get(struct store *st, struct store_conn **out, char *errmsg)
{
	pthread_mutex_lock(&st->mu);
	for (;;) {
		if (st->idle != NULL) {
			struct store_conn *c = st->idle;
			st->idle = c->next;
			pthread_mutex_unlock(&st->mu);
			*out = c;
			return 0;
		}
		if (st->n_readers < st->opts.max_readers)
			break;
		pthread_cond_wait(&st->cv, &st->mu);
	}
	st->n_readers++; /* reserve the slot, then open without the lock */
	pthread_mutex_unlock(&st->mu);
	int rv = store_conn_open(st->path, false, out, errmsg);
	if (rv != 0) {
		pthread_mutex_lock(&st->mu);
		st->n_readers--;
		pthread_cond_signal(&st->cv);
		pthread_mutex_unlock(&st->mu);
	}
	return rv;
}

void store_reader_put(struct store *st, struct store_conn *c)
{
	if (!sqlite3_get_autocommit(c->db)) /* an error left a transaction open */
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&st->mu);
	c->next = st->idle;
	st->idle = c;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

bool store_refuses(struct store *st)
{
	if (!st->failed && store_checkpointer_failed(st))
		st->failed = true;
	return st->failed;
}

/* fsyncs the file SQLite hands out for op (the database or its WAL);
 * nothing when it is not open. */
static int sync_file(struct store *st, int op, const char *what)
{
	sqlite3_file *f = NULL;
	int rc = sqlite3_file_control(st->w->db, "main", op, &f);
	if (rc == SQLITE_OK && f != NULL && f->pMethods != NULL)
		rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
	if (rc != SQLITE_OK)
		return store_sql_error(st->errmsg, st->w->db, rc, what);
	return 0;
}

/*
 * Every commit is in the WAL until a checkpoint has copied it into the
 * database file and fsynced that (SQLite restarts the WAL only after), so
 * fsyncing the WAL, then the database file, makes the whole applied state
 * durable. A failure is fatal like any failed fsync (never retried).
 */
int store_sync(struct store *st)
{
	if (store_refuses(st))
		return -STORE_EFAILED;
	int rv = sync_file(st, SQLITE_FCNTL_JOURNAL_POINTER, "fsync of the store's WAL");
	if (rv == 0)
		rv = sync_file(st, SQLITE_FCNTL_FILE_POINTER, "fsync of the store");
	if (rv != 0)
		st->failed = true;
	return rv;
}

int store_config(struct store *st, uint64_t *index, uint8_t **data, size_t *len)
{
	*index = 0;
	*data = NULL;
	*len = 0;
	sqlite3_stmt *s = st->w->stmt[STMT_CONFIG_GET];
	int rc = sqlite3_step(s);
	int rv = 0;
	if (rc == SQLITE_ROW) {
		const uint8_t *p;
		size_t n;
		store_column_bytes(s, 1, &p, &n);
		*data = malloc(n > 0 ? n : 1);
		if (*data == NULL) {
			store_set_errmsg(st, "out of memory reading the configuration");
			rv = -STORE_ENOMEM;
		} else {
			memcpy(*data, p, n);
			*len = n;
			*index = store_column_u64(s, 0);
		}
	} else if (rc != SQLITE_DONE) {
		rv = store_sql_error(st->errmsg, st->w->db, rc, "reading the configuration");
	}
	sqlite3_reset(s);
	return rv;
}
