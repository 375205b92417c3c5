/*
 * samc_cuda_host.h - the CUDA built-ins for the host C++ compiler, so that
 * the kernels cg_cuda.h renders compile unchanged with `c++ -x c++` and run
 * on the CPU: how the tests check the generated CUDA C without a GPU.
 *
 * A launch (samc_host_launch) runs the grid's blocks one after the other
 * on the calling thread. A kernel without barriers runs its threads one
 * after the other as plain calls. A kernel with barriers runs each thread
 * of a block as a fiber with a stack of its own: __syncthreads switches
 * back to the scheduler, which resumes the threads round robin, so every
 * thread reaches a barrier before any passes it (a thread that has
 * returned counts as arrived, as on a GPU). The switch saves only the
 * callee-saved registers (x86-64; elsewhere ucontext). `__shared__`
 * variables are per OS thread, so one block at a time shares them.
 *
 * Only what the renderer uses is defined, plus __shfl_down_sync.
 */
#ifndef SAMC_CUDA_HOST_H
#define SAMC_CUDA_HOST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local
#define __restrict__ __restrict

struct samc_dim3 {
	unsigned x, y, z;
};

inline thread_local samc_dim3 threadIdx, blockIdx, blockDim, gridDim;

static inline float __int_as_float(int i)
{
	float f;
	memcpy(&f, &i, sizeof f);
	return f;
}
static inline int __float_as_int(float f)
{
	int i;
	memcpy(&i, &f, sizeof i);
	return i;
}
static inline double __longlong_as_double(long long i)
{
	double d;
	memcpy(&d, &i, sizeof d);
	return d;
}
static inline long long __double_as_longlong(double d)
{
	long long i;
	memcpy(&i, &d, sizeof i);
	return i;
}
static inline int atomicExch(int *p, int v)
{
	return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);
}

/* --- fibers --- */

#define SAMC_HOST_STACK (256 * 1024)
#define SAMC_HOST_MAX_BLOCK 1024

struct samc_host_fiber {
#if defined(__x86_64__)
	void *sp;
#else
	ucontext_t uc;
#endif
	char *stack;
	int done;
};

struct samc_host_sched {
	void (*fn)(void **bufs, int *err); /* one thread of the kernel */
	void **bufs;
	int *err;
	int fibers;    /* the launch runs its threads as fibers */
	unsigned cur;
	samc_host_fiber fib[SAMC_HOST_MAX_BLOCK];
#if defined(__x86_64__)
	void *main_sp;
#else
	ucontext_t main_uc;
#endif
	double xchg[SAMC_HOST_MAX_BLOCK]; /* __shfl_down_sync */
};

inline thread_local samc_host_sched samc_host_s;

#if defined(__x86_64__)
/* saves the callee-saved registers on the current stack, stores its
 * pointer in *save, switches to the stack `load` and pops them there */
extern "C" void samc_host_switch(void **save, void *load);
__asm__(".text\n"
        ".p2align 4\n"
        ".hidden samc_host_switch\n"
        ".globl samc_host_switch\n"
        ".type samc_host_switch,@function\n"
        "samc_host_switch:\n"
        "\tpushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n"
        "\tmovq %rsp, (%rdi)\n"
        "\tmovq %rsi, %rsp\n"
        "\tpopq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n"
        "\tret\n"
        ".size samc_host_switch,.-samc_host_switch\n");
#endif

static inline void samc_host_yield(void)
{
	samc_host_sched &s = samc_host_s;
#if defined(__x86_64__)
	samc_host_switch(&s.fib[s.cur].sp, s.main_sp);
#else
	swapcontext(&s.fib[s.cur].uc, &s.main_uc);
#endif
}

static void samc_host_fiber_main(void)
{
	samc_host_sched &s = samc_host_s;
	s.fn(s.bufs, s.err);
	s.fib[s.cur].done = 1;
	samc_host_yield();
	abort(); /* a finished fiber is never resumed */
}

static inline void __syncthreads(void)
{
	samc_host_sched &s = samc_host_s;
	if (s.fibers) {
		samc_host_yield();
	} else if (blockDim.x > 1) {
		fprintf(stderr, "samc_cuda_host: __syncthreads in a kernel launched without fibers\n");
		abort();
	}
}

template <class T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned delta)
{
	(void)mask;
	static_assert(sizeof(T) <= sizeof(double), "a shuffled value is at most 8 bytes");
	samc_host_sched &s = samc_host_s;
	memcpy(&s.xchg[threadIdx.x], &v, sizeof v);
	__syncthreads();
	unsigned lane = threadIdx.x % 32;
	T r = v;
	if (lane + delta < 32 && threadIdx.x + delta < blockDim.x)
		memcpy(&r, &s.xchg[threadIdx.x + delta], sizeof r);
	__syncthreads();
	return r;
}

static inline void samc_host_block(unsigned nthreads)
{
	samc_host_sched &s = samc_host_s;
	for (unsigned t = 0; t < nthreads; t++) {
		samc_host_fiber &f = s.fib[t];
		if (!f.stack && !(f.stack = (char *)malloc(SAMC_HOST_STACK))) {
			fprintf(stderr, "samc_cuda_host: out of memory for a thread's stack\n");
			abort();
		}
		f.done = 0;
#if defined(__x86_64__)
		/* what samc_host_switch pops: six registers, then the entry as
		 * the return address, above it a null frame (16-byte aligned) */
		void **top = (void **)(f.stack + SAMC_HOST_STACK);
		top[-1] = 0;
		top[-2] = (void *)samc_host_fiber_main;
		for (int r = 3; r <= 8; r++)
			top[-r] = 0;
		f.sp = top - 8;
#else
		getcontext(&f.uc);
		f.uc.uc_stack.ss_sp = f.stack;
		f.uc.uc_stack.ss_size = SAMC_HOST_STACK;
		f.uc.uc_link = NULL;
		makecontext(&f.uc, samc_host_fiber_main, 0);
#endif
	}
	for (unsigned live = nthreads; live > 0;)
		for (unsigned t = 0; t < nthreads; t++) {
			if (s.fib[t].done)
				continue;
			s.cur = t;
			threadIdx.x = t;
#if defined(__x86_64__)
			samc_host_switch(&s.main_sp, s.fib[t].sp);
#else
			swapcontext(&s.main_uc, &s.fib[t].uc);
#endif
			live -= s.fib[t].done;
		}
}

/* Runs the kernel (fn: one thread's call) over a grid of `grid` blocks
 * of `block` threads. */
static void samc_host_launch(long long grid, int block, int barriers,
                             void (*fn)(void **bufs, int *err), void **bufs, int *err)
{
	samc_host_sched &s = samc_host_s;
	if (block < 1 || block > SAMC_HOST_MAX_BLOCK) {
		fprintf(stderr, "samc_cuda_host: a block of %d threads\n", block);
		abort();
	}
	s.fn = fn;
	s.bufs = bufs;
	s.err = err;
	s.fibers = barriers && block > 1;
	gridDim = {(unsigned)grid, 1, 1};
	blockDim = {(unsigned)block, 1, 1};
	threadIdx = {0, 0, 0};
	blockIdx = {0, 0, 0};
	for (long long b = 0; b < grid; b++) {
		blockIdx.x = (unsigned)b;
		if (s.fibers) {
			samc_host_block((unsigned)block);
		} else {
			for (int t = 0; t < block; t++) {
				threadIdx.x = (unsigned)t;
				fn(bufs, err);
			}
		}
	}
	s.fibers = 0;
}

#endif
