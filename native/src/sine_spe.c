/*
 * sineSPE's fused feature projection in C (see sine_spe.h; the same numbers as the per-head
 * JavaScript kernels of src/encodings/spe/sine-kernels.ts followed by a matmul, tested against
 * them up to float rounding). The work is split into tasks (head, side, batch element,
 * TASK_ROWS positions) taken by the threads in any order; each task starts from exact sinusoids
 * and writes its own rows and its own parameter-gradient sums, which are added in task order, so
 * the results do not depend on the number of threads.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "blas.h"
#include "jobs.h"
#include "sine_spe.h"
#include "vec.h"

/* Positions per task (a multiple of BLOCK). */
#define TASK_ROWS 512

/* ---- fused projection ------------------------------------------------------------------------ */

/*
 * Per task (head, side, batch element, TASK_ROWS positions) and per block of BLOCK positions, the
 * features are generated transposed, Fᵀ [J, BLOCK], in panels of NR consecutive positions, so
 * that the values of one feature at NR positions are contiguous and come from vector arithmetic:
 *   trig(ω(m0 + i) + θ) = [cos φ0 · cos iω − sin φ0 · sin iω,  sin φ0 · cos iω + cos φ0 · sin iω]
 * with φ0 the phase at the panel's first position (float64, advanced NR positions at a time from
 * an exact value at the task's start) and the step tables cos iω, sin iω (i < NR) per frequency.
 * The block never exists for the whole sequence; each one goes to the BLAS (rpelab_sgemm_serial:
 * OpenBLAS, single-threaded inside these threads). Forward: x̂ [BLOCK, R] = F [BLOCK, J] · Z[h]
 * [J, R]. Gradient: ∂Fᵀ [J, BLOCK] = Z[h] [J, R] · ∂x̂ᵀ [R, BLOCK], consumed feature by feature with
 * the same sinusoids regenerated.
 *
 * With a batch (shared = 1), every sequence meets the same code at a position, so each task covers
 * every batch element and builds the code once per position instead of projecting every sequence's
 * features: with x = 1 the same generator gives the rows a·trig (and the gate's s), and per feature
 * d the code block C_d [BLOCK, R] = (those 2K rows)ᵀ · (Z[h]'s 2K rows of d) (+ s_d · the gate's row
 * of Z[h]), one library product each; then x̂[b, m, :] = Σ_d x[b, m, d] · C_d[m, :] for every b
 * (a [B, D] × [D, R] product per position, written out: too small for a library call). That is
 * 2KD·R + B·D·R multiply-adds per position, head and side instead of B·(2KD + D)·R. The gradient
 * regenerates C, forms ∂x = ∂x̂ · Cᵀ and ∂C_d = Σ_b x[b, ·, d] ∂x̂[b], and hands ∂C_d · Z[h]ᵀ to the
 * same per-feature sums as above with x = 1.
 */
/* 128 rather than 64: the forward product [BLOCK, J] x [J, R] ran ~6 % faster and the gradient's ~4 %
   (L = 4096, 8 heads of 64, K = 10, R = 64, batch 1; AMD EPYC), Fᵀ [J, BLOCK] still within L2. */
#define BLOCK 128
#define NR 16
#define PANELS (BLOCK / NR)

/* Task i: head h, side (0: queries with θ, 1: keys), batch element b (−1: all, the shared code), positions [m0, m1). */
typedef struct { int64_t h, side, b, m0, m1; } Task;

typedef struct {
  const RpelabSine *a;
  const float *xs[2];      /* xq, xk [B, L, H, D] */
  const float *z;          /* the noise Z [H, J, R] */
  int64_t R, J;
  const float *tc, *ts;    /* step tables [H·D·K, NR]: cos iω, sin iω */
  const double *c16, *s16; /* [H·D·K]: cos NRω, sin NRω */
  const Task *tasks;
  int64_t ntasks;
  atomic_llong *next;
  float *out;              /* forward: [2, B, L, H, R] */
  const float *dy;         /* gradient: [2, B, L, H, R] */
  float *dxs[2];           /* gradient: dxq, dxk [B, L, H, D] */
  double *acc;             /* gradient: per task, ∂ω, ∂θ, ∂a [D·K] and ∂s [D] */
  int shared;              /* 1: tasks cover the whole batch through the shared code */
  int failed;
} FusedJob;

