/*
 * Softmax attention in O(L) memory, FlashAttention's algorithm (Dao et al. 2022) in the loop order
 * of FlashAttention-2, on OpenBLAS's strided products (see flash.h; the same function as the
 * tf-op form of src/attention/softmax-blockwise.ts and the quadratic src/attention/softmax.ts,
 * which the tests compare it with, values and gradients).
 *
 * Forward, per (batch, head, block of BQ queries), over key blocks of BK:
 *   S = scale · Q Kⱼᵀ (causal: −∞ past the query's position), m' = max(m, rowmax S),
 *   P = exp(S − m'), ℓ ← e^(m − m') ℓ + rowsum P, acc ← e^(m − m') acc + P Vⱼ;  o = acc / ℓ,
 *   lse = m + log ℓ.
 * Backward, per (batch, head), over key blocks, then the query blocks that see them: with
 * δ = rowsum(dO ⊙ O) and P = exp(S − lse) recomputed, dVⱼ += Pᵀ dO, dS = P ⊙ (dO Vⱼᵀ − δ),
 * dQ += scale · dS Kⱼ, dKⱼ += scale · dSᵀ Q. Each (batch, head) is one thread's alone, so no
 * two threads write the same row and the results do not depend on the number of threads.
 *
 * The rows of one head are strided in [B, L, H, D]: the products read and write them in place
 * (leading dimension H·D). OpenBLAS runs single-threaded inside these threads.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "blas.h"
#include "flash.h"
#include "jobs.h"
#include "vec.h"

#define BQ 64
#define BK 128

int rpelab_flash_available(void) { return rpelab_blas_has_library(); }

static void gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                 int64_t ldc) {
  rpelab_sgemm_strided_library(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Keys a query row at position p sees in a block starting at key j0 with `cols` keys: [0, visible). */
static inline int64_t visible(const RpelabFlash *a, int64_t p, int64_t j0, int64_t cols) {
  if (!a->causal) return cols;
  const int64_t n = p - j0 + 1;
  return n < 0 ? 0 : n > cols ? cols : n;
}

typedef struct {
  const RpelabFlash *a;
  const float *q, *k, *v, *o, *lse, *dout;
  float *out, *lse_out, *dq, *dk, *dv;
  atomic_llong *next;
  int64_t ntasks;
  int failed;
} FlashJob;

/* ---- forward ---------------------------------------------------------------------------------- */

static void forward_task(FlashJob *j, int64_t task, float *s, float *acc, double *m, double *l) {
  const RpelabFlash *a = j->a;
  const int64_t H = a->H, D = a->D, Dv = a->Dv, nqb = (a->Lq + BQ - 1) / BQ;
  const int64_t bh = task / nqb, b = bh / H, h = bh % H, i0 = (task % nqb) * BQ, rows = a->Lq - i0 < BQ ? a->Lq - i0 : BQ;
  const float *qb = j->q + ((b * a->Lq + i0) * H + h) * D;
  for (int64_t r = 0; r < rows; r++) { m[r] = -INFINITY; l[r] = 0; }
  memset(acc, 0, sizeof(float) * (size_t)(rows * Dv));
  /* Keys past the last row's position are never seen. */
  const int64_t kend = a->causal ? (a->offset + i0 + rows < a->Lk ? a->offset + i0 + rows : a->Lk) : a->Lk;
  for (int64_t j0 = 0; j0 < kend; j0 += BK) {
    const int64_t cols = kend - j0 < BK ? kend - j0 : BK;
    gemm(0, 1, rows, cols, D, a->scale, qb, H * D, j->k + ((b * a->Lk + j0) * H + h) * D, H * D, 0.f, s, BK);
    for (int64_t r = 0; r < rows; r++) {
      float *sr = s + r * BK;
      const int64_t n = visible(a, a->offset + i0 + r, j0, cols);
      if (n == 0) { memset(sr, 0, sizeof(float) * (size_t)cols); continue; }
      float mx = sr[0];
      for (int64_t c = 1; c < n; c++) mx = sr[c] > mx ? sr[c] : mx;
      const double mnew = m[r] > mx ? m[r] : mx;
      const float mf = (float)mnew;
      exp_shifted(sr, sr, mf, n);
      float sum = 0;
      for (int64_t c = 0; c < n; c++) sum += sr[c];
      for (int64_t c = n; c < cols; c++) sr[c] = 0;
      const float decay = (float)exp(m[r] - mnew);
      l[r] = l[r] * decay + sum;
      m[r] = mnew;
      if (decay != 1.f) for (int64_t d = 0; d < Dv; d++) acc[r * Dv + d] *= decay;
    }
    gemm(0, 0, rows, Dv, cols, 1.f, s, BK, j->v + ((b * a->Lk + j0) * H + h) * Dv, H * Dv, 1.f, acc, Dv);
  }
  for (int64_t r = 0; r < rows; r++) {
    float *orow = j->out + ((b * a->Lq + i0 + r) * H + h) * Dv;
    const float inv = (float)(1.0 / l[r]);
    for (int64_t d = 0; d < Dv; d++) orow[d] = acc[r * Dv + d] * inv;
    j->lse_out[(b * H + h) * a->Lq + i0 + r] = (float)(m[r] + log(l[r]));
  }
}

