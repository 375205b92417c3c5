/*
 * rt_idx.c - IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed
 * (see rt_data.h).
 *
 * Layout: magic 00 00 <type> <rank>, then <rank> big-endian u32 dims, then
 * the data row-major. Only type 0x08 (unsigned byte) is supported: it is
 * what the image and label sets ship as. The magic bytes 1f 8b say the
 * file is gzip; it is then inflated with zlib, and anything wrong with the
 * stream (cut off, corrupt, junk after it) is reported.
 */
#include "rt_data.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Compressed bytes read from the file at once. */
#define IDX_IN (1u << 17)

/* The file's bytes, inflated when it is gzip. zlib's inflate is used
 * directly rather than gzread, which ends quietly at bytes after a gzip
 * stream that are not another gzip member: such junk is as wrong as junk
 * inside the stream. Several members one after the other (`cat a.gz b.gz`)
 * are one file, as gzip reads them. */
typedef struct {
	FILE *f;
	const char *path;
	int gz;
	int cut;           /* the gzip stream ended before its end marker */
	int done;          /* the last member's end was reached */
	z_stream z;
	unsigned char *in; /* IDX_IN bytes */
} idx_src;

/* " (the gzip stream is cut off)" after a truncation, so a short file is
 * told apart from a short header or data. */
static const char *cut_note(const idx_src *s)
{
	return s->cut ? " (the gzip stream is cut off: file truncated?)" : "";
}

/* Refills the input; 0 at the end of the file, -1 on a read error. */
static int src_fill(idx_src *s, rt_err *err)
{
	size_t k = fread(s->in, 1, IDX_IN, s->f);
	if (k == 0 && ferror(s->f))
		return rt_errf(err, "%s: read error: %s", s->path, strerror(errno));
	s->z.next_in = s->in;
	s->z.avail_in = (uInt)k;
	return k > 0;
}

/* After a member's end: another member, the end of the file, or junk. */
static int src_next_member(idx_src *s, rt_err *err)
{
	if (s->z.avail_in == 0) {
		int r = src_fill(s, err);
		if (r <= 0) {
			s->done = 1;
			return r;
		}
	}
	if (s->z.avail_in >= 2 && s->z.next_in[0] == 0x1f && s->z.next_in[1] == 0x8b)
		return inflateReset(&s->z) == Z_OK ? 0 : rt_errf(err, "%s: zlib: cannot reset", s->path);
	long pos = ftell(s->f), end = fseek(s->f, 0, SEEK_END) == 0 ? ftell(s->f) : -1;
	long extra = pos >= 0 && end >= pos ? end - pos + (long)s->z.avail_in : (long)s->z.avail_in;
	return rt_errf(err, "%s: trailing garbage: %ld bytes after the end of the gzip stream",
	               s->path, extra);
}

/* Reads up to n bytes; returns the count read, or -1 with err set on a
 * read or decompression error (not on a short read). */
static int64_t src_read(idx_src *s, void *buf, size_t n, rt_err *err)
{
	if (!s->gz) {
		size_t k = fread(buf, 1, n, s->f);
		if (k < n && ferror(s->f))
			return rt_errf(err, "%s: read error: %s", s->path, strerror(errno));
		return (int64_t)k;
	}
	size_t got = 0;
	while (got < n && !s->done && !s->cut) {
		if (s->z.avail_in == 0) {
			int r = src_fill(s, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				s->cut = 1; /* the file ended inside a member */
				break;
			}
		}
		size_t want = n - got < (1u << 30) ? n - got : (1u << 30);
		s->z.next_out = (unsigned char *)buf + got;
		s->z.avail_out = (uInt)want;
		int zr = inflate(&s->z, Z_NO_FLUSH);
		got += want - s->z.avail_out;
		if (zr == Z_STREAM_END) {
			if (src_next_member(s, err) < 0)
				return -1;
		} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
			return rt_errf(err, "%s: corrupt gzip data: %s", s->path,
			               s->z.msg ? s->z.msg : zError(zr));
		}
	}
	return (int64_t)got;
}

static const char *idx_type_name(int code)
{
	switch (code) {
	case 0x08: return "unsigned byte";
	case 0x09: return "signed byte";
	case 0x0b: return "short";
	case 0x0c: return "int";
	case 0x0d: return "float";
	case 0x0e: return "double";
	default: return "unknown";
	}
}

