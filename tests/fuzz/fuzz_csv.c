/*
 * fuzz_csv.c - the CSV reader on arbitrary bytes: every column as F32,
 * two named columns as I32 (then the labels check, which names lines), and
 * the line lookup of a few rows.
 */
#include "fuzz_util.h"

#include "rt_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];
	fuzz_write(fuzz_scratch("csv", ".csv", path, sizeof path), data, size);
	rt_tensor t = {0};
	rt_err err = {0};
	fuzz_check_tensor(rt_csv_read(path, NULL, 0, RT_F32, &t, &err), &t, &err);
	const char *cols[] = {"label", "x"};
	rt_err err2 = {0};
	int rc = rt_csv_read(path, cols, 2, RT_I32, &t, &err2);
	if (rc == 0) {
		FUZZ_CHECK(t.rank == 2 && t.dim[1] == 2);
		rt_err err3 = {0};
		if (rt_labels_check_csv(path, &t, 10, &err3))
			FUZZ_CHECK(err3.msg[0] != '\0');
	}
	fuzz_check_tensor(rc, &t, &err2);
	for (int64_t row = 0; row < 3; row++)
		FUZZ_CHECK(rt_csv_row_line(path, row) >= -1);
	unlink(path);
	return 0;
}
