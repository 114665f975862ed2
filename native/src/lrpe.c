/*
 * The fused LRPE map and its gradient (see lrpe.h and src/encodings/lrpe/kernels.ts, whose
 * JavaScript loops compute the same; tested against them). Positions are split between threads,
 * so every thread owns its rows of the table gradients; ∂u is summed per thread in float64 and
 * the partial sums are added in thread order.
 */
#include <stdlib.h>
#include <string.h>
#include "jobs.h"
#include "lrpe.h"

typedef struct {
  const RpelabLrpe *a;
  const float *dy;
  float *y, *dx, *dC, *dS;
  double *du; /* this job's ∂u [D], or NULL */
  int64_t l0, l1;
} Job;

/* z = x − 2u(u·x) (z = x without u); returns u·x. */
static double reflect(const float *x, const float *u, float *z, int64_t D) {
  if (!u) { memcpy(z, x, sizeof(float) * D); return 0; }
  double a = 0;
  for (int64_t f = 0; f < D; f++) a += (double)u[f] * x[f];
  const float a2 = (float)(2 * a);
  for (int64_t f = 0; f < D; f++) z[f] = x[f] - a2 * u[f];
  return a;
}

static void *map_range(void *arg) {
  Job *j = arg;
  const RpelabLrpe *a = j->a;
  const int64_t D = a->D, W = a->W, out = a->unitary ? 2 * D : D;
  float z[D];
  for (int64_t b = 0; b < a->B; b++)
    for (int64_t l = j->l0; l < j->l1; l++) {
      const float *C = a->C + l * W, *S = a->S + l * W;
      for (int64_t h = 0; h < a->H; h++) {
        const int64_t row = (b * a->L + l) * a->H + h;
        float *y = j->y + row * out;
        reflect(a->x + row * D, a->u, z, D);
        if (a->unitary) {
          for (int64_t f = 0; f < D; f++) { y[f] = z[f] * C[f]; y[D + f] = z[f] * S[f]; }
        } else {
          for (int64_t f = 0; f + 1 < W; f += 2) {
            y[f] = z[f] * C[f] - z[f + 1] * S[f];
            y[f + 1] = z[f + 1] * C[f + 1] + z[f] * S[f + 1];
          }
          for (int64_t f = W; f < D; f++) y[f] = z[f];
        }
      }
    }
  return NULL;
}

static void *grad_range(void *arg) {
  Job *j = arg;
  const RpelabLrpe *a = j->a;
  const int64_t D = a->D, W = a->W, out = a->unitary ? 2 * D : D;
  float z[D], dz[D];
  for (int64_t b = 0; b < a->B; b++)
    for (int64_t l = j->l0; l < j->l1; l++) {
      const float *C = a->C + l * W, *S = a->S + l * W;
      float *dC = j->dC ? j->dC + l * W : NULL, *dS = j->dS ? j->dS + l * W : NULL;
      for (int64_t h = 0; h < a->H; h++) {
        const int64_t row = (b * a->L + l) * a->H + h;
        const float *g = j->dy + row * out, *x = a->x + row * D;
        const double ux = (j->dC || j->du) ? reflect(x, a->u, z, D) : 0;
        if (a->unitary) {
          for (int64_t f = 0; f < D; f++) dz[f] = g[f] * C[f] + g[D + f] * S[f];
          if (dC) for (int64_t f = 0; f < D; f++) { dC[f] += g[f] * z[f]; dS[f] += g[D + f] * z[f]; }
        } else {
          for (int64_t f = 0; f + 1 < W; f += 2) {
            dz[f] = g[f] * C[f] + g[f + 1] * S[f + 1];
            dz[f + 1] = g[f + 1] * C[f + 1] - g[f] * S[f];
          }
          for (int64_t f = W; f < D; f++) dz[f] = g[f];
          if (dC) for (int64_t f = 0; f + 1 < W; f += 2) {
            dC[f] += g[f] * z[f];
            dC[f + 1] += g[f + 1] * z[f + 1];
            dS[f] -= g[f] * z[f + 1];
            dS[f + 1] += g[f + 1] * z[f];
          }
        }
        float *dx = j->dx + row * D;
        if (!a->u) { memcpy(dx, dz, sizeof(float) * D); continue; }
        /* dx = P dz (P is symmetric); ∂u = −2 Σ ((u·x) dz + (u·dz) x) */
        double c = 0;
        for (int64_t f = 0; f < D; f++) c += (double)a->u[f] * dz[f];
        const float c2 = (float)(2 * c);
        for (int64_t f = 0; f < D; f++) dx[f] = dz[f] - c2 * a->u[f];
        if (j->du) for (int64_t f = 0; f < D; f++) j->du[f] -= 2 * (ux * dz[f] + c * x[f]);
      }
    }
  return NULL;
}

/* Threads for B·L·H·D elements: one below ~256k (starting a thread costs tens of µs). */
static int split(const RpelabLrpe *a, int threads, Job *jobs) {
  threads = rpelab_job_count(threads, (double)(a->B * a->L * a->H * a->D), 1 << 18, a->L);
  for (int t = 0; t < threads; t++) {
    memset(&jobs[t], 0, sizeof(Job));
    jobs[t].a = a;
    jobs[t].l0 = a->L * t / threads;
    jobs[t].l1 = a->L * (t + 1) / threads;
  }
  return threads;
}

void rpelab_lrpe_map(const RpelabLrpe *a, float *y, int threads) {
  Job jobs[64];
  const int n = split(a, threads, jobs);
  for (int t = 0; t < n; t++) jobs[t].y = y;
  rpelab_run_jobs(map_range, jobs, sizeof(Job), n);
}

int rpelab_lrpe_map_grad(const RpelabLrpe *a, const float *dy, float *dx, float *dC, float *dS, float *du, int threads) {
  Job jobs[64];
  const int n = split(a, threads, jobs);
  double *acc = NULL;
  if (du) {
    acc = calloc((size_t)(n * a->D), sizeof(double));
    if (!acc) return -1;
  }
  if (dC) { memset(dC, 0, sizeof(float) * a->L * a->W); memset(dS, 0, sizeof(float) * a->L * a->W); }
  for (int t = 0; t < n; t++) {
    jobs[t].dy = dy; jobs[t].dx = dx; jobs[t].dC = dC; jobs[t].dS = dS;
    jobs[t].du = acc ? acc + t * a->D : NULL;
  }
  rpelab_run_jobs(grad_range, jobs, sizeof(Job), n);
  if (du) {
    for (int64_t f = 0; f < a->D; f++) {
      double s = 0;
      for (int t = 0; t < n; t++) s += acc[t * a->D + f];
      du[f] = (float)s;
    }
    free(acc);
  }
  return 0;
}

