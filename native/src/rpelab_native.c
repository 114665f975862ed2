/*
 * rpelab's optional native kernels (N-API, C11): the JavaScript bindings. Each function checks
 * its arguments, then reads and writes float32 typed arrays that the caller allocated (views of
 * the wasm heap or cpu-backend arrays). The computations live in blas.c (matrix product: OpenBLAS,
 * or the builtin one of sgemm.c), sine_spe.c (the fused sineSPE projection), favor.c (FAVOR+'s
 * features), flash.c (softmax attention in O(L) memory), lrpe.c (the LRPE map), conv_spe.c
 * (convSPE's code), normal.c (standard normal draws), rows.c (row gathers and scatter-adds), transpose.c,
 * adam.c, layernorm.c, softmax_nll.c, trig.c and below
 * (depthwise convolution, row sums); each is tested against the JavaScript or tfjs path it
 * replaces. Built by scripts/build-native.sh; rpelab runs without it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>
#include "sgemm.h"
#include "blas.h"
#include "lrpe.h"
#include "sine_spe.h"
#include "layernorm.h"
#include "trig.h"
#include "conv_spe.h"
#include "normal.h"
#include "softmax_nll.h"
#include "flash.h"
#include "linear_scan.h"
#include "copy_box.h"
#include "rows.h"
#include "favor.h"
#include "transpose.h"
#include "adam.h"

/* Threads of the native kernels: setThreads(n); 1 by default (see src/backend/native.ts). */
static int num_threads = 1;

/* ---- argument helpers ---------------------------------------------------------------------- */

/* A typed array's element type, data and length; false when v is not a typed array. */
static int typed_array(napi_env env, napi_value v, napi_typedarray_type *type, void **data, size_t *len) {
  bool is_ta = false;
  napi_value buf;
  size_t off;
  return napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta && napi_get_typedarray_info(env, v, type, len, data, &buf, &off) == napi_ok;
}

static int get_f32(napi_env env, napi_value v, float **data, size_t *len, int optional) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  if (optional && (t == napi_null || t == napi_undefined)) { *data = NULL; *len = 0; return 1; }
  napi_typedarray_type type;
  void *ptr;
  if (!typed_array(env, v, &type, &ptr, len) || type != napi_float32_array) return 0;
  *data = (float *)ptr;
  return 1;
}

/* A typed array of 4-byte elements (Float32Array, Int32Array, Uint32Array): its data and length. */
static int get_words(napi_env env, napi_value v, char **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  if (!typed_array(env, v, &type, &ptr, len) || (type != napi_float32_array && type != napi_int32_array && type != napi_uint32_array)) return 0;
  *data = ptr;
  return 1;
}

static int get_i32(napi_env env, napi_value v, const int32_t **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  if (!typed_array(env, v, &type, &ptr, len) || type != napi_int32_array) return 0;
  *data = ptr;
  return 1;
}

