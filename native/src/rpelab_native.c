/*
 * rpelab's optional native kernels (N-API, C11). Each function reads and writes float32 typed
 * arrays that the caller allocated (views of the wasm heap or cpu-backend arrays) and computes
 * exactly what the JavaScript fallback in src/encodings/spe/sine-kernels.ts computes (tested
 * against it). Built by scripts/build-native.sh; rpelab runs without it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include <pthread.h>
#include "sgemm.h"
#include "jobs.h"
#include "lrpe.h"

#define RESYNC 64

/* Threads of the matmul and the sineSPE kernels: setThreads(n); 1 by default (see src/backend/native.ts). */
static int num_threads = 1;

/* Splits positions 0..L into n ranges that start on a RESYNC boundary (so every range starts with
   exact sinusoids and the result does not depend on n). Returns the number of ranges. */
static int split_positions(int64_t L, int n, int64_t *starts) {
  const int64_t blocks = (L + RESYNC - 1) / RESYNC;
  if (n > blocks) n = (int)blocks;
  if (n < 1) n = 1;
  for (int i = 0; i <= n; i++) {
    int64_t m = (blocks * i / n) * RESYNC;
    starts[i] = m < L ? m : L;
  }
  return n;
}

/* ---- argument helpers ---------------------------------------------------------------------- */

static int get_f32(napi_env env, napi_value v, float **data, size_t *len, int optional) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (optional && (t == napi_null || t == napi_undefined)) { *data = NULL; *len = 0; return 1; }
  bool is_ta = false;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return 0;
  napi_typedarray_type type;
  void *ptr;
  napi_value buf;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, &buf, &off) != napi_ok || type != napi_float32_array) return 0;
  *data = (float *)ptr;
  return 1;
}

