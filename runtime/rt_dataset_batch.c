/*
 * rt_dataset_batch.c - example order per epoch and batches into slot
 * buffers (see rt_dataset.h).
 */
#include "rt_dataset.h"

#include <string.h>

#include "rt_pool.h"
#include "rt_rng.h"

/* "shuf" in the high word keeps shuffle streams apart from the name-hash
 * streams of parameter initialisation (a collision needs a 64-bit match). */
#define SHUFFLE_STREAM_BASE 0x7368756600000000ull

uint64_t rt_dataset_shuffle_stream(int64_t epoch)
{
	return SHUFFLE_STREAM_BASE + (uint64_t)epoch;
}

void rt_dataset_order(int64_t n, uint64_t seed, int64_t epoch, int64_t *order)
{
	for (int64_t i = 0; i < n; i++)
		order[i] = i;
	rt_rng r;
	rt_rng_init(&r, seed, rt_dataset_shuffle_stream(epoch));
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)rt_rng_below(&r, (uint64_t)i + 1);
		int64_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

int64_t rt_dataset_nbatches(int64_t n, int64_t batch, int drop_last)
{
	if (batch <= 0 || n <= 0)
		return 0;
	return drop_last ? n / batch : (n + batch - 1) / batch;
}

/* The example behind batch row r (-1: a zero row). */
static int64_t source_row(const rt_dataset *ds, const int64_t *order, int64_t k, rt_pad_mode pad)
{
	if (k < ds->n)
		return order[k];
	return pad == RT_PAD_WRAP && ds->n > 0 ? order[k % ds->n] : -1;
}

/* Bytes of one example as stored (see rt_dataset_col). */
static size_t stored_row_bytes(const rt_dataset_col *col)
{
	return (size_t)col->row * (col->lut ? 1 : rt_dtype_size(col->dtype));
}

/* Shuffled rows are scattered over a data set far larger than the caches:
 * copied one by one, each row waits for its first cache lines (and a TLB
 * miss). Asking for the rows RT_FILL_AHEAD ahead overlaps those waits. */
#define RT_FILL_AHEAD 4

static void prefetch_row(const rt_dataset *ds, int64_t e)
{
	if (e < 0)
		return;
	for (int c = 0; c < ds->ncol; c++) {
		const rt_dataset_col *col = &ds->col[c];
		size_t rb = stored_row_bytes(col);
		const char *src = (const char *)col->data + (size_t)e * rb;
		for (size_t off = 0; off < rb; off += 64)
			__builtin_prefetch(src + off, 0, 3);
	}
}

/* One example into d: a copy, or bytes through the lookup table. */
static void put_row(const rt_dataset_col *col, int64_t e, char *d)
{
	size_t rb = stored_row_bytes(col);
	const unsigned char *src = (const unsigned char *)col->data + (size_t)e * rb;
	if (!col->lut) {
		memcpy(d, src, rb);
		return;
	}
	/* per channel plane: its own 256 values (see rt_dataset_col) */
	int64_t n = col->plane ? col->plane : col->row;
	for (int64_t at = 0, c = 0; at < col->row; at += n, c++) {
		const unsigned char *in = src + at;
		if (col->dtype == RT_F32) {
			const float *lut = (const float *)col->lut + 256 * c;
			float *o = (float *)d + at;
			for (int64_t j = 0; j < n; j++)
				o[j] = lut[in[j]];
		} else if (col->dtype == RT_F64) {
			const double *lut = (const double *)col->lut + 256 * c;
			double *o = (double *)d + at;
			for (int64_t j = 0; j < n; j++)
				o[j] = lut[in[j]];
		} else {
			const int32_t *lut = (const int32_t *)col->lut + 256 * c;
			int32_t *o = (int32_t *)d + at;
			for (int64_t j = 0; j < n; j++)
				o[j] = lut[in[j]];
		}
	}
}

/* Rows [lo, hi) of a batch (see rt_dataset_fill); the number of real rows. */
static int64_t fill_rows(const rt_dataset *ds, const int64_t *order, int64_t first, int64_t lo,
                         int64_t hi, rt_pad_mode pad, void *const *dst, void *mask,
                         rt_dtype mask_dtype, const rt_augment *aug)
{
	int64_t real = 0;
	for (int64_t r = lo; r < lo + RT_FILL_AHEAD && r < hi; r++)
		prefetch_row(ds, source_row(ds, order, first + r, pad));
	for (int64_t r = lo; r < hi; r++) {
		int64_t k = first + r;
		int is_real = k < ds->n;
		real += is_real;
		if (r + RT_FILL_AHEAD < hi)
			prefetch_row(ds, source_row(ds, order, k + RT_FILL_AHEAD, pad));
		int64_t e = source_row(ds, order, k, pad);
		for (int c = 0; c < ds->ncol; c++) {
			const rt_dataset_col *col = &ds->col[c];
			size_t rb = (size_t)col->row * rt_dtype_size(col->dtype);
			char *d = (char *)dst[c] + (size_t)r * rb;
			if (e >= 0 && aug && col->height)
				rt_augment_row(aug, col, e, d);
			else if (e >= 0)
				put_row(col, e, d);
			else
				memset(d, 0, rb);
		}
		if (mask) {
			if (mask_dtype == RT_F64)
				((double *)mask)[r] = is_real ? 1.0 : 0.0;
			else
				((float *)mask)[r] = is_real ? 1.0f : 0.0f;
		}
	}
	return real;
}

#define RT_FILL_MAX_PARTS 64

typedef struct {
	const rt_dataset *ds;
	const int64_t *order;
	int64_t first, batch;
	rt_pad_mode pad;
	void *const *dst;
	void *mask;
	rt_dtype mask_dtype;
	const rt_augment *aug;
	int64_t real[RT_FILL_MAX_PARTS];
} fill_job;

static void fill_part(void *ctx, int part, int nparts)
{
	fill_job *j = ctx;
	int64_t lo = j->batch * part / nparts, hi = j->batch * (part + 1) / nparts;
	j->real[part] = fill_rows(j->ds, j->order, j->first, lo, hi, j->pad, j->dst, j->mask,
	                          j->mask_dtype, j->aug);
}

int64_t rt_dataset_fill(const rt_dataset *ds, const int64_t *order, int64_t first,
                        int64_t batch, rt_pad_mode pad, void *const *dst, void *mask,
                        rt_dtype mask_dtype, rt_pool *pool)
{
	return rt_dataset_fill_aug(ds, order, first, batch, pad, dst, mask, mask_dtype, pool, NULL);
}

int64_t rt_dataset_fill_aug(const rt_dataset *ds, const int64_t *order, int64_t first,
                            int64_t batch, rt_pad_mode pad, void *const *dst, void *mask,
                            rt_dtype mask_dtype, rt_pool *pool, const rt_augment *aug)
{
	if (aug && !rt_augment_on(aug->cfg))
		aug = NULL;
	int parts = pool ? rt_pool_threads(pool) : 1;
	if (parts > RT_FILL_MAX_PARTS)
		parts = RT_FILL_MAX_PARTS;
	if (parts < 2 || batch < 2 * parts * RT_FILL_AHEAD)
		return fill_rows(ds, order, first, 0, batch, pad, dst, mask, mask_dtype, aug);
	fill_job j = {ds, order, first, batch, pad, dst, mask, mask_dtype, aug, {0}};
	rt_pool_run(pool, parts, fill_part, &j);
	int64_t real = 0;
	for (int q = 0; q < parts; q++)
		real += j.real[q];
	return real;
}
