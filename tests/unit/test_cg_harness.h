/*
 * test_cg_harness.h - shared by the CPU backend's tests: runs one step of a
 * graph through the reference interpreter and through the CPU backend on
 * the same random slot values, and compares every slot and output after it.
 *
 * Tensor results are observed by assigning them to STATE leaves
 * (cgh_observe), since an exec's outputs are scalars.
 */
#ifndef SAMC_TEST_CG_HARNESS_H
#define SAMC_TEST_CG_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_cpu.h"
#include "ir.h"
#include "ir_interp.h"

/* xorshift64*: fixed-seed test data */
static inline double cgh_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* Adds state "obs<i>" := n and returns the assign. */
static inline ir_node *cgh_observe(ir_graph *g, ir_node *n, int i)
{
	char name[32];
	snprintf(name, sizeof name, "obs%d", i);
	ir_node *st = ir_state(g, name, n->dtype, n->shape);
	return st ? ir_assign(g, st, n) : NULL;
}

static inline void cgh_fill(const rt_slot *sl, void *d, uint64_t *seed)
{
	int64_t n = 1;
	for (int i = 0; i < sl->rank; i++)
		n *= sl->dim[i];
	for (int64_t i = 0; i < n; i++) {
		double u = cgh_rand(seed);
		/* the training programs' scalar inputs get values the runtime would give */
		if (!strcmp(sl->name, "opt.lr") || !strcmp(sl->name, "opt.step")) {
			double v = sl->name[4] == 'l' ? 0.05 : 3.0;
			if (sl->dtype == RT_F32)
				((float *)d)[i] = (float)v;
			else
				((double *)d)[i] = v;
			continue;
		}
		/* hyperparameters (rho, momentum, betas, eps, ...) in (0.1, 0.9) */
		if (sl->rank == 0 && !strncmp(sl->name, "opt.", 4)) {
			if (sl->dtype == RT_F32)
				((float *)d)[i] = (float)(0.1 + 0.8 * u);
			else
				((double *)d)[i] = 0.1 + 0.8 * u;
			continue;
		}
		if (!strcmp(sl->name, "eval.mask")) {
			if (sl->dtype == RT_F32)
				((float *)d)[i] = u < 0.8 ? 1.0f : 0.0f;
			else
				((double *)d)[i] = u < 0.8 ? 1.0 : 0.0;
			continue;
		}
		/* names starting with 'p' hold positive values (log, sqrt, pow), as
		 * do Adam's second moments and batch_norm's running variances */
		int pos = sl->name[0] == 'p' || strstr(sl->name, "exp_avg_sq") != NULL ||
		          strstr(sl->name, "running_var") != NULL;
		double v = pos ? 0.2 + 1.8 * u : 2.0 * u - 1.0;
		if (sl->dtype == RT_F32)
			((float *)d)[i] = (float)v;
		else if (sl->dtype == RT_F64)
			((double *)d)[i] = v;
		else
			((int32_t *)d)[i] = (int32_t)(u * (sl->nclasses > 0 ? sl->nclasses : 4));
	}
}

static inline int64_t cgh_numel(const rt_slot *sl)
{
	int64_t n = 1;
	for (int i = 0; i < sl->rank; i++)
		n *= sl->dim[i];
	return n;
}

static inline double cgh_get(const rt_slot *sl, const void *d, int64_t i)
{
	return sl->dtype == RT_F32 ? ((const float *)d)[i]
	     : sl->dtype == RT_F64 ? ((const double *)d)[i] : ((const int32_t *)d)[i];
}

/*
 * Compiles g with both backends (the CPU one with options `opt`, NULL for
 * the defaults), runs `steps` steps on the same random slots, compares.
 * Returns 0 if every value agrees within |a - b| <= tol * (|b| + 1), 1 on
 * a mismatch, -1 when either backend failed (message in err). `worst`
 * receives the largest scaled error.
 */
