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
#include "vec.h"

typedef struct {
  const RpelabLrpe *a;
  const float *dy;
  float *y, *dx, *dC, *dS;
  double *du; /* this job's ∂u [D], or NULL */
  int64_t l0, l1;
  int failed;
} Job;

/* Σ_f a[f] b[f] over D features: eight float32 lanes added pairwise, the tail in float64. */
static double dot(const float *a, const float *b, int64_t D) {
  v8 acc = {0};
  int64_t f = 0;
  for (; f + 8 <= D; f += 8) acc += load8(a + f) * load8(b + f);
  double s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; f < D; f++) s += (double)a[f] * b[f];
  return s;
}

/* z = x − 2u(u·x) (z = x without u); returns u·x. */
static double reflect(const float *x, const float *u, float *z, int64_t D) {
  if (!u) { memcpy(z, x, sizeof(float) * D); return 0; }
  const double a = dot(u, x, D);
  const float a2 = (float)(2 * a);
  for (int64_t f = 0; f < D; f++) z[f] = x[f] - a2 * u[f];
  return a;
}

/* The H rows of position (b, l) as the map reads them: x itself, or φ(x) = elu(x) + 1 over all H·D
   values at once into `mapped` (vec.h's elu_plus_one) when a->phi. */
static const float *input_rows(const RpelabLrpe *a, int64_t b, int64_t l, float *mapped) {
  const int64_t n = a->H * a->D;
  const float *x = a->x + (b * a->L + l) * n;
  if (!a->phi) return x;
  elu_plus_one(mapped, x, n);
  return mapped;
}

/*
 * dx = (dz − c2·u) ⊙ φ'(x): the reflection's gradient (u NULL: none), then φ's for the raw x and
 * m = φ(x), φ'(x) = 1 for x > 0, else exp(x) = m (x NULL: no φ). One pass, one write of dx.
 */
static void back_through(float *restrict dx, const float *restrict dz, const float *restrict u, float c2, const float *restrict x, const float *restrict m,
                         int64_t D) {
  if (u && x) for (int64_t f = 0; f < D; f++) { const float v = dz[f] - c2 * u[f]; dx[f] = x[f] > 0 ? v : v * m[f]; }
  else if (u) for (int64_t f = 0; f < D; f++) dx[f] = dz[f] - c2 * u[f];
  else if (x) for (int64_t f = 0; f < D; f++) dx[f] = x[f] > 0 ? dz[f] : dz[f] * m[f];
  else memcpy(dx, dz, sizeof(float) * (size_t)D);
}

/* The map of one row x [D] (already through φ) at table rows C, S [W]: y = Λ P x; z is scratch [D]. */
static void lrpe_row(const float *x, const float *u, const float *C, const float *S, int64_t D, int64_t W, int unitary, float *z, float *y) {
  reflect(x, u, z, D);
  if (unitary) {
    for (int64_t f = 0; f < D; f++) { y[f] = z[f] * C[f]; y[D + f] = z[f] * S[f]; }
  } else {
    for (int64_t f = 0; f + 1 < W; f += 2) {
      y[f] = z[f] * C[f] - z[f + 1] * S[f];
      y[f + 1] = z[f + 1] * C[f + 1] + z[f] * S[f + 1];
    }
    for (int64_t f = W; f < D; f++) y[f] = z[f];
  }
}

/* dz = Λᵀ g for one row: the core's turn undone (g [2D] for 'unitary', [D] for 'pairs'). */
static void turn_back(const float *g, const float *C, const float *S, int64_t D, int64_t W, int unitary, float *dz) {
  if (unitary) {
    for (int64_t f = 0; f < D; f++) dz[f] = g[f] * C[f] + g[D + f] * S[f];
  } else {
    for (int64_t f = 0; f + 1 < W; f += 2) {
      dz[f] = g[f] * C[f] + g[f + 1] * S[f + 1];
      dz[f + 1] = g[f + 1] * C[f + 1] - g[f] * S[f];
    }
    for (int64_t f = W; f < D; f++) dz[f] = g[f];
  }
}

void rpelab_lrpe_rows(int64_t n, const float *x, const float *u, const float *C, const float *S, int64_t D, int64_t W, int unitary, float *y) {
  float z[D];
  const int64_t out = unitary ? 2 * D : D;
  for (int64_t i = 0; i < n; i++) lrpe_row(x + i * D, u, C + i * W, S + i * W, D, W, unitary, z, y + i * out);
}

