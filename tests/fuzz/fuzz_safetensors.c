/*
 * fuzz_safetensors.c - the safetensors parser (rt_st_parse) on arbitrary
 * bytes, with metadata: what it accepts has unique names, a readable
 * metadata table and tensors whose data lies within the input.
 */
#include "fuzz_util.h"

#include "rt_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rt_tensors ts = {0};
	rt_meta meta = {0};
	rt_err err = {0};
	if (rt_st_parse(data, size, "fuzz.safetensors", &ts, &meta, &err)) {
		FUZZ_CHECK(err.msg[0] != '\0');
		FUZZ_CHECK(ts.n == 0 && meta.n == 0);
		rt_tensors_free(&ts);
		rt_meta_free(&meta);
		return 0;
	}
	size_t total = 0;
	for (int i = 0; i < ts.n; i++) {
		FUZZ_CHECK(ts.t[i].name != NULL); /* "" is a name JSON allows */
		for (int j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ts.t[i].name, ts.t[j].name) != 0);
		size_t bytes = rt_tensor_bytes(&ts.t[i]);
		FUZZ_CHECK(bytes <= size);
		total += bytes;
		fuzz_touch(ts.t[i].data, bytes);
	}
	FUZZ_CHECK(total <= size);
	for (int i = 0; i < meta.n; i++)
		FUZZ_CHECK(rt_meta_get(&meta, meta.key[i]) != NULL);
	rt_tensors_free(&ts);
	rt_meta_free(&meta);
	return 0;
}
