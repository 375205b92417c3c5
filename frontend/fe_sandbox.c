/*
 * fe_sandbox.c - the Lua state a model file runs in: safe libraries only,
 * text chunks only, an instruction budget (count hook) and a memory budget
 * (allocator), and a message handler that turns every error into
 * "<file>:<line>: <message>" with the path as the user typed it.
 */
#include "fe_sandbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

/* Instructions between two hook calls: small enough to stop a loop
 * promptly, large enough to cost nothing. */
#define FE_HOOK_EVERY 1000

static void fe_hook(lua_State *L, lua_Debug *ar);

static void *fe_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	fe_sandbox *sb = ud;
	/* when ptr is NULL, osize encodes the kind of object, not a size */
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		sb->used -= old;
		return NULL;
	}
	if (nsize > old && sb->used - old + nsize > sb->max_memory) {
		sb->mem_exceeded = 1;
		return NULL;
	}
	void *p = realloc(ptr, nsize);
	if (p)
		sb->used = sb->used - old + nsize;
	/* Memory errors reach the caller without a location (Lua runs no
	 * message handler for them), so once a model uses an unusual amount of
	 * memory, watch every instruction to know the line. lua_sethook only
	 * sets fields of the state and flags of its call frames: safe here. */
	if (sb->L && sb->hook_every > 1 && sb->used > sb->max_memory / 8) {
		sb->hook_every = 1;
		lua_sethook(sb->L, fe_hook, LUA_MASKCOUNT | LUA_MASKRET, 1);
	}
	return p;
}

fe_sandbox *fe_sandbox_of(lua_State *L)
{
	return *(fe_sandbox **)lua_getextraspace(L);
}

static void fe_hook(lua_State *L, lua_Debug *ar)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	if (ar->event == LUA_HOOKCOUNT) {
		if (lua_getinfo(L, "l", ar) && ar->currentline > 0)
			sb->last_line = ar->currentline;
		sb->instructions += (uint64_t)sb->hook_every;
		if (sb->instructions > sb->max_instructions) {
			/* from now on fail at every instruction, so a pcall in the
			 * model cannot swallow the error and carry on */
			sb->hook_every = 1;
			lua_sethook(L, fe_hook, LUA_MASKCOUNT | LUA_MASKRET, 1);
			fe_sandbox_error(L, "instruction budget exceeded (endless loop?): "
			                 "more than %llu Lua instructions",
			                 (unsigned long long)sb->max_instructions);
		}
	} else if (ar->event == LUA_HOOKRET) {
		if (lua_getinfo(L, "Sl", ar) && strcmp(ar->what, "main") == 0)
			sb->return_line = ar->currentline;
	}
}

lua_State *fe_sandbox_new(fe_sandbox *sb, const char *path, size_t max_memory,
                          uint64_t max_instructions)
{
	memset(sb, 0, sizeof *sb);
	sb->path = path;
	sb->max_memory = max_memory ? max_memory : FE_DEFAULT_MAX_MEMORY;
	sb->max_instructions = max_instructions ? max_instructions : FE_DEFAULT_MAX_INSTRUCTIONS;
	lua_State *L = lua_newstate(fe_alloc, sb);
	if (!L)
		return NULL;
	*(fe_sandbox **)lua_getextraspace(L) = sb;
	sb->L = L;
	sb->hook_every = FE_HOOK_EVERY;
	lua_sethook(L, fe_hook, LUA_MASKCOUNT | LUA_MASKRET, FE_HOOK_EVERY);
	return L;
}

void fe_sandbox_close(lua_State *L)
{
	if (L) {
		fe_sandbox_of(L)->L = NULL; /* the allocator must not touch it now */
		lua_close(L);
	}
}

/* print goes to stderr: stdout belongs to the commands (emit output). */
static int fe_print(lua_State *L)
{
	int n = lua_gettop(L);
	for (int i = 1; i <= n; i++) {
		size_t len;
		const char *s = luaL_tolstring(L, i, &len);
		if (i > 1)
			fputc('\t', stderr);
		fwrite(s, 1, len, stderr);
		lua_pop(L, 1);
	}
	fputc('\n', stderr);
	return 0;
}

/* setmetatable without finalizers: Lua runs __gc with hooks off, so a
 * finalizer would escape the instruction budget. Lua only marks an object
 * for finalization if __gc is there when the metatable is set. */
static int fe_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return fe_sandbox_error(L, "setmetatable: __gc finalizers are not available "
			                        "in model files");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

