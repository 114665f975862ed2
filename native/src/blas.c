/*
 * matMul's matrix product from a well-kept library: OpenBLAS's cblas_sgemm (Debian's
 * libopenblas-dev, which picks its kernel for the CPU at run time), when scripts/build-native.sh
 * found it (RPELAB_OPENBLAS); the builtin sgemm of sgemm.c otherwise, or when switched to it
 * (rpelab_use_blas_library(0), for the benchmark and the tests that compare the two).
 *
 * Threads, one policy: OpenBLAS always runs single-threaded, and rpelab's own pool (jobs.c) is the
 * only one of its threads (RPELAB_THREADS, shared out among `rpelab run --jobs` workers). One
 * product is cut into as many blocks of rows of C (or of columns, when C is wider than tall) as
 * there are threads, each block one OpenBLAS call; a batch of products is split over the same
 * threads. OpenBLAS's own two threads ran the small LM's products (k = 64-256 on [2048, 64]-sized
 * operands) in 14.8-17.2 ms per training step, against 10.3-11.3 ms as row blocks
 * on rpelab's pool (2-vCPU AMD EPYC, bench/step-kernels.ts; README, "Compute backend").
 * Small products (under ~4M multiply-adds) run on one thread.
 */
#include <string.h>
#include <stdio.h>
#include "blas.h"
#include "jobs.h"
#include "sgemm.h"

/* c[i, j] += bias[j] for i < rows, j < cols (row stride ldc), then max(c, 0) when relu: a fused
   product's bias and activation, on the block just computed while it is in this thread's cache. */
static void bias_block(float *c, int64_t ldc, int64_t rows, int64_t cols, const float *bias, int relu) {
  for (int64_t i = 0; i < rows; i++) {
    float *r = c + i * ldc;
    if (relu)
      for (int64_t j = 0; j < cols; j++) {
        const float v = r[j] + bias[j];
        r[j] = v > 0 ? v : 0.0f;
      }
    else
      for (int64_t j = 0; j < cols; j++) r[j] += bias[j];
  }
}

#ifdef RPELAB_OPENBLAS
#include <cblas.h>
/* OpenBLAS's own entry points (in its cblas.h, but not in the reference CBLAS header an alternative may provide). */
void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);
char *openblas_get_corename(void);

static int use_library = 1;

typedef struct {
  int64_t m, n, k, batch_a, batch_b, first, last;
  const float *a, *b;
  float *c;
  int trans_a, trans_b;
} LibJob;

static void product(const LibJob *j, int64_t g) {
  const float *a = j->a + (j->batch_a == 1 ? 0 : g) * j->m * j->k, *b = j->b + (j->batch_b == 1 ? 0 : g) * j->k * j->n;
  rpelab_sgemm_strided_library(j->trans_a, j->trans_b, j->m, j->n, j->k, 1.0f, a, j->trans_a ? j->m : j->k, b, j->trans_b ? j->k : j->n, 0.0f,
                               j->c + g * j->m * j->n, j->n);
}

static void *run_lib_job(void *arg) {
  const LibJob *j = arg;
  for (int64_t g = j->first; g < j->last; g++) product(j, g);
  return NULL;
}

/* One block of C = op(A)·op(B) (+ bias, ReLU): rows [first, last) of C, or its columns when by_columns. */
typedef struct {
  int64_t m, n, k, first, last;
  const float *a, *b;
  float *c;
  int trans_a, trans_b, by_columns;
  const float *bias; /* [n] or NULL */
  int relu;
} LibBlock;

static void *run_lib_block(void *arg) {
  const LibBlock *j = arg;
  const int64_t lda = j->trans_a ? j->m : j->k, ldb = j->trans_b ? j->k : j->n, w = j->last - j->first;
  if (w <= 0) return NULL;
  if (j->by_columns) {
    /* columns of op(B): B's columns, or B's rows when transposed */
    const float *b = j->b + (j->trans_b ? j->first * j->k : j->first);
    rpelab_sgemm_strided_library(j->trans_a, j->trans_b, j->m, w, j->k, 1.0f, j->a, lda, b, ldb, 0.0f, j->c + j->first, j->n);
    if (j->bias) bias_block(j->c + j->first, j->n, j->m, w, j->bias + j->first, j->relu);
  } else {
    /* rows of op(A): A's rows, or A's columns when transposed */
    const float *a = j->a + (j->trans_a ? j->first : j->first * j->k);
    rpelab_sgemm_strided_library(j->trans_a, j->trans_b, w, j->n, j->k, 1.0f, a, lda, j->b, ldb, 0.0f, j->c + j->first * j->n, j->n);
    if (j->bias) bias_block(j->c + j->first * j->n, j->n, w, j->n, j->bias, j->relu);
  }
  return NULL;
}

/* Whether library_batch_sgemm applies a bias itself (one product, in its blocks). */
static int library_takes_bias(int64_t batch, int64_t m, int64_t n, int64_t k) { return batch == 1 && m > 0 && n > 0 && k > 0; }

