/*
 * cg_llvm.c - loop IR to LLVM IR (see cg_llvm.h). Loop variables and
 * locals are allocas that mem2reg promotes; float math carries the
 * `contract` flag (FMA), and the accumulation `t = t op x` of a reduce
 * loop's accumulator carries `reassoc` too, so reductions vectorize (an
 * accumulation in a serial loop keeps its order). Each kernel is an
 * internal function with noalias buffer arguments, wrapped by the
 * exported `NAME(void **bufs, lo, hi, err)`.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "cg_llvm.h"

typedef struct {
	LLVMContextRef ctx;
	LLVMModuleRef m;
	LLVMBuilderRef b;
	LLVMValueRef fn;
	const cg_kernel *k;
	LLVMValueRef *bufp;   /* per kernel arg: its pointer */
	LLVMValueRef *vars;   /* allocas */
	LLVMValueRef *locals;
	LLVMValueRef lo, hi;
	LLVMValueRef errp;     /* the kernel's int32 error word */
	const cg_expr **memo_key; /* open addressing, per statement */
	LLVMValueRef *memo_val;
	size_t memo_cap, memo_used;
	const cg_expr **stack;    /* expr's walk */
	size_t stack_cap;
	const cg_expr *accum; /* the value of the SET being emitted, if an accumulation */
	int *reducing;        /* per local: enclosing reduce loops that fold into it */
} rctx;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void do_init(void)
{
	init_rc = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter() ||
	          LLVMInitializeNativeAsmParser();
}

int cg_llvm_init(char *err, size_t errlen)
{
	pthread_once(&init_once, do_init);
	if (init_rc) {
		snprintf(err, errlen, "LLVM: the native target of this machine is not available");
		return -1;
	}
	return 0;
}

LLVMTargetMachineRef cg_llvm_host_tm(char *err, size_t errlen)
{
	cg_target t;
	if (cg_target_init(&t, "native", err, errlen))
		return NULL;
	LLVMTargetMachineRef tm = cg_target_machine(&t, err, errlen);
	cg_target_free(&t);
	return tm;
}

static LLVMTypeRef ty(rctx *r, cg_type t)
{
	switch (t) {
	case CG_T_F32: return LLVMFloatTypeInContext(r->ctx);
	case CG_T_F64: return LLVMDoubleTypeInContext(r->ctx);
	case CG_T_I32: return LLVMInt32TypeInContext(r->ctx);
	case CG_T_I64: return LLVMInt64TypeInContext(r->ctx);
	case CG_T_BOOL: return LLVMInt1TypeInContext(r->ctx);
	}
	return NULL;
}

static LLVMValueRef fmf(LLVMValueRef v, int accum)
{
	if (LLVMCanValueUseFastMathFlags(v))
		LLVMSetFastMathFlags(v, LLVMFastMathAllowContract |
		                            (accum ? LLVMFastMathAllowReassoc : 0));
	return v;
}

static LLVMValueRef intrinsic(rctx *r, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n)
{
	unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
	LLVMValueRef f = LLVMGetIntrinsicDeclaration(r->m, id, &t, 1);
	LLVMTypeRef ft = LLVMIntrinsicGetType(r->ctx, id, &t, 1);
	return LLVMBuildCall2(r->b, ft, f, args, (unsigned)n, "");
}

/* tanhf / erff (or tanh / erf): libm calls the process provides */
static LLVMValueRef libm(rctx *r, const char *base, cg_type t, LLVMValueRef x)
{
	char name[32];
	snprintf(name, sizeof name, "%s%s", base, t == CG_T_F32 ? "f" : "");
	LLVMTypeRef ft = ty(r, t), fty = LLVMFunctionType(ft, &ft, 1, 0);
	LLVMValueRef f = LLVMGetNamedFunction(r->m, name);
	if (!f) {
		f = LLVMAddFunction(r->m, name, fty);
		unsigned kid = LLVMGetEnumAttributeKindForName("nounwind", 8);
		LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
		                        LLVMCreateEnumAttribute(r->ctx, kid, 0));
	}
	return LLVMBuildCall2(r->b, fty, f, &x, 1, "");
}

