/*
 * rt_cifar.c - the binary CIFAR-10 and CIFAR-100 files (see rt_data.h).
 *
 * A file is a sequence of records with no header: the label byte(s), then
 * 3072 pixel bytes, the R, G and B planes of a 32x32 image, each row-major.
 * CIFAR-10 has one label byte (0..9); CIFAR-100 two, the coarse label
 * (0..19) and then the fine one (0..99). The fine label is the one used, as
 * torchvision's CIFAR100 does. The record size is all there is to check a
 * file against, so a size that is not a whole number of records is an
 * error, not a short last example.
 */
#include "rt_data.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_PIXELS 3072 /* 3 x 32 x 32 */
#define CIFAR_CHUNK 1024  /* records read at once */

typedef struct {
	const char *name; /* "CIFAR-10" */
	int label_bytes;
	int classes;        /* of the label used */
	int coarse_classes; /* CIFAR-100's first label byte; 0 = none */
} cifar_kind;

static const cifar_kind KINDS[2] = {{"CIFAR-10", 1, 10, 0}, {"CIFAR-100", 2, 100, 20}};

/* The number of records in the open file f, or -1 with err set. */
static int64_t count_records(FILE *f, const char *path, const cifar_kind *k, rt_err *err)
{
	struct stat st;
	if (fstat(fileno(f), &st) != 0)
		return rt_errf(err, "%s: cannot stat: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return rt_errf(err, "%s: not a regular file", path);
	int64_t rec = k->label_bytes + CIFAR_PIXELS, size = (int64_t)st.st_size;
	if (size == 0)
		return rt_errf(err, "%s: empty file: no %s records", path, k->name);
	if (size % rec != 0)
		return rt_errf(err, "%s: %" PRId64 " bytes is not a whole number of %s records "
		               "(%" PRId64 " bytes each: %d label byte%s + 3072 pixel bytes); the last "
		               "record is short by %" PRId64 " bytes (truncated file, or not %s?)",
		               path, size, k->name, rec, k->label_bytes, k->label_bytes > 1 ? "s" : "",
		               rec - size % rec, k->name);
	return size / rec;
}

/* Reads the n records of the open file into out, the images or the labels;
 * out has room for them. */
static int read_records(FILE *f, const char *path, const cifar_kind *k, int64_t n, int labels,
                        unsigned char *out, rt_err *err)
{
	size_t rec = (size_t)k->label_bytes + CIFAR_PIXELS;
	unsigned char *buf = malloc(rec * CIFAR_CHUNK);
	if (!buf)
		return rt_errf(err, "%s: out of memory", path);
	for (int64_t i = 0; i < n;) {
		size_t want = n - i < CIFAR_CHUNK ? (size_t)(n - i) : CIFAR_CHUNK;
		size_t got = fread(buf, rec, want, f);
		if (got < want) {
			int e = ferror(f);
			free(buf);
			if (e)
				return rt_errf(err, "%s: read error: %s", path, strerror(errno));
			return rt_errf(err, "%s: truncated while reading: record %" PRId64 " of %" PRId64
			               " is missing", path, i + (int64_t)got, n);
		}
		for (size_t j = 0; j < got; j++, i++) {
			const unsigned char *r = buf + j * rec;
			int label = r[k->label_bytes - 1], coarse = r[0]; /* r dies with buf */
			if (k->coarse_classes && coarse >= k->coarse_classes) {
				free(buf);
				return rt_errf(err, "%s: record %" PRId64 " has coarse label %d: %s coarse "
				               "labels are 0 to %d (not a %s file?)", path, i, coarse, k->name,
				               k->coarse_classes - 1, k->name);
			}
			if (label >= k->classes) {
				free(buf);
				return rt_errf(err, "%s: record %" PRId64 " has label %d: %s labels are 0 to %d "
				               "(not a %s file?)", path, i, label, k->name, k->classes - 1,
				               k->name);
			}
			if (labels)
				out[i] = (unsigned char)label;
			else
				memcpy(out + i * CIFAR_PIXELS, r + k->label_bytes, CIFAR_PIXELS);
		}
	}
	free(buf);
	return 0;
}

int rt_cifar_read(const char *const *paths, int npaths, int cifar100, int labels, rt_tensor *out,
                  rt_err *err)
{
	memset(out, 0, sizeof *out);
	const cifar_kind *k = &KINDS[cifar100 ? 1 : 0];
	if (npaths < 1 || npaths > RT_CIFAR_MAX_FILES)
		return rt_errf(err, "%s data: %d files given (1 to %d)", k->name, npaths,
		               RT_CIFAR_MAX_FILES);
	FILE *f[RT_CIFAR_MAX_FILES] = {0};
	int64_t cnt[RT_CIFAR_MAX_FILES], n = 0;
	int rc = 0;
	/* Sizes first: the whole split is allocated once, and a bad file is
	 * reported before any reading. */
	for (int i = 0; i < npaths && !rc; i++) {
		f[i] = fopen(paths[i], "rb");
		if (!f[i])
			rc = rt_errf(err, "%s: cannot open: %s", paths[i], strerror(errno));
		else if ((cnt[i] = count_records(f[i], paths[i], k, err)) < 0)
			rc = -1;
		else
			n += cnt[i];
	}
	if (!rc) {
		int64_t dim[4] = {n, 3, 32, 32};
		if (rt_tensor_init(out, paths[0], RT_U8, labels ? 1 : 4, dim) != 0)
			rc = rt_errf(err, "%s: out of memory for %" PRId64 " %s records", paths[0], n,
			             k->name);
	}
	int64_t at = 0;
	for (int i = 0; i < npaths && !rc; i++) {
		unsigned char *dst = (unsigned char *)out->data + at * (labels ? 1 : CIFAR_PIXELS);
		rc = read_records(f[i], paths[i], k, cnt[i], labels, dst, err);
		at += cnt[i];
	}
	for (int i = 0; i < npaths; i++)
		if (f[i])
			fclose(f[i]);
	if (rc)
		rt_tensor_free(out);
	return rc;
}
