/**
 * rpelab's optional native kernels (`native/`, a small N-API addon in C built by node-gyp:
 * `npm run build:native`, which `npm test`, `npm run reproduce` and `npm run bench` attempt
 * themselves). Where it is built, JS kernels (`js-kernels.ts`) hand their loops to it; where it
 * is not (no compiler, no Node headers) or `RPELAB_NATIVE=0`, the JavaScript loops run instead.
 * Both compute the same numbers (tested against each other).
 *
 * The native matmul is OpenBLAS's sgemm where the addon was built with it (else its own). Large
 * products run on `RPELAB_THREADS` threads (default: the machine's available parallelism), all of
 * them rpelab's own (OpenBLAS single-threaded in each; native/src/jobs.c); `rpelab run --jobs N`
 * gives each of its N worker processes an equal share.
 */
import * as os from 'os';
import * as path from 'path';

/** The linear attention kernels' sizes and options (`linearScan`, `linearScanGrad`). */
export type LinearScanSizes = [
  decay: Float32Array | null,
  B: number,
  L: number,
  H: number,
  F: number,
  E: number,
  causal: 0 | 1,
  normalize: 0 | 1,
  eps: number,
  phi: 0 | 1,
];

/** Their LRPE map (see `linearScan`): its code (0 none, 1 pairs, 2 unitary), u, C, S and the dense P. */
export type LinearScanMap = [map: 0 | 1 | 2, u: Float32Array | null, C: Float32Array | null, S: Float32Array | null, P: Float32Array | null];

