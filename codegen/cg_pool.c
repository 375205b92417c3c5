/*
 * cg_pool.c - the thread pool of cg_pool.h: a job generation counter under
 * one mutex, workers waiting on `go`, the caller waiting on `done`.
 */
#include <pthread.h>
#include <stdlib.h>

#include "cg_pool.h"

struct cg_pool {
	int nthreads;
	pthread_t *tid;
	int nstarted;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	unsigned long gen;
	int quit, pending, nparts;
	cg_pool_fn fn;
	void *ctx;
};

typedef struct {
	cg_pool *p;
	int idx;
} worker_arg;

static void *worker(void *arg)
{
	worker_arg *w = arg;
	cg_pool *p = w->p;
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
		cg_pool_fn fn = p->fn;
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

cg_pool *cg_pool_new(int nthreads)
{
	cg_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->nthreads = nthreads < 1 ? 1 : nthreads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->tid = calloc((size_t)p->nthreads, sizeof *p->tid);
	if (!p->tid) {
		cg_pool_free(p);
		return NULL;
	}
	for (int i = 1; i < p->nthreads; i++) {
		worker_arg *w = malloc(sizeof *w);
		if (!w || pthread_create(&p->tid[i], NULL, worker, w ? (w->p = p, w->idx = i, w) : NULL)) {
			free(w);
			cg_pool_free(p);
			return NULL;
		}
		p->nstarted = i;
	}
	return p;
}

int cg_pool_threads(const cg_pool *p)
{
	return p->nthreads;
}

void cg_pool_run(cg_pool *p, int nparts, cg_pool_fn fn, void *ctx)
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

void cg_pool_free(cg_pool *p)
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
