/*
 * rt_dataset.c - loading a data split and checking it against a step's
 * input slots (see rt_dataset.h). Batching lives in rt_dataset_batch.c.
 */
#include "rt_dataset.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_data.h"
#include "rt_noise.h"
#include "rt_safetensors.h"
#include "rt_store.h"

int rt_dataset_is_data_input(const rt_slot *s)
{
	return s->role == RT_SLOT_INPUT && strncmp(s->name, "opt.", 4) != 0 &&
	       strncmp(s->name, "eval.", 5) != 0 && !rt_noise_is_input(s);
}

void rt_dataset_free(rt_dataset *ds)
{
	for (int i = 0; i < ds->ncol; i++) {
		free(ds->col[i].input);
		free(ds->col[i].path);
		free(ds->col[i].data);
		free(ds->col[i].lut);
	}
	free(ds->col);
	memset(ds, 0, sizeof *ds);
}

/* Where relative data paths are taken from: --data DIR; else the model's
 * directory (recorded when the model was compiled, also in a trainer) if
 * it still exists; else the working directory (NULL). */
static const char *data_base(const data_config *dc, const char *data_dir)
{
	struct stat sb;
	if (data_dir)
		return data_dir;
	if (dc->base_dir && stat(dc->base_dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return dc->base_dir;
	return NULL;
}

/* A file that cannot be opened by a relative path: say where it was looked
 * for and how to look elsewhere. */
static void where_hint(const char *data_dir, const char *dir, const data_file *f,
                       const char *split, rt_err *err)
{
	if (!err || f->path[0] == '/' || !strstr(err->msg, "cannot open"))
		return;
	char cwd[1024];
	const char *where = dir, *what = data_dir ? "given by --data" : "the model's directory";
	if (!dir) {
		where = getcwd(cwd, sizeof cwd) ? cwd : ".";
		what = "the working directory";
	}
	size_t n = strlen(err->msg);
	snprintf(err->msg + n, sizeof err->msg - n, " (data.%s.%s = '%s' is relative: looked under "
	         "%s, %s; --data DIR takes relative paths under DIR)", split, f->input, f->path, where,
	         what);
}

static void join_path(char *buf, size_t n, const char *dir, const char *path)
{
	if (dir && dir[0] && path[0] != '/')
		snprintf(buf, n, "%s/%s", dir, path);
	else
		snprintf(buf, n, "%s", path);
}

/* The header row of a CSV file, split into at most `max` trimmed names.
 * Returns the count, or -1 with err set. */
static int csv_header(const char *path, char names[][64], int max, rt_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return rt_errf(err, "%s: cannot open: %s", path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len = getline(&line, &cap, f);
	fclose(f);
	if (len <= 0) {
		free(line);
		return rt_errf(err, "%s: empty file: expected a header row", path);
	}
	char *p = line;
	if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
		p += 3; /* UTF-8 byte order mark */
	int n = 0;
	for (;;) {
		char *e = p + strcspn(p, ",\r\n");
		char end = *e;
		*e = 0;
		while (*p == ' ' || *p == '\t' || *p == '"')
			p++;
		char *q = e;
		while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '"'))
			*--q = 0;
		if (n < max)
			snprintf(names[n], 64, "%s", p);
		n++;
		if (end != ',')
			break;
		p = e + 1;
	}
	free(line);
	return n < max ? n : max;
}

#define CSV_MAX_COLS 4096

/* Reads the columns of a CSV file that feed `input` (see rt_dataset.h). */
static int load_csv(const char *path, const data_file *f, const data_file *files, int nfiles,
                    rt_tensor *t, rt_err *err)
{
	static const int max = CSV_MAX_COLS;
	char (*names)[64] = malloc((size_t)max * sizeof *names);
	const char **cols = malloc((size_t)max * sizeof *cols);
	int rc = -1;
	if (!names || !cols) {
		rt_errf(err, "%s: out of memory reading the header", path);
		goto out;
	}
	int n = csv_header(path, names, max, err);
	if (n < 0)
		goto out;
	const char *input = f->input;
	int ncols = 0;
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], input) == 0) {
			cols[0] = names[i];
			ncols = 1;
		}
	if (ncols == 0) {
		for (int i = 0; i < n; i++) {
			int claimed = 0;
			for (int j = 0; j < nfiles; j++)
				if (strcmp(files[j].input, input) != 0 && strcmp(files[j].path, f->path) == 0 &&
				    strcmp(names[i], files[j].input) == 0)
					claimed = 1;
			if (!claimed)
				cols[ncols++] = names[i];
		}
	}
	if (ncols == 0) {
		rt_errf(err, "%s: no columns left for input '%s'", path, input);
		goto out;
	}
	rc = rt_csv_read(path, cols, ncols, RT_F64, t, err);