/** The addon's functions. Arrays are float32 typed arrays; integers are plain numbers. */
export interface NativeKernels {
  /** 'avx2+fma' when compiled for a machine with them, else 'portable' (plain C loops). */
  readonly simd: string;
  /**
   * out[g] = op(a[g]) · op(b[g]) for g < batch, row-major; a (b) holds batchA (batchB) matrices,
   * 1 meaning one shared by every g. op(a) is [m, k] (a is [k, m] when transA = 1), op(b) [k, n].
   * With `bias` [n]: then out[g][i, j] += bias[j], and max(out, 0) when relu = 1 (a fused product's
   * bias and activation, applied by each thread to the block of the output it has just computed;
   * the same bits as a pass after the product).
   */
  matMul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    batch: number,
    batchA: number,
    batchB: number,
    m: number,
    n: number,
    k: number,
    transA: 0 | 1,
    transB: 0 | 1,
    bias?: Float32Array,
    relu?: 0 | 1,
  ): void;
  /** Threads the native kernels may use (1..64); each stays on one below its own size limit (products under ~4M multiply-adds, for one). */
  setThreads(n: number): void;
  /**
   * What computes `matMul`: 'openblas <version> <core>' (OpenBLAS's cblas_sgemm, where the addon was
   * built with it: scripts/build-native.sh) or 'builtin' (the addon's own sgemm).
   */
  blas(): string;
  /** 1: OpenBLAS computes `matMul` (the default where built with it); 0: the builtin sgemm (to compare the two). Throws for 1 in a build without OpenBLAS. */
  useBlasLibrary(on: 0 | 1): void;
  /**
   * Depthwise convolution (tfjs's correlation), NHWC, one output per channel, stride 1, no padding:
   * out [n, h−fh+1, w−fw+1, c] from x [n, h, w, c] and f [fh, fw, c]. The two gradients: of the
   * filter (from x and dy) and of the input (from dy and f).
   */
  depthwiseConv(n: number, h: number, w: number, c: number, fh: number, fw: number, x: Float32Array, f: Float32Array, out: Float32Array): void;
  depthwiseFilterGrad(n: number, h: number, w: number, c: number, fh: number, fw: number, x: Float32Array, dy: Float32Array, out: Float32Array): void;
  depthwiseInputGrad(n: number, h: number, w: number, c: number, fh: number, fw: number, dy: Float32Array, f: Float32Array, out: Float32Array): void;
  /** out[j] = Σ_i x[i, j] for x [rows, cols], in float32, row after row (the order of wasm's Sum). */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /** dz = dy where y > 0, else 0: ReLU's gradient from its output (all three of one length). */
  reluMask(dy: Float32Array, y: Float32Array, dz: Float32Array): void;
  /**
   * See `encodings/spe/sine-kernels.ts` (SINE_PROJECT). Writes `out` [2, B·L, H, R]; theta may be null (0).
   * shared: 1 builds each position's code once for the whole batch, 0 projects each sequence's features (see native/src/sine_spe.c).
   */
  sineProject(
    xq: Float32Array,
    xk: Float32Array,
    omega: Float32Array,
    theta: Float32Array | null,
    amp: Float32Array,
    gateAmp: Float32Array | null,
    z: Float32Array,
    B: number,
    L: number,
    H: number,
    D: number,
    K: number,
    R: number,
    offset: number,
    out: Float32Array,
    shared: 0 | 1,
  ): void;
  /** See `encodings/spe/sine-kernels.ts` (SINE_PROJECT_GRAD); dGate is null exactly when gateAmp is. */
  sineProjectGrad(
    xq: Float32Array,
    xk: Float32Array,
    omega: Float32Array,
    theta: Float32Array | null,
    amp: Float32Array,
    gateAmp: Float32Array | null,
    z: Float32Array,
    B: number,
    L: number,
    H: number,
    D: number,
    K: number,
    R: number,
    offset: number,
    dy: Float32Array,
    dxq: Float32Array,
    dxk: Float32Array,
    dOmega: Float32Array,
    dTheta: Float32Array,
    dAmp: Float32Array,
    dGate: Float32Array | null,
    shared: 0 | 1,
  ): void;
  /**
   * convSPE's code (see `encodings/spe/conv-kernels.ts`): y [T−P+1, C, R] from the noise z [C, T, R] and
   * the filters f [C, P], y[m, c, r] = Σ_j f[c, j]·z[c, m + j, r]; and the filters' gradient df [C, P] from dy.
   */
  convCode(T: number, C: number, R: number, P: number, z: Float32Array, f: Float32Array, y: Float32Array): void;
  convCodeFilterGrad(T: number, C: number, R: number, P: number, z: Float32Array, dy: Float32Array, df: Float32Array): void;
  /** `pairs` Box–Muller pairs of `Rng.fillNormal` into out[0 .. 2·pairs), advancing the generator state in place. */
  normalPairs(state: Uint32Array, out: Float32Array, pairs: number): void;
  /**
   * Softmax attention in O(L) memory (`attention/softmax-flash.ts`): o [B, Lq, H, Dv] and the
   * log-sum-exp of each query's logits, lse [B, H, Lq], from q [B, Lq, H, D], k [B, Lk, H, D],
   * v [B, Lk, H, Dv]; the query at row i sits at position offset + i (causal: it sees keys ≤ offset + i).
   */
  flashAttention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    B: number,
    Lq: number,
    Lk: number,
    H: number,
    D: number,
    Dv: number,
    offset: number,
    scale: number,
    causal: 0 | 1,
    o: Float32Array,
    lse: Float32Array,
  ): void;
  /** Its gradients dq, dk, dv from dout, recomputing the probabilities from lse. */
  flashAttentionGrad(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    o: Float32Array,
    lse: Float32Array,
    dout: Float32Array,
    B: number,
    Lq: number,
    Lk: number,
    H: number,
    D: number,
    Dv: number,
    offset: number,
    scale: number,
    causal: 0 | 1,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
  ): void;
  /** Whether `flashAttention` runs in this build (it needs OpenBLAS's strided products). */
  flashAvailable(): boolean;
  /**
   * Linear attention as recurrences (`attention/linear-scan.ts`): o [B, L, H, E] and, with
   * `normalize`, the denominators den [B, L, H] from q, k [B, L, H, F] (the features, or with
   * phi = 1 the raw values the kernel maps by elu + 1) and values v [B, L, H, E]; decay [H] rates
   * in (0, 1] or null. map 1 ('pairs') or 2 ('unitary'): LRPE's map y = Λ P x applied to the rows
   * as they are gathered (after φ), with the Householder unit u [F] or null and the tables C, S
   * [L, W] (0: none, u, C, S null); or instead of u a dense P [F, F], the rows multiplied by it from
   * the right first (z = x · P). packed 1: q, k, v are one [B, L, 3, H, F] array passed three
   * times (E = F), as are dq, dk, dv for the gradient.
   */
  linearScan(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    ...rest: [...LinearScanSizes, ...[o: Float32Array, den: Float32Array | null], ...LinearScanMap, ...[packed: 0 | 1]]
  ): void;
  /** Its gradients dq, dk, dv from dout, given the forward's o and den (the rest as there). */
  linearScanGrad(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    o: Float32Array,
    den: Float32Array | null,
    dout: Float32Array,
    ...rest: [...LinearScanSizes, ...[dq: Float32Array, dk: Float32Array, dv: Float32Array], ...LinearScanMap, ...[packed: 0 | 1]]
  ): void;
  /**
   * Copies a box between row-major arrays of 4-byte elements (`backend/fast-kernels.ts`): params
   * = [rank, box…, srcShape…, srcBegin…, dstShape…, dstBegin…].
   */
  copyBox(src: Float32Array | Int32Array, dst: Float32Array | Int32Array, params: Int32Array): void;
  /**
   * Axis permutation of 4-byte elements (`backend/fast-kernels.ts`, Transpose): dst has shape
   * [shape[perm[0]], ...] and dst[i] = src[j] with j[perm[k]] = i[k]; rank 1..8.
   */
  transpose(src: Float32Array | Int32Array, dst: Float32Array | Int32Array, shape: Int32Array, perm: Int32Array): void;
  /**
   * FAVOR+'s features (`attention/favor-kernels.ts`): phi [n, m] = (exp(wx − ½|x|²) + s)·c per row,
   * for x [n, d] and wx [n, m].
   */
  favorFeatures(x: Float32Array, wx: Float32Array, n: number, d: number, m: number, s: number, c: number, phi: Float32Array): void;
  /** Their gradient from dphi [n, m]: dwx [n, m] and dx [n, d] (the part through ½|x|²). */
  favorFeaturesGrad(
    x: Float32Array,
    wx: Float32Array,
    dphi: Float32Array,
    n: number,
    d: number,
    m: number,
    c: number,
    dwx: Float32Array,
    dx: Float32Array,
  ): void;
  /**
   * Row gather (`backend/fast-kernels.ts`, GatherV2): dst [outer, ids.length, inner] with
   * dst[o, i] = src[o, ids[i]] for src [outer, dim, inner]; throws on an id outside [0, dim).
   */
  gatherRows(src: Float32Array | Int32Array, ids: Int32Array, dst: Float32Array | Int32Array, outer: number, dim: number, inner: number): void;
  /**
   * Scatter-add (`backend/fast-kernels.ts`, UnsortedSegmentSum): out [segments, w] = Σ of the rows
   * of x [ids.length, w] with that id, in input order; ids outside [0, segments) dropped.
   */
  scatterAddRows(x: Float32Array, ids: Int32Array, out: Float32Array, segments: number): void;
  /**
   * One Adam(W) update (`train/adam-kernels.ts`): pOut, mOut, vOut from p, m, v, g with
   * m' = m·b1 + g·c1, v' = v·b2 + (g·g)·c2, p' = p·keep − m' / (√v' / bc2 + eps) · step, in float32.
   */
  adamStep(
    p: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    keep: number,
    bc2: number,
    eps: number,
    step: number,
    pOut: Float32Array,
    mOut: Float32Array,
    vOut: Float32Array,
  ): void;
  /** cos and sin of x (float32 cosf/sinf): `backend/trig.ts`. */
  sinCos(x: Float32Array, cos: Float32Array, sin: Float32Array): void;
  /** See `nn/cross-entropy-kernels.ts`: nll and lse [n] of logits z [n, v] with class ids t [n] (float32). */
  softmaxNll(z: Float32Array, t: Float32Array, n: number, v: number, nll: Float32Array, lse: Float32Array): void;
  /** See `nn/cross-entropy-kernels.ts`: dz [n, v] from dnll [n]. */
  softmaxNllGrad(dnll: Float32Array, z: Float32Array, t: Float32Array, lse: Float32Array, n: number, v: number, dz: Float32Array): void;
  /** See `nn/layernorm-kernels.ts`: y [n, f], and each row's mean and 1/√(var + eps) [n]. */
  layerNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    n: number,
    f: number,
    eps: number,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
  ): void;
  /** See `nn/layernorm-kernels.ts`: dx [n, f], dgamma and dbeta [f]. */
  layerNormGrad(
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    gamma: Float32Array,
    n: number,
    f: number,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
  ): void;
  /** See `encodings/lrpe/kernels.ts` (LRPE_MAP): y = Λ P x, unitary 1 for the [z ⊙ C, z ⊙ S] form; phi 1 maps x by elu + 1 first. */
  lrpeMap(
    x: Float32Array,
    u: Float32Array | null,
    cos: Float32Array,
    sin: Float32Array,
    B: number,
    L: number,
    H: number,
    D: number,
    W: number,
    unitary: 0 | 1,
    phi: 0 | 1,
    y: Float32Array,
  ): void;
  /** See `encodings/lrpe/kernels.ts` (LRPE_MAP_GRAD); dC, dS and du are only computed when given. */
  lrpeMapGrad(
    dy: Float32Array,
    x: Float32Array,
    u: Float32Array | null,
    cos: Float32Array,
    sin: Float32Array,
    B: number,
    L: number,
    H: number,
    D: number,
    W: number,
    unitary: 0 | 1,
    phi: 0 | 1,
    dx: Float32Array,
    dC: Float32Array | null,
    dS: Float32Array | null,
    du: Float32Array | null,
  ): void;
}

