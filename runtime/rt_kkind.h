/*
 * rt_kkind.h - the kind of a compiled kernel, one enum for every layer:
 * fusion decides it (passes/pass_fuse.h), the loop IR keeps it
 * (codegen/cg_loop.h) and the runtime's step table runs by it
 * (runtime/rt_prog.h). ELEM, REDUCE and ROW are loop nests that a backend
 * compiles; GEMM, CONV and COMM are library calls (rt_kkind_is_call).
 */
#ifndef SAMC_RT_KKIND_H
#define SAMC_RT_KKIND_H

typedef enum {
	RT_K_ELEM,   /* loops: an elementwise / broadcast / transpose tree */
	RT_K_REDUCE, /* loops: SUM or MAX over an inlined elementwise tree */
	RT_K_ROW,    /* loops: SOFTMAX, LOG_SOFTMAX, CROSS_ENTROPY(_GRAD), CORRECT */
	RT_K_GEMM,   /* a GEMM library call */
	RT_K_CONV,   /* a convolution library call (f32 on the CPU: oneDNN, rt_conv.h) */
	RT_K_COMM    /* a sum over the ranks (rank_sum): the run's communicator, rt_comm.h */
} rt_kkind;

/* Is k a library call (no compiled function, no error word)? */
static inline int rt_kkind_is_call(rt_kkind k)
{
	return k == RT_K_GEMM || k == RT_K_CONV || k == RT_K_COMM;
}

/* The enum constant's name, as `samc build` writes it into a table. */
static inline const char *rt_kkind_enum_name(rt_kkind k)
{
	return k == RT_K_ELEM ? "RT_K_ELEM" : k == RT_K_REDUCE ? "RT_K_REDUCE"
	     : k == RT_K_ROW ? "RT_K_ROW" : k == RT_K_GEMM ? "RT_K_GEMM"
	     : k == RT_K_CONV ? "RT_K_CONV" : "RT_K_COMM";
}

#endif