static int get_int(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

#define FAIL(msg) do { napi_throw_type_error(env, NULL, msg); return NULL; } while (0)

/* ---- sineSPE features ---------------------------------------------------------------------- */

typedef struct {
  int64_t B, L, H, D, K, head, offset;
  const float *x, *omega, *theta, *amp, *gate;
} SineArgs;

/* Running sinusoids of one head: c[j], s[j] at the current position, float64. */
typedef struct { double *c, *s, *sc, *ss, *om, *th; int64_t n; } Trig;

static int trig_init(Trig *t, const SineArgs *a) {
  int64_t n = a->D * a->K, base = a->head * n;
  t->n = n;
  double *mem = malloc(sizeof(double) * 6 * n);
  if (!mem) return 0;
  t->c = mem; t->s = mem + n; t->sc = mem + 2 * n; t->ss = mem + 3 * n; t->om = mem + 4 * n; t->th = mem + 5 * n;
  for (int64_t j = 0; j < n; j++) {
    t->om[j] = a->omega[base + j];
    t->th[j] = a->theta[base + j];
    t->sc[j] = cos(t->om[j]);
    t->ss[j] = sin(t->om[j]);
  }
  return 1;
}

static void trig_at(Trig *t, int64_t row, int64_t p) {
  if (row % RESYNC == 0) {
    for (int64_t j = 0; j < t->n; j++) {
      double ph = t->om[j] * (double)p + t->th[j];
      t->c[j] = cos(ph);
      t->s[j] = sin(ph);
    }
    return;
  }
  for (int64_t j = 0; j < t->n; j++) {
    double c = t->c[j];
    t->c[j] = c * t->sc[j] - t->s[j] * t->ss[j];
    t->s[j] = t->s[j] * t->sc[j] + c * t->ss[j];
  }
}

/* row[2j + c] = a[j] · trig_c at the current position (c = 0: cos, 1: sin). */
static void trig_row(const Trig *t, const float *amp, float *row) {
  for (int64_t j = 0; j < t->n; j++) {
    row[2 * j] = (float)(amp[j] * t->c[j]);
    row[2 * j + 1] = (float)(amp[j] * t->s[j]);
  }
}

static int parse_sine(napi_env env, napi_value *argv, SineArgs *a, size_t *xlen) {
  size_t n1, n2, n3, n4, n5;
  if (!get_f32(env, argv[0], (float **)&a->x, xlen, 0) || !get_f32(env, argv[1], (float **)&a->omega, &n1, 0) ||
      !get_f32(env, argv[2], (float **)&a->theta, &n2, 0) || !get_f32(env, argv[3], (float **)&a->amp, &n3, 0) ||
      !get_f32(env, argv[4], (float **)&a->gate, &n4, 1)) return 0;
  (void)n5;
  int64_t *dims[] = {&a->B, &a->L, &a->H, &a->D, &a->K, &a->head, &a->offset};
  for (int i = 0; i < 7; i++) if (!get_int(env, argv[5 + i], dims[i])) return 0;
  int64_t hdk = a->H * a->D * a->K;
  if ((int64_t)*xlen != a->B * a->L * a->H * a->D || (int64_t)n1 != hdk || (int64_t)n2 != hdk || (int64_t)n3 != hdk) return 0;
  if (a->gate && (int64_t)n4 != a->H * a->D) return 0;
  if (a->head < 0 || a->head >= a->H) return 0;
  return 1;
}

typedef struct {
  const SineArgs *a;
  float *out;        /* forward: F [B·L, J] */
  const float *dF;   /* backward: ∂F [B·L, J] */
  float *dx;         /* backward: [B, L, D] */
  double *acc;       /* backward: this range's sums ∂ω, ∂θ, ∂a [D·K] and ∂s [D] */
  int64_t m0, m1;
  int failed;
} SineJob;

static void *sine_features_range(void *arg) {
  SineJob *job = arg;
  const SineArgs *a = job->a;
  const int64_t D = a->D, K = a->K, KD2 = 2 * D * K, J = KD2 + (a->gate ? D : 0);
  Trig t;
  float *row = malloc(sizeof(float) * KD2);
  if (!row || !trig_init(&t, a)) { free(row); job->failed = 1; return NULL; }
  const float *amp = a->amp + a->head * D * K;
  const float *gate = a->gate ? a->gate + a->head * D : NULL;
  for (int64_t m = job->m0; m < job->m1; m++) {
    trig_at(&t, m, a->offset + m);
    trig_row(&t, amp, row);
    for (int64_t b = 0; b < a->B; b++) {
      int64_t n = b * a->L + m;
      const float *x = a->x + (n * a->H + a->head) * D;
      float *o = job->out + n * J;
      for (int64_t d = 0; d < D; d++) {
        const float xv = x[d];
        const float *r = row + d * 2 * K;
        float *od = o + d * 2 * K;
        for (int64_t i = 0; i < 2 * K; i++) od[i] = xv * r[i];
      }
      if (gate) for (int64_t d = 0; d < D; d++) o[KD2 + d] = gate[d] * x[d];
    }
  }
  free(row);
  free(t.c);
  return NULL;
}

/* Positions per thread below which the sineSPE kernels stay on one thread. */
#define SINE_MIN_ELEMENTS (1 << 20)

static int sine_threads(const SineArgs *a) {
  const int64_t elements = a->B * a->L * 2 * a->D * a->K;
  return elements < SINE_MIN_ELEMENTS ? 1 : num_threads;
}

/* sineFeatures(x, omega, theta, amp, gateAmp|null, B, L, H, D, K, head, offset, out) */
static napi_value sine_features(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 13) FAIL("sineFeatures: expected 13 arguments");
  SineArgs a;
  size_t xlen, olen;
  float *out;
  if (!parse_sine(env, argv, &a, &xlen)) FAIL("sineFeatures: bad inputs or sizes");
  const int64_t J = 2 * a.D * a.K + (a.gate ? a.D : 0);
  if (!get_f32(env, argv[12], &out, &olen, 0) || (int64_t)olen != a.B * a.L * J) FAIL("sineFeatures: bad output size");
  int64_t starts[65];
  const int n = split_positions(a.L, sine_threads(&a), starts);
  SineJob jobs[64];
  for (int i = 0; i < n; i++) jobs[i] = (SineJob){&a, out, NULL, NULL, NULL, starts[i], starts[i + 1], 0};
  rpelab_run_jobs(sine_features_range, jobs, sizeof(SineJob), n);
  for (int i = 0; i < n; i++) if (jobs[i].failed) FAIL("sineFeatures: out of memory");
  return NULL;
}