/* How many tasks: per head, side, batch element (one for the shared code) and TASK_ROWS positions. */
static int64_t task_count(const RpelabSine *a, int shared) {
  return a->H * 2 * (shared ? 1 : a->B) * ((a->L + TASK_ROWS - 1) / TASK_ROWS);
}

static int64_t make_tasks(const RpelabSine *a, int shared, Task **out) {
  const int64_t ranges = (a->L + TASK_ROWS - 1) / TASK_ROWS, n = task_count(a, shared);
  Task *t = malloc(sizeof(Task) * (size_t)(n > 0 ? n : 1));
  if (!t) return -1;
  int64_t i = 0;
  for (int64_t h = 0; h < a->H; h++)
    for (int64_t side = 0; side < 2; side++)
      for (int64_t b = 0; b < (shared ? 1 : a->B); b++)
        for (int64_t r = 0; r < ranges; r++) {
          const int64_t m0 = r * TASK_ROWS, m1 = m0 + TASK_ROWS < a->L ? m0 + TASK_ROWS : a->L;
          t[i++] = (Task){h, side, shared ? -1 : b, m0, m1};
        }
  *out = t;
  return n;
}

/* What a thread needs for its tasks; every buffer BLOCK positions wide. */
typedef struct {
  double *c, *s;       /* [DK] the sinusoids at the next panel's first position */
  float *c0, *s0;      /* [PANELS, DK] at each panel's first position in this block */
  float *xT, *dxT;     /* [D, BLOCK] */
  float *big;          /* forward: Fᵀ [J, BLOCK]; gradient: ∂Fᵀ [J, BLOCK] */
  float *small;        /* forward: x̂ [BLOCK, R]; gradient: ∂x̂ [BLOCK, R] (zero past the block's rows) */
  float *rel;          /* [BLOCK] 0, 1, ..., BLOCK − 1 */
  float *code, *dcode; /* shared code: C and ∂C [D, BLOCK, R] */
  float *work;         /* the builtin product's packing space (unused with OpenBLAS) */
} Scratch;

static void scratch_free(Scratch *w) {
  free(w->c); free(w->c0); free(w->xT); free(w->big); free(w->small); free(w->rel); free(w->code); free(w->work);
}

static int scratch_init(Scratch *w, int64_t DK, int64_t D, int64_t J, int64_t R, int shared) {
  memset(w, 0, sizeof(*w));
  const size_t wf = rpelab_sgemm_serial_workspace(BLOCK, R, J), wg = rpelab_sgemm_serial_workspace(J, BLOCK, R);
  w->c = malloc(sizeof(double) * 2 * DK);
  w->c0 = malloc(sizeof(float) * 2 * PANELS * DK);
  w->xT = malloc(sizeof(float) * 2 * D * BLOCK);
  w->big = malloc(sizeof(float) * (size_t)(J * BLOCK));
  w->small = malloc(sizeof(float) * (size_t)(R * BLOCK));
  w->rel = malloc(sizeof(float) * BLOCK);
  w->code = shared ? malloc(sizeof(float) * (size_t)(2 * D * BLOCK * R)) : NULL;
  w->work = malloc(sizeof(float) * ((wf > wg ? wf : wg) + 16));
  if (!w->c || !w->c0 || !w->xT || !w->big || !w->small || !w->rel || !w->work || (shared && !w->code)) { scratch_free(w); return 0; }
  w->s = w->c + DK; w->s0 = w->c0 + PANELS * DK; w->dxT = w->xT + D * BLOCK;
  if (shared) w->dcode = w->code + D * BLOCK * R;
  for (int i = 0; i < BLOCK; i++) w->rel[i] = (float)i;
  /* The shared code is the features at x = 1. */
  if (shared) for (int64_t i = 0; i < D * BLOCK; i++) w->xT[i] = 1.f;
  return 1;
}

/* The sinusoids at absolute position p, exactly: into w->c, w->s. */
static void task_start(const FusedJob *job, const Task *tk, int64_t p, Scratch *w) {
  const RpelabSine *a = job->a;
  const int64_t DK = a->D * a->K;
  const float *om = a->omega + tk->h * DK, *th = tk->side == 0 && a->theta ? a->theta + tk->h * DK : NULL;
  for (int64_t j = 0; j < DK; j++) {
    const double ph = (double)om[j] * (double)p + (th ? th[j] : 0.0);
    w->c[j] = cos(ph);
    w->s[j] = sin(ph);
  }
}

