/*
 * ir_arena.h - bump allocation for one compilation: everything a graph
 * owns (nodes, names, attribute arrays) is freed at once with the arena.
 */
#ifndef SAMC_IR_ARENA_H
#define SAMC_IR_ARENA_H

#include <stddef.h>

typedef struct ir_arena_block ir_arena_block;

typedef struct {
	ir_arena_block *head;
} ir_arena;

/* Zeroed memory, aligned for any type. Aborts only if malloc fails. */
void *ir_arena_alloc(ir_arena *a, size_t size);
char *ir_arena_strdup(ir_arena *a, const char *s);
void ir_arena_free(ir_arena *a);

#endif
