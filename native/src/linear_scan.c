/*
 * Linear attention as recurrences over positions, forward and backward (see linear_scan.h; the
 * chunked tf-op form of src/attention/linear.ts computes the same and the tests compare both with
 * the O(L²) reference). One job per (batch, head) pair; each copies its rows into contiguous
 * buffers and runs scans, or, bidirectional without decay, matrix products (below).
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
 *   dk_t  = Σ_s w (v'_t·g'_s) q_s    state U = Σ g' qᵀ [E+1, F], read with v'_t (the other direction)
 *   dv_t  = Σ_s w (q_s·k_t) dnum_s   the same U: dv_t[e] = U[e]·k_t, a product along each row
 * dk and dv share their state (`update_read_both`): one pass over U per position updates it and makes both
 * reads, where two scans would each load and store a state of the same size.
 * Causal is one inclusive scan; bidirectional with decay adds the exclusive scan of the other
 * direction. Bidirectional without decay has one state for every position, so the sums are matrix
 * products (rpelab_sgemm_serial, on each job's thread): N' = Q (Kᵀ V') for [num, den], and for the
 * gradients, with dKV = Qᵀ G', dQ = G' (Kᵀ V')ᵀ, dK = V' dKVᵀ, dV' = K dKV.
 */
#include <stdlib.h>
#include <string.h>
#include "blas.h"
#include "jobs.h"
#include "lrpe.h"
#include "vec.h"
#include "linear_scan.h"

typedef struct {
  const RpelabLinearScan *a;
  const float *q, *k, *v, *o, *den, *dout;
  float *o_out, *den_out, *dq, *dk, *dv;
  int64_t first, last;
  int failed;
} Job;

/*
 * One scan's operands: rows x_p [A] (stride ldx), y_p [Bd] (ldy), p_p [A] (ldp), out_p [Bd] (ldo);
 * and, when w is set, a second read of the same state along its rows: cols_p[a] += S[a]·w_p, with
 * w_p [Bd] (stride ldw) and cols_p [A] (ldc) (`update_read_both`).
 */
