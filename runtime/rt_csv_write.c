/* rt_csv_write.c - RFC 4180 CSV records (see rt_csv_write.h). */
#include "rt_csv_write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void sep(rt_csvw *w)
{
	if (w->nfield++ > 0)
		fputc(',', w->f);
}

void rt_csvw_field(rt_csvw *w, const char *s)
{
	sep(w);
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, w->f);
		return;
	}
	fputc('"', w->f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', w->f);
		fputc(*s, w->f);
	}
	fputc('"', w->f);
}

void rt_csv_format_double(char *buf, size_t len, double v)
{
	if (v == floor(v) && fabs(v) < 1e15) { /* a count: 20, not 2e+01 */
		snprintf(buf, len, "%.0f", v);
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, len, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

void rt_csvw_number(rt_csvw *w, double v)
{
	if (!isfinite(v)) {
		rt_csvw_empty(w);
		return;
	}
	char buf[40];
	rt_csv_format_double(buf, sizeof buf, v);
	sep(w);
	fputs(buf, w->f);
}

void rt_csvw_empty(rt_csvw *w)
{
	sep(w);
}

void rt_csvw_end(rt_csvw *w)
{
	fputs("\r\n", w->f);
	w->nfield = 0;
}

void rt_csv_fields_free(char **fields, int n)
{
	for (int i = 0; i < n; i++)
		free(fields[i]);
	free(fields);
}

/* Appends c to the growing string *s (length *n, capacity *cap). */
static int put(char **s, size_t *n, size_t *cap, int c)
{
	if (*n + 1 >= *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		char *t = realloc(*s, nc);
		if (!t)
			return -1;
		*s = t;
		*cap = nc;
	}
	(*s)[(*n)++] = (char)c;
	(*s)[*n] = 0;
	return 0;
}

static int push_field(char ***fields, int *n, char *s)
{
	char **t = realloc(*fields, (size_t)(*n + 1) * sizeof **fields);
	if (!t) {
		free(s);
		return -1;
	}
	*fields = t;
	t[(*n)++] = s ? s : calloc(1, 1);
	return t[*n - 1] ? 0 : -1;
}

int rt_csv_read_record(FILE *f, const char *path, char ***fields, int *n, rt_err *err)
{
	*fields = NULL;
	*n = 0;
	int c = fgetc(f);
	if (c == EOF)
		return 0;
	char *s = NULL;
	size_t len = 0, cap = 0;
	int quoted = 0, oom = 0;
	for (;; c = fgetc(f)) {
		if (quoted) {
			if (c == EOF) {
				free(s);
				rt_csv_fields_free(*fields, *n);
				*fields = NULL;
				*n = 0;
				return rt_errf(err, "%s: a quoted field is not closed", path);
			}
			if (c == '"') {
				int d = fgetc(f);
				if (d != '"') {
					quoted = 0;
					ungetc(d, f);
					continue;
				}
			}
			oom |= put(&s, &len, &cap, c);
			continue;
		}
		if (c == '"' && len == 0) {
			quoted = 1;
			continue;
		}
		if (c == ',' || c == '\n' || c == EOF) {
			oom |= push_field(fields, n, s);
			s = NULL;
			len = cap = 0;
			if (c != ',')
				break;
			continue;
		}
		if (c == '\r') {
			int d = fgetc(f);
			if (d == '\n') {
				oom |= push_field(fields, n, s);
				s = NULL;
				break;
			}
			ungetc(d, f);
		}
		oom |= put(&s, &len, &cap, c);
	}
	if (oom) {
		rt_csv_fields_free(*fields, *n);
		*fields = NULL;
		*n = 0;
		return rt_errf(err, "%s: out of memory reading a CSV record", path);
	}
	return 1;
}