static LLVMValueRef expr(rctx *r, const cg_expr *e);

/* ir_round_bf16 in bit operations that vectorise: u + 0x7fff + ((u >> 16)
 * & 1), the low 16 bits cleared, NaN kept. An f64 operand goes through its
 * f32 value, as the interpreter's. */
static LLVMValueRef round_bf16(rctx *r, cg_type t, LLVMValueRef x)
{
	LLVMTypeRef f32 = LLVMFloatTypeInContext(r->ctx), i32 = LLVMInt32TypeInContext(r->ctx);
	LLVMValueRef f = t == CG_T_F32 ? x : LLVMBuildFPTrunc(r->b, x, f32, "");
	LLVMValueRef u = LLVMBuildBitCast(r->b, f, i32, "");
	LLVMValueRef lsb = LLVMBuildAnd(r->b, LLVMBuildLShr(r->b, u, LLVMConstInt(i32, 16, 0), ""),
	                                LLVMConstInt(i32, 1, 0), "");
	u = LLVMBuildAdd(r->b, u, LLVMBuildAdd(r->b, lsb, LLVMConstInt(i32, 0x7fff, 0), ""), "");
	u = LLVMBuildAnd(r->b, u, LLVMConstInt(i32, 0xffff0000u, 0), "");
	LLVMValueRef y = LLVMBuildBitCast(r->b, u, f32, "");
	y = LLVMBuildSelect(r->b, LLVMBuildFCmp(r->b, LLVMRealUNO, f, f, ""), f, y, "");
	return t == CG_T_F32 ? y : LLVMBuildFPExt(r->b, y, ty(r, t), "");
}

static LLVMValueRef un(rctx *r, const cg_expr *e)
{
	LLVMValueRef x = expr(r, e->a);
	LLVMTypeRef t = ty(r, e->a->type);
	int fl = cg_type_is_float(e->a->type);
	switch ((cg_uop)e->op) {
	case CG_U_NEG: return fl ? LLVMBuildFNeg(r->b, x, "") : LLVMBuildNeg(r->b, x, "");
	case CG_U_EXP: return intrinsic(r, "llvm.exp", t, &x, 1);
	case CG_U_LOG: return intrinsic(r, "llvm.log", t, &x, 1);
	case CG_U_SQRT: return intrinsic(r, "llvm.sqrt", t, &x, 1);
	case CG_U_ABS: return intrinsic(r, "llvm.fabs", t, &x, 1);
	case CG_U_FLOOR: return intrinsic(r, "llvm.floor", t, &x, 1);
	case CG_U_COS: return intrinsic(r, "llvm.cos", t, &x, 1);
	case CG_U_SIN: return intrinsic(r, "llvm.sin", t, &x, 1);
	case CG_U_TANH: return libm(r, "tanh", e->a->type, x);
	case CG_U_ERF: return libm(r, "erf", e->a->type, x);
	case CG_U_LOG1P: return libm(r, "log1p", e->a->type, x);
	case CG_U_ISNAN: return LLVMBuildFCmp(r->b, LLVMRealUNO, x, x, "");
	case CG_U_NOT: return LLVMBuildNot(r->b, x, "");
	case CG_U_BF16: return round_bf16(r, e->a->type, x);
	}
	return NULL;
}

