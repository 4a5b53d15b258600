/*
 * Allocation that aborts on failure; see util.h for why.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

static void *check(void *p, size_t n)
{
	if (!p && n) {
		fprintf(stderr, "raftcore: out of memory allocating %zu bytes\n", n);
		abort();
	}
	return p;
}

void *rc_xmalloc(size_t n)
{
	return check(malloc(n ? n : 1), n);
}

void *rc_xcalloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *rc_xrealloc(void *p, size_t n)
{
	return check(realloc(p, n ? n : 1), n);
}
