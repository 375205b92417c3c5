/*
 * rt_safetensors.c - the safetensors reader (see rt_safetensors.h).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON (an object
 * mapping names to {dtype, shape, data_offsets}, plus an optional
 * "__metadata__" object of strings), then the data section. Offsets are
 * relative to the data section. Every field is validated before any data is
 * touched; gaps between tensors are tolerated, overlaps and out-of-range
 * offsets are not. Data is copied as is: host memory is little-endian.
 */
#include "rt_safetensors.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_file.h"

/* A header larger than this is not a real checkpoint but a corrupt length. */
#define ST_MAX_HEADER 100000000u

/* One validated header entry; name points into the cJSON tree. */
typedef struct {
	const char *name;
	rt_dtype dtype;
	int rank;
	int64_t dim[RT_MAX_DIMS];
	uint64_t begin, end;
} st_entry;

/* A JSON number that is an exact non-negative integer (doubles are exact up
 * to 2^53, far beyond any real size). */
static int json_uint(const cJSON *j, uint64_t *out)
{
	if (!cJSON_IsNumber(j))
		return -1;
	double v = j->valuedouble;
	if (!(v >= 0) || v > 9007199254740992.0 || v != floor(v))
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static void fmt_shape(char *buf, size_t n, int rank, const int64_t *dim)
{
	size_t k = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < rank && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, i ? "," : "", dim[i]);
	if (k < n)
		snprintf(buf + k, n - k, "]");
}

static int parse_meta(const cJSON *j, const char *what, rt_meta *meta, rt_err *err)
{
	if (!cJSON_IsObject(j))
		return rt_errf(err, "%s: \"__metadata__\" must be an object of strings", what);
	for (const cJSON *kv = j->child; kv; kv = kv->next) {
		if (!cJSON_IsString(kv))
			return rt_errf(err, "%s: \"__metadata__\" entry '%s' is not a string", what,
			               kv->string);
		if (meta)
			rt_meta_set(meta, kv->string, kv->valuestring);
	}
	return 0;
}

static int parse_entry(const cJSON *j, const char *what, size_t data_len, st_entry *e,
                       rt_err *err)
{
	const char *nm = j->string;
	e->name = nm;
	if (!cJSON_IsObject(j))
		return rt_errf(err, "%s: tensor '%s': entry is not an object", what, nm);
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
	if (!dt || !sh || !off)
		return rt_errf(err, "%s: tensor '%s': missing \"%s\"", what, nm,
		               !dt ? "dtype" : !sh ? "shape" : "data_offsets");
	if (!cJSON_IsString(dt))
		return rt_errf(err, "%s: tensor '%s': dtype is not a string", what, nm);
	if (rt_dtype_parse(dt->valuestring, &e->dtype) != 0)
		return rt_errf(err, "%s: tensor '%s': unknown dtype '%s' (supported: F64 F32 F16 "
		               "BF16 I64 I32 I16 I8 U64 U32 U16 U8)", what, nm, dt->valuestring);

	if (!cJSON_IsArray(sh))
		return rt_errf(err, "%s: tensor '%s': shape is not an array", what, nm);
	e->rank = cJSON_GetArraySize(sh);
	if (e->rank > RT_MAX_DIMS)
		return rt_errf(err, "%s: tensor '%s': rank %d exceeds the supported %d", what, nm,
		               e->rank, RT_MAX_DIMS);
	uint64_t numel = 1;
	int k = 0;
	for (const cJSON *d = sh->child; d; d = d->next, k++) {
		uint64_t v;
		if (json_uint(d, &v) != 0)
			return rt_errf(err, "%s: tensor '%s': shape[%d] is not a non-negative integer",
			               what, nm, k);
		e->dim[k] = (int64_t)v;
		/* bytes, not elements, bounded by 2^62: numel * v and numel * the
		 * dtype's size cannot wrap, and no such tensor fits a file */
		if (v && numel > ((UINT64_C(1) << 62) / rt_dtype_size(e->dtype)) / v) {
			char s[160];
			e->rank = k + 1;
			fmt_shape(s, sizeof s, e->rank, e->dim);
			return rt_errf(err, "%s: tensor '%s': shape %s%s of dtype %s needs more than 2^62 "
			               "bytes", what, nm, s, k + 1 < cJSON_GetArraySize(sh) ? "..." : "",
			               dt->valuestring);
		}
		numel *= v;
	}

	if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
	    json_uint(off->child, &e->begin) != 0 || json_uint(off->child->next, &e->end) != 0)
		return rt_errf(err, "%s: tensor '%s': data_offsets must be two non-negative integers "
		               "[begin, end]", what, nm);
	if (e->begin > e->end)
		return rt_errf(err, "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 ") has "
		               "begin after end", what, nm, e->begin, e->end);
	if (e->end > data_len)
		return rt_errf(err, "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 ") out of "
		               "range: data section has %zu bytes (file truncated?)", what, nm,
		               e->begin, e->end, data_len);
	uint64_t need = numel * rt_dtype_size(e->dtype);
	if (e->end - e->begin != need) {
		char s[160];
		fmt_shape(s, sizeof s, e->rank, e->dim);
		return rt_errf(err, "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 ") hold %"
		               PRIu64 " bytes but dtype %s shape %s needs %" PRIu64, what, nm,
		               e->begin, e->end, e->end - e->begin, dt->valuestring, s, need);
	}
	return 0;
}

