/* ir_shape.c - static shapes: construction, printing, numpy broadcasting. */
#include "ir.h"

#include <stdio.h>

ir_shape ir_shape_make(int rank, const int64_t *dims)
{
	ir_shape s = {0};
	s.rank = rank;
	for (int i = 0; i < rank && i < IR_MAX_DIMS; i++)
		s.dim[i] = dims[i];
	return s;
}

ir_shape ir_shape_scalar(void)
{
	ir_shape s = {0};
	return s;
}

int64_t ir_shape_numel(const ir_shape *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++)
		n *= s->dim[i];
	return n;
}

int ir_shape_fits(const ir_shape *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++) {
		if (s->dim[i] <= 0 || s->dim[i] > IR_MAX_NUMEL / n)
			return 0;
		n *= s->dim[i];
	}
	return 1;
}

int ir_shape_eq(const ir_shape *a, const ir_shape *b)
{
	if (a->rank != b->rank)
		return 0;
	for (int i = 0; i < a->rank; i++)
		if (a->dim[i] != b->dim[i])
			return 0;
	return 1;
}

char *ir_shape_str(const ir_shape *s, char *buf, size_t n)
{
	size_t off = 0;
	off += (size_t)snprintf(buf + off, n - off, "[");
	for (int i = 0; i < s->rank && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? "," : "", (long long)s->dim[i]);
	if (off < n)
		snprintf(buf + off, n - off, "]");
	return buf;
}

int ir_shape_broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out)
{
	ir_shape r = {0};
	r.rank = a->rank > b->rank ? a->rank : b->rank;
	for (int i = 0; i < r.rank; i++) {
		/* right-aligned: dimension i of the result */
		int ia = i - (r.rank - a->rank), ib = i - (r.rank - b->rank);
		int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
		if (da != db && da != 1 && db != 1)
			return 0;
		r.dim[i] = da == 1 ? db : da;
	}
	*out = r;
	return 1;
}
