/*
 * The node: opens the data directory, boots the Replica from it, wires the
 * peer transport and the HTTP front to the event loop, and runs one loop
 * turn after another:
 *
 *   events (peer frames, client requests, the syncer, the tick timer)
 *     -> the Replica
 *   turn end: take the update
 *     -> send messages, stage the persist (the syncer fsyncs it),
 *        apply committed entries, route ready reads, snapshots,
 *        publish the status for the HTTP threads.
 *
 * Data directory layout: identity (identity.c), raft/ (storage: log, hard
 * state, snapshots), store.db (the SQLite state machine).
 */
#include "node.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/stat.h>

#include "http.h"
#include "log.h"
#include "loop.h"
#include "node_internal.h"
#include "storage.h"
#include "store.h"
#include "transport.h"
#include "watch.h"

#define TICK_MS 10

void node_fatal(struct node *n, const char *what, const char *why)
{
	(void)n;
	log_error("fatal: %s: %s; stopping (a restart recovers from the data directory)", what,
		  why && *why ? why : "unknown error");
	_exit(1);
}

void node_send_raft(struct node *n, const struct rc_message *m)
{
	struct rc_message copy = *m;
	uint8_t *chunk = NULL;
	if (copy.type == RC_MSG_SNAPSHOT) {
		node_fill_snapshot(n, &copy, &chunk);
		if (copy.u.snapshot.len == 0 && copy.u.snapshot.size != 0) {
			free(chunk);
			return;
		}
	}
	size_t len = rc_msg_encoded_size(&copy);
	uint8_t small[4096];
	uint8_t *buf = len <= sizeof(small) ? small : malloc(len);
	if (!buf)
		abort();
	if (rc_msg_encode(&copy, buf, len) < 0)
		node_fatal(n, "encoding a message", rc_msg_type_name(copy.type));
	/* A newer heartbeat replaces a queued one to the same peer. */
	uint64_t key = copy.type == RC_MSG_APPEND && copy.u.append.n_entries == 0 ? 1 : 0;
	transport_send(n->tp, copy.to, FRAME_RAFT, buf, len, key);
	if (buf != small)
		free(buf);
	free(chunk);
}

static const char *api_role(enum rc_role role)
{
	switch (role) {
	case RC_LEADER:
		return "leader";
	case RC_CANDIDATE:
	case RC_PRECANDIDATE:
		return "candidate";
	default:
		return "follower";
	}
}

static const char *peer_api_addr(struct node *n, rc_id id)
{
	if (id == n->id.node_id)
		return n->cfg.api;
	for (size_t i = 0; i < RC_MAX_MEMBERS; i++)
		if (n->peer_api[i].id == id)
			return n->peer_api[i].api;
	return "";
}

void node_publish(struct node *n)
{
	struct api_node_status s;
	memset(&s, 0, sizeof(s));
	s.id = n->id.node_id;
	s.role = api_role(n->role);
	s.term = rc_term_of(n->r);
	s.leader = n->leader;
	s.commit_index = rc_commit_index(n->r);
	s.applied_index = n->applied;
	s.last_log_index = rc_last_index(n->r);
	s.snapshot_index = rc_snapshot_index(n->r);
	const struct rc_membership *m = rc_membership(n->r);
	struct rc_progress_info prog[RC_MAX_MEMBERS];
	size_t np = rc_progress(n->r, prog, RC_MAX_MEMBERS);
	for (uint32_t i = 0; i < m->n && i < API_MAX_MEMBERS; i++) {
		struct api_member_status *ms = &s.members[s.n_members++];
		ms->id = m->members[i].id;
		ms->voter = m->members[i].voter;
		snprintf(ms->peer, sizeof(ms->peer), "%s", m->members[i].addr);
		snprintf(ms->api, sizeof(ms->api), "%s", peer_api_addr(n, ms->id));
		for (size_t k = 0; k < np; k++)
			if (prog[k].id == ms->id) {
				ms->has_progress = true;
				ms->match_index = prog[k].match_index;
				ms->last_contact_ms = prog[k].last_contact_ms;
			}
		if (n->role == RC_LEADER && ms->id == n->id.node_id) {
			ms->has_progress = true;
			ms->match_index = rc_last_index(n->r);
		}
	}
	uint64_t now = loop_now_ms(n->loop);
	pthread_mutex_lock(&n->pub_mu);
	n->published = s;
	n->pub_last_contact = n->role == RC_LEADER ? 0 : now - n->last_leader_contact;
	if (n->leader)
		n->pub_leader_commit = s.commit_index;
	pthread_mutex_unlock(&n->pub_mu);
}

