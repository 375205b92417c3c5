/*
 * rt_conv.h - 2-D convolution on the CPU through oneDNN, the library
 * PyTorch itself calls for f32 CPU convolutions.
 *
 * A convolution is described by its sizes (rt_conv_desc, in PyTorch's
 * terms: NCHW input, weight [O, C/groups, kh, kw], dilation 1 = a dense
 * kernel); the caller's tensors are f32, contiguous NCHW (and OIHW). An
 * rt_conv context runs three operations on such descriptors:
 *
 *   forward           y  = conv(x, w) (+ b per output channel)
 *   backward data     dx = the gradient of sum(y * dy) by x, given dy and w
 *   backward weights  dw (and db = dy summed over N, H, W), given x and dy
 *
 * exactly as PyTorch 1.13 calls oneDNN for them (the forward primitive
 * descriptor is the hint of the backward ones; every tensor in the layout
 * the primitive prefers, `format_tag_any`, reordered from and to the
 * caller's NCHW), so that the results equal PyTorch's bit for bit when both
 * run on the same number of threads and the same instruction set.
 *
 * Caching: the first call for a (descriptor, operation, bias) creates the
 * primitive, its reorders, their intermediate buffers and its scratchpad;
 * later calls only bind the caller's pointers and run them on the
 * context's stream. A context is used by one thread at a time.
 *
 * Threads: Debian's libdnnl runs its primitives on OpenMP (libgomp). A
 * context runs them on its own thread count (rt_conv_new; the CPU device
 * passes samc's --threads), set as the calling thread's OpenMP thread
 * count around each creation and execution and restored after (oneDNN
 * picks its blocking by the thread count at creation, so both must agree;
 * the weight gradient's sums depend on it).
 *
 * The library is opened on first use (rt_conv_lib.h), and two settings
 * are made for the whole process then, the only ones here:
 *   - OpenMP's idle threads sleep at once (GOMP_SPINCOUNT=0, unless the
 *     user set GOMP_SPINCOUNT or OMP_WAIT_POLICY), so that they leave the
 *     cores to the CPU device's pool between convolutions;
 *   - the instruction set is pinned to AVX2 (dnnl_set_max_cpu_isa).
 *     oneDNN picks kernels by the CPU's instruction set, and AVX-512
 *     kernels sum in another order than AVX2 ones: pinned, a result does
 *     not depend on whether the machine has AVX-512 (every x86-64 machine
 *     samc runs on has AVX2). The pin overrides ONEDNN_MAX_CPU_ISA; PyTorch
 *     must run with ONEDNN_MAX_CPU_ISA=AVX2 to be compared bit for bit. If
 *     oneDNN already dispatched above AVX2 in this process (other than
 *     for a bf16 context, below), rt_conv_new fails.
 *
 * bf16 (precision = "bf16"): a context from rt_conv_new_bf16 runs the
 * operations flagged bf16 (both multiplied tensors hold bf16 values) as
 * oneDNN's bf16 convolution: those tensors reordered to bf16 (exact), the
 * result f32, f32 accumulation. oneDNN has bf16 kernels only from AVX-512
 * BF16 up, so the pin is the first context's to choose: a bf16 context
 * that opens the library leaves it unpinned (ONEDNN_MAX_CPU_ISA still
 * applies), and every convolution of that process, f32 ones too, then
 * runs on the best kernels for this CPU, its sums in their order (bf16
 * results agree with the f32 path within the bf16 tolerance, not bit for
 * bit, and differ between CPUs). A bf16 context in a process already
 * pinned, or on a CPU without bf16 instructions, runs flagged operations
 * as f32 ones (rt_conv_bf16 says which). A process that runs no bf16
 * program keeps the pin.
 */
#ifndef SAMC_RT_CONV_H
#define SAMC_RT_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "rt_err.h"

typedef struct {
	int64_t n, c, h, w;           /* input x [n, c, h, w] */
	int64_t o, kh, kw;            /* weight [o, c / groups, kh, kw] */
	int64_t oh, ow;               /* output y [n, o, oh, ow] */
	int64_t stride_h, stride_w;
	int64_t pad_h, pad_w;         /* zeros on both sides */
	int64_t dil_h, dil_w;         /* PyTorch's dilation: 1 is a dense kernel */
	int64_t groups;
} rt_conv_desc;

