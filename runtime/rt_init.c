/* rt_init.c - seeded parameter initialisation (see rt_init.h). */
#include "rt_init.h"

#include <math.h>
#include <string.h>

#include "rt_rng.h"

static int64_t slot_numel(const rt_slot *s)
{
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++)
		n *= s->dim[i];
	return n;
}

/* Value of element i under the slot's rule, in double. */
static double draw(const rt_slot *s, uint64_t seed, uint64_t stream, int64_t i)
{
	switch (s->init) {
	case RT_INIT_ZEROS: return 0.0;
	case RT_INIT_ONES: return 1.0;
	case RT_INIT_UNIFORM:
		return s->init_a + (s->init_b - s->init_a) * rt_rng_uniform_f64(seed, stream, (uint64_t)i);
	case RT_INIT_NORMAL:
		return s->init_a + s->init_b * rt_rng_normal(seed, stream, (uint64_t)i);
	case RT_INIT_CONST: return s->init_a;
	}
	return 0.0;
}

int rt_init_slot(const rt_slot *s, void *data, uint64_t seed, rt_err *err)
{
	if (s->dtype != RT_F32 && s->dtype != RT_F64 && s->dtype != RT_I32)
		return rt_errf(err, "slot '%s': cannot initialise dtype %s (expected F32, F64 or I32)",
		               s->name, rt_dtype_name(s->dtype));
	if (s->role == RT_SLOT_INPUT)
		return 0;
	int64_t n = slot_numel(s);
	if (s->role == RT_SLOT_STATE && s->init != RT_INIT_ZEROS && s->init != RT_INIT_ONES &&
	    s->init != RT_INIT_CONST)
		return rt_errf(err, "state '%s': init must be zeros, ones or a constant", s->name);
	if ((unsigned)s->init > RT_INIT_CONST)
		return rt_errf(err, "slot '%s': unknown init rule %d", s->name, (int)s->init);
	if (s->init == RT_INIT_ZEROS) {
		memset(data, 0, (size_t)n * rt_dtype_size(s->dtype));
		return 0;
	}
	if (s->init == RT_INIT_UNIFORM && !(s->init_b >= s->init_a))
		return rt_errf(err, "parameter '%s': uniform init needs a <= b, got [%g, %g)", s->name,
		               s->init_a, s->init_b);
	if (s->init == RT_INIT_NORMAL && !(s->init_b >= 0))
		return rt_errf(err, "parameter '%s': normal init needs std >= 0, got %g", s->name,
		               s->init_b);
	uint64_t stream = rt_rng_stream_of(s->name);
	for (int64_t i = 0; i < n; i++) {
		double v = draw(s, seed, stream, i);
		if (s->dtype == RT_F32) {
			float f = (float)v;
			/* Rounding to float can reach b itself; keep the interval half-open. */
			if (s->init == RT_INIT_UNIFORM && s->init_b > s->init_a && f >= s->init_b)
				f = nextafterf((float)s->init_b, -INFINITY);
			((float *)data)[i] = f;
		} else if (s->dtype == RT_F64) {
			((double *)data)[i] = v;
		} else {
			((int32_t *)data)[i] = (int32_t)lrint(v);
		}
	}
	return 0;
}

int rt_init_exec(const rt_exec *x, void **slot_data, uint64_t seed, rt_err *err)
{
	for (int i = 0; i < x->nslots; i++) {
		if (!slot_data[i])
			return rt_errf(err, "slot '%s' has no buffer", x->slots[i].name);
		if (rt_init_slot(&x->slots[i], slot_data[i], seed, err))
			return -1;
	}
	return 0;
}