static void sync_peers(struct node *n)
{
	const struct rc_membership *m = rc_membership(n->r);
	for (uint32_t i = 0; i < m->n; i++) {
		if (m->members[i].id == n->id.node_id)
			continue;
		int rv = transport_set_peer(n->tp, m->members[i].id, m->members[i].addr);
		if (rv != 0)
			log_warn("peer %llu at '%s': %s", (unsigned long long)m->members[i].id,
				 m->members[i].addr, strerror(-rv));
	}
	/* Forget peers that left. */
	for (size_t i = 0; i < RC_MAX_MEMBERS; i++) {
		rc_id id = n->peer_api[i].id;
		if (id && !rc_membership_find(m, id)) {
			transport_remove_peer(n->tp, id);
			n->peer_api[i].id = 0;
		}
	}
}

static void on_role_change(struct node *n, const struct rc_update *u)
{
	enum rc_role old_role = n->role;
	rc_id old_leader = n->leader;
	n->role = u->role;
	n->leader = u->leader;
	if (n->leader != old_leader) {
		if (n->leader)
			log_info("leader is now node %llu (term %llu)",
				 (unsigned long long)n->leader,
				 (unsigned long long)rc_term_of(n->r));
		else
			log_info("no leader known (term %llu)",
				 (unsigned long long)rc_term_of(n->r));
		/* Writes in flight through the old leader: their fate is
		 * unknown here, never reported as failed or ok. */
		node_fail_writes(n, API_UNKNOWN_OUTCOME,
				 "the leader changed while the write was in flight; it may or may "
				 "not have taken effect");
	}
	if (n->role != old_role)
		log_info("role %s -> %s in term %llu", rc_role_name(old_role),
			 rc_role_name(n->role), (unsigned long long)rc_term_of(n->r));
}

void node_turn(void *arg)
{
	struct node *n = arg;
	/* The Replica may produce more effects while we carry these out (a
	 * self-vote released at once): loop until it is quiet. */
	for (int round = 0; round < 8; round++) {
		struct rc_update u;
		rc_take_update(n->r, &u);
		for (size_t i = 0; i < u.n_msgs; i++)
			node_send_raft(n, &u.msgs[i]);
		node_persist_update(n, &u);
#ifdef CAIRN_MUTANT_APPLY_BEFORE_MAJORITY
		/* Planted bug (tests/jepsen, make jepsen-mutants): the leader
		 * applies its new entries before a majority holds them. */
		if (n->role == RC_LEADER && u.n_entries && u.entries[0].index == n->applied + 1)
			node_apply(n, u.entries, u.n_entries);
#endif
		if (u.compact_to && storage_compact(n->st, u.compact_to) != 0)
			node_fatal(n, "compacting the log", storage_errmsg(n->st));
		if (u.role_changed)
			on_role_change(n, &u);
		if (u.n_committed)
			node_apply(n, u.committed, u.n_committed);
		if (u.n_reads)
			node_reads_ready(n, u.reads, u.n_reads);
		if (u.has_snapshot_chunk)
			node_snapshot_chunk(n, &u.snapshot_chunk);
		if (u.membership_changed)
			sync_peers(n);
		bool quiet = !u.n_msgs && !u.n_msgs_after_persist && !u.n_entries &&
			     !u.hard_state_changed && !u.n_committed && !u.n_reads;
		node_maybe_install(n);
		if (quiet)
			break;
	}
	node_snapshot_poll(n, false);
	node_maybe_snapshot(n);
	if (n->role == RC_FOLLOWER && n->leader)
		n->last_leader_contact = loop_now_ms(n->loop);
	node_publish(n);
}

static void on_tick(void *arg)
{
	struct node *n = arg;
	uint64_t now = loop_now_ms(n->loop);
	rc_tick(n->r, now);
	node_expire(n, now);
	node_retry_sync(n, now);
	n->next_tick = now + TICK_MS;
	loop_set_timer(n->loop, n->next_tick);
}

static void on_frame(void *arg, uint64_t from, uint8_t kind, const uint8_t *p, size_t len)
{
	struct node *n = arg;
	switch (kind) {
	case FRAME_RAFT: {
		struct rc_message m;
		if (rc_msg_decode(p, len, &m) != 0) {
			log_warn("dropped an undecodable raft frame from node %llu",
				 (unsigned long long)from);
			return;
		}
		if (m.from != from)
			log_warn("dropped a raft frame from node %llu claiming to be %llu",
				 (unsigned long long)from, (unsigned long long)m.from);
		else if (m.to == n->id.node_id)
			rc_step(n->r, &m);
		rc_msg_release(&m);
		return;
	}
	case FRAME_FORWARD:
		node_on_forward(n, from, p, len);
		return;
	case FRAME_FORWARD_ACK:
		node_on_forward_ack(n, from, p, len);
		return;
	case FRAME_INFO: {
		if (len < 2 || len - 2 != (size_t)(p[0] | p[1] << 8) || len - 2 >= CONFIG_ADDR_MAX)
			return;
		for (size_t i = 0; i < RC_MAX_MEMBERS; i++) {
			if (n->peer_api[i].id == from || n->peer_api[i].id == 0) {
				n->peer_api[i].id = from;
				memcpy(n->peer_api[i].api, p + 2, len - 2);
				n->peer_api[i].api[len - 2] = 0;
				return;
			}
		}
		return;
	}
	}
}

