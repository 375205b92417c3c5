/*
 * fuzz_idx.c - the IDX reader (raw or gzip, told apart by content) on
 * arbitrary bytes, as images (F32) and as labels (I32, then the labels
 * check).
 */
#include "fuzz_util.h"

#include "rt_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];
	fuzz_write(fuzz_scratch("idx", ".gz", path, sizeof path), data, size);
	rt_tensor t = {0};
	rt_err err = {0};
	fuzz_check_tensor(rt_idx_read(path, RT_F32, &t, &err), &t, &err);
	rt_err err2 = {0};
	int rc = rt_idx_read(path, RT_I32, &t, &err2);
	if (rc == 0) {
		rt_err err3 = {0};
		if (rt_labels_check(path, &t, 10, &err3))
			FUZZ_CHECK(err3.msg[0] != '\0');
	}
	fuzz_check_tensor(rc, &t, &err2);
	unlink(path);
	return 0;
}
