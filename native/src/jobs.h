#ifndef RPELAB_JOBS_H
#define RPELAB_JOBS_H
#include <stddef.h>
#include <stdint.h>
/* Runs fn(job i) for i < n (n <= 64) and returns when all are done, on the caller's thread and
   a pool of threads started once (see jobs.c), each taking the next job until none is left. Any job the
   pool cannot take (a thread that failed to start, or a call from inside a job) runs on the caller. */
void rpelab_run_jobs(void *(*fn)(void *), void *jobs, size_t job_size, int n);
/* How many jobs to split `work` into: `threads`, but one when work < min_work (waking a thread
   costs several µs), and at least 1 and at most `units` (the indivisible pieces) and 64. */
int rpelab_job_count(int threads, double work, double min_work, int64_t units);
#endif
