/*
 * Softmax cross-entropy forward and backward (see softmax_nll.h; the JavaScript loops of
 * src/nn/cross-entropy-kernels.ts compute the same, tested against them and the tfjs formula).
 * Rows are split between threads; every row is independent.
 */
#include <math.h>
#include <stdlib.h>
#include "jobs.h"
#include "vec.h"
#include "softmax_nll.h"

typedef struct {
  int64_t v, r0, r1;
  const float *z, *t, *dnll, *lse_in;
  float *nll, *lse, *dz;
  int failed;
} Job;

static int target_of(float t, int64_t v) {
  return t >= 0 && t < (float)v && t == (float)(int64_t)t ? (int)t : -1;
}

/* The largest of z[0:v]. */
static float row_max(const float *z, int64_t v) {
  float mx[8];
  for (int j = 0; j < 8; j++) mx[j] = -INFINITY;
  int64_t i = 0;
  for (; i + 8 <= v; i += 8)
    for (int j = 0; j < 8; j++) mx[j] = z[i + j] > mx[j] ? z[i + j] : mx[j];
  float max = -INFINITY;
  for (int j = 0; j < 8; j++) max = mx[j] > max ? mx[j] : max;
  for (; i < v; i++) max = z[i] > max ? z[i] : max;
  return max;
}

static void *forward_rows(void *arg) {
  Job *j = arg;
  float *e = malloc(sizeof(float) * (size_t)j->v);
  if (!e) {
    j->failed = 1;
    return NULL;
  }
  for (int64_t r = j->r0; r < j->r1; r++) {
    const float *z = j->z + r * j->v;
    const float max = row_max(z, j->v);
    exp_shifted(e, z, max, j->v);
    v8 s8 = {0};
    int64_t i = 0;
    for (; i + 8 <= j->v; i += 8) s8 += load8(e + i);
    double s = sum8(s8);
    for (; i < j->v; i++) s += e[i];
    const double l = (double)max + log(s);
    const int t = target_of(j->t[r], j->v);
    j->lse[r] = (float)l;
    j->nll[r] = t < 0 ? 0.0f : (float)(l - z[t]);
  }
  free(e);
  return NULL;
}

static void *backward_rows(void *arg) {
  Job *j = arg;
  for (int64_t r = j->r0; r < j->r1; r++) {
    const float *z = j->z + r * j->v;
    float *dz = j->dz + r * j->v;
    const int t = target_of(j->t[r], j->v);
    const float g = t < 0 ? 0.0f : j->dnll[r];
    exp_shifted(dz, z, j->lse_in[r], j->v);
    for (int64_t i = 0; i < j->v; i++) dz[i] *= g;
    if (t >= 0) dz[t] -= g;
  }
  return NULL;
}

static int run(Job base, int64_t n, int threads, void *(*fn)(void *)) {
  const int k = rpelab_job_count(threads, (double)n * base.v, 2e5, n);
  Job jobs[64];
  for (int i = 0; i < k; i++) {
    jobs[i] = base;
    jobs[i].r0 = n * i / k;
    jobs[i].r1 = n * (i + 1) / k;
  }
  rpelab_run_jobs(fn, jobs, sizeof(Job), k);
  for (int i = 0; i < k; i++)
    if (jobs[i].failed) return -1;
  return 0;
}

int rpelab_softmax_nll(int64_t n, int64_t v, const float *z, const float *t, float *nll, float *lse, int threads) {
  return run((Job){v, 0, 0, z, t, 0, 0, nll, lse, 0, 0}, n, threads, forward_rows);
}

int rpelab_softmax_nll_grad(int64_t n, int64_t v, const float *dnll, const float *z, const float *t, const float *lse, float *dz, int threads) {
  return run((Job){v, 0, 0, z, t, dnll, lse, 0, 0, dz, 0}, n, threads, backward_rows);
}