typedef struct {
  int64_t A, Bd;
  const float *x, *y, *p;
  float *out;
  int64_t ldx, ldy, ldp, ldo;
  const float *w;
  float *cols;
  int64_t ldw, ldc;
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

/* [sum(d[0]), ..., sum(d[7])]: the lanes of eight vectors added up, each into one lane. */
static inline v8 hadd8(v8 a, v8 b) {
  return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) + __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
}
static inline v8 lane_sums8(const v8 *d) {
  const v8 q0 = hadd8(hadd8(d[0], d[1]), hadd8(d[2], d[3])), q1 = hadd8(hadd8(d[4], d[5]), hadd8(d[6], d[7]));
  return __builtin_shufflevector(q0, q1, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(q0, q1, 4, 5, 6, 7, 12, 13, 14, 15);
}

/*
 * The two reads of one state S [A, Bd] at a position, in one pass over it: rows[0:Bd] += Σ_a p[a]
 * S[a][0:Bd] (as `read_rows`) and cols[a] += S[a]·w (a product along each row). With `update` each
 * row is first updated as in `update` (S ← r S + x yᵀ; x and y unread without it), so that S is
 * loaded and stored once for the update and both reads. Columns in blocks of up to 64: the block's
 * share of rows[] summed over all rows in up to eight vectors in registers; the row products of a
 * group of eight rows in eight vectors (two chains per row), added up across lanes once per group.
 * `tail`: the block also takes the last Bd mod 8 columns, one by one.
 */
static inline __attribute__((always_inline)) void both_block(float *restrict S, int64_t A, int64_t Bd, int64_t b0, const int nv, int tail, int update,
                                                             float r, const float *restrict x, const float *restrict y, const float *restrict p,
                                                             float *restrict rows, const float *restrict w, float *restrict cols) {
  v8 t[8] = {{0}};
  for (int64_t a0 = 0; a0 < A; a0 += 8) {
    const int g = A - a0 < 8 ? (int)(A - a0) : 8;
    v8 d[8] = {{0}};
    float extra[8] = {0};
    for (int j = 0; j < g; j++) {
      const int64_t a = a0 + j;
      float *restrict s = S + a * Bd + b0;
      const v8 pa = bcast8(p[a]), xa = bcast8(update ? x[a] : 0.0f);
      v8 d0 = {0}, d1 = {0};
      for (int i = 0; i < nv; i++) {
        v8 si = load8(s + 8 * i);
        if (update) {
          si = fma8(xa, load8(y + b0 + 8 * i), r == 1.0f ? si : r * si);
          store8(s + 8 * i, si);
        }
        t[i] = fma8(pa, si, t[i]);
        if (i % 2 == 0) d0 = fma8(si, load8(w + b0 + 8 * i), d0);
        else d1 = fma8(si, load8(w + b0 + 8 * i), d1);
      }
      d[j] = d0 + d1;
      if (tail) {
        float c = 0;
        for (int64_t b = b0 + 8 * nv; b < Bd; b++) {
          float *e = S + a * Bd + b;
          if (update) *e = (r == 1.0f ? *e : r * *e) + x[a] * y[b];
          rows[b] += p[a] * *e;
          c += *e * w[b];
        }
        extra[j] = c;
      }
    }
    const v8 sums = lane_sums8(d);
    for (int j = 0; j < g; j++) cols[a0 + j] += sums[j] + extra[j];
  }
  for (int i = 0; i < nv; i++) store8(rows + b0 + 8 * i, load8(rows + b0 + 8 * i) + t[i]);
}

static void update_read_both(float *restrict S, int64_t A, int64_t Bd, int update, float r, const float *restrict x, const float *restrict y,
                             const float *restrict p, float *restrict rows, const float *restrict w, float *restrict cols) {
  int64_t b0 = 0;
  /* Blocks of 64 columns; the last block (fewer vectors, or 64 with fewer than 8 columns after it) takes the columns left over. */
  for (; Bd - b0 >= 64; b0 += 64) {
    const int last = Bd - b0 - 64 < 8;
    both_block(S, A, Bd, b0, 8, last, update, r, x, y, p, rows, w, cols);
    if (last) return;
  }
  switch ((Bd - b0) / 8) {
    case 7: both_block(S, A, Bd, b0, 7, 1, update, r, x, y, p, rows, w, cols); break;
    case 6: both_block(S, A, Bd, b0, 6, 1, update, r, x, y, p, rows, w, cols); break;
    case 5: both_block(S, A, Bd, b0, 5, 1, update, r, x, y, p, rows, w, cols); break;
    case 4: both_block(S, A, Bd, b0, 4, 1, update, r, x, y, p, rows, w, cols); break;
    case 3: both_block(S, A, Bd, b0, 3, 1, update, r, x, y, p, rows, w, cols); break;
    case 2: both_block(S, A, Bd, b0, 2, 1, update, r, x, y, p, rows, w, cols); break;
    case 1: both_block(S, A, Bd, b0, 1, 1, update, r, x, y, p, rows, w, cols); break;
    default: both_block(S, A, Bd, b0, 0, 1, update, r, x, y, p, rows, w, cols); break;
  }
}

/* One scan over L positions (see the top of the file), with both reads when c->w is set. S: A·Bd floats. */
static void scan(const Scan *c, int64_t L, float r, int reverse, int inclusive, float *S) {
  const int64_t n = c->A * c->Bd;
  memset(S, 0, sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < L; i++) {
    const int64_t p = reverse ? L - 1 - i : i;
    const float *x = c->x + p * c->ldx, *y = c->y + p * c->ldy, *pp = c->p + p * c->ldp;
    float *out = c->out + p * c->ldo;
    if (!inclusive && r != 1.0f)
      for (int64_t j = 0; j < n; j++) S[j] *= r;
    if (c->w) {
      const float *w = c->w + p * c->ldw;
      float *cols = c->cols + p * c->ldc;
      /* update as a constant in each call, so that the block loops are compiled for it */
      if (inclusive) update_read_both(S, c->A, c->Bd, 1, r, x, y, pp, out, w, cols);
      else update_read_both(S, c->A, c->Bd, 0, 1.0f, x, y, pp, out, w, cols);
    } else if (inclusive) {
      update_read(S, c->A, c->Bd, r, x, y, pp, out);
    } else {
      read_rows(S, c->A, c->Bd, pp, out);
    }
    if (!inclusive) update(S, c->A, c->Bd, 1.0f, x, y);
  }
}

/* The reads of `c` with w = r^|s−t| over t ≤ s (causal; `reverse`: t ≥ s) or every t (bidirectional, r < 1). */
static void attend(const RpelabLinearScan *a, const Scan *c, float r, int reverse, float *S) {
  scan(c, a->L, r, reverse, 1, S);
  if (!a->causal) scan(c, a->L, r, !reverse, 0, S);
}

/* Floats between the rows of consecutive positions in q, k, v (and their gradients) of width w: H·w,
   or 3·H·w when they are the parts of one [B, L, 3, H, w] array (packed). */
static int64_t position_stride(const RpelabLinearScan *a, int64_t w) { return (a->packed ? 3 : 1) * a->H * w; }

/* Rows of one (b, h) pair: src [B, L, H, w] (or a part of a packed array) -> dst [L, ld] (columns w.. of dst untouched). */
static void gather(const float *src, float *dst, const RpelabLinearScan *a, int64_t b, int64_t h, int64_t w, int64_t ld) {
  const int64_t ps = position_stride(a, w);
  for (int64_t p = 0; p < a->L; p++) memcpy(dst + p * ld, src + (b * a->L + p) * ps + h * w, sizeof(float) * (size_t)w);
}

/*
 * d ⊙= φ'(x) on d [n], from the features f = φ(x) themselves: φ'(x) = 1 for x > 0, else exp(x) =
 * φ(x); and φ(x) > 1 exactly when x > 0 but for x+1 rounding to 1, where both slopes are 1.
 */
static void times_elu_slope(float *restrict d, const float *restrict f, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] *= f[i] > 1.0f ? 1.0f : f[i];
}

