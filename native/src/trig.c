/* cos and sin of a float32 table, over threads (src/backend/trig.ts). */
#include <math.h>
#include "jobs.h"
#include "trig.h"

/* ---- cos and sin of a table ------------------------------------------------------------------ */

typedef struct { const float *x; float *c, *s; int64_t i0, i1; } TrigJob;

static void *trig_range(void *arg) {
  TrigJob *j = arg;
  for (int64_t i = j->i0; i < j->i1; i++) {
    j->c[i] = cosf(j->x[i]);
    j->s[i] = sinf(j->x[i]);
  }
  return NULL;
}

void rpelab_sin_cos(int64_t n, const float *x, float *c, float *s, int threads) {
  threads = rpelab_job_count(threads, (double)n, 1 << 14, n);
  TrigJob jobs[64];
  for (int t = 0; t < threads; t++) jobs[t] = (TrigJob){x, c, s, n * t / threads, n * (t + 1) / threads};
  rpelab_run_jobs(trig_range, jobs, sizeof(TrigJob), threads);
}
