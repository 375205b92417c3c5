/*
 * fuzz_npy.c - the NumPy .npy reader on arbitrary bytes; what it accepts
 * in a dtype the writer knows is written back and read again unchanged.
 */
#include "fuzz_util.h"

#include "rt_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256], back[256];
	fuzz_write(fuzz_scratch("npy", ".npy", path, sizeof path), data, size);
	fuzz_scratch("npy-back", ".npy", back, sizeof back);
	rt_tensor t = {0};
	rt_err err = {0};
	int rc = rt_npy_read(path, &t, &err);
	if (rc == 0 && (t.dtype == RT_F32 || t.dtype == RT_F64 || t.dtype == RT_I32 ||
	                t.dtype == RT_I64)) {
		rt_err werr = {0};
		FUZZ_CHECK(rt_npy_write(back, &t, &werr) == 0);
		rt_tensor u = {0};
		rt_err rerr = {0};
		FUZZ_CHECK(rt_npy_read(back, &u, &rerr) == 0);
		FUZZ_CHECK(u.dtype == t.dtype && u.rank == t.rank);
		FUZZ_CHECK(memcmp(u.dim, t.dim, sizeof t.dim[0] * (size_t)t.rank) == 0);
		FUZZ_CHECK(rt_tensor_bytes(&u) == rt_tensor_bytes(&t));
		FUZZ_CHECK(rt_tensor_bytes(&t) == 0 ||
		           memcmp(u.data, t.data, rt_tensor_bytes(&t)) == 0);
		rt_tensor_free(&u);
		unlink(back);
	}
	fuzz_check_tensor(rc, &t, &err);
	unlink(path);
	return 0;
}
