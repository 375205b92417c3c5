/* fe_bindings.h - the DSL spelling of each op the model language binds. */
#ifndef SAMC_FE_BINDINGS_H
#define SAMC_FE_BINDINGS_H

#include "ir.h"

typedef struct {
	ir_op op;
	const char *spelling; /* for people: "relu(x)", "a + b" */
	/* a Lua expression that makes a node of `op`, given B (the batch
	 * size, 4), x (input [B,3]), y (labels [B], 3 classes), w (param [3,3]) */
	const char *example;
} fe_binding;

/* op's binding, or NULL when the model language does not spell it. */
const fe_binding *fe_op_binding(ir_op op);

#endif