out:
	free(names);
	free(cols);
	return rc;
}

static int load_st(const char *path, const char *input, rt_tensor *t, rt_err *err)
{
	rt_tensors ts = {0};
	if (rt_st_read(path, &ts, NULL, err))
		return -1;
	rt_tensor *f = rt_tensors_find(&ts, input);
	if (!f && ts.n == 1)
		f = &ts.t[0];
	if (!f) {
		rt_tensors_free(&ts);
		return rt_errf(err, "%s: no tensor named '%s' (the file holds %d tensors)", path, input,
		               ts.n);
	}
	*t = *f;
	memset(f, 0, sizeof *f); /* moved out; the list frees the rest */
	rt_tensors_free(&ts);
	return 0;
}

/* A CIFAR binding: a comma-separated list of files read as one split; the
 * input declared with classes gets the labels, any other the images. */
static int load_cifar(const char *dir, const char *list, int cifar100, const rt_slot *s,
                      rt_tensor *t, rt_err *err)
{
	char *buf = strdup(list), *paths[RT_CIFAR_MAX_FILES], *save = NULL;
	int n = 0, rc = 0;
	if (!buf)
		return rt_errf(err, "out of memory");
	for (char *p = strtok_r(buf, ",", &save); p && !rc; p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		for (char *e = p + strlen(p); e > p && e[-1] == ' ';)
			*--e = 0;
		if (n == RT_CIFAR_MAX_FILES)
			rc = rt_errf(err, "data: '%s' names more than %d CIFAR files", list,
			             RT_CIFAR_MAX_FILES);
		else if ((paths[n] = malloc(4096)) == NULL)
			rc = rt_errf(err, "out of memory");
		else
			join_path(paths[n++], 4096, dir, p);
	}
	if (!rc && n == 0)
		rc = rt_errf(err, "data: input '%s' is bound to no CIFAR file ('%s')", s->name, list);
	if (!rc)
		rc = rt_cifar_read((const char *const *)paths, n, cifar100, s->nclasses > 0, t, err);
	for (int i = 0; i < n; i++)
		free(paths[i]);
	free(buf);
	return rc;
}

/* A .npy array: its shape past the first dimension must be the input's. */
static int load_npy(const char *path, const rt_slot *s, rt_tensor *t, rt_err *err)
{
	if (rt_npy_read(path, t, err))
		return -1;
	int same = t->rank == s->rank;
	for (int i = 1; same && i < s->rank; i++)
		same = t->dim[i] == s->dim[i];
	if (same)
		return 0;
	char ss[96], ts[96];
	rt_shape_str(ss, sizeof ss, s->rank, s->dim);
	rt_shape_str(ts, sizeof ts, t->rank, t->dim);
	rt_tensor_free(t);
	return rt_errf(err, "%s: array of shape %s does not fit input '%s' of shape %s: the "
	               "dimensions after the first (examples) must be the input's", path, ts,
	               s->name, ss);
}

static int load_file(const data_config *dc, const data_file *files, int nfiles, const char *dir,
                     const char *path, const data_file *f, const rt_slot *s, rt_tensor *t,
                     rt_err *err)
{
	const char *fmt = dc->format ? dc->format : "idx";
	if (strcmp(fmt, "idx") == 0)
		return rt_idx_read(path, RT_U8, t, err); /* kept as bytes: see make_col */
	if (strcmp(fmt, "csv") == 0)
		return load_csv(path, f, files, nfiles, t, err);
	if (strcmp(fmt, "safetensors") == 0)
		return load_st(path, f->input, t, err);
	if (strcmp(fmt, "cifar10") == 0 || strcmp(fmt, "cifar100") == 0)
		return load_cifar(dir, f->path, strcmp(fmt, "cifar100") == 0, s, t, err);
	if (strcmp(fmt, "npy") == 0)
		return load_npy(path, s, t, err);
	return rt_errf(err, "data format '%s' is not supported (expected idx, csv, safetensors, "
	               "cifar10, cifar100 or npy)", fmt);
}

