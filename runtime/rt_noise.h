/*
 * rt_noise.h - the random step inputs: dropout's uniform noise.
 *
 * A model's dropout reads an INPUT slot named RT_NOISE_PREFIX + the layer's
 * name ("rng.drop1"), of the layer input's shape and float dtype. Before
 * every training step the runtime fills each such slot from the Philox
 * blocks (rt_rng_block) of (seed, stream = rt_rng_stream_of(slot name),
 * index = step * nb + i / per): per = 4 f32 values per block, word i % 4
 * as (w >> 8) * 2^-24; or per = 2 f64 values, words 2j, 2j+1 (j = i % 2)
 * as ((hi << 32 | lo) >> 11) * 2^-53; nb = ceil(numel / per) blocks per
 * step, i the row-major flat index, step the 0-based optimizer step. So a mask
 * is a pure function of (seed, step, tensor): the same on every backend,
 * in both SAM passes (one fill per step), on any number of threads, and
 * after a resume. docs/dsl.md spells the layout out for reproduction.
 */
#ifndef SAMC_RT_NOISE_H
#define SAMC_RT_NOISE_H

#include <stdint.h>

#include "rt_exec.h"
#include "rt_store.h"

#define RT_NOISE_PREFIX "rng."

struct rt_pool;

/* 1 when the slot is a random input the runtime fills (not data). */
int rt_noise_is_input(const rt_slot *s);

/* Fills dst (numel values of dtype, RT_F32 or RT_F64) with the noise of
 * the slot `name` at `step`. */
void rt_noise_draw(const char *name, rt_dtype dtype, int64_t numel, uint64_t seed,
                   int64_t step, void *dst);

/* Fills every random input of the store for `step` (split over pool's
 * threads when given; the values do not depend on it). */
int rt_noise_fill(rt_store *st, uint64_t seed, int64_t step, struct rt_pool *pool,
                  rt_err *err);

#endif
