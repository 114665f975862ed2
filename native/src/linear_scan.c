/*
 * Linear attention as recurrences over positions, forward and backward (see linear_scan.h; the
 * chunked tf-op form of src/attention/linear.ts computes the same and the tests compare both with
 * the O(L²) reference). One job per (batch, head) pair; each copies its rows into contiguous
 * buffers and runs scans.
 *
 * A scan walks the positions forward or in reverse, keeping a state S [A, Bd] = Σ w x_t y_tᵀ over
 * the positions passed (inclusive: the current one too; exclusive: not), and at each position p
 * reads out_p[0:Bd] += Σ_a p_p[a] S[a][0:Bd]: every read is a sum of rows of S, so the inner loops
 * run along rows with the sums in registers. With v' = [v, 1] and, for the backward pass,
 * g' = [dnum, dden] (dnum = dout / max(den, eps); dden = −dout·o / max(den, eps) where den ≥ eps,
 * else 0, as tf.maximum's gradient):
 *   num_s = Σ_t w (q_s·k_t) v_t      state Σ k vᵀ  [F, E],  read with q_s
 *   den_s = Σ_t w (q_s·k_t)          state Σ k     [F, 1],  read with q_s
 *   dq_s  = Σ_t w (v'_t·g'_s) k_t    state Σ v' kᵀ [E+1, F], read with g'_s
 *   dk_t  = Σ_s w (v'_t·g'_s) q_s    state Σ g' qᵀ [E+1, F], read with v'_t (the other direction)
 *   dv_t  = Σ_s w (q_s·k_t) dnum_s   state Σ q dnumᵀ [F, E], read with k_t (the other direction)
 * Causal is one inclusive scan; bidirectional adds the exclusive scan of the other direction (with
 * decay) or reads the total state at every position (without).
 */
#include <stdlib.h>
#include <string.h>
#include "jobs.h"
#include "vec.h"
#include "linear_scan.h"

typedef struct {
  const RpelabLinearScan *a;
  const float *q, *k, *v, *o, *den, *dout;
  float *o_out, *den_out, *dq, *dk, *dv;
  int64_t first, last;
  int failed;
} Job;

/* One scan's operands: rows x_p [A] (stride ldx), y_p [Bd] (ldy), p_p [A] (ldp), out_p [Bd] (ldo). */
typedef struct {
  int64_t A, Bd;
  const float *x, *y, *p;
  float *out;
  int64_t ldx, ldy, ldp, ldo;
} Scan;

/* S ← r S + x yᵀ (the multiply-adds fused where the build has FMA, as in `update_read`). */
static void update(float *restrict S, int64_t A, int64_t Bd, float r, const float *restrict x, const float *restrict y) {
  if (Bd == 1) {
    for (int64_t a = 0; a < A; a++) S[a] = (r == 1.0f ? S[a] : r * S[a]) + x[a] * y[0];
    return;
  }
  for (int64_t a = 0; a < A; a++) {
    const v8 c = bcast8(x[a]);
    float *restrict s = S + a * Bd;
    int64_t b = 0;
    for (; b + 8 <= Bd; b += 8) store8(s + b, fma8(c, load8(y + b), r == 1.0f ? load8(s + b) : r * load8(s + b)));
    for (; b < Bd; b++) s[b] = (r == 1.0f ? s[b] : r * s[b]) + x[a] * y[b];
  }
}

/* Σ_a p[a] s[a] for a state of one column: eight partial sums. */
static float dot(const float *restrict p, const float *restrict s, int64_t A) {
  v8 acc = {0};
  int64_t a = 0;
  for (; a + 8 <= A; a += 8) acc += load8(p + a) * load8(s + a);
  float t = (float)sum8(acc);
  for (; a < A; a++) t += p[a] * s[a];
  return t;
}

