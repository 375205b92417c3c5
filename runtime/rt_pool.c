/*
 * rt_pool.c - the thread pool of rt_pool.h.
 *
 * Each worker has a mailbox: the caller writes a part of the job into the
 * mailboxes of the workers it needs and bumps each one's generation
 * counter. An idle worker spins on its counter for up to `spin_ns`, then
 * sleeps on it (a futex); the caller spins the same way for the job's end
 * (`pending` parts), then sleeps on that counter. A mailbox is rewritten
 * only after its worker acknowledged the previous part, and workers not
 * needed are not woken. A wake-up system call is made only when someone
 * sleeps (`sleeping`, `waiting`); the seq_cst order of these flags and
 * the counters keeps a wake-up from being lost.
 *
 * Spinning only pays while every thread has a core. When the machine is
 * oversubscribed a spinning thread is preempted like any other and then
 * waits a whole time slice, where a sleeping one is woken with priority.
 * So the pool watches how long workers take to pick a job up: a spinning
 * worker picks it up within microseconds unless it lost its core. After a
 * slow pick-up the pool stops spinning, and tries again RT_POOL_PROBE
 * jobs later.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "rt_pool.h"

/* How long an idle thread spins before sleeping: longer than the gaps
 * between the kernels of a step, far shorter than the time between steps
 * of a trainer that loads data or evaluates. */
#define RT_POOL_SPIN_NS 100000L
/* a pick-up slower than this means a spinning worker lost its core */
#define RT_POOL_SLOW_NS 30000L
/* jobs run without spinning before spinning is tried again */
#define RT_POOL_PROBE 512

/* one worker's mailbox, on a cache line of its own */
typedef struct {
	_Alignas(64) atomic_uint gen; /* bumped once per job given to this worker */
	atomic_int sleeping;
	rt_pool_fn fn; /* the job: written before gen is bumped */
	void *ctx;
	int part, nparts;
	long picked_ns; /* when it took the job; read by the caller after the ack */
} pool_worker;

struct rt_pool {
	int nthreads;
	pthread_t *tid;
	pool_worker *w; /* [nthreads], entry 0 unused (the caller's part) */
	int nstarted;
	atomic_int quit, waiting;
	atomic_uint pending;
	atomic_long spin_ns; /* current spin budget: spin_max or 0 */
	long spin_max;       /* 0 when the pool has more threads than cores */
	int quiet_jobs;      /* caller only: jobs left before the next probe */
	int async_nparts;    /* caller only: 2 while a job from rt_pool_start runs */
	long async_t;
	int async_slept;
};

/* Sleeps while *addr == old (it may return early: callers re-check).
 * Linux: a futex on the counter itself, so checking and sleeping are one
 * step and a wake-up needs no lock; elsewhere the thread just yields. */
static void wait_while(atomic_uint *addr, unsigned old)
{
#ifdef __linux__
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
#else
	(void)addr;
	(void)old;
	sched_yield();
#endif
}

