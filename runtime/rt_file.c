/*
 * rt_file.c - whole-file reads and atomic writes (see rt_file.h).
 */
#include "rt_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rt_file_read_all(const char *path, char **buf, size_t *len, rt_err *err)
{
	*buf = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return rt_errf(err, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) != 0) {
		int e = errno;
		fclose(f);
		return rt_errf(err, "%s: cannot stat: %s", path, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		fclose(f);
		return rt_errf(err, "%s: is a directory, expected a file", path);
	}
	/* The size from fstat is a hint (pipes report 0); grow as needed. */
	size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (!b) {
			fclose(f);
			return rt_errf(err, "%s: out of memory reading %zu bytes", path, cap);
		}
		n += fread(b + n, 1, cap - n, f);
		if (n < cap)
			break;
		char *nb = realloc(b, cap * 2);
		if (!nb)
			free(b);
		b = nb;
		cap *= 2;
	}
	if (ferror(f)) {
		int e = errno;
		free(b);
		fclose(f);
		return rt_errf(err, "%s: read error: %s", path, strerror(e));
	}
	fclose(f);
	b[n] = '\0'; /* n < cap here */
	*buf = b;
	*len = n;
	return 0;
}

/* fsync of the directory makes the rename durable. Some file systems do not
 * support it on directories (EINVAL); the rename itself has succeeded then. */
static int sync_dir(const char *path, rt_err *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return rt_errf(err, "%s: out of memory", path);
	int fd = open(dir, O_RDONLY);
	if (fd < 0) {
		int e = errno;
		rt_errf(err, "%s: cannot open directory '%s' to sync it: %s", path, dir, strerror(e));
		free(dir);
		return -1;
	}
	int rc = 0;
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		rc = rt_errf(err, "%s: fsync of directory '%s' failed: %s", path, dir, strerror(errno));
	close(fd);
	free(dir);
	return rc;
}

/* A process killed while writing (kill -9, a power cut) leaves its
 * "<path>.tmp.<pid>" behind. After each successful write, the temporaries
 * of the same path whose process no longer exists are removed; those of a
 * live process (another run writing the same file) are left alone. Best
 * effort: a failure here is not the write's failure. */
static void remove_stale_temps(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dlen = slash ? (size_t)(slash - path) : 0, blen = strlen(base);
	char *dir = slash ? strndup(path, dlen ? dlen : 1) : strdup(".");
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		const char *n = e->d_name;
		if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".tmp.", 5) != 0)
			continue;
		const char *p = n + blen + 5;
		char *end;
		errno = 0;
		long pid = strtol(p, &end, 10);
		if (!*p || *end || errno || pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char *full = malloc(strlen(dir) + strlen(n) + 2);
		if (full) {
			sprintf(full, "%s/%s", dir, n);
			unlink(full);
			free(full);
		}
	}
	if (d)
		closedir(d);
	free(dir);
}

int rt_file_write_atomic(const char *path, const rt_file_part *parts, int nparts,
                         rt_err *err)
{
	size_t tlen = strlen(path) + 32;
	char *tmp = malloc(tlen);
	if (!tmp)
		return rt_errf(err, "%s: out of memory", path);
	snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());

	FILE *f = fopen(tmp, "wb");
	if (!f) {
		rt_errf(err, "%s: cannot create temporary file '%s': %s", path, tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	const char *what = NULL;
	for (int i = 0; i < nparts && !what; i++)
		if (parts[i].len && fwrite(parts[i].data, 1, parts[i].len, f) != parts[i].len)
			what = "write";
	if (!what && fflush(f) != 0)
		what = "flush";
	if (!what && fsync(fileno(f)) != 0)
		what = "fsync";
	int e = errno;
	if (fclose(f) != 0 && !what) {
		what = "close";
		e = errno;
	}
	if (!what && rename(tmp, path) != 0) {
		what = "rename";
		e = errno;
	}
	if (what) {
		rt_errf(err, "%s: %s of temporary file '%s' failed: %s", path, what, tmp, strerror(e));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	remove_stale_temps(path);
	return sync_dir(path, err);
}
