/*
 * store_arena: see store_arena.h. Blocks are at least STORE_ARENA_BLOCK
 * bytes; a larger request gets a block of its own size. Invariant: only the
 * head block has free space worth using (earlier blocks are never
 * revisited), so an allocation is one comparison and a bump.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_arena.h"

#define STORE_ARENA_BLOCK (64u * 1024u)
#define ALIGN (alignof(max_align_t))

struct store_arena_block {
	struct store_arena_block *next;
	size_t cap;
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

static const uint8_t empty_byte[1];

void *store_arena_alloc(struct store_arena *a, size_t n)
{
	size_t need = (n + ALIGN - 1) & ~(ALIGN - 1);
	if (need < n)
		return NULL;
	if (need == 0)
		need = ALIGN;
	struct store_arena_block *b = a->head;
	if (b == NULL || b->cap - b->used < need) {
		size_t cap = need > STORE_ARENA_BLOCK ? need : STORE_ARENA_BLOCK;
		if (cap > SIZE_MAX - sizeof(*b))
			return NULL;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += need;
	return p;
}

int store_arena_dup(struct store_arena *a, const void *p, size_t n, struct cmd_bytes *out)
{
	if (n > UINT32_MAX)
		return -1;
	if (n == 0) {
		out->p = empty_byte;
		out->len = 0;
		return 0;
	}
	uint8_t *copy = store_arena_alloc(a, n);
	if (copy == NULL)
		return -1;
	memcpy(copy, p, n);
	out->p = copy;
	out->len = (uint32_t)n;
	return 0;
}

void store_arena_reset(struct store_arena *a)
{
	struct store_arena_block *keep = a->head;
	if (keep == NULL)
		return;
	if (keep->cap != STORE_ARENA_BLOCK) { /* do not hoard one huge value */
		store_arena_free(a);
		return;
	}
	struct store_arena_block *b = keep->next;
	while (b != NULL) {
		struct store_arena_block *next = b->next;
		free(b);
		b = next;
	}
	keep->next = NULL;
	keep->used = 0;
}

void store_arena_free(struct store_arena *a)
{
	struct store_arena_block *b = a->head;
	while (b != NULL) {
		struct store_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}
