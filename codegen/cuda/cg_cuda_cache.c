/*
 * cg_cuda_cache.c - the PTX cache (see cg_cuda_exec.h): NVRTC's output by
 * a hash of what determines it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cg_cuda_exec.h"

void cg_cuda_cache_dir(char *buf, size_t len)
{
	const char *d = getenv("SAMC_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
	if (d && *d)
		snprintf(buf, len, "%s", d);
	else if (x && *x)
		snprintf(buf, len, "%s/samc", x);
	else if (h && *h)
		snprintf(buf, len, "%s/.cache/samc", h);
	else if (len)
		buf[0] = 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

void cg_cuda_ptx_key(const char *src, size_t len, const char *arch, char out[33])
{
	int maj = 0, min = 0;
	cg_nvrtc_version(&maj, &min);
	char tail[96];
	int n = snprintf(tail, sizeof tail, "\n%s\nnvrtc %d.%d\n", arch, maj, min);
	/* two FNV-1a streams from different offsets: 128 bits of key */
	uint64_t a = fnv(fnv(0xcbf29ce484222325ull, src, len), tail, (size_t)n);
	uint64_t b = fnv(fnv(0x6c62272e07bb0142ull, tail, (size_t)n), src, len);
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	long n = -1;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", dir);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0755) != 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* dir/name written whole or not at all: a temporary file, then rename */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
	char path[4400], tmp[4500];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return -1;
	int ok = fwrite(data, 1, len, f) == len;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int cg_cuda_ptx(const cg_cuda_mod *m, const char *arch, const char *dir,
                cg_nvrtc_where_fn where, void *ctx, char **ptx, size_t *len, int *cached,
                char *err, size_t errlen)
{
	char key[33], name[64], path[4400];
	cg_cuda_ptx_key(m->src, m->len, arch, key);
	*cached = 0;
	if (dir && *dir) {
		snprintf(path, sizeof path, "%s/%s.ptx", dir, key);
		if ((*ptx = read_file(path, len)) && *len > 0) {
			*cached = 1;
			return 0;
		}
		free(*ptx);
		*ptx = NULL;
	}
	if (cg_nvrtc_compile(m, arch, where, ctx, ptx, len, err, errlen))
		return -1;
	/* the source first: whoever finds KEY.ptx may read KEY.cu; a cache that
	 * cannot be written only costs the next run a compile */
	if (dir && *dir && make_dirs(dir) == 0) {
		snprintf(name, sizeof name, "%s.cu", key);
		if (write_atomic(dir, name, m->src, m->len) == 0) {
			snprintf(name, sizeof name, "%s.ptx", key);
			write_atomic(dir, name, *ptx, *len);
		}
	}
	return 0;
}
