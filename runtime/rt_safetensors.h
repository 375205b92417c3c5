/*
 * rt_safetensors.h - read and write the safetensors layout: an 8-byte
 * little-endian header length, a JSON header mapping each tensor name to
 * {dtype, shape, data_offsets}, optional "__metadata__" (string -> string),
 * then the raw little-endian data. samc's interchange and checkpoint format.
 */
#ifndef SAMC_RT_SAFETENSORS_H
#define SAMC_RT_SAFETENSORS_H

#include "rt_err.h"
#include "rt_tensor.h"

/* String key/value pairs of "__metadata__". */
typedef struct {
	char **key, **val;
	int n, cap;
} rt_meta;

void rt_meta_set(rt_meta *m, const char *key, const char *val);
const char *rt_meta_get(const rt_meta *m, const char *key); /* NULL if absent */
void rt_meta_free(rt_meta *m);

/* Reads a whole file. Every inconsistency (header length beyond the file,
 * malformed JSON, unknown dtype, shape/offset size mismatch, offsets out of
 * range or overlapping, truncated data) is an error naming the file and the
 * problem. `meta` may be NULL. On error nothing is left allocated.
 * *out (and *meta) are overwritten, not appended to: pass empty ones; on
 * success free them with rt_tensors_free / rt_meta_free. Tensors keep the
 * header's order. Gaps between tensors in the data section are tolerated. */
int rt_st_read(const char *path, rt_tensors *out, rt_meta *meta, rt_err *err);

/* Same, from memory (`what` names the source in messages). */
int rt_st_parse(const void *buf, size_t len, const char *what, rt_tensors *out,
                rt_meta *meta, rt_err *err);

/* Writes atomically: to "<path>.tmp.<pid>", fsync, rename, fsync of the
 * directory. Either the old file or the complete new one exists afterwards.
 * "__metadata__" first, then the tensors in list order, data contiguous in
 * that order; the header is space-padded so the data starts 8-byte aligned.
 * Names must be non-empty and unique. */
int rt_st_write(const char *path, const rt_tensors *ts, const rt_meta *meta, rt_err *err);

#endif
