/*
 * rt_dataset_val.c - data.val_split: the validation rows held out of the
 * training split (see rt_dataset.h). They are drawn from the run's seed
 * alone, never from the epoch, so a resumed run and a standalone trainer
 * hold out the same rows; and kept in file order, so that evaluating them
 * is evaluating a data.val file that holds the same rows in that order.
 */
#include "rt_dataset.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_rng.h"

/* "val" in the high bytes: apart from the shuffle and augmentation streams */
#define VAL_STREAM 0x76616c0000000000ull

uint64_t rt_dataset_val_stream(void)
{
	return VAL_STREAM;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int64_t rt_dataset_val_rows(int64_t n, double fraction, uint64_t seed, int64_t *rows)
{
	int64_t nval = (int64_t)floor(fraction * (double)n + 0.5);
	if (nval < 1 || nval >= n)
		return -1;
	for (int64_t i = 0; i < n; i++)
		rows[i] = i;
	/* the same Fisher-Yates as an epoch's shuffle (rt_dataset_order) */
	rt_rng r;
	rt_rng_init(&r, seed, VAL_STREAM);
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)rt_rng_below(&r, (uint64_t)i + 1);
		int64_t t = rows[i];
		rows[i] = rows[j];
		rows[j] = t;
	}
	qsort(rows, (size_t)nval, sizeof *rows, cmp_i64);
	return nval;
}

/* Bytes of one example as stored (see rt_dataset_col). */
static size_t row_bytes(const rt_dataset_col *col)
{
	return (size_t)col->row * (col->lut ? 1 : rt_dtype_size(col->dtype));
}

/* A column like `from` (its lookup table copied) with room for n rows. */
static int col_like(const rt_dataset_col *from, int64_t n, int64_t nlut, rt_dataset_col *to)
{
	*to = *from;
	to->input = strdup(from->input);
	to->path = strdup(from->path);
	to->data = malloc((size_t)n * row_bytes(from) + 1);
	to->lut = NULL;
	if (from->lut && (to->lut = malloc((size_t)nlut)))
		memcpy(to->lut, from->lut, (size_t)nlut);
	return to->input && to->path && to->data && (!from->lut || to->lut) ? 0 : -1;
}

int rt_dataset_hold_out(rt_dataset *ds, double fraction, uint64_t seed, rt_dataset *val,
                        rt_err *err)
{
	memset(val, 0, sizeof *val);
	int64_t n = ds->n;
	int64_t *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
	char *held = calloc((size_t)(n > 0 ? n : 1), 1);
	rt_dataset keep = {0};
	if (!rows || !held) {
		free(rows);
		free(held);
		return rt_errf(err, "out of memory for data.val_split");
	}
	int64_t nval = rt_dataset_val_rows(n, fraction, seed, rows);
	if (nval < 0) {
		free(rows);
		free(held);
		return rt_errf(err, "data.val_split = %g of the %" PRId64 " training examples (%s) "
		               "holds out %s", fraction, n, ds->ncol > 0 ? ds->col[0].path : "",
		               n < 2 || fraction * (double)n < 0.5
		               ? "no example: give a larger fraction or more data"
		               : "every example: give a smaller fraction");
	}
	for (int64_t i = 0; i < nval; i++)
		held[rows[i]] = 1;
	val->col = calloc((size_t)ds->ncol, sizeof *val->col);
	keep.col = calloc((size_t)ds->ncol, sizeof *keep.col);
	int rc = val->col && keep.col ? 0 : -1;
	for (int c = 0; c < ds->ncol && !rc; c++) {
		const rt_dataset_col *col = &ds->col[c];
		size_t rb = row_bytes(col), es = rt_dtype_size(col->dtype);
		int64_t nlut = col->lut ? (int64_t)(256 * es) * (col->plane ? col->chan : 1) : 0;
		rc = col_like(col, nval, nlut, &val->col[val->ncol++]) ||
		     col_like(col, n - nval, nlut, &keep.col[keep.ncol++]);
		char *v = rc ? NULL : val->col[c].data, *k = rc ? NULL : keep.col[c].data;
		for (int64_t i = 0; i < n && !rc; i++) {
			char **to = held[i] ? &v : &k;
			memcpy(*to, (const char *)col->data + (size_t)i * rb, rb);
			*to += rb;
		}
	}
	free(rows);
	free(held);
	if (rc) {
		rt_dataset_free(val);
		rt_dataset_free(&keep);
		return rt_errf(err, "out of memory for data.val_split");
	}
	val->n = nval;
	keep.n = n - nval;
	rt_dataset_free(ds);
	*ds = keep;
	return 0;
}