static void scatter(const float *src, float *dst, const RpelabLinearScan *a, int64_t b, int64_t h, int64_t w, int64_t ld) {
  const int64_t ps = position_stride(a, w);
  for (int64_t p = 0; p < a->L; p++) memcpy(dst + (b * a->L + p) * ps + h * w, src + p * ld, sizeof(float) * (size_t)w);
}

/* Floats for a dense P (`map_P`): its product's output [L, F] and the product's workspace. */
static size_t dense_map_floats(const RpelabLinearScan *a) {
  if (!a->map || !a->map_P) return 0;
  const size_t w1 = rpelab_sgemm_serial_workspace(a->L, a->F, a->F);
  return (size_t)(a->L * a->F) + w1;
}

/* Features per row the scans see: F, or LRPE's map output (2F for 'unitary'). */
static int64_t scan_features(const RpelabLinearScan *a) { return a->map == 2 ? 2 * a->F : a->F; }

/*
 * The (b, h) rows of q and k into Q, K [L, Fs] (Fs = scan_features), mapped by φ when the kernel
 * applies it, then by LRPE's map when it has one; the rows before that map (after φ) go to PQ, PK
 * [L, F] (needed by the backward pass; unused without a map).
 */
static void gather_features(const Job *j, float *Q, float *K, float *PQ, float *PK, float *Z, float *work, int64_t b, int64_t h) {
  const RpelabLinearScan *a = j->a;
  const int64_t L = a->L, F = a->F;
  float *in[2] = {a->map ? PQ : Q, a->map ? PK : K}, *out[2] = {Q, K};
  const float *src[2] = {j->q, j->k};
  for (int i = 0; i < 2; i++) {
    gather(src[i], in[i], a, b, h, F, F);
    if (a->phi) elu_plus_one(in[i], in[i], L * F);
    if (!a->map) continue;
    const float *x = in[i];
    if (a->map_P) {
      rpelab_sgemm_serial(L, F, F, x, 0, F, a->map_P, 0, Z, work); /* Z = X · map_P */
      x = Z;
    }
    rpelab_lrpe_rows(L, x, a->map_u, a->map_C, a->map_S, F, a->map_W, a->map == 2, out[i]);
  }
}

