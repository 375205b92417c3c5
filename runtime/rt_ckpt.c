/* rt_ckpt.c - checkpoint write, verify and load (see rt_ckpt.h). */
#include "rt_ckpt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rt_dataset.h"
#include "rt_safetensors.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= FNV_PRIME;
	}
	return h;
}

static int cmp_tensor_name(const void *a, const void *b)
{
	const rt_tensor *x = *(rt_tensor *const *)a, *y = *(rt_tensor *const *)b;
	return strcmp(x->name, y->name);
}

uint64_t rt_ckpt_checksum(const rt_tensors *ts)
{
	const rt_tensor **v = malloc((size_t)(ts->n > 0 ? ts->n : 1) * sizeof *v);
	if (!v)
		return 0; /* a zero sum never matches a real one: reported as corrupted */
	for (int i = 0; i < ts->n; i++)
		v[i] = &ts->t[i];
	qsort(v, (size_t)ts->n, sizeof *v, cmp_tensor_name);
	uint64_t h = FNV_OFFSET;
	for (int i = 0; i < ts->n; i++) {
		const rt_tensor *t = v[i];
		h = fnv(h, t->name, strlen(t->name) + 1);
		const char *dn = rt_dtype_name(t->dtype);
		h = fnv(h, dn, strlen(dn) + 1);
		unsigned char le[8];
		for (int d = -1; d < t->rank; d++) {
			uint64_t x = d < 0 ? (uint64_t)t->rank : (uint64_t)t->dim[d];
			for (int k = 0; k < 8; k++)
				le[k] = (unsigned char)(x >> (8 * k));
			h = fnv(h, le, 8);
		}
		h = fnv(h, t->data, rt_tensor_bytes(t));
	}
	free(v);
	return h;
}

static int saved_role(rt_slot_role r)
{
	return r == RT_SLOT_PARAM || r == RT_SLOT_STATE;
}

/* A step's accumulators (accum.*, passes/pass_micro.h) are zero between
 * steps and exist or not with the micro-batches and ranks of a run: a
 * checkpoint leaves them out, so that it resumes with any of those. */
static int is_accum(const char *name) { return strncmp(name, "accum.", 6) == 0; }

static int saved(const rt_slot *s) { return saved_role(s->role) && !is_accum(s->name); }

int rt_ckpt_write(const char *path, const rt_store *st, const rt_ckpt_info *info, rt_err *err)
{
	rt_tensors ts = {0};
	rt_meta meta = {0};
	int rc = -1;
	for (int i = 0; i < st->n; i++) {
		const rt_store_buf *b = &st->buf[i];
		if (!saved(&b->slot))
			continue;
		rt_tensor *t = rt_tensors_add(&ts, b->slot.name, b->slot.dtype, b->slot.rank, b->slot.dim);
		if (!t) {
			rt_errf(err, "%s: out of memory for tensor '%s'", path, b->slot.name);
			goto out;
		}
		if (rt_store_download(st, i, t->data, err))
			goto out;
	}
	char v[64];
	rt_meta_set(&meta, "format", "samc-ckpt");
	snprintf(v, sizeof v, "%d", RT_CKPT_VERSION);
	rt_meta_set(&meta, "format_version", v);
	snprintf(v, sizeof v, "%" PRId64, info->step);
	rt_meta_set(&meta, "step", v);
	snprintf(v, sizeof v, "%" PRId64, info->epoch);
	rt_meta_set(&meta, "epoch", v);
	snprintf(v, sizeof v, "%" PRIu64, info->seed);
	rt_meta_set(&meta, "seed", v);
	snprintf(v, sizeof v, "%016" PRIx64, rt_dataset_shuffle_stream(info->epoch));
	rt_meta_set(&meta, "shuffle_stream", v);
	snprintf(v, sizeof v, "%" PRId64, info->batch_size);
	rt_meta_set(&meta, "batch_size", v);
	snprintf(v, sizeof v, "%" PRId64, info->epochs);
	rt_meta_set(&meta, "epochs", v);
	rt_meta_set(&meta, "program_hash", info->program_hash);
	snprintf(v, sizeof v, "fnv1a64:%016" PRIx64, rt_ckpt_checksum(&ts));
	rt_meta_set(&meta, "checksum", v);
	int nmeta = 10;
	if (info->epoch_sums[0]) {
		rt_meta_set(&meta, "epoch_sums", info->epoch_sums);
		nmeta++;
	}
	if (info->best[0]) {
		rt_meta_set(&meta, "best", info->best);
		nmeta++;
	}
	if (info->early[0]) {
		rt_meta_set(&meta, "early_stopping", info->early);
		nmeta++;
	}
	if (info->val_split > 0) { /* the shortest that reads back as the same double */
		for (int digits = 15; digits <= 17; digits++) {
			snprintf(v, sizeof v, "%.*g", digits, info->val_split);
			if (strtod(v, NULL) == info->val_split)
				break;
		}
		rt_meta_set(&meta, "val_split", v);
		nmeta++;
	}
	if (meta.n != nmeta) {
		rt_errf(err, "%s: out of memory for the checkpoint metadata", path);
		goto out;
	}
	rc = rt_st_write(path, &ts, &meta, err);
out:
	rt_tensors_free(&ts);
	rt_meta_free(&meta);
	return rc;
}