/* A block at positions [m0, m0 + nb): xT (zero past nb), and the panels' first sinusoids (c0, s0),
   advancing w->c, w->s by BLOCK positions. */
static void block_start(const FusedJob *job, const Task *tk, int64_t m0, int64_t nb, Scratch *w) {
  const RpelabSine *a = job->a;
  const int64_t D = a->D, DK = D * a->K, H = a->H;
  const float *x = job->xs[tk->side];
  if (tk->b >= 0) for (int64_t i = 0; i < BLOCK; i++) {
    const float *xr = i < nb ? x + ((tk->b * a->L + m0 + i) * H + tk->h) * D : NULL;
    for (int64_t d = 0; d < D; d++) w->xT[d * BLOCK + i] = xr ? xr[d] : 0.f;
  }
  const double *c16 = job->c16 + tk->h * DK, *s16 = job->s16 + tk->h * DK;
  for (int q = 0; q < PANELS; q++) {
    for (int64_t j = 0; j < DK; j++) {
      w->c0[q * DK + j] = (float)w->c[j];
      w->s0[q * DK + j] = (float)w->s[j];
      const double c = w->c[j];
      w->c[j] = c * c16[j] - w->s[j] * s16[j];
      w->s[j] = w->s[j] * c16[j] + c * s16[j];
    }
  }
}

/* Where feature p, panel q starts in Fᵀ [J, BLOCK]. */
static inline float *feature_at(float *f, int64_t p, int q) { return f + p * BLOCK + q * NR; }

/* Head h's parameters, tables and noise Z[h] [J, R]. */
typedef struct { const float *amp, *gate, *tc, *ts, *z; } Head;

static Head head_of(const FusedJob *job, int64_t h) {
  const RpelabSine *a = job->a;
  const int64_t DK = a->D * a->K;
  return (Head){a->amp + h * DK, a->gate ? a->gate + h * a->D : NULL, job->tc + h * DK * NR, job->ts + h * DK * NR, job->z + h * job->J * job->R};
}

/* Runs `block` on every block of the tasks this thread takes (positions [m0, m0 + nb)). */
static void *task_loop(FusedJob *job, void (*block)(FusedJob *, const Task *, int64_t, int64_t, int64_t, Scratch *)) {
  const RpelabSine *a = job->a;
  Scratch w;
  if (!scratch_init(&w, a->D * a->K, a->D, job->J, job->R, job->shared)) { job->failed = 1; return NULL; }
  for (int64_t ti; (ti = atomic_fetch_add(job->next, 1)) < job->ntasks;) {
    const Task *tk = &job->tasks[ti];
    task_start(job, tk, a->offset + tk->m0, &w);
    for (int64_t m0 = tk->m0; m0 < tk->m1; m0 += BLOCK) {
      const int64_t nb = tk->m1 - m0 < BLOCK ? tk->m1 - m0 : BLOCK;
      block_start(job, tk, m0, nb, &w);
      block(job, tk, ti, m0, nb, &w);
    }
  }
  scratch_free(&w);
  return NULL;
}

/* Fᵀ [J, BLOCK] of the block in w->big, from w->xT (ones for the shared code) and the panels' sinusoids. */
static void features_block(const FusedJob *job, const Head *hd, Scratch *w) {
  const RpelabSine *a = job->a;
  const int64_t D = a->D, K = a->K, DK = D * K;
  for (int64_t j = 0; j < DK; j++) {
    const float am = hd->amp[j];
    const float *tcj = hd->tc + j * NR, *tsj = hd->ts + j * NR, *xd = w->xT + (j / K) * BLOCK;
    for (int q = 0; q < PANELS; q++) {
      const float c0 = w->c0[q * DK + j], s0 = w->s0[q * DK + j];
      float *o0 = feature_at(w->big, 2 * j, q), *o1 = feature_at(w->big, 2 * j + 1, q);
      const float *xq = xd + q * NR;
      for (int i = 0; i < NR; i++) {
        const float ax = am * xq[i];
        o0[i] = ax * (c0 * tcj[i] - s0 * tsj[i]);
        o1[i] = ax * (s0 * tcj[i] + c0 * tsj[i]);
      }
    }
  }
  if (hd->gate) for (int64_t d = 0; d < D; d++)
    for (int q = 0; q < PANELS; q++) {
      float *o = feature_at(w->big, 2 * DK + d, q);
      const float *xq = w->xT + d * BLOCK + q * NR;
      for (int i = 0; i < NR; i++) o[i] = hd->gate[d] * xq[i];
    }
}

