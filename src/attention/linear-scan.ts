/**
 * Linear attention as one native kernel each way (`native/src/linear_scan.c`): the recurrent
 * form S_s = r S_{s−1} + φ(k_s) v_sᵀ run over the positions of each (batch, head) pair, forward
 * and, for the gradients, a second scan in the other direction (the backward recurrences of
 * Katharopoulos et al. 2020, §3.3.1, with the denominator as an extra value column and the
 * per-head decay r of PermuteFormer / RetNet). Bidirectional attention with decay adds the
 * exclusive scan of the other direction; without decay every position reads the same total state,
 * so the kernel computes φ(Q)(φ(K)ᵀ[V, 1]) and its gradients as matrix products on the BLAS.
 *
 * The same function as the chunked tf-op form of `linearAttention` (./linear.ts), which calls this
 * where it applies (`nativeLinearScanApplies`), and as the O(L²) `linearAttentionReference`
 * (./reference.ts) the tests compare both with. It replaces the chunked form's ~30 small kernels
 * forward and ~60 backward (transposes, batched C×C products, the ones column, the cumsum over
 * chunk states) with one call each way: what the small models of the experiments spend their
 * step on is dispatch, not arithmetic.
 *
 * φ is applied before the call (q, k are the features), or, for φ = elu + 1 (`featureMap: 'elu'`),
 * by the kernel itself: it maps the rows it gathers and multiplies the gradients by φ' (saving
 * the Elu, the +1 and their gradients as separate passes).
 *
 * Layout: q, k [batch, length, heads, F]; v [batch, length, heads, E]; out [batch, length, heads, E].
 */
import { tf, registerJsKernel, runJsKernel, hasJsKernel, nativeKernels } from '../backend';
import type { LrpeRowMap } from '../encodings';

export const LINEAR_SCAN = 'RpelabLinearScan';
export const LINEAR_SCAN_GRAD = 'RpelabLinearScanGrad';

/** What the kernels need besides the tensors. */
export interface LinearScanAttrs {
  causal: boolean;
  /** Divide by max(Σ w φ(q)·φ(k), eps) ('denominator') or return the raw sums ('none'). */
  normalize: boolean;
  eps: number;
  /** Per-head decay r in (0, 1], or null for none. */
  decay: number[] | null;
  /** 'identity': q, k are the features; 'elu': the features are elu(q) + 1, elu(k) + 1. */
  featureMap: 'identity' | 'elu';
  /**
   * LRPE's map y = Λ P x on each feature row as the kernel gathers it (after φ), with fixed tables
   * and Householder unit (`LrpeRowMap`, encodings/types.ts): 'pairs' (features F) or 'unitary'
   * (features 2F). Default none.
   */
  map?: 'pairs' | 'unitary';
}

const MAP_CODES = { pairs: 1, unitary: 2 } as const;

const flag = (b: boolean): 0 | 1 => (b ? 1 : 0);

function nativeOrThrow(kernelName: string) {
  const native = nativeKernels();
  if (!native || typeof native.linearScan !== 'function') throw new Error(`${kernelName}: needs rpelab's native kernels (npm run build:native)`);
  return native;
}

/** The kernels' arguments after the tensors: decay, B, L, H, F, E, causal, normalize, eps, phi (q [B, L, H, F], E from v). */
function scanArgs(qs: number[], E: number, a: LinearScanAttrs) {
  const [B, L, H, F] = qs;
  return [a.decay ? Float32Array.from(a.decay) : null, B, L, H, F, E, flag(a.causal), flag(a.normalize), a.eps, flag(a.featureMap === 'elu')] as const;
}

/** The map's arguments: its code, u, C, S. */
function mapArgs(a: LinearScanAttrs, u: Float32Array | null, C: Float32Array | null, S: Float32Array | null) {
  return [a.map ? MAP_CODES[a.map] : 0, u, C, S] as const;
}

