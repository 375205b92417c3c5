/*
 * rt_npy_write.c - a tensor as a NumPy .npy file (format version 1.0):
 * magic, header length, a Python dict literal padded with spaces to a
 * multiple of 64 bytes and ending in a newline, then the data in C order.
 */
#include "rt_data.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int rt_npy_write(const char *path, const rt_tensor *t, rt_err *err)
{
	const char *descr = t->dtype == RT_F32 ? "<f4" : t->dtype == RT_F64 ? "<f8"
	                  : t->dtype == RT_I32 ? "<i4" : t->dtype == RT_I64 ? "<i8" : NULL;
	if (!descr)
		return rt_errf(err, "%s: cannot write dtype %s as .npy", path, rt_dtype_name(t->dtype));
	char shape[256] = "(";
	size_t at = 1;
	for (int d = 0; d < t->rank; d++)
		at += (size_t)snprintf(shape + at, sizeof shape - at, "%lld,%s", (long long)t->dim[d],
		                       d + 1 < t->rank ? " " : "");
	snprintf(shape + at, sizeof shape - at, ")");
	char hdr[512];
	int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
	                 descr, shape);
	/* 10 bytes of preamble; the header ends in '\n' at a multiple of 64 */
	int total = (10 + n + 1 + 63) / 64 * 64;
	while (10 + n + 1 < total)
		hdr[n++] = ' ';
	hdr[n++] = '\n';
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff),
	                         (unsigned char)(n >> 8)};
	FILE *f = fopen(path, "wb");
	if (!f)
		return rt_errf(err, "%s: cannot write: %s", path, strerror(errno));
	size_t bytes = rt_tensor_bytes(t);
	int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)n, f) == (size_t)n &&
	         (bytes == 0 || fwrite(t->data, 1, bytes, f) == bytes);
	if (fclose(f) != 0 || !ok)
		return rt_errf(err, "%s: write failed: %s", path, strerror(errno));
	return 0;
}
