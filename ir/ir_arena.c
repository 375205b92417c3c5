/* ir_arena.c - bump allocator in chained blocks (see ir_arena.h). */
#include "ir_arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ir_arena_block {
	ir_arena_block *next;
	size_t used, size;
	max_align_t data[];
};

enum { BLOCK_MIN = 64 * 1024 };

void *ir_arena_alloc(ir_arena *a, size_t size)
{
	size_t align = sizeof(max_align_t);
	size = (size + align - 1) / align * align;
	ir_arena_block *b = a->head;
	if (!b || b->used + size > b->size) {
		size_t cap = size > BLOCK_MIN ? size : BLOCK_MIN;
		b = malloc(sizeof *b + cap);
		if (!b) {
			/* Out of memory while building a graph: nothing sensible to recover. */
			fprintf(stderr, "samc: out of memory\n");
			abort();
		}
		b->next = a->head;
		b->used = 0;
		b->size = cap;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *ir_arena_strdup(ir_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = ir_arena_alloc(a, n);
	memcpy(p, s, n);
	return p;
}

void ir_arena_free(ir_arena *a)
{
	ir_arena_block *b = a->head;
	while (b) {
		ir_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}
