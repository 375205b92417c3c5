/*
 * ir_op.c - the op table's names, arities, kinds and attribute sets; the
 * attribute accessors; dtype names.
 */
#include "ir.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Attribute sets: the attributes an op carries, in storage order, with
 * their defaults. Each ends with a key of IR_ATTR_COUNT. */
static const ir_attr_desc attrs_none[] = {{IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_value[] = {{IR_ATTR_VALUE, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_init[] = {
	{IR_ATTR_INIT, IR_INIT_ZEROS}, {IR_ATTR_INIT_A, 0}, {IR_ATTR_INIT_B, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_input[] = {{IR_ATTR_NCLASSES, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_perm[] = {{IR_ATTR_PERM, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_reduce[] = {
	{IR_ATTR_AXES, 0}, {IR_ATTR_KEEPDIM, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_matmul[] = {{IR_ATTR_TA, 0}, {IR_ATTR_TB, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_axis[] = {{IR_ATTR_AXIS, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_leaky[] = {{IR_ATTR_NEG_SLOPE, 0.01}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_softplus[] = {
	{IR_ATTR_BETA, 1.0}, {IR_ATTR_THRESHOLD, 20.0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_clamp[] = {
	{IR_ATTR_MIN, -INFINITY}, {IR_ATTR_MAX, INFINITY}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_narrow[] = {
	{IR_ATTR_AXIS, 0}, {IR_ATTR_START, 0}, {IR_ATTR_LENGTH, 1}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_pad[] = {
	{IR_ATTR_AXIS, 0}, {IR_ATTR_START, 0}, {IR_ATTR_SIZE, 1}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_ce[] = {
	{IR_ATTR_REDUCTION, IR_REDUCE_MEAN}, {IR_ATTR_SMOOTHING, 0}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_maxpool[] = {
	{IR_ATTR_KERNEL_H, 1}, {IR_ATTR_KERNEL_W, 1}, {IR_ATTR_STRIDE_H, 1}, {IR_ATTR_STRIDE_W, 1},
	{IR_ATTR_PAD_H, 0},    {IR_ATTR_PAD_W, 0},    {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_avgpool[] = {
	{IR_ATTR_KERNEL_H, 1}, {IR_ATTR_KERNEL_W, 1}, {IR_ATTR_STRIDE_H, 1}, {IR_ATTR_STRIDE_W, 1},
	{IR_ATTR_PAD_H, 0},    {IR_ATTR_PAD_W, 0},    {IR_ATTR_COUNT_PAD, 1}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_adaptive[] = {
	{IR_ATTR_OUT_H, 1}, {IR_ATTR_OUT_W, 1}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_nll[] = {{IR_ATTR_REDUCTION, IR_REDUCE_MEAN}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_onehot[] = {{IR_ATTR_NCLASSES, 0}, {IR_ATTR_COUNT, 0}};
#define CONV_ATTRS                                                                           \
	{IR_ATTR_STRIDE_H, 1}, {IR_ATTR_STRIDE_W, 1}, {IR_ATTR_PAD_H, 0}, {IR_ATTR_PAD_W, 0},   \
	{IR_ATTR_DILATION_H, 1}, {IR_ATTR_DILATION_W, 1}, {IR_ATTR_GROUPS, 1}
static const ir_attr_desc attrs_conv[] = {CONV_ATTRS, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_conv_bwd_data[] = {
	CONV_ATTRS, {IR_ATTR_IN_H, 1}, {IR_ATTR_IN_W, 1}, {IR_ATTR_COUNT, 0}};
static const ir_attr_desc attrs_conv_bwd_weight[] = {
	CONV_ATTRS, {IR_ATTR_KERNEL_H, 1}, {IR_ATTR_KERNEL_W, 1}, {IR_ATTR_COUNT, 0}};
#undef CONV_ATTRS

typedef struct {
	const char *name;
	int arity;
	ir_kind kind;
	const ir_attr_desc *attrs;
	ir_grad_kind grad;
	ir_dsl_kind dsl;
} op_row;

static const op_row ops[] = {
#define X(e, s, a, k, at, gr, dsl) {s, a, k, attrs_##at, gr, dsl},
	IR_OP_TABLE(X)
#undef X
};

static const struct {
	const char *name;
	ir_attr_type type;
} attr_keys[] = {
#define X(e, s, t) {s, t},
	IR_ATTR_TABLE(X)
#undef X
};

const char *ir_op_name(ir_op op) { return op < IR_OP_COUNT ? ops[op].name : "?"; }
int ir_op_arity(ir_op op) { return op < IR_OP_COUNT ? ops[op].arity : 0; }
ir_kind ir_op_kind(ir_op op) { return op < IR_OP_COUNT ? ops[op].kind : IR_KIND_OPAQUE; }
ir_grad_kind ir_op_grad(ir_op op) { return op < IR_OP_COUNT ? ops[op].grad : IR_GRAD_NONE; }
ir_dsl_kind ir_op_dsl(ir_op op) { return op < IR_OP_COUNT ? ops[op].dsl : IR_DSL_INTERNAL; }

const ir_attr_desc *ir_op_attrs(ir_op op, int *n)
{
	const ir_attr_desc *d = op < IR_OP_COUNT ? ops[op].attrs : attrs_none;
	int c = 0;
	while (d[c].key != IR_ATTR_COUNT)
		c++;
	*n = c;
	return d;
}

const char *ir_attr_name(ir_attr_key key) { return key < IR_ATTR_COUNT ? attr_keys[key].name : "?"; }

ir_attr_type ir_attr_type_of(ir_attr_key key)
{
	return key < IR_ATTR_COUNT ? attr_keys[key].type : IR_ATTR_T_INT;
}

/* The integer view of a float attribute: 0 where the cast is undefined
 * (infinities, NaN, out of range), as for clamp's absent bounds. */
static int64_t as_int(double x)
{
	return x > -9.2e18 && x < 9.2e18 ? (int64_t)x : 0;
}

/* Where key lives in n's attribute array, or NULL. */
static ir_attr_val *slot_of(const ir_node *n, ir_attr_key key)
{
	if (!n->attr || n->op >= IR_OP_COUNT)
		return NULL;
	const ir_attr_desc *d = ops[n->op].attrs;
	for (int i = 0; d[i].key != IR_ATTR_COUNT; i++)
		if (d[i].key == key)
			return &n->attr[i];
	return NULL;
}

int ir_attr_has(const ir_node *n, ir_attr_key key) { return slot_of(n, key) != NULL; }

int64_t ir_attr_i(const ir_node *n, ir_attr_key key)
{
	const ir_attr_val *v = slot_of(n, key);
	return v ? v->i : 0;
}

double ir_attr_f(const ir_node *n, ir_attr_key key)
{
	const ir_attr_val *v = slot_of(n, key);
	return v ? v->f : 0.0;
}

const int *ir_attr_ints(const ir_node *n, ir_attr_key key)
{
	const ir_attr_val *v = slot_of(n, key);
	return v ? v->v : NULL;
}

void ir_attr_set_i(ir_node *n, ir_attr_key key, int64_t x)
{
	ir_attr_val *v = slot_of(n, key);
	if (v) {
		v->i = x;
		v->f = (double)x;
	}
}

void ir_attr_set_f(ir_node *n, ir_attr_key key, double x)
{
	ir_attr_val *v = slot_of(n, key);
	if (v) {
		v->f = x;
		v->i = as_int(x);
	}
}

void ir_attr_set_ints(ir_node *n, ir_attr_key key, const int *x, int count)
{
	ir_attr_val *v = slot_of(n, key);
	if (!v)
		return;
	memset(v->v, 0, sizeof v->v);
	for (int i = 0; i < count && i < IR_MAX_DIMS; i++)
		v->v[i] = x[i];
}

void ir_attr_defaults(ir_op op, ir_attr_val *attr)
{
	int n;
	const ir_attr_desc *d = ir_op_attrs(op, &n);
	for (int i = 0; i < n; i++) {
		memset(&attr[i], 0, sizeof attr[i]);
		attr[i].f = d[i].def;
		attr[i].i = as_int(d[i].def);
	}
}

ir_init ir_node_init(const ir_node *n)
{
	ir_init r = {(ir_init_kind)ir_attr_i(n, IR_ATTR_INIT), ir_attr_f(n, IR_ATTR_INIT_A),
	             ir_attr_f(n, IR_ATTR_INIT_B)};
	return r;
}

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
