/*
 * rt_npy.c - NumPy .npy files (see rt_data.h).
 *
 * Layout: magic "\x93NUMPY", major and minor version bytes, the header
 * length (u16 little-endian in version 1.0, u32 in 2.0 and 3.0), then the
 * header, a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces to a newline, then the data. Only what numpy.save
 * writes for plain arrays is read: little-endian (or single-byte) float32,
 * float64, uint8, int32 and int64, in C order. The data are copied as they
 * are, which assumes a little-endian host, as every supported one is.
 */
#include "rt_data.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAX_HEADER (1 << 20) /* numpy itself refuses headers past 10,000 bytes */

static const struct {
	const char *descr;
	rt_dtype dtype;
} NPY_TYPES[] = {{"<f4", RT_F32}, {"<f8", RT_F64}, {"|u1", RT_U8}, {"<u1", RT_U8},
                 {"<i4", RT_I32}, {"<i8", RT_I64}};

/* The value after key `key` and its colon in the header, or NULL. */
static const char *header_value(const char *h, const char *key)
{
	char q1[40], q2[40];
	snprintf(q1, sizeof q1, "'%s'", key);
	snprintf(q2, sizeof q2, "\"%s\"", key);
	const char *p = strstr(h, q1);
	if (!p)
		p = strstr(h, q2);
	if (!p)
		return NULL;
	p += strlen(q1);
	while (*p == ' ')
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (*p == ' ')
		p++;
	return p;
}

/* Parses the header dict into dtype, rank and dims. */
static int parse_header(const char *path, const char *h, rt_dtype *dtype, int *rank, int64_t *dim,
                        rt_err *err)
{
	const char *d = header_value(h, "descr"), *fo = header_value(h, "fortran_order"),
	           *sh = header_value(h, "shape");
	if (!d || !fo || !sh || (*d != '\'' && *d != '"'))
		return rt_errf(err, "%s: bad .npy header: expected 'descr', 'fortran_order' and 'shape' "
		               "in \"%.200s\"", path, h);
	char descr[16] = {0};
	size_t len = strcspn(d + 1, "'\"");
	if (len >= sizeof descr || d[1 + len] != d[0])
		return rt_errf(err, "%s: bad .npy header: unreadable 'descr' in \"%.200s\"", path, h);
	memcpy(descr, d + 1, len);
	int found = 0;
	for (size_t i = 0; i < sizeof NPY_TYPES / sizeof NPY_TYPES[0]; i++)
		if (strcmp(descr, NPY_TYPES[i].descr) == 0) {
			*dtype = NPY_TYPES[i].dtype;
			found = 1;
		}
	if (!found && descr[0] == '>')
		return rt_errf(err, "%s: .npy dtype '%s' is big-endian: only little-endian data can be "
		               "read (save a.astype('<%s'))", path, descr, descr + 1);
	if (!found)
		return rt_errf(err, "%s: .npy dtype '%s' is not supported (expected <f4, <f8, |u1, <i4 "
		               "or <i8)", path, descr);
	if (strncmp(fo, "True", 4) == 0)
		return rt_errf(err, "%s: .npy array is in Fortran order: only C-order arrays can be read "
		               "(save np.ascontiguousarray(a))", path);
	if (strncmp(fo, "False", 5) != 0)
		return rt_errf(err, "%s: bad .npy header: 'fortran_order' is neither True nor False",
		               path);
	if (*sh != '(')
		return rt_errf(err, "%s: bad .npy header: 'shape' is not a tuple", path);
	const char *p = sh + 1;
	int64_t n = 1;
	*rank = 0;
	for (;;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == ')')
			break;
		char *e;
		errno = 0;
		long long v = strtoll(p, &e, 10);
		if (e == p || v < 0 || errno)
			return rt_errf(err, "%s: bad .npy header: unreadable 'shape' in \"%.200s\"", path, h);
		if (*rank == RT_MAX_DIMS)
			return rt_errf(err, "%s: .npy array has more than %d dimensions", path, RT_MAX_DIMS);
		if (v && n > (INT64_C(1) << 48) / v)
			return rt_errf(err, "%s: .npy shape is absurdly large (corrupt header?)", path);
		n *= v;
		dim[(*rank)++] = v;
		p = e;
		while (*p == ' ')
			p++;
		if (*p != ',' && *p != ')')
			return rt_errf(err, "%s: bad .npy header: unreadable 'shape' in \"%.200s\"", path, h);
	}
	return 0;
}