/* Element i of dst (of dtype dt): the raw value v, normalised if asked. */
static void put_value(void *dst, rt_dtype dt, int64_t i, double v, int norm, double scale,
                      double mean, double std)
{
	if (norm)
		v = (v * scale - mean) / std;
	if (dt == RT_F32)
		((float *)dst)[i] = (float)v;
	else if (dt == RT_F64)
		((double *)dst)[i] = v;
	else
		((int32_t *)dst)[i] = (int32_t)lrint(v);
}

/* A per-channel data.mean / data.std needs an image input [B,C,H,W] with
 * as many channels as values. */
static int check_channels(const data_config *dc, const rt_slot *s, const char *ss, rt_err *err)
{
	const data_channels *d[2] = {&dc->mean, &dc->std};
	const char *what[2] = {"data.mean", "data.std"};
	for (int k = 0; k < 2; k++) {
		if (d[k]->n <= 1)
			continue;
		if (s->rank != 4)
			return rt_errf(err, "%s has %d values, one per channel, but input '%s' of shape %s "
			               "is not an image [B,C,H,W]", what[k], d[k]->n, s->name, ss);
		if (s->dim[1] != d[k]->n)
			return rt_errf(err, "%s has %d values, one per channel, but input '%s' of shape %s "
			               "has %" PRId64 " channels", what[k], d[k]->n, s->name, ss, s->dim[1]);
	}
	return 0;
}

/* Checks t against slot s and moves it into col: byte data stay bytes
 * behind a lookup table, anything else is converted (normalised, limited).
 * t is left for the caller to free. */
static int make_col(const data_config *dc, const char *path, const rt_slot *s, rt_tensor *t,
                    int64_t limit, rt_dataset_col *col, rt_err *err)
{
	char ss[96], ts[96];
	rt_shape_str(ss, sizeof ss, s->rank, s->dim);
	rt_shape_str(ts, sizeof ts, t->rank, t->dim);
	if (s->rank < 1)
		return rt_errf(err, "input '%s' has shape %s: a data input needs a batch dimension",
		               s->name, ss);
	if (t->rank < 1 || t->dim[0] == 0)
		return rt_errf(err, "%s: no examples (shape %s) for input '%s'", path, ts, s->name);
	int64_t row = 1, frow = 1;
	for (int i = 1; i < s->rank; i++)
		row *= s->dim[i];
	for (int i = 1; i < t->rank; i++)
		frow *= t->dim[i];
	if (row != frow)
		return rt_errf(err, "%s: examples of shape %s (%" PRId64 " values each) do not fit input "
		               "'%s' of shape %s (%" PRId64 " values per example)",
		               path, ts, frow, s->name, ss, row);
	if (s->nclasses > 0) {
		int csv = dc->format && strcmp(dc->format, "csv") == 0;
		if ((csv ? rt_labels_check_csv : rt_labels_check)(path, t, s->nclasses, err))
			return -1;
	}
	if (s->dtype != RT_I32 && s->nclasses == 0 && check_channels(dc, s, ss, err))
		return -1;
	int64_t n = t->dim[0];
	if (limit > 0 && limit < n)
		n = limit;
	size_t es = rt_dtype_size(s->dtype);
	if (s->dtype != RT_F32 && s->dtype != RT_F64 && s->dtype != RT_I32)
		return rt_errf(err, "input '%s' has dtype %s (expected F32, F64 or I32)", s->name,
		               rt_dtype_name(s->dtype));
	col->input = strdup(s->name);
	col->path = strdup(path);
	int bytes = t->dtype == RT_U8;
	col->data = bytes ? t->data : malloc((size_t)(n * row) * es + 1);
	col->lut = bytes ? malloc(256 * es) : NULL; /* one channel's; see below for more */
	if (bytes)
		t->data = NULL; /* moved into col */
	if (!col->data || !col->input || !col->path || (bytes && !col->lut))
		return rt_errf(err, "%s: out of memory for input '%s'", path, s->name);
	col->dtype = s->dtype;
	col->row = row;
	double scale = dc->scale != 0 ? dc->scale : 1.0;
	int norm = s->dtype != RT_I32 && s->nclasses == 0;
	int image = s->rank == 4 && norm;
	if (image) {
		col->chan = s->dim[1];
		col->height = s->dim[2];
		col->width = s->dim[3];
	}
	/* Per-channel mean/std: one lookup table (or value) per channel plane. */
	int64_t nchan = norm && (dc->mean.n > 1 || dc->std.n > 1) ? col->chan : 1;
	col->plane = nchan > 1 ? col->height * col->width : 0;
	if (bytes && nchan > 1) {
		free(col->lut);
		if (!(col->lut = malloc((size_t)(256 * nchan) * es)))
			return rt_errf(err, "%s: out of memory for input '%s'", path, s->name);
	}
	for (int64_t c = 0; c < nchan; c++) {
		double mean = norm ? data_channel(&dc->mean, c) : 0.0;
		double std = norm && data_channel(&dc->std, c) != 0 ? data_channel(&dc->std, c) : 1.0;
		col->zero[c] = norm ? (0.0 * scale - mean) / std : 0.0;
		if (bytes) {
			for (int v = 0; v < 256; v++)
				put_value(col->lut, s->dtype, c * 256 + v, v, norm, scale, mean, std);
			continue;
		}
		for (int64_t i = 0; i < n * row; i++)
			if (nchan == 1 || (i % row) / col->plane == c)
				put_value(col->data, s->dtype, i, rt_tensor_get(t, i), norm, scale, mean, std);
	}
	return 0;
}

