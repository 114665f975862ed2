#ifndef RPELAB_JOBS_H
#define RPELAB_JOBS_H
#include <stddef.h>
/* Runs fn(job i) for i < n (n <= 64), jobs 1.. on their own threads and job 0 on the caller's
   (any whose thread cannot start, on the caller's too); returns when all are done. */
void rpelab_run_jobs(void *(*fn)(void *), void *jobs, size_t job_size, int n);
#endif