/* A metadata integer; -1 with err when absent or malformed. */
static int meta_int(const char *path, const rt_meta *m, const char *key, int64_t *out,
                    rt_err *err)
{
	const char *s = rt_meta_get(m, key);
	char *end;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v < 0)
		return rt_errf(err, "%s: checkpoint metadata '%s' is %s%s%s (expected a non-negative "
		               "integer)", path, key, s ? "'" : "missing", s ? s : "", s ? "'" : "");
	*out = v;
	return 0;
}

/* Every saved slot of st in ts, same dtype and shape, and nothing else;
 * the message (in err) does not name the file. */
static int check_tensors(const rt_store *st, const rt_tensors *ts, rt_err *err)
{
	for (int i = 0; i < st->n; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if (!saved(s))
			continue;
		const rt_tensor *t = rt_tensors_find(ts, s->name);
		if (!t)
			return rt_errf(err, "tensor '%s' is missing from the checkpoint", s->name);
		int same = t->dtype == s->dtype && t->rank == s->rank;
		for (int d = 0; same && d < s->rank; d++)
			same = t->dim[d] == s->dim[d];
		if (!same) {
			char a[96], b[96];
			rt_shape_str(a, sizeof a, t->rank, t->dim);
			rt_shape_str(b, sizeof b, s->rank, s->dim);
			return rt_errf(err, "tensor '%s' is %s %s in the checkpoint, expected %s %s",
			               s->name, rt_dtype_name(t->dtype), a, rt_dtype_name(s->dtype), b);
		}
	}
	for (int i = 0; i < ts->n; i++) {
		int k = rt_store_find(st, ts->t[i].name);
		if (is_accum(ts->t[i].name)) /* an older checkpoint's: zero, skipped */
			continue;
		if (k < 0 || !saved_role(st->buf[k].slot.role))
			return rt_errf(err, "tensor '%s' of the checkpoint is not a parameter or state "
			               "of this model", ts->t[i].name);
	}
	return 0;
}

