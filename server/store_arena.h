/*
 * store_arena: a chunked bump allocator for the bytes of store results
 * (query results, CAS-failure entries of an apply batch). Pointers it hands
 * out stay valid until store_arena_reset or store_arena_free, however much
 * more is allocated: blocks are never moved.
 */
#ifndef CAIRN_STORE_ARENA_H
#define CAIRN_STORE_ARENA_H

#include <stddef.h>

#include "command.h"

struct store_arena_block;

struct store_arena {
	struct store_arena_block *head; /* newest block first */
};

/* n bytes (aligned for any type) owned by the arena; NULL when out of
 * memory. n == 0 gives a valid, unique pointer. */
void *store_arena_alloc(struct store_arena *a, size_t n);
/* Copies p[0..n) into the arena and points *out at the copy; an empty
 * string points at a static empty byte, never NULL. 0 or -1 (no memory). */
int store_arena_dup(struct store_arena *a, const void *p, size_t n, struct cmd_bytes *out);
/* Frees every block but may keep one for reuse; earlier pointers die. */
void store_arena_reset(struct store_arena *a);
/* Frees everything; a can be used again as a fresh (zeroed) arena. */
void store_arena_free(struct store_arena *a);

#endif
