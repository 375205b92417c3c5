/*
 * fuzz_ckpt.c - the checkpoint loader (rt_ckpt_read) on arbitrary bytes
 * against a small store (two parameters, one optimizer state): a refused
 * file leaves the store untouched, an accepted one carries sane counters.
 */
#include "fuzz_util.h"

#include "rt_ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];
	fuzz_write(fuzz_scratch("ckpt", ".safetensors", path, sizeof path), data, size);
	rt_slot slots[3] = {
		{.name = "fc.weight", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 2, .dim = {2, 3}},
		{.name = "fc.bias", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 1, .dim = {2}},
		{.name = "opt.fc.weight.momentum_buffer", .role = RT_SLOT_STATE, .dtype = RT_F64,
		 .rank = 2, .dim = {2, 3}},
	};
	rt_exec x = {.backend = "fuzz", .slots = slots, .nslots = 3};
	rt_store st = {0};
	rt_err err = {0};
	FUZZ_CHECK(rt_store_add_exec(&st, &x, &err) == 0);
	float *w = rt_store_addr(&st, "fc.weight");
	for (int i = 0; i < 6; i++)
		w[i] = 7.0f;
	const char *hashes[2] = {NULL, "fuzz-model"};
	for (int h = 0; h < 2; h++) {
		rt_ckpt_info info;
		memset(&info, 0, sizeof info);
		rt_err e = {0};
		float before[6];
		memcpy(before, w, sizeof before);
		if (rt_ckpt_read(path, &st, hashes[h], &info, &e)) {
			FUZZ_CHECK(e.msg[0] != '\0');
			FUZZ_CHECK(memcmp(before, w, sizeof before) == 0);
		} else {
			FUZZ_CHECK(info.step >= 0 && info.epoch >= 0);
			FUZZ_CHECK(memchr(info.epoch_sums, 0, sizeof info.epoch_sums) != NULL);
			FUZZ_CHECK(memchr(info.best, 0, sizeof info.best) != NULL);
			FUZZ_CHECK(memchr(info.early, 0, sizeof info.early) != NULL);
			FUZZ_CHECK(memchr(info.program_hash, 0, sizeof info.program_hash) != NULL);
		}
	}
	rt_store_free(&st);
	unlink(path);
	return 0;
}
