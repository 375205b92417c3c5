/*
 * rt_csv_write.h - CSV output as RFC 4180 defines it: fields separated by
 * commas, records ended by CRLF, a field quoted when it holds a comma, a
 * double quote, CR or LF (a quote inside doubled). Numbers are written in
 * the shortest form that reads back as the same double; a NaN or an
 * infinity is an empty field (as JSON's null is in the metrics file).
 *
 *     rt_csvw w = {f};
 *     rt_csvw_field(&w, "train_loss");
 *     rt_csvw_field(&w, "a,\"b\"");      -> "a,""b"""
 *     rt_csvw_end(&w);
 *     rt_csvw_number(&w, 0.1);           -> 0.1
 *     rt_csvw_end(&w);
 *
 * rt_csv_read_record reads one record back the same way (a header row of
 * an existing file, so a resumed run keeps its columns).
 */
#ifndef SAMC_RT_CSV_WRITE_H
#define SAMC_RT_CSV_WRITE_H

#include <stdio.h>

#include "rt_err.h"

typedef struct {
	FILE *f;
	int nfield; /* fields written in the current record */
} rt_csvw;

void rt_csvw_field(rt_csvw *w, const char *s);
void rt_csvw_number(rt_csvw *w, double v);
/* An empty field (a missing value). */
void rt_csvw_empty(rt_csvw *w);
void rt_csvw_end(rt_csvw *w);

/* The shortest "%.Ng" of v that strtod reads back as v (N <= 17); an
 * integer below 1e15 without an exponent. The metrics file writes its
 * numbers with it too. */
void rt_csv_format_double(char *buf, size_t len, double v);

/* Reads the next record of f into *fields (malloc'd strings, *n of them;
 * free with rt_csv_fields_free). Returns 1 for a record, 0 at the end of
 * the file, -1 with err on an unclosed quote (`path` names the file). */
int rt_csv_read_record(FILE *f, const char *path, char ***fields, int *n, rt_err *err);
void rt_csv_fields_free(char **fields, int n);

#endif
