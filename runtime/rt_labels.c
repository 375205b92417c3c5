/*
 * rt_labels.c - validation of class labels before training starts, so a bad
 * label is reported with its file and index instead of corrupting a loss.
 */
#include "rt_data.h"

#include <inttypes.h>
#include <math.h>

int rt_labels_check(const char *path, const rt_tensor *labels, int nclasses, rt_err *err)
{
	if (nclasses <= 0)
		return rt_errf(err, "%s: number of classes must be positive, got %d", path, nclasses);
	if (rt_dtype_size(labels->dtype) == 0 || !labels->data)
		return rt_errf(err, "%s: labels tensor has no data", path);
	int64_t n = rt_tensor_numel(labels);
	for (int64_t i = 0; i < n; i++) {
		double v = rt_tensor_get(labels, i);
		if (!isfinite(v) || v != floor(v))
			return rt_errf(err, "%s: label at index %" PRId64 " is %g, not an integer", path,
			               i, v);
		if (v < 0 || v >= nclasses)
			return rt_errf(err, "%s: label %.0f at index %" PRId64 " is out of range: "
			               "expected 0 to %d for %d classes", path, v, i, nclasses - 1,
			               nclasses);
	}
	return 0;
}