static LLVMValueRef bin(rctx *r, const cg_expr *e)
{
	LLVMValueRef x = expr(r, e->a), y = expr(r, e->b);
	LLVMTypeRef t = ty(r, e->a->type);
	int fl = cg_type_is_float(e->a->type), acc = r->accum == e;
	LLVMValueRef xy[2] = {x, y};
	switch ((cg_bop)e->op) {
	case CG_B_ADD: return fl ? fmf(LLVMBuildFAdd(r->b, x, y, ""), acc) : LLVMBuildAdd(r->b, x, y, "");
	case CG_B_SUB: return fl ? fmf(LLVMBuildFSub(r->b, x, y, ""), 0) : LLVMBuildSub(r->b, x, y, "");
	case CG_B_MUL: return fl ? fmf(LLVMBuildFMul(r->b, x, y, ""), acc) : LLVMBuildMul(r->b, x, y, "");
	case CG_B_DIV: return fl ? fmf(LLVMBuildFDiv(r->b, x, y, ""), 0) : LLVMBuildSDiv(r->b, x, y, "");
	case CG_B_POW: return intrinsic(r, "llvm.pow", t, xy, 2);
	case CG_B_MIN:
		if (fl)
			return intrinsic(r, "llvm.minimum", t, xy, 2);
		return LLVMBuildSelect(r->b, LLVMBuildICmp(r->b, LLVMIntSLT, x, y, ""), x, y, "");
	case CG_B_MAX:
		if (fl)
			return fmf(intrinsic(r, "llvm.maximum", t, xy, 2), acc);
		return LLVMBuildSelect(r->b, LLVMBuildICmp(r->b, LLVMIntSGT, x, y, ""), x, y, "");
	case CG_B_LT: return fl ? LLVMBuildFCmp(r->b, LLVMRealOLT, x, y, "") : LLVMBuildICmp(r->b, LLVMIntSLT, x, y, "");
	case CG_B_LE: return fl ? LLVMBuildFCmp(r->b, LLVMRealOLE, x, y, "") : LLVMBuildICmp(r->b, LLVMIntSLE, x, y, "");
	case CG_B_GT: return fl ? LLVMBuildFCmp(r->b, LLVMRealOGT, x, y, "") : LLVMBuildICmp(r->b, LLVMIntSGT, x, y, "");
	case CG_B_GE: return fl ? LLVMBuildFCmp(r->b, LLVMRealOGE, x, y, "") : LLVMBuildICmp(r->b, LLVMIntSGE, x, y, "");
	case CG_B_EQ: return fl ? LLVMBuildFCmp(r->b, LLVMRealOEQ, x, y, "") : LLVMBuildICmp(r->b, LLVMIntEQ, x, y, "");
	case CG_B_NE: return fl ? LLVMBuildFCmp(r->b, LLVMRealUNE, x, y, "") : LLVMBuildICmp(r->b, LLVMIntNE, x, y, "");
	case CG_B_AND: return LLVMBuildAnd(r->b, x, y, "");
	case CG_B_OR: return LLVMBuildOr(r->b, x, y, "");
	}
	return NULL;
}

static LLVMValueRef cast(rctx *r, const cg_expr *e)
{
	LLVMValueRef x = expr(r, e->a);
	cg_type from = e->a->type, to = e->type;
	LLVMTypeRef t = ty(r, to);
	if (cg_type_is_float(from) && cg_type_is_float(to))
		return to == CG_T_F64 ? LLVMBuildFPExt(r->b, x, t, "") : LLVMBuildFPTrunc(r->b, x, t, "");
	if (cg_type_is_float(to))
		return from == CG_T_BOOL ? LLVMBuildUIToFP(r->b, x, t, "") : LLVMBuildSIToFP(r->b, x, t, "");
	if (cg_type_is_float(from))
		return LLVMBuildFPToSI(r->b, x, t, "");
	if (from == CG_T_BOOL)
		return LLVMBuildZExt(r->b, x, t, "");
	if (to == CG_T_BOOL)
		return LLVMBuildICmp(r->b, LLVMIntNE, x, LLVMConstInt(ty(r, from), 0, 0), "");
	return to == CG_T_I64 ? LLVMBuildSExt(r->b, x, t, "") : LLVMBuildTrunc(r->b, x, t, "");
}

static LLVMValueRef elem_ptr(rctx *r, int buf, cg_type t, const cg_expr *idx)
{
	LLVMValueRef i = expr(r, idx);
	return LLVMBuildInBoundsGEP2(r->b, ty(r, t), r->bufp[buf], &i, 1, "");
}

