/*
 * plot_draw.c - the picture (see plot.h): a header with the title and the
 * legend, then a grid of panels, each a framed plot area with grid lines,
 * tick labels, a title and an x-axis label. PNG through cairo's image
 * surface, SVG through its SVG surface; both from the same drawing code.
 */
#include "plot.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#define PANEL_W 420
#define PANEL_H 300
#define PAD 16
#define MAX_PANELS 24
#define MAX_TICKS 16

typedef struct {
	char metric[64]; /* "" for the lr panel */
} panel;

typedef struct {
	const plot_run *runs;
	int nruns;
	panel p[MAX_PANELS];
	int np;
	int has_split[3]; /* train, val, test appear */
	int ncols, nrows, header_h, w, h;
} figure;

static const char *const split_names[3] = {"train", "val", "test"};

/* One colour per run (matplotlib's tab10), and per split of a single run. */
static const double palette[10][3] = {
	{0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
	{0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
	{0.737, 0.741, 0.133}, {0.090, 0.745, 0.812}};

static int split_index(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, split_names[i]))
			return i;
	return 0;
}

static void set_colour(cairo_t *cr, const figure *f, int run, int split)
{
	const double *c = palette[(f->nruns > 1 ? run : split) % 10];
	cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

/* train solid, val dashed, test dotted */
static void set_dash(cairo_t *cr, int split)
{
	static const double dashed[] = {7, 4}, dotted[] = {1.5, 3};
	if (split == 1)
		cairo_set_dash(cr, dashed, 2, 0);
	else if (split == 2)
		cairo_set_dash(cr, dotted, 2, 0);
	else
		cairo_set_dash(cr, NULL, 0, 0);
}

static void font(cairo_t *cr, double size, int bold)
{
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
	                       bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_font_size(cr, size);
}

static double text_w(cairo_t *cr, const char *s)
{
	cairo_text_extents_t e;
	cairo_text_extents(cr, s, &e);
	return e.x_advance;
}

/* Text with its anchor at (x, y): ax 0 left, 0.5 centre, 1 right; the
 * baseline at y + ay * the font's ascent (0.5: centred vertically). */
static void text_at(cairo_t *cr, double x, double y, const char *s, double ax, double ay)
{
	cairo_font_extents_t fe;
	cairo_font_extents(cr, &fe);
	cairo_move_to(cr, x - ax * text_w(cr, s), y + ay * fe.ascent * 0.8);
	cairo_show_text(cr, s);
}

static void add_panel(figure *f, const char *metric)
{
	for (int i = 0; i < f->np; i++)
		if (!strcmp(f->p[i].metric, metric))
			return;
	if (f->np < MAX_PANELS)
		snprintf(f->p[f->np++].metric, sizeof f->p[0].metric, "%s", metric);
}

/* The panels: the loss, the other metrics in the order they first appear,
 * then the lr. */
static void layout(figure *f)
{
	int has_loss = 0, has_lr = 0;
	for (int r = 0; r < f->nruns; r++) {
		for (int i = 0; i < f->runs[r].ns; i++) {
			has_loss |= !strcmp(f->runs[r].s[i].metric, "loss");
			f->has_split[split_index(f->runs[r].s[i].split)] = 1;
		}
		has_lr |= f->runs[r].lr.n > 0;
	}
	if (has_loss)
		add_panel(f, "loss");
	for (int r = 0; r < f->nruns; r++)
		for (int i = 0; i < f->runs[r].ns; i++)
			add_panel(f, f->runs[r].s[i].metric);
	if (has_lr && f->np < MAX_PANELS)
		f->p[f->np++].metric[0] = 0;
	f->ncols = f->np <= 1 ? 1 : f->np <= 4 ? 2 : 3;
	f->nrows = (f->np + f->ncols - 1) / f->ncols;
	f->w = f->ncols * PANEL_W;
}

/* Legend entries: the runs (several runs) and the splits drawn. */
typedef struct {
	char text[256];
	int run, split; /* run -1: a split's dash in grey */
} legend_item;

static int legend_items(const figure *f, legend_item *it, int max)
{
	int n = 0;
	for (int r = 0; f->nruns > 1 && r < f->nruns && n < max; r++) {
		snprintf(it[n].text, sizeof it[n].text, "%s", f->runs[r].label);
		it[n].run = r;
		it[n++].split = 0;
	}
	for (int s = 0; s < 3 && n < max; s++)
		if (f->has_split[s]) {
			snprintf(it[n].text, sizeof it[n].text, "%s", split_names[s]);
			it[n].run = f->nruns > 1 ? -1 : 0;
			it[n++].split = s;
		}
	return n;
}

#define SWATCH 28
#define ITEM_GAP 22
#define ROW_H 22
#define TITLE_H 34

/* Lays the legend out in rows (draw 0: only counts them). */
static int legend(cairo_t *cr, const figure *f, double y0, int draw)
{
	legend_item it[64];
	int n = legend_items(f, it, 64), rows = n ? 1 : 0;
	double x = PAD;
	font(cr, 12, 0);
	for (int i = 0; i < n; i++) {
		double w = SWATCH + 6 + text_w(cr, it[i].text);
		if (x > PAD && x + w > f->w - PAD) {
			x = PAD;
			rows++;
		}
		double y = y0 + (rows - 1) * ROW_H + ROW_H / 2.0;
		if (draw) {
			if (it[i].run < 0)
				cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
			else
				set_colour(cr, f, it[i].run, it[i].split);
			set_dash(cr, it[i].run < 0 || f->nruns == 1 ? it[i].split : 0);
			cairo_set_line_width(cr, 2.5);
			cairo_move_to(cr, x, y);
			cairo_line_to(cr, x + SWATCH, y);
			cairo_stroke(cr);
			cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
			text_at(cr, x + SWATCH + 6, y, it[i].text, 0, 0.5);
		}
		x += w + ITEM_GAP;
	}
	return rows;
}

/* The finite range of what a panel draws; 0 when there is nothing finite. */
static int data_range(const figure *f, const panel *p, double *x0, double *x1, double *y0,
                      double *y1)
{
	*x0 = *y0 = INFINITY;
	*x1 = *y1 = -INFINITY;
	for (int r = 0; r < f->nruns; r++) {
		const plot_run *run = &f->runs[r];
		int nser = p->metric[0] ? run->ns : 1;
		for (int i = 0; i < nser; i++) {
			const plot_series *s = p->metric[0] ? &run->s[i] : &run->lr;
			if (p->metric[0] && strcmp(s->metric, p->metric))
				continue;
			for (int k = 0; k < s->n; k++) {
				if (!isfinite(s->pt[k].x) || !isfinite(s->pt[k].y))
					continue;
				*x0 = fmin(*x0, s->pt[k].x);
				*x1 = fmax(*x1, s->pt[k].x);
				*y0 = fmin(*y0, s->pt[k].y);
				*y1 = fmax(*y1, s->pt[k].y);
			}
		}
	}
	return *x0 <= *x1;
}

/* Widens a range so that it has room around its data (and a width). */
static void pad_range(double *lo, double *hi, double frac, double single)
{
	double span = *hi - *lo;
	if (!isfinite(span)) { /* values near DBL_MAX: keep them representable */
		*lo = fmax(*lo, -1e300);
		*hi = fmin(*hi, 1e300);
		span = *hi - *lo;
	}
	if (span <= 0) {
		double d = single > 0 ? single : fabs(*lo) > 0 ? fabs(*lo) * 0.1 : 1;
		*lo -= d;
		*hi += d;
	} else {
		*lo -= span * frac;
		*hi += span * frac;
	}
}

typedef struct {
	double px, py, pw, ph;   /* the plot area */
	double x0, x1, y0, y1;   /* the data it shows */
} frame;

static double map_x(const frame *fr, double x)
{
	return fr->px + (x - fr->x0) / (fr->x1 - fr->x0) * fr->pw;
}

static double map_y(const frame *fr, double y)
{
	return fr->py + fr->ph - (y - fr->y0) / (fr->y1 - fr->y0) * fr->ph;
}

static void axes(cairo_t *cr, const frame *fr, int integer_x)
{
	double t[MAX_TICKS];
	char lab[64];
	cairo_set_dash(cr, NULL, 0, 0);
	font(cr, 10, 0);
	int n = plot_ticks(fr->y0, fr->y1, 6, 0, t, MAX_TICKS);
	double step = n > 1 ? t[1] - t[0] : 0;
	for (int i = 0; i < n; i++) {
		double y = round(map_y(fr, t[i])) + 0.5;
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_set_line_width(cr, 1);
		cairo_move_to(cr, fr->px, y);
		cairo_line_to(cr, fr->px + fr->pw, y);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		cairo_move_to(cr, fr->px - 4, y);
		cairo_line_to(cr, fr->px, y);
		cairo_stroke(cr);
		plot_tick_label(t[i], step, lab, sizeof lab);
		text_at(cr, fr->px - 7, y, lab, 1, 0.5);
	}
	n = plot_ticks(fr->x0, fr->x1, 6, integer_x, t, MAX_TICKS);
	step = n > 1 ? t[1] - t[0] : 1;
	for (int i = 0; i < n; i++) {
		double x = round(map_x(fr, t[i])) + 0.5;
		cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
		cairo_move_to(cr, x, fr->py);
		cairo_line_to(cr, x, fr->py + fr->ph);
		cairo_stroke(cr);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		cairo_move_to(cr, x, fr->py + fr->ph);
		cairo_line_to(cr, x, fr->py + fr->ph + 4);
		cairo_stroke(cr);
		plot_tick_label(t[i], step, lab, sizeof lab);
		text_at(cr, x, fr->py + fr->ph + 14, lab, 0.5, 0.5);
	}
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	cairo_set_line_width(cr, 1);
	cairo_rectangle(cr, round(fr->px) + 0.5, round(fr->py) + 0.5, round(fr->pw), round(fr->ph));
	cairo_stroke(cr);
}

/* One curve: lines between consecutive finite points (a NaN or an
 * infinity leaves a gap), dots at the points when there are few or a
 * point stands alone. */
static void curve(cairo_t *cr, const frame *fr, const plot_series *s, int dots)
{
	int open = 0;
	for (int k = 0; k < s->n; k++) {
		plot_pt p = s->pt[k];
		if (!isfinite(p.x) || !isfinite(p.y)) {
			open = 0;
			continue;
		}
		if (open)
			cairo_line_to(cr, map_x(fr, p.x), map_y(fr, p.y));
		else
			cairo_move_to(cr, map_x(fr, p.x), map_y(fr, p.y));
		open = 1;
	}
	cairo_stroke(cr);
	for (int k = 0; k < s->n; k++) {
		plot_pt p = s->pt[k];
		if (!isfinite(p.x) || !isfinite(p.y))
			continue;
		int alone = (k == 0 || !isfinite(s->pt[k - 1].y)) &&
		            (k + 1 == s->n || !isfinite(s->pt[k + 1].y));
		if (dots || alone) {
			cairo_new_sub_path(cr);
			cairo_arc(cr, map_x(fr, p.x), map_y(fr, p.y), 2.8, 0, 2 * M_PI);
			cairo_fill(cr);
		}
	}
}

static void draw_panel(cairo_t *cr, const figure *f, const panel *p, double ox, double oy)
{
	int lr = !p->metric[0];
	frame fr = {ox + 66, oy + 30, PANEL_W - 66 - 18, PANEL_H - 30 - 46, 0, 0, 0, 0};
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	font(cr, 13, 1);
	text_at(cr, fr.px + fr.pw / 2, oy + 16, lr ? "lr (per step)" : p->metric, 0.5, 0.5);
	font(cr, 11, 0);
	text_at(cr, fr.px + fr.pw / 2, fr.py + fr.ph + 34, lr ? "step" : "epoch", 0.5, 0.5);
	if (!data_range(f, p, &fr.x0, &fr.x1, &fr.y0, &fr.y1)) {
		fr.x0 = fr.y0 = 0;
		fr.x1 = fr.y1 = 1;
		axes(cr, &fr, !lr);
		cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
		font(cr, 12, 0);
		text_at(cr, fr.px + fr.pw / 2, fr.py + fr.ph / 2, "no finite values", 0.5, 0.5);
		return;
	}
	pad_range(&fr.x0, &fr.x1, 0.03, lr ? 1 : 0.5);
	pad_range(&fr.y0, &fr.y1, 0.06, 0);
	axes(cr, &fr, !lr);
	cairo_save(cr);
	cairo_rectangle(cr, fr.px, fr.py, fr.pw, fr.ph);
	cairo_clip(cr);
	cairo_set_line_width(cr, 1.8);
	cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
	cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
	for (int r = 0; r < f->nruns; r++) {
		const plot_run *run = &f->runs[r];
		if (lr) {
			set_colour(cr, f, r, 0);
			set_dash(cr, 0);
			curve(cr, &fr, &run->lr, run->lr.n <= 40);
			continue;
		}
		for (int i = 0; i < run->ns; i++) {
			const plot_series *s = &run->s[i];
			if (strcmp(s->metric, p->metric))
				continue;
			int sp = split_index(s->split);
			set_colour(cr, f, r, sp);
			set_dash(cr, sp);
			curve(cr, &fr, s, s->n <= 60);
		}
	}
	cairo_restore(cr);
}

static void draw(cairo_t *cr, const figure *f)
{
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	char title[512];
	if (f->nruns == 1)
		snprintf(title, sizeof title, "training curves: %s", f->runs[0].label);
	else
		snprintf(title, sizeof title, "training curves: %d runs", f->nruns);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	font(cr, 15, 1);
	text_at(cr, PAD, TITLE_H / 2.0 + 2, title, 0, 0.5);
	legend(cr, f, TITLE_H, 1);
	for (int i = 0; i < f->np; i++)
		draw_panel(cr, f, &f->p[i], (i % f->ncols) * PANEL_W,
		           f->header_h + (i / f->ncols) * PANEL_H);
}

/* The figure's size: the legend's rows decide the header's height. */
static int measure(figure *f, rt_err *err)
{
	cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
	cairo_t *cr = cairo_create(s);
	int rows = legend(cr, f, 0, 0);
	int bad = cairo_status(cr) != CAIRO_STATUS_SUCCESS;
	cairo_destroy(cr);
	cairo_surface_destroy(s);
	if (bad)
		return rt_errf(err, "cairo cannot measure text (out of memory?)");
	f->header_h = TITLE_H + rows * ROW_H + 8;
	f->h = f->header_h + f->nrows * PANEL_H;
	return 0;
}

static int surface_error(const char *path, cairo_status_t st, rt_err *err)
{
	return rt_errf(err, "%s: cannot write the picture: %s", path, cairo_status_to_string(st));
}

int plot_draw(const plot_run *runs, int nruns, const char *path, plot_format fmt, rt_err *err)
{
	if (fmt != PLOT_PNG && fmt != PLOT_SVG)
		return rt_errf(err, "%s: unknown picture format: name it .png or .svg", path);
	figure f;
	memset(&f, 0, sizeof f);
	f.runs = runs;
	f.nruns = nruns;
	layout(&f);
	if (f.np == 0)
		return rt_errf(err, "%s: nothing to draw: the metrics have no records", path);
	if (measure(&f, err))
		return -1;
	char tmp[4200];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return rt_errf(err, "%s: path too long", path);
	cairo_surface_t *s = fmt == PLOT_PNG
	                         ? cairo_image_surface_create(CAIRO_FORMAT_ARGB32, f.w, f.h)
	                         : cairo_svg_surface_create(tmp, f.w, f.h);
	cairo_t *cr = cairo_create(s);
	draw(cr, &f);
	cairo_status_t st = cairo_status(cr);
	cairo_destroy(cr);
	if (st == CAIRO_STATUS_SUCCESS && fmt == PLOT_PNG)
		st = cairo_surface_write_to_png(s, tmp);
	cairo_surface_finish(s);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(s);
	cairo_surface_destroy(s);
	if (st != CAIRO_STATUS_SUCCESS) {
		remove(tmp);
		return surface_error(path, st, err);
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		return rt_errf(err, "%s: cannot write the picture: %s", path, strerror(e));
	}
	return 0;
}

int plot_curves_beside(const char *metrics_path, rt_err *err)
{
	char dir[4096], out[4200];
	snprintf(dir, sizeof dir, "%s", metrics_path);
	const char *d = dirname(dir);
	plot_run run;
	if (plot_run_read(&run, metrics_path, metrics_path, err))
		return -1;
	int rc = 0;
	const char *names[2] = {"curves.png", "curves.svg"};
	for (int i = 0; i < 2 && rc == 0; i++) {
		snprintf(out, sizeof out, "%s/%s", d, names[i]);
		rc = plot_draw(&run, 1, out, i ? PLOT_SVG : PLOT_PNG, err);
	}
	plot_run_free(&run);
	return rc;
}

void plot_release(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