/*
 * The features' gradients D [L, Fs] (from the scans) -> the gradients for the raw rows, in place
 * as D [L, F]: through LRPE's map (its transpose) when there is one, then through φ (from the rows
 * P = φ(x), [L, F]: P itself is Q or K without a map).
 */
static void features_back(const RpelabLinearScan *a, float *D, const float *P, float *Z, float *work) {
  const int64_t L = a->L, F = a->F;
  if (a->map) rpelab_lrpe_rows_back(L, D, a->map_u, a->map_C, a->map_S, F, a->map_W, a->map == 2, D);
  if (a->map && a->map_P) {
    rpelab_sgemm_serial(L, F, F, D, 0, F, a->map_P, 1, Z, work); /* dX = dZ · map_Pᵀ */
    memcpy(D, Z, sizeof(float) * (size_t)(L * F));
  }
  if (a->phi) times_elu_slope(D, P, L * F);
}

/* Rows of v for one (b, h) pair into V' [L, e1], with a last column of ones when e1 = E + 1. */
static void gather_values(const float *v, float *V1, const RpelabLinearScan *a, int64_t b, int64_t h, int64_t e1) {
  gather(v, V1, a, b, h, a->E, e1);
  if (e1 > a->E)
    for (int64_t p = 0; p < a->L; p++) V1[p * e1 + a->E] = 1.0f;
}

/* o (and den) of one (b, h) pair from the sums N [L, ldn] and, when normalizing, D [L] (stride ldd). */
static void write_output(const Job *j, int64_t b, int64_t h, const float *N, int64_t ldn, const float *D, int64_t ldd) {
  const RpelabLinearScan *a = j->a;
  const int64_t E = a->E;
  for (int64_t p = 0; p < a->L; p++) {
    const int64_t row = (b * a->L + p) * a->H + h;
    float *o = j->o_out + row * E;
    const float *n = N + p * ldn;
    if (D) {
      const float d = D[p * ldd], dd = d > a->eps ? d : a->eps;
      j->den_out[row] = d;
      for (int64_t e = 0; e < E; e++) o[e] = n[e] / dd;
    } else {
      memcpy(o, n, sizeof(float) * (size_t)E);
    }
  }
}

/* Workspace (floats) of the bidirectional products without decay, forward and backward. */
static size_t products_workspace(int64_t L, int64_t F, int64_t e1) {
  const size_t sizes[] = {rpelab_sgemm_serial_workspace(F, e1, L), rpelab_sgemm_serial_workspace(L, e1, F), rpelab_sgemm_serial_workspace(L, F, e1)};
  size_t m = 0;
  for (int i = 0; i < 3; i++) m = sizes[i] > m ? sizes[i] : m;
  return m;
}

