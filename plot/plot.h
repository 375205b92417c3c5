/*
 * plot.h - training curves from metrics files, drawn with cairo.
 *
 * A metrics file is JSON lines (runtime/rt_progress.h): "step" records
 * (the lr at a step) and "epoch" records whose keys train_NAME, val_NAME
 * and test_NAME are the epoch means of NAME on each split. Any record that
 * is not a step record and has such keys adds points at its "epoch" (or,
 * without one, at the last epoch seen), so a final test record is one
 * point. The picture is small multiples: one panel for the loss, one per
 * other metric (each split's curve over the epochs), one for the lr over
 * the steps; axes, tick labels, titles and a legend. Several runs overlay:
 * one colour per run, one dash per split; a single run is coloured by
 * split.
 *
 *     plot_run runs[2];
 *     rt_err err;
 *     if (plot_run_read(&runs[0], "a/metrics.jsonl", "a", &err) || ...)
 *         fprintf(stderr, "%s\n", err.msg);       // "a/metrics.jsonl:7: not valid JSON"
 *     plot_draw(runs, 2, "curves.png", PLOT_PNG, &err);
 *     plot_run_free(&runs[0]); ...
 *
 * Reading is forgiving where a file is merely odd: a NaN or an infinity
 * (null in samc's files; NaN and Infinity as Python's json writes them)
 * leaves a gap, a missing key leaves no point, one epoch draws as dots, and
 * a last line without its newline that does not parse is a record still
 * being written, and is left out. Any other line that is not a JSON object
 * is an error naming the file and the line.
 */
#ifndef SAMC_PLOT_H
#define SAMC_PLOT_H

#include "rt_err.h"

typedef struct {
	double x, y;
} plot_pt;

/* One curve of a run: a split ("train", "val", "test") of a metric over
 * the epochs, or the lr over the steps. */
typedef struct {
	char split[8];
	char metric[64];
	plot_pt *pt;
	int n, cap;
} plot_series;

typedef struct {
	char label[256];   /* the run's name in the legend */
	plot_series *s;    /* epoch series, in the order their keys first appear */
	int ns, cap;
	plot_series lr;    /* lr at each step record */
} plot_run;

typedef enum { PLOT_PNG, PLOT_SVG, PLOT_UNKNOWN } plot_format;

/* Reads one metrics file; 0, or -1 with err naming the file (and line).
 * A file with no record to draw is an error too. */
int plot_run_read(plot_run *r, const char *path, const char *label, rt_err *err);
/* The same from text in memory (path names it in messages). */
int plot_run_parse(plot_run *r, const char *path, const char *text, size_t len,
                   const char *label, rt_err *err);
void plot_run_free(plot_run *r);

/* The format a file name asks for by its extension (.png, .svg; any case). */
plot_format plot_format_of(const char *path);

/* Draws the runs into path (written whole, then renamed into place, so a
 * viewer never sees half a picture). 0, or -1 with err. */
int plot_draw(const plot_run *runs, int nruns, const char *path, plot_format fmt, rt_err *err);

/* curves.png and curves.svg beside a metrics file, from it (samc's epoch
 * hook). */
int plot_curves_beside(const char *metrics_path, rt_err *err);

/* Frees what cairo and fontconfig keep for the process (font caches), so
 * a leak checker sees nothing at exit; drawing after it starts them anew. */
void plot_release(void);

/* Axis ticks (plot_axes.c): about `want` round values covering [lo, hi],
 * at most `max` into t; integer_only keeps a step of at least 1 (epochs).
 * Returns their number. */
int plot_ticks(double lo, double hi, int want, int integer_only, double *t, int max);
/* A tick value as text: as few digits as the step between ticks needs. */
void plot_tick_label(double v, double step, char *buf, int len);

#endif
