/* A fork-join helper for rpelab's native kernels (pthreads). */
#include <pthread.h>
#include "jobs.h"

int rpelab_job_count(int threads, double work, double min_work, int64_t units) {
  if (work < min_work) threads = 1;
  if (threads > units) threads = (int)units;
  if (threads > 64) threads = 64;
  return threads < 1 ? 1 : threads;
}

void rpelab_run_jobs(void *(*fn)(void *), void *jobs, size_t job_size, int n) {
  pthread_t tids[64];
  int started[64] = {0};
  if (n > 64) n = 64;
  for (int i = 1; i < n; i++) started[i] = pthread_create(&tids[i], NULL, fn, (char *)jobs + i * job_size) == 0;
  fn(jobs);
  for (int i = 1; i < n; i++) {
    if (started[i]) pthread_join(tids[i], NULL);
    else fn((char *)jobs + i * job_size);
  }
}
