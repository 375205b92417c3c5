/*
 * rt_labels.c - validation of class labels before training starts, so a bad
 * label is reported with its file and index instead of corrupting a loss.
 */
#include "rt_data.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* The first label that is not an integer in [0, nclasses), or -1. */
static int64_t first_bad(const rt_tensor *labels, int nclasses)
{
	int64_t n = rt_tensor_numel(labels);
	for (int64_t i = 0; i < n; i++) {
		double v = rt_tensor_get(labels, i);
		if (!isfinite(v) || v != floor(v) || v < 0 || v >= nclasses)
			return i;
	}
	return -1;
}

/* where: "path: ... at index i" or "path:line: ..." */
static int bad_label(const char *path, int64_t line, const rt_tensor *labels, int64_t i,
                     int nclasses, rt_err *err)
{
	char at[4200];
	double v = rt_tensor_get(labels, i);
	if (line > 0)
		snprintf(at, sizeof at, "%s:%" PRId64 ": label", path, line);
	else
		snprintf(at, sizeof at, "%s: label", path);
	char idx[48] = "";
	if (line <= 0)
		snprintf(idx, sizeof idx, " at index %" PRId64, i);
	if (!isfinite(v) || v != floor(v))
		return rt_errf(err, "%s%s is %g, not an integer", at, idx, v);
	return rt_errf(err, "%s %.0f%s is out of range: expected 0 to %d for %d classes", at, v, idx,
	               nclasses - 1, nclasses);
}

static int check(const char *path, const rt_tensor *labels, int nclasses, int csv, rt_err *err)
{
	if (nclasses <= 0)
		return rt_errf(err, "%s: number of classes must be positive, got %d", path, nclasses);
	if (rt_dtype_size(labels->dtype) == 0 || !labels->data)
		return rt_errf(err, "%s: labels tensor has no data", path);
	int64_t i = first_bad(labels, nclasses);
	if (i < 0)
		return 0;
	return bad_label(path, csv ? rt_csv_row_line(path, i) : 0, labels, i, nclasses, err);
}

int rt_labels_check(const char *path, const rt_tensor *labels, int nclasses, rt_err *err)
{
	return check(path, labels, nclasses, 0, err);
}

int rt_labels_check_csv(const char *path, const rt_tensor *labels, int nclasses, rt_err *err)
{
	return check(path, labels, nclasses, 1, err);
}
