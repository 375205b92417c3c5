/*
 * rt_aot.h - the runtime side of a standalone trainer (`samc build`).
 *
 * samc writes the model's compiled steps as tables (rt_prog.h) and its
 * recipe as C data, and a main() that hands them to rt_aot_main:
 *
 *     static const rt_aot_model model = {.model = "fashion_mlp.lua", ...};
 *     int main(int argc, char **argv) { return rt_aot_main(&model, argc, argv); }
 *
 * rt_aot_main parses the trainer's options, makes an exec of each step on
 * the requested threads and trains with rt_train (rt_train.h), exactly as
 * `samc model.lua --backend cpu` does:
 *
 *   ./trainer [--epochs N] [--resume CKPT] [--data DIR] [--threads N]
 *             [--seed N] [--metrics FILE] [--checkpoint-dir DIR]
 *             [--stop-after N] [--log-every N] [--quiet]
 *
 * Exit status: 0 success, 1 a data or training error, 2 a usage error.
 */
#ifndef SAMC_RT_AOT_H
#define SAMC_RT_AOT_H

#include "rt_prog.h"
#include "rt_recipe.h"

/* bumped when rt_prog / rt_aot_model change layout; the generated file
 * states the version it was written for */
#define RT_AOT_ABI 3

typedef struct {
	int abi;                  /* RT_AOT_ABI of the generating samc */
	const char *model;        /* the model file it was built from */
	const char *program_hash;
	const rt_recipe *recipe;
	int nparams;
	const rt_prog *sam, *base, *eval; /* NULL where absent */
} rt_aot_model;

int rt_aot_main(const rt_aot_model *m, int argc, char **argv);

#endif