static void *sine_grad_range(void *arg) {
  SineJob *job = arg;
  const SineArgs *a = job->a;
  const int64_t D = a->D, K = a->K, DK = D * K, KD2 = 2 * DK, J = KD2 + (a->gate ? D : 0);
  Trig t;
  float *row = malloc(sizeof(float) * KD2);   /* a · trig, as in the forward */
  float *gm = malloc(sizeof(float) * KD2);    /* Σ_b ∂F · x at this position */
  if (!row || !gm || !trig_init(&t, a)) { free(row); free(gm); job->failed = 1; return NULL; }
  double *accOm = job->acc, *accTh = job->acc + DK, *accAmp = job->acc + 2 * DK, *accGate = job->acc + 3 * DK;
  const float *amp = a->amp + a->head * DK;
  const float *gate = a->gate ? a->gate + a->head * D : NULL;
  for (int64_t m = job->m0; m < job->m1; m++) {
    const int64_t p = a->offset + m;
    trig_at(&t, m, p);
    trig_row(&t, amp, row);
    memset(gm, 0, sizeof(float) * KD2);
    for (int64_t b = 0; b < a->B; b++) {
      int64_t n = b * a->L + m;
      const float *x = a->x + (n * a->H + a->head) * D;
      const float *g = job->dF + n * J;
      float *dxr = job->dx + n * D;
      for (int64_t d = 0; d < D; d++) {
        const float xv = x[d];
        const float *gd = g + d * 2 * K, *r = row + d * 2 * K;
        float *gmd = gm + d * 2 * K;
        float s = 0.f;
        for (int64_t i = 0; i < 2 * K; i++) {
          s += gd[i] * r[i];
          gmd[i] += gd[i] * xv;
        }
        dxr[d] = s;
      }
      if (gate) {
        for (int64_t d = 0; d < D; d++) {
          const float gf = g[KD2 + d];
          dxr[d] += gate[d] * gf;
          accGate[d] += (double)gf * x[d];
        }
      }
    }
    for (int64_t j = 0; j < DK; j++) {
      const double g0 = gm[2 * j], g1 = gm[2 * j + 1], c = t.c[j], s = t.s[j];
      accAmp[j] += g0 * c + g1 * s;                    /* Σ_c ∂F_c · x · trig_c */
      const double dphi = amp[j] * (g1 * c - g0 * s);  /* Σ_c ∂F_c · a · x · trig_c′ */
      accTh[j] += dphi;
      accOm[j] += (double)p * dphi;
    }
  }
  free(row); free(gm); free(t.c);
  return NULL;
}

/* sineFeaturesGrad(x, omega, theta, amp, gateAmp|null, B, L, H, D, K, head, offset, dF, dx, dOmega, dTheta, dAmp, dGate) */
static napi_value sine_features_grad(napi_env env, napi_callback_info info) {
  size_t argc = 18;
  napi_value argv[18];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 18) FAIL("sineFeaturesGrad: expected 18 arguments");
  SineArgs a;
  size_t xlen, n0, n1, n2, n3, n4, n5;
  float *dF, *dx, *dOm, *dTh, *dAmp, *dGate;
  if (!parse_sine(env, argv, &a, &xlen)) FAIL("sineFeaturesGrad: bad inputs or sizes");
  const int64_t D = a.D, DK = D * a.K, J = 2 * DK + (a.gate ? D : 0), nacc = 3 * DK + D;
  if (!get_f32(env, argv[12], &dF, &n0, 0) || (int64_t)n0 != a.B * a.L * J ||
      !get_f32(env, argv[13], &dx, &n1, 0) || (int64_t)n1 != a.B * a.L * D ||
      !get_f32(env, argv[14], &dOm, &n2, 0) || (int64_t)n2 != DK ||
      !get_f32(env, argv[15], &dTh, &n3, 0) || (int64_t)n3 != DK ||
      !get_f32(env, argv[16], &dAmp, &n4, 0) || (int64_t)n4 != DK ||
      !get_f32(env, argv[17], &dGate, &n5, 0) || (int64_t)n5 != D) FAIL("sineFeaturesGrad: bad output sizes");
  int64_t starts[65];
  const int n = split_positions(a.L, sine_threads(&a), starts);
  double *acc = calloc((size_t)(n * nacc), sizeof(double));
  if (!acc) FAIL("sineFeaturesGrad: out of memory");
  SineJob jobs[64];
  for (int i = 0; i < n; i++) jobs[i] = (SineJob){&a, NULL, dF, dx, acc + i * nacc, starts[i], starts[i + 1], 0};
  rpelab_run_jobs(sine_grad_range, jobs, sizeof(SineJob), n);
  int failed = 0;
  for (int i = 0; i < n; i++) failed |= jobs[i].failed;
  /* Sums over the ranges in order: the same numbers for any number of threads with the same ranges. */
  for (int i = 1; i < n && !failed; i++) for (int64_t j = 0; j < nacc; j++) acc[j] += acc[i * nacc + j];
  if (!failed) {
    for (int64_t j = 0; j < DK; j++) { dOm[j] = (float)acc[j]; dTh[j] = (float)acc[DK + j]; dAmp[j] = (float)acc[2 * DK + j]; }
    for (int64_t d = 0; d < D; d++) dGate[d] = (float)acc[3 * DK + d];
  }
  free(acc);
  if (failed) FAIL("sineFeaturesGrad: out of memory");
  return NULL;
}