static LLVMValueRef expr_uncached(rctx *r, const cg_expr *e)
{
	switch (e->kind) {
	case CG_X_CONST:
		if (cg_type_is_float(e->type))
			return LLVMConstReal(ty(r, e->type), e->fval);
		return LLVMConstInt(ty(r, e->type), (unsigned long long)e->ival, 1);
	case CG_X_VAR: return LLVMBuildLoad2(r->b, ty(r, CG_T_I64), r->vars[e->var], "");
	case CG_X_LOCAL: return LLVMBuildLoad2(r->b, ty(r, e->type), r->locals[e->var], "");
	case CG_X_LOAD: {
		LLVMValueRef v = LLVMBuildLoad2(r->b, ty(r, e->type), elem_ptr(r, e->buf, e->type, e->a), "");
		LLVMSetAlignment(v, e->type == CG_T_F64 || e->type == CG_T_I64 ? 8 : 4);
		return v;
	}
	case CG_X_UN: return un(r, e);
	case CG_X_BIN: return bin(r, e);
	case CG_X_SELECT:
		return LLVMBuildSelect(r->b, expr(r, e->c), expr(r, e->a), expr(r, e->b), "");
	case CG_X_CAST: return cast(r, e);
	}
	return NULL;
}

static size_t memo_slot(const rctx *r, const cg_expr *e)
{
	size_t h = ((uintptr_t)e >> 4) & (r->memo_cap - 1);
	while (r->memo_key[h] && r->memo_key[h] != e)
		h = (h + 1) & (r->memo_cap - 1);
	return h;
}

static LLVMValueRef *memo_find(const rctx *r, const cg_expr *e)
{
	if (!r->memo_cap)
		return NULL;
	size_t h = memo_slot(r, e);
	return r->memo_key[h] ? &r->memo_val[h] : NULL;
}

static int memo_add(rctx *r, const cg_expr *e, LLVMValueRef v)
{
	if (2 * (r->memo_used + 1) > r->memo_cap) {
		size_t ocap = r->memo_cap, cap = ocap ? 2 * ocap : 1024;
		const cg_expr **ok = r->memo_key;
		LLVMValueRef *ov = r->memo_val;
		r->memo_key = calloc(cap, sizeof *r->memo_key);
		r->memo_val = calloc(cap, sizeof *r->memo_val);
		if (!r->memo_key || !r->memo_val) {
			free(r->memo_key);
			free(r->memo_val);
			r->memo_key = ok;
			r->memo_val = ov;
			return -1;
		}
		r->memo_cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (ok[i]) {
				size_t h = memo_slot(r, ok[i]);
				r->memo_key[h] = ok[i];
				r->memo_val[h] = ov[i];
			}
		free(ok);
		free(ov);
	}
	size_t h = memo_slot(r, e);
	r->memo_key[h] = e;
	r->memo_val[h] = v;
	r->memo_used++;
	return 0;
}

static int push(rctx *r, size_t *sp, const cg_expr *e)
{
	if (*sp == r->stack_cap) {
		size_t cap = r->stack_cap ? 2 * r->stack_cap : 64;
		const cg_expr **s = realloc(r->stack, cap * sizeof *s);
		if (!s)
			return -1;
		r->stack = s;
		r->stack_cap = cap;
	}
	r->stack[(*sp)++] = e;
	return 0;
}

/* Shared sub-expressions of one statement are emitted once. The tree is
 * walked with a stack of its own, operands before the node in the order
 * the builders above read them (a select's condition first), so every
 * operand is in the memo when its node is built and a chain of any
 * length renders without deep recursion. */
static LLVMValueRef expr(rctx *r, const cg_expr *e)
{
	LLVMValueRef *hit = memo_find(r, e);
	if (hit)
		return *hit;
	size_t sp = 0;
	if (push(r, &sp, e))
		return expr_uncached(r, e);
	while (sp > 0) {
		const cg_expr *n = r->stack[sp - 1];
		if (memo_find(r, n)) {
			sp--;
			continue;
		}
		const cg_expr *kids[3] = {n->a, n->b, NULL};
		if (n->kind == CG_X_SELECT) {
			kids[0] = n->c;
			kids[1] = n->a;
			kids[2] = n->b;
		}
		int pending = 0;
		for (int i = 2; i >= 0; i--)
			if (kids[i] && !memo_find(r, kids[i])) {
				if (push(r, &sp, kids[i]))
					return expr_uncached(r, e);
				pending = 1;
			}
		if (pending)
			continue;
		LLVMValueRef v = expr_uncached(r, n);
		if (memo_add(r, n, v))
			return expr_uncached(r, e);
		sp--;
	}
	return *memo_find(r, e);
}

