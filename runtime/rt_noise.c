/* rt_noise.c - filling the random step inputs (see rt_noise.h). */
#include "rt_noise.h"

#include <string.h>

#include "rt_pool.h"
#include "rt_rng.h"
#include "rt_store.h"

int rt_noise_is_input(const rt_slot *s)
{
	return s->role == RT_SLOT_INPUT &&
	       strncmp(s->name, RT_NOISE_PREFIX, sizeof RT_NOISE_PREFIX - 1) == 0;
}

typedef struct {
	uint64_t seed, stream, base; /* base: the step's first block */
	rt_dtype dtype;
	int64_t numel;
	void *dst;
} noise_job;

/* Elements per Philox block: four 32-bit words make four f32 values or
 * two f64 values (each of two words), as rt_rng_uniform_f32/_f64 turn the
 * first word(s) of a block into one. */
static int64_t per_block(rt_dtype t)
{
	return t == RT_F64 ? 2 : 4;
}

static void draw_blocks(const noise_job *j, int64_t lo, int64_t hi)
{
	int64_t per = per_block(j->dtype);
	for (int64_t b = lo; b < hi; b++) {
		uint32_t w[4];
		rt_rng_block(j->seed, j->stream, j->base + (uint64_t)b, w);
		for (int64_t q = 0; q < per && b * per + q < j->numel; q++) {
			int64_t i = b * per + q;
			if (j->dtype == RT_F64) {
				uint64_t u = ((uint64_t)w[2 * q] << 32) | w[2 * q + 1];
				((double *)j->dst)[i] = (double)(u >> 11) * 0x1p-53;
			} else {
				((float *)j->dst)[i] = (float)(w[q] >> 8) * 0x1p-24f;
			}
		}
	}
}

static int64_t nblocks(const noise_job *j)
{
	int64_t per = per_block(j->dtype);
	return (j->numel + per - 1) / per;
}

static void draw_part(void *ctx, int part, int nparts)
{
	const noise_job *j = ctx;
	int64_t nb = nblocks(j);
	draw_blocks(j, nb * part / nparts, nb * (part + 1) / nparts);
}

static void draw(noise_job *j, struct rt_pool *pool)
{
	/* each block is a pure function of its index, so any split gives the same values */
	if (pool && j->numel >= 4096)
		rt_pool_run(pool, rt_pool_threads(pool), draw_part, j);
	else
		draw_blocks(j, 0, nblocks(j));
}

static noise_job job_of(const char *name, rt_dtype dtype, int64_t numel, uint64_t seed,
                        int64_t step, void *dst)
{
	noise_job j = {seed, rt_rng_stream_of(name), 0, dtype, numel, dst};
	j.base = (uint64_t)step * (uint64_t)nblocks(&j);
	return j;
}

void rt_noise_draw(const char *name, rt_dtype dtype, int64_t numel, uint64_t seed,
                   int64_t step, void *dst)
{
	noise_job j = job_of(name, dtype, numel, seed, step, dst);
	draw(&j, NULL);
}

int rt_noise_fill(rt_store *st, uint64_t seed, int64_t step, struct rt_pool *pool,
                  rt_err *err)
{
	for (int i = 0; i < st->n; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if (!rt_noise_is_input(s))
			continue;
		if (s->dtype != RT_F32 && s->dtype != RT_F64)
			return rt_errf(err, "random input '%s' must be float", s->name);
		int64_t numel = 1;
		for (int d = 0; d < s->rank; d++)
			numel *= s->dim[d];
		void *h = rt_store_host(st, i);
		if (!h)
			return rt_errf(err, "out of memory for random input '%s'", s->name);
		noise_job j = job_of(s->name, s->dtype, numel, seed, step, h);
		draw(&j, pool);
		if (rt_store_flush(st, i, err))
			return -1;
	}
	return 0;
}