void rpelab_lrpe_rows_back(int64_t n, const float *g, const float *u, const float *C, const float *S, int64_t D, int64_t W, int unitary, float *dx) {
  float dz[D];
  const int64_t in = unitary ? 2 * D : D;
  for (int64_t i = 0; i < n; i++) {
    turn_back(g + i * in, C + i * W, S + i * W, D, W, unitary, dz);
    const double c = u ? dot(u, dz, D) : 0;
    back_through(dx + i * D, dz, u, (float)(2 * c), NULL, NULL, D);
  }
}

static void *map_range(void *arg) {
  Job *j = arg;
  const RpelabLrpe *a = j->a;
  const int64_t D = a->D, W = a->W, out = a->unitary ? 2 * D : D;
  float z[D];
  float *mapped = a->phi ? malloc(sizeof(float) * (size_t)(a->H * D)) : NULL;
  if (a->phi && !mapped) { j->failed = 1; return NULL; }
  for (int64_t b = 0; b < a->B; b++)
    for (int64_t l = j->l0; l < j->l1; l++) {
      const float *C = a->C + l * W, *S = a->S + l * W, *in = input_rows(a, b, l, mapped);
      for (int64_t h = 0; h < a->H; h++) {
        const int64_t row = (b * a->L + l) * a->H + h;
        lrpe_row(in + h * D, a->u, C, S, D, W, a->unitary, z, j->y + row * out);
      }
    }
  free(mapped);
  return NULL;
}

static void *grad_range(void *arg) {
  Job *j = arg;
  const RpelabLrpe *a = j->a;
  const int64_t D = a->D, W = a->W, out = a->unitary ? 2 * D : D;
  float z[D], dz[D];
  float *mapped = a->phi ? malloc(sizeof(float) * (size_t)(a->H * D)) : NULL;
  if (a->phi && !mapped) { j->failed = 1; return NULL; }
  for (int64_t b = 0; b < a->B; b++)
    for (int64_t l = j->l0; l < j->l1; l++) {
      const float *C = a->C + l * W, *S = a->S + l * W, *in = input_rows(a, b, l, mapped);
      float *dC = j->dC ? j->dC + l * W : NULL, *dS = j->dS ? j->dS + l * W : NULL;
      for (int64_t h = 0; h < a->H; h++) {
        const int64_t row = (b * a->L + l) * a->H + h;
        const float *g = j->dy + row * out, *x = in + h * D, *raw = a->x + row * D;
        const double ux = (j->dC || j->du) ? reflect(x, a->u, z, D) : 0;
        turn_back(g, C, S, D, W, a->unitary, dz);
        if (a->unitary) {
          if (dC) for (int64_t f = 0; f < D; f++) { dC[f] += g[f] * z[f]; dS[f] += g[D + f] * z[f]; }
        } else {
          if (dC) for (int64_t f = 0; f + 1 < W; f += 2) {
            dC[f] += g[f] * z[f];
            dC[f + 1] += g[f + 1] * z[f + 1];
            dS[f] -= g[f] * z[f + 1];
            dS[f + 1] += g[f + 1] * z[f];
          }
        }
        /* dx = P dz (P is symmetric: dz − 2u(u·dz)), then through φ; ∂u = −2 Σ ((u·x) dz + (u·dz) x) */
        const double c = a->u ? dot(a->u, dz, D) : 0;
        back_through(j->dx + row * D, dz, a->u, (float)(2 * c), a->phi ? raw : NULL, x, D);
        if (j->du) for (int64_t f = 0; f < D; f++) j->du[f] -= 2 * (ux * dz[f] + c * x[f]);
      }
    }
  free(mapped);
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

int rpelab_lrpe_map(const RpelabLrpe *a, float *y, int threads) {
  Job jobs[64];
  const int n = split(a, threads, jobs);
  for (int t = 0; t < n; t++) jobs[t].y = y;
  rpelab_run_jobs(map_range, jobs, sizeof(Job), n);
  for (int t = 0; t < n; t++)
    if (jobs[t].failed) return -1;
  return 0;
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
  int failed = 0;
  for (int t = 0; t < n; t++) failed |= jobs[t].failed;
  if (failed) {
    free(acc);
    return -1;
  }
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