static void memo_reset(rctx *r)
{
	if (r->memo_cap)
		memset(r->memo_key, 0, r->memo_cap * sizeof *r->memo_key);
	r->memo_used = 0;
}

static void block(rctx *r, const cg_stmt *s, int top);

static void loop(rctx *r, const cg_stmt *s, int top)
{
	LLVMTypeRef i64 = ty(r, CG_T_I64);
	int split = top && s->loop == CG_L_PARALLEL && !s->next;
	LLVMValueRef start = split ? r->lo : LLVMConstInt(i64, 0, 0);
	LLVMValueRef end = split ? r->hi : LLVMConstInt(i64, (unsigned long long)s->extent, 0);
	LLVMBasicBlockRef cond = LLVMAppendBasicBlockInContext(r->ctx, r->fn, "cond");
	LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(r->ctx, r->fn, "body");
	LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(r->ctx, r->fn, "exit");
	LLVMBuildStore(r->b, start, r->vars[s->var]);
	LLVMBuildBr(r->b, cond);
	LLVMPositionBuilderAtEnd(r->b, cond);
	LLVMValueRef v = LLVMBuildLoad2(r->b, i64, r->vars[s->var], "");
	LLVMBuildCondBr(r->b, LLVMBuildICmp(r->b, LLVMIntSLT, v, end, ""), body, exit);
	LLVMPositionBuilderAtEnd(r->b, body);
	if (s->loop == CG_L_REDUCE)
		r->reducing[s->acc]++;
	block(r, s->body, 0);
	if (s->loop == CG_L_REDUCE)
		r->reducing[s->acc]--;
	v = LLVMBuildLoad2(r->b, i64, r->vars[s->var], "");
	LLVMBuildStore(r->b, LLVMBuildNSWAdd(r->b, v, LLVMConstInt(i64, 1, 0), ""), r->vars[s->var]);
	LLVMBuildBr(r->b, cond);
	LLVMPositionBuilderAtEnd(r->b, exit);
}

static void block(rctx *r, const cg_stmt *s, int top)
{
	for (; s; s = s->next) {
		memo_reset(r);
		r->accum = NULL;
		switch (s->kind) {
		case CG_S_LOOP:
			loop(r, s, top);
			break;
		case CG_S_STORE: {
			cg_type t = r->k->args[s->buf].type;
			LLVMValueRef v = expr(r, s->val);
			LLVMValueRef st = LLVMBuildStore(r->b, v, elem_ptr(r, s->buf, t, s->idx));
			LLVMSetAlignment(st, t == CG_T_F64 || t == CG_T_I64 ? 8 : 4);
			break;
		}
		case CG_S_SET: {
			const cg_expr *v = s->val;
			/* t = t + x in a reduce loop over t: the vectorizer may reorder */
			if (r->reducing[s->var] && v->kind == CG_X_BIN &&
			    (v->op == CG_B_ADD || v->op == CG_B_MAX) && v->a->kind == CG_X_LOCAL &&
			    v->a->var == s->var)
				r->accum = v;
			LLVMBuildStore(r->b, expr(r, v), r->locals[s->var]);
			break;
		}
		case CG_S_IF: {
			LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(r->ctx, r->fn, "then");
			LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(r->ctx, r->fn, "endif");
			LLVMBuildCondBr(r->b, expr(r, s->cond), then, done);
			LLVMPositionBuilderAtEnd(r->b, then);
			block(r, s->body, 0);
			LLVMBuildBr(r->b, done);
			LLVMPositionBuilderAtEnd(r->b, done);
			break;
		}
		case CG_S_FAIL: {
			/* a GPU kernel cannot return a code: every device's kernels
			 * write it to their error word (atomically: the parts of a
			 * split kernel may all fail) and stop */
			LLVMValueRef st = LLVMBuildStore(
			    r->b, LLVMConstInt(ty(r, CG_T_I32), (unsigned long long)s->code, 0), r->errp);
			LLVMSetAlignment(st, 4);
			LLVMSetOrdering(st, LLVMAtomicOrderingMonotonic);
			LLVMBuildRetVoid(r->b);
			/* code after a fail is unreachable but must still sit in a block */
			LLVMBasicBlockRef dead = LLVMAppendBasicBlockInContext(r->ctx, r->fn, "dead");
			LLVMPositionBuilderAtEnd(r->b, dead);
			break;
		}
		}
	}
}

