/*
 * fuzz_cifar.c - the binary CIFAR-10 and CIFAR-100 readers on arbitrary
 * bytes, images and labels, the input read as one file and as two.
 */
#include "fuzz_util.h"

#include "rt_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char a[256], b[256];
	fuzz_scratch("cifar-a", ".bin", a, sizeof a);
	fuzz_scratch("cifar-b", ".bin", b, sizeof b);
	fuzz_write(a, data, size);
	fuzz_write(b, data, size / 2);
	const char *one[] = {a}, *two[] = {a, b};
	for (int cifar100 = 0; cifar100 < 2; cifar100++)
		for (int labels = 0; labels < 2; labels++) {
			rt_tensor t = {0};
			rt_err err = {0};
			int rc = rt_cifar_read(one, 1, cifar100, labels, &t, &err);
			if (rc == 0)
				FUZZ_CHECK(t.rank == (labels ? 1 : 4));
			fuzz_check_tensor(rc, &t, &err);
			rt_err err2 = {0};
			fuzz_check_tensor(rt_cifar_read(two, 2, cifar100, labels, &t, &err2), &t, &err2);
		}
	unlink(a);
	unlink(b);
	return 0;
}