/* The header: version checked, dict read into h (NUL-terminated). */
static int read_header(FILE *f, const char *path, char **h, rt_err *err)
{
	unsigned char m[12];
	size_t k = fread(m, 1, 10, f);
	if (k < 10 || memcmp(m, "\x93NUMPY", 6) != 0)
		return rt_errf(err, "%s: not a .npy file: %s", path,
		               k < 10 ? "shorter than the 10-byte preamble"
		                      : "the magic string \\x93NUMPY is missing");
	int major = m[6], minor = m[7];
	uint32_t len;
	if (major == 1) {
		len = (uint32_t)m[8] | (uint32_t)m[9] << 8;
	} else if (major == 2 || major == 3) {
		if (fread(m + 10, 1, 2, f) < 2)
			return rt_errf(err, "%s: truncated .npy preamble", path);
		len = (uint32_t)m[8] | (uint32_t)m[9] << 8 | (uint32_t)m[10] << 16 |
		      (uint32_t)m[11] << 24;
	} else {
		return rt_errf(err, "%s: .npy version %d.%d is not supported (1.0, 2.0 or 3.0)", path,
		               major, minor);
	}
	if (len > NPY_MAX_HEADER)
		return rt_errf(err, "%s: bad .npy header: %" PRIu32 " bytes long (corrupt file?)", path,
		               len);
	*h = malloc(len + 1);
	if (!*h)
		return rt_errf(err, "%s: out of memory", path);
	if (fread(*h, 1, len, f) < len) {
		free(*h);
		*h = NULL;
		return rt_errf(err, "%s: truncated .npy header: %" PRIu32 " bytes declared", path, len);
	}
	(*h)[len] = 0;
	return 0;
}

int rt_npy_read(const char *path, rt_tensor *out, rt_err *err)
{
	memset(out, 0, sizeof *out);
	FILE *f = fopen(path, "rb");
	if (!f)
		return rt_errf(err, "%s: cannot open: %s", path, strerror(errno));
	char *h = NULL;
	rt_dtype dtype = RT_F32;
	int rank = 0;
	int64_t dim[RT_MAX_DIMS];
	int rc = read_header(f, path, &h, err);
	if (!rc)
		rc = parse_header(path, h, &dtype, &rank, dim, err);
	free(h);
	/* The size first: a corrupt shape must not make us allocate more than
	 * the file holds. */
	struct stat st;
	int64_t need = 1;
	for (int i = 0; i < rank; i++)
		need *= dim[i];
	need *= (int64_t)rt_dtype_size(dtype);
	long at = rc ? 0 : ftell(f);
	if (!rc && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && at >= 0 &&
	    (int64_t)st.st_size - at < need)
		rc = rt_errf(err, "%s: truncated .npy data: the header's shape needs %" PRId64 " bytes, "
		             "the file holds %" PRId64, path, need, (int64_t)st.st_size - at);
	if (!rc && rt_tensor_init(out, path, dtype, rank, dim) != 0)
		rc = rt_errf(err, "%s: out of memory for the .npy data", path);
	if (!rc) {
		size_t n = rt_tensor_bytes(out);
		size_t got = fread(out->data, 1, n, f);
		unsigned char extra;
		if (got < n)
			rc = ferror(f) ? rt_errf(err, "%s: read error: %s", path, strerror(errno))
			               : rt_errf(err, "%s: truncated .npy data: the header's shape needs "
			                         "%zu bytes, the file holds %zu", path, n, got);
		else if (fread(&extra, 1, 1, f) == 1)
			rc = rt_errf(err, "%s: trailing bytes after the %zu bytes of data the .npy header "
			             "declares", path, n);
		if (rc)
			rt_tensor_free(out);
	}
	fclose(f);
	return rc;
}
