/*
 * rt_progress.h - what the training loop tells people and files: a live
 * progress line on a terminal (\r updates), plain periodic lines otherwise,
 * one summary line per epoch, and JSON lines in the metrics file:
 *
 *   {"kind":"step","epoch":1,"step":100,"total_steps":2811,"lr":0.1,
 *    "loss":0.61,"accuracy":0.78,"samples_per_s":51234}
 *   {"kind":"epoch","epoch":1,"epochs":3,"step":937,"train_loss":0.52,
 *    "train_accuracy":0.81,"test_loss":0.45,"test_accuracy":0.84,
 *    "samples_per_s":50123,"seconds":1.2}
 *
 * With a validation set (data.val, data.val_split) an epoch record has
 * val_NAME keys instead of test_NAME ones, and the test set's one
 * evaluation at the end of the run is a record of its own:
 *
 *   {"kind":"test","epoch":3,"epochs":3,"step":2811,"test_loss":0.44,
 *    "test_accuracy":0.85}
 *
 * Step values are running means over the epoch so far (the progress line
 * says "epoch mean:"). Epochs count from 1 in everything printed or
 * written. Records are written with cJSON, so any metric name is escaped;
 * the frontend reserves the names the records use themselves (loss and
 * the keys above). On a terminal the live line is cut to its width.
 * With the recipe's log.csv, the epoch records also go to a CSV file
 * beside the metrics file (metrics.jsonl -> metrics.csv).
 */
#ifndef SAMC_RT_PROGRESS_H
#define SAMC_RT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "rt_err.h"

typedef struct {
	FILE *out;
	int tty, quiet;
	int64_t log_every;
	FILE *metrics;
	double t_last_draw;
	int drawn;          /* a \r line is on screen */
	int json_failed;    /* a record could not be formatted (out of memory) */
	FILE *csv;          /* the CSV log (log.csv), or NULL */
	char csv_path[4096];
	char **csv_cols;    /* its columns, from its header or the first epoch record */
	int ncsv_cols;
	int csv_failed;     /* a row could not be written (out of memory) */
} rt_progress;

typedef struct {
	int epoch, nepochs;         /* epoch 1-based */
	int64_t batch, nbatches;    /* batches done in this epoch */
	int64_t step, total_steps;  /* optimizer steps done over the run */
	double lr;
	int nmetrics;
	const char (*name)[32];
	const double *value;
	double samples_per_s, eta_s;
} rt_progress_step_info;

typedef struct {
	int epoch, nepochs;
	int64_t step;
	int nmetrics;
	const char (*name)[32];
	const double *train, *test;
	int has_test;
	double samples_per_s, seconds;
	const double *val;          /* the validation set's means (has_val) */
	int has_val;
} rt_progress_epoch_info;

/* Longest metric name, in bytes (the runtime keeps names in char[32]). */
#define RT_PROGRESS_MAX_NAME 31

/* 1 if a metric may not use `name` (the loss, or a key of the records). */
int rt_progress_name_reserved(const char *name);
/* Those names, comma-separated, into buf (for messages). */
void rt_progress_reserved_names(char *buf, size_t len);

/* Seconds on a monotonic clock. */
double rt_now(void);

/* metrics_path may be NULL; append keeps an existing file (resume). */
int rt_progress_open(rt_progress *p, FILE *out, int quiet, int64_t log_every,
                     const char *metrics_path, int append, rt_err *err);
/* 0, or -1 with err when the metrics file could not be written completely. */
int rt_progress_close(rt_progress *p, const char *metrics_path, rt_err *err);

/* The CSV log (rt_progress_csv.c): one row per epoch record, beside the
 * metrics file (its extension replaced by .csv; -1 when that is the metrics
 * file itself); append keeps an existing file and its header (resume). */
int rt_progress_csv_path(const char *metrics_path, char *out, size_t len);
int rt_progress_open_csv(rt_progress *p, const char *metrics_path, int append, rt_err *err);
/* Closes it (rt_progress_close does too); 0, or -1 with err. */
int rt_progress_close_csv(rt_progress *p, rt_err *err);
struct cJSON;
/* The row of one epoch record (its keys but "kind"), flushed. */
void rt_progress_csv_row(rt_progress *p, const struct cJSON *rec);

void rt_progress_step(rt_progress *p, const rt_progress_step_info *s);
void rt_progress_epoch(rt_progress *p, const rt_progress_epoch_info *e);
/* The "test" record of a run with a validation set (e->test). */
void rt_progress_final_test(rt_progress *p, const rt_progress_epoch_info *e);
/* Ends a \r line before other output (errors). */
void rt_progress_break(rt_progress *p);

#endif