static void wake(atomic_uint *addr)
{
#ifdef __linux__
	syscall(SYS_futex, (unsigned *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
	(void)addr;
#endif
}

typedef struct {
	rt_pool *p;
	int idx;
} worker_arg;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/* Spins until *gen != old (worker; also on quit) or, with gen NULL,
 * until no part is pending (caller); at most the pool's spin budget.
 * 1 if the wait is over. */
static int spin(rt_pool *p, atomic_uint *gen, unsigned old)
{
	long budget = atomic_load_explicit(&p->spin_ns, memory_order_relaxed), t0 = 0;
	for (unsigned i = 0;; i++) {
		if (gen ? atomic_load_explicit(gen, memory_order_acquire) != old ||
		              atomic_load_explicit(&p->quit, memory_order_relaxed)
		        : atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
			return 1;
		if (budget <= 0)
			return 0;
		cpu_relax();
		if ((i & 63) == 63) {
			long t = now_ns();
			if (!t0)
				t0 = t;
			else if (t - t0 > budget)
				return 0;
		}
	}
}

static void *worker(void *arg)
{
	worker_arg *wa = arg;
	rt_pool *p = wa->p;
	pool_worker *w = &p->w[wa->idx];
	free(wa);
	unsigned seen = 0;
	for (;;) {
		if (!spin(p, &w->gen, seen)) {
			atomic_store(&w->sleeping, 1);
			while (!atomic_load(&p->quit) && atomic_load(&w->gen) == seen)
				wait_while(&w->gen, seen);
			atomic_store(&w->sleeping, 0);
		}
		if (atomic_load(&p->quit))
			break;
		seen = atomic_load(&w->gen);
		w->picked_ns = now_ns();
		w->fn(w->ctx, w->part, w->nparts);
		if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->waiting))
			wake(&p->pending);
	}
	return NULL;
}

rt_pool *rt_pool_new(int nthreads)
{
	rt_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nthreads = nthreads < 1 ? 1 : nthreads;
	atomic_init(&p->quit, 0);
	atomic_init(&p->pending, 0);
	atomic_init(&p->waiting, 0);
	/* more threads than cores: some are always waiting for a core, and a
	 * spinning one would keep them from it */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	p->spin_max = ncpu > 0 && p->nthreads > ncpu ? 0 : RT_POOL_SPIN_NS;
	atomic_init(&p->spin_ns, p->spin_max);
	p->tid = calloc((size_t)p->nthreads, sizeof *p->tid);
	p->w = aligned_alloc(64, (size_t)p->nthreads * sizeof *p->w);
	if (!p->tid || !p->w) {
		free(p->tid);
		free(p->w);
		free(p);
		return NULL;
	}
	for (int i = 0; i < p->nthreads; i++) {
		atomic_init(&p->w[i].gen, 0);
		atomic_init(&p->w[i].sleeping, 0);
	}
	for (int i = 1; i < p->nthreads; i++) {
		worker_arg *wa = malloc(sizeof *wa);
		if (!wa) {
			rt_pool_free(p);
			return NULL;
		}
		wa->p = p;
		wa->idx = i;
		if (pthread_create(&p->tid[i], NULL, worker, wa)) {
			free(wa);
			rt_pool_free(p);
			return NULL;
		}
		p->nstarted = i;
	}
	return p;
}

int rt_pool_threads(const rt_pool *p)
{
	return p->nthreads;
}

/* After a job: stop spinning when a worker that should have been spinning
 * picked the job up late; probe again after RT_POOL_PROBE jobs. */
static void adapt(rt_pool *p, int nparts, long t_pub, int any_slept)
{
	if (atomic_load_explicit(&p->spin_ns, memory_order_relaxed) > 0) {
		long late = 0;
		for (int i = 1; i < nparts; i++)
			if (p->w[i].picked_ns - t_pub > late)
				late = p->w[i].picked_ns - t_pub;
		if (!any_slept && late > RT_POOL_SLOW_NS) {
			atomic_store(&p->spin_ns, 0);
			p->quiet_jobs = RT_POOL_PROBE;
		}
	} else if (--p->quiet_jobs <= 0) {
		atomic_store(&p->spin_ns, p->spin_max);
	}
}

/* Gives parts 1..nparts-1 to the workers; the time it published them. */
static long publish(rt_pool *p, int nparts, rt_pool_fn fn, void *ctx, int *any_slept)
{
	atomic_store(&p->pending, nparts - 1);
	long t_pub = now_ns();
	*any_slept = 0;
	for (int i = 1; i < nparts; i++) {
		pool_worker *w = &p->w[i];
		w->fn = fn;
		w->ctx = ctx;
		w->part = i;
		w->nparts = nparts;
		atomic_fetch_add(&w->gen, 1);
		if (atomic_load(&w->sleeping)) {
			*any_slept = 1;
			wake(&w->gen);
		}
	}
	return t_pub;
}

/* Waits for the workers' parts of the job. */
static void finish(rt_pool *p, int nparts, long t_pub, int any_slept)
{
	if (!spin(p, NULL, 0)) {
		atomic_store(&p->waiting, 1);
		for (unsigned v; (v = atomic_load(&p->pending)) != 0;)
			wait_while(&p->pending, v);
		atomic_store(&p->waiting, 0);
	}
	adapt(p, nparts, t_pub, any_slept);
}

void rt_pool_run(rt_pool *p, int nparts, rt_pool_fn fn, void *ctx)
{
	if (nparts > p->nthreads)
		nparts = p->nthreads;
	if (nparts <= 1) {
		fn(ctx, 0, 1);
		return;
	}
	int any_slept;
	long t_pub = publish(p, nparts, fn, ctx, &any_slept);
	fn(ctx, 0, nparts);
	finish(p, nparts, t_pub, any_slept);
}

int rt_pool_start(rt_pool *p, rt_pool_fn fn, void *ctx)
{
	if (p->nthreads < 2 || p->async_nparts)
		return -1;
	p->async_t = publish(p, 2, fn, ctx, &p->async_slept);
	p->async_nparts = 2;
	return 0;
}

void rt_pool_wait(rt_pool *p)
{
	if (!p->async_nparts)
		return;
	finish(p, p->async_nparts, p->async_t, p->async_slept);
	p->async_nparts = 0;
}

void rt_pool_free(rt_pool *p)
{
	if (!p)
		return;
	atomic_store(&p->quit, 1);
	for (int i = 1; i <= p->nstarted; i++) {
		/* a bump of its counter wakes a sleeping worker to see `quit` */
		atomic_fetch_add(&p->w[i].gen, 1);
		wake(&p->w[i].gen);
	}
	for (int i = 1; i <= p->nstarted; i++)
		pthread_join(p->tid[i], NULL);
	free(p->w);
	free(p->tid);
	free(p);
}
