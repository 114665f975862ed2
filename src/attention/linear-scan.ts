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
 * the Elu, the +1 and their gradients as separate passes). After φ the kernel can also apply a fixed
 * LRPE map to each row (`map`, `LrpeRowMap`), and `nativeLinearScanPacked` reads q, k, v from one
 * [B, L, 3, H, D] array (the q/k/v projection as it comes), writing their gradients into one too.
 *
 * Layout: q, k [batch, length, heads, F]; v [batch, length, heads, E]; out [batch, length, heads, E].
 */
import { tf, registerJsKernel, runJsKernel, hasJsKernel, nativeKernels } from '../backend';
import type { LinearScanSizes, LinearScanMap } from '../backend/native';
import type { LrpeRowMap } from '../encodings';

export const LINEAR_SCAN = 'RpelabLinearScan';
export const LINEAR_SCAN_GRAD = 'RpelabLinearScanGrad';
export const LINEAR_SCAN_PACKED = 'RpelabLinearScanPacked';
export const LINEAR_SCAN_PACKED_GRAD = 'RpelabLinearScanPackedGrad';

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
   * and P (`LrpeRowMap`, encodings/types.ts): 'pairs' (features F) or 'unitary' (features 2F).
   * Default none.
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
function scanArgs(qs: number[], E: number, a: LinearScanAttrs): LinearScanSizes {
  const [B, L, H, F] = qs;
  return [a.decay ? Float32Array.from(a.decay) : null, B, L, H, F, E, flag(a.causal), flag(a.normalize), a.eps, flag(a.featureMap === 'elu')];
}

/** The map's arguments: its code, u, C, S, P. */
function mapArgs(a: LinearScanAttrs, u: Float32Array | null, C: Float32Array | null, S: Float32Array | null, P: Float32Array | null): LinearScanMap {
  return [a.map ? MAP_CODES[a.map] : 0, u, C, S, P];
}

// Inputs q, k [B, L, H, F], v [B, L, H, E], and with a map u [F] or right [F, F] (or neither), cos, sin [L, W].
// Outputs o [B, L, H, E] and, when normalize, den [B, L, H].
registerJsKernel<LinearScanAttrs>({
  kernelName: LINEAR_SCAN,
  inputNames: ['q', 'k', 'v', 'u', 'cos', 'sin', 'right'],
  outputShapes: ([q, , v], { normalize }) => (normalize ? [[q![0], q![1], q![2], v![3]], q!.slice(0, 3)] : [[q![0], q![1], q![2], v![3]]]),
  compute: ([q, k, v, u, C, S, P], [qs, , vs], [o, den], attrs) => {
    const args = scanArgs(qs!, vs![3], attrs);
    nativeOrThrow(LINEAR_SCAN).linearScan(q!, k!, v!, ...args, o, attrs.normalize ? den : null, ...mapArgs(attrs, u, C, S, P), 0);
  },
});

// Inputs q, k, v, o, den (null without normalize), dout, and the map's u, cos, sin, right. Outputs dq, dk, dv.
registerJsKernel<LinearScanAttrs>({
  kernelName: LINEAR_SCAN_GRAD,
  inputNames: ['q', 'k', 'v', 'o', 'den', 'dout', 'u', 'cos', 'sin', 'right'],
  outputShapes: ([q, k, v]) => [q!.slice(), k!.slice(), v!.slice()],
  compute: ([q, k, v, o, den, dout, u, C, S, P], [qs, , vs], [dq, dk, dv], attrs) => {
    const args = scanArgs(qs!, vs![3], attrs);
    nativeOrThrow(LINEAR_SCAN_GRAD).linearScanGrad(q!, k!, v!, o!, den, dout!, ...args, dq, dk, dv, ...mapArgs(attrs, u, C, S, P), 0);
  },
});

/** [B, L, 3, H, D] -> the shape of each part, [B, L, H, D]. */
const partShape = (s: number[]) => [s[0], s[1], s[3], s[4]];

