/*
 * fe_recipe_early.c - early_stopping = {monitor, mode, patience,
 * min_delta}, and the check of a monitored value that checkpoint.monitor
 * shares.
 */
#include <stdio.h>
#include <string.h>

#include "fe_recipe.h"
#include "fe_recipe_read.h"
#include "rt_recipe_schema.h"

void fe_check_monitor(lua_State *L, const char *key, const char *v, const ir_model *m)
{
	const char *name = strchr(v, '.');
	int val = name && name - v == 3 && !strncmp(v, "val", 3);
	int test = name && name - v == 4 && !strncmp(v, "test", 4);
	int split_ok = val || test || (name && name - v == 5 && !strncmp(v, "train", 5));
	int known = split_ok && !strcmp(name + 1, "loss");
	for (int i = 0; split_ok && i < m->nmetrics; i++)
		known |= !strcmp(name + 1, m->metrics[i].name);
	/* the model's data are read before the checkpoint and early stopping */
	const data_config *dc = &m->recipe.data;
	int has_val = dc->nval > 0 || dc->val_split > 0;
	if (known && val && !has_val)
		fe_recipe_error(L, "%s '%s' needs a validation set: add data.val (files, as "
		                "data.test) or data.val_split (a fraction of the training rows, e.g. "
		                "0.1)", key, v);
	if (known && test && has_val)
		fe_recipe_error(L, "%s '%s': with a validation set the test set is evaluated once, at "
		                "the end of the run; monitor \"val.%s\"", key, v, name + 1);
	if (known)
		return;
	char list[512] = "loss";
	for (int i = 0; i < m->nmetrics; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), ", %s", m->metrics[i].name);
	fe_recipe_error(L, "%s '%s' is not a metric of the run: expected \"val.NAME\", "
	                "\"train.NAME\" or \"test.NAME\" with NAME one of %s", key, v, list);
}

/* The monitored value is an epoch mean the run reports, as for
 * checkpoint.monitor; without a monitor the other keys mean nothing. */
void fe_read_early_stopping(lua_State *L, int t, rt_recipe *r, const ir_model *m)
{
	r->es_monitor = fe_str(L, t, "early_stopping.", "monitor", NULL);
	const char *mode = fe_str(L, t, "early_stopping.", "mode", NULL);
	int patience = fe_read_key(L, t, r, "early_stopping.patience");
	int delta = fe_read_key(L, t, r, "early_stopping.min_delta");
	if (mode)
		r->es_mode = fe_choice(L, "early_stopping.mode", "early_stopping.mode", mode);
	if (!r->es_monitor) {
		if (mode || patience || delta)
			fe_recipe_error(L, "early_stopping.%s needs early_stopping.monitor, the metric "
			                "that decides when to stop (e.g. monitor = \"val.loss\")",
			                mode ? "mode" : patience ? "patience" : "min_delta");
		return;
	}
	fe_check_monitor(L, "early_stopping.monitor", r->es_monitor, m);
}