/*
 * The parameter sums of one block from ∂Fᵀ [J, BLOCK] in w->big (zero past the block's rows), with
 * x in w->xT (ones for the shared code); adds am · Σ_c ∂F_c · trig_c to ∂xᵀ in w->dxT when with_dx.
 */
static void param_sums(const FusedJob *job, const Head *hd, int64_t ti, int64_t m0, Scratch *w, int with_dx) {
  const RpelabSine *a = job->a;
  const int64_t D = a->D, K = a->K, DK = D * K, nacc = 3 * DK + D;
  double *accOm = job->acc + ti * nacc, *accTh = accOm + DK, *accAmp = accOm + 2 * DK, *accGate = accOm + 3 * DK;
  const double pblock = (double)(a->offset + m0);
  for (int64_t j = 0; j < DK; j++) {
    const float am = hd->amp[j];
    const float *tcj = hd->tc + j * NR, *tsj = hd->ts + j * NR, *xd = w->xT + (j / K) * BLOCK;
    float *dxd = w->dxT + (j / K) * BLOCK;
    float va[NR] = {0}, vp[NR] = {0}, vq[NR] = {0};
    for (int q = 0; q < PANELS; q++) {
      const float c0 = w->c0[q * DK + j], s0 = w->s0[q * DK + j];
      const float *g0 = w->big + 2 * j * BLOCK + q * NR, *g1 = g0 + BLOCK, *xq = xd + q * NR, *rel = w->rel + q * NR;
      float *dxq = dxd + q * NR;
      for (int i = 0; i < NR; i++) {
        const float cv = c0 * tcj[i] - s0 * tsj[i], sv = s0 * tcj[i] + c0 * tsj[i];
        const float u = g0[i] * cv + g1[i] * sv;  /* Σ_c ∂F_c · trig_c */
        const float v = g1[i] * cv - g0[i] * sv;  /* Σ_c ∂F_c · trig_c′ */
        const float ph = am * xq[i] * v;
        if (with_dx) dxq[i] += am * u;
        va[i] += xq[i] * u;
        vp[i] += ph;
        vq[i] += rel[i] * ph;
      }
    }
    double sa = 0, sp = 0, sq = 0;
    for (int i = 0; i < NR; i++) { sa += va[i]; sp += vp[i]; sq += vq[i]; }
    accAmp[j] += sa;
    accTh[j] += sp;
    accOm[j] += pblock * sp + sq;
  }
  if (hd->gate) for (int64_t d = 0; d < D; d++) {
    const float *gd = w->big + (2 * DK + d) * BLOCK, *xd = w->xT + d * BLOCK;
    float *dxd = w->dxT + d * BLOCK;
    double sg = 0;
    for (int i = 0; i < BLOCK; i++) {
      if (with_dx) dxd[i] += hd->gate[d] * gd[i];
      sg += gd[i] * xd[i];
    }
    accGate[d] += sg;
  }
}

/* Forward of one block: x̂ rows [m0, m0 + nb) of the task's head and side. */
static void project_block(FusedJob *job, const Task *tk, int64_t ti, int64_t m0, int64_t nb, Scratch *w) {
  (void)ti;
  const RpelabSine *a = job->a;
  const int64_t J = job->J, R = job->R, H = a->H, h = tk->h;
  const Head hd = head_of(job, h);
  features_block(job, &hd, w);
  /* x̂ [BLOCK, R] = F · Z[h] */
  rpelab_sgemm_serial(BLOCK, R, J, w->big, 1, BLOCK, hd.z, 0, w->small, w->work);
  for (int64_t i = 0; i < nb; i++)
    memcpy(job->out + (((tk->side * a->B + tk->b) * a->L + m0 + i) * H + h) * R, w->small + i * R, sizeof(float) * (size_t)R);
}

