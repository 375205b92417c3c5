/*
 * test_ckpt.c - checkpoints of a slot store: round trip with metadata,
 * what is saved (params and state, not inputs), and every verification
 * failure on load leaving the store untouched. Also the store's own checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_ckpt.h"
#include "rt_safetensors.h"
#include "test_tmpdir.h"

typedef struct {
	char dir[4096];
	char path[4200];
	rt_slot slots[3];
	rt_exec x;
	rt_store st;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (tmpdir_make(f->dir, sizeof f->dir, "test_ckpt"))
		return -1;
	snprintf(f->path, sizeof f->path, "%s/ckpt.safetensors", f->dir);
	f->slots[0] = (rt_slot){.name = "w", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 2,
	                        .dim = {2, 3}};
	f->slots[1] = (rt_slot){.name = "opt.w.exp_avg", .role = RT_SLOT_STATE, .dtype = RT_F64,
	                        .rank = 2, .dim = {2, 3}};
	f->slots[2] = (rt_slot){.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 1,
	                        .dim = {4}};
	f->x = (rt_exec){.backend = "test", .slots = f->slots, .nslots = 3};
	rt_err err;
	if (rt_store_add_exec(&f->st, &f->x, &err))
		return -1;
	float *w = rt_store_addr(&f->st, "w");
	double *m = rt_store_addr(&f->st, "opt.w.exp_avg");
	for (int i = 0; i < 6; i++) {
		w[i] = 0.5f * (float)i - 1;
		m[i] = 1e-3 * i;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	tmpdir_remove(f->dir);
	rt_store_free(&f->st);
	free(f);
	return 0;
}

static void write_ckpt(fixture *f)
{
	rt_ckpt_info info = {.step = 1875, .epoch = 2, .seed = 0xfeedbeefcafeull, .batch_size = 64};
	snprintf(info.program_hash, sizeof info.program_hash, "abc123");
	rt_err err = {{0}};
	assert_int_equal(rt_ckpt_write(f->path, &f->st, &info, &err), 0);
}

static void test_round_trip(void **state)
{
	fixture *f = *state;
	write_ckpt(f);
	rt_tensors ts = {0};
	rt_meta meta = {0};
	rt_err err = {{0}};
	assert_int_equal(rt_st_read(f->path, &ts, &meta, &err), 0);
	assert_int_equal(ts.n, 2); /* the input "x" is not part of a checkpoint */
	assert_null(rt_tensors_find(&ts, "x"));
	assert_string_equal(rt_meta_get(&meta, "format"), "samc-ckpt");
	assert_string_equal(rt_meta_get(&meta, "format_version"), "1");
	assert_string_equal(rt_meta_get(&meta, "step"), "1875");
	assert_string_equal(rt_meta_get(&meta, "program_hash"), "abc123");
	char sum[64];
	snprintf(sum, sizeof sum, "fnv1a64:%016llx", (unsigned long long)rt_ckpt_checksum(&ts));
	assert_string_equal(rt_meta_get(&meta, "checksum"), sum);
	rt_tensors_free(&ts);
	rt_meta_free(&meta);

	float *w = rt_store_addr(&f->st, "w");
	double *m = rt_store_addr(&f->st, "opt.w.exp_avg");
	float w0[6];
	memcpy(w0, w, sizeof w0);
	memset(w, 0, sizeof w0);
	m[5] = 42;
	rt_ckpt_info in;
	assert_int_equal(rt_ckpt_read(f->path, &f->st, "abc123", &in, &err), 0);
	assert_memory_equal(w, w0, sizeof w0);
	assert_true(m[5] == 5e-3);
	assert_int_equal(in.step, 1875);
	assert_int_equal(in.epoch, 2);
	assert_true(in.seed == 0xfeedbeefcafeull);
	assert_int_equal(in.batch_size, 64);
	assert_string_equal(in.program_hash, "abc123");
	/* No expected hash: any model's checkpoint of the right shapes loads. */
	assert_int_equal(rt_ckpt_read(f->path, &f->st, NULL, NULL, &err), 0);
}

static void test_checksum_properties(void **state)
{
	(void)state;
	rt_tensors a = {0}, b = {0};
	int64_t d2[1] = {2}, d3[1] = {3};
	rt_tensors_add(&a, "p", RT_F32, 1, d2);
	rt_tensors_add(&a, "q", RT_F32, 1, d3);
	rt_tensors_add(&b, "q", RT_F32, 1, d3);
	rt_tensors_add(&b, "p", RT_F32, 1, d2);
	assert_true(rt_ckpt_checksum(&a) == rt_ckpt_checksum(&b)); /* order-free */
	uint64_t h = rt_ckpt_checksum(&a);
	((float *)a.t[0].data)[1] = 1e-30f;
	assert_true(rt_ckpt_checksum(&a) != h);
	((float *)a.t[0].data)[1] = 0;
	a.t[0].dim[0] = 1, a.t[0].rank = 2, a.t[0].dim[1] = 2; /* same bytes, other shape */
	assert_true(rt_ckpt_checksum(&a) != h);
	rt_tensors_free(&a);
	rt_tensors_free(&b);
}