int rt_ckpt_read(const char *path, rt_store *st, const char *expect_hash, rt_ckpt_info *info,
                 rt_err *err)
{
	rt_tensors ts = {0};
	rt_meta meta = {0};
	rt_ckpt_info in = {0};
	int rc = -1;
	if (rt_st_read(path, &ts, &meta, err))
		return -1;
	const char *fmt = rt_meta_get(&meta, "format");
	const char *ver = rt_meta_get(&meta, "format_version");
	const char *hash = rt_meta_get(&meta, "program_hash");
	const char *sum = rt_meta_get(&meta, "checksum");
	if (!fmt || strcmp(fmt, "samc-ckpt") != 0) {
		rt_errf(err, "%s: not a samc checkpoint (no \"format\": \"samc-ckpt\" in its metadata)",
		        path);
		goto out;
	}
	if (!ver || atoi(ver) != RT_CKPT_VERSION) {
		rt_errf(err, "%s: checkpoint format version %s is not supported (expected %d)", path,
		        ver ? ver : "(missing)", RT_CKPT_VERSION);
		goto out;
	}
	if (expect_hash && (!hash || strcmp(hash, expect_hash) != 0)) {
		/* say which tensor differs when one does (another dtype, shape or
		 * layer), else only that the programs differ */
		rt_err why = {{0}};
		int differs = check_tensors(st, &ts, &why) != 0;
		int64_t b = -1;
		if (info && meta_int(path, &meta, "batch_size", &b, &why) == 0)
			info->batch_size = b; /* the caller can say the batch size changed */
		rt_errf(err, "%s: checkpoint is from a different model (program hash %s, expected %s)%s%s",
		        path, hash ? hash : "(none)", expect_hash, differs ? ": " : "",
		        differs ? why.msg : "");
		goto out;
	}
	char want[64];
	snprintf(want, sizeof want, "fnv1a64:%016" PRIx64, rt_ckpt_checksum(&ts));
	if (!sum || strcmp(sum, want) != 0) {
		rt_errf(err, "%s: corrupted (checksum mismatch: recorded %s, computed %s)", path,
		        sum ? sum : "(none)", want);
		goto out;
	}
	rt_err why = {{0}};
	if (check_tensors(st, &ts, &why)) {
		rt_errf(err, "%s: %s", path, why.msg);
		goto out;
	}
	if (meta_int(path, &meta, "step", &in.step, err) ||
	    meta_int(path, &meta, "epoch", &in.epoch, err) ||
	    meta_int(path, &meta, "batch_size", &in.batch_size, err))
		goto out;
	/* the run's planned epochs: absent from older checkpoints (0) */
	if (rt_meta_get(&meta, "epochs") && meta_int(path, &meta, "epochs", &in.epochs, err))
		goto out;
	const char *ss = rt_meta_get(&meta, "seed");
	char *end;
	errno = 0;
	in.seed = ss ? strtoull(ss, &end, 10) : 0;
	if (!ss || !*ss || *end || errno) {
		rt_errf(err, "%s: checkpoint metadata 'seed' is missing or malformed", path);
		goto out;
	}
	snprintf(in.program_hash, sizeof in.program_hash, "%s", hash ? hash : "");
	const char *sums = rt_meta_get(&meta, "epoch_sums");
	snprintf(in.epoch_sums, sizeof in.epoch_sums, "%s", sums ? sums : "");
	const char *best = rt_meta_get(&meta, "best");
	snprintf(in.best, sizeof in.best, "%s", best ? best : "");
	const char *early = rt_meta_get(&meta, "early_stopping");
	snprintf(in.early, sizeof in.early, "%s", early ? early : "");
	const char *vs = rt_meta_get(&meta, "val_split"); /* absent: none */
	in.val_split = vs ? strtod(vs, &end) : 0;
	if (vs && (!*vs || *end || !(in.val_split > 0))) {
		rt_errf(err, "%s: checkpoint metadata 'val_split' is malformed", path);
		goto out;
	}
	for (int i = 0; i < st->n; i++) {
		rt_store_buf *b = &st->buf[i];
		if (saved(&b->slot) &&
		    rt_store_upload(st, i, rt_tensors_find(&ts, b->slot.name)->data, err))
			goto out;
	}
	if (info)
		*info = in;
	rc = 0;
out:
	rt_tensors_free(&ts);
	rt_meta_free(&meta);
	return rc;
}

int rt_ckpt_peek_seed(const char *path, uint64_t *seed, rt_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return rt_errf(err, "%s: cannot open: %s", path, strerror(errno));
	unsigned char len8[8];
	uint64_t n = 0;
	char *head = NULL;
	if (fread(len8, 1, 8, f) == 8) {
		for (int i = 7; i >= 0; i--)
			n = n << 8 | len8[i];
		if (n < 100000000 && (head = malloc((size_t)n + 1)) && fread(head, 1, (size_t)n, f) == n)
			head[n] = 0;
		else {
			free(head);
			head = NULL;
		}
	}
	fclose(f);
	cJSON *h = head ? cJSON_Parse(head) : NULL;
	free(head);
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(h, "__metadata__");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(meta, "seed");
	char *end = NULL;
	errno = 0;
	if (cJSON_IsString(s) && *s->valuestring)
		*seed = strtoull(s->valuestring, &end, 10);
	int ok = end && !*end && !errno;
	cJSON_Delete(h);
	return ok ? 0 : rt_errf(err, "%s: not a samc checkpoint (no 'seed' in its metadata)", path);
}
