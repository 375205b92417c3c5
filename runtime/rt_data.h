/*
 * rt_data.h - data sets on disk to tensors in memory.
 *
 * Formats: IDX (raw or gzip-compressed, as Fashion-MNIST ships), CSV with a
 * header row, safetensors, the binary CIFAR-10 and CIFAR-100 files, NumPy
 * .npy. Every loader validates what it reads and names
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

/* Binary CIFAR-10 (cifar100 == 0) or CIFAR-100 files, e.g. data_batch_1.bin
 * to data_batch_5.bin, read in order as one split: the images as u8
 * [N,3,32,32] (labels == 0) or the labels as u8 [N] (labels == 1;
 * CIFAR-100's fine label). A file size that is not a whole number of
 * records, or a label out of range, is an error naming the file. */
#define RT_CIFAR_MAX_FILES 16
int rt_cifar_read(const char *const *paths, int npaths, int cifar100, int labels, rt_tensor *out,
                  rt_err *err);

/* NumPy .npy file (versions 1.0 to 3.0; <f4, <f8, |u1, <i4, <i8; C order):
 * a tensor of the file's dtype and shape. */
int rt_npy_read(const char *path, rt_tensor *out, rt_err *err);
/* Writes t (F32, F64, I32, I64) as a version 1.0 .npy file, C order. */
int rt_npy_write(const char *path, const rt_tensor *t, rt_err *err);

/* Checks that a label tensor's values are integers in [0, nclasses);
 * names `path` and the first offending index otherwise. */
int rt_labels_check(const char *path, const rt_tensor *labels, int nclasses, rt_err *err);
/* The same for labels read from a CSV file: the bad label is named by its
 * line in the file ("y.csv:7: label 12 ..."), as every other CSV error. */
int rt_labels_check_csv(const char *path, const rt_tensor *labels, int nclasses, rt_err *err);

/* The 1-based file line of data row `row` (0-based, after the header,
 * blank lines skipped) of a CSV file; -1 if it cannot be read. */
int64_t rt_csv_row_line(const char *path, int64_t row);

#endif
