/* plot_axes.c - round tick values and their labels (see plot.h). */
#include "plot.h"

#include <math.h>
#include <stdio.h>

/* 1, 2 or 5 times a power of ten, the smallest at least `rough`. */
static double nice_step(double rough)
{
	double mag = pow(10, floor(log10(rough)));
	double r = rough / mag;
	return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

int plot_ticks(double lo, double hi, int want, int integer_only, double *t, int max)
{
	if (!isfinite(lo) || !isfinite(hi) || hi < lo || want < 2 || max < 1)
		return 0;
	if (hi == lo) {
		t[0] = lo;
		return 1;
	}
	double step = nice_step((hi - lo) / (want - 1));
	if (!isfinite(step) || step <= 0)
		return 0;
	if (integer_only && step < 1)
		step = 1;
	double first = ceil(lo / step - 1e-9) * step;
	int n = 0;
	for (int i = 0; n < max; i++) {
		double v = first + i * step; /* from the index: no drift */
		if (v > hi + step * 1e-9)
			break;
		t[n++] = fabs(v) < step * 1e-9 ? 0 : v;
	}
	return n;
}

void plot_tick_label(double v, double step, char *buf, int len)
{
	double a = fabs(v);
	if (v == 0) {
		snprintf(buf, (size_t)len, "0");
	} else if (a >= 1e6 || a < 1e-3 || !(step > 0)) {
		snprintf(buf, (size_t)len, "%.3g", v);
	} else {
		int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
		if (decimals > 6)
			decimals = 6;
		snprintf(buf, (size_t)len, "%.*f", decimals, v);
	}
}
