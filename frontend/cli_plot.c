/*
 * cli_plot.c - `samc plot METRICS.jsonl [MORE.jsonl ...] -o OUT`: the
 * training curves of one run or several overlaid, as PNG or SVG by OUT's
 * extension (plot/plot.h draws them).
 */
#include "cli.h"
#include "plot.h"
#include "rt_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_MAX_RUNS 32

/* A run's name in the legend: its file name without the extension, or,
 * when two runs share that name (run1/metrics.jsonl, run2/metrics.jsonl),
 * the path as given without it. */
static void run_label(char **paths, int n, int i, char *out, size_t len)
{
	const char *slash = strrchr(paths[i], '/');
	const char *base = slash ? slash + 1 : paths[i];
	size_t blen = strcspn(base, "."), plen = (size_t)(base - paths[i]) + blen;
	if (blen == 0) /* ".hidden": the whole name */
		blen = strlen(base), plen = strlen(paths[i]);
	int shared = 0;
	for (int j = 0; j < n; j++) {
		const char *s = strrchr(paths[j], '/');
		const char *b = s ? s + 1 : paths[j];
		shared |= j != i && strncmp(b, base, blen) == 0 && (b[blen] == 0 || b[blen] == '.');
	}
	if (shared)
		snprintf(out, len, "%.*s", (int)plen, paths[i]);
	else
		snprintf(out, len, "%.*s", (int)blen, base);
}

int cli_plot(int argc, char **argv)
{
	char *paths[PLOT_MAX_RUNS];
	int n = 0, quiet = 0;
	const char *out = NULL;
	for (int i = 1; i < argc;) {
		int bad = 0;
		const char *v;
		if ((v = cli_option_value("-o", &i, argc, argv, &bad)) ||
		    (v = cli_option_value("--output", &i, argc, argv, &bad))) {
			out = v;
		} else if (bad) {
			return cli_usage_error("plot", "%s needs a file name (curves.png or curves.svg)",
			                       argv[i]);
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			quiet = 1;
			i++;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			char msg[512];
			rt_args_unknown(argv[i], (const char *const[]){"--output", "--quiet", "--help", NULL},
			                0, msg, sizeof msg);
			return cli_usage_error("plot", "%s", msg);
		} else {
			if (n == PLOT_MAX_RUNS)
				return cli_usage_error("plot", "too many metrics files (at most %d)",
				                       PLOT_MAX_RUNS);
			paths[n++] = argv[i++];
		}
	}
	if (n == 0)
		return cli_usage_error("plot", "no metrics file given (the JSON lines of --metrics)");
	if (!out)
		return cli_usage_error("plot", "no output given: -o curves.png or -o curves.svg");
	plot_format fmt = plot_format_of(out);
	if (fmt == PLOT_UNKNOWN)
		return cli_usage_error("plot", "-o %s: the format comes from the extension: .png or "
		                       ".svg", out);
	plot_run *runs = calloc((size_t)n, sizeof *runs);
	if (!runs) {
		fprintf(stderr, "samc plot: out of memory\n");
		return CLI_ERR_MODEL;
	}
	int rc = CLI_OK, nread = 0;
	rt_err err;
	for (; nread < n; nread++) {
		char label[256];
		run_label(paths, n, nread, label, sizeof label);
		if (plot_run_read(&runs[nread], paths[nread], label, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			rc = CLI_ERR_MODEL;
			break;
		}
	}
	if (rc == CLI_OK && plot_draw(runs, n, out, fmt, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		rc = CLI_ERR_MODEL;
	}
	if (rc == CLI_OK && !quiet)
		printf("samc plot: %s (%d run%s)\n", out, n, n == 1 ? "" : "s");
	for (int i = 0; i < nread; i++)
		plot_run_free(&runs[i]);
	free(runs);
	plot_release();
	return rc;
}
