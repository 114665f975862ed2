#ifndef RPELAB_JOBS_H
#define RPELAB_JOBS_H
#include <stddef.h>
#include <stdint.h>
/* Runs fn(job i) for i < n (n <= 64), jobs 1.. on their own threads and job 0 on the caller's
   (any whose thread cannot start, on the caller's too); returns when all are done. */
void rpelab_run_jobs(void *(*fn)(void *), void *jobs, size_t job_size, int n);
/* How many jobs to split `work` into: `threads`, but one when work < min_work (starting a thread
   costs tens of µs), and at least 1 and at most `units` (the indivisible pieces) and 64. */
int rpelab_job_count(int threads, double work, double min_work, int64_t units);
#endif
