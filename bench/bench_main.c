/*
 * bench_main.c - samc_bench's command line (see bench.h for the commands).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr,
	        "usage: samc_bench steps|opt|gemm|profile MODEL.lua [options]\n"
	        "       samc_bench triad|conv [options]\n"
	        "options: --threads N (2)  --steps N per block (30)  --blocks N (5)\n"
	        "         --warmup N (5)  --prog sam|base|acc|sam_acc (profile)  --n FLOATS (triad, 16777216)\n"
	        "         --bias 0|1 (conv, 0)  --batch N (the model's batch size)\n"
	        "         --cpu native|generic|x86-64-v3|... (steps: the CPU to compile for)\n"
	        "         --set KEY=VALUE (a recipe key, as samc's; up to 8)\n");
	return 2;
}

/* A positive integer option value, or -1. */
static long positive(const char *opt, const char *v)
{
	char *end;
	long x = v ? strtol(v, &end, 10) : -1;
	if (!v || *end || x < 0) {
		fprintf(stderr, "samc_bench: %s needs a non-negative integer, got '%s'\n", opt, v ? v : "");
		return -1;
	}
	return x;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	bench_args a = {NULL, "sam", 2, 30, 5, 5, 16777216, 0, 0, NULL, {NULL}, 0};
	const char *cmd = argv[1];
	int i = 2;
	if (strcmp(cmd, "triad") != 0 && strcmp(cmd, "conv") != 0) {
		if (argc < 3 || argv[2][0] == '-')
			return usage();
		a.model = argv[i++];
	}
	for (; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long x = 0;
		if (strcmp(o, "--prog") == 0 && v && (strcmp(v, "sam") == 0 || strcmp(v, "base") == 0 ||
		                                       strcmp(v, "acc") == 0 || strcmp(v, "sam_acc") == 0)) {
			a.prog = v;
			continue;
		}
		if (strcmp(o, "--set") == 0 && v) { /* samc --set KEY=VALUE */
			if (a.nsets == BENCH_MAX_SETS) {
				fprintf(stderr, "samc_bench: at most %d --set\n", BENCH_MAX_SETS);
				return 2;
			}
			a.sets[a.nsets++] = v;
			continue;
		}
		if (strcmp(o, "--cpu") == 0 && v) { /* samc build --cpu */
			a.cpu = v;
			continue;
		}
		if (strcmp(o, "--prog") == 0) {
			fprintf(stderr, "samc_bench: --prog is sam, base, acc or sam_acc\n");
			return 2;
		}
		if ((x = positive(o, v)) < 0)
			return 2;
		if (strcmp(o, "--threads") == 0 && x > 0)
			a.threads = (int)x;
		else if (strcmp(o, "--steps") == 0 && x > 0)
			a.steps = (int)x;
		else if (strcmp(o, "--blocks") == 0 && x > 0)
			a.blocks = (int)x;
		else if (strcmp(o, "--warmup") == 0)
			a.warmup = (int)x;
		else if (strcmp(o, "--n") == 0 && x > 0)
			a.triad_n = x;
		else if (strcmp(o, "--bias") == 0 && x <= 1)
			a.bias = (int)x;
		else if (strcmp(o, "--batch") == 0 && x > 0)
			a.batch = (int)x;
		else {
			fprintf(stderr, "samc_bench: unknown option or bad value: %s %s\n", o, v ? v : "");
			return usage();
		}
	}
	int rc = strcmp(cmd, "steps") == 0     ? bench_cmd_steps(&a)
	       : strcmp(cmd, "opt") == 0       ? bench_cmd_opt(&a)
	       : strcmp(cmd, "gemm") == 0      ? bench_cmd_gemm(&a)
	       : strcmp(cmd, "profile") == 0   ? bench_cmd_profile(&a)
	       : strcmp(cmd, "triad") == 0     ? bench_cmd_triad(&a)
	       : strcmp(cmd, "conv") == 0      ? bench_cmd_conv(&a)
	       : usage();
	return rc;
}