/*
 * out[0:Bd] += Σ_a p[a] S[a][0:Bd], in blocks of 16 and 8 columns summed in registers: the even rows
 * and the odd rows in separate sums, added at the end (two chains of multiply-adds in flight, not
 * one as long as A).
 */
static void read_rows(const float *restrict S, int64_t A, int64_t Bd, const float *restrict p, float *restrict out) {
  if (Bd == 1) {
    out[0] += dot(p, S, A);
    return;
  }
  int64_t b0 = 0;
  for (; b0 + 16 <= Bd; b0 += 16) {
    v8 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    int64_t a = 0;
    for (; a + 2 <= A; a += 2) {
      const float *s = S + a * Bd + b0, *t = s + Bd;
      const v8 pa = bcast8(p[a]), pb = bcast8(p[a + 1]);
      acc0 = fma8(pa, load8(s), acc0);
      acc1 = fma8(pa, load8(s + 8), acc1);
      acc2 = fma8(pb, load8(t), acc2);
      acc3 = fma8(pb, load8(t + 8), acc3);
    }
    for (; a < A; a++) {
      const float *s = S + a * Bd + b0;
      acc0 = fma8(bcast8(p[a]), load8(s), acc0);
      acc1 = fma8(bcast8(p[a]), load8(s + 8), acc1);
    }
    store8(out + b0, load8(out + b0) + (acc0 + acc2));
    store8(out + b0 + 8, load8(out + b0 + 8) + (acc1 + acc3));
  }
  for (; b0 + 8 <= Bd; b0 += 8) {
    v8 acc = {0};
    for (int64_t a = 0; a < A; a++) acc = fma8(bcast8(p[a]), load8(S + a * Bd + b0), acc);
    store8(out + b0, load8(out + b0) + acc);
  }
  for (; b0 < Bd; b0++) {
    float acc = 0;
    for (int64_t a = 0; a < A; a++) acc += p[a] * S[a * Bd + b0];
    out[b0] += acc;
  }
}

/*
 * `update` then `read_rows` in one pass over the rows of S (the same operations in the same order,
 * so the same numbers).
 */
static void update_read(float *restrict S, int64_t A, int64_t Bd, float r, const float *restrict x, const float *restrict y, const float *restrict p,
                        float *restrict out) {
  if (Bd == 1) {
    update(S, A, 1, r, x, y);
    out[0] += dot(p, S, A);
    return;
  }
  int64_t b0 = 0;
  for (; b0 + 16 <= Bd; b0 += 16) {
    const v8 y0 = load8(y + b0), y1 = load8(y + b0 + 8);
    v8 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    int64_t a = 0;
    for (; a + 2 <= A; a += 2) {
      float *s = S + a * Bd + b0, *t = s + Bd;
      v8 s0 = load8(s), s1 = load8(s + 8), t0 = load8(t), t1 = load8(t + 8);
      if (r != 1.0f) {
        s0 = r * s0;
        s1 = r * s1;
        t0 = r * t0;
        t1 = r * t1;
      }
      const v8 xa = bcast8(x[a]), xb = bcast8(x[a + 1]), pa = bcast8(p[a]), pb = bcast8(p[a + 1]);
      s0 = fma8(xa, y0, s0);
      s1 = fma8(xa, y1, s1);
      t0 = fma8(xb, y0, t0);
      t1 = fma8(xb, y1, t1);
      store8(s, s0);
      store8(s + 8, s1);
      store8(t, t0);
      store8(t + 8, t1);
      acc0 = fma8(pa, s0, acc0);
      acc1 = fma8(pa, s1, acc1);
      acc2 = fma8(pb, t0, acc2);
      acc3 = fma8(pb, t1, acc3);
    }
    for (; a < A; a++) {
      float *s = S + a * Bd + b0;
      v8 s0 = load8(s), s1 = load8(s + 8);
      if (r != 1.0f) {
        s0 = r * s0;
        s1 = r * s1;
      }
      const v8 xa = bcast8(x[a]), pa = bcast8(p[a]);
      s0 = fma8(xa, y0, s0);
      s1 = fma8(xa, y1, s1);
      store8(s, s0);
      store8(s + 8, s1);
      acc0 = fma8(pa, s0, acc0);
      acc1 = fma8(pa, s1, acc1);
    }
    store8(out + b0, load8(out + b0) + (acc0 + acc2));
    store8(out + b0 + 8, load8(out + b0 + 8) + (acc1 + acc3));
  }
  if (b0 < Bd) {
    /* The remaining columns: `update` and `read_rows` on a view of S starting at column b0 (their
       8-column and single-column loops). */
    for (int64_t a = 0; a < A; a++) {
      const v8 c = bcast8(x[a]);
      float *s = S + a * Bd;
      int64_t b = b0;
      for (; b + 8 <= Bd; b += 8) store8(s + b, fma8(c, load8(y + b), r == 1.0f ? load8(s + b) : r * load8(s + b)));
      for (; b < Bd; b++) s[b] = (r == 1.0f ? s[b] : r * s[b]) + x[a] * y[b];
    }
    for (; b0 + 8 <= Bd; b0 += 8) {
      v8 acc = {0};
      for (int64_t a = 0; a < A; a++) acc = fma8(bcast8(p[a]), load8(S + a * Bd + b0), acc);
      store8(out + b0, load8(out + b0) + acc);
    }
    for (; b0 < Bd; b0++) {
      float acc = 0;
      for (int64_t a = 0; a < A; a++) acc += p[a] * S[a * Bd + b0];
      out[b0] += acc;
    }
  }
}

