/*
 * rt_progress_csv.c - the CSV log (recipe log.csv): one row per epoch
 * record of the metrics file, beside it (metrics.jsonl -> metrics.csv).
 * The columns are the first epoch record's keys ("kind" left out), so any
 * train_/val_/test_ key of the records is a column without a list here; a
 * resumed run appends under the header the file already has. A key a row
 * lacks, and a NaN or infinity (null in the JSON lines), is an empty field.
 */
#include "rt_progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "rt_csv_write.h"

int rt_progress_csv_path(const char *metrics_path, char *out, size_t len)
{
	const char *slash = strrchr(metrics_path, '/');
	const char *base = slash ? slash + 1 : metrics_path;
	const char *dot = strrchr(base, '.');
	size_t stem = dot && dot != base ? (size_t)(dot - metrics_path) : strlen(metrics_path);
	int n = snprintf(out, len, "%.*s.csv", (int)stem, metrics_path);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return strcmp(out, metrics_path) == 0 ? -1 : 0;
}

/* The header of an existing, non-empty CSV log becomes the columns. */
static int read_header(rt_progress *p, rt_err *err)
{
	FILE *f = fopen(p->csv_path, "rb");
	if (!f)
		return 0; /* none yet */
	int rc = rt_csv_read_record(f, p->csv_path, &p->csv_cols, &p->ncsv_cols, err);
	fclose(f);
	return rc < 0 ? -1 : 0;
}

int rt_progress_open_csv(rt_progress *p, const char *metrics_path, int append, rt_err *err)
{
	if (rt_progress_csv_path(metrics_path, p->csv_path, sizeof p->csv_path))
		return rt_errf(err, "%s: the CSV log (log.csv) would be written over the metrics "
		               "file: give the metrics file another extension (metrics.jsonl)",
		               metrics_path);
	if (append && read_header(p, err))
		return -1;
	p->csv = fopen(p->csv_path, append ? "ab" : "wb");
	if (!p->csv)
		return rt_errf(err, "%s: cannot open the CSV log: %s", p->csv_path, strerror(errno));
	return 0;
}

int rt_progress_close_csv(rt_progress *p, rt_err *err)
{
	rt_csv_fields_free(p->csv_cols, p->ncsv_cols);
	p->csv_cols = NULL;
	p->ncsv_cols = 0;
	if (!p->csv)
		return 0;
	int bad = ferror(p->csv) || p->csv_failed;
	int rc = 0;
	if (fclose(p->csv) != 0 || bad)
		rc = rt_errf(err, "%s: error writing the CSV log: %s", p->csv_path,
		             p->csv_failed ? "out of memory" : strerror(errno));
	p->csv = NULL;
	return rc;
}

/* The record's keys but "kind" become the columns, and the header row. */
static int take_columns(rt_progress *p, const cJSON *rec)
{
	int n = 0;
	for (const cJSON *it = rec->child; it; it = it->next)
		n += strcmp(it->string, "kind") != 0;
	p->csv_cols = calloc((size_t)n + 1, sizeof *p->csv_cols);
	if (!p->csv_cols)
		return -1;
	rt_csvw w = {p->csv, 0};
	for (const cJSON *it = rec->child; it; it = it->next) {
		if (!strcmp(it->string, "kind"))
			continue;
		if (!(p->csv_cols[p->ncsv_cols] = strdup(it->string)))
			return -1;
		rt_csvw_field(&w, p->csv_cols[p->ncsv_cols++]);
	}
	rt_csvw_end(&w);
	return 0;
}

void rt_progress_csv_row(rt_progress *p, const cJSON *rec)
{
	if (!p->csv || !rec)
		return;
	if (!p->csv_cols && take_columns(p, rec)) {
		p->csv_failed = 1;
		return;
	}
	rt_csvw w = {p->csv, 0};
	for (int i = 0; i < p->ncsv_cols; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, p->csv_cols[i]);
		if (cJSON_IsNumber(v))
			rt_csvw_number(&w, v->valuedouble);
		else if (cJSON_IsRaw(v)) /* a number as the metrics file has it */
			rt_csvw_field(&w, v->valuestring);
		else if (cJSON_IsString(v))
			rt_csvw_field(&w, v->valuestring);
		else
			rt_csvw_empty(&w);
	}
	rt_csvw_end(&w);
	fflush(p->csv); /* a run in progress, or killed, has every epoch so far */
}
