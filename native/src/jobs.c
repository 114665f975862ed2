/* A fork-join helper for rpelab's native kernels (pthreads). */
#include <pthread.h>
#include "jobs.h"

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
