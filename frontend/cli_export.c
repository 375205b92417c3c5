/*
 * cli_export.c - `samc export CKPT -o weights.safetensors`: a checkpoint's
 * parameters and buffers as PyTorch weights (rt_ckpt_export).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rt_ckpt.h"

int cli_export(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	int quiet = 0;
	for (int i = 1; i < argc;) {
		int bad = 0;
		const char *v;
		if ((v = cli_option_value("-o", &i, argc, argv, &bad)) ||
		    (v = cli_option_value("--output", &i, argc, argv, &bad))) {
			out = v;
		} else if (bad) {
			return cli_usage_error("export", "%s needs a value", argv[i]);
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			quiet = 1;
			i++;
		} else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) {
			if (in)
				return cli_usage_error("export", "one checkpoint only (got '%s' and '%s')", in,
				                       argv[i]);
			in = argv[i++];
		} else {
			return cli_unknown_option("export", argv[i],
			                          (const char *const[]){"--output", "--quiet", NULL}, 0);
		}
	}
	if (!in)
		return cli_usage_error("export", "no checkpoint given: samc export CKPT -o WEIGHTS");
	if (!out || !*out)
		return cli_usage_error("export", "no output given: samc export %s -o WEIGHTS", in);
	rt_err err = {{0}};
	int n = 0;
	if (rt_ckpt_export(in, out, &n, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return CLI_ERR_MODEL;
	}
	if (!quiet)
		printf("wrote %s: %d tensor%s (parameters and buffers)\n", out, n, n == 1 ? "" : "s");
	return CLI_OK;
}