/* ---- batched matmul ------------------------------------------------------------------------ */


static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !get_int(env, argv[0], &n) || n < 1 || n > 64) FAIL("setThreads: expected an integer 1..64");
  num_threads = (int)n;
  return NULL;
}

/* matMul(a, b, out, batch, batchA, batchB, m, n, k, transA, transB): out[g] = op(a[g or 0]) · op(b[g or 0]) */
static napi_value mat_mul(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 11) FAIL("matMul: expected 11 arguments");
  float *a, *b, *out;
  size_t na, nb, no;
  int64_t v[8];
  if (!get_f32(env, argv[0], &a, &na, 0) || !get_f32(env, argv[1], &b, &nb, 0) || !get_f32(env, argv[2], &out, &no, 0)) FAIL("matMul: a, b and out must be Float32Arrays");
  for (int i = 0; i < 8; i++) if (!get_int(env, argv[3 + i], &v[i])) FAIL("matMul: sizes must be integers");
  const int64_t batch = v[0], batch_a = v[1], batch_b = v[2], m = v[3], n = v[4], k = v[5];
  if (batch < 1 || m < 0 || n < 0 || k < 0 || (batch_a != 1 && batch_a != batch) || (batch_b != 1 && batch_b != batch) ||
      (int64_t)na < batch_a * m * k || (int64_t)nb < batch_b * k * n || (int64_t)no < batch * m * n) FAIL("matMul: array sizes do not match");
  if (rpelab_batch_sgemm(batch, batch_a, batch_b, m, n, k, a, (int)v[6], b, (int)v[7], out, num_threads) != 0) FAIL("matMul: out of memory");
  return NULL;
}

/* ---- depthwise convolution (NHWC, channel multiplier 1, stride 1, no padding) ------------------ */

/* The arguments (n, h, w, c, fh, fw, a, b, out) of the three depthwise kernels, checked: a, b and out
   hold, per kind, 0: x, f, y;  1: x, dy, df;  2: dy, f, dx  (x [n,h,w,c], f [fh,fw,c], y and dy [n,h-fh+1,w-fw+1,c]). */
static int conv_args(napi_env env, napi_callback_info info, int kind, int64_t *v, float **a, float **b, float **out) {
  size_t argc = 9, na, nb, no;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 9) return 0;
  for (int i = 0; i < 6; i++) if (!get_int(env, argv[i], &v[i]) || v[i] < 1) return 0;
  if (v[4] > v[1] || v[5] > v[2]) return 0;
  if (!get_f32(env, argv[6], a, &na, 0) || !get_f32(env, argv[7], b, &nb, 0) || !get_f32(env, argv[8], out, &no, 0)) return 0;
  const int64_t x = v[0] * v[1] * v[2] * v[3], f = v[4] * v[5] * v[3], y = v[0] * (v[1] - v[4] + 1) * (v[2] - v[5] + 1) * v[3];
  const int64_t want[3][3] = {{x, f, y}, {x, y, f}, {y, f, x}};
  return (int64_t)na == want[kind][0] && (int64_t)nb == want[kind][1] && (int64_t)no == want[kind][2];
}

