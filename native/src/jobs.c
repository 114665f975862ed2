/*
 * A fork-join helper for rpelab's native kernels: a pool of pthreads started on first use and
 * kept, each asleep on a condition variable between calls (no spinning, so an idle pool takes no
 * core from OpenBLAS's threads or the JavaScript thread). Starting threads per call cost tens of
 * µs, more than a layer norm of [2048, 64] takes on one thread.
 */
#include <pthread.h>
#include "jobs.h"

#define MAX_WORKERS 63

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER, done_cv = PTHREAD_COND_INITIALIZER;
static int workers = 0;          /* threads started */
static void *(*cur_fn)(void *);  /* the current call's jobs */
static char *cur_jobs;
static size_t cur_size;
static int next_job = 0, n_jobs = 0, unfinished = 0;
static _Thread_local int inside_job = 0;

int rpelab_job_count(int threads, double work, double min_work, int64_t units) {
  if (work < min_work) threads = 1;
  if (threads > units) threads = (int)units;
  if (threads > 64) threads = 64;
  return threads < 1 ? 1 : threads;
}

static void *worker(void *arg) {
  (void)arg;
  inside_job = 1;
  pthread_mutex_lock(&mu);
  for (;;) {
    while (next_job >= n_jobs) pthread_cond_wait(&work_cv, &mu);
    const int i = next_job++;
    void *(*fn)(void *) = cur_fn;
    char *job = cur_jobs + (size_t)i * cur_size;
    pthread_mutex_unlock(&mu);
    fn(job);
    pthread_mutex_lock(&mu);
    if (--unfinished == 0) pthread_cond_signal(&done_cv);
  }
  return NULL;
}

void rpelab_run_jobs(void *(*fn)(void *), void *jobs, size_t job_size, int n) {
  if (n > 64) n = 64;
  char *base = jobs;
  if (n <= 1 || inside_job) {
    for (int i = 0; i < n; i++) fn(base + (size_t)i * job_size);
    return;
  }
  pthread_mutex_lock(&mu);
  while (workers < n - 1 && workers < MAX_WORKERS) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) break;
    pthread_detach(t);
    workers++;
  }
  /* Jobs 1.. go to the pool; job 0, and any job no worker takes, run here. */
  cur_fn = fn;
  cur_jobs = base;
  cur_size = job_size;
  next_job = 1;
  n_jobs = workers > 0 ? n : 1;
  unfinished = n_jobs - 1;
  if (unfinished > 0) pthread_cond_broadcast(&work_cv);
  pthread_mutex_unlock(&mu);
  inside_job = 1;
  fn(base);
  for (int i = n_jobs; i < n; i++) fn(base + (size_t)i * job_size);
  inside_job = 0;
  pthread_mutex_lock(&mu);
  while (unfinished > 0) pthread_cond_wait(&done_cv, &mu);
  n_jobs = 0;
  next_job = 0;
  pthread_mutex_unlock(&mu);
}