/* Reading must fail with `want` in the message and leave the store as is. */
static void read_fails(fixture *f, rt_store *st, const char *hash, const char *want)
{
	float before[6];
	float *w = rt_store_addr(st, "w");
	if (w)
		memcpy(before, w, sizeof before);
	rt_err err = {{0}};
	assert_int_equal(rt_ckpt_read(f->path, st, hash, NULL, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("expected '%s' in: %s", want, err.msg);
	if (w)
		assert_memory_equal(w, before, sizeof before);
}

static void test_verification(void **state)
{
	fixture *f = *state;
	write_ckpt(f);
	char want[4400];
	snprintf(want, sizeof want, "%s: checkpoint is from a different model (program hash abc123, "
	         "expected zzz)", f->path);
	read_fails(f, &f->st, "zzz", want);

	/* A store with another shape, an extra param, a missing one. */
	rt_slot s2[2] = {f->slots[0], f->slots[1]};
	s2[0].dim[1] = 4;
	rt_exec x2 = {.backend = "test", .slots = s2, .nslots = 2};
	rt_store st2 = {0};
	rt_err err;
	assert_int_equal(rt_store_add_exec(&st2, &x2, &err), 0);
	read_fails(f, &st2, "abc123", "tensor 'w' is F32 [2,3] in the checkpoint, expected F32 [2,4]");
	rt_store_free(&st2);
	rt_slot s3[3] = {f->slots[0], f->slots[1],
	                 {.name = "b", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 1, .dim = {3}}};
	rt_exec x3 = {.backend = "test", .slots = s3, .nslots = 3};
	assert_int_equal(rt_store_add_exec(&st2, &x3, &err), 0);
	read_fails(f, &st2, "abc123", "tensor 'b' is missing from the checkpoint");
	rt_store_free(&st2);
	rt_exec x4 = {.backend = "test", .slots = s3, .nslots = 1};
	assert_int_equal(rt_store_add_exec(&st2, &x4, &err), 0);
	read_fails(f, &st2, "abc123", "tensor 'opt.w.exp_avg' of the checkpoint is not a parameter");
	rt_store_free(&st2);

	/* One flipped bit in the data. */
	FILE *fp = fopen(f->path, "r+b");
	fseek(fp, -3, SEEK_END);
	int c = fgetc(fp);
	fseek(fp, -3, SEEK_END);
	fputc(c ^ 1, fp);
	fclose(fp);
	snprintf(want, sizeof want, "%s: corrupted (checksum mismatch", f->path);
	read_fails(f, &f->st, "abc123", want);

	/* Truncated. */
	write_ckpt(f);
	struct stat sb;
	stat(f->path, &sb);
	assert_int_equal(truncate(f->path, sb.st_size - 1), 0);
	read_fails(f, &f->st, "abc123", f->path);

	/* A safetensors file that is not a checkpoint, and a future version. */
	rt_tensors ts = {0};
	rt_meta meta = {0};
	int64_t d[2] = {2, 3};
	rt_tensors_add(&ts, "w", RT_F32, 2, d);
	assert_int_equal(rt_st_write(f->path, &ts, NULL, &err), 0);
	read_fails(f, &f->st, "abc123", "not a samc checkpoint");
	rt_meta_set(&meta, "format", "samc-ckpt");
	rt_meta_set(&meta, "format_version", "2");
	assert_int_equal(rt_st_write(f->path, &ts, &meta, &err), 0);
	read_fails(f, &f->st, "abc123", "checkpoint format version 2 is not supported");
	rt_tensors_free(&ts);
	rt_meta_free(&meta);
}

static void test_store_conflicts(void **state)
{
	fixture *f = *state;
	rt_slot s[2] = {f->slots[0], f->slots[2]};
	rt_exec x = {.backend = "test", .slots = s, .nslots = 2};
	rt_err err = {{0}};
	assert_int_equal(rt_store_add_exec(&f->st, &x, &err), 0); /* same slots: shared */
	assert_int_equal(f->st.n, 3);
	s[1].dim[0] = 5;
	assert_int_equal(rt_store_add_exec(&f->st, &x, &err), -1);
	assert_string_equal(err.msg, "slot 'x' is F32 [4] in one step and F32 [5] in another");
	s[1].dim[0] = 4;
	s[0].role = RT_SLOT_STATE;
	assert_int_equal(rt_store_add_exec(&f->st, &x, &err), -1);
	assert_string_equal(err.msg, "slot 'w' is a parameter in one step and a state in another");
	rt_slot other = {.name = "nope", .role = RT_SLOT_INPUT, .dtype = RT_F32};
	rt_exec y = {.backend = "test", .slots = &other, .nslots = 1};
	assert_null(rt_store_bind(&f->st, &y, &err));
	assert_non_null(strstr(err.msg, "'nope'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test(test_checksum_properties),
		cmocka_unit_test_setup_teardown(test_verification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_conflicts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