typedef enum {
	RT_CONV_FWD,        /* x, w (, b) -> y */
	RT_CONV_BWD_DATA,   /* dy, w -> dx */
	RT_CONV_BWD_WEIGHT  /* x, dy -> dw (, db) */
} rt_conv_op;

/* PyTorch's output size along one axis: (in + 2 pad - dil (k - 1) - 1) /
 * stride + 1, or 0 when the (padded) input is smaller than the kernel. */
int64_t rt_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil);

/* Is d a convolution (positive sizes, channels divisible by groups, the
 * output size PyTorch's)? 0, or -1 with a message naming what is wrong. */
int rt_conv_desc_check(const rt_conv_desc *d, rt_err *err);

/* "conv2d x [8,16,12,12] w [32,16,3,3] stride 1x1 padding 1x1 dilation 1x1
 * groups 1": how every message names a convolution (oneDNN's, cuDNN's) */
void rt_conv_desc_str(const rt_conv_desc *d, char *buf, size_t len);
/* "forward", "backward data" or "backward weights" */
const char *rt_conv_op_name(rt_conv_op op);

typedef struct rt_conv rt_conv;

/* A context whose primitives run on `threads` threads (>= 1). Opens oneDNN
 * on first use (see above). NULL with a message (no libdnnl.so.2, say). */
rt_conv *rt_conv_new(int threads, rt_err *err);
/* A context for a bf16 program (see above). NULL with a message. */
rt_conv *rt_conv_new_bf16(int threads, rt_err *err);
void rt_conv_free(rt_conv *c);
/* 1 if c runs flagged operations on bf16 operands. */
int rt_conv_bf16(const rt_conv *c);

/* Creates (once) what operation `op` of d needs, with a bias (forward) or
 * bias gradient (backward weights) when `bias`, on bf16 operands when
 * `bf16` (and c can); a run creates it on first use anyway, this lets a
 * caller do it ahead of time. 1 if it runs on bf16 operands, 0 if on f32
 * ones, -1 with a message. */
int rt_conv_prepare(rt_conv *c, const rt_conv_desc *d, rt_conv_op op, int bias, int bf16,
                    rt_err *err);

/* Operation op of d on args in rt_prog_kernel's CONV order (x, w, [b,] y;
 * dy, w, dx; x, dy, dw [, db]), its operands bf16 when `bf16` (and c
 * can), else f32. 0 or -1. */
int rt_conv_run(rt_conv *c, const rt_conv_desc *d, rt_conv_op op, int bias, int bf16,
                void *const *args, rt_err *err);

/* y = conv(x, w) + b (b may be NULL: no bias). 0 or -1. */
int rt_conv_forward(rt_conv *c, const rt_conv_desc *d, const float *x, const float *w,
                    const float *b, float *y, rt_err *err);
/* dx from dy and w. 0 or -1. */
int rt_conv_backward_data(rt_conv *c, const rt_conv_desc *d, const float *dy, const float *w,
                          float *dx, rt_err *err);
/* dw (and db unless NULL) from x and dy; both overwritten. 0 or -1. */
int rt_conv_backward_weights(rt_conv *c, const rt_conv_desc *d, const float *x, const float *dy,
                             float *dw, float *db, rt_err *err);

/* How many buffers operation op takes (see rt_prog_kernel's CONV args). */
static inline int rt_conv_nargs(rt_conv_op op, int bias)
{
	return op == RT_CONV_BWD_DATA ? 3 : 3 + (bias != 0);
}

/* How many primitives c has created (a test that caching works); how
 * many of them run on bf16 operands. */
int rt_conv_cached(const rt_conv *c);
int rt_conv_cached_bf16(const rt_conv *c);

/* The instruction set oneDNN dispatches to ("cpu_isa_avx2"). */
const char *rt_conv_isa(void);

#endif