/** Where the addon is built. */
export const NATIVE_ADDON_PATH = path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'rpelab_native.node');

/** `RPELAB_THREADS` (an integer 1..64) or the machine's available parallelism. */
export function nativeThreads(): number {
  const env = process.env.RPELAB_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`RPELAB_THREADS: expected an integer from 1 to 64, got '${env}'`);
    return n;
  }
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(64, cpus));
}

let loaded: { kernels: NativeKernels | null; why: string } | null = null;
let enabled = true;

function load(): { kernels: NativeKernels | null; why: string } {
  if (process.env.RPELAB_NATIVE === '0') return { kernels: null, why: 'disabled by RPELAB_NATIVE=0' };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const kernels = require(NATIVE_ADDON_PATH) as NativeKernels;
    const threads = nativeThreads();
    kernels.setThreads(threads);
    const blas = typeof kernels.blas === 'function' ? kernels.blas() : 'builtin';
    return { kernels, why: `${NATIVE_ADDON_PATH} (${kernels.simd}, ${threads} thread${threads === 1 ? '' : 's'}, matmul ${blas})` };
  } catch (e) {
    return { kernels: null, why: `not built (${(e as Error).message.split('\n')[0]}); run npm run build:native` };
  }
}

/** The native kernels, or null when the addon is not built or is disabled. */
export function nativeKernels(): NativeKernels | null {
  loaded ??= load();
  return enabled ? loaded.kernels : null;
}

/**
 * Turns the native kernels off (or back on) for this process, e.g. to compare them with the
 * portable path in one run. Returns the previous setting.
 */
export function useNative(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether the native kernels are in use, and why (for `backendInfo` and benchmark records). */
export function nativeStatus(): { active: boolean; detail: string } {
  loaded ??= load();
  if (!enabled && loaded.kernels !== null) return { active: false, detail: 'built, turned off by useNative(false)' };
  return { active: loaded.kernels !== null, detail: loaded.why };
}
