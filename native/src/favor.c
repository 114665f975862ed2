/* FAVOR+'s positive features and their gradient (see favor.h). */
#include "favor.h"
#include "jobs.h"
#include "vec.h"

typedef struct {
  int64_t d, m, r0, r1;
  const float *x, *wx, *dphi;
  float s, c;
  float *phi, *dwx, *dx;
} Job;

/* ½ Σ x_i² of one row, in eight partial sums (the order of the forward and the gradient alike). */
static float half_norm(const float *x, int64_t d) {
  v8 acc = {0};
  int64_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const v8 v = load8(x + i);
    acc += v * v;
  }
  float h = (float)sum8(acc);
  for (; i < d; i++) h += x[i] * x[i];
  return 0.5f * h;
}

static void *forward_rows(void *arg) {
  const Job *a = arg;
  for (int64_t r = a->r0; r < a->r1; r++) {
    float *phi = a->phi + r * a->m;
    exp_shifted(phi, a->wx + r * a->m, half_norm(a->x + r * a->d, a->d), a->m);
    for (int64_t j = 0; j < a->m; j++) phi[j] = (phi[j] + a->s) * a->c;
  }
  return NULL;
}

static void *backward_rows(void *arg) {
  const Job *a = arg;
  for (int64_t r = a->r0; r < a->r1; r++) {
    const float *x = a->x + r * a->d, *dphi = a->dphi + r * a->m;
    float *g = a->dwx + r * a->m, *dx = a->dx + r * a->d;
    exp_shifted(g, a->wx + r * a->m, half_norm(x, a->d), a->m);
    float sg = 0;
    for (int64_t j = 0; j < a->m; j++) {
      g[j] = dphi[j] * a->c * g[j];
      sg += g[j];
    }
    for (int64_t i = 0; i < a->d; i++) dx[i] = -sg * x[i];
  }
  return NULL;
}

static void run(void *(*fn)(void *), Job base, int64_t n, int threads) {
  const int jobs_n = rpelab_job_count(threads, (double)n * (base.m + base.d), 1 << 16, n);
  Job jobs[64];
  for (int t = 0; t < jobs_n; t++) {
    jobs[t] = base;
    jobs[t].r0 = n * t / jobs_n;
    jobs[t].r1 = n * (t + 1) / jobs_n;
  }
  rpelab_run_jobs(fn, jobs, sizeof(Job), jobs_n);
}

void rpelab_favor_features(int64_t n, int64_t d, int64_t m, const float *x, const float *wx, float s, float c, float *phi, int threads) {
  const Job base = {d, m, 0, 0, x, wx, NULL, s, c, phi, NULL, NULL};
  run(forward_rows, base, n, threads);
}

void rpelab_favor_features_grad(int64_t n, int64_t d, int64_t m, const float *x, const float *wx, const float *dphi, float c, float *dwx, float *dx,
                                int threads) {
  const Job base = {d, m, 0, 0, x, wx, dphi, 0, c, NULL, dwx, dx};
  run(backward_rows, base, n, threads);
}