void fe_sandbox_open_libs(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{LUA_GNAME, luaopen_base},
		{LUA_STRLIBNAME, luaopen_string},
		{LUA_TABLIBNAME, luaopen_table},
		{LUA_MATHLIBNAME, luaopen_math},
		{NULL, NULL},
	};
	for (const luaL_Reg *l = libs; l->name; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	/* code loading and the collector's controls: not for model files */
	static const char *const removed[] = {
		"dofile", "loadfile", "load", "loadstring", "require", "collectgarbage", NULL,
	};
	for (const char *const *r = removed; *r; r++) {
		lua_pushnil(L);
		lua_setglobal(L, *r);
	}
	/* string.dump makes binary chunks (nothing could load them; drop it
	 * anyway). The pattern functions backtrack inside C, where the
	 * instruction budget cannot stop them: ("a"):rep(1e5):find(".-.-.-b")
	 * would run for ages. */
	static const char *const string_removed[] = {
		"dump", "find", "match", "gmatch", "gsub", NULL,
	};
	lua_getglobal(L, LUA_STRLIBNAME);
	for (const char *const *r = string_removed; *r; r++) {
		lua_pushnil(L);
		lua_setfield(L, -2, *r);
	}
	lua_pop(L, 1);
	lua_pushcfunction(L, fe_print);
	lua_setglobal(L, "print");
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, fe_setmetatable, 1);
	lua_setglobal(L, "setmetatable");
}

int fe_sandbox_caller_line(lua_State *L)
{
	lua_Debug ar;
	for (int level = 1; lua_getstack(L, level, &ar); level++) {
		if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
			return ar.currentline;
	}
	return 0;
}

static void fe_push_located(lua_State *L, int line, const char *msg)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	if (line > 0)
		lua_pushfstring(L, "%s:%d: %s", sb->path, line, msg);
	else
		lua_pushfstring(L, "%s: %s", sb->path, msg);
}

int fe_sandbox_error(lua_State *L, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* from a hook, level 0 is the Lua function that was interrupted */
	lua_Debug ar;
	int line = 0;
	if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
		line = ar.currentline;
	else
		line = fe_sandbox_caller_line(L);
	fe_push_located(L, line, msg);
	return lua_error(L);
}

static int fe_starts_with_loc(const char *msg, const char *file)
{
	size_t n = strlen(file);
	return n > 0 && strncmp(msg, file, n) == 0 && msg[n] == ':';
}

/* Message handler: every error becomes "<path>:<line>: <message>". */
static int fe_msgh(lua_State *L)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
		lua_replace(L, 1);
	}
	if (fe_starts_with_loc(msg, sb->path))
		return 1;
	/* Lua's own messages use its shortened chunk name */
	if (sb->short_src[0] && fe_starts_with_loc(msg, sb->short_src)) {
		lua_pushfstring(L, "%s%s", sb->path, msg + strlen(sb->short_src));
		return 1;
	}
	fe_push_located(L, fe_sandbox_caller_line(L), msg);
	return 1;
}

void fe_sandbox_load(lua_State *L)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	/* Lua names the chunk by a shortened path in its own messages (syntax
	 * errors included); learn that name from an empty chunk so the
	 * handler can put the full path back */
	lua_Debug ar;
	int top = lua_gettop(L);
	lua_pushfstring(L, "@%s", sb->path);
	if (luaL_loadbufferx(L, "", 0, lua_tostring(L, -1), "t") == LUA_OK &&
	    lua_getinfo(L, ">S", &ar))
		snprintf(sb->short_src, sizeof sb->short_src, "%s", ar.short_src);
	lua_settop(L, top);
	/* mode "t": binary chunks are refused */
	if (luaL_loadfilex(L, sb->path, "t") != LUA_OK)
		lua_error(L); /* the handler adds "<path>:" where Lua did not */
}

int fe_sandbox_pcall(lua_State *L, int nargs, int nresults, char *err, size_t errlen)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	int base = lua_gettop(L) - nargs;
	lua_pushcfunction(L, fe_msgh);
	lua_insert(L, base);
	int st = lua_pcall(L, nargs, nresults, base);
	lua_remove(L, base);
	if (st == LUA_OK)
		return st;
	if (st == LUA_ERRMEM || (st == LUA_ERRERR && sb->mem_exceeded)) {
		int line = sb->last_line;
		if (line > 0)
			snprintf(err, errlen, "%s:%d: memory budget exceeded (more than %zu MiB)",
			         sb->path, line, sb->max_memory >> 20);
		else
			snprintf(err, errlen, "%s: memory budget exceeded (more than %zu MiB)",
			         sb->path, sb->max_memory >> 20);
	} else {
		const char *m = lua_tostring(L, -1);
		snprintf(err, errlen, "%s", m ? m : "unknown error");
	}
	lua_pop(L, 1);
	return st;
}
