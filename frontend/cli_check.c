/*
 * cli_check.c - `samc check model.lua`: the model's gradients against
 * central finite differences, in f64 through the reference interpreter.
 *
 * Params and inputs get seeded random values (params from their init rule's
 * range, float inputs N(0,1)-like, labels uniform over their classes); for
 * each param, a sample of coordinates is perturbed by +-h and the change of
 * the loss compared with the autodiff gradient. A coordinate whose window
 * crosses a kink is skipped and counted as such (check_kink).
 */
#include "cli.h"
#include "ir_interp.h"
#include "pass_pipeline.h"
#include "pass_table.h"
#include "cli_backend.h"
#include "rt_args.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: a small seeded generator for test values */
static double next_unit(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

static void fill_leaves(ir_env *e, ir_graph *g, uint64_t seed)
{
	for (int i = 0; i < g->nnodes; i++) {
		ir_node *n = g->nodes[i];
		if (n->op != IR_OP_PARAM && n->op != IR_OP_INPUT)
			continue;
		double *v = ir_env_leaf(e, n);
		double lo = -1, hi = 1;
		if (n->op == IR_OP_PARAM && ir_node_init(n).kind == IR_INIT_UNIFORM && ir_node_init(n).b > ir_node_init(n).a) {
			lo = ir_node_init(n).a;
			hi = ir_node_init(n).b;
		}
		for (int64_t k = 0; k < ir_shape_numel(&n->shape); k++) {
			double u = next_unit(&seed);
			v[k] = n->dtype == IR_I32 ? floor(u * (ir_attr_i(n, IR_ATTR_NCLASSES) > 0 ? ir_attr_i(n, IR_ATTR_NCLASSES) : 2)) : lo + (hi - lo) * u;
		}
	}
}

/*
 * A coordinate whose window [w-h, w+h] crosses a kink (a relu at 0 between
 * w-h and w+h) has a central difference that is an average of two slopes,
 * which no gradient equals. It shows as one-sided differences that
 * disagree by far more than rounding (eps*|L|/h each) while the gradient is
 * one of them: the slope on its own side. Where the loss is smooth instead,
 * both one-sided differences are off by about h*|L''|/2 and the central one
 * is closer, so this cannot hide a wrong gradient of a smooth loss.
 */
static int check_kink(double fd, double fwd, double bwd, double an, double L0, double h)
{
	double noise = 2.2e-16 * fmax(1.0, fabs(L0)) / h;
	double one_sided = fmin(fabs(an - fwd), fabs(an - bwd));
	return fabs(fwd - bwd) > 100 * noise && one_sided <= 0.1 * fabs(an - fd);
}

int cli_check(int argc, char **argv)
{
	cli_model_args ma;
	cli_model_args_init(&ma);
	int samples = 16;
	double tol = 1e-6;
	for (int i = 1; i < argc;) {
		int bad = 0, took = cli_take_model_arg(&ma, &i, argc, argv, "check");
		const char *v;
		if (took < 0)
			return CLI_ERR_USAGE;
		if (took)
			continue;
		if ((v = cli_option_value("--samples", &i, argc, argv, &bad))) {
			char msg[256];
			long x;
			if (rt_args_int("--samples", v, 1, 1000000, &x, msg, sizeof msg))
				return cli_usage_error("check", "%s", msg);
			samples = (int)x;
		} else if ((v = cli_option_value("--tolerance", &i, argc, argv, &bad))) {
			char *end;
			tol = strtod(v, &end);
			if (!*v || *end || !(tol > 0) || !isfinite(tol))
				return cli_usage_error("check", "--tolerance must be a positive number, got '%s'", v);
		} else if (bad) {
			return cli_usage_error("check", "%s needs a value", argv[i]);
		} else {
			return cli_unknown_option("check", argv[i], (const char *const[]){"--samples",
			                          "--tolerance", NULL}, 0);
		}
	}
	if (!ma.model)
		return cli_usage_error("check", "no model file given");
	ma.fe.fdtype = IR_F64; /* finite differences need f64 */
	ir_model *m;
	if (cli_load_model(&ma, &m) != 0)
		return CLI_ERR_MODEL;
	char err[2048];
	pass_program p;
	pass_options po;
	cli_pass_options(&po);
	if (pass_build_opt(m, PASS_PROG_AUTODIFF, &po, &p, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		fe_model_free(m);
		return CLI_ERR_MODEL;
	}
	int rc = CLI_ERR_MODEL;
	ir_env *e = ir_env_new(p.g);
	double **vals = calloc((size_t)p.nout, sizeof *vals);
	if (!e || !vals)
		goto done;
	fill_leaves(e, p.g, 42);
	if (ir_interp_eval(e, p.outs, p.nout, vals, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		goto done;
	}
	double worst = 0, L0 = vals[0][0];
	uint64_t pick = 7;
	int total_kinks = 0;
	for (int i = 1; i < p.nout; i++) {
		ir_node *param = ir_find_leaf(p.g, IR_OP_PARAM, p.names[i] + strlen("grad."));
		double *w = ir_env_leaf(e, param);
		int64_t n = ir_shape_numel(&param->shape);
		double num2 = 0, diff2 = 0;
		int kinks = 0;
		for (int s = 0; s < samples; s++) {
			int64_t k = (int64_t)(next_unit(&pick) * (double)n);
			const double h = 1e-6, w0 = w[k];
			double *lp = NULL, *lm = NULL;
			w[k] = w0 + h;
			int bad = ir_interp_eval(e, p.outs, 1, &lp, err, sizeof err);
			w[k] = w0 - h;
			bad |= ir_interp_eval(e, p.outs, 1, &lm, err, sizeof err);
			w[k] = w0;
			if (bad) {
				fprintf(stderr, "%s\n", err);
				free(lp);
				free(lm);
				goto done;
			}
			double fd = (*lp - *lm) / (2 * h), an = vals[i][k];
			double fwd = (*lp - L0) / h, bwd = (L0 - *lm) / h;
			free(lp);
			free(lm);
			if (check_kink(fd, fwd, bwd, an, L0, h)) {
				kinks++;
				continue;
			}
			num2 += fd * fd;
			diff2 += (fd - an) * (fd - an);
		}
		/* a central difference carries ~eps*|L|/h = 1e-10*|L| of rounding per
		 * coordinate, so a gradient far below that cannot be checked relative
		 * to itself: one that is zero by structure (a bias just before
		 * batch_norm) is measured against this floor instead */
		int checked = samples - kinks;
		double floor_norm = 1e-3 * sqrt((double)(checked > 0 ? checked : 1)) * fmax(1.0, fabs(L0));
		double rel = sqrt(diff2) / fmax(sqrt(num2), floor_norm);
		if (rel > worst)
			worst = rel;
		printf("%-30s %s  %d coordinates  relative error %.3g", param->name,
		       rel <= tol ? "ok  " : "FAIL", checked, rel);
		if (kinks)
			printf("  (%d skipped: at a kink)", kinks);
		printf("\n");
		total_kinks += kinks;
	}
	printf("%s: loss %.6g, worst relative error %.3g (tolerance %.3g)\n", ma.model, L0, worst, tol);
	if (total_kinks)
		printf("%d sampled coordinate%s skipped: the window of +-1e-6 crosses a kink (relu, "
		       "abs, max, clamp ...), where the one-sided differences disagree and the gradient "
		       "is one of them, so a central difference cannot check it\n", total_kinks,
		       total_kinks == 1 ? " was" : "s were");
	rc = worst <= tol ? CLI_OK : CLI_ERR_MODEL;
done:
	for (int i = 0; vals && i < p.nout; i++)
		free(vals[i]);
	free(vals);
	ir_env_free(e);
	pass_program_free(&p);
	fe_model_free(m);
	return rc;
}
