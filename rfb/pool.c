/* Worker threads for encoding: the loop thread hands out a batch of jobs
 * and works on it too, then waits for the rest.  The workers only read the
 * framebuffer while the loop thread waits in rfb__pool_run, so the
 * framebuffer still has one writer and no reader racing it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rfb/log.h"
#include "rfb/tight.h"

#define MAX_THREADS 8

struct rfb__pool {
	pthread_mutex_t mu;
	pthread_cond_t go;	/* a batch is there (or stop) */
	pthread_cond_t done;	/* the last worker left the batch */
	pthread_t th[MAX_THREADS];
	int started;		/* worker threads running */
	int threads;		/* started + the caller */
	atomic_bool stop;
	unsigned batch;		/* bumped per batch; workers wait for a new one */
	int busy;		/* workers still in the current batch */
	/* The current batch. */
	void (*fn)(void *ctx, int job, int thread);
	void *ctx;
	int n;
	atomic_int next;
};

struct worker_arg {
	struct rfb__pool *p;
	int index;
};

static void
take_jobs(struct rfb__pool *p, int thread)
{
	int j;

	while ((j = atomic_fetch_add(&p->next, 1)) < p->n)
		p->fn(p->ctx, j, thread);
}

static void *
worker(void *arg)
{
	struct worker_arg a = *(struct worker_arg *)arg;
	struct rfb__pool *p = a.p;
	/* Batches are counted from 0 when the pool is made; one posted before
	 * this thread got here is still to be worked on. */
	unsigned seen = 0;

	free(arg);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->batch == seen && !atomic_load(&p->stop))
			pthread_cond_wait(&p->go, &p->mu);
		if (atomic_load(&p->stop))
			break;
		seen = p->batch;
		pthread_mutex_unlock(&p->mu);
		take_jobs(p, a.index);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct rfb__pool *
rfb__pool_new(int threads)
{
	struct rfb__pool *p = calloc(1, sizeof(*p));
	sigset_t all, old;

	if (p == NULL)
		return NULL;
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->next, 0);
	/* Workers take no signals: the daemon's loop thread handles them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 1; i < threads; i++) {
		struct worker_arg *a = malloc(sizeof(*a));
		int rc;

		if (a == NULL)
			break;
		*a = (struct worker_arg){ .p = p, .index = i };
		if ((rc = pthread_create(&p->th[p->started], NULL, worker, a)) != 0) {
			rfb__log(WK_LOG_WARN, "encoder: pthread_create: %s; %d encoder thread(s)",
				 strerror(rc), p->started + 1);
			free(a);
			break;
		}
		p->started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	p->threads = p->started + 1;
	return p;
}

void
rfb__pool_free(struct rfb__pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->started; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int
rfb__pool_threads(const struct rfb__pool *p)
{
	return p->threads;
}

void
rfb__pool_run(struct rfb__pool *p, int n, void (*fn)(void *ctx, int job, int thread), void *ctx)
{
	if (n <= 0)
		return;
	if (p->started == 0 || n == 1) {
		for (int j = 0; j < n; j++)
			fn(ctx, j, 0);
		return;
	}
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	atomic_store(&p->next, 0);
	p->busy = p->started;
	p->batch++;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	take_jobs(p, 0);
	pthread_mutex_lock(&p->mu);
	while (p->busy > 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
