/*
 * Blocking queries waiting for a change (API.md "Blocking queries"): the
 * set of parked requests, found by what they watch and by when they expire.
 *
 * A watcher watches one key, or every key under a prefix (a recursive
 * query). After each applied batch the node asks which watchers a changed
 * key, or a recursively deleted prefix, may concern; only those re-run
 * their query. Lookups cost one hash probe per distinct watched-prefix
 * length up to the key's length, not one per watcher, so thousands of
 * parked long-polls cost nothing while unrelated keys change.
 *
 * The set does not own the requests; it links them through the fields
 * reserved for it in struct request (node_internal.h). Loop thread only.
 */
#ifndef CAIRN_SERVER_WATCH_H
#define CAIRN_SERVER_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct request;
struct req_list;
struct watch_set;

/* NULL on allocation failure. */
struct watch_set *watch_new(void);
/* The requests still parked are not touched (the caller answers them). */
void watch_free(struct watch_set *w);
size_t watch_count(const struct watch_set *w);

/* Parks rq until its deadline (rq->deadline). */
void watch_add(struct watch_set *w, struct request *rq);
void watch_remove(struct watch_set *w, struct request *rq);

/* Appends to out (once each, even if called repeatedly before
 * watch_clear_marks) the watchers a change of this key may concern. */
void watch_match_key(struct watch_set *w, const uint8_t *key, size_t len, struct req_list *out);
/* The same for a recursive delete of every key under prefix. */
void watch_match_prefix(struct watch_set *w, const uint8_t *prefix, size_t len,
			struct req_list *out);
/* Every watcher (a change the node cannot attribute to keys). */
void watch_match_all(struct watch_set *w, struct req_list *out);
/* Forgets the "already matched" marks set by the match functions. */
void watch_clear_marks(struct req_list *matched);

/* Removes and appends to out every watcher whose deadline is <= now. */
void watch_expire(struct watch_set *w, uint64_t now, struct req_list *out);

#endif
