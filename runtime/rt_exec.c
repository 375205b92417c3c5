/* rt_exec.c - helpers over the backend interface (see rt_exec.h). */
#include "rt_exec.h"

#include <string.h>

int rt_exec_find_slot(const rt_exec *x, const char *name)
{
	for (int i = 0; x && name && i < x->nslots; i++)
		if (x->slots[i].name && strcmp(x->slots[i].name, name) == 0)
			return i;
	return -1;
}

void rt_exec_share(rt_exec *x, const rt_exec *inner)
{
	x->slots = inner->slots;
	x->nslots = inner->nslots;
	x->outputs = inner->outputs;
	x->noutputs = inner->noutputs;
	x->pool = inner->pool;
	x->dev = inner->dev;
	x->runner = inner->runner;
}
