/*
 * rt_loop_best.c - the best checkpoints by an epoch metric
 * (checkpoint.monitor, mode, keep): after each epoch the run's mean of the
 * monitored metric ranks it; the `keep` best epochs stay on disk as
 * DIR/best-epoch-N.safetensors, each a full checkpoint. The ranking travels
 * in every checkpoint's metadata ("best"), so a resumed run goes on with
 * it.
 */
#include "rt_train_run.h"

#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *mode_name(int mode)
{
	return mode == RT_CKPT_MAX ? "max" : "min";
}

int rt_run_best_setup(train_run *R, rt_err *err)
{
	const rt_recipe *r = R->o->recipe;
	R->best_m = -1;
	R->nbest = 0;
	if (!r->ckpt_monitor)
		return 0;
	return rt_run_monitor(R, "checkpoint.monitor", r->ckpt_monitor, &R->best_m, &R->best_of,
	                      err);
}

/* a ranks before b */
static int better(int mode, double a, double b)
{
	return mode == RT_CKPT_MAX ? a > b : a < b;
}

int rt_run_best_rank(train_run *R, int epoch, int *entered, int *evicted)
{
	const rt_recipe *r = R->o->recipe;
	*entered = 0;
	*evicted = 0;
	if (R->best_m < 0)
		return 0;
	double v = R->best_of[R->best_m];
	if (!isfinite(v))
		return 0;
	int keep = r->ckpt_best > 0 ? r->ckpt_best : 1, at = R->nbest;
	/* after every entry at least as good: an earlier epoch wins a tie */
	while (at > 0 && better(r->ckpt_mode, v, R->best_val[at - 1]))
		at--;
	if (at >= keep)
		return 0;
	memmove(&R->best_val[at + 1], &R->best_val[at], (size_t)(R->nbest - at) * sizeof(double));
	memmove(&R->best_epoch[at + 1], &R->best_epoch[at], (size_t)(R->nbest - at) * sizeof(int));
	R->best_val[at] = v;
	R->best_epoch[at] = epoch;
	R->nbest++;
	*entered = 1;
	if (R->nbest > keep) /* keep may have shrunk since a resumed run's start */
		*evicted = R->best_epoch[--R->nbest];
	while (R->nbest > keep)
		R->nbest--;
	return 0;
}

int rt_run_best_json(const train_run *R, char *out, size_t len, rt_err *err)
{
	out[0] = 0;
	if (R->best_m < 0)
		return 0;
	cJSON *o = cJSON_CreateObject(), *kept = cJSON_CreateArray();
	int ok = o && kept && cJSON_AddStringToObject(o, "monitor", R->o->recipe->ckpt_monitor) &&
	         cJSON_AddStringToObject(o, "mode", mode_name(R->o->recipe->ckpt_mode)) &&
	         cJSON_AddItemToObject(o, "kept", kept);
	if (!ok)
		cJSON_Delete(kept);
	for (int i = 0; ok && i < R->nbest; i++) {
		cJSON *e = cJSON_CreateArray();
		ok = e && cJSON_AddItemToArray(kept, e) &&
		     cJSON_AddItemToArray(e, cJSON_CreateNumber(R->best_epoch[i])) &&
		     cJSON_AddItemToArray(e, cJSON_CreateNumber(R->best_val[i]));
	}
	char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!s)
		return rt_errf(err, "out of memory for the checkpoint's ranking");
	int fits = strlen(s) < len;
	if (fits)
		snprintf(out, len, "%s", s);
	cJSON_free(s);
	return fits ? 0 : rt_errf(err, "the best checkpoints' ranking does not fit the metadata");
}

int rt_run_best_resume(train_run *R, const char *path, const char *json, rt_err *err)
{
	if (R->best_m < 0 || !json[0])
		return 0;
	cJSON *o = cJSON_Parse(json);
	const cJSON *mon = cJSON_GetObjectItemCaseSensitive(o, "monitor");
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(o, "mode");
	const cJSON *kept = cJSON_GetObjectItemCaseSensitive(o, "kept");
	int rc = 0;
	if (!cJSON_IsString(mon) || !cJSON_IsString(mode) || !cJSON_IsArray(kept)) {
		rc = rt_errf(err, "%s: checkpoint metadata 'best' is malformed", path);
	} else if (!strcmp(mon->valuestring, R->o->recipe->ckpt_monitor) &&
	           !strcmp(mode->valuestring, mode_name(R->o->recipe->ckpt_mode))) {
		/* the same ranking goes on; another monitor or mode starts afresh */
		const cJSON *e;
		cJSON_ArrayForEach(e, kept) {
			if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 ||
			    !cJSON_IsNumber(cJSON_GetArrayItem(e, 0)) ||
			    !cJSON_IsNumber(cJSON_GetArrayItem(e, 1)) || R->nbest == RT_CKPT_MAX_BEST) {
				rc = rt_errf(err, "%s: checkpoint metadata 'best' is malformed", path);
				break;
			}
			R->best_epoch[R->nbest] = (int)cJSON_GetArrayItem(e, 0)->valuedouble;
			R->best_val[R->nbest++] = cJSON_GetArrayItem(e, 1)->valuedouble;
		}
	}
	cJSON_Delete(o);
	return rc;
}
