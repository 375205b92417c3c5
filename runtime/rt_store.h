/*
 * rt_store.h - the buffers of a training run: one buffer per distinct slot
 * name across all the execs of a model (train_sam, train_base, eval), so a
 * parameter updated by one step is what the next step, of whichever exec,
 * reads. The buffers live on the execs' device (rt_device.h; all execs of
 * a run must share its memory) for the whole run: the host reaches them
 * only through the store's transfers below.
 *
 *     rt_store st = {0};
 *     rt_store_add_exec(&st, train, err);     // every exec of the run
 *     rt_store_add_exec(&st, eval, err);
 *     void **bind = rt_store_bind(&st, train, err);  // slot_data for train->run
 *     ...
 *     free(bind);
 *     rt_store_free(&st);                     // before the execs: one owns the device
 */
#ifndef SAMC_RT_STORE_H
#define SAMC_RT_STORE_H

#include <stddef.h>

#include "rt_exec.h"

typedef struct {
	rt_slot slot;  /* copy of the first exec's slot; name owned */
	void *addr;    /* device address, zeroed at creation */
	void *stage;   /* host staging for rt_store_host, or NULL */
	size_t bytes;
	int pinned;    /* stage is the device's host_alloc memory */
	void *dstage;  /* device staging of an overlapped upload, or NULL */
	int pending;   /* an overlapped upload into dstage is not landed yet */
} rt_store_buf;

typedef struct {
	rt_store_buf *buf;
	int n, cap;
	struct rt_device *dev; /* of the first exec added; host memory if it has none */
} rt_store;

/* Adds the exec's slots. A name already present must agree in role, dtype
 * and shape; otherwise the error names the slot and both shapes. */
int rt_store_add_exec(rt_store *s, const rt_exec *x, rt_err *err);

int rt_store_find(const rt_store *s, const char *name); /* index or -1 */
void *rt_store_addr(const rt_store *s, const char *name); /* device address, NULL if absent */

/* Whole-buffer transfers of buffer i (host <-> device). */
int rt_store_upload(const rt_store *s, int i, const void *src, rt_err *err);
int rt_store_download(const rt_store *s, int i, void *dst, rt_err *err);

/* Host memory to write buffer i's new value into, then rt_store_flush it:
 * the device's own memory where the host can address it (no copy: a CPU
 * run fills batches in place), else a staging buffer that flush uploads.
 * NULL when staging memory runs out. */
void *rt_store_host(rt_store *s, int i);
int rt_store_flush(const rt_store *s, int i, rt_err *err);

/* Overlapped uploads, on a device that has them (rt_device.h's
 * upload_async; rt_store_host's staging is then pinned memory):
 * rt_store_send starts buffer i's staged value on its way to a device
 * staging buffer of its own, so it can travel while kernels that read
 * buffer i run; rt_store_land copies it into buffer i, before the work
 * launched after it (nothing when nothing was sent); rt_store_fence, after
 * the landings, lets the next sends overwrite the staging buffers. The host
 * writes the staged value again only after a step's finish (which waits
 * for the device). The first training loop's batches go this way. */
int rt_store_can_send(const rt_store *s);
int rt_store_send(rt_store *s, int i, rt_err *err);
int rt_store_land(rt_store *s, int i, rt_err *err);
int rt_store_fence(const rt_store *s, rt_err *err);

/* slot_data for x (malloc'd, x->nslots entries; the caller frees it).
 * NULL with err if a slot was never added or memory runs out. */
void **rt_store_bind(const rt_store *s, const rt_exec *x, rt_err *err);
/* The same, but a PARAM slot P is bound to the buffer "<prefix>P" where the
 * store has one (the EMA of the weights, RT_EMA_PREFIX, for evaluation). */
void **rt_store_bind_prefer(const rt_store *s, const rt_exec *x, const char *prefix,
                            rt_err *err);

void rt_store_free(rt_store *s);

/* Uploads a scalar into the slot `name` in the slot's dtype; does nothing
 * if no such slot exists (a program need not read every step scalar). */
int rt_store_set_scalar(const rt_store *s, const char *name, double v, rt_err *err);

/* "[64,784]" into buf. */
void rt_shape_str(char *buf, size_t n, int rank, const int64_t *dim);

#endif