/* One scan over L positions (see the top of the file). S: A·Bd floats. */
static void scan(const Scan *c, int64_t L, float r, int reverse, int inclusive, float *S) {
  const int64_t n = c->A * c->Bd;
  memset(S, 0, sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < L; i++) {
    const int64_t p = reverse ? L - 1 - i : i;
    const float *x = c->x + p * c->ldx, *y = c->y + p * c->ldy;
    if (inclusive) {
      update_read(S, c->A, c->Bd, r, x, y, c->p + p * c->ldp, c->out + p * c->ldo);
    } else {
      if (r != 1.0f)
        for (int64_t j = 0; j < n; j++) S[j] *= r;
      read_rows(S, c->A, c->Bd, c->p + p * c->ldp, c->out + p * c->ldo);
      update(S, c->A, c->Bd, 1.0f, x, y);
    }
  }
}

/* The reads of `c` with w = r^|s−t| over t ≤ s (causal; `reverse`: t ≥ s) or every t. */
static void attend(const RpelabLinearScan *a, const Scan *c, float r, int reverse, float *S) {
  if (!a->causal && r == 1.0f) {
    memset(S, 0, sizeof(float) * (size_t)(c->A * c->Bd));
    for (int64_t p = 0; p < a->L; p++) update(S, c->A, c->Bd, 1.0f, c->x + p * c->ldx, c->y + p * c->ldy);
    for (int64_t p = 0; p < a->L; p++) read_rows(S, c->A, c->Bd, c->p + p * c->ldp, c->out + p * c->ldo);
    return;
  }
  scan(c, a->L, r, reverse, 1, S);
  if (!a->causal) scan(c, a->L, r, !reverse, 0, S);
}

/* Rows of one (b, h) pair: src [B, L, H, w] -> dst [L, ld] (columns w.. of dst untouched). */
static void gather(const float *src, float *dst, const RpelabLinearScan *a, int64_t b, int64_t h, int64_t w, int64_t ld) {
  for (int64_t p = 0; p < a->L; p++) memcpy(dst + p * ld, src + ((b * a->L + p) * a->H + h) * w, sizeof(float) * (size_t)w);
}

