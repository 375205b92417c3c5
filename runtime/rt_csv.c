/*
 * rt_csv.c - numeric CSV files with a header row (see rt_data.h).
 *
 * Comma-separated, one record per line (LF or CRLF), an optional UTF-8 byte
 * order mark, blank lines skipped. Fields may be double-quoted ("" inside
 * quotes is a quote) but may not span lines. Spaces around fields are
 * ignored. Values are parsed with strtod in the C locale the runtime runs
 * in; NaN and infinities are rejected, since a data set holding them is
 * almost always a broken export.
 */
#include "rt_data.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_file.h"

typedef struct {
	const char *s;
	size_t n;
} csv_span;

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Splits [p, end) into fields; fills up to `max` spans with the field text
 * (trimmed, quotes removed: the text between them keeps "" pairs, which no
 * numeric field has). Returns the number of fields, or -1 on an unclosed
 * quote. */
static int split(const char *p, const char *end, csv_span *f, int max)
{
	int n = 0;
	for (;;) {
		while (p < end && is_space(*p))
			p++;
		const char *s = p, *e;
		if (p < end && *p == '"') {
			s = ++p;
			while (p < end && !(*p == '"' && (p + 1 == end || p[1] != '"')))
				p += *p == '"' ? 2 : 1;
			if (p >= end)
				return -1;
			e = p++;
			while (p < end && *p != ',')
				p++; /* text after the closing quote is ignored */
		} else {
			while (p < end && *p != ',')
				p++;
			e = p;
			while (e > s && is_space(e[-1]))
				e--;
		}
		if (n < max)
			f[n] = (csv_span){s, (size_t)(e - s)};
		n++;
		if (p >= end)
			return n;
		p++; /* the comma */
	}
}

static int is_int_dtype(rt_dtype t)
{
	return t != RT_F32 && t != RT_F64 && t != RT_F16 && t != RT_BF16;
}

/* Next line of the buffer: [*line, *eol) without the line ending. */
static int next_line(const char **p, const char *end, const char **line, const char **eol)
{
	if (*p >= end)
		return 0;
	*line = *p;
	const char *q = memchr(*p, '\n', (size_t)(end - *p));
	*p = q ? q + 1 : end;
	*eol = q ? q : end;
	if (*eol > *line && (*eol)[-1] == '\r')
		(*eol)--;
	return 1;
}

static int blank(const char *s, const char *e)
{
	while (s < e && is_space(*s))
		s++;
	return s == e;
}

/* One value: a finite number, and an exact integer in range for integer
 * dtypes (checked by a round trip through the dtype). */
static int parse_value(const char *path, int line, const char *col, csv_span f, rt_dtype want,
                       rt_tensor *probe, double *out, rt_err *err)
{
	char tmp[128];
	if (f.n == 0)
		return rt_errf(err, "%s:%d: column '%s': empty value", path, line, col);
	if (f.n >= sizeof tmp)
		return rt_errf(err, "%s:%d: column '%s': value '%.40s...' is not a number", path, line,
		               col, f.s);
	memcpy(tmp, f.s, f.n);
	tmp[f.n] = '\0';
	char *e;
	errno = 0;
	double v = strtod(tmp, &e);
	if (e == tmp || *e != '\0')
		return rt_errf(err, "%s:%d: column '%s': '%s' is not a number", path, line, col, tmp);
	if (!isfinite(v))
		return rt_errf(err, "%s:%d: column '%s': '%s' is not a finite number", path, line, col,
		               tmp);
	if (is_int_dtype(want)) {
		rt_tensor_set(probe, 0, v);
		if (v != floor(v) || rt_tensor_get(probe, 0) != v)
			return rt_errf(err, "%s:%d: column '%s': '%s' is not an integer that fits %s",
			               path, line, col, tmp, rt_dtype_name(want));
	}
	*out = v;
	return 0;
}

