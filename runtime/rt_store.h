/*
 * rt_store.h - the host buffers of a training run: one buffer per distinct
 * slot name across all the execs of a model (train_sam, train_base, eval),
 * so a parameter updated by one step is what the next step, of whichever
 * exec, reads.
 *
 *     rt_store st = {0};
 *     rt_store_add_exec(&st, train, err);     // every exec of the run
 *     rt_store_add_exec(&st, eval, err);
 *     void **bind = rt_store_bind(&st, train, err);  // slot_data for train->run
 *     ...
 *     free(bind);
 *     rt_store_free(&st);
 */
#ifndef SAMC_RT_STORE_H
#define SAMC_RT_STORE_H

#include <stddef.h>

#include "rt_exec.h"

typedef struct {
	rt_slot slot;  /* copy of the first exec's slot; name owned */
	void *data;    /* zeroed at creation */
	size_t bytes;
} rt_store_buf;

typedef struct {
	rt_store_buf *buf;
	int n, cap;
} rt_store;

/* Adds the exec's slots. A name already present must agree in role, dtype
 * and shape; otherwise the error names the slot and both shapes. */
int rt_store_add_exec(rt_store *s, const rt_exec *x, rt_err *err);

int rt_store_find(const rt_store *s, const char *name); /* index or -1 */
void *rt_store_data(const rt_store *s, const char *name); /* NULL if absent */

/* slot_data for x (malloc'd, x->nslots entries; the caller frees it).
 * NULL with err if a slot was never added or memory runs out. */
void **rt_store_bind(const rt_store *s, const rt_exec *x, rt_err *err);

void rt_store_free(rt_store *s);

/* Writes a scalar into the slot `name` in the slot's dtype; does nothing if
 * no such slot exists (a program need not read every step scalar). */
void rt_store_set_scalar(const rt_store *s, const char *name, double v);

/* "[64,784]" into buf. */
void rt_shape_str(char *buf, size_t n, int rank, const int64_t *dim);

#endif