static int get_int(napi_env env, napi_value v, int64_t *out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

#define FAIL(msg) do { napi_throw_type_error(env, NULL, msg); return NULL; } while (0)

/* ---- sineSPE features (sine_spe.c) ------------------------------------------------------------- */

/* Reads (omega, theta|null, amp, gate|null) at argv[0..3] and (B, L, H, D, K, offset) at dims[0..5]; checks sizes. */
static int sine_args(napi_env env, napi_value *argv, napi_value *dims, RpelabSine *a) {
  size_t n1, n2, n3, n4;
  if (!get_f32(env, argv[0], (float **)&a->omega, &n1, 0) || !get_f32(env, argv[1], (float **)&a->theta, &n2, 1) ||
      !get_f32(env, argv[2], (float **)&a->amp, &n3, 0) || !get_f32(env, argv[3], (float **)&a->gate, &n4, 1)) return 0;
  int64_t *v[] = {&a->B, &a->L, &a->H, &a->D, &a->K, &a->offset};
  for (int i = 0; i < 6; i++) if (!get_int(env, dims[i], v[i]) || *v[i] < 0) return 0;
  const int64_t hdk = a->H * a->D * a->K;
  return a->D >= 1 && a->K >= 1 && (int64_t)n1 == hdk && (!a->theta || (int64_t)n2 == hdk) && (int64_t)n3 == hdk && (!a->gate || (int64_t)n4 == a->H * a->D);
}

static int64_t sine_j(const RpelabSine *a) { return 2 * a->D * a->K + (a->gate ? a->D : 0); }

/* Reads xq, xk [B, L, H, D] and z [H, J, R] (argv[0], argv[1], argv[6]) after sine_args; returns R or -1. */
static int64_t project_args(napi_env env, napi_value *argv, RpelabSine *a, float **xq, float **xk, float **z) {
  size_t nq, nk, nz;
  int64_t R;
  napi_value dims[6] = {argv[7], argv[8], argv[9], argv[10], argv[11], argv[13]};
  if (!sine_args(env, argv + 2, dims, a) || !get_int(env, argv[12], &R) || R < 1 ||
      !get_f32(env, argv[0], xq, &nq, 0) || !get_f32(env, argv[1], xk, &nk, 0) || !get_f32(env, argv[6], z, &nz, 0)) return -1;
  const int64_t x = a->B * a->L * a->H * a->D;
  return (int64_t)nq == x && (int64_t)nk == x && (int64_t)nz == a->H * sine_j(a) * R ? R : -1;
}

/* sineProject(xq, xk, omega, theta, amp, gateAmp|null, z, B, L, H, D, K, R, offset, out [2, B, L, H, R], shared) */
static napi_value sine_project(napi_env env, napi_callback_info info) {
  size_t argc = 16, no;
  napi_value argv[16];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabSine a;
  float *xq, *xk, *z, *out;
  int64_t R, shared;
  if (argc != 16 || (R = project_args(env, argv, &a, &xq, &xk, &z)) < 0 || !get_int(env, argv[15], &shared)) FAIL("sineProject: bad inputs or sizes");
  if (!get_f32(env, argv[14], &out, &no, 0) || (int64_t)no != 2 * a.B * a.L * a.H * R) FAIL("sineProject: bad output size");
  if (rpelab_sine_project(&a, xq, xk, z, R, out, shared != 0, num_threads) != 0) FAIL("sineProject: out of memory");
  return NULL;
}

/* sineProjectGrad(xq, xk, omega, theta, amp, gateAmp|null, z, B, L, H, D, K, R, offset, dy, dxq, dxk, dOmega, dTheta, dAmp, dGate|null, shared) */
static napi_value sine_project_grad(napi_env env, napi_callback_info info) {
  size_t argc = 22, n0, n1, n2, n3, n4, n5, n6;
  napi_value argv[22];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabSine a;
  float *xq, *xk, *z, *dy, *dxq, *dxk, *dOm, *dTh, *dAmp, *dGate;
  int64_t R, shared;
  if (argc != 22 || (R = project_args(env, argv, &a, &xq, &xk, &z)) < 0 || !get_int(env, argv[21], &shared)) FAIL("sineProjectGrad: bad inputs or sizes");
  const int64_t x = a.B * a.L * a.H * a.D, hdk = a.H * a.D * a.K;
  if (!get_f32(env, argv[14], &dy, &n0, 0) || (int64_t)n0 != 2 * a.B * a.L * a.H * R ||
      !get_f32(env, argv[15], &dxq, &n1, 0) || (int64_t)n1 != x || !get_f32(env, argv[16], &dxk, &n2, 0) || (int64_t)n2 != x ||
      !get_f32(env, argv[17], &dOm, &n3, 0) || (int64_t)n3 != hdk || !get_f32(env, argv[18], &dTh, &n4, 0) || (int64_t)n4 != hdk ||
      !get_f32(env, argv[19], &dAmp, &n5, 0) || (int64_t)n5 != hdk || !get_f32(env, argv[20], &dGate, &n6, 1) ||
      (!dGate) != (!a.gate) || (dGate && (int64_t)n6 != a.H * a.D)) FAIL("sineProjectGrad: bad output sizes");
  if (rpelab_sine_project_grad(&a, xq, xk, z, R, dy, dxq, dxk, dOm, dTh, dAmp, dGate, shared != 0, num_threads) != 0) FAIL("sineProjectGrad: out of memory");
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

/* useBlasLibrary(on): 1 = OpenBLAS computes matMul (the default where built with it), 0 = the builtin sgemm. */
static napi_value use_blas_library(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t on;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !get_int(env, argv[0], &on) || (on != 0 && on != 1)) FAIL("useBlasLibrary: expected 0 or 1");
  if (rpelab_use_blas_library((int)on) != 0) FAIL("useBlasLibrary: this build has no BLAS library (OpenBLAS was not found when it was built)");
  return NULL;
}

/* blas(): the product's implementation, "openblas <version> <core>" or "builtin". */
static napi_value blas_name(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  napi_create_string_utf8(env, rpelab_blas_name(), NAPI_AUTO_LENGTH, &s);
  return s;
}

/* matMul(a, b, out, batch, batchA, batchB, m, n, k, transA, transB[, bias, relu]): out[g] = op(a[g or 0]) · op(b[g or 0]),
   then + bias [n] and max(·, 0) when relu (rpelab_batch_sgemm_bias) */
static napi_value mat_mul(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 11 && argc != 13) FAIL("matMul: expected 11 arguments, or 13 with a bias and relu");
  float *a, *b, *out, *bias = NULL;
  size_t na, nb, no, nbias = 0;
  int64_t v[8], relu = 0;
  if (!get_f32(env, argv[0], &a, &na, 0) || !get_f32(env, argv[1], &b, &nb, 0) || !get_f32(env, argv[2], &out, &no, 0)) FAIL("matMul: a, b and out must be Float32Arrays");
  for (int i = 0; i < 8; i++) if (!get_int(env, argv[3 + i], &v[i])) FAIL("matMul: sizes must be integers");
  const int64_t batch = v[0], batch_a = v[1], batch_b = v[2], m = v[3], n = v[4], k = v[5];
  if (batch < 1 || m < 0 || n < 0 || k < 0 || (batch_a != 1 && batch_a != batch) || (batch_b != 1 && batch_b != batch) ||
      (int64_t)na < batch_a * m * k || (int64_t)nb < batch_b * k * n || (int64_t)no < batch * m * n) FAIL("matMul: array sizes do not match");
  if (argc == 13 && (!get_f32(env, argv[11], &bias, &nbias, 0) || (int64_t)nbias < n || !get_int(env, argv[12], &relu) || (relu != 0 && relu != 1)))
    FAIL("matMul: bias must be a Float32Array of n values and relu 0 or 1");
  if (rpelab_batch_sgemm_bias(batch, batch_a, batch_b, m, n, k, a, (int)v[6], b, (int)v[7], out, bias, (int)relu, num_threads) != 0)
    FAIL("matMul: out of memory");
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

/* reluMask(dy, y, dz): dz = dy where y > 0, else 0 (ReLU's gradient from its output), n = dz's length */
static napi_value relu_mask(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *dy, *y, *dz;
  size_t n1, n2, n3;
  if (argc != 3 || !get_f32(env, argv[0], &dy, &n1, 0) || !get_f32(env, argv[1], &y, &n2, 0) || !get_f32(env, argv[2], &dz, &n3, 0) || n1 != n3 || n2 != n3)
    FAIL("reluMask: expected (dy, y, dz), three float32 arrays of one length");
  for (size_t i = 0; i < n3; i++) dz[i] = y[i] > 0 ? dy[i] : 0.0f;
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

/* Reads (x, u|null, cos, sin, B, L, H, D, W, unitary, phi) from argv[first..]; checks the sizes. */
static int lrpe_args(napi_env env, napi_value *argv, RpelabLrpe *a) {
  size_t nx, nu, nc, ns;
  int64_t v[7];
  if (!get_f32(env, argv[0], (float **)&a->x, &nx, 0) || !get_f32(env, argv[1], (float **)&a->u, &nu, 1) ||
      !get_f32(env, argv[2], (float **)&a->C, &nc, 0) || !get_f32(env, argv[3], (float **)&a->S, &ns, 0)) return 0;
  for (int i = 0; i < 7; i++) if (!get_int(env, argv[4 + i], &v[i]) || v[i] < 0) return 0;
  a->B = v[0]; a->L = v[1]; a->H = v[2]; a->D = v[3]; a->W = v[4]; a->unitary = v[5] != 0; a->phi = v[6] != 0;
  if (a->D < 1 || a->D > 4096 || (a->unitary ? a->W != a->D : (a->W % 2 != 0 || a->W > a->D))) return 0;
  return (int64_t)nx == a->B * a->L * a->H * a->D && (!a->u || (int64_t)nu == a->D) &&
         (int64_t)nc == a->L * a->W && (int64_t)ns == a->L * a->W;
}

/* lrpeMap(x, u|null, cos, sin, B, L, H, D, W, unitary, phi, y) */
static napi_value lrpe_map(napi_env env, napi_callback_info info) {
  size_t argc = 12, ny;
  napi_value argv[12];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabLrpe a;
  float *y;
  if (argc != 12 || !lrpe_args(env, argv, &a)) FAIL("lrpeMap: bad inputs or sizes");
  if (!get_f32(env, argv[11], &y, &ny, 0) || (int64_t)ny != a.B * a.L * a.H * a.D * (a.unitary ? 2 : 1)) FAIL("lrpeMap: bad output size");
  if (rpelab_lrpe_map(&a, y, num_threads) != 0) FAIL("lrpeMap: out of memory");
  return NULL;
}

/* lrpeMapGrad(dy, x, u|null, cos, sin, B, L, H, D, W, unitary, phi, dx, dC|null, dS|null, du|null) */
static napi_value lrpe_map_grad(napi_env env, napi_callback_info info) {
  size_t argc = 16, ng, nx, nc, ns, nu;
  napi_value argv[16];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabLrpe a;
  float *dy, *dx, *dC, *dS, *du;
  if (argc != 16 || !lrpe_args(env, argv + 1, &a)) FAIL("lrpeMapGrad: bad inputs or sizes");
  const int64_t rows = a.B * a.L * a.H;
  if (!get_f32(env, argv[0], &dy, &ng, 0) || (int64_t)ng != rows * a.D * (a.unitary ? 2 : 1) ||
      !get_f32(env, argv[12], &dx, &nx, 0) || (int64_t)nx != rows * a.D ||
      !get_f32(env, argv[13], &dC, &nc, 1) || !get_f32(env, argv[14], &dS, &ns, 1) || !get_f32(env, argv[15], &du, &nu, 1) ||
      (!dC) != (!dS) || (dC && ((int64_t)nc != a.L * a.W || (int64_t)ns != a.L * a.W)) || (du && (!a.u || (int64_t)nu != a.D))) FAIL("lrpeMapGrad: bad output sizes");
  if (rpelab_lrpe_map_grad(&a, dy, dx, dC, dS, du, num_threads) != 0) FAIL("lrpeMapGrad: out of memory");
  return NULL;
}

/* ---- softmax cross-entropy (softmax_nll.c) ---------------------------------------------------- */

/* softmaxNll(z, t, n, v, nll, lse) */
static napi_value softmax_nll(napi_env env, napi_callback_info info) {
  size_t argc = 6, nz, nt, nn, nl;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *z, *t, *nll, *lse;
  int64_t n, v;
  if (argc != 6 || !get_int(env, argv[2], &n) || !get_int(env, argv[3], &v) || n < 0 || v < 1 || !get_f32(env, argv[0], &z, &nz, 0) ||
      !get_f32(env, argv[1], &t, &nt, 0) || !get_f32(env, argv[4], &nll, &nn, 0) || !get_f32(env, argv[5], &lse, &nl, 0) || (int64_t)nz != n * v ||
      (int64_t)nt != n || (int64_t)nn != n || (int64_t)nl != n) FAIL("softmaxNll: bad arguments or sizes");
  if (rpelab_softmax_nll(n, v, z, t, nll, lse, num_threads) != 0) FAIL("softmaxNll: out of memory");
  return NULL;
}

/* softmaxNllGrad(dnll, z, t, lse, n, v, dz) */
static napi_value softmax_nll_grad(napi_env env, napi_callback_info info) {
  size_t argc = 7, ng, nz, nt, nl, nd;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *g, *z, *t, *lse, *dz;
  int64_t n, v;
  if (argc != 7 || !get_int(env, argv[4], &n) || !get_int(env, argv[5], &v) || n < 0 || v < 1 || !get_f32(env, argv[0], &g, &ng, 0) ||
      !get_f32(env, argv[1], &z, &nz, 0) || !get_f32(env, argv[2], &t, &nt, 0) || !get_f32(env, argv[3], &lse, &nl, 0) || !get_f32(env, argv[6], &dz, &nd, 0) ||
      (int64_t)ng != n || (int64_t)nz != n * v || (int64_t)nt != n || (int64_t)nl != n || (int64_t)nd != n * v) FAIL("softmaxNllGrad: bad arguments or sizes");
  if (rpelab_softmax_nll_grad(n, v, g, z, t, lse, dz, num_threads) != 0) FAIL("softmaxNllGrad: out of memory");
  return NULL;
}

/* ---- softmax attention in O(L) memory (flash.c) ----------------------------------------------- */

/* Reads B, Lq, Lk, H, D, Dv, offset, scale, causal from dims[0..8]; checks them. */
static int flash_args(napi_env env, napi_value *dims, RpelabFlash *a) {
  int64_t *v[] = {&a->B, &a->Lq, &a->Lk, &a->H, &a->D, &a->Dv, &a->offset};
  for (int i = 0; i < 7; i++) if (!get_int(env, dims[i], v[i])) return 0;
  double scale;
  int64_t causal;
  if (napi_get_value_double(env, dims[7], &scale) != napi_ok || !get_int(env, dims[8], &causal)) return 0;
  a->scale = (float)scale;
  a->causal = causal != 0;
  return a->B >= 0 && a->Lq >= 0 && a->Lk >= 1 && a->H >= 1 && a->D >= 1 && a->Dv >= 1 && (!a->causal || a->offset >= 0);
}

/* Reads a float32 typed array that must hold exactly n floats. */
static int f32_of(napi_env env, napi_value v, float **p, int64_t n) {
  size_t len;
  return get_f32(env, v, p, &len, 0) && (int64_t)len == n;
}

/* flashAttention(q, k, v, B, Lq, Lk, H, D, Dv, offset, scale, causal, o, lse) */
static napi_value flash_attention(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabFlash a;
  float *q, *k, *v, *o, *lse;
  if (argc != 14 || !flash_args(env, argv + 3, &a) || !f32_of(env, argv[0], &q, a.B * a.Lq * a.H * a.D) || !f32_of(env, argv[1], &k, a.B * a.Lk * a.H * a.D) ||
      !f32_of(env, argv[2], &v, a.B * a.Lk * a.H * a.Dv) || !f32_of(env, argv[12], &o, a.B * a.Lq * a.H * a.Dv) || !f32_of(env, argv[13], &lse, a.B * a.H * a.Lq))
    FAIL("flashAttention: bad arguments or sizes");
  const int rc = rpelab_flash_forward(&a, q, k, v, o, lse, num_threads);
  if (rc == -2) FAIL("flashAttention: the addon was built without OpenBLAS");
  if (rc != 0) FAIL("flashAttention: out of memory");
  return NULL;
}

/* flashAttentionGrad(q, k, v, o, lse, dout, B, Lq, Lk, H, D, Dv, offset, scale, causal, dq, dk, dv) */
static napi_value flash_attention_grad(napi_env env, napi_callback_info info) {
  size_t argc = 18;
  napi_value argv[18];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabFlash a;
  float *q, *k, *v, *o, *lse, *dout, *dq, *dk, *dv;
  if (argc != 18 || !flash_args(env, argv + 6, &a)) FAIL("flashAttentionGrad: bad arguments or sizes");
  const int64_t nq = a.B * a.Lq * a.H * a.D, nk = a.B * a.Lk * a.H * a.D, nv = a.B * a.Lk * a.H * a.Dv, no = a.B * a.Lq * a.H * a.Dv;
  if (!f32_of(env, argv[0], &q, nq) || !f32_of(env, argv[1], &k, nk) || !f32_of(env, argv[2], &v, nv) || !f32_of(env, argv[3], &o, no) ||
      !f32_of(env, argv[4], &lse, a.B * a.H * a.Lq) || !f32_of(env, argv[5], &dout, no) || !f32_of(env, argv[15], &dq, nq) || !f32_of(env, argv[16], &dk, nk) ||
      !f32_of(env, argv[17], &dv, nv))
    FAIL("flashAttentionGrad: bad arguments or sizes");
  const int rc = rpelab_flash_backward(&a, q, k, v, o, lse, dout, dq, dk, dv, num_threads);
  if (rc == -2) FAIL("flashAttentionGrad: the addon was built without OpenBLAS");
  if (rc != 0) FAIL("flashAttentionGrad: out of memory");
  return NULL;
}

/* flashAvailable(): whether flashAttention runs in this build (it needs OpenBLAS). */
static napi_value flash_available(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_get_boolean(env, rpelab_flash_available() != 0, &out);
  return out;
}

/* ---- linear attention as recurrences (linear_scan.c) ------------------------------------------ */

/* decay, B, L, H, F, E, causal, normalize, eps, phi -> a; false on a bad value. */
static int linear_scan_args(napi_env env, napi_value *argv, RpelabLinearScan *a) {
  float *decay;
  size_t nd;
  int64_t causal, normalize, phi, *v[5] = {&a->B, &a->L, &a->H, &a->F, &a->E};
  double eps;
  if (!get_f32(env, argv[0], &decay, &nd, 1)) return 0;
  for (int i = 0; i < 5; i++) if (!get_int(env, argv[1 + i], v[i]) || *v[i] < 0) return 0;
  if (!get_int(env, argv[6], &causal) || !get_int(env, argv[7], &normalize) || napi_get_value_double(env, argv[8], &eps) != napi_ok ||
      !get_int(env, argv[9], &phi) || phi < 0 || phi > 1) return 0;
  a->decay = decay;
  a->causal = causal != 0;
  a->normalize = normalize != 0;
  a->phi = (int)phi;
  a->eps = (float)eps;
  return (decay == NULL || (int64_t)nd == a->H) && a->F >= 1 && a->E >= 1;
}

/* (map, u | null, C | null, S | null, P | null) -> a's LRPE map: map 0 none, 1 'pairs' (W even, <= F), 2 'unitary'
   (W = F), with the tables C, S [L, W], and u [F] or the dense P [F, F] (not both); false on a bad value. */
static int linear_scan_map_args(napi_env env, napi_value *argv, RpelabLinearScan *a) {
  int64_t map;
  size_t nu, nc, ns, np;
  float *u, *C, *S, *P;
  if (!get_int(env, argv[0], &map) || map < 0 || map > 2 || !get_f32(env, argv[1], &u, &nu, 1) || !get_f32(env, argv[2], &C, &nc, 1) ||
      !get_f32(env, argv[3], &S, &ns, 1) || !get_f32(env, argv[4], &P, &np, 1)) return 0;
  a->map = (int)map;
  a->map_u = NULL; a->map_C = NULL; a->map_S = NULL; a->map_P = NULL; a->map_W = 0;
  if (map == 0) return 1;
  if (!C || !S || nc != ns || a->L == 0 || nc % (size_t)a->L != 0 || (u && (int64_t)nu != a->F) || (P && (int64_t)np != a->F * a->F) || (u && P))
    return 0;
  const int64_t W = (int64_t)nc / a->L;
  if (map == 2 ? W != a->F : (W % 2 != 0 || W > a->F)) return 0;
  a->map_u = u; a->map_C = C; a->map_S = S; a->map_P = P; a->map_W = W;
  return 1;
}

/* The denominators den [B, L, H]: a Float32Array when normalizing, else null (den = NULL). */
static int den_of(napi_env env, napi_value v, const RpelabLinearScan *a, float **den) {
  size_t n;
  return get_f32(env, v, den, &n, 1) && (!a->normalize || (*den != NULL && (int64_t)n == a->B * a->L * a->H));
}

/* packed (0 | 1) -> a->packed; with 1, E must equal F. */
static int linear_scan_packed_arg(napi_env env, napi_value v, RpelabLinearScan *a) {
  int64_t packed;
  if (!get_int(env, v, &packed) || packed < 0 || packed > 1 || (packed && a->E != a->F)) return 0;
  a->packed = (int)packed;
  return 1;
}

/* q, k, v (or their gradients) from three arrays, or, packed, from one [B, L, 3, H, F] array passed three times. */
static int qkv_of(napi_env env, napi_value *argv, const RpelabLinearScan *a, float **q, float **k, float **v) {
  const int64_t nq = a->B * a->L * a->H * a->F, nv = a->B * a->L * a->H * a->E;
  if (!a->packed) return f32_of(env, argv[0], q, nq) && f32_of(env, argv[1], k, nq) && f32_of(env, argv[2], v, nv);
  float *p[3];
  for (int i = 0; i < 3; i++)
    if (!f32_of(env, argv[i], &p[i], 3 * nq) || p[i] != p[0]) return 0;
  *q = p[0];
  *k = p[0] + a->H * a->F;
  *v = p[0] + 2 * a->H * a->F;
  return 1;
}

/* linearScan(q, k, v, decay | null, B, L, H, F, E, causal, normalize, eps, phi, o, den | null, map, u | null, C | null, S | null, P | null, packed) */
static napi_value linear_scan(napi_env env, napi_callback_info info) {
  size_t argc = 21;
  napi_value argv[21];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabLinearScan a;
  float *q, *k, *v, *o, *den;
  if (argc != 21 || !linear_scan_args(env, argv + 3, &a) || !linear_scan_map_args(env, argv + 15, &a) || !linear_scan_packed_arg(env, argv[20], &a))
    FAIL("linearScan: bad arguments or sizes");
  const int64_t nv = a.B * a.L * a.H * a.E;
  if (!qkv_of(env, argv, &a, &q, &k, &v) || !f32_of(env, argv[13], &o, nv) || !den_of(env, argv[14], &a, &den)) FAIL("linearScan: bad arguments or sizes");
  if (rpelab_linear_scan_forward(&a, q, k, v, o, den, num_threads) != 0) FAIL("linearScan: out of memory");
  return NULL;
}

/* linearScanGrad(q, k, v, o, den | null, dout, decay | null, B, L, H, F, E, causal, normalize, eps, phi, dq, dk, dv, map, u | null, C | null, S | null, P | null, packed) */
static napi_value linear_scan_grad(napi_env env, napi_callback_info info) {
  size_t argc = 25;
  napi_value argv[25];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  RpelabLinearScan a;
  float *q, *k, *v, *o, *den, *dout, *dq, *dk, *dv;
  if (argc != 25 || !linear_scan_args(env, argv + 6, &a) || !linear_scan_map_args(env, argv + 19, &a) || !linear_scan_packed_arg(env, argv[24], &a))
    FAIL("linearScanGrad: bad arguments or sizes");
  const int64_t nv = a.B * a.L * a.H * a.E;
  if (!qkv_of(env, argv, &a, &q, &k, &v) || !f32_of(env, argv[3], &o, nv) || !den_of(env, argv[4], &a, &den) || !f32_of(env, argv[5], &dout, nv) ||
      !qkv_of(env, argv + 16, &a, &dq, &dk, &dv))
    FAIL("linearScanGrad: bad arguments or sizes");
  if (rpelab_linear_scan_backward(&a, q, k, v, o, den, dout, dq, dk, dv, num_threads) != 0) FAIL("linearScanGrad: out of memory");
  return NULL;
}

/* ---- box copies (copy_box.c) --------------------------------------------------------------------- */

/* copyBox(src, dst, params): params an Int32Array [rank, box[rank], srcShape[rank], srcBegin[rank], dstShape[rank], dstBegin[rank]] */
static napi_value copy_box(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *src, *dst;
  size_t ns, nd, np;
  const int32_t *p;
  if (argc != 3 || !get_words(env, argv[0], &src, &ns) || !get_words(env, argv[1], &dst, &nd) || !get_i32(env, argv[2], &p, &np) || np < 1)
    FAIL("copyBox: expected (src, dst, params) with 4-byte typed arrays and an Int32Array of parameters");
  const int rank = p[0];
  if (rank < 1 || rank > 8 || np != (size_t)(1 + 5 * rank)) FAIL("copyBox: rank must be 1..8 with 5 * rank parameters");
  int64_t box[8], sshape[8], sbegin[8], dshape[8], dbegin[8];
  int64_t sn = 1, dn = 1;
  for (int i = 0; i < rank; i++) {
    box[i] = p[1 + i];
    sshape[i] = p[1 + rank + i];
    sbegin[i] = p[1 + 2 * rank + i];
    dshape[i] = p[1 + 3 * rank + i];
    dbegin[i] = p[1 + 4 * rank + i];
    if (box[i] < 0 || sbegin[i] < 0 || dbegin[i] < 0 || sbegin[i] + box[i] > sshape[i] || dbegin[i] + box[i] > dshape[i]) FAIL("copyBox: the box leaves an array");
    sn *= sshape[i];
    dn *= dshape[i];
  }
  if ((int64_t)ns < sn || (int64_t)nd < dn) FAIL("copyBox: an array is smaller than its shape");
  rpelab_copy_box(rank, box, src, sshape, sbegin, dst, dshape, dbegin, 4);
  return NULL;
}

/* ---- FAVOR+ features (favor.c) ---------------------------------------------------------------- */

/* favorFeatures(x, wx, n, d, m, s, c, phi) */
static napi_value favor_features(napi_env env, napi_callback_info info) {
  size_t argc = 8, nx, nw, np;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *wx, *phi;
  int64_t n, d, m;
  double s, c;
  if (argc != 8 || !get_int(env, argv[2], &n) || !get_int(env, argv[3], &d) || !get_int(env, argv[4], &m) || n < 0 || d < 1 || m < 1 ||
      napi_get_value_double(env, argv[5], &s) != napi_ok || napi_get_value_double(env, argv[6], &c) != napi_ok || !get_f32(env, argv[0], &x, &nx, 0) ||
      !get_f32(env, argv[1], &wx, &nw, 0) || !get_f32(env, argv[7], &phi, &np, 0) || (int64_t)nx != n * d || (int64_t)nw != n * m || (int64_t)np != n * m)
    FAIL("favorFeatures: expected (x [n, d], wx [n, m], n, d >= 1, m >= 1, s, c, phi [n, m])");
  rpelab_favor_features(n, d, m, x, wx, (float)s, (float)c, phi, num_threads);
  return NULL;
}

/* favorFeaturesGrad(x, wx, dphi, n, d, m, c, dwx, dx) */
static napi_value favor_features_grad(napi_env env, napi_callback_info info) {
  size_t argc = 9, nx, nw, ng, nd, ndx;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *wx, *dphi, *dwx, *dx;
  int64_t n, d, m;
  double c;
  if (argc != 9 || !get_int(env, argv[3], &n) || !get_int(env, argv[4], &d) || !get_int(env, argv[5], &m) || n < 0 || d < 1 || m < 1 ||
      napi_get_value_double(env, argv[6], &c) != napi_ok || !get_f32(env, argv[0], &x, &nx, 0) || !get_f32(env, argv[1], &wx, &nw, 0) ||
      !get_f32(env, argv[2], &dphi, &ng, 0) || !get_f32(env, argv[7], &dwx, &nd, 0) || !get_f32(env, argv[8], &dx, &ndx, 0) || (int64_t)nx != n * d ||
      (int64_t)nw != n * m || (int64_t)ng != n * m || (int64_t)nd != n * m || (int64_t)ndx != n * d)
    FAIL("favorFeaturesGrad: expected (x [n, d], wx [n, m], dphi [n, m], n, d >= 1, m >= 1, c, dwx [n, m], dx [n, d])");
  rpelab_favor_features_grad(n, d, m, x, wx, dphi, (float)c, dwx, dx, num_threads);
  return NULL;
}

/* ---- axis permutation (transpose.c) ----------------------------------------------------------- */

/* transpose(src, dst, shape: Int32Array, perm: Int32Array): 4-byte elements, rank 1..8 */
static napi_value transpose(napi_env env, napi_callback_info info) {
  size_t argc = 4, ns, nd, nsh, np;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *src, *dst;
  const int32_t *sh, *pe;
  if (argc != 4 || !get_words(env, argv[0], &src, &ns) || !get_words(env, argv[1], &dst, &nd) || !get_i32(env, argv[2], &sh, &nsh) ||
      !get_i32(env, argv[3], &pe, &np) || nsh != np || nsh < 1 || nsh > 8)
    FAIL("transpose: expected (src, dst, shape: Int32Array, perm: Int32Array) with 4-byte typed arrays and rank 1..8");
  int64_t shape[8], n = 1;
  int perm[8], seen[8] = {0};
  for (size_t i = 0; i < nsh; i++) {
    if (sh[i] < 0 || pe[i] < 0 || pe[i] >= (int32_t)nsh || seen[pe[i]]++) FAIL("transpose: perm must be a permutation of the axes and the shape >= 0");
    shape[i] = sh[i];
    perm[i] = pe[i];
    n *= sh[i];
  }
  if ((int64_t)ns != n || (int64_t)nd != n) FAIL("transpose: array sizes do not match the shape");
  rpelab_transpose((int)nsh, shape, perm, (const uint32_t *)src, (uint32_t *)dst);
  return NULL;
}

/* ---- row gathers and scatter-adds (rows.c) ----------------------------------------------------- */

/* gatherRows(src, ids, dst, outer, dim, inner): dst [outer, ids.length, inner] from src [outer, dim, inner] (4-byte elements) */
static napi_value gather_rows(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char *src, *dst;
  size_t ns, nd, ni;
  const int32_t *ids;
  int64_t outer, dim, inner;
  if (argc != 6 || !get_words(env, argv[0], &src, &ns) || !get_i32(env, argv[1], &ids, &ni) || !get_words(env, argv[2], &dst, &nd) ||
      !get_int(env, argv[3], &outer) || !get_int(env, argv[4], &dim) || !get_int(env, argv[5], &inner) || outer < 0 || dim < 0 || inner < 0)
    FAIL("gatherRows: expected (src, ids: Int32Array, dst, outer, dim, inner) with 4-byte typed arrays and sizes >= 0");
  if ((int64_t)ns != outer * dim * inner || (int64_t)nd != outer * (int64_t)ni * inner) FAIL("gatherRows: array sizes do not match");
  for (size_t i = 0; i < ni; i++)
    if (ids[i] < 0 || ids[i] >= dim) FAIL("gatherRows: an id is outside [0, dim)");
  rpelab_gather_rows(outer, dim, inner, src, (int64_t)ni, ids, dst);
  return NULL;
}

/* scatterAddRows(x, ids, out, segments): out [segments, w] = Σ of the rows of x [ids.length, w] by id */
static napi_value scatter_add_rows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *out;
  size_t nx, no, ni;
  const int32_t *ids;
  int64_t segments;
  if (argc != 4 || !get_f32(env, argv[0], &x, &nx, 0) || !get_i32(env, argv[1], &ids, &ni) || !get_f32(env, argv[2], &out, &no, 0) ||
      !get_int(env, argv[3], &segments) || segments < 0)
    FAIL("scatterAddRows: expected (x: Float32Array, ids: Int32Array, out: Float32Array, segments >= 0)");
  const int64_t w = ni ? (int64_t)(nx / ni) : 0;
  if ((int64_t)ni * w != (int64_t)nx || (ni && (int64_t)no != segments * w) || (!ni && nx)) FAIL("scatterAddRows: array sizes do not match");
  rpelab_scatter_add_rows((int64_t)ni, w, x, ids, segments, out);
  return NULL;
}

/* ---- Adam(W) update (adam.c) ------------------------------------------------------------------- */

/* adamStep(p, m, v, g, b1, c1, b2, c2, keep, bc2, eps, step, pOut, mOut, vOut): every array of the same length */
static napi_value adam_step(napi_env env, napi_callback_info info) {
  size_t argc = 15;
  napi_value argv[15];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *arr[7];
  size_t len[7];
  double c[8];
  const int at[7] = {0, 1, 2, 3, 12, 13, 14};
  if (argc != 15) FAIL("adamStep: expected 15 arguments");
  for (int i = 0; i < 7; i++)
    if (!get_f32(env, argv[at[i]], &arr[i], &len[i], 0) || len[i] != len[0]) FAIL("adamStep: p, m, v, g and the outputs must be Float32Arrays of one length");
  for (int i = 0; i < 8; i++)
    if (napi_get_value_double(env, argv[4 + i], &c[i]) != napi_ok) FAIL("adamStep: the coefficients must be numbers");
  rpelab_adam_step((int64_t)len[0], arr[0], arr[1], arr[2], arr[3], (float)c[0], (float)c[1], (float)c[2], (float)c[3], (float)c[4], (float)c[5], (float)c[6],
                   (float)c[7], arr[4], arr[5], arr[6]);
  return NULL;
}

/* ---- layer normalisation (layernorm.c) -------------------------------------------------------- */

/* layerNorm(x, gamma, beta, n, f, eps, y, mean, rstd) */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  size_t argc = 9, nx, ng, nb, ny, nm, nr;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *g, *b, *y, *m, *r;
  int64_t n, f;
  double eps;
  if (argc != 9 || !get_int(env, argv[3], &n) || !get_int(env, argv[4], &f) || n < 0 || f < 1 ||
      napi_get_value_double(env, argv[5], &eps) != napi_ok || !(eps > 0) ||
      !get_f32(env, argv[0], &x, &nx, 0) || !get_f32(env, argv[1], &g, &ng, 0) || !get_f32(env, argv[2], &b, &nb, 0) ||
      !get_f32(env, argv[6], &y, &ny, 0) || !get_f32(env, argv[7], &m, &nm, 0) || !get_f32(env, argv[8], &r, &nr, 0) ||
      (int64_t)nx != n * f || (int64_t)ng != f || (int64_t)nb != f || (int64_t)ny != n * f || (int64_t)nm != n || (int64_t)nr != n) FAIL("layerNorm: bad arguments or sizes");
  rpelab_layernorm(n, f, x, g, b, (float)eps, y, m, r, num_threads);
  return NULL;
}

