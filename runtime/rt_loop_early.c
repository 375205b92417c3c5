/*
 * rt_loop_early.c - early stopping (early_stopping.monitor, mode, patience,
 * min_delta), as Keras and Lightning do it: after each epoch the monitored
 * epoch mean improves on the best so far when it beats it by more than
 * min_delta; after `patience` epochs in a row without improvement the run
 * stops. The state travels in every checkpoint's metadata
 * ("early_stopping"), so a resumed run counts on exactly where it stopped.
 */
#include "rt_train_run.h"

#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *mode_name(int mode)
{
	return mode == RT_CKPT_MAX ? "max" : "min";
}

int rt_run_early_setup(train_run *R, rt_err *err)
{
	const rt_recipe *r = R->o->recipe;
	R->es_m = -1;
	R->es_best_epoch = R->es_wait = 0;
	R->es_best = NAN;
	if (!r->es_monitor)
		return 0;
	return rt_run_monitor(R, "early_stopping.monitor", r->es_monitor, &R->es_m, &R->es_of, err);
}

int rt_run_early_stopped(const train_run *R)
{
	return R->es_m >= 0 && R->es_wait >= R->o->recipe->es_patience;
}

int rt_run_early_update(train_run *R, int epoch)
{
	const rt_recipe *r = R->o->recipe;
	if (R->es_m < 0)
		return 0;
	double v = R->es_of[R->es_m];
	/* a non-finite value never improves; the first finite one always does */
	int improved = isfinite(v) &&
	               (R->es_best_epoch == 0 ||
	                (r->es_mode == RT_CKPT_MAX ? v > R->es_best + r->es_min_delta
	                                           : v < R->es_best - r->es_min_delta));
	if (improved) {
		R->es_best = v;
		R->es_best_epoch = epoch;
		R->es_wait = 0;
	} else {
		R->es_wait++;
	}
	return rt_run_early_stopped(R);
}

int rt_run_early_json(const train_run *R, char *out, size_t len, rt_err *err)
{
	out[0] = 0;
	if (R->es_m < 0)
		return 0;
	const rt_recipe *r = R->o->recipe;
	cJSON *o = cJSON_CreateObject();
	int ok = o && cJSON_AddStringToObject(o, "monitor", r->es_monitor) &&
	         cJSON_AddStringToObject(o, "mode", mode_name(r->es_mode)) &&
	         cJSON_AddNumberToObject(o, "min_delta", r->es_min_delta) &&
	         cJSON_AddNumberToObject(o, "best_epoch", R->es_best_epoch) &&
	         cJSON_AddNumberToObject(o, "wait", R->es_wait) &&
	         (R->es_best_epoch ? cJSON_AddNumberToObject(o, "best", R->es_best) != NULL
	                           : cJSON_AddNullToObject(o, "best") != NULL);
	char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!s)
		return rt_errf(err, "out of memory for the early stopping state");
	int fits = strlen(s) < len;
	if (fits)
		snprintf(out, len, "%s", s);
	cJSON_free(s);
	return fits ? 0 : rt_errf(err, "the early stopping state does not fit the metadata");
}

int rt_run_early_resume(train_run *R, const char *path, const char *json, rt_err *err)
{
	if (R->es_m < 0 || !json[0])
		return 0;
	const rt_recipe *r = R->o->recipe;
	cJSON *o = cJSON_Parse(json);
	const cJSON *mon = cJSON_GetObjectItemCaseSensitive(o, "monitor");
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(o, "min_delta");
	const cJSON *be = cJSON_GetObjectItemCaseSensitive(o, "best_epoch");
	const cJSON *wait = cJSON_GetObjectItemCaseSensitive(o, "wait");
	const cJSON *best = cJSON_GetObjectItemCaseSensitive(o, "best");
	int rc = 0;
	if (!cJSON_IsString(mon) || !cJSON_IsString(mode) || !cJSON_IsNumber(delta) ||
	    !cJSON_IsNumber(be) || !cJSON_IsNumber(wait) ||
	    !(cJSON_IsNumber(best) || cJSON_IsNull(best))) {
		rc = rt_errf(err, "%s: checkpoint metadata 'early_stopping' is malformed", path);
	} else if (!strcmp(mon->valuestring, r->es_monitor) &&
	           !strcmp(mode->valuestring, mode_name(r->es_mode)) &&
	           delta->valuedouble == r->es_min_delta) {
		/* the same count goes on; another monitor, mode or min_delta starts
		 * afresh (a changed patience applies to the count so far) */
		R->es_best_epoch = (int)be->valuedouble;
		R->es_wait = (int)wait->valuedouble;
		R->es_best = cJSON_IsNumber(best) ? best->valuedouble : NAN;
	}
	cJSON_Delete(o);
	return rc;
}
