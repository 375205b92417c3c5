/* rt_err.c - formatting of error values (see rt_err.h). */
#include "rt_err.h"

#include <stdarg.h>
#include <stdio.h>

int rt_errf(rt_err *e, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}