/* layerNormGrad(dy, x, mean, rstd, gamma, n, f, dx, dgamma, dbeta) */
static napi_value layer_norm_grad(napi_env env, napi_callback_info info) {
  size_t argc = 10, n0, n1, n2, n3, n4, n5, n6, n7;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *dy, *x, *m, *r, *g, *dx, *dg, *db;
  int64_t n, f;
  if (argc != 10 || !get_int(env, argv[5], &n) || !get_int(env, argv[6], &f) || n < 0 || f < 1 ||
      !get_f32(env, argv[0], &dy, &n0, 0) || !get_f32(env, argv[1], &x, &n1, 0) || !get_f32(env, argv[2], &m, &n2, 0) ||
      !get_f32(env, argv[3], &r, &n3, 0) || !get_f32(env, argv[4], &g, &n4, 0) || !get_f32(env, argv[7], &dx, &n5, 0) ||
      !get_f32(env, argv[8], &dg, &n6, 0) || !get_f32(env, argv[9], &db, &n7, 0) ||
      (int64_t)n0 != n * f || (int64_t)n1 != n * f || (int64_t)n2 != n || (int64_t)n3 != n || (int64_t)n4 != f ||
      (int64_t)n5 != n * f || (int64_t)n6 != f || (int64_t)n7 != f) FAIL("layerNormGrad: bad arguments or sizes");
  if (rpelab_layernorm_grad(n, f, dy, x, m, r, g, dx, dg, db, num_threads) != 0) FAIL("layerNormGrad: out of memory");
  return NULL;
}