static void add_fn_attr(rctx *r, LLVMValueRef f, const char *k, const char *v)
{
	LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
	                        LLVMCreateStringAttribute(r->ctx, k, (unsigned)strlen(k), v,
	                                                  (unsigned)strlen(v)));
}

static void add_enum_attr(rctx *r, LLVMValueRef f, unsigned idx, const char *name)
{
	unsigned kid = LLVMGetEnumAttributeKindForName(name, strlen(name));
	LLVMAddAttributeAtIndex(f, idx, LLVMCreateEnumAttribute(r->ctx, kid, 0));
}

static void add_target_attrs(rctx *r, LLVMValueRef f, const char *cpu, const char *feat,
                             const char *tune)
{
	add_fn_attr(r, f, "target-cpu", cpu);
	add_fn_attr(r, f, "target-features", feat);
	if (tune && *tune)
		add_fn_attr(r, f, "tune-cpu", tune);
}

static int render_kernel(rctx *r, const cg_kernel *k, const char *cpu, const char *feat,
                         const char *tune)
{
	LLVMTypeRef ptr = LLVMPointerTypeInContext(r->ctx, 0), i64 = ty(r, CG_T_I64);
	LLVMTypeRef vd = LLVMVoidTypeInContext(r->ctx);
	int na = k->nargs;
	LLVMTypeRef *pt = malloc((size_t)(na + 3) * sizeof *pt);
	LLVMValueRef *args = malloc((size_t)(na + 3) * sizeof *args);
	r->bufp = malloc((size_t)(na + 1) * sizeof *r->bufp);
	r->vars = malloc((size_t)(k->nvars + 1) * sizeof *r->vars);
	r->locals = malloc((size_t)(k->nlocals + 1) * sizeof *r->locals);
	r->reducing = calloc((size_t)k->nlocals + 1, sizeof *r->reducing);
	if (!pt || !args || !r->bufp || !r->vars || !r->locals || !r->reducing) {
		free(pt);
		free(args);
		free(r->bufp);
		free(r->vars);
		free(r->locals);
		free(r->reducing);
		return -1;
	}
	char name[64];
	for (int i = 0; i < na; i++)
		pt[i] = ptr;
	pt[na] = i64;
	pt[na + 1] = i64;
	pt[na + 2] = ptr;

	/* the body: noalias buffers (kernel args are distinct buffers) */
	snprintf(name, sizeof name, "%s.body", k->name);
	LLVMTypeRef bft = LLVMFunctionType(vd, pt, (unsigned)na + 3, 0);
	LLVMValueRef bf = LLVMAddFunction(r->m, name, bft);
	LLVMSetLinkage(bf, LLVMInternalLinkage);
	add_target_attrs(r, bf, cpu, feat, tune);
	add_enum_attr(r, bf, LLVMAttributeFunctionIndex, "nounwind");
	add_enum_attr(r, bf, LLVMAttributeFunctionIndex, "alwaysinline");
	for (int i = 0; i < na; i++)
		add_enum_attr(r, bf, (unsigned)i + 1, "noalias");
	r->fn = bf;
	r->k = k;
	LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(r->ctx, bf, "entry");
	LLVMPositionBuilderAtEnd(r->b, entry);
	for (int i = 0; i < na; i++)
		r->bufp[i] = LLVMGetParam(bf, (unsigned)i);
	r->lo = LLVMGetParam(bf, (unsigned)na);
	r->hi = LLVMGetParam(bf, (unsigned)na + 1);
	r->errp = LLVMGetParam(bf, (unsigned)na + 2);
	for (int i = 0; i < k->nvars; i++)
		r->vars[i] = LLVMBuildAlloca(r->b, i64, "i");
	for (int i = 0; i < k->nlocals; i++)
		r->locals[i] = LLVMBuildAlloca(r->b, ty(r, k->local_type[i]), "t");
	block(r, k->body, 1);
	LLVMBuildRetVoid(r->b);

	/* the entry point: unpack bufs[] and call the body */
	LLVMTypeRef wp[4] = {ptr, i64, i64, ptr};
	LLVMTypeRef wft = LLVMFunctionType(vd, wp, 4, 0);
	LLVMValueRef wf = LLVMAddFunction(r->m, k->name, wft);
	add_target_attrs(r, wf, cpu, feat, tune);
	add_enum_attr(r, wf, LLVMAttributeFunctionIndex, "nounwind");
	LLVMPositionBuilderAtEnd(r->b, LLVMAppendBasicBlockInContext(r->ctx, wf, "entry"));
	LLVMValueRef bufs = LLVMGetParam(wf, 0);
	for (int i = 0; i < na; i++) {
		LLVMValueRef ix = LLVMConstInt(i64, (unsigned long long)i, 0);
		args[i] = LLVMBuildLoad2(r->b, ptr, LLVMBuildInBoundsGEP2(r->b, ptr, bufs, &ix, 1, ""), "");
	}
	args[na] = LLVMGetParam(wf, 1);
	args[na + 1] = LLVMGetParam(wf, 2);
	args[na + 2] = LLVMGetParam(wf, 3);
	LLVMBuildCall2(r->b, bft, bf, args, (unsigned)na + 3, "");
	LLVMBuildRetVoid(r->b);
	free(pt);
	free(args);
	free(r->bufp);
	free(r->vars);
	free(r->locals);
	free(r->reducing);
	return 0;
}

