/*
 * rt_rng.c - Philox4x32-10 and the draws built on it (see rt_rng.h).
 * Constants and round structure follow Random123's philox.h, so its
 * published known-answer vectors apply unchanged.
 */
#include "rt_rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

static void philox_round(uint32_t c[4], const uint32_t k[2])
{
	uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
	uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
	uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
	uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
	uint32_t n0 = hi1 ^ c[1] ^ k[0], n2 = hi0 ^ c[3] ^ k[1];
	c[0] = n0;
	c[1] = lo1;
	c[2] = n2;
	c[3] = lo0;
}

void rt_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
	uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
	uint32_t k[2] = {key[0], key[1]};
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k[0] += PHILOX_W0;
			k[1] += PHILOX_W1;
		}
		philox_round(c, k);
	}
	for (int i = 0; i < 4; i++)
		out[i] = c[i];
}

void rt_rng_block(uint64_t seed, uint64_t stream, uint64_t index, uint32_t out[4])
{
	uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
	uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream,
	                   (uint32_t)(stream >> 32)};
	rt_philox4x32_10(ctr, key, out);
}

float rt_rng_uniform_f32(uint64_t seed, uint64_t stream, uint64_t index)
{
	uint32_t w[4];
	rt_rng_block(seed, stream, index, w);
	return (float)(w[0] >> 8) * 0x1p-24f; /* exact in float, < 1 */
}

static double u53(uint32_t hi, uint32_t lo)
{
	return (double)((((uint64_t)hi << 32) | lo) >> 11) * 0x1p-53;
}

double rt_rng_uniform_f64(uint64_t seed, uint64_t stream, uint64_t index)
{
	uint32_t w[4];
	rt_rng_block(seed, stream, index, w);
	return u53(w[0], w[1]);
}

double rt_rng_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
	uint32_t w[4];
	rt_rng_block(seed, stream, index, w);
	/* u1 in (0,1] keeps log finite; u2 in [0,1). */
	double u1 = u53(w[0], w[1]) + 0x1p-53;
	double u2 = u53(w[2], w[3]);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t rt_rng_stream_of(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return h;
}

void rt_rng_init(rt_rng *r, uint64_t seed, uint64_t stream)
{
	r->seed = seed;
	r->stream = stream;
	r->next = 0;
	r->avail = 0;
}

uint32_t rt_rng_u32(rt_rng *r)
{
	if (r->avail == 0) {
		rt_rng_block(r->seed, r->stream, r->next++, r->buf);
		r->avail = 4;
	}
	return r->buf[4 - r->avail--];
}

uint64_t rt_rng_below(rt_rng *r, uint64_t n)
{
	if (n <= 1)
		return 0;
	if (n <= UINT32_MAX) {
		/* Lemire's multiply-shift with rejection of the biased low range. */
		uint32_t n32 = (uint32_t)n;
		uint64_t m = (uint64_t)rt_rng_u32(r) * n32;
		uint32_t lo = (uint32_t)m;
		if (lo < n32) {
			uint32_t t = (uint32_t)(-n32) % n32;
			while (lo < t) {
				m = (uint64_t)rt_rng_u32(r) * n32;
				lo = (uint32_t)m;
			}
		}
		return m >> 32;
	}
	/* Rare: 64-bit range, plain rejection on the top multiple of n. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	for (;;) {
		uint64_t hi = rt_rng_u32(r); /* two statements: a fixed draw order */
		uint64_t x = (hi << 32) | rt_rng_u32(r);
		if (x < limit)
			return x % n;
	}
}
