/*
 * rt_file.h - whole-file reads and atomic writes, with every libc error
 * checked and reported as "<path>: <what failed>: <strerror>".
 */
#ifndef SAMC_RT_FILE_H
#define SAMC_RT_FILE_H

#include <stddef.h>

#include "rt_err.h"

/* Reads the whole file into a malloc'd buffer (one extra NUL byte is
 * appended and not counted in *len, so text parsers may rely on it). */
int rt_file_read_all(const char *path, char **buf, size_t *len, rt_err *err);

/* One piece of a file to write. */
typedef struct {
	const void *data;
	size_t len;
} rt_file_part;

/* Writes the parts, in order, to "<path>.tmp.<pid>" in the same directory,
 * fflush + fsync, renames over `path`, then fsyncs the directory. On error
 * the temporary file is removed and `path` is untouched. A successful write
 * also removes the "<path>.tmp.<pid>" files that processes killed while
 * writing it left behind (those whose pid no longer exists). */
int rt_file_write_atomic(const char *path, const rt_file_part *parts, int nparts,
                         rt_err *err);

#endif