static int cmp_begin(const void *a, const void *b)
{
	const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
	return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

/* Duplicate names (JSON allows repeated keys, cJSON keeps both) and
 * overlapping byte ranges, each found by sorting. */
static int check_layout(st_entry *e, int n, const char *what, rt_err *err)
{
	if (n < 2)
		return 0;
	st_entry **p = malloc((size_t)n * sizeof *p);
	if (!p)
		return rt_errf(err, "%s: out of memory", what);
	for (int i = 0; i < n; i++)
		p[i] = &e[i];
	int rc = 0;
	qsort(p, (size_t)n, sizeof *p, cmp_name);
	for (int i = 1; i < n && !rc; i++)
		if (strcmp(p[i - 1]->name, p[i]->name) == 0)
			rc = rt_errf(err, "%s: duplicate tensor name '%s' in header", what, p[i]->name);
	qsort(p, (size_t)n, sizeof *p, cmp_begin);
	/* Empty tensors occupy no bytes and cannot overlap anything. */
	const st_entry *last = NULL;
	for (int i = 0; i < n && !rc; i++) {
		if (p[i]->begin == p[i]->end)
			continue;
		if (last && p[i]->begin < last->end)
			rc = rt_errf(err, "%s: tensors '%s' [%" PRIu64 ",%" PRIu64 ") and '%s' [%" PRIu64
			             ",%" PRIu64 ") overlap", what, last->name, last->begin, last->end,
			             p[i]->name, p[i]->begin, p[i]->end);
		if (!last || p[i]->end > last->end)
			last = p[i];
	}
	free(p);
	return rc;
}

static int is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int rt_st_parse(const void *buf, size_t len, const char *what, rt_tensors *out,
                rt_meta *meta, rt_err *err)
{
	const unsigned char *b = buf;
	rt_tensors ts = {0};
	rt_meta md = {0};
	memset(out, 0, sizeof *out);
	if (len < 8)
		return rt_errf(err, "%s: file too short (%zu bytes): a safetensors file starts with "
		               "an 8-byte header length", what, len);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | b[i];
	if (hlen > ST_MAX_HEADER)
		return rt_errf(err, "%s: header length %" PRIu64 " is absurd (limit %u bytes): not "
		               "a safetensors file, or a corrupt one", what, hlen, ST_MAX_HEADER);
	if (hlen > len - 8)
		return rt_errf(err, "%s: header length %" PRIu64 " exceeds the file: only %zu bytes "
		               "follow the 8-byte length (file truncated?)", what, hlen, len - 8);
	const char *hdr = (const char *)b + 8, *end = NULL;
	size_t dlen = len - 8 - (size_t)hlen;
	const unsigned char *data = b + 8 + hlen;

	cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
	if (!root) {
		size_t at = end && end >= hdr ? (size_t)(end - hdr) : 0;
		return rt_errf(err, "%s: header is not valid JSON (error near byte %zu of the "
		               "%" PRIu64 "-byte header)", what, at, hlen);
	}
	int rc = 0;
	for (const char *p = end; p && p < hdr + hlen && !rc; p++)
		if (!is_json_space(*p))
			rc = rt_errf(err, "%s: unexpected bytes after the JSON header at byte %zu "
			             "(header padding must be spaces)", what, (size_t)(p - hdr));
	if (!rc && !cJSON_IsObject(root))
		rc = rt_errf(err, "%s: header is not a JSON object", what);

	int n = 0;
	st_entry *e = NULL;
	if (!rc) {
		e = calloc((size_t)cJSON_GetArraySize(root) + 1, sizeof *e);
		if (!e)
			rc = rt_errf(err, "%s: out of memory", what);
	}
	for (const cJSON *j = rc ? NULL : root->child; j && !rc; j = j->next) {
		if (strcmp(j->string, "__metadata__") == 0)
			rc = parse_meta(j, what, &md, err);
		else
			rc = parse_entry(j, what, dlen, &e[n++], err);
	}
	if (!rc)
		rc = check_layout(e, n, what, err);
	for (int i = 0; i < n && !rc; i++) {
		rt_tensor *t = rt_tensors_add(&ts, e[i].name, e[i].dtype, e[i].rank, e[i].dim);
		if (!t) {
			rc = rt_errf(err, "%s: tensor '%s': out of memory", what, e[i].name);
			break;
		}
		if (e[i].end > e[i].begin)
			memcpy(t->data, data + e[i].begin, (size_t)(e[i].end - e[i].begin));
	}
	free(e);
	cJSON_Delete(root);
	if (rc) {
		rt_tensors_free(&ts);
		rt_meta_free(&md);
		return rc;
	}
	*out = ts;
	if (meta)
		*meta = md;
	else
		rt_meta_free(&md);
	return 0;
}

int rt_st_read(const char *path, rt_tensors *out, rt_meta *meta, rt_err *err)
{
	char *buf;
	size_t len;
	memset(out, 0, sizeof *out);
	if (rt_file_read_all(path, &buf, &len, err) != 0)
		return -1;
	int rc = rt_st_parse(buf, len, path, out, meta, err);
	free(buf);
	return rc;
}
