/*
 * Single-precision matrix product C = op(A) · op(B) (row-major), blocked and packed in the
 * GotoBLAS manner around a 6x16 register micro-kernel (AVX2 + FMA when the compiler targets
 * them, a portable C loop otherwise). Used by rpelab's native BatchMatMul.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sgemm.h"
#include "jobs.h"
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define RPELAB_AVX2 1
#endif

/* The blocking: rows and columns of the register tile, depth of a packed block, rows and columns of a packed block. */
#define MR 6
#define NR 16
#define KC 256
#define MC 72
#define NC 3072

/* Packs the k x n block of B (element (p, j) at b[p*rs + j*cs]) into panels of NR columns, zero-padded. */
static void pack_b(int64_t k, int64_t n, const float *b, int64_t rs, int64_t cs, float *out) {
  for (int64_t j0 = 0; j0 < n; j0 += NR) {
    const int64_t nr = n - j0 < NR ? n - j0 : NR;
    if (cs == 1 && nr == NR) {
      for (int64_t p = 0; p < k; p++) memcpy(out + p * NR, b + p * rs + j0, NR * sizeof(float));
    } else {
      for (int64_t p = 0; p < k; p++) {
        float *o = out + p * NR;
        int64_t jj = 0;
        for (; jj < nr; jj++) o[jj] = b[p * rs + (j0 + jj) * cs];
        for (; jj < NR; jj++) o[jj] = 0.f;
      }
    }
    out += k * NR;
  }
}

/* Packs the m x k block of A (element (i, p) at a[i*rs + p*cs]) into panels of MR rows, zero-padded. */
static void pack_a(int64_t m, int64_t k, const float *a, int64_t rs, int64_t cs, float *out) {
  for (int64_t i0 = 0; i0 < m; i0 += MR) {
    const int64_t mr = m - i0 < MR ? m - i0 : MR;
    for (int64_t p = 0; p < k; p++) {
      float *o = out + p * MR;
      int64_t ii = 0;
      for (; ii < mr; ii++) o[ii] = a[(i0 + ii) * rs + p * cs];
      for (; ii < MR; ii++) o[ii] = 0.f;
    }
    out += k * MR;
  }
}

/* c[0..mr, 0..nr] (=|+=) Σ_p a[p*MR + i] · b[p*NR + j]. The AVX2 accumulators are twelve named
   variables: with an array of vectors GCC 12 may store every accumulator to the stack on every
   step (measured: half the speed). */
static void micro_kernel(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int64_t mr, int64_t nr, int accumulate) {
  float tile[MR * NR];
#ifdef RPELAB_AVX2
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t p = 0; p < k; p++) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
    a += MR;
    b += NR;
  }
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; i++) {
      float *ci = c + i * ldc;
      if (accumulate) {
        _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), acc[i][0]));
        _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc[i][1]));
      } else {
        _mm256_storeu_ps(ci, acc[i][0]);
        _mm256_storeu_ps(ci + 8, acc[i][1]);
      }
    }
    return;
  }
  for (int i = 0; i < MR; i++) { _mm256_storeu_ps(tile + i * NR, acc[i][0]); _mm256_storeu_ps(tile + i * NR + 8, acc[i][1]); }
#else
  for (int i = 0; i < MR * NR; i++) tile[i] = 0.f;
  for (int64_t p = 0; p < k; p++) {
    for (int i = 0; i < MR; i++) {
      const float ai = a[i];
      for (int j = 0; j < NR; j++) tile[i * NR + j] += ai * b[j];
    }
    a += MR;
    b += NR;
  }
#endif
  for (int64_t i = 0; i < mr; i++) {
    float *ci = c + i * ldc;
    for (int64_t j = 0; j < nr; j++) ci[j] = accumulate ? ci[j] + tile[i * NR + j] : tile[i * NR + j];
  }
}

size_t rpelab_sgemm_workspace(int64_t m, int64_t n, int64_t k) {
  const int64_t nc_max = n < NC ? n : NC, kc_max = k < KC ? k : KC, mc_max = m < MC ? m : MC;
  return (size_t)(((nc_max + NR - 1) / NR) * NR * kc_max + ((mc_max + MR - 1) / MR) * MR * kc_max);
}

