/*
 * A fork-join helper for rpelab's native kernels: a pool of pthreads started on first use and
 * kept. Every thread of a call, the caller's included, takes the next job until none is left, so a
 * call never waits for a thread that is slow to wake: the caller does the work itself meanwhile.
 * Between calls a worker spins for RPELAB_SPIN_US (reading two counters, with the CPU's pause
 * instruction) and then sleeps on a condition variable: the kernels of one training step follow
 * each other within tens of µs and find the pool awake, while an idle pool takes no core for long.
 * Waking a sleeping thread took 13-38 µs on the 2-vCPU AMD EPYC (a condition-variable ping-pong after
 * 0-1000 µs of work), as long as a layer norm of [2048, 64] takes on one thread; starting threads
 * per call costs more.
 * OpenBLAS runs single-threaded (blas.c): this pool is the only one of rpelab's threads.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif
#include "jobs.h"

#define MAX_WORKERS 63
/* How long an idle thread of the pool spins before it sleeps (and the caller before it sleeps
   waiting for the last job): longer than the gap between the native kernels of a training step. */
#ifndef RPELAB_SPIN_US
#define RPELAB_SPIN_US 200
#endif

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER, done_cv = PTHREAD_COND_INITIALIZER;
static int workers = 0;       /* threads started */
static int asleep = 0;        /* workers waiting on work_cv */
static int caller_asleep = 0; /* the caller waits on done_cv */
static void *(*cur_fn)(void *); /* the current call's jobs */
static char *cur_jobs;
static size_t cur_size;
/* Written under mu; read without it only by the spinning threads, which then take mu to claim. */
static atomic_int next_job, n_jobs, unfinished;
static _Thread_local int inside_job = 0;

int rpelab_job_count(int threads, double work, double min_work, int64_t units) {
  if (work < min_work) threads = 1;
  if (threads > units) threads = (int)units;
  if (threads > 64) threads = 64;
  return threads < 1 ? 1 : threads;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

/* Spins until ready() or RPELAB_SPIN_US have passed. */
static void spin_until(int (*ready)(void)) {
  const double end = now_us() + RPELAB_SPIN_US;
  for (;;) {
    for (int i = 0; i < 32; i++) {
      if (ready()) return;
      CPU_RELAX();
    }
    if (now_us() > end) return;
  }
}

static int work_waiting(void) {
  return atomic_load_explicit(&next_job, memory_order_relaxed) < atomic_load_explicit(&n_jobs, memory_order_relaxed);
}

static int all_done(void) {
  return atomic_load_explicit(&unfinished, memory_order_acquire) == 0;
}

/* Under mu: the index of the next job of the current call, or -1. */
static int claim(void) {
  const int i = atomic_load_explicit(&next_job, memory_order_relaxed);
  if (i >= atomic_load_explicit(&n_jobs, memory_order_relaxed)) return -1;
  atomic_store_explicit(&next_job, i + 1, memory_order_relaxed);
  return i;
}

/* Under mu: runs job i without the lock and counts it done. */
static void run_claimed(int i) {
  void *(*fn)(void *) = cur_fn;
  char *job = cur_jobs + (size_t)i * cur_size;
  pthread_mutex_unlock(&mu);
  fn(job);
  pthread_mutex_lock(&mu);
  if (atomic_fetch_sub_explicit(&unfinished, 1, memory_order_release) == 1 && caller_asleep) pthread_cond_signal(&done_cv);
}

static void *worker(void *arg) {
  (void)arg;
  inside_job = 1;
  pthread_mutex_lock(&mu);
  for (;;) {
    const int i = claim();
    if (i >= 0) {
      run_claimed(i);
      continue;
    }
    pthread_mutex_unlock(&mu);
    spin_until(work_waiting);
    pthread_mutex_lock(&mu);
    if (!work_waiting()) {
      asleep++;
      while (!work_waiting()) pthread_cond_wait(&work_cv, &mu);
      asleep--;
    }
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
  cur_fn = fn;
  cur_jobs = base;
  cur_size = job_size;
  atomic_store_explicit(&unfinished, n, memory_order_relaxed);
  atomic_store_explicit(&next_job, 0, memory_order_relaxed);
  atomic_store_explicit(&n_jobs, n, memory_order_release);
  if (asleep > 0) pthread_cond_broadcast(&work_cv);
  /* The caller takes jobs like any thread of the pool (all of them when no worker started). */
  inside_job = 1;
  for (int i; (i = claim()) >= 0;) run_claimed(i);
  pthread_mutex_unlock(&mu);
  spin_until(all_done);
  pthread_mutex_lock(&mu);
  if (!all_done()) {
    caller_asleep = 1;
    while (!all_done()) pthread_cond_wait(&done_cv, &mu);
    caller_asleep = 0;
  }
  atomic_store_explicit(&n_jobs, 0, memory_order_relaxed);
  atomic_store_explicit(&next_job, 0, memory_order_relaxed);
  pthread_mutex_unlock(&mu);
  inside_job = 0;
}
