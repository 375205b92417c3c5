/*
 * test_model.h - loads a model file of the source tree for a unit test,
 * failing the test with the front end's message when it does not load.
 */
#ifndef SAMC_TEST_MODEL_H
#define SAMC_TEST_MODEL_H

#include <stdio.h>

#include "fe_model.h"

/* path is relative to the source tree; sets are --set overrides */
static inline ir_model *test_load_model(const char *path, ir_dtype t, const char *const *sets,
                                        int nsets)
{
	char full[1024], err[1024];
	snprintf(full, sizeof full, "%s/%s", SAMC_SOURCE_DIR, path);
	fe_options o;
	fe_options_init(&o);
	o.fdtype = t;
	o.sets = sets;
	o.nsets = nsets;
	ir_model *m = NULL;
	if (fe_load_model(full, &o, &m, err, sizeof err))
		fail_msg("%s", err);
	return m;
}

#endif
