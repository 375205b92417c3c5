/*
 * test_idx_write.h - an unsigned-byte IDX file (MNIST's format: magic
 * 0x0000 0x08 rank, big-endian dimensions, the bytes) written for the
 * tests that train on a small synthetic data set.
 */
#ifndef SAMC_TEST_IDX_WRITE_H
#define SAMC_TEST_IDX_WRITE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

static inline void test_write_idx(const char *path, const unsigned char *data, int rank,
                                  const uint32_t *dim)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	unsigned char hdr[4] = {0, 0, 0x08, (unsigned char)rank};
	fwrite(hdr, 1, 4, f);
	size_t n = 1;
	for (int i = 0; i < rank; i++) {
		unsigned char be[4] = {dim[i] >> 24, dim[i] >> 16, dim[i] >> 8, dim[i]};
		fwrite(be, 1, 4, f);
		n *= dim[i];
	}
	fwrite(data, 1, n, f);
	assert_int_equal(fclose(f), 0);
}

#endif
