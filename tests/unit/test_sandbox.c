/*
 * test_sandbox.c - what a model file cannot do: reach the outside world
 * (os, io, package, debug, require, dofile, load...), load binary chunks,
 * run forever or eat the machine's memory. Also: error messages keep the
 * model path exactly as given, even when Lua would shorten it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fe_model.h"
#include "fe_sandbox.h"

/* A minimal valid model after `body`. */
static const char *const TAIL =
	"\nlocal B = batch_size(4)\n"
	"local x = input(\"x\", {B, 3})\n"
	"return {loss = mean(x * x), optimizer = {name = \"sgd\", lr = 0.1}}\n";

static const char *write_file(const char *name, const char *body, const char *tail)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/test_sandbox_%s.lua", SAMC_BINARY_DIR, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(body, f);
	if (tail)
		fputs(tail, f);
	fclose(f);
	return path;
}

static int run(const char *path, const fe_options *o, char *err, size_t n)
{
	ir_model *m = NULL;
	int rc = fe_load_model(path, o, &m, err, n);
	fe_model_free(m);
	return rc;
}

static void expect_error(const char *path, const fe_options *o, const char *want)
{
	char err[1024] = "";
	if (run(path, o, err, sizeof err) == 0)
		fail_msg("%s ran; expected \"%s\"", path, want);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	/* every message starts with the path as given */
	if (strncmp(err, path, strlen(path)) != 0 || err[strlen(path)] != ':')
		fail_msg("error \"%s\" does not start with \"%s:\"", err, path);
}

static void t_unsafe_globals_absent(void **st)
{
	(void)st;
	const char *body =
		"for _, name in ipairs({'os', 'io', 'package', 'debug', 'require', 'dofile',\n"
		"    'loadfile', 'load', 'loadstring', 'collectgarbage', 'utf8', 'coroutine'}) do\n"
		"  assert(_G[name] == nil, name .. ' is reachable')\n"
		"end\n"
		"for _, name in ipairs({'dump', 'find', 'match', 'gmatch', 'gsub'}) do\n"
		"  assert(string[name] == nil, 'string.' .. name .. ' is reachable')\n"
		"end\n"
		"assert(type(string.format) == 'function' and type(math.sqrt) == 'function')\n"
		"assert(type(table.insert) == 'function' and type(pairs) == 'function')\n"
		"assert(('x'):rep(3) == 'xxx')\n";
	char err[1024];
	if (run(write_file("globals", body, TAIL), NULL, err, sizeof err))
		fail_msg("%s", err);
}

static void t_unsafe_calls_fail(void **st)
{
	(void)st;
	expect_error(write_file("os", "os.execute('true')", TAIL), NULL,
	             ":1: attempt to index a nil value (global 'os')");
	expect_error(write_file("io", "local f = io.open('x')", TAIL), NULL,
	             ":1: attempt to index a nil value (global 'io')");
	expect_error(write_file("req", "require('x')", TAIL), NULL,
	             ":1: attempt to call a nil value (global 'require')");
	expect_error(write_file("load", "load('return 1')", TAIL), NULL,
	             ":1: attempt to call a nil value (global 'load')");
}

static void t_binary_chunk_refused(void **st)
{
	(void)st;
	/* the header of a Lua 5.4 binary chunk */
	const char *body = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08";
	expect_error(write_file("binary", body, NULL), NULL, "attempt to load a binary chunk");
}

static void t_instruction_budget(void **st)
{
	(void)st;
	const char *path = write_file("loop", "local n = 0\nfor i = 1, 3000000 do n = n + i end\n", TAIL);
	char err[1024];
	/* fits the default budget */
	if (run(path, NULL, err, sizeof err))
		fail_msg("%s", err);
	fe_options o;
	fe_options_init(&o);
	o.max_instructions = 1000000;
	expect_error(path, &o, ":2: instruction budget exceeded (endless loop?)");

	/* an endless loop stops within seconds with the default budget */
	clock_t t0 = clock();
	expect_error(write_file("endless", "while true do end", TAIL), NULL,
	             ":1: instruction budget exceeded");
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_true(secs < 5.0);
	/* pcall in the model cannot swallow it */
	expect_error(write_file("pcall", "while true do pcall(function() while true do end end) end",
	                        TAIL), NULL, "instruction budget exceeded");
}

/* Lua runs __gc finalizers with hooks off, beyond the instruction budget:
 * model files cannot install them. */
static void t_no_finalizers(void **st)
{
	(void)st;
	expect_error(write_file("gc_loop",
		"setmetatable({}, {__gc = function() while true do end end})\n", TAIL), NULL,
		":1: setmetatable: __gc finalizers are not available in model files");
	/* setmetatable itself still works */
	char err[1024];
	const char *path = write_file("mt",
		"local t = setmetatable({}, {__index = function(_, k) return k .. '!' end})\n"
		"assert(t.a == 'a!')\n"
		"local mt = {}\nlocal u = setmetatable({}, mt)\nmt.__gc = function() end\n"
		"assert(getmetatable(u) == mt)\n", TAIL);
	if (run(path, NULL, err, sizeof err))
		fail_msg("%s", err);
}

static void t_memory_budget(void **st)
{
	(void)st;
	char path[1024];
	snprintf(path, sizeof path, "%s", write_file("mem", "local s = string.rep('x', 8 << 20)\n", TAIL));
	char err[1024];
	if (run(path, NULL, err, sizeof err))
		fail_msg("%s", err);
	fe_options o;
	fe_options_init(&o);
	o.max_memory = 4 << 20;
	expect_error(path, &o, "memory budget exceeded (more than 4 MiB)");
	expect_error(write_file("bomb", "local t = {}\nwhile true do\n  t[#t + 1] = {1, 2, 3}\nend\n",
	                        TAIL), &o, ":3: memory budget exceeded");
	/* a failed load leaves nothing behind: the next one works */
	if (run(path, NULL, err, sizeof err))
		fail_msg("%s", err);
}

static void t_long_path_kept(void **st)
{
	(void)st;
	/* Lua shortens chunk names longer than LUA_IDSIZE to "...tail"; samc's
	 * messages must still carry the whole path */
	char dir[1024], path[1100];
	snprintf(dir, sizeof dir, "%s/test_sandbox_a_directory_with_a_rather_long_name_"
	         "to_exceed_lua_idsize", SAMC_BINARY_DIR);
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/model.lua", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("local a = nil\nlocal b = a.field\n", f);
	fclose(f);
	assert_true(strlen(path) > LUA_IDSIZE);
	char want[1200];
	snprintf(want, sizeof want, "%s:2: attempt to index a nil value (local 'a')", path);
	expect_error(path, NULL, want);
	/* syntax errors too */
	f = fopen(path, "w");
	fputs("local = 3\n", f);
	fclose(f);
	snprintf(want, sizeof want, "%s:1: ", path);
	expect_error(path, NULL, want);
}

static void t_missing_file(void **st)
{
	(void)st;
	char err[1024];
	assert_int_not_equal(run("no/such/model.lua", NULL, err, sizeof err), 0);
	assert_non_null(strstr(err, "no/such/model.lua: cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_unsafe_globals_absent),
		cmocka_unit_test(t_unsafe_calls_fail),
		cmocka_unit_test(t_binary_chunk_refused),
		cmocka_unit_test(t_instruction_budget),
		cmocka_unit_test(t_no_finalizers),
		cmocka_unit_test(t_memory_budget),
		cmocka_unit_test(t_long_path_kept),
		cmocka_unit_test(t_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