// Inputs q, k [B, L, H, F], v [B, L, H, E], and with a map u [F] (or null), cos, sin [L, W]. Outputs o [B, L, H, E]
// and, when normalize, den [B, L, H].
registerJsKernel<LinearScanAttrs>({
  kernelName: LINEAR_SCAN,
  inputNames: ['q', 'k', 'v', 'u', 'cos', 'sin'],
  outputShapes: ([q, , v], { normalize }) => (normalize ? [[q![0], q![1], q![2], v![3]], q!.slice(0, 3)] : [[q![0], q![1], q![2], v![3]]]),
  compute: ([q, k, v, u, C, S], [qs, , vs], [o, den], attrs) => {
    const args = scanArgs(qs!, vs![3], attrs);
    nativeOrThrow(LINEAR_SCAN).linearScan(q!, k!, v!, ...args, o, attrs.normalize ? den : null, ...mapArgs(attrs, u, C, S));
  },
});

// Inputs q, k, v, o, den (null without normalize), dout, and the map's u, cos, sin. Outputs dq, dk, dv.
registerJsKernel<LinearScanAttrs>({
  kernelName: LINEAR_SCAN_GRAD,
  inputNames: ['q', 'k', 'v', 'o', 'den', 'dout', 'u', 'cos', 'sin'],
  outputShapes: ([q, k, v]) => [q!.slice(), k!.slice(), v!.slice()],
  compute: ([q, k, v, o, den, dout, u, C, S], [qs, , vs], [dq, dk, dv], attrs) => {
    const args = scanArgs(qs!, vs![3], attrs);
    nativeOrThrow(LINEAR_SCAN_GRAD).linearScanGrad(q!, k!, v!, o!, den, dout!, ...args, dq, dk, dv, ...mapArgs(attrs, u, C, S));
  },
});

/**
 * Whether `linearAttention` takes the native kernels here: the addon is loaded with the kernel, on a
 * backend with the JS kernels (every direction, with or without decay).
 */
export function nativeLinearScanApplies(): boolean {
  const native = nativeKernels();
  return native !== null && typeof native.linearScan === 'function' && hasJsKernel(LINEAR_SCAN);
}

/**
 * Linear attention sums, one native kernel each way (check `nativeLinearScanApplies` first).
 * @param q [batch, length, heads, F] features φ(q), or q itself with `featureMap: 'elu'`
 * @param k [batch, length, heads, F] features φ(k), or k itself with `featureMap: 'elu'`
 * @param v [batch, length, heads, E] values
 * @param map LRPE's fixed map on the features inside the kernel (its mode in `attrs.map` too): the
 *   features are then Λ P φ(q), [.., 2F] for 'unitary'; the tables are constants (no gradient).
 * @returns [batch, length, heads, E]: Σ_t w_st (q_s·k_t) v_t, divided by max(Σ_t w_st q_s·k_t, eps) when `normalize`
 */
export function nativeLinearScan(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, attrs: LinearScanAttrs, map?: LrpeRowMap): tf.Tensor4D {
  if ((map?.mode ?? null) !== (attrs.map ?? null)) throw new Error(`map: attrs.map is ${attrs.map ?? 'none'} but the tables are for ${map?.mode ?? 'none'}`);
  const tables = { u: map?.u ?? null, cos: map?.cos ?? null, sin: map?.sin ?? null };
  const op = tf.customGrad((qi, ki, vi, save) => {
    const [o, den] = runJsKernel(LINEAR_SCAN, { q: qi as tf.Tensor, k: ki as tf.Tensor, v: vi as tf.Tensor, ...tables }, attrs);
    // The map's tables are kept for the backward pass too, which may run after their owner's scope.
    const extra: tf.Tensor[] = [...(den ? [den] : []), ...(map ? [map.cos, map.sin, ...(map.u ? [map.u] : [])] : [])];
    (save as tf.GradSaveFunc)([qi as tf.Tensor, ki as tf.Tensor, vi as tf.Tensor, o, ...extra]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, so, ...rest] = saved;
        const sd = den ? rest.shift()! : null;
        const kept = map ? { cos: rest[0], sin: rest[1], u: map.u ? rest[2] : null } : tables;
        return runJsKernel(LINEAR_SCAN_GRAD, { q: sq, k: sk, v: sv, o: so, den: sd, dout: dy, ...kept }, attrs);
      },
    };
  });
  return op(q, k, v) as tf.Tensor4D;
}