static void *forward_pairs(void *arg) {
  Job *j = arg;
  const RpelabLinearScan *a = j->a;
  const int64_t L = a->L, F = scan_features(a), E = a->E, e1 = E + (a->normalize ? 1 : 0);
  /* Bidirectional pairs without decay: V' [L, e1], N' [L, e1], KV [F, e1] and the product's workspace. */
  const size_t ws = products_workspace(L, F, e1);
  const size_t extra = (a->causal ? 0 : (size_t)(2 * L * e1 + F * e1) + ws) + (a->map ? (size_t)(2 * L * a->F) : 0) + dense_map_floats(a);
  float *buf = malloc(sizeof(float) * ((size_t)(2 * L * F + 2 * L * E + 2 * L + F * E + F) + extra));
  if (!buf) {
    j->failed = 1;
    return NULL;
  }
  float *Q = buf, *K = Q + L * F, *V = K + L * F, *N = V + L * E, *ONE = N + L * E, *D = ONE + L, *S = D + L;
  float *V1 = S + F * E + F, *N1 = V1 + L * e1, *KV = N1 + L * e1, *work = KV + F * e1;
  float *PQ = a->causal ? V1 : work + ws, *PK = PQ + L * a->F; /* the rows before LRPE's map */
  float *Z = PK + L * a->F, *mwork = Z + L * a->F;               /* the dense P's product and workspace */
  for (int64_t p = 0; p < L; p++) ONE[p] = 1.0f;
  for (int64_t pair = j->first; pair < j->last; pair++) {
    const int64_t b = pair / a->H, h = pair % a->H;
    const float r = a->decay ? a->decay[h] : 1.0f;
    gather_features(j, Q, K, PQ, PK, Z, mwork, b, h);
    if (!a->causal && r == 1.0f) {
      /* Two products: KV = Kᵀ V' [F, e1], N' = Q KV [L, e1] (V' = [V, 1]: the denominator is the last column). */
      gather_values(j->v, V1, a, b, h, e1);
      rpelab_sgemm_serial(F, e1, L, K, 1, F, V1, 0, KV, work);
      rpelab_sgemm_serial(L, e1, F, Q, 0, F, KV, 0, N1, work);
      write_output(j, b, h, N1, e1, a->normalize ? N1 + E : NULL, e1);
      continue;
    }
    gather(j->v, V, a, b, h, E, E);
    memset(N, 0, sizeof(float) * (size_t)(L * E));
    const Scan num = {F, E, K, V, Q, N, F, E, F, E};
    attend(a, &num, r, 0, S);
    if (a->normalize) {
      memset(D, 0, sizeof(float) * (size_t)L);
      const Scan den = {F, 1, K, ONE, Q, D, F, 1, F, 1};
      attend(a, &den, r, 0, S);
    }
    write_output(j, b, h, N, E, a->normalize ? D : NULL, 1);
  }
  free(buf);
  return NULL;
}

/*
 * The gradients of one (b, h) pair as scans (causal, or with decay): dq forward; dk and dv in the
 * other direction. Q, K [L, F], V' and G' [L, e1] as gathered; DQ, DK [L, F] and DV [L, e1] zeroed.
 */
static void scan_gradients(const RpelabLinearScan *a, const float *Q, const float *K, const float *V, const float *G, float *DQ, float *DK, float *DV,
                           float r, float *S) {
  const int64_t F = scan_features(a), E = a->E, e1 = E + (a->normalize ? 1 : 0);
  const Scan dq = {e1, F, V, K, G, DQ, e1, F, e1, F};
  attend(a, &dq, r, 0, S);
  Scan dk = {e1, F, G, Q, V, DK, e1, F, e1, F, NULL, NULL, 0, 0};
  if (F >= 64) {
    /* One state for both: U = Σ g' qᵀ [e1, F], read with v' into dk and along its rows with k into
       dv (with the denominator, its last row's products land in DV's spare column e1 − 1, which
       is not copied out). Below 64 features the two states fit in the first-level cache and two
       plain scans are faster (no sums across lanes): per position, 2 threads' L1, AMD EPYC,
       two scans vs one: F 16, E 16: 36 vs 69 ns; F 32, E 32: 169 vs 225; F 64, E 64: 514-623 vs
       363-372; F 128, E 64: 1435-1919 vs 924-1040. */
    dk.w = K; dk.ldw = F;
    dk.cols = DV; dk.ldc = e1;
    attend(a, &dk, r, 1, S);
  } else {
    attend(a, &dk, r, 1, S);
    const Scan dv = {F, E, Q, G, K, DV, F, e1, F, e1};
    attend(a, &dv, r, 1, S);
  }
}