LLVMModuleRef cg_llvm_render(const cg_program *prog, LLVMContextRef ctx,
                             LLVMTargetMachineRef tm, const char *tune, char *err,
                             size_t errlen)
{
	rctx *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "LLVM: out of memory");
		return NULL;
	}
	r->ctx = ctx;
	r->m = LLVMModuleCreateWithNameInContext("samc", ctx);
	r->b = LLVMCreateBuilderInContext(ctx);
	char *triple = LLVMGetTargetMachineTriple(tm);
	char *cpu = LLVMGetTargetMachineCPU(tm), *feat = LLVMGetTargetMachineFeatureString(tm);
	LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
	LLVMSetTarget(r->m, triple);
	LLVMSetModuleDataLayout(r->m, dl);
	int rc = 0;
	for (int i = 0; i < prog->nk && rc == 0; i++)
		if (!rt_kkind_is_call(prog->k[i].kind))
			rc = render_kernel(r, &prog->k[i], cpu, feat, tune);
	LLVMDisposeTargetData(dl);
	LLVMDisposeMessage(triple);
	LLVMDisposeMessage(cpu);
	LLVMDisposeMessage(feat);
	LLVMDisposeBuilder(r->b);
	LLVMModuleRef m = r->m;
	free(r->memo_key);
	free(r->memo_val);
	free(r->stack);
	free(r);
	char *msg = NULL;
	if (rc) {
		snprintf(err, errlen, "LLVM: out of memory while rendering kernels");
	} else if (LLVMVerifyModule(m, LLVMReturnStatusAction, &msg)) {
		snprintf(err, errlen, "LLVM: generated module does not verify: %s", msg ? msg : "");
		rc = -1;
	}
	LLVMDisposeMessage(msg);
	if (rc) {
		LLVMDisposeModule(m);
		return NULL;
	}
	return m;
}

int cg_llvm_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, int opt_level,
                     char *err, size_t errlen)
{
	LLVMPassBuilderOptionsRef o = LLVMCreatePassBuilderOptions();
	LLVMPassBuilderOptionsSetLoopVectorization(o, opt_level > 0);
	LLVMPassBuilderOptionsSetSLPVectorization(o, opt_level > 0);
	LLVMErrorRef e = LLVMRunPasses(m, opt_level > 0 ? "default<O3>" : "default<O0>", tm, o);
	LLVMDisposePassBuilderOptions(o);
	if (e) {
		char *msg = LLVMGetErrorMessage(e);
		snprintf(err, errlen, "LLVM: optimization failed: %s", msg);
		LLVMDisposeErrorMessage(msg);
		return -1;
	}
	return 0;
}