/* Gradient of one block: ∂x rows [m0, m0 + nb) and the task's parameter sums. */
static void project_grad_block(FusedJob *job, const Task *tk, int64_t ti, int64_t m0, int64_t nb, Scratch *w) {
  const RpelabSine *a = job->a;
  const int64_t D = a->D, J = job->J, R = job->R, H = a->H, h = tk->h;
  const Head hd = head_of(job, h);
  /* ∂Fᵀ [J, BLOCK] = Z[h] · ∂x̂ᵀ, ∂x̂ [BLOCK, R] gathered from ∂y (zero past nb, so that ∂Fᵀ is zero there) */
  const float *g = job->dy + (((tk->side * a->B + tk->b) * a->L + m0) * H + h) * R;
  for (int64_t i = 0; i < nb; i++) memcpy(w->small + i * R, g + i * H * R, sizeof(float) * (size_t)R);
  if (nb < BLOCK) memset(w->small + nb * R, 0, sizeof(float) * (size_t)((BLOCK - nb) * R));
  rpelab_sgemm_serial(J, BLOCK, R, hd.z, 0, R, w->small, 1, w->big, w->work);
  memset(w->dxT, 0, sizeof(float) * D * BLOCK);
  param_sums(job, &hd, ti, m0, w, 1);
  float *dx = job->dxs[tk->side];
  for (int64_t i = 0; i < nb; i++) {
    float *o = dx + ((tk->b * a->L + m0 + i) * H + h) * D;
    for (int64_t d = 0; d < D; d++) o[d] = w->dxT[d * BLOCK + i];
  }
}

/* The shared code of the block, C [D, BLOCK, R] in w->code: per feature d, its 2K rows of Fᵀ (x = 1)
   against its 2K rows of Z[h], plus s_d times the gate's row of Z[h]. */
static void code_block(const FusedJob *job, const Head *hd, Scratch *w) {
  const RpelabSine *a = job->a;
  const int64_t D = a->D, K2 = 2 * a->K, R = job->R;
  features_block(job, hd, w);
  for (int64_t d = 0; d < D; d++) {
    float *c = w->code + d * BLOCK * R;
    rpelab_sgemm_serial(BLOCK, R, K2, w->big + d * K2 * BLOCK, 1, BLOCK, hd->z + d * K2 * R, 0, c, w->work);
    if (hd->gate) {
      const float s = hd->gate[d], *zg = hd->z + (D * K2 + d) * R;
      for (int64_t i = 0; i < BLOCK; i++)
        for (int64_t r = 0; r < R; r++) c[i * R + r] += s * zg[r];
    }
  }
}

/*
 * o[r] = Σ_i x[i·ldx] · rows[i·ldr + r] for r < R, i < n: a combination of n rows, summed in order
 * of i for every r, with four (then one) vectors of eight accumulators held in registers.
 */
static void combine_rows(float *o, const float *x, int64_t ldx, const float *rows, int64_t ldr, int64_t n, int64_t R) {
  int64_t r = 0;
  for (; r + 32 <= R; r += 32) {
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    for (int64_t i = 0; i < n; i++) {
      const float *c = rows + i * ldr + r;
      const v8 xv = (v8){0} + x[i * ldx];
      a0 += xv * load8(c); a1 += xv * load8(c + 8); a2 += xv * load8(c + 16); a3 += xv * load8(c + 24);
    }
    store8(o + r, a0); store8(o + r + 8, a1); store8(o + r + 16, a2); store8(o + r + 24, a3);
  }
  for (; r + 8 <= R; r += 8) {
    v8 a = {0};
    for (int64_t i = 0; i < n; i++) a += ((v8){0} + x[i * ldx]) * load8(rows + i * ldr + r);
    store8(o + r, a);
  }
  for (; r < R; r++) {
    float a = 0.f;
    for (int64_t i = 0; i < n; i++) a += x[i * ldx] * rows[i * ldr + r];
    o[r] = a;
  }
}

/* Σ_r a[r] · b[r], r < R, in eight lanes (then the tail), added in a fixed order. */
static float dot(const float *a, const float *b, int64_t R) {
  v8 s = {0};
  int64_t r = 0;
  for (; r + 8 <= R; r += 8) s += load8(a + r) * load8(b + r);
  float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; r < R; r++) t += a[r] * b[r];
  return t;
}