/* The parse proper, on the whole file text. */
static int parse(const char *path, const char *text, size_t len, const char **columns,
                 int ncolumns, rt_dtype want, rt_tensor *out, rt_err *err)
{
	const char *p = text, *end = text + len, *line = NULL, *eol = NULL;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	int lineno = 0;
	do {
		if (!next_line(&p, end, &line, &eol))
			return rt_errf(err, "%s: empty file: expected a header row", path);
		lineno++;
	} while (blank(line, eol));

	int nh = split(line, eol, NULL, 0);
	if (nh < 0)
		return rt_errf(err, "%s:%d: unclosed quote in the header", path, lineno);
	csv_span *f = malloc((size_t)nh * sizeof *f);
	int *sel = malloc((size_t)(columns ? ncolumns : nh) * sizeof *sel + 1);
	char **names = calloc((size_t)nh, sizeof *names);
	double *vals = NULL;
	size_t nvals = 0, cap = 0;
	int rc = 0, nsel = columns ? ncolumns : nh, rows = 0;
	rt_tensor probe = {0};
	int64_t one = 1;
	if (!f || !sel || !names || rt_tensor_init(&probe, "", want, 1, &one) != 0)
		rc = rt_errf(err, "%s: out of memory", path);
	if (!rc && columns && ncolumns <= 0)
		rc = rt_errf(err, "%s: no columns requested", path);
	if (!rc)
		split(line, eol, f, nh);
	for (int i = 0; !rc && i < nh; i++) {
		names[i] = strndup(f[i].s, f[i].n);
		if (!names[i])
			rc = rt_errf(err, "%s: out of memory", path);
	}
	for (int k = 0; !rc && k < nsel; k++) {
		sel[k] = columns ? -1 : k;
		for (int i = 0; columns && i < nh; i++) {
			if (strcmp(names[i], columns[k]) != 0)
				continue;
			if (sel[k] >= 0)
				rc = rt_errf(err, "%s: column '%s' appears twice in the header", path,
				             columns[k]);
			sel[k] = i;
		}
		if (!rc && sel[k] < 0)
			rc = rt_errf(err, "%s: no column '%s' in the header (line %d has %d columns, "
			             "the first '%s')", path, columns[k], lineno, nh, names[0]);
	}

	while (!rc && next_line(&p, end, &line, &eol)) {
		lineno++;
		if (blank(line, eol))
			continue;
		int n = split(line, eol, f, nh);
		if (n < 0) {
			rc = rt_errf(err, "%s:%d: unclosed quote", path, lineno);
			break;
		}
		if (n != nh) {
			rc = rt_errf(err, "%s:%d: row has %d fields, the header has %d", path, lineno, n,
			             nh);
			break;
		}
		if (nvals + (size_t)nsel > cap) {
			cap = cap ? 2 * cap : 1024 + (size_t)nsel;
			double *nv = realloc(vals, cap * sizeof *nv);
			if (!nv) {
				rc = rt_errf(err, "%s: out of memory at line %d", path, lineno);
				break;
			}
			vals = nv;
		}
		for (int k = 0; !rc && k < nsel; k++)
			rc = parse_value(path, lineno, names[sel[k]], f[sel[k]], want, &probe,
			                 &vals[nvals++], err);
		rows++;
	}
	if (!rc && rows == 0)
		rc = rt_errf(err, "%s: no data rows after the header", path);
	if (!rc) {
		int64_t dim[2] = {rows, nsel};
		if (rt_tensor_init(out, path, want, 2, dim) != 0)
			rc = rt_errf(err, "%s: out of memory for %d x %d values", path, rows, nsel);
		for (size_t i = 0; !rc && i < nvals; i++)
			rt_tensor_set(out, (int64_t)i, vals[i]);
	}
	for (int i = 0; names && i < nh; i++)
		free(names[i]);
	free(names);
	free(sel);
	free(f);
	free(vals);
	rt_tensor_free(&probe);
	return rc;
}

int rt_csv_read(const char *path, const char **columns, int ncolumns, rt_dtype want,
                rt_tensor *out, rt_err *err)
{
	memset(out, 0, sizeof *out);
	if (rt_dtype_size(want) == 0)
		return rt_errf(err, "%s: invalid target dtype %d", path, (int)want);
	char *text;
	size_t len;
	if (rt_file_read_all(path, &text, &len, err) != 0)
		return -1;
	int rc = parse(path, text, len, columns, ncolumns, want, out, err);
	free(text);
	return rc;
}

int64_t rt_csv_row_line(const char *path, int64_t row)
{
	char *text;
	size_t len;
	rt_err err;
	if (rt_file_read_all(path, &text, &len, &err) != 0)
		return -1;
	const char *p = text, *end = text + len, *line = NULL, *eol = NULL;
	int64_t lineno = 0, data = -1, found = -1; /* data: rows seen, -1 before the header */
	while (found < 0 && next_line(&p, end, &line, &eol)) {
		lineno++;
		if (blank(line, eol))
			continue;
		if (data++ == row)
			found = lineno;
	}
	free(text);
	return found;
}
