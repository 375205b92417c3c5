/* rt_progress.c - progress lines and the metrics file (see rt_progress.h). */
#include "rt_progress.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Terminal redraws at most this often, in seconds. */
#define DRAW_INTERVAL 0.1

double rt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
	int rc = 0;
	if (p->metrics) {
		int bad = ferror(p->metrics);
		if (fclose(p->metrics) != 0 || bad)
			rc = rt_errf(err, "%s: error writing the metrics file: %s", metrics_path,
			             strerror(errno));
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

/* "accuracy" prints as "acc"; other names as they are. */
static const char *short_name(const char *n)
{
	return strcmp(n, "accuracy") == 0 ? "acc" : n;
}

/* JSON has no NaN or Infinity: write null. */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.9g", v);
	else
		fputs("null", f);
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

void rt_progress_step(rt_progress *p, const rt_progress_step_info *s)
{
	int periodic = s->step % p->log_every == 0;
	if (p->metrics && periodic) {
		fprintf(p->metrics, "{\"kind\":\"step\",\"epoch\":%d,\"step\":%" PRId64
		        ",\"total_steps\":%" PRId64 ",\"lr\":", s->epoch, s->step, s->total_steps);
		json_num(p->metrics, s->lr);
		for (int i = 0; i < s->nmetrics; i++) {
			fprintf(p->metrics, ",\"%s\":", s->name[i]);
			json_num(p->metrics, s->value[i]);
		}
		fprintf(p->metrics, ",\"samples_per_s\":%.0f}\n", s->samples_per_s);
	}
	if (p->quiet)
		return;
	double now = rt_now();
	int last = s->batch == s->nbatches;
	if (p->tty ? (now - p->t_last_draw < DRAW_INTERVAL && !last) : !periodic)
		return;
	p->t_last_draw = now;
	char eta[32];
	fmt_eta(eta, sizeof eta, s->eta_s);
	fprintf(p->out, "%sepoch %d/%d  step %" PRId64 "/%" PRId64, p->tty ? "\r" : "", s->epoch,
	        s->nepochs, s->batch, s->nbatches);
	for (int i = 0; i < s->nmetrics; i++)
		fprintf(p->out, "  %s %.4f", short_name(s->name[i]), s->value[i]);
	fprintf(p->out, "  %.0f samples/s  ETA %s%s", s->samples_per_s, eta, p->tty ? "\033[K" : "\n");
	fflush(p->out);
	p->drawn = p->tty;
}

void rt_progress_epoch(rt_progress *p, const rt_progress_epoch_info *e)
{
	if (p->metrics) {
		fprintf(p->metrics, "{\"kind\":\"epoch\",\"epoch\":%d,\"epochs\":%d,\"step\":%" PRId64,
		        e->epoch, e->nepochs, e->step);
		for (int i = 0; i < e->nmetrics; i++) {
			fprintf(p->metrics, ",\"train_%s\":", e->name[i]);
			json_num(p->metrics, e->train[i]);
		}
		for (int i = 0; e->has_test && i < e->nmetrics; i++) {
			fprintf(p->metrics, ",\"test_%s\":", e->name[i]);
			json_num(p->metrics, e->test[i]);
		}
		fprintf(p->metrics, ",\"samples_per_s\":%.0f,\"seconds\":%.3f}\n", e->samples_per_s,
		        e->seconds);
		fflush(p->metrics);
	}
	if (p->quiet)
		return;
	rt_progress_break(p);
	fprintf(p->out, "epoch %d/%d: train", e->epoch, e->nepochs);
	for (int i = 0; i < e->nmetrics; i++)
		fprintf(p->out, " %s %.4f", short_name(e->name[i]), e->train[i]);
	if (e->has_test) {
		fprintf(p->out, " | test");
		for (int i = 0; i < e->nmetrics; i++)
			fprintf(p->out, " %s %.4f", short_name(e->name[i]), e->test[i]);
	}
	fprintf(p->out, " | %.0f samples/s\n", e->samples_per_s);
	fflush(p->out);
}