/* sinCos(x, cos, sin) */
static napi_value sin_cos(napi_env env, napi_callback_info info) {
  size_t argc = 3, nx, nc, ns;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *c, *s;
  if (argc != 3 || !get_f32(env, argv[0], &x, &nx, 0) || !get_f32(env, argv[1], &c, &nc, 0) || !get_f32(env, argv[2], &s, &ns, 0) ||
      nc != nx || ns != nx) FAIL("sinCos: expected three Float32Arrays of one size");
  rpelab_sin_cos((int64_t)nx, x, c, s, num_threads);
  return NULL;
}

/* ---- convSPE's code (conv_spe.c) ---------------------------------------------------------- */

/* Reads (T, C, R, P) at argv[0..3] and three Float32Arrays at argv[4..6] of sizes want(T, C, R, P). */
static int conv_code_args(napi_env env, napi_callback_info info, int grad, int64_t *v, float **a, float **b, float **out) {
  size_t argc = 7, na, nb, no;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 7) return 0;
  for (int i = 0; i < 4; i++) if (!get_int(env, argv[i], &v[i]) || v[i] < 1) return 0;
  if (v[3] > v[0] || !get_f32(env, argv[4], a, &na, 0) || !get_f32(env, argv[5], b, &nb, 0) || !get_f32(env, argv[6], out, &no, 0)) return 0;
  const int64_t z = v[1] * v[0] * v[2], f = v[1] * v[3], y = (v[0] - v[3] + 1) * v[1] * v[2];
  return (int64_t)na == z && (int64_t)nb == (grad ? y : f) && (int64_t)no == (grad ? f : y);
}