// The same on q, k, v as the parts of one qkv [B, L, 3, H, D] (a fused projection's output, not split).
registerJsKernel<LinearScanAttrs>({
  kernelName: LINEAR_SCAN_PACKED,
  inputNames: ['qkv', 'u', 'cos', 'sin', 'right'],
  outputShapes: ([x], { normalize }) => (normalize ? [partShape(x!), partShape(x!).slice(0, 3)] : [partShape(x!)]),
  compute: ([x, u, C, S, P], [xs], [o, den], attrs) => {
    const args = scanArgs(partShape(xs!), xs![4], attrs);
    nativeOrThrow(LINEAR_SCAN_PACKED).linearScan(x!, x!, x!, ...args, o, attrs.normalize ? den : null, ...mapArgs(attrs, u, C, S, P), 1);
  },
});

// Inputs qkv, o, den (null without normalize), dout, and the map's u, cos, sin, right. Output dqkv [B, L, 3, H, D].
registerJsKernel<LinearScanAttrs>({
  kernelName: LINEAR_SCAN_PACKED_GRAD,
  inputNames: ['qkv', 'o', 'den', 'dout', 'u', 'cos', 'sin', 'right'],
  outputShapes: ([x]) => [x!.slice()],
  compute: ([x, o, den, dout, u, C, S, P], [xs], [dx], attrs) => {
    const args = scanArgs(partShape(xs!), xs![4], attrs);
    nativeOrThrow(LINEAR_SCAN_PACKED_GRAD).linearScanGrad(x!, x!, x!, o!, den, dout!, ...args, dx, dx, dx, ...mapArgs(attrs, u, C, S, P), 1);
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
 * Runs a forward kernel on `inputs` (q, k, v, or qkv) with a custom gradient from its gradient
 * kernel, keeping the map's tables for the backward pass too (it may run after their owner's scope).
 */
function scanOp(kernels: [string, string], inputs: Record<string, tf.Tensor>, attrs: LinearScanAttrs, map?: LrpeRowMap): tf.Tensor {
  if ((map?.mode ?? null) !== (attrs.map ?? null)) throw new Error(`map: attrs.map is ${attrs.map ?? 'none'} but the tables are for ${map?.mode ?? 'none'}`);
  const names = Object.keys(inputs);
  if (map && map.u && map.right) throw new Error('map: expected a Householder unit u or a dense right factor, not both');
  const tables = map ? [map.cos, map.sin, ...(map.u ? [map.u] : []), ...(map.right ? [map.right] : [])] : [];
  const mapOf = (t: tf.Tensor[]) =>
    map ? { cos: t[0], sin: t[1], u: map.u ? t[2] : null, right: map.right ? t[2] : null } : { u: null, cos: null, sin: null, right: null };
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const xs = args as tf.Tensor[];
    const named = Object.fromEntries(names.map((n, i) => [n, xs[i]]));
    const [o, den] = runJsKernel(kernels[0], { ...named, ...mapOf(tables) }, attrs);
    save([...xs, o, ...(den ? [den] : []), ...tables]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const savedInputs = Object.fromEntries(names.map((n, i) => [n, saved[i]]));
        const [so, ...rest] = saved.slice(names.length);
        const sd = den ? rest.shift()! : null;
        return runJsKernel(kernels[1], { ...savedInputs, o: so, den: sd, dout: dy, ...mapOf(rest) }, attrs);
      },
    };
  }) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
  return op(...names.map((n) => inputs[n]));
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
  return scanOp([LINEAR_SCAN, LINEAR_SCAN_GRAD], { q, k, v }, attrs, map) as tf.Tensor4D;
}

/**
 * `nativeLinearScan` on q, k, v as the parts of one array, as a fused q/k/v projection leaves them:
 * no copies to split them, nor to join their gradients.
 * @param qkv [batch, length, 3, heads, D]: q, k, v along axis 2
 * @returns [batch, length, heads, D]
 */
export function nativeLinearScanPacked(qkv: tf.Tensor5D, attrs: LinearScanAttrs, map?: LrpeRowMap): tf.Tensor4D {
  if (qkv.rank !== 5 || qkv.shape[2] !== 3) throw new Error(`qkv: expected [batch, length, 3, heads, D], got [${qkv.shape}]`);
  return scanOp([LINEAR_SCAN_PACKED, LINEAR_SCAN_PACKED_GRAD], { qkv }, attrs, map) as tf.Tensor4D;
}