static void *forward_tasks(void *arg) {
  FlashJob *j = arg;
  float *s = malloc(sizeof(float) * (size_t)(BQ * BK + BQ * j->a->Dv));
  double *ml = malloc(sizeof(double) * 2 * BQ);
  if (!s || !ml) { free(s); free(ml); j->failed = 1; return NULL; }
  for (int64_t t; (t = atomic_fetch_add(j->next, 1)) < j->ntasks;) forward_task(j, t, s, s + BQ * BK, ml, ml + BQ);
  free(s); free(ml);
  return NULL;
}

/* ---- backward --------------------------------------------------------------------------------- */

typedef struct { float *s, *dp, *dk, *dv, *delta; } BackScratch;

static void backward_task(FlashJob *j, int64_t bh, BackScratch *w) {
  const RpelabFlash *a = j->a;
  const int64_t H = a->H, D = a->D, Dv = a->Dv, Lq = a->Lq, Lk = a->Lk, b = bh / H, h = bh % H;
  const int64_t ldq = H * D, ldv = H * Dv;
  const float *q = j->q + (b * Lq * H + h) * D, *k = j->k + (b * Lk * H + h) * D, *v = j->v + (b * Lk * H + h) * Dv;
  const float *o = j->o + (b * Lq * H + h) * Dv, *dout = j->dout + (b * Lq * H + h) * Dv, *lse = j->lse + bh * Lq;
  float *dq = j->dq + (b * Lq * H + h) * D, *dk = j->dk + (b * Lk * H + h) * D, *dv = j->dv + (b * Lk * H + h) * Dv;
  for (int64_t i = 0; i < Lq; i++) {
    double s = 0;
    for (int64_t d = 0; d < Dv; d++) s += (double)dout[i * ldv + d] * o[i * ldv + d];
    w->delta[i] = (float)s;
    memset(dq + i * ldq, 0, sizeof(float) * (size_t)D);
  }
  for (int64_t j0 = 0; j0 < Lk; j0 += BK) {
    const int64_t cols = Lk - j0 < BK ? Lk - j0 : BK;
    memset(w->dk, 0, sizeof(float) * (size_t)(cols * D));
    memset(w->dv, 0, sizeof(float) * (size_t)(cols * Dv));
    /* The first query that sees key j0: causal, position offset + i >= j0. */
    const int64_t ifirst = a->causal ? (j0 - a->offset > 0 ? j0 - a->offset : 0) : 0;
    for (int64_t i0 = ifirst / BQ * BQ; i0 < Lq; i0 += BQ) {
      const int64_t rows = Lq - i0 < BQ ? Lq - i0 : BQ;
      gemm(0, 1, rows, cols, D, a->scale, q + i0 * ldq, ldq, k + j0 * ldq, ldq, 0.f, w->s, BK);
      for (int64_t r = 0; r < rows; r++) {
        float *sr = w->s + r * BK;
        const int64_t n = visible(a, a->offset + i0 + r, j0, cols);
        const float l = lse[i0 + r];
        exp_shifted(sr, sr, l, n);
        for (int64_t c = n; c < cols; c++) sr[c] = 0;
      }
      /* dVⱼ += Pᵀ dO */
      gemm(1, 0, cols, Dv, rows, 1.f, w->s, BK, dout + i0 * ldv, ldv, 1.f, w->dv, Dv);
      /* dS = P ⊙ (dO Vⱼᵀ − δ) */
      gemm(0, 1, rows, cols, Dv, 1.f, dout + i0 * ldv, ldv, v + j0 * ldv, ldv, 0.f, w->dp, BK);
      for (int64_t r = 0; r < rows; r++) {
        float *pr = w->s + r * BK, *dr = w->dp + r * BK;
        const float dl = w->delta[i0 + r];
        for (int64_t c = 0; c < cols; c++) dr[c] = pr[c] * (dr[c] - dl);
      }
      /* dQ += scale · dS Kⱼ;  dKⱼ += scale · dSᵀ Q */
      gemm(0, 0, rows, D, cols, a->scale, w->dp, BK, k + j0 * ldq, ldq, 1.f, dq + i0 * ldq, ldq);
      gemm(1, 0, cols, D, rows, a->scale, w->dp, BK, q + i0 * ldq, ldq, 1.f, w->dk, D);
    }
    for (int64_t c = 0; c < cols; c++) {
      memcpy(dk + (j0 + c) * ldq, w->dk + c * D, sizeof(float) * (size_t)D);
      memcpy(dv + (j0 + c) * ldv, w->dv + c * Dv, sizeof(float) * (size_t)Dv);
    }
  }
}

