/*
 * fe_recipe_names.c - the names of metrics: each is a key of the metrics
 * file's records and a label of the progress lines, so it must be short,
 * printable UTF-8, and not one of the keys the records use themselves
 * (rt_progress.h).
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_recipe.h"
#include "fe_sandbox.h"
#include "rt_progress.h"

/* 1 if s is valid UTF-8 without control characters (a JSON key and a
 * terminal label). */
static int fe_clean_utf8(const unsigned char *s)
{
	while (*s) {
		int n = *s < 0x80 ? 0 : (*s & 0xE0) == 0xC0 ? 1 : (*s & 0xF0) == 0xE0 ? 2
		        : (*s & 0xF8) == 0xF0 ? 3 : -1;
		if (n < 0 || (n == 0 && (*s < 0x20 || *s == 0x7f)) || (n == 1 && *s < 0xC2))
			return 0;
		for (int i = 1; i <= n; i++)
			if ((s[i] & 0xC0) != 0x80)
				return 0;
		s += n + 1;
	}
	return 1;
}

void fe_recipe_check_metric_name(lua_State *L, const ir_named *nm)
{
	char why[256];
	if (!nm->name[0])
		snprintf(why, sizeof why, "is empty");
	else if (strlen(nm->name) > RT_PROGRESS_MAX_NAME)
		snprintf(why, sizeof why, "is longer than %d bytes", RT_PROGRESS_MAX_NAME);
	else if (!fe_clean_utf8((const unsigned char *)nm->name))
		snprintf(why, sizeof why, "is not printable UTF-8 text");
	else if (rt_progress_name_reserved(nm->name)) {
		char names[160];
		rt_progress_reserved_names(names, sizeof names);
		snprintf(why, sizeof why, "is reserved: the loss and the metrics file's own keys "
		         "(%s) cannot name a metric", names);
	} else
		return;
	fe_sandbox *sb = fe_sandbox_of(L);
	lua_pushfstring(L, "%s:%d: recipe: metrics: the name '%s' %s", sb->path,
	                nm->node->loc.line > 0 ? nm->node->loc.line : sb->return_line, nm->name, why);
	lua_error(L);
}
