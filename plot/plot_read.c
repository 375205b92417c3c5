/*
 * plot_read.c - a metrics file's records as curves (see plot.h): step
 * records give the lr over the steps, other records their train_, val_ and
 * test_ keys over the epochs.
 */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

static const char *const splits[] = {"train", "val", "test", NULL};

void plot_run_free(plot_run *r)
{
	for (int i = 0; i < r->ns; i++)
		free(r->s[i].pt);
	free(r->s);
	free(r->lr.pt);
	memset(r, 0, sizeof *r);
}

static int add_point(plot_series *s, double x, double y)
{
	if (s->n == s->cap) {
		int nc = s->cap ? s->cap * 2 : 16;
		plot_pt *p = realloc(s->pt, (size_t)nc * sizeof *p);
		if (!p)
			return -1;
		s->pt = p;
		s->cap = nc;
	}
	s->pt[s->n++] = (plot_pt){x, y};
	return 0;
}

/* The series of split/metric, added if new; NULL when out of memory. */
static plot_series *series(plot_run *r, const char *split, const char *metric)
{
	for (int i = 0; i < r->ns; i++)
		if (!strcmp(r->s[i].split, split) && !strcmp(r->s[i].metric, metric))
			return &r->s[i];
	if (r->ns == r->cap) {
		int nc = r->cap ? r->cap * 2 : 8;
		plot_series *s = realloc(r->s, (size_t)nc * sizeof *s);
		if (!s)
			return NULL;
		r->s = s;
		r->cap = nc;
	}
	plot_series *s = &r->s[r->ns++];
	memset(s, 0, sizeof *s);
	snprintf(s->split, sizeof s->split, "%s", split);
	snprintf(s->metric, sizeof s->metric, "%s", metric);
	return s;
}

/* The split a key starts with ("train_loss" -> "train", *metric "loss"). */
static const char *split_of(const char *key, const char **metric)
{
	for (int i = 0; splits[i]; i++) {
		size_t n = strlen(splits[i]);
		if (!strncmp(key, splits[i], n) && key[n] == '_' && key[n + 1]) {
			*metric = key + n + 1;
			return splits[i];
		}
	}
	return NULL;
}

/* A number, or NaN for null; 0 for anything else (not a value). */
static int value_of(const cJSON *v, double *out)
{
	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return 1;
	}
	if (cJSON_IsNull(v)) {
		*out = NAN;
		return 1;
	}
	return 0;
}

/* Copies a line into out with the bare words NaN, Infinity and -Infinity
 * (Python's json writes them) outside strings turned into null, which
 * strict JSON parsers read. out has room for 2 * n + 1 bytes. */
static size_t sanitize(const char *s, size_t n, char *out)
{
	size_t o = 0;
	int in_str = 0;
	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (in_str) {
			out[o++] = c;
			i++;
			if (c == '\\' && i < n)
				out[o++] = s[i++];
			else if (c == '"')
				in_str = 0;
			continue;
		}
		const char *words[] = {"-Infinity", "Infinity", "NaN"};
		int hit = 0;
		for (int w = 0; w < 3 && !hit; w++) {
			size_t k = strlen(words[w]);
			if (i + k <= n && !memcmp(s + i, words[w], k)) {
				memcpy(out + o, "null", 4);
				o += 4;
				i += k;
				hit = 1;
			}
		}
		if (hit)
			continue;
		in_str = c == '"';
		out[o++] = c;
		i++;
	}
	out[o] = 0;
	return o;
}

static int oom(const char *path, rt_err *err)
{
	return rt_errf(err, "%s: out of memory reading the metrics", path);
}

/* One record; *last_epoch carries the epoch of records without one. */
static int take_record(plot_run *r, const cJSON *o, double *last_epoch, const char *path,
                       rt_err *err)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
	double x;
	if (cJSON_IsString(kind) && !strcmp(kind->valuestring, "step")) {
		const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
		double lr;
		if (cJSON_IsNumber(step) && value_of(cJSON_GetObjectItemCaseSensitive(o, "lr"), &lr) &&
		    add_point(&r->lr, step->valuedouble, lr))
			return oom(path, err);
		return 0;
	}
	const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(o, "epoch");
	if (cJSON_IsNumber(epoch))
		*last_epoch = epoch->valuedouble;
	x = *last_epoch;
	if (isnan(x))
		return 0; /* no epoch yet to place it at */
	for (const cJSON *it = o->child; it; it = it->next) {
		const char *metric, *split = it->string ? split_of(it->string, &metric) : NULL;
		double y;
		if (!split || !value_of(it, &y))
			continue;
		plot_series *s = series(r, split, metric);
		if (!s || add_point(s, x, y))
			return oom(path, err);
	}
	return 0;
}

int plot_run_parse(plot_run *r, const char *path, const char *text, size_t len,
                   const char *label, rt_err *err)
{
	memset(r, 0, sizeof *r);
	snprintf(r->label, sizeof r->label, "%s", label ? label : path);
	snprintf(r->lr.split, sizeof r->lr.split, "train");
	snprintf(r->lr.metric, sizeof r->lr.metric, "lr");
	char *buf = NULL;
	size_t cap = 0;
	double last_epoch = NAN;
	int line = 0, rc = 0;
	for (size_t at = 0; at < len && rc == 0;) {
		const char *s = text + at, *nl = memchr(s, '\n', len - at);
		size_t n = nl ? (size_t)(nl - s) : len - at;
		at += n + 1;
		line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		size_t k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (k == n)
			continue; /* blank */
		if (2 * n + 1 > cap) {
			free(buf);
			cap = 2 * n + 1;
			if (!(buf = malloc(cap))) {
				rc = oom(path, err);
				break;
			}
		}
		size_t m = sanitize(s, n, buf);
		cJSON *o = cJSON_ParseWithLength(buf, m);
		if (!cJSON_IsObject(o)) {
			cJSON_Delete(o);
			if (!nl)
				break; /* the last line, still being written */
			rc = rt_errf(err, "%s:%d: %s", path, line, o ? "not a JSON object (a metrics "
			             "record is one object per line)" : "not valid JSON");
			break;
		}
		rc = take_record(r, o, &last_epoch, path, err);
		cJSON_Delete(o);
	}
	free(buf);
	if (rc == 0 && r->ns == 0 && r->lr.n == 0)
		rc = rt_errf(err, "%s: no records to draw (expected JSON lines of samc's metrics: "
		             "\"kind\": \"epoch\" with train_NAME keys, or \"step\" with \"lr\")", path);
	if (rc)
		plot_run_free(r);
	return rc;
}

int plot_run_read(plot_run *r, const char *path, const char *label, rt_err *err)
{
	memset(r, 0, sizeof *r);
	FILE *f = fopen(path, "rb");
	if (!f)
		return rt_errf(err, "%s: cannot open the metrics file: %s", path, strerror(errno));
	char *text = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			size_t nc = cap ? cap * 2 : 1 << 16;
			char *t = realloc(text, nc);
			if (!t) {
				free(text);
				fclose(f);
				return oom(path, err);
			}
			text = t;
			cap = nc;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	int rc = bad ? rt_errf(err, "%s: error reading the metrics file", path)
	             : plot_run_parse(r, path, text, len, label, err);
	free(text);
	return rc;
}

plot_format plot_format_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/')) {
		if (!strcasecmp(dot, ".png"))
			return PLOT_PNG;
		if (!strcasecmp(dot, ".svg"))
			return PLOT_SVG;
	}
	return PLOT_UNKNOWN;
}
