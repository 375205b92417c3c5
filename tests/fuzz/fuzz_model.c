/*
 * fuzz_model.c - the Lua front end on arbitrary model text: the file is
 * run in the sandbox (small budgets keep each execution short), and a
 * model it accepts goes through the graph passes and the CPU backend's
 * rows down to the split loop IR (stage "loops"), every verifier on. A
 * verifier's complaint ("after pass ...") is a compiler bug, so it aborts.
 */
#include "fuzz_util.h"

#include "cg_step.h"
#include "fe_model.h"
#include "pass_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char path[256];
	fuzz_write(fuzz_scratch("model", ".lua", path, sizeof path), data, size);
	fe_options o;
	fe_options_init(&o);
	o.max_instructions = 200000;
	o.max_memory = (size_t)16 << 20;
	ir_model *m = NULL;
	char err[2048] = "";
	if (fe_load_model(path, &o, &m, err, sizeof err)) {
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(m == NULL);
		unlink(path);
		return 0;
	}
	FILE *sink = fopen("/dev/null", "w");
	FUZZ_CHECK(sink != NULL);
	cg_step_options so;
	cg_step_options_default(&so);
	so.pass.verify = 1;
	pass_prog_kind kinds[2] = {m->recipe.opt.sam ? PASS_PROG_SAM : PASS_PROG_BASE,
	                           PASS_PROG_EVAL};
	for (int k = 0; k < 2; k++) {
		err[0] = '\0';
		if (pass_emit(sink, m, kinds[k], cg_cpu_backend(), &so, "loops", &so.pass, err,
		              sizeof err)) {
			if (strncmp(err, "after pass", 10) == 0)
				fprintf(stderr, "%s\n", err);
			FUZZ_CHECK(err[0] != '\0' && strncmp(err, "after pass", 10) != 0);
		}
	}
	fclose(sink);
	fe_model_free(m);
	unlink(path);
	return 0;
}
