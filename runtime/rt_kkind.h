/*
 * rt_kkind.h - the kind of a compiled kernel, one enum for every layer:
 * fusion decides it (passes/pass_fuse.h), the loop IR keeps it
 * (codegen/cg_loop.h) and the runtime's step table runs by it
 * (runtime/rt_prog.h). Every kind but GEMM is a loop nest that a backend
 * compiles; GEMM is a library call.
 */
#ifndef SAMC_RT_KKIND_H
#define SAMC_RT_KKIND_H

typedef enum {
	RT_K_ELEM,   /* loops: an elementwise / broadcast / transpose tree */
	RT_K_REDUCE, /* loops: SUM or MAX over an inlined elementwise tree */
	RT_K_ROW,    /* loops: SOFTMAX, LOG_SOFTMAX, CROSS_ENTROPY(_GRAD), CORRECT */
	RT_K_GEMM    /* a GEMM library call */
} rt_kkind;

/* The enum constant's name, as `samc build` writes it into a table. */
static inline const char *rt_kkind_enum_name(rt_kkind k)
{
	return k == RT_K_ELEM ? "RT_K_ELEM" : k == RT_K_REDUCE ? "RT_K_REDUCE"
	     : k == RT_K_ROW ? "RT_K_ROW" : "RT_K_GEMM";
}

#endif