static bool accept_peer(void *arg, uint64_t from)
{
	struct node *n = arg;
	return rc_membership_find(rc_membership(n->r), from) != NULL;
}

static void on_peer_state(void *arg, uint64_t peer, bool connected)
{
	struct node *n = arg;
	log_info("peer %llu %s", (unsigned long long)peer,
		 connected ? "connected" : "disconnected");
	if (!connected) {
		rc_peer_unreachable(n->r, peer);
		return;
	}
	uint8_t buf[2 + CONFIG_ADDR_MAX];
	size_t len = strlen(n->cfg.api);
	buf[0] = (uint8_t)len;
	buf[1] = (uint8_t)(len >> 8);
	memcpy(buf + 2, n->cfg.api, len);
	transport_send(n->tp, peer, FRAME_INFO, buf, 2 + len, 0);
}

static void transport_log(void *arg, int level, const char *msg)
{
	(void)arg;
	log_msg((enum log_level)level, "%s", msg);
}

static void storage_log(void *arg, enum storage_log_level level, const char *msg)
{
	(void)arg;
	log_msg(level == STORAGE_LOG_WARN ? LOG_WARN : LOG_INFO, "storage: %s", msg);
}

static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Reads what the Replica needs back from storage and the store. */
static int boot_replica(struct node *n, char *err)
{
	const struct storage_snapshot_meta *sm = storage_snapshot(n->st);
	struct rc_boot b;
	memset(&b, 0, sizeof(b));
	b.hard_state = storage_hard_state(n->st);
	b.snapshot.index = sm->index;
	b.snapshot.term = sm->term;
	b.snapshot.size = sm->size;
	if (sm->index == 0)
		b.snapshot.membership = n->id.bootstrap;
	else if (rc_membership_decode(sm->conf, sm->conf_len, &b.snapshot.membership) != 0) {
		snprintf(err, 256, "the newest snapshot's membership is unreadable");
		return -1;
	}
	if (sm->index > store_applied_index(n->store)) {
		char path[1024];
		if (storage_snap_path(n->st, path, sizeof(path)) != 0 ||
		    store_restore(n->store, path) != 0) {
			snprintf(err, 256, "restoring snapshot %llu: %s",
				 (unsigned long long)sm->index, store_errmsg(n->store));
			return -1;
		}
		log_info("restored the store from snapshot %llu", (unsigned long long)sm->index);
	}
	rc_index last = storage_last_index(n->st);
	struct rc_entry *entries = NULL;
	size_t count = 0;
	if (last > sm->index &&
	    storage_entries(n->st, sm->index + 1, last, &entries, &count) != 0) {
		snprintf(err, 256, "reading the log: %s", storage_errmsg(n->st));
		return -1;
	}
	b.entries = entries;
	b.n_entries = count;
	uint64_t applied = store_applied_index(n->store);
	b.applied = applied > last ? last : applied;
	n->applied = applied;
	n->last_snapshot_index = sm->index;

	struct rc_options o;
	rc_options_default(&o, n->id.node_id, (uint64_t)getpid() ^ loop_clock_ms());
	o.election_timeout_ms = (uint32_t)n->cfg.election_timeout_ms;
	o.heartbeat_ms = (uint32_t)n->cfg.heartbeat_ms;
	n->r = rc_replica_new(&o, &b, err);
	free(entries);
	if (!n->r)
		return -1;
	log_info("booted: term %llu, log %llu..%llu, snapshot %llu, applied %llu, %u members",
		 (unsigned long long)b.hard_state.term, (unsigned long long)sm->index + 1,
		 (unsigned long long)last, (unsigned long long)sm->index,
		 (unsigned long long)applied, b.snapshot.membership.n);
	return 0;
}

/* Refuses an address that cannot be bound (in use, not local) before the
 * data directory is touched, so a refused first start leaves nothing
 * behind. The real listeners bind later; this is only an early check. */