int rt_dataset_load(rt_dataset *ds, const data_config *dc, int which, const char *data_dir,
                    const rt_exec *x, rt_err *err)
{
	int test = which == RT_SPLIT_TEST, val = which == RT_SPLIT_VAL;
	const char *split = test ? "test" : val ? "val" : "train";
	const data_file *files = test ? dc->test : val ? dc->val : dc->train;
	int nfiles = test ? dc->ntest : val ? dc->nval : dc->ntrain;
	int64_t limit = test ? dc->limit_test : val ? 0 : dc->limit_train;
	int64_t nfirst = 0;
	memset(ds, 0, sizeof *ds);
	/* A file bound to an input the step does not read (declared in the
	 * model but unused) is not loaded: the frontend checked the name. */
	for (int j = 0; j < nfiles; j++) {
		int k = rt_exec_find_slot(x, files[j].input);
		if (k >= 0 && !rt_dataset_is_data_input(&x->slots[k]))
			return rt_errf(err, "data: %s file '%s' is bound to '%s', which is not an input of "
			               "the model", split, files[j].path, files[j].input);
	}
	ds->col = calloc((size_t)(x->nslots > 0 ? x->nslots : 1), sizeof *ds->col);
	if (!ds->col)
		return rt_errf(err, "out of memory");
	for (int i = 0; i < x->nslots; i++) {
		const rt_slot *s = &x->slots[i];
		if (!rt_dataset_is_data_input(s))
			continue;
		const data_file *f = NULL;
		for (int j = 0; j < nfiles; j++)
			if (strcmp(files[j].input, s->name) == 0)
				f = &files[j];
		if (!f) {
			rt_errf(err, "data: input '%s' has no %s file in the recipe's data", s->name, split);
			goto fail;
		}
		char path[4096];
		const char *dir = data_base(dc, data_dir);
		join_path(path, sizeof path, dir, f->path);
		rt_tensor t = {0};
		if (load_file(dc, files, nfiles, dir, path, f, s, &t, err)) {
			where_hint(data_dir, dir, f, split, err);
			goto fail;
		}
		rt_dataset_col *col = &ds->col[ds->ncol++];
		int rc = make_col(dc, path, s, &t, limit, col, err);
		int64_t n = t.rank > 0 ? t.dim[0] : 0;
		rt_tensor_free(&t);
		if (rc)
			goto fail;
		/* Counts must agree in the files themselves, whatever the limit. */
		if (ds->ncol > 1 && n != nfirst) {
			rt_errf(err, "data: %s split: '%s' has %" PRId64 " examples (%s) but '%s' has %" PRId64
			        " (%s)", split, ds->col[0].input, nfirst, ds->col[0].path, s->name, n, path);
			goto fail;
		}
		if (ds->ncol == 1) {
			nfirst = n;
			ds->n = limit > 0 && limit < n ? limit : n;
		}
	}
	if (ds->ncol == 0) {
		rt_errf(err, "data: the model has no data inputs for the %s split", split);
		goto fail;
	}
	return 0;
fail:
	rt_dataset_free(ds);
	return -1;
}