/* Forward of one block through the shared code: x̂[b, m, :] = Σ_d x[b, m, d] · C[d, m, :] for every b. */
static void code_project_block(FusedJob *job, const Task *tk, int64_t ti, int64_t m0, int64_t nb, Scratch *w) {
  (void)ti;
  const RpelabSine *a = job->a;
  const int64_t D = a->D, R = job->R, H = a->H, h = tk->h;
  const Head hd = head_of(job, h);
  code_block(job, &hd, w);
  const float *x = job->xs[tk->side];
  for (int64_t i = 0; i < nb; i++)
    for (int64_t b = 0; b < a->B; b++) {
      const int64_t row = (b * a->L + m0 + i) * H + h;
      combine_rows(job->out + (tk->side * a->B * a->L * H + row) * R, x + row * D, 1, w->code + i * R, BLOCK * R, D, R);
    }
}

/* Gradient of one block through the shared code: ∂x = ∂x̂ · Cᵀ, ∂C_d = Σ_b x[b, ·, d] ∂x̂[b], ∂Fᵀ (x = 1) = ∂C · Z[h]ᵀ per feature, and the parameter sums. */
static void code_grad_block(FusedJob *job, const Task *tk, int64_t ti, int64_t m0, int64_t nb, Scratch *w) {
  const RpelabSine *a = job->a;
  const int64_t D = a->D, K2 = 2 * a->K, R = job->R, H = a->H, h = tk->h, L = a->L;
  const Head hd = head_of(job, h);
  code_block(job, &hd, w);
  if (nb < BLOCK) memset(w->dcode, 0, sizeof(float) * (size_t)(D * BLOCK * R)); /* rows past nb stay zero */
  const float *x = job->xs[tk->side], *dy = job->dy + tk->side * a->B * L * H * R;
  float *dx = job->dxs[tk->side];
  for (int64_t i = 0; i < nb; i++) {
    const int64_t row0 = (m0 + i) * H + h; /* batch element b: row0 + b·L·H */
    for (int64_t d = 0; d < D; d++)
      combine_rows(w->dcode + (d * BLOCK + i) * R, x + row0 * D + d, L * H * D, dy + row0 * R, L * H * R, a->B, R);
    for (int64_t b = 0; b < a->B; b++) {
      const int64_t row = row0 + b * L * H;
      for (int64_t d = 0; d < D; d++) dx[row * D + d] = dot(dy + row * R, w->code + (d * BLOCK + i) * R, R);
    }
  }
  /* ∂Fᵀ rows of feature d [2K, BLOCK] = Z[h] rows of d [2K, R] · ∂C_dᵀ; the gate's row: ∂C_d · its row of Z[h] */
  for (int64_t d = 0; d < D; d++)
    rpelab_sgemm_serial(K2, BLOCK, R, hd.z + d * K2 * R, 0, R, w->dcode + d * BLOCK * R, 1, w->big + d * K2 * BLOCK, w->work);
  if (hd.gate) for (int64_t d = 0; d < D; d++) {
    const float *zg = hd.z + (D * K2 + d) * R, *dc = w->dcode + d * BLOCK * R;
    float *o = w->big + (D * K2 + d) * BLOCK;
    for (int64_t i = 0; i < BLOCK; i++) o[i] = dot(dc + i * R, zg, R);
  }
  param_sums(job, &hd, ti, m0, w, 0);
}

static void *project_tasks(void *arg) { return task_loop(arg, ((FusedJob *)arg)->shared ? code_project_block : project_block); }
static void *project_grad_tasks(void *arg) { return task_loop(arg, ((FusedJob *)arg)->shared ? code_grad_block : project_grad_block); }