static void *backward_tasks(void *arg) {
  FlashJob *j = arg;
  const RpelabFlash *a = j->a;
  BackScratch w;
  w.s = malloc(sizeof(float) * (size_t)(2 * BQ * BK + BK * a->D + BK * a->Dv + a->Lq));
  if (!w.s) { j->failed = 1; return NULL; }
  w.dp = w.s + BQ * BK;
  w.dk = w.dp + BQ * BK;
  w.dv = w.dk + BK * a->D;
  w.delta = w.dv + BK * a->Dv;
  for (int64_t t; (t = atomic_fetch_add(j->next, 1)) < j->ntasks;) backward_task(j, t, &w);
  free(w.s);
  return NULL;
}

/* ---- threads ---------------------------------------------------------------------------------- */

static int run(FlashJob *base, int64_t ntasks, double work, void *(*fn)(void *), int threads) {
  atomic_llong next = 0;
  base->next = &next;
  base->ntasks = ntasks;
  base->failed = 0;
  const int t = rpelab_job_count(threads, work, 1e6, ntasks);
  rpelab_blas_serial_begin();
  FlashJob jobs[64];
  for (int i = 0; i < t; i++) jobs[i] = *base;
  rpelab_run_jobs(fn, jobs, sizeof(FlashJob), t);
  for (int i = 0; i < t; i++) if (jobs[i].failed) return -1;
  return 0;
}

int rpelab_flash_forward(const RpelabFlash *a, const float *q, const float *k, const float *v, float *o, float *lse, int threads) {
  if (!rpelab_flash_available()) return -2;
  FlashJob j;
  memset(&j, 0, sizeof(j));
  j.a = a; j.q = q; j.k = k; j.v = v; j.out = o; j.lse_out = lse;
  const int64_t ntasks = a->B * a->H * ((a->Lq + BQ - 1) / BQ);
  return run(&j, ntasks, (double)a->B * a->H * a->Lq * a->Lk * (a->D + a->Dv), forward_tasks, threads);
}

int rpelab_flash_backward(const RpelabFlash *a, const float *q, const float *k, const float *v, const float *o, const float *lse, const float *dout,
                          float *dq, float *dk, float *dv, int threads) {
  if (!rpelab_flash_available()) return -2;
  FlashJob j;
  memset(&j, 0, sizeof(j));
  j.a = a; j.q = q; j.k = k; j.v = v; j.o = o; j.lse = lse; j.dout = dout; j.dq = dq; j.dk = dk; j.dv = dv;
  return run(&j, a->B * a->H, (double)a->B * a->H * a->Lq * a->Lk * (a->D + a->Dv), backward_tasks, threads);
}
