/* convSPE's code generator and its filter gradient (see conv_spe.h). The inner loops run over the
   R realizations, contiguous in z and y, so they vectorise without reordering any sum: every output
   is accumulated in the order the header states. The noise is channel-major, so each channel's
   correlation reads consecutive rows (position-major noise put a channel's rows C·R floats apart,
   which the caches took badly: 4–10x slower). */
#include <stdlib.h>
#include <string.h>
#include "conv_spe.h"
#include "jobs.h"

typedef struct {
  int64_t T, C, R, P, lo, hi; /* forward: outputs m in [lo, hi); gradient: channels c in [lo, hi) */
  const float *z, *f, *dy;
  float *y, *df, *acc; /* acc: the gradient job's P·R partial sums */
} Job;

/* Realizations per register block: the block's sums stay in registers over the whole j (or m) loop. */
#define BLOCK 32

static void *code_range(void *arg) {
  const Job *a = (const Job *)arg;
  const int64_t C = a->C, R = a->R, P = a->P;
  for (int64_t m = a->lo; m < a->hi; m++)
    for (int64_t c = 0; c < C; c++) {
      float *y = a->y + (m * C + c) * R;
      const float *fc = a->f + c * P, *zc = a->z + c * a->T * R;
      for (int64_t r0 = 0; r0 < R; r0 += BLOCK) {
        const int64_t n = R - r0 < BLOCK ? R - r0 : BLOCK;
        float acc[BLOCK] = {0};
        if (n == BLOCK) {
          for (int64_t j = 0; j < P; j++) {
            const float w = fc[j], *z = zc + (m + j) * R + r0;
            for (int k = 0; k < BLOCK; k++) acc[k] += w * z[k];
          }
        } else {
          for (int64_t j = 0; j < P; j++) {
            const float w = fc[j], *z = zc + (m + j) * R + r0;
            for (int64_t k = 0; k < n; k++) acc[k] += w * z[k];
          }
        }
        memcpy(y + r0, acc, sizeof(float) * n);
      }
    }
  return NULL;
}

static void *grad_range(void *arg) {
  const Job *a = (const Job *)arg;
  const int64_t C = a->C, R = a->R, P = a->P, S = a->T - a->P + 1;
  float *lanes = a->acc; /* per-(j, realization) sums over m, [P, R] */
  for (int64_t c = a->lo; c < a->hi; c++) {
    const float *zc = a->z + c * a->T * R;
    memset(lanes, 0, sizeof(float) * P * R);
    for (int64_t m = 0; m < S; m++) {
      const float *restrict d = a->dy + (m * C + c) * R;
      for (int64_t j = 0; j < P; j++) {
        const float *restrict z = zc + (m + j) * R;
        float *restrict l = lanes + j * R;
        for (int64_t r = 0; r < R; r++) l[r] += d[r] * z[r];
      }
    }
    for (int64_t j = 0; j < P; j++) {
      float total = 0;
      for (int64_t r = 0; r < R; r++) total += lanes[j * R + r];
      a->df[c * P + j] = total;
    }
  }
  return NULL;
}

static int jobs_for(const Job *base, int64_t units, int threads) {
  const double work = (double)(base->T - base->P + 1) * base->C * base->R * base->P;
  return rpelab_job_count(threads, work, 1 << 22, units);
}

static void run(void *(*fn)(void *), const Job *base, int64_t units, int n, float *acc) {
  Job jobs[64];
  for (int t = 0; t < n; t++) {
    jobs[t] = *base;
    jobs[t].lo = units * t / n;
    jobs[t].hi = units * (t + 1) / n;
    jobs[t].acc = acc ? acc + t * base->P * base->R : NULL;
  }
  rpelab_run_jobs(fn, jobs, sizeof(Job), n);
}

void rpelab_conv_code(int64_t T, int64_t C, int64_t R, int64_t P, const float *z, const float *f, float *y, int threads) {
  const Job base = {T, C, R, P, 0, 0, z, f, NULL, y, NULL, NULL};
  run(code_range, &base, T - P + 1, jobs_for(&base, T - P + 1, threads), NULL);
}

int rpelab_conv_code_filter_grad(int64_t T, int64_t C, int64_t R, int64_t P, const float *z, const float *dy, float *df, int threads) {
  const Job base = {T, C, R, P, 0, 0, z, NULL, dy, NULL, df, NULL};
  const int n = jobs_for(&base, C, threads);
  float *acc = (float *)malloc(sizeof(float) * n * P * R);
  if (!acc) return -1;
  run(grad_range, &base, C, n, acc);
  free(acc);
  return 0;
}
