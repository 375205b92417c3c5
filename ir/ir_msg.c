/*
 * ir_msg.c - the one helper behind every "write a message, return -1" of
 * the compiler's functions that report through a caller's buffer.
 */
#include <stdarg.h>
#include <stdio.h>

#include "ir.h"

int ir_failf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen > 0)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
