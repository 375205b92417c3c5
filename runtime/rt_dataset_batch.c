/*
 * rt_dataset_batch.c - example order per epoch and batches into slot
 * buffers (see rt_dataset.h).
 */
#include "rt_dataset.h"

#include <string.h>

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

int64_t rt_dataset_fill(const rt_dataset *ds, const int64_t *order, int64_t first,
                        int64_t batch, rt_pad_mode pad, void *const *dst, void *mask,
                        rt_dtype mask_dtype)
{
	int64_t real = 0;
	for (int64_t r = 0; r < batch; r++) {
		int64_t k = first + r;
		int is_real = k < ds->n;
		real += is_real;
		for (int c = 0; c < ds->ncol; c++) {
			const rt_dataset_col *col = &ds->col[c];
			size_t rb = (size_t)col->row * rt_dtype_size(col->dtype);
			char *d = (char *)dst[c] + (size_t)r * rb;
			if (is_real || (pad == RT_PAD_WRAP && ds->n > 0)) {
				int64_t e = order[is_real ? k : k % ds->n];
				memcpy(d, (const char *)col->data + (size_t)e * rb, rb);
			} else {
				memset(d, 0, rb);
			}
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