static inline int cgh_compare_with(ir_graph *g, ir_node *const *outs, const char *const *names,
                                   int nout, const cg_options *opt, int steps, double tol,
                                   uint64_t seed, double *worst, char *err, size_t errlen)
{
	rt_exec *ref = ir_interp_exec_new(g, outs, names, nout, err, errlen);
	if (!ref)
		return -1;
	cg_options o;
	cg_options_default(&o);
	if (opt)
		o = *opt;
	rt_exec *cpu = cg_cpu_exec_new(g, outs, names, nout, &o, err, errlen);
	if (!cpu) {
		ref->free(ref);
		return -1;
	}
	int rc = 0;
	*worst = 0;
	if (ref->nslots != cpu->nslots) {
		snprintf(err, errlen, "slot counts differ: %d vs %d", ref->nslots, cpu->nslots);
		rc = -1;
	}
	void **da = calloc((size_t)ref->nslots + 1, sizeof *da);
	void **db = calloc((size_t)ref->nslots + 1, sizeof *db);
	double oa[16], ob[16];
	for (int i = 0; rc == 0 && i < ref->nslots; i++) {
		const rt_slot *sl = &ref->slots[i];
		if (strcmp(sl->name, cpu->slots[i].name) || sl->dtype != cpu->slots[i].dtype) {
			snprintf(err, errlen, "slot %d differs: %s vs %s", i, sl->name, cpu->slots[i].name);
			rc = -1;
			break;
		}
		size_t bytes = (size_t)cgh_numel(sl) * (sl->dtype == RT_F64 ? 8 : 4);
		da[i] = malloc(bytes);
		db[i] = malloc(bytes);
		cgh_fill(sl, da[i], &seed);
		memcpy(db[i], da[i], bytes);
	}
	for (int s = 0; rc == 0 && s < steps; s++) {
		rt_err e1, e2;
		if (ref->run(ref, da, oa, &e1)) {
			snprintf(err, errlen, "interpreter: %.400s", e1.msg);
			rc = -1;
			break;
		}
		if (cpu->run(cpu, db, ob, &e2)) {
			snprintf(err, errlen, "cpu: %.400s", e2.msg);
			rc = -1;
			break;
		}
		for (int i = 0; i < nout; i++) {
			double d = fabs(oa[i] - ob[i]) / (fabs(oa[i]) + 1.0);
			if (d > *worst)
				*worst = d;
			if (!(d <= tol)) {
				snprintf(err, errlen, "step %d output %s: interp %.9g cpu %.9g", s, names[i],
				         oa[i], ob[i]);
				rc = 1;
			}
		}
		for (int i = 0; rc == 0 && i < ref->nslots; i++) {
			const rt_slot *sl = &ref->slots[i];
			for (int64_t j = 0; j < cgh_numel(sl); j++) {
				double a = cgh_get(sl, da[i], j), b = cgh_get(sl, db[i], j);
				double d = fabs(a - b) / (fabs(a) + 1.0);
				if (isnan(a) && isnan(b))
					continue;
				if (d > *worst || isnan(d))
					*worst = isnan(d) ? INFINITY : d;
				if (!(d <= tol)) {
					snprintf(err, errlen, "step %d slot %s[%lld]: interp %.9g cpu %.9g", s,
					         sl->name, (long long)j, a, b);
					rc = 1;
					break;
				}
			}
		}
	}
	for (int i = 0; i < ref->nslots; i++) {
		free(da[i]);
		free(db[i]);
	}
	free(da);
	free(db);
	ref->free(ref);
	cpu->free(cpu);
	return rc;
}

static inline int cgh_compare(ir_graph *g, ir_node *const *outs, const char *const *names, int nout,
                              int steps, double tol, uint64_t seed, double *worst, char *err,
                              size_t errlen)
{
	return cgh_compare_with(g, outs, names, nout, NULL, steps, tol, seed, worst, err, errlen);
}

#endif
