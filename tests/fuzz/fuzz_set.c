/*
 * fuzz_set.c - `--set key=value` values through the recipe schema's
 * setter: the input's lines are the --set arguments of a built trainer,
 * applied in order (rt_args_recipe_sets) to an SGD recipe with SAM and two
 * groups and to an AdamW one; each also parsed on its own.
 */
#include "fuzz_util.h"

#include "rt_args.h"
#include "rt_recipe_schema.h"

#define FUZZ_MAX_SETS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	const char *sets[FUZZ_MAX_SETS];
	int n = 0;
	for (char *p = text; n < FUZZ_MAX_SETS;) {
		sets[n++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	for (int i = 0; i < n; i++) {
		rt_recipe_set_arg s;
		char msg[400] = "";
		if (rt_recipe_set_parse(sets[i], &s, msg, sizeof msg))
			FUZZ_CHECK(msg[0] != '\0');
		else
			FUZZ_CHECK(s.key != NULL && s.nnum >= 0 && s.nnum <= RT_DATA_MAX_CHANNELS);
	}
	for (int kind = 0; kind < 2; kind++) {
		sam_group groups[2] = {{"fc1.", 0.1, 1}, {"fc2.", 0.05, 0}};
		rt_recipe r;
		rt_recipe_defaults(&r);
		if (kind == 0) {
			r.opt.kind = OPT_SGD;
			r.opt.momentum = 0.9;
			r.opt.sam = 1;
			r.opt.groups = groups;
			r.opt.ngroups = 2;
			r.sched.kind = SCHED_STEP;
			r.sched.step_size = 10;
		} else {
			r.opt.kind = OPT_ADAMW;
			r.opt.weight_decay = 0.01;
		}
		char msg[1024] = "";
		if (rt_args_recipe_sets(&r, sets, n, msg, sizeof msg))
			FUZZ_CHECK(strncmp(msg, "--set", 5) == 0);
	}
	free(text);
	return 0;
}
