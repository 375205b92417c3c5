/*
 * rt_data.h - data sets on disk to tensors in memory.
 *
 * Formats: IDX (raw or gzip-compressed, as Fashion-MNIST ships), CSV with a
 * header row, safetensors. Every loader validates what it reads and names
 * the file and the problem on error (wrong magic, truncation, dimensions or
 * counts that disagree, labels out of range, missing file).
 *
 * A tensor returned by a loader is named after its file and owned by the
 * caller (rt_tensor_free); on error it is left empty.
 */
#ifndef SAMC_RT_DATA_H
#define SAMC_RT_DATA_H

#include "rt_err.h"
#include "rt_tensor.h"

/* IDX file (".gz" or raw, detected by content): u8 tensor of the file's
 * shape, e.g. [60000,28,28] or [60000]. Converted to `want` (RT_F32 keeps
 * the raw 0..255 values, RT_I32 for labels). */
int rt_idx_read(const char *path, rt_dtype want, rt_tensor *out, rt_err *err);

/* CSV with a header row. `columns` names the columns to read, in order,
 * or NULL for all; returns [rows, ncolumns] of `want`. Values must parse
 * as numbers; a ragged row is an error naming the line. */
int rt_csv_read(const char *path, const char **columns, int ncolumns,
                rt_dtype want, rt_tensor *out, rt_err *err);

/* Checks that a label tensor's values are integers in [0, nclasses);
 * names `path` and the first offending index otherwise. */
int rt_labels_check(const char *path, const rt_tensor *labels, int nclasses, rt_err *err);

#endif
