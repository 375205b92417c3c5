/*
 * rt_dataset_augment.c - random crop, horizontal flip and cutout of image
 * inputs in a training batch (see rt_dataset.h).
 */
#include "rt_dataset.h"

#include <inttypes.h>

#include "rt_rng.h"

/* "augm" in the high word keeps these streams apart from the shuffle's and
 * the name-hash streams of parameter initialisation. */
#define AUGMENT_STREAM_BASE 0x6175676d00000000ull

uint64_t rt_dataset_augment_stream(int64_t epoch)
{
	return AUGMENT_STREAM_BASE + (uint64_t)epoch;
}

int rt_augment_on(const data_augment *cfg)
{
	return cfg && (cfg->crop_padding > 0 || cfg->crop_size > 0 || cfg->flip || cfg->cutout > 0);
}

int rt_dataset_augment_check(const rt_dataset *ds, const data_augment *cfg, rt_err *err)
{
	if (!rt_augment_on(cfg))
		return 0;
	int images = 0;
	for (int c = 0; c < ds->ncol; c++) {
		const rt_dataset_col *col = &ds->col[c];
		if (!col->height)
			continue;
		images++;
		if (cfg->crop_size > 0 && (cfg->crop_size != col->height || cfg->crop_size != col->width))
			return rt_errf(err, "data.augment.crop.size = %d does not fit input '%s', whose "
			               "images are %" PRId64 "x%" PRId64 " (the crop must keep the input's "
			               "size)", cfg->crop_size, col->input, col->height, col->width);
	}
	if (!images)
		return rt_errf(err, "data.augment needs an image input of shape [B,C,H,W] with float "
		               "values; the model has none");
	return 0;
}

/* A draw in [0, n) from 32 random bits (bias below n / 2^32). */
static int64_t below(uint32_t u, int64_t n)
{
	return (int64_t)(((uint64_t)u * (uint64_t)n) >> 32);
}

void rt_augment_draw(const rt_augment *a, int64_t e, int64_t h, int64_t w, int64_t *top,
                     int64_t *left, int *flip, int64_t *cy, int64_t *cx)
{
	uint32_t b0[4], b1[4];
	uint64_t stream = rt_dataset_augment_stream(a->epoch);
	rt_rng_block(a->seed, stream, 2 * (uint64_t)e, b0);
	rt_rng_block(a->seed, stream, 2 * (uint64_t)e + 1, b1);
	int64_t span = 2 * (int64_t)a->cfg->crop_padding + 1;
	*top = below(b0[0], span);
	*left = below(b0[1], span);
	*flip = a->cfg->flip && (b0[2] >> 31);
	*cy = below(b1[0], h);
	*cx = below(b1[1], w);
}

/* Element i of example e as stored, normalised. */
static double get(const rt_dataset_col *col, int64_t e, int64_t i)
{
	size_t k = (size_t)e * (size_t)col->row + (size_t)i;
	if (col->lut) {
		size_t b = ((const unsigned char *)col->data)[k];
		if (col->plane)
			b += 256 * (size_t)(i / col->plane);
		return col->dtype == RT_F64 ? ((const double *)col->lut)[b]
		                            : (double)((const float *)col->lut)[b];
	}
	return col->dtype == RT_F64 ? ((const double *)col->data)[k]
	                            : (double)((const float *)col->data)[k];
}

static void put(const rt_dataset_col *col, void *d, int64_t i, double v)
{
	if (col->dtype == RT_F64)
		((double *)d)[i] = v;
	else
		((float *)d)[i] = (float)v;
}

void rt_augment_row(const rt_augment *a, const rt_dataset_col *col, int64_t e, void *d)
{
	int64_t C = col->chan, H = col->height, W = col->width, p = a->cfg->crop_padding;
	int64_t top, left, cy, cx;
	int flip;
	rt_augment_draw(a, e, H, W, &top, &left, &flip, &cy, &cx);
	/* Output (y, x) is (y + top - p, x' + left - p) of the original, x'
	 * the column before the flip; outside the image it is padding. */
	for (int64_t c = 0; c < C; c++)
		for (int64_t y = 0; y < H; y++) {
			int64_t sy = y + top - p;
			for (int64_t x = 0; x < W; x++) {
				int64_t sx = (flip ? W - 1 - x : x) + left - p;
				int64_t o = (c * H + y) * W + x;
				if (sy < 0 || sy >= H || sx < 0 || sx >= W)
					put(col, d, o, col->zero[col->plane ? c : 0]);
				else
					put(col, d, o, get(col, e, (c * H + sy) * W + sx));
			}
		}
	int64_t n = a->cfg->cutout;
	if (n <= 0)
		return;
	/* The square [cy - n/2, cy - n/2 + n) x the same in x, clipped. */
	int64_t y0 = cy - n / 2, x0 = cx - n / 2;
	for (int64_t c = 0; c < C; c++)
		for (int64_t y = y0 < 0 ? 0 : y0; y < y0 + n && y < H; y++)
			for (int64_t x = x0 < 0 ? 0 : x0; x < x0 + n && x < W; x++)
				put(col, d, (c * H + y) * W + x, 0.0);
}