/* The step tables of every head's frequencies (see FusedJob); returns 0 when out of memory. */
static int step_tables(const RpelabSine *a, float **tc, float **ts, double **c16, double **s16) {
  const int64_t n = a->H * a->D * a->K;
  *tc = malloc(sizeof(float) * 2 * n * NR);
  *c16 = malloc(sizeof(double) * 2 * n);
  if (!*tc || !*c16) { free(*tc); free(*c16); return 0; }
  *ts = *tc + n * NR;
  *s16 = *c16 + n;
  for (int64_t j = 0; j < n; j++) {
    const double c1 = cos((double)a->omega[j]), s1 = sin((double)a->omega[j]);
    double c = 1, s = 0;
    for (int i = 0; i < NR; i++) {
      (*tc)[j * NR + i] = (float)c;
      (*ts)[j * NR + i] = (float)s;
      const double cc = c;
      c = cc * c1 - s * s1;
      s = s * c1 + cc * s1;
    }
    (*c16)[j] = c;
    (*s16)[j] = s;
  }
  return 1;
}

/* Shared setup of both directions: tasks, step tables; then runs fn on the threads. */
static int run_fused(FusedJob *job, const float *z, void *(*fn)(void *), int threads) {
  const RpelabSine *a = job->a;
  Task *tasks = NULL;
  float *tc = NULL, *ts = NULL;
  double *c16 = NULL, *s16 = NULL;
  int rc = -1;
  job->ntasks = make_tasks(a, job->shared, &tasks);
  if (job->ntasks >= 0 && step_tables(a, &tc, &ts, &c16, &s16)) {
    atomic_llong next = 0;
    job->tasks = tasks; job->z = z; job->tc = tc; job->ts = ts; job->c16 = c16; job->s16 = s16; job->next = &next;
    threads = rpelab_job_count(threads, 1, 0, job->ntasks);
    rpelab_blas_serial_begin();
    FusedJob jobs[64];
    for (int i = 0; i < threads; i++) jobs[i] = *job;
    rpelab_run_jobs(fn, jobs, sizeof(FusedJob), threads);
    rc = 0;
    for (int i = 0; i < threads; i++) if (jobs[i].failed) rc = -1;
  }
  free(tasks); free(tc); free(c16);
  return rc;
}

int rpelab_sine_project(const RpelabSine *a, const float *xq, const float *xk, const float *z, int64_t R, float *out, int shared, int threads) {
  FusedJob job;
  memset(&job, 0, sizeof(job));
  job.shared = shared != 0;
  job.a = a; job.xs[0] = xq; job.xs[1] = xk; job.R = R; job.J = 2 * a->D * a->K + (a->gate ? a->D : 0); job.out = out;
  return run_fused(&job, z, project_tasks, threads);
}

int rpelab_sine_project_grad(const RpelabSine *a, const float *xq, const float *xk, const float *z, int64_t R, const float *dy,
                             float *dxq, float *dxk, float *dOmega, float *dTheta, float *dAmp, float *dGate, int shared, int threads) {
  const int64_t D = a->D, DK = D * a->K, nacc = 3 * DK + D;
  FusedJob job;
  memset(&job, 0, sizeof(job));
  job.shared = shared != 0;
  job.a = a; job.xs[0] = xq; job.xs[1] = xk; job.R = R; job.J = 2 * DK + (a->gate ? D : 0);
  job.dy = dy; job.dxs[0] = dxq; job.dxs[1] = dxk;
  const int64_t ntasks = task_count(a, job.shared);
  job.acc = calloc((size_t)(ntasks > 0 ? ntasks * nacc : 1), sizeof(double));
  if (!job.acc) return -1;
  const int rc = run_fused(&job, z, project_grad_tasks, threads);
  if (rc == 0) {
    /* Per head, the tasks' sums in task order (queries first): the same numbers for any number of threads. */
    const int64_t per_head = ntasks / a->H, per_side = per_head / 2;
    for (int64_t h = 0; h < a->H; h++) {
      for (int64_t j = 0; j < nacc; j++) {
        double s = 0, th = 0;
        for (int64_t i = h * per_head; i < (h + 1) * per_head; i++) {
          s += job.acc[i * nacc + j];
          if (i < h * per_head + per_side) th += job.acc[i * nacc + j];
        }
        if (j < DK) dOmega[h * DK + j] = (float)s;
        else if (j < 2 * DK) dTheta[h * DK + j - DK] = (float)th;
        else if (j < 3 * DK) dAmp[h * DK + j - 2 * DK] = (float)s;
        else if (dGate) dGate[h * D + j - 3 * DK] = (float)s;
      }
    }
  }
  free(job.acc);
  return rc;
}