/* d ⊙= φ'(x) (1 for x > 0, else exp(x)) on d [L, F], x the raw rows of one (b, h) pair. */
static void times_elu_slope(float *d, const float *src, const RpelabLinearScan *a, int64_t b, int64_t h) {
  const int64_t F = a->F;
  float e[64];
  for (int64_t p = 0; p < a->L; p++) {
    const float *x = src + ((b * a->L + p) * a->H + h) * F;
    float *dp = d + p * F;
    for (int64_t f0 = 0; f0 < F; f0 += 64) {
      const int64_t m = F - f0 < 64 ? F - f0 : 64;
      exp_shifted(e, x + f0, 0.0f, m);
      for (int64_t i = 0; i < m; i++) dp[f0 + i] *= x[f0 + i] > 0 ? 1.0f : e[i];
    }
  }
}

static void scatter(const float *src, float *dst, const RpelabLinearScan *a, int64_t b, int64_t h, int64_t w, int64_t ld) {
  for (int64_t p = 0; p < a->L; p++) memcpy(dst + ((b * a->L + p) * a->H + h) * w, src + p * ld, sizeof(float) * (size_t)w);
}

/* The (b, h) rows of q and k into Q, K [L, F], mapped by φ when the kernel applies it. */
static void gather_features(const Job *j, float *Q, float *K, int64_t b, int64_t h) {
  const RpelabLinearScan *a = j->a;
  gather(j->q, Q, a, b, h, a->F, a->F);
  gather(j->k, K, a, b, h, a->F, a->F);
  if (a->phi) {
    elu_plus_one(Q, Q, a->L * a->F);
    elu_plus_one(K, K, a->L * a->F);
  }
}

static void *forward_pairs(void *arg) {
  Job *j = arg;
  const RpelabLinearScan *a = j->a;
  const int64_t L = a->L, F = a->F, E = a->E;
  float *buf = malloc(sizeof(float) * (size_t)(2 * L * F + 2 * L * E + 2 * L + F * E + F));
  if (!buf) {
    j->failed = 1;
    return NULL;
  }
  float *Q = buf, *K = Q + L * F, *V = K + L * F, *N = V + L * E, *ONE = N + L * E, *D = ONE + L, *S = D + L;
  for (int64_t p = 0; p < L; p++) ONE[p] = 1.0f;
  for (int64_t pair = j->first; pair < j->last; pair++) {
    const int64_t b = pair / a->H, h = pair % a->H;
    const float r = a->decay ? a->decay[h] : 1.0f;
    gather_features(j, Q, K, b, h);
    gather(j->v, V, a, b, h, E, E);
    memset(N, 0, sizeof(float) * (size_t)(L * E));
    const Scan num = {F, E, K, V, Q, N, F, E, F, E};
    attend(a, &num, r, 0, S);
    if (a->normalize) {
      memset(D, 0, sizeof(float) * (size_t)L);
      const Scan den = {F, 1, K, ONE, Q, D, F, 1, F, 1};
      attend(a, &den, r, 0, S);
    }
    for (int64_t p = 0; p < L; p++) {
      const int64_t row = (b * L + p) * a->H + h;
      float *o = j->o_out + row * E;
      const float *n = N + p * E;
      if (a->normalize) {
        const float d = D[p], dd = d > a->eps ? d : a->eps;
        j->den_out[row] = d;
        for (int64_t e = 0; e < E; e++) o[e] = n[e] / dd;
      } else {
        memcpy(o, n, sizeof(float) * (size_t)E);
      }
    }
  }
  free(buf);
  return NULL;
}