/* Header: magic and dims. Returns the number of data bytes, or -1. */
static int64_t read_header(idx_src *s, int *rank, int64_t *dim, rt_err *err)
{
	unsigned char m[4], d[4 * 255];
	int64_t k = src_read(s, m, 4, err);
	if (k < 0)
		return -1;
	if (k < 4)
		return rt_errf(err, "%s: truncated: %s %d bytes, an IDX header needs at least 4%s",
		               s->path, s->gz ? "decompressed, it has" : "the file has", (int)k,
		               cut_note(s));
	if (m[0] != 0 || m[1] != 0)
		return rt_errf(err, "%s: not an IDX file: magic bytes %02x %02x %02x %02x, expected "
		               "00 00 08 <rank>%s", s->path, m[0], m[1], m[2], m[3],
		               s->gz ? " (after gzip decompression)" : "");
	if (m[2] != 0x08)
		return rt_errf(err, "%s: IDX data type 0x%02x (%s) is not supported: only unsigned "
		               "byte data (0x08) can be read", s->path, m[2], idx_type_name(m[2]));
	*rank = m[3];
	if (*rank < 1 || *rank > RT_MAX_DIMS)
		return rt_errf(err, "%s: IDX rank %d is not supported (1 to %d)", s->path, *rank,
		               RT_MAX_DIMS);
	k = src_read(s, d, 4 * (size_t)*rank, err);
	if (k < 0)
		return -1;
	if (k < 4 * *rank)
		return rt_errf(err, "%s: truncated: header declares %d dimensions but ends after %d "
		               "bytes of them%s", s->path, *rank, (int)k, cut_note(s));
	int64_t n = 1;
	for (int i = 0; i < *rank; i++) {
		dim[i] = (int64_t)d[4 * i] << 24 | d[4 * i + 1] << 16 | d[4 * i + 2] << 8 | d[4 * i + 3];
		/* Each dim < 2^32; stop before the product passes 2^48 bytes. */
		if (dim[i] && n > (INT64_C(1) << 48) / dim[i])
			return rt_errf(err, "%s: IDX dimensions are absurdly large (corrupt header?)",
			               s->path);
		n *= dim[i];
	}
	return n;
}

/* Data of n bytes, grown as it arrives so that a corrupt header cannot make
 * us allocate far more than the file holds. */
static int read_data(idx_src *s, int64_t n, unsigned char **out, rt_err *err)
{
	size_t cap = n < (1 << 26) ? (size_t)n + 1 : (size_t)1 << 26, got = 0;
	unsigned char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return rt_errf(err, "%s: out of memory for %" PRId64 " bytes of data", s->path, n);
		size_t want = ((size_t)n < cap ? (size_t)n : cap) - got;
		int64_t k = src_read(s, buf + got, want, err);
		if (k < 0) {
			free(buf);
			return -1;
		}
		got += (size_t)k;
		if ((size_t)k < want || got == (size_t)n)
			break;
		size_t ncap = cap * 2 > (size_t)n + 1 ? (size_t)n + 1 : cap * 2;
		unsigned char *nb = realloc(buf, ncap);
		if (!nb)
			free(buf);
		buf = nb;
		cap = ncap;
	}
	if (got < (size_t)n) {
		free(buf);
		return rt_errf(err, "%s: truncated: expected %" PRId64 " bytes of data, got %zu%s",
		               s->path, n, got, cut_note(s));
	}
	unsigned char extra;
	int64_t k = src_read(s, &extra, 1, err);
	if (k != 0) {
		free(buf);
		return k < 0 ? -1 : rt_errf(err, "%s: trailing garbage after the %" PRId64 " bytes of "
		                            "data the header declares", s->path, n);
	}
	if (s->cut) {
		free(buf);
		return rt_errf(err, "%s: truncated: the gzip stream is cut off after the data "
		               "(file truncated?)", s->path);
	}

	*out = buf;
	return 0;
}

/* The u8 payload in the requested dtype. */
static int convert(const char *path, unsigned char *buf, rt_dtype want, int rank,
                   const int64_t *dim, rt_tensor *out, rt_err *err)
{
	if (rt_tensor_init(out, path, want, rank, dim) != 0)
		return rt_errf(err, "%s: out of memory converting to %s", path, rt_dtype_name(want));
	int64_t n = rt_tensor_numel(out);
	if (want == RT_U8) {
		free(out->data);
		out->data = buf; /* hand over, no copy */
		return 0;
	}
	if (want == RT_F32) {
		float *p = out->data;
		for (int64_t i = 0; i < n; i++)
			p[i] = buf[i];
	} else if (want == RT_I32) {
		int32_t *p = out->data;
		for (int64_t i = 0; i < n; i++)
			p[i] = buf[i];
	} else {
		for (int64_t i = 0; i < n; i++)
			rt_tensor_set(out, i, buf[i]);
	}
	free(buf);
	return 0;
}

int rt_idx_read(const char *path, rt_dtype want, rt_tensor *out, rt_err *err)
{
	memset(out, 0, sizeof *out);
	if (rt_dtype_size(want) == 0)
		return rt_errf(err, "%s: invalid target dtype %d", path, (int)want);
	idx_src s = {.path = path};
	s.f = fopen(path, "rb");
	if (!s.f)
		return rt_errf(err, "%s: cannot open: %s", path, strerror(errno));
	unsigned char m[2] = {0, 0};
	size_t nm = fread(m, 1, 2, s.f);
	rewind(s.f);
	s.gz = nm == 2 && m[0] == 0x1f && m[1] == 0x8b;
	if (s.gz && (!(s.in = malloc(IDX_IN)) || inflateInit2(&s.z, 16 + MAX_WBITS) != Z_OK)) {
		free(s.in);
		fclose(s.f);
		return rt_errf(err, "%s: out of memory for gzip decompression", path);
	}

	int rank = 0;
	int64_t dim[RT_MAX_DIMS];
	unsigned char *buf = NULL;
	int64_t n = read_header(&s, &rank, dim, err);
	int rc = n < 0 ? -1 : read_data(&s, n, &buf, err);
	if (s.gz) {
		inflateEnd(&s.z);
		free(s.in);
	}
	fclose(s.f);
	if (rc)
		return -1;
	return convert(path, buf, want, rank, dim, out, err);
}
