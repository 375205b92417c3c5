/*
 * rt_err.h - errors as values. A function that can fail takes an rt_err*
 * and returns nonzero after writing a message a user can act on, naming the
 * file and what is wrong ("data/train.idx: truncated: 784 bytes missing").
 */
#ifndef SAMC_RT_ERR_H
#define SAMC_RT_ERR_H

#include <stddef.h>

typedef struct {
	char msg[1024];
} rt_err;

/* Writes the message; always returns -1 so callers can `return rt_errf(...)`.
 * `e` may be NULL. */
int rt_errf(rt_err *e, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

#endif