void rpelab_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int trans_a, const float *b, int trans_b, float *c, float *work) {
  rpelab_sgemm_strided(m, n, k, a, trans_a ? 1 : k, trans_a ? m : 1, b, trans_b, c, work);
}

void rpelab_sgemm_strided(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs, int64_t a_cs, const float *b, int trans_b, float *c, float *work) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) { memset(c, 0, sizeof(float) * m * n); return; }
  /* op(B)(p, j) strides; op(A)(i, p) = a[i*a_rs + p*a_cs] */
  const int64_t b_rs = trans_b ? 1 : n, b_cs = trans_b ? k : 1;
  const int64_t nc_max = n < NC ? n : NC, kc_max = k < KC ? k : KC;
  float *bp = work;
  float *ap = work + ((nc_max + NR - 1) / NR) * NR * kc_max;
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = n - jc < NC ? n - jc : NC;
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = k - pc < KC ? k - pc : KC;
      pack_b(kc, nc, b + pc * b_rs + jc * b_cs, b_rs, b_cs, bp);
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = m - ic < MC ? m - ic : MC;
        pack_a(mc, kc, a + ic * a_rs + pc * a_cs, a_rs, a_cs, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = nc - jr < NR ? nc - jr : NR;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = mc - ir < MR ? mc - ir : MR;
            micro_kernel(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * n + jc + jr, n, mr, nr, pc > 0);
          }
        }
      }
    }
  }
}

/* ---- threads --------------------------------------------------------------------------------- */

typedef struct {
  int64_t m, n, k, batch, batch_a, batch_b;
  const float *a, *b;
  float *c;
  int trans_a, trans_b;
  int64_t first, last;  /* this thread's share: rows of C (batch == 1) or batch elements */
  int failed;
} Job;

static void *run_job(void *arg) {
  Job *j = arg;
  const int64_t rows = j->batch == 1 ? j->last - j->first : j->m;
  float *work = malloc(sizeof(float) * (rpelab_sgemm_workspace(rows, j->n, j->k) + 16));
  if (!work) { j->failed = 1; return NULL; }
  if (j->batch == 1) {
    /* rows first..last of C from rows first..last of op(A) */
    const int64_t a_rs = j->trans_a ? 1 : j->k, a_cs = j->trans_a ? j->m : 1;
    rpelab_sgemm_strided(rows, j->n, j->k, j->a + j->first * a_rs, a_rs, a_cs, j->b, j->trans_b, j->c + j->first * j->n, work);
  } else {
    for (int64_t g = j->first; g < j->last; g++) {
      rpelab_sgemm(j->m, j->n, j->k, j->a + (j->batch_a == 1 ? 0 : g) * j->m * j->k, j->trans_a,
                   j->b + (j->batch_b == 1 ? 0 : g) * j->k * j->n, j->trans_b, j->c + g * j->m * j->n, work);
    }
  }
  free(work);
  return NULL;
}

int rpelab_batch_sgemm_builtin(int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k,
                       const float *a, int trans_a, const float *b, int trans_b, float *c, int threads) {
  /* Threads only pay off past a few million multiply-adds. */
  const int64_t units = batch == 1 ? (m + MR - 1) / MR : batch;
  threads = rpelab_job_count(threads, (double)batch * m * n * k, 4e6, units);
  Job jobs[64];
  for (int t = 0; t < threads; t++) {
    Job *j = &jobs[t];
    *j = (Job){m, n, k, batch, batch_a, batch_b, a, b, c, trans_a, trans_b, 0, 0, 0};
    const int64_t lo = units * t / threads, hi = units * (t + 1) / threads;
    j->first = batch == 1 ? lo * MR : lo;
    j->last = batch == 1 ? (hi * MR < m ? hi * MR : m) : hi;
  }
  rpelab_run_jobs(run_job, jobs, sizeof(Job), threads);
  for (int t = 0; t < threads; t++) if (jobs[t].failed) return -1;
  return 0;
}
