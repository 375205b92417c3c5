/*
 * rt_rng.h - counter-based random numbers (Philox4x32-10, Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11).
 *
 * A number is a pure function of (seed, stream, index): no state is carried
 * from one draw to the next, so the CPU, a GPU kernel and a resumed run all
 * draw the same values. samc's layout of one Philox block:
 *
 *     key     = { seed low 32 bits, seed high 32 bits }
 *     counter = { index low, index high, stream low, stream high }
 *
 * Streams separate independent uses: one per parameter (rt_rng_stream_of
 * its name), one per epoch's shuffle, and so on.
 */
#ifndef SAMC_RT_RNG_H
#define SAMC_RT_RNG_H

#include <stdint.h>

/* The raw bijection: 10 rounds of Philox4x32 on `ctr` under `key`. */
void rt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The block for (seed, stream, index) in samc's layout. */
void rt_rng_block(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4]);

/* Element-wise draws: each uses the whole block of its index, so element i
 * never depends on how many others were drawn. */
float rt_rng_uniform_f32(uint64_t seed, uint64_t stream, uint64_t index);  /* [0,1), 24 bits */
double rt_rng_uniform_f64(uint64_t seed, uint64_t stream, uint64_t index); /* [0,1), 53 bits */
double rt_rng_normal(uint64_t seed, uint64_t stream, uint64_t index);      /* N(0,1), Box-Muller */

/* FNV-1a 64 of a name: the stream of a named tensor. */
uint64_t rt_rng_stream_of(const char *name);

/* A sequential reader over one stream, for algorithms that consume a
 * variable number of words (shuffling). Its position is the block counter
 * plus the words used in the current block. */
typedef struct {
	uint64_t seed, stream;
	uint64_t next;   /* index of the next block to generate */
	uint32_t buf[4];
	int avail;       /* unread words left in buf (taken from the front) */
} rt_rng;

void rt_rng_init(rt_rng *r, uint64_t seed, uint64_t stream);
uint32_t rt_rng_u32(rt_rng *r);
/* Unbiased integer in [0, n); n must be > 0. */
uint64_t rt_rng_below(rt_rng *r, uint64_t n);

#endif
