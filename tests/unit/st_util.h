/*
 * st_util: shared helpers for the storage unit tests: deterministic entry
 * contents, opening a storage on the in-memory file system, and comparing
 * what a storage holds with what was staged.
 */
#ifndef CAIRN_ST_UTIL_H
#define CAIRN_ST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "storage.h"

#define ST_DIR "/data"

/* Entry index/term with len bytes derived from (index, term, salt) into
 * buf (at least len bytes; borrowed by the entry). */
struct rc_entry st_entry(rc_index index, rc_term term, uint32_t len, uint32_t salt, uint8_t *buf);
/* Stages entries [from, to] of term (len = index % 300, salt) and syncs. */
void st_append(struct storage *st, rc_index from, rc_index to, rc_term term, uint32_t salt);
/* Asserts the storage holds [from, to] with that term/salt. */
void st_expect(struct storage *st, rc_index from, rc_index to, rc_term term, uint32_t salt);

/* Options for tests: small segments, reports captured (st_log_text). */
void st_options(struct storage_options *o, const struct sysio *io, uint64_t segment_bytes);
/* Everything reported through the log callback since st_options. */
const char *st_log_text(void);

/* memfs_reset() then storage_open(ST_DIR) on memfs; asserts success. */
struct storage *st_open_mem(uint64_t segment_bytes);
/* storage_open(ST_DIR) again on memfs (the file system kept). Returns the
 * code; *out set on success; errmsg may be NULL. */
int st_reopen(uint64_t segment_bytes, struct storage **out, char *errmsg);

#endif