/* convCode(T, C, R, P, z [C, T, R], f [C, P], y [T−P+1, C, R]) */
static napi_value conv_code(napi_env env, napi_callback_info info) {
  int64_t v[4];
  float *z, *f, *y;
  if (!conv_code_args(env, info, 0, v, &z, &f, &y)) FAIL("convCode: bad arguments or sizes");
  rpelab_conv_code(v[0], v[1], v[2], v[3], z, f, y, num_threads);
  return NULL;
}

/* convCodeFilterGrad(T, C, R, P, z [C, T, R], dy [T−P+1, C, R], df [C, P]) */
static napi_value conv_code_filter_grad(napi_env env, napi_callback_info info) {
  int64_t v[4];
  float *z, *dy, *df;
  if (!conv_code_args(env, info, 1, v, &z, &dy, &df)) FAIL("convCodeFilterGrad: bad arguments or sizes");
  if (rpelab_conv_code_filter_grad(v[0], v[1], v[2], v[3], z, dy, df, num_threads) != 0) FAIL("convCodeFilterGrad: out of memory");
  return NULL;
}

/* ---- standard normal draws (normal.c) ------------------------------------------------------ */

/* normalPairs(state Uint32Array [4], out Float32Array, pairs): writes out[0 .. 2·pairs) */
static napi_value normal_pairs(napi_env env, napi_callback_info info) {
  size_t argc = 3, ns, no;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type type;
  void *state;
  float *out;
  int64_t pairs;
  if (argc != 3 || !typed_array(env, argv[0], &type, &state, &ns) || type != napi_uint32_array || ns != 4 ||
      !get_f32(env, argv[1], &out, &no, 0) || !get_int(env, argv[2], &pairs) || pairs < 0 || (int64_t)no < 2 * pairs)
    FAIL("normalPairs: expected a Uint32Array(4) state, a Float32Array of at least 2 * pairs and pairs >= 0");
  rpelab_normal_pairs((uint32_t *)state, pairs, out);
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
    {"reluMask", NULL, relu_mask, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"useBlasLibrary", NULL, use_blas_library, NULL, NULL, NULL, napi_default, NULL},
    {"blas", NULL, blas_name, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseConv", NULL, depthwise_conv, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseFilterGrad", NULL, depthwise_filter_grad, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseInputGrad", NULL, depthwise_input_grad, NULL, NULL, NULL, napi_default, NULL},
    {"sineProject", NULL, sine_project, NULL, NULL, NULL, napi_default, NULL},
    {"sineProjectGrad", NULL, sine_project_grad, NULL, NULL, NULL, napi_default, NULL},
    {"softmaxNll", NULL, softmax_nll, NULL, NULL, NULL, napi_default, NULL},
    {"softmaxNllGrad", NULL, softmax_nll_grad, NULL, NULL, NULL, napi_default, NULL},
    {"layerNorm", NULL, layer_norm, NULL, NULL, NULL, napi_default, NULL},
    {"layerNormGrad", NULL, layer_norm_grad, NULL, NULL, NULL, napi_default, NULL},
    {"sinCos", NULL, sin_cos, NULL, NULL, NULL, napi_default, NULL},
    {"lrpeMap", NULL, lrpe_map, NULL, NULL, NULL, napi_default, NULL},
    {"lrpeMapGrad", NULL, lrpe_map_grad, NULL, NULL, NULL, napi_default, NULL},
    {"convCode", NULL, conv_code, NULL, NULL, NULL, napi_default, NULL},
    {"convCodeFilterGrad", NULL, conv_code_filter_grad, NULL, NULL, NULL, napi_default, NULL},
    {"normalPairs", NULL, normal_pairs, NULL, NULL, NULL, napi_default, NULL},
    {"flashAttention", NULL, flash_attention, NULL, NULL, NULL, napi_default, NULL},
    {"flashAttentionGrad", NULL, flash_attention_grad, NULL, NULL, NULL, napi_default, NULL},
    {"flashAvailable", NULL, flash_available, NULL, NULL, NULL, napi_default, NULL},
    {"linearScan", NULL, linear_scan, NULL, NULL, NULL, napi_default, NULL},
    {"linearScanGrad", NULL, linear_scan_grad, NULL, NULL, NULL, napi_default, NULL},
    {"copyBox", NULL, copy_box, NULL, NULL, NULL, napi_default, NULL},
    {"adamStep", NULL, adam_step, NULL, NULL, NULL, napi_default, NULL},
    {"transpose", NULL, transpose, NULL, NULL, NULL, napi_default, NULL},
    {"favorFeatures", NULL, favor_features, NULL, NULL, NULL, napi_default, NULL},
    {"favorFeaturesGrad", NULL, favor_features_grad, NULL, NULL, NULL, napi_default, NULL},
    {"gatherRows", NULL, gather_rows, NULL, NULL, NULL, napi_default, NULL},
    {"scatterAddRows", NULL, scatter_add_rows, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
