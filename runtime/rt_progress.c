/* rt_progress.c - progress lines and the metrics file (see rt_progress.h). */
#include "rt_progress.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rt_csv_write.h"

/* Terminal redraws at most this often, in seconds. */
#define DRAW_INTERVAL 0.1

double rt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The terminal's width in columns; 0 when unknown. */
static int term_columns(FILE *f)
{
	struct winsize ws;
	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

int rt_progress_open(rt_progress *p, FILE *out, int quiet, int64_t log_every,
                     const char *metrics_path, int append, rt_err *err)
{
	memset(p, 0, sizeof *p);
	p->out = out ? out : stdout;
	p->tty = isatty(fileno(p->out));
	p->quiet = quiet;
	p->log_every = log_every > 0 ? log_every : 100;
	if (metrics_path) {
		p->metrics = fopen(metrics_path, append ? "a" : "w");
		if (!p->metrics)
			return rt_errf(err, "%s: cannot open the metrics file: %s", metrics_path,
			               strerror(errno));
	}
	return 0;
}

int rt_progress_close(rt_progress *p, const char *metrics_path, rt_err *err)
{
	rt_progress_break(p);
	int rc = rt_progress_close_csv(p, err);
	if (p->metrics) {
		int bad = ferror(p->metrics) || p->json_failed;
		if ((fclose(p->metrics) != 0 || bad) && rc == 0)
			rc = rt_errf(err, "%s: error writing the metrics file: %s", metrics_path,
			             p->json_failed ? "out of memory" : strerror(errno));
		p->metrics = NULL;
	}
	return rc;
}

void rt_progress_break(rt_progress *p)
{
	if (p->drawn) {
		fputc('\n', p->out);
		fflush(p->out);
		p->drawn = 0;
	}
}

/* Keys of the records themselves: a metric of one of these names would
 * collide with them in the metrics file (docs/dsl.md, metrics). */
static const char *const reserved[] = {"loss", "kind", "epoch", "epochs", "step",
                                       "total_steps", "lr", "samples_per_s", "seconds", NULL};

void rt_progress_reserved_names(char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; reserved[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", reserved[i]);
}

int rt_progress_name_reserved(const char *name)
{
	for (int i = 0; reserved[i]; i++)
		if (strcmp(reserved[i], name) == 0)
			return 1;
	return 0;
}

/* "accuracy" prints as "acc"; other names as they are. */
static const char *short_name(const char *n)
{
	return strcmp(n, "accuracy") == 0 ? "acc" : n;
}

/* JSON has no NaN or Infinity: those are null. A value is written in the
 * shortest form that reads back as the same double (cJSON's own printing
 * settles for 15 digits when they come within an epsilon of it), so the
 * metrics file and the CSV log carry the run's values exactly. */
static void json_num(cJSON *o, const char *key, double v)
{
	char buf[40];
	if (!isfinite(v)) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	rt_csv_format_double(buf, sizeof buf, v);
	cJSON_AddRawToObject(o, key, buf);
}

/* Writes one record as a line and frees it. cJSON escapes every key and
 * string, so any metric name gives valid JSON; a failed allocation is
 * remembered and reported when the file is closed. */
static void json_line(rt_progress *p, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	if (s) {
		fputs(s, p->metrics);
		fputc('\n', p->metrics);
		cJSON_free(s);
	} else {
		p->json_failed = 1;
	}
	cJSON_Delete(o);
}

static void fmt_eta(char *buf, size_t n, double s)
{
	if (!isfinite(s) || s < 0)
		s = 0;
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void step_record(rt_progress *p, const rt_progress_step_info *s)
{
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "kind", "step");
		cJSON_AddNumberToObject(o, "epoch", s->epoch);
		cJSON_AddNumberToObject(o, "step", (double)s->step);
		cJSON_AddNumberToObject(o, "total_steps", (double)s->total_steps);
		json_num(o, "lr", s->lr);
		for (int i = 0; i < s->nmetrics; i++)
			json_num(o, s->name[i], s->value[i]);
		cJSON_AddNumberToObject(o, "samples_per_s", round(s->samples_per_s));
	}
	json_line(p, o);
}

/* Appends printf output to buf at *n, never past cap. */
static void addf(char *buf, size_t cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void addf(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	if (*n >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < cap ? *n + (size_t)k : cap - 1;
}

void rt_progress_step(rt_progress *p, const rt_progress_step_info *s)
{
	int periodic = s->step % p->log_every == 0;
	if (p->metrics && periodic)
		step_record(p, s);
	if (p->quiet)
		return;
	double now = rt_now();
	int last = s->batch == s->nbatches;
	if (p->tty ? (now - p->t_last_draw < DRAW_INTERVAL && !last) : !periodic)
		return;
	p->t_last_draw = now;
	char eta[32], line[1024];
	size_t n = 0;
	fmt_eta(eta, sizeof eta, s->eta_s);
	addf(line, sizeof line, &n, "epoch %d/%d  step %" PRId64 "/%" PRId64 "  epoch mean:",
	     s->epoch, s->nepochs, s->batch, s->nbatches);
	for (int i = 0; i < s->nmetrics; i++)
		addf(line, sizeof line, &n, "%s%s %.4f", i ? "  " : " ", short_name(s->name[i]),
		     s->value[i]);
	addf(line, sizeof line, &n, "  %.0f samples/s  ETA %s", s->samples_per_s, eta);
	if (p->tty) {
		/* a line longer than the terminal wraps, and \r then redraws only
		 * its last row: cut it to the width (one column spare) */
		int cols = term_columns(p->out);
		if (cols > 1 && n > (size_t)cols - 1) {
			size_t cut = (size_t)cols - 1;
			while (cut > 0 && ((unsigned char)line[cut] & 0xC0) == 0x80)
				cut--; /* not inside a UTF-8 character */
			line[cut] = 0;
		}
		fprintf(p->out, "\r%s\033[K", line);
	} else {
		fprintf(p->out, "%s\n", line);
	}
	fflush(p->out);
	p->drawn = p->tty;
}

static void epoch_record(rt_progress *p, const rt_progress_epoch_info *e)
{
	cJSON *o = cJSON_CreateObject();
	if (o) {
		char key[64];
		cJSON_AddStringToObject(o, "kind", "epoch");
		cJSON_AddNumberToObject(o, "epoch", e->epoch);
		cJSON_AddNumberToObject(o, "epochs", e->nepochs);
		cJSON_AddNumberToObject(o, "step", (double)e->step);
		for (int i = 0; i < e->nmetrics; i++) {
			snprintf(key, sizeof key, "train_%s", e->name[i]);
			json_num(o, key, e->train[i]);
		}
		for (int i = 0; e->has_val && i < e->nmetrics; i++) {
			snprintf(key, sizeof key, "val_%s", e->name[i]);
			json_num(o, key, e->val[i]);
		}
		for (int i = 0; e->has_test && i < e->nmetrics; i++) {
			snprintf(key, sizeof key, "test_%s", e->name[i]);
			json_num(o, key, e->test[i]);
		}
		cJSON_AddNumberToObject(o, "samples_per_s", round(e->samples_per_s));
		cJSON_AddNumberToObject(o, "seconds", round(e->seconds * 1000) / 1000);
	}
	rt_progress_csv_row(p, o);
	json_line(p, o);
	fflush(p->metrics);
}

void rt_progress_epoch(rt_progress *p, const rt_progress_epoch_info *e)
{
	if (p->metrics)
		epoch_record(p, e);
	if (p->quiet)
		return;
	rt_progress_break(p);
	fprintf(p->out, "epoch %d/%d: train", e->epoch, e->nepochs);
	for (int i = 0; i < e->nmetrics; i++)
		fprintf(p->out, " %s %.4f", short_name(e->name[i]), e->train[i]);
	if (e->has_val) {
		fprintf(p->out, " | val");
		for (int i = 0; i < e->nmetrics; i++)
			fprintf(p->out, " %s %.4f", short_name(e->name[i]), e->val[i]);
	}
	if (e->has_test) {
		fprintf(p->out, " | test");
		for (int i = 0; i < e->nmetrics; i++)
			fprintf(p->out, " %s %.4f", short_name(e->name[i]), e->test[i]);
	}
	fprintf(p->out, " | %.0f samples/s\n", e->samples_per_s);
	fflush(p->out);
}

void rt_progress_final_test(rt_progress *p, const rt_progress_epoch_info *e)
{
	if (!p->metrics)
		return;
	cJSON *o = cJSON_CreateObject();
	if (o) {
		char key[64];
		cJSON_AddStringToObject(o, "kind", "test");
		cJSON_AddNumberToObject(o, "epoch", e->epoch);
		cJSON_AddNumberToObject(o, "epochs", e->nepochs);
		cJSON_AddNumberToObject(o, "step", (double)e->step);
		for (int i = 0; i < e->nmetrics; i++) {
			snprintf(key, sizeof key, "test_%s", e->name[i]);
			json_num(o, key, e->test[i]);
		}
	}
	json_line(p, o);
	fflush(p->metrics);
}
