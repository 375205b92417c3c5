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
	uint64_t seed, stream, base;
	rt_dtype dtype;
	int64_t numel;
	void *dst;
} noise_job;

static void draw_range(const noise_job *j, int64_t lo, int64_t hi)
{
	if (j->dtype == RT_F64) {
		double *d = j->dst;
		for (int64_t i = lo; i < hi; i++)
			d[i] = rt_rng_uniform_f64(j->seed, j->stream, j->base + (uint64_t)i);
	} else {
		float *f = j->dst;
		for (int64_t i = lo; i < hi; i++)
			f[i] = rt_rng_uniform_f32(j->seed, j->stream, j->base + (uint64_t)i);
	}
}

static void draw_part(void *ctx, int part, int nparts)
{
	const noise_job *j = ctx;
	draw_range(j, j->numel * part / nparts, j->numel * (part + 1) / nparts);
}

static void draw(noise_job *j, struct rt_pool *pool)
{
	/* each element is its own Philox block, so any split gives the same values */
	if (pool && j->numel >= 4096)
		rt_pool_run(pool, rt_pool_threads(pool), draw_part, j);
	else
		draw_range(j, 0, j->numel);
}

void rt_noise_draw(const char *name, rt_dtype dtype, int64_t numel, uint64_t seed,
                   int64_t step, void *dst)
{
	noise_job j = {seed, rt_rng_stream_of(name), (uint64_t)step * (uint64_t)numel, dtype,
	               numel, dst};
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
		noise_job j = {seed, rt_rng_stream_of(s->name), (uint64_t)step * (uint64_t)numel,
		               s->dtype, numel, h};
		draw(&j, pool);
		if (rt_store_flush(st, i, err))
			return -1;
	}
	return 0;
}
