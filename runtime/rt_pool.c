/*
 * rt_pool.c - the thread pool of rt_pool.h: a job generation counter under
 * one mutex, workers waiting on `go`, the caller waiting on `done`.
 */
#include <pthread.h>
#include <stdlib.h>

#include "rt_pool.h"

struct rt_pool {
	int nthreads;
	pthread_t *tid;
	int nstarted;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;
	int quit, pending, nparts;
	rt_pool_fn fn;
	void *ctx;
};

typedef struct {
	rt_pool *p;
	int idx;
} worker_arg;

static void *worker(void *arg)
{
	worker_arg *w = arg;
	rt_pool *p = w->p;
	int idx = w->idx;
	free(w);
	unsigned long seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->quit && p->gen == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->quit)
			break;
		seen = p->gen;
		if (idx >= p->nparts)
			continue;
		rt_pool_fn fn = p->fn;
		void *ctx = p->ctx;
		int nparts = p->nparts;
		pthread_mutex_unlock(&p->mu);
		fn(ctx, idx, nparts);
		pthread_mutex_lock(&p->mu);
		if (--p->pending == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

rt_pool *rt_pool_new(int nthreads)
{
	rt_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nthreads = nthreads < 1 ? 1 : nthreads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->tid = calloc((size_t)p->nthreads, sizeof *p->tid);
	if (!p->tid) {
		rt_pool_free(p);
		return NULL;
	}
	for (int i = 1; i < p->nthreads; i++) {
		worker_arg *w = malloc(sizeof *w);
		if (!w) {
			rt_pool_free(p);
			return NULL;
		}
		w->p = p;
		w->idx = i;
		if (pthread_create(&p->tid[i], NULL, worker, w)) {
			free(w);
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

void rt_pool_run(rt_pool *p, int nparts, rt_pool_fn fn, void *ctx)
{
	if (nparts > p->nthreads)
		nparts = p->nthreads;
	if (nparts <= 1) {
		fn(ctx, 0, 1);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->nparts = nparts;
	p->pending = nparts - 1;
	p->gen++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	fn(ctx, 0, nparts);
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void rt_pool_free(rt_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i <= p->nstarted; i++)
		pthread_join(p->tid[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p->tid);
	free(p);
}
