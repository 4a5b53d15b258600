/*
 * Allocation helpers for the Replica. raftcore's out-of-memory policy is to
 * abort (see raftcore.h): a Replica half-way through a step cannot be
 * trusted, and every allocation is bounded by its options.
 */
#ifndef CAIRN_RAFTCORE_UTIL_H
#define CAIRN_RAFTCORE_UTIL_H

#include <stddef.h>

void *rc_xmalloc(size_t n);
void *rc_xcalloc(size_t n, size_t size);
void *rc_xrealloc(void *p, size_t n);

#endif