static int library_batch_sgemm(int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k, const float *a, int trans_a,
                               const float *b, int trans_b, float *c, const float *bias, int relu, int threads) {
  if (m == 0 || n == 0) return 0;
  if (k == 0) {
    memset(c, 0, sizeof(float) * (size_t)(batch * m * n));
    return 0;
  }
  rpelab_blas_serial_begin(); /* OpenBLAS itself never threads: blocks and batches go to rpelab's pool */
  if (batch == 1) {
    /* blocks of at least 16 rows (or columns), on 16-aligned edges */
    const int by_columns = n > m;
    const int64_t len = by_columns ? n : m;
    const int t = rpelab_job_count(threads, (double)m * n * k, 4e6, len / 16);
    LibBlock blocks[64];
    for (int i = 0; i < t; i++) {
      blocks[i] = (LibBlock){m, n, k, i == 0 ? 0 : (len * i / t + 8) / 16 * 16, i == t - 1 ? len : (len * (i + 1) / t + 8) / 16 * 16, a, b, c,
                             trans_a, trans_b, by_columns, bias, relu};
    }
    rpelab_run_jobs(run_lib_block, blocks, sizeof(LibBlock), t);
    return 0;
  }
  const int t = rpelab_job_count(threads, (double)batch * m * n * k, 4e6, batch);
  LibJob base = {m, n, k, batch_a, batch_b, 0, batch, a, b, c, trans_a, trans_b};
  LibJob jobs[64];
  for (int i = 0; i < t; i++) {
    jobs[i] = base;
    jobs[i].first = batch * i / t;
    jobs[i].last = batch * (i + 1) / t;
  }
  rpelab_run_jobs(run_lib_job, jobs, sizeof(LibJob), t);
  return 0;
}
#endif

int rpelab_batch_sgemm(int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k, const float *a, int trans_a, const float *b,
                       int trans_b, float *c, int threads) {
  return rpelab_batch_sgemm_bias(batch, batch_a, batch_b, m, n, k, a, trans_a, b, trans_b, c, NULL, 0, threads);
}

int rpelab_batch_sgemm_bias(int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k, const float *a, int trans_a,
                            const float *b, int trans_b, float *c, const float *bias, int relu, int threads) {
#ifdef RPELAB_OPENBLAS
  if (use_library) {
    const int takes = bias && library_takes_bias(batch, m, n, k);
    const int r = library_batch_sgemm(batch, batch_a, batch_b, m, n, k, a, trans_a, b, trans_b, c, takes ? bias : NULL, relu, threads);
    if (r == 0 && bias && !takes) bias_block(c, n, batch * m, n, bias, relu);
    return r;
  }
#endif
  const int r = rpelab_batch_sgemm_builtin(batch, batch_a, batch_b, m, n, k, a, trans_a, b, trans_b, c, threads);
  if (r == 0 && bias) bias_block(c, n, batch * m, n, bias, relu);
  return r;
}

void rpelab_sgemm_serial(int64_t m, int64_t n, int64_t k, const float *a, int trans_a, int64_t lda, const float *b, int trans_b, float *c,
                         float *work) {
#ifdef RPELAB_OPENBLAS
  if (use_library) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
      memset(c, 0, sizeof(float) * (size_t)(m * n));
      return;
    }
    rpelab_sgemm_strided_library(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, trans_b ? k : n, 0.0f, c, n);
    return;
  }
#endif
  rpelab_sgemm_strided(m, n, k, a, trans_a ? 1 : lda, trans_a ? lda : 1, b, trans_b, c, work);
}

size_t rpelab_sgemm_serial_workspace(int64_t m, int64_t n, int64_t k) {
  return rpelab_sgemm_workspace(m, n, k);
}

int rpelab_sgemm_strided_library(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                                 int64_t ldb, float beta, float *c, int64_t ldc) {
#ifdef RPELAB_OPENBLAS
  if (m > 0 && n > 0)
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb,
                beta, c, (int)ldc);
  return 1;
#else
  (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
  return 0;
#endif
}

int rpelab_blas_has_library(void) {
#ifdef RPELAB_OPENBLAS
  return 1;
#else
  return 0;
#endif
}

void rpelab_blas_serial_begin(void) {
#ifdef RPELAB_OPENBLAS
  openblas_set_num_threads(1);
#endif
}

const char *rpelab_blas_name(void) {
#ifdef RPELAB_OPENBLAS
  static char name[160];
  if (!name[0]) {
    /* openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64" */
    char version[32] = "";
    sscanf(openblas_get_config(), "OpenBLAS %31s", version);
    snprintf(name, sizeof name, "openblas %s %s", version, openblas_get_corename());
  }
  return use_library ? name : "builtin";
#else
  return "builtin";
#endif
}

int rpelab_use_blas_library(int on) {
#ifdef RPELAB_OPENBLAS
  use_library = on != 0;
  return 0;
#else
  return on ? -1 : 0;
#endif
}
