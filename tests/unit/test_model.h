/*
 * test_model.h - loads a model file of the source tree for a unit test,
 * failing the test with the front end's message when it does not load; and
 * writes a model file from text.
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

/* Writes head, body and a newline to <build>/<prefix>_<name>.lua (a model
 * a test builds from text); returns the path, valid until the next call. */
static inline const char *test_write_model(const char *prefix, const char *name,
                                           const char *head, const char *body)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/%s_%s.lua", SAMC_BINARY_DIR, prefix, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s%s\n", head, body);
	fclose(f);
	return path;
}

#endif