/* depthwiseConv(n, h, w, c, fh, fw, x [n,h,w,c], f [fh,fw,c], out [n,h-fh+1,w-fw+1,c]) */
static napi_value depthwise_conv(napi_env env, napi_callback_info info) {
  int64_t v[6];
  float *x, *f, *out;
  if (!conv_args(env, info, 0, v, &x, &f, &out)) FAIL("depthwiseConv: bad arguments or sizes");
  const int64_t N = v[0], H = v[1], W = v[2], C = v[3], FH = v[4], FW = v[5], OH = H - FH + 1, OW = W - FW + 1;
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        float *o = out + ((n * OH + oh) * OW + ow) * C;
        memset(o, 0, sizeof(float) * C);
        for (int64_t i = 0; i < FH; i++)
          for (int64_t j = 0; j < FW; j++) {
            const float *xi = x + ((n * H + oh + i) * W + ow + j) * C, *fi = f + (i * FW + j) * C;
            for (int64_t k = 0; k < C; k++) o[k] += xi[k] * fi[k];
          }
      }
  return NULL;
}

/* depthwiseFilterGrad(n, h, w, c, fh, fw, x [n,h,w,c], dy [n,oh,ow,c], out [fh,fw,c]) */
static napi_value depthwise_filter_grad(napi_env env, napi_callback_info info) {
  int64_t v[6];
  float *x, *dy, *out;
  if (!conv_args(env, info, 1, v, &x, &dy, &out)) FAIL("depthwiseFilterGrad: bad arguments or sizes");
  const int64_t N = v[0], H = v[1], W = v[2], C = v[3], FH = v[4], FW = v[5], OH = H - FH + 1, OW = W - FW + 1;
  memset(out, 0, sizeof(float) * FH * FW * C);
  for (int64_t i = 0; i < FH; i++)
    for (int64_t j = 0; j < FW; j++) {
      float *o = out + (i * FW + j) * C;
      for (int64_t n = 0; n < N; n++)
        for (int64_t oh = 0; oh < OH; oh++)
          for (int64_t ow = 0; ow < OW; ow++) {
            const float *d = dy + ((n * OH + oh) * OW + ow) * C, *xi = x + ((n * H + oh + i) * W + ow + j) * C;
            for (int64_t k = 0; k < C; k++) o[k] += d[k] * xi[k];
          }
    }
  return NULL;
}

/* depthwiseInputGrad(n, h, w, c, fh, fw, dy [n,oh,ow,c], f [fh,fw,c], out [n,h,w,c]) */
static napi_value depthwise_input_grad(napi_env env, napi_callback_info info) {
  int64_t v[6];
  float *dy, *f, *out;
  if (!conv_args(env, info, 2, v, &dy, &f, &out)) FAIL("depthwiseInputGrad: bad arguments or sizes");
  const int64_t N = v[0], H = v[1], W = v[2], C = v[3], FH = v[4], FW = v[5], OH = H - FH + 1, OW = W - FW + 1;
  memset(out, 0, sizeof(float) * N * H * W * C);
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        const float *d = dy + ((n * OH + oh) * OW + ow) * C;
        for (int64_t i = 0; i < FH; i++)
          for (int64_t j = 0; j < FW; j++) {
            float *o = out + ((n * H + oh + i) * W + ow + j) * C;
            const float *fi = f + (i * FW + j) * C;
            for (int64_t k = 0; k < C; k++) o[k] += d[k] * fi[k];
          }
      }
  return NULL;
}

/* ---- sum over leading axes ------------------------------------------------------------------ */

/* sumRows(x, rows, cols, out): out[j] = ((x[0, j] + x[1, j]) + x[2, j]) + ..., in float32, row by row */
static napi_value sum_rows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) FAIL("sumRows: expected 4 arguments");
  float *x, *out;
  size_t nx, no;
  int64_t rows, cols;
  if (!get_f32(env, argv[0], &x, &nx, 0) || !get_int(env, argv[1], &rows) || !get_int(env, argv[2], &cols) ||
      !get_f32(env, argv[3], &out, &no, 0) || rows < 0 || cols < 0 || (int64_t)nx < rows * cols || (int64_t)no < cols) FAIL("sumRows: bad arguments");
  memset(out, 0, sizeof(float) * cols);
  for (int64_t i = 0; i < rows; i++) {
    const float *r = x + i * cols;
    for (int64_t j = 0; j < cols; j++) out[j] += r[j];
  }
  return NULL;
}

/* ---- LRPE map (lrpe.c) ----------------------------------------------------------------------- */

