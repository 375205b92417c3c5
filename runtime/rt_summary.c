/* rt_summary.c - the last line of a training run (see rt_train.h). */
#include "rt_train.h"

#include <math.h>
#include <signal.h>
#include <string.h>

/* " <split> <name>: v" for every metric that has a value, accuracy first. */
static void metrics(FILE *f, const char *split, const rt_train_result *r, const double *v)
{
	const char *sep = "";
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < r->nmetrics; i++) {
			int acc = strcmp(r->name[i], "accuracy") == 0;
			if (acc != (pass == 0) || isnan(v[i]))
				continue;
			fprintf(f, "%s%s %s: %.4f", sep, split, r->name[i], v[i]);
			sep = "  ";
		}
}

void rt_train_print_summary(FILE *f, const rt_train_result *r)
{
	if (r->interrupted) {
		fprintf(f, "interrupted by %s after step %lld of %lld: ",
		        r->interrupted == SIGINT ? "SIGINT" : r->interrupted == SIGTERM ? "SIGTERM"
		        : "a signal", (long long)r->steps, (long long)r->total_steps);
		if (r->last_ckpt[0])
			fprintf(f, "checkpoint written; continue with --resume %s\n", r->last_ckpt);
		else
			fputs("no checkpoint written (--checkpoint-dir DIR keeps one to resume from)\n", f);
		fflush(f);
		return;
	}
	if (r->has_test) {
		metrics(f, "test", r, r->test);
	} else {
		fputs("no test set; ", f);
		metrics(f, r->has_val ? "val" : "train", r, r->has_val ? r->val : r->train);
	}
	fprintf(f, "  (%d epoch%s, %lld steps, %.0f samples/s)\n", r->epochs,
	        r->epochs == 1 ? "" : "s", (long long)r->steps, r->samples_per_s);
	if (r->stopped_early) {
		fprintf(f, "stopped early as asked (--stop-after): %d of %d epochs done; ", r->epochs,
		        r->nepochs);
		if (r->last_ckpt[0])
			fprintf(f, "continue with --resume %s\n", r->last_ckpt);
		else
			fputs("no checkpoint was written (--checkpoint-dir DIR keeps one to resume "
			      "from)\n", f);
	}
	fflush(f);
}