static void *backward_pairs(void *arg) {
  Job *j = arg;
  const RpelabLinearScan *a = j->a;
  const int64_t L = a->L, F = scan_features(a), E = a->E, e1 = E + (a->normalize ? 1 : 0);
  /* S: a scan's state, or KV and dKV [F, e1] and the products' workspace (bidirectional, no decay);
     PQ, PK [L, a->F]: the rows before LRPE's map, with one. */
  const size_t ns = (size_t)(e1 * F + F * E), np = a->causal ? 0 : (size_t)(2 * F * e1) + products_workspace(L, F, e1);
  const size_t nm = (a->map ? (size_t)(2 * L * a->F) : 0) + dense_map_floats(a);
  float *buf = malloc(sizeof(float) * ((size_t)(4 * L * F + 3 * L * e1) + nm + (ns > np ? ns : np)));
  if (!buf) {
    j->failed = 1;
    return NULL;
  }
  float *Q = buf, *K = Q + L * F, *DQ = K + L * F, *DK = DQ + L * F, *V = DK + L * F, *G = V + L * e1, *DV = G + L * e1;
  float *PQ = DV + L * e1, *PK = PQ + L * a->F, *Z = PK + L * a->F, *mwork = Z + L * a->F, *S = PQ + nm;
  float *KV = S, *DKV = KV + F * e1, *work = DKV + F * e1;
  for (int64_t pair = j->first; pair < j->last; pair++) {
    const int64_t b = pair / a->H, h = pair % a->H;
    const float r = a->decay ? a->decay[h] : 1.0f;
    gather_features(j, Q, K, PQ, PK, Z, mwork, b, h);
    gather_values(j->v, V, a, b, h, e1);
    for (int64_t p = 0; p < L; p++) {
      const int64_t row = (b * L + p) * a->H + h;
      const float *g = j->dout + row * E;
      float *gp = G + p * e1;
      if (a->normalize) {
        const float d = j->den[row], dd = d > a->eps ? d : a->eps;
        const float *o = j->o + row * E;
        /* dout·o in eight partial sums (one chain of E dependent adds took ~9 % of the pass). */
        v8 acc = {0};
        int64_t e = 0;
        for (; e + 8 <= E; e += 8) {
          const v8 ge = load8(g + e);
          store8(gp + e, ge / bcast8(dd));
          acc += ge * load8(o + e);
        }
        float go = (float)sum8(acc);
        for (; e < E; e++) {
          gp[e] = g[e] / dd;
          go += g[e] * o[e];
        }
        gp[E] = d >= a->eps ? -go / dd : 0.0f;
      } else {
        memcpy(gp, g, sizeof(float) * (size_t)E);
      }
    }
    if (!a->causal && r == 1.0f) {
      /* The products' gradients: with KV = Kᵀ V' (recomputed) and dKV = Qᵀ G' [F, e1],
         dQ = G' KVᵀ, dK = V' dKVᵀ, dV' = K dKV. */
      rpelab_sgemm_serial(F, e1, L, K, 1, F, V, 0, KV, work);
      rpelab_sgemm_serial(L, F, e1, G, 0, e1, KV, 1, DQ, work);
      rpelab_sgemm_serial(F, e1, L, Q, 1, F, G, 0, DKV, work);
      rpelab_sgemm_serial(L, F, e1, V, 0, e1, DKV, 1, DK, work);
      rpelab_sgemm_serial(L, e1, F, K, 0, F, DKV, 0, DV, work);
    } else {
      memset(DQ, 0, sizeof(float) * (size_t)(2 * L * F));
      memset(DV, 0, sizeof(float) * (size_t)(L * e1));
      scan_gradients(a, Q, K, V, G, DQ, DK, DV, r, S);
    }
    features_back(a, DQ, a->map ? PQ : Q, Z, mwork);
    features_back(a, DK, a->map ? PK : K, Z, mwork);
    scatter(DQ, j->dq, a, b, h, a->F, a->F);
    scatter(DK, j->dk, a, b, h, a->F, a->F);
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
  const int n = rpelab_job_count(threads, (double)pairs * a->L * scan_features(a) * (a->E + 1), 1e6, pairs);
  Job jobs[64];
  for (int i = 0; i < n; i++) {
    jobs[i] = base;
    jobs[i].first = pairs * i / n;
    jobs[i].last = pairs * (i + 1) / n;
  }
  rpelab_blas_serial_begin(); /* the bidirectional pairs' products run inside the jobs */
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