/* Reads (x, u|null, cos, sin, B, L, H, D, W, unitary) from argv[first..]; checks the sizes. */
static int lrpe_args(napi_env env, napi_value *argv, RpelabLrpe *a) {
  size_t nx, nu, nc, ns;
  int64_t v[6];
  if (!get_f32(env, argv[0], (float **)&a->x, &nx, 0) || !get_f32(env, argv[1], (float **)&a->u, &nu, 1) ||
      !get_f32(env, argv[2], (float **)&a->C, &nc, 0) || !get_f32(env, argv[3], (float **)&a->S, &ns, 0)) return 0;
  for (int i = 0; i < 6; i++) if (!get_int(env, argv[4 + i], &v[i]) || v[i] < 0) return 0;
  a->B = v[0]; a->L = v[1]; a->H = v[2]; a->D = v[3]; a->W = v[4]; a->unitary = v[5] != 0;
  if (a->D < 1 || a->D > 4096 || (a->unitary ? a->W != a->D : (a->W % 2 != 0 || a->W > a->D))) return 0;
  return (int64_t)nx == a->B * a->L * a->H * a->D && (!a->u || (int64_t)nu == a->D) &&
         (int64_t)nc == a->L * a->W && (int64_t)ns == a->L * a->W;
}

/* lrpeMap(x, u|null, cos, sin, B, L, H, D, W, unitary, y) */
static napi_value lrpe_map(napi_env env, napi_callback_info info) {
  size_t argc = 11, ny;
  napi_value argv[11];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabLrpe a;
  float *y;
  if (argc != 11 || !lrpe_args(env, argv, &a)) FAIL("lrpeMap: bad inputs or sizes");
  if (!get_f32(env, argv[10], &y, &ny, 0) || (int64_t)ny != a.B * a.L * a.H * a.D * (a.unitary ? 2 : 1)) FAIL("lrpeMap: bad output size");
  rpelab_lrpe_map(&a, y, num_threads);
  return NULL;
}

/* lrpeMapGrad(dy, x, u|null, cos, sin, B, L, H, D, W, unitary, dx, dC|null, dS|null, du|null) */
static napi_value lrpe_map_grad(napi_env env, napi_callback_info info) {
  size_t argc = 15, ng, nx, nc, ns, nu;
  napi_value argv[15];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabLrpe a;
  float *dy, *dx, *dC, *dS, *du;
  if (argc != 15 || !lrpe_args(env, argv + 1, &a)) FAIL("lrpeMapGrad: bad inputs or sizes");
  const int64_t rows = a.B * a.L * a.H;
  if (!get_f32(env, argv[0], &dy, &ng, 0) || (int64_t)ng != rows * a.D * (a.unitary ? 2 : 1) ||
      !get_f32(env, argv[11], &dx, &nx, 0) || (int64_t)nx != rows * a.D ||
      !get_f32(env, argv[12], &dC, &nc, 1) || !get_f32(env, argv[13], &dS, &ns, 1) || !get_f32(env, argv[14], &du, &nu, 1) ||
      (!dC) != (!dS) || (dC && ((int64_t)nc != a.L * a.W || (int64_t)ns != a.L * a.W)) || (du && (!a.u || (int64_t)nu != a.D))) FAIL("lrpeMapGrad: bad output sizes");
  if (rpelab_lrpe_map_grad(&a, dy, dx, dC, dS, du, num_threads) != 0) FAIL("lrpeMapGrad: out of memory");
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value simd;
#if defined(__AVX2__) && defined(__FMA__)
  napi_create_string_utf8(env, "avx2+fma", NAPI_AUTO_LENGTH, &simd);
#else
  napi_create_string_utf8(env, "portable", NAPI_AUTO_LENGTH, &simd);
#endif
  napi_property_descriptor props[] = {
    {"simd", NULL, NULL, NULL, NULL, simd, napi_enumerable, NULL},
    {"matMul", NULL, mat_mul, NULL, NULL, NULL, napi_default, NULL},
    {"sumRows", NULL, sum_rows, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseConv", NULL, depthwise_conv, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseFilterGrad", NULL, depthwise_filter_grad, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseInputGrad", NULL, depthwise_input_grad, NULL, NULL, NULL, napi_default, NULL},
    {"sineFeatures", NULL, sine_features, NULL, NULL, NULL, napi_default, NULL},
    {"sineFeaturesGrad", NULL, sine_features_grad, NULL, NULL, NULL, napi_default, NULL},
    {"lrpeMap", NULL, lrpe_map, NULL, NULL, NULL, napi_default, NULL},
    {"lrpeMapGrad", NULL, lrpe_map_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