static void *backward_pairs(void *arg) {
  Job *j = arg;
  const RpelabLinearScan *a = j->a;
  const int64_t L = a->L, F = a->F, E = a->E, e1 = E + (a->normalize ? 1 : 0);
  float *buf = malloc(sizeof(float) * (size_t)(4 * L * F + 3 * L * e1 + e1 * F + F * E));
  if (!buf) {
    j->failed = 1;
    return NULL;
  }
  float *Q = buf, *K = Q + L * F, *DQ = K + L * F, *DK = DQ + L * F, *V = DK + L * F, *G = V + L * e1, *DV = G + L * e1, *S = DV + L * e1;
  for (int64_t pair = j->first; pair < j->last; pair++) {
    const int64_t b = pair / a->H, h = pair % a->H;
    const float r = a->decay ? a->decay[h] : 1.0f;
    gather_features(j, Q, K, b, h);
    gather(j->v, V, a, b, h, E, e1);
    for (int64_t p = 0; p < L; p++) {
      const int64_t row = (b * L + p) * a->H + h;
      const float *g = j->dout + row * E;
      float *gp = G + p * e1;
      if (a->normalize) {
        V[p * e1 + E] = 1.0f;
        const float d = j->den[row], dd = d > a->eps ? d : a->eps;
        const float *o = j->o + row * E;
        float go = 0;
        for (int64_t e = 0; e < E; e++) {
          gp[e] = g[e] / dd;
          go += g[e] * o[e];
        }
        gp[E] = d >= a->eps ? -go / dd : 0.0f;
      } else {
        memcpy(gp, g, sizeof(float) * (size_t)E);
      }
    }
    memset(DQ, 0, sizeof(float) * (size_t)(2 * L * F));
    memset(DV, 0, sizeof(float) * (size_t)(L * e1));
    const Scan dq = {e1, F, V, K, G, DQ, e1, F, e1, F};
    attend(a, &dq, r, 0, S);
    const Scan dk = {e1, F, G, Q, V, DK, e1, F, e1, F};
    attend(a, &dk, r, 1, S);
    const Scan dv = {F, E, Q, G, K, DV, F, e1, F, e1};
    attend(a, &dv, r, 1, S);
    if (a->phi) {
      times_elu_slope(DQ, j->q, a, b, h);
      times_elu_slope(DK, j->k, a, b, h);
    }
    scatter(DQ, j->dq, a, b, h, F, F);
    scatter(DK, j->dk, a, b, h, F, F);
    scatter(DV, j->dv, a, b, h, E, e1);
  }
  free(buf);
  return NULL;
}

static int run(const RpelabLinearScan *a, Job base, void *(*fn)(void *), int threads) {
  const int64_t pairs = a->B * a->H;
  if (pairs == 0 || a->L == 0) return 0;
  /* One thread below ~1M state updates. 32 pairs of L = 256, F = E = 16 (2.2M, the train suite's
     layers) alone ran no faster on two (forward 299 vs 371 µs, AMD EPYC), but inside the training
     step, forward + backward of its two layers took 2.9 ms on two threads against 4.3 ms on one. */
  const int n = rpelab_job_count(threads, (double)pairs * a->L * a->F * (a->E + 1), 1e6, pairs);
  Job jobs[64];
  for (int i = 0; i < n; i++) {
    jobs[i] = base;
    jobs[i].first = pairs * i / n;
    jobs[i].last = pairs * (i + 1) / n;
  }
  rpelab_run_jobs(fn, jobs, sizeof(Job), n);
  for (int i = 0; i < n; i++)
    if (jobs[i].failed) return -1;
  return 0;
}

int rpelab_linear_scan_forward(const RpelabLinearScan *a, const float *q, const float *k, const float *v, float *o, float *den, int threads) {
  Job base = {0};
  base.a = a; base.q = q; base.k = k; base.v = v; base.o_out = o; base.den_out = den;
  return run(a, base, forward_pairs, threads);
}

int rpelab_linear_scan_backward(const RpelabLinearScan *a, const float *q, const float *k, const float *v, const float *o, const float *den,
                                const float *dout, float *dq, float *dk, float *dv, int threads) {
  Job base = {0};
  base.a = a; base.q = q; base.k = k; base.v = v; base.o = o; base.den = den; base.dout = dout; base.dq = dq; base.dk = dk; base.dv = dv;
  return run(a, base, backward_pairs, threads);
}