static int check_bindable(const char *what, const char *addr, char *err)
{
	char host[CONFIG_ADDR_MAX];
	const char *colon = strrchr(addr, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = 0;
		h++;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rv = getaddrinfo(h, colon + 1, &hints, &res);
	if (rv != 0) {
		snprintf(err, 256, "%s %s: %s", what, addr, gai_strerror(rv));
		return -1;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
		snprintf(err, 256, "%s %s: %s", what, addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	close(fd);
	freeaddrinfo(res);
	return 0;
}

static int make_dir(const char *path, char *err)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		snprintf(err, 256, "creating %.200s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_state(struct node *n, char *err)
{
	char path[1024];
	if (check_bindable("api", n->cfg.api, err) != 0 ||
	    check_bindable("peer", n->cfg.peer, err) != 0)
		return -1;
	if (make_dir(n->cfg.data, err) != 0)
		return -1;
	if (identity_load_or_create(n->cfg.data, &n->cfg, &n->id, err) != 0)
		return -1;
	if (n->id.node_id != n->cfg.id)
		log_warn("the data directory belongs to node %llu; --id %llu ignored",
			 (unsigned long long)n->id.node_id, (unsigned long long)n->cfg.id);
	log_init(n->id.node_id, (enum log_level)log_level_parse(n->cfg.log_level));
	struct storage_options so;
	storage_options_default(&so);
	so.segment_bytes = n->cfg.segment_bytes;
	so.log = storage_log;
	snprintf(path, sizeof(path), "%s/raft", n->cfg.data);
	if (storage_open(path, &so, &n->st, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/store.db", n->cfg.data);
	if (store_open(path, NULL, &n->store, err) != 0)
		return -1;
	return boot_replica(n, err);
}

static int open_network(struct node *n, struct api_backend *be, char *err)
{
	struct transport_options to = {
	    .self_id = n->id.node_id,
	    .cluster_id = n->id.cluster_id,
	    .listen_addr = n->cfg.peer,
	    .max_kind = FRAME_KIND_MAX,
	    .log = transport_log,
	};
	struct transport_handlers th = {
	    .on_frame = on_frame,
	    .accept_peer = accept_peer,
	    .on_peer_state = on_peer_state,
	    .arg = n,
	};
	if (transport_new(n->loop, &to, &th, &n->tp, err) != 0)
		return -1;
	sync_peers(n);
	node_backend_init(n, be);
	struct api_http_options ho;
	api_http_options_default(&ho);
	char host[CONFIG_ADDR_MAX];
	const char *colon = strrchr(n->cfg.api, ':');
	unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 0;
	if (!colon || port > 65535 || colon == n->cfg.api) {
		snprintf(err, 256, "api: expected host:port, got '%s'", n->cfg.api);
		return -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - n->cfg.api), n->cfg.api);
	ho.host = host;
	ho.port = (uint16_t)port;
	ho.max_value = n->cfg.max_value;
	ho.connection_limit = (unsigned)n->cfg.max_connections;
	if (api_http_start(&ho, be, &n->http, err) != 0)
		return -1;
	return 0;
}

static struct loop *stop_loop;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_loop)
		loop_stop(stop_loop);
}

int node_main(const struct config *cfg)
{
	static struct node node;
	static struct api_backend be;
	struct node *n = &node;
	char err[256] = "";
	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	n->next_req_id = node_boot_nonce();
	pthread_mutex_init(&n->inbox_mu, NULL);
	pthread_mutex_init(&n->pub_mu, NULL);
	raise_fd_limit();
	log_init(cfg->id, (enum log_level)log_level_parse(cfg->log_level));
	n->loop = loop_new(err);
	n->watches = watch_new();
	if (!n->watches)
		snprintf(err, sizeof(err), "out of memory");
	if (!n->loop || !n->watches || open_state(n, err) != 0) {
		log_error("cannot start: %s", err);
		return 1;
	}
	n->role = rc_role(n->r);
	node_publish(n);
	if (node_syncer_start(n) != 0) {
		log_error("cannot start the log syncer thread");
		return 1;
	}
	loop_on_wake(n->loop, node_on_wake, n);
	loop_on_timer(n->loop, on_tick, n);
	loop_on_turn_end(n->loop, node_turn, n);
	if (open_network(n, &be, err) != 0) {
		log_error("cannot start: %s", err);
		return 1;
	}
	stop_loop = n->loop;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log_info("cairnd up: api http://%s/ peer %s data %s", cfg->api, cfg->peer, cfg->data);
	on_tick(n);
	int rv = loop_run(n->loop);
	log_info("stopping");
	node_fail_all(n);
	api_http_stop(n->http);
	node_snapshot_poll(n, true);
	node_syncer_stop(n);
	transport_free(n->tp);
	rc_replica_free(n->r);
	store_close(n->store);
	storage_close(n->st);
	loop_free(n->loop);
	watch_free(n->watches);
	return rv == 0 ? 0 : 1;
}
