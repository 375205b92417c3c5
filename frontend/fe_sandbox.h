/*
 * fe_sandbox.h - a Lua 5.4 state that is safe to hand an untrusted model
 * file: only the base, string, table and math libraries (minus everything
 * that loads code or touches the outside world), text chunks only, and
 * budgets on instructions and memory so that an endless loop or a memory
 * bomb ends in an error instead of a hang.
 *
 * Every error leaving fe_sandbox_pcall reads "<file>:<line>: <message>",
 * where <file> is the model path exactly as the user gave it.
 */
#ifndef SAMC_FE_SANDBOX_H
#define SAMC_FE_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

/* Model files build graphs: they need little of either. The defaults
 * stop a runaway file within a second or two. */
#define FE_DEFAULT_MAX_INSTRUCTIONS 100000000ull
#define FE_DEFAULT_MAX_MEMORY ((size_t)64 << 20)
/* Graph nodes a model file may build: neither budget above bounds them (a
 * node costs Lua a few instructions and no Lua memory), and the passes
 * after the front end grow with the graph. Real networks build thousands
 * (ResNet-20: about 300); a loop that builds a million is a mistake or an
 * attack, refused at once with a message. */
#define FE_DEFAULT_MAX_OPS 200000

typedef struct {
	/* configuration */
	const char *path;          /* model path as given (chunk name "@path") */
	size_t max_memory;         /* bytes */
	uint64_t max_instructions;
	void *user;                /* the DSL context (fe_dsl.h) */

	/* bookkeeping */
	lua_State *L;
	int hook_every;            /* instructions between count hooks */
	size_t used;               /* bytes currently allocated by Lua */
	int mem_exceeded;          /* an allocation was refused */
	uint64_t instructions;     /* executed so far (hook granularity) */
	int last_line;             /* last model line the hook saw */
	int return_line;           /* line where the main chunk returned */
	char short_src[LUA_IDSIZE];/* Lua's (possibly shortened) name of path */
} fe_sandbox;

/* Creates the state (libraries are opened later, under protection, by
 * fe_sandbox_open_libs). Returns NULL if the state cannot be created. */
lua_State *fe_sandbox_new(fe_sandbox *sb, const char *path, size_t max_memory,
                          uint64_t max_instructions);
void fe_sandbox_close(lua_State *L);

/* The sandbox of a state made by fe_sandbox_new. */
fe_sandbox *fe_sandbox_of(lua_State *L);

/* Opens the safe libraries and removes the unsafe functions. Raises Lua
 * errors (call it in protected mode). */
void fe_sandbox_open_libs(lua_State *L);

/* Loads sb->path as a text chunk and pushes it; raises on failure (syntax
 * error, binary chunk, unreadable file). */
void fe_sandbox_load(lua_State *L);

/* Calls the function below the `nargs` arguments on the top of the stack in
 * protected mode with samc's message handler. Returns LUA_OK, or another
 * status with "<file>:<line>: <message>" in err. */
int fe_sandbox_pcall(lua_State *L, int nargs, int nresults, char *err, size_t errlen);

/* Raises a Lua error "<file>:<line>: <message>" located at the model line
 * that called the running C function. */
int fe_sandbox_error(lua_State *L, const char *fmt, ...);

/* The model line that called the running C function (0 if unknown). */
int fe_sandbox_caller_line(lua_State *L);

#endif
