/* ir_op.c - the op table's names, arities and kinds; dtype names. */
#include "ir.h"

static const char *const op_names[] = {
#define X(e, s, a, k) s,
	IR_OP_TABLE(X)
#undef X
};
static const int op_arity[] = {
#define X(e, s, a, k) a,
	IR_OP_TABLE(X)
#undef X
};
static const ir_kind op_kind[] = {
#define X(e, s, a, k) k,
	IR_OP_TABLE(X)
#undef X
};

const char *ir_op_name(ir_op op) { return op < IR_OP_COUNT ? op_names[op] : "?"; }
int ir_op_arity(ir_op op) { return op < IR_OP_COUNT ? op_arity[op] : 0; }
ir_kind ir_op_kind(ir_op op) { return op < IR_OP_COUNT ? op_kind[op] : IR_KIND_OPAQUE; }

const char *ir_dtype_name(ir_dtype t)
{
	switch (t) {
	case IR_F32: return "f32";
	case IR_F64: return "f64";
	case IR_I32: return "i32";
	}
	return "?";
}

int ir_dtype_is_float(ir_dtype t) { return t == IR_F32 || t == IR_F64; }
