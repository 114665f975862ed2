/**
 * Linear attention (Katharopoulos et al. 2020), O(L) in time and memory in both directions.
 *
 * With feature maps φ(q_s), φ(k_t) ∈ R^F and an optional per-head decay r ∈ (0, 1]
 * (PermuteFormer; r = 1 is no decay), the output at position s is
 *
 *   o_s = Σ_t w_st φ(q_s)·φ(k_t) v_t  /  max(Σ_t w_st φ(q_s)·φ(k_t), eps)      (normalize 'denominator')
 *   o_s = Σ_t w_st φ(q_s)·φ(k_t) v_t                                            (normalize 'none', LRPE)
 *
 * with w_st = r^|s−t| over t ≤ s (causal) or over all t (bidirectional).
 *
 * - Bidirectional without decay: φ(Q)(φ(K)ᵀV), two batched matmuls.
 * - Causal: the sequence is cut into chunks of C tokens. Within a chunk, the masked C×C scores
 *   (weights r^(i−j), j ≤ i) multiply V; across chunks, a prefix state S_n = Σ_{m<n} r^(C(n−1−m)) K_mᵀV_m
 *   (keys weighted r^(C−1−j) inside their chunk) is read by the queries with weight r^(i+1).
 *   All chunks run at once as batched matmuls; the prefix over the N = L/C chunk states is one
 *   exclusive cumsum (no decay) or a log2(N)-step doubling scan (decay; O(N log N) state updates).
 *   No L×L matrix, no r^(−t) factor.
 * - Bidirectional with decay: causal + anti-causal − diagonal, the anti-causal half being the
 *   causal scan of the reversed sequence, run in the same call (batch doubled).
 * - Recurrent (`linearAttentionStep`): one token at a time from a carried state (S, z); it
 *   reproduces the causal output exactly, decay included.
 *
 * The denominator is computed with the numerator by appending a column of ones to V.
 *
 * Where rpelab's native kernels are loaded, every call is one native kernel each way instead
 * (./linear-scan.ts, `nativeLinearScanApplies`: the recurrent form, or bidirectionally without
 * decay the two products on the BLAS); the chunked
 * tf-op form below runs everywhere else (tfjs-node, webgl, RPELAB_NATIVE=0).
 *
 * Layout: q, k [batch, length, heads, F]; v [batch, length, heads, Dv]; out [batch, length, heads, Dv].
 * The plain O(L²) formula these fast paths are tested against is `linearAttentionReference` (./reference.ts).
 */
import { tf, assertRank, assertSameShape, assertDim, assertInt, assertNumber, assertOneOf } from '../backend';
import { type FeatureMap, type FeatureMapName, FEATURE_MAP_NAMES, featureMapFromName, identityFeatureMap, eluPlusOne } from './feature-maps';
import { nativeLinearScanApplies, nativeLinearScan } from './linear-scan';

/**
 * Causal chunk length for feature sizes F <= 32; larger F use `defaultChunkSize(F)` (measurements there).
 * Smaller chunks mean fewer within-chunk FLOPs (C·(F+Dv) per token) but more chunk states (F·Dv per chunk).
 */
export const DEFAULT_CHUNK_SIZE = 32;

/**
 * Default causal chunk length C for feature size F: min(max(F, 32), 128). Each chunk costs C²·(F+Dv)
 * for its masked scores and 2·C·F·Dv for its state, and every chunk is one small matmul per product,
 * so the best C grows with F. Measured with the XNNPACK batched matmul (backend/fast-kernels.ts),
 * forward + backward, CPU ms, wasm, loaded 2-core machine, median of 7 runs interleaved over C:
 *   F=16  (B=8, L=256, H=4):  C=16: 41, 32: 33, 64: 39, 128: 52
 *   F=64  (B=1, L=4096, H=8): C=16: 800, 32: 601, 64: 482, 128: 549, 256: 726
 *   F=64  (B=4, L=1024, H=8): C=16: 753, 32: 577, 64: 496, 128: 578, 256: 770
 *   F=128 (B=1, L=2048, H=8): C=16: 1560, 32: 970, 64: 741, 128: 733, 256: 833
 */
export function defaultChunkSize(featureDim: number): number {
  assertInt(featureDim, 'featureDim');
  return Math.min(Math.max(featureDim, DEFAULT_CHUNK_SIZE), 128);
}

export interface LinearAttentionOptions {
  /** Only keys t ≤ s are attended (default false). */
  causal?: boolean;
  /** φ applied to q and k (default 'elu', i.e. elu + 1); the attention layer passes 'identity' when it already applied φ. */
  featureMap?: FeatureMap | FeatureMapName;
  /**
   * 'denominator' (default) divides by Σ_t w_st φ(q_s)·φ(k_t) clamped at eps; 'none' returns the raw sum (LRPE + LayerNorm).
   * The clamp only guards rounding: with positive features (elu+1, relu+1e-3, FAVOR+) the sum is positive. Features of
   * any sign make it zero or negative, and then the output has any size; AttentionLayer refuses such pairings
   * (identity map with the denominator) and uses RoFormer's form for rotations (rotated numerator, plain denominator).
   */
  normalize?: 'denominator' | 'none';
  /** Lower clamp of the denominator (default 1e-6). */
  eps?: number;
  /**
   * Causal chunk length C of the tf-op form (default `defaultChunkSize(F)`); any length L works, the last chunk is
   * zero-padded. The native scan has no chunks.
   */
  chunkSize?: number;
  /** Per-head decay r in (0, 1] (length = heads): scores are multiplied by r^|s−t|. null/undefined: none. */
  decay?: number[] | null;
}

/** Options with defaults filled in and checked. */
interface ResolvedLinearAttentionOptions {
  causal: boolean;
  featureMap: FeatureMap;
  normalize: 'denominator' | 'none';
  eps: number;
  /** null: `defaultChunkSize` of the feature size after φ. */
  chunkSize: number | null;
  /** null when absent or when every r is 1. */
  decay: number[] | null;
}

/** Fills in defaults and validates `opts` for attention with `heads` heads. */
function resolveLinearAttentionOptions(opts: LinearAttentionOptions, heads: number): ResolvedLinearAttentionOptions {
  const causal = opts.causal ?? false;
  if (typeof causal !== 'boolean') throw new Error(`causal: expected a boolean, got ${JSON.stringify(causal)}`);
  const fm = opts.featureMap ?? 'elu';
  const featureMap = typeof fm === 'string' ? featureMapFromName(assertOneOf(fm, FEATURE_MAP_NAMES, 'featureMap')) : fm;
  if (featureMap == null || typeof featureMap.apply !== 'function') {
    throw new Error(`featureMap: expected a FeatureMap or one of ${FEATURE_MAP_NAMES.map((n) => `'${n}'`).join(', ')}, got ${String(fm)}`);
  }
  const normalize = assertOneOf(opts.normalize ?? 'denominator', ['denominator', 'none'] as const, 'normalize');
  const eps = opts.eps ?? 1e-6;
  assertNumber(eps, 'eps', { positive: true });
  const chunkSize = opts.chunkSize ?? null;
  if (chunkSize !== null) assertInt(chunkSize, 'chunkSize', 1);
  let decay = opts.decay ?? null;
  if (decay !== null) {
    if (!Array.isArray(decay) || decay.length !== heads) {
      throw new Error(`decay: expected one rate per head (length ${heads}), got ${Array.isArray(decay) ? `length ${decay.length}` : JSON.stringify(decay)}`);
    }
    decay.forEach((r, h) => {
      if (typeof r !== 'number' || !(r > 0 && r <= 1)) throw new Error(`decay: expected every rate in (0, 1], got decay[${h}] = ${r}`);
    });
    if (decay.every((r) => r === 1)) decay = null;
  }
  return { causal, featureMap, normalize, eps, chunkSize, decay };
}

/** Checks q, k [B, L, H, F] and v [B, L, H, Dv]. */
function checkQKV(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): void {
  assertRank(q, 4, 'q', '[batch, length, heads, dim]');
  assertRank(k, 4, 'k', '[batch, length, heads, dim]');
  assertRank(v, 4, 'v', '[batch, length, heads, valueDim]');
  assertSameShape(q, k, 'q', 'k');
  assertDim(v, 0, k.shape[0], 'v', 'the batch axis (that of k)');
  assertDim(v, 1, k.shape[1], 'v', 'the length axis (that of k)');
  assertDim(v, 2, k.shape[2], 'v', 'the heads axis (that of k)');
}

/**
 * Linear attention over a whole sequence, O(L) time and memory: the native scan where it applies
 * (`nativeLinearScanApplies`: the addon is loaded), else the
 * chunked tf-op form (`linearAttentionOps`).
 * @param q [batch, length, heads, F] queries (before φ unless featureMap is 'identity')
 * @param k [batch, length, heads, F] keys (same shape as q)
 * @param v [batch, length, heads, Dv] values
 * @returns [batch, length, heads, Dv]
 */
export function linearAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: LinearAttentionOptions = {}): tf.Tensor4D {
  checkQKV(q, k, v);
  const o = resolveLinearAttentionOptions(opts, q.shape[2]);
  if (!nativeLinearScanApplies()) return sumsFromOps(q, k, v, o);
  const attrs = { causal: o.causal, normalize: o.normalize === 'denominator', eps: o.eps, decay: o.decay };
  // elu + 1 is applied inside the kernel; any other map before it.
  if (o.featureMap === eluPlusOne) return nativeLinearScan(q, k, v, { ...attrs, featureMap: 'elu' });
  return tf.tidy(() => nativeLinearScan(applyFeatureMap(o.featureMap, q), applyFeatureMap(o.featureMap, k), v, { ...attrs, featureMap: 'identity' }));
}

/** `linearAttention` composed from tf ops (chunked when causal), whatever the native kernels. Shapes as there. */
export function linearAttentionOps(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: LinearAttentionOptions = {}): tf.Tensor4D {
  checkQKV(q, k, v);
  return sumsFromOps(q, k, v, resolveLinearAttentionOptions(opts, q.shape[2]));
}

function sumsFromOps(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, o: ResolvedLinearAttentionOptions): tf.Tensor4D {
  return tf.tidy(() => {
    const fq = applyFeatureMap(o.featureMap, q);
    const fk = applyFeatureMap(o.featureMap, k);
    const vv = o.normalize === 'denominator' ? appendOnes(v) : v;
    const chunkSize = o.chunkSize ?? defaultChunkSize(fq.shape[3]);
    let out: tf.Tensor4D;
    if (o.causal) out = causalSums(fq, fk, vv, o.decay, chunkSize);
    else if (o.decay) out = bidirectionalDecayedSums(fq, fk, vv, o.decay, chunkSize);
    else out = bidirectionalSums(fq, fk, vv);
    return o.normalize === 'denominator' ? divideByLastColumn(out, o.eps) : out;
  });
}

/** φ(x); the identity map is skipped (on wasm a clone is a copy). */
function applyFeatureMap(fm: FeatureMap, x: tf.Tensor4D): tf.Tensor4D {
  return fm === identityFeatureMap ? x : fm.apply(x);
}

/** v [B, L, H, Dv] -> [B, L, H, Dv + 1] with a last column of ones (its sums are the denominator). */
function appendOnes(v: tf.Tensor4D): tf.Tensor4D {
  const [b, l, h] = v.shape;
  return tf.concat([v, tf.ones([b, l, h, 1])], 3);
}

/** x [..., Dv + 1] -> x[..., :Dv] / max(x[..., Dv], eps). */
function divideByLastColumn<T extends tf.Tensor>(x: T, eps: number): T {
  const dv = x.shape[x.rank - 1] - 1;
  const [num, den] = tf.split(x, [dv, 1], x.rank - 1);
  return num.div(tf.maximum(den, eps)) as T;
}

/** Bidirectional sums φ(Q)(φ(K)ᵀV): q, k [B, L, H, F], v [B, L, H, E] -> [B, L, H, E]. */
function bidirectionalSums(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D): tf.Tensor4D {
  const perm = [0, 2, 1, 3];
  const kv = tf.matMul(k.transpose(perm), v.transpose(perm), true, false); // [B, H, F, E]
  return tf.matMul(q.transpose(perm), kv).transpose(perm) as tf.Tensor4D;
}

/** Bidirectional sums with weights r^|s−t|: causal + anti-causal − diagonal. Shapes as `bidirectionalSums`. */
function bidirectionalDecayedSums(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, decay: number[], chunkSize: number): tf.Tensor4D {
  const b = q.shape[0];
  const withReversed = (x: tf.Tensor4D) => tf.concat([x, tf.reverse(x, 1)], 0);
  const both = causalSums(withReversed(q), withReversed(k), withReversed(v), decay, chunkSize);
  const [forward, backward] = tf.split(both, [b, b], 0);
  const diagonal = q.mul(k).sum(3, true).mul(v);
  return forward.add(tf.reverse(backward, 1)).sub(diagonal) as tf.Tensor4D;
}

/** Constant weights of the chunked causal scan for per-head decay r and chunk length C. */
interface DecayWeights {
  /** [H, 1, C·C]: r^(i−j) for j ≤ i, else 0 (broadcast over batch and chunks). */
  mask: tf.Tensor;
  /** [H, 1, C·F]: r^(i+1) for query i of a chunk (weight of the carried state), repeated over F. */
  queryGain: tf.Tensor;
  /** [H, 1, C·F]: r^(C−1−j) for key j of a chunk (its weight in the chunk's summary), repeated over F. */
  keyGain: tf.Tensor;
  /** r^C per head: decay of the carried state over one chunk. */
  chunkGain: number[];
}

function decayWeights(decay: number[], c: number, f: number): DecayWeights {
  const h = decay.length;
  const mask = new Float32Array(h * c * c);
  const qg = new Float32Array(h * c * f);
  const kg = new Float32Array(h * c * f);
  decay.forEach((r, hh) => {
    for (let i = 0; i < c; i++) {
      for (let j = 0; j <= i; j++) mask[(hh * c + i) * c + j] = r ** (i - j);
      qg.fill(r ** (i + 1), (hh * c + i) * f, (hh * c + i + 1) * f);
      kg.fill(r ** (c - 1 - i), (hh * c + i) * f, (hh * c + i + 1) * f);
    }
  });
  return {
    mask: tf.tensor3d(mask, [h, 1, c * c]),
    queryGain: tf.tensor3d(qg, [h, 1, c * f]),
    keyGain: tf.tensor3d(kg, [h, 1, c * f]),
    chunkGain: decay.map((r) => r ** c),
  };
}

/** [C, C]: 1 for j ≤ i, else 0. */
function causalMask(c: number): tf.Tensor2D {
  const mask = new Float32Array(c * c);
  for (let i = 0; i < c; i++) mask.fill(1, i * c, i * c + i + 1);
  return tf.tensor2d(mask, [c, c]);
}

/**
 * Causal sums o_s = Σ_{t≤s} r^(s−t) (q_s·k_t) v_t in chunks of C = min(chunkSize, L).
 * q, k [B, L, H, F], v [B, L, H, E] -> [B, L, H, E]. Largest intermediates: the [B·H·L/C, C, C]
 * scores and the [B·H·L/C, F, E] chunk states.
 *
 * Every transpose here has rank ≤ 4: wasm's rank-5 transpose is a slow generic loop.
 */
function causalSums(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, decay: number[] | null, chunkSize: number): tf.Tensor4D {
  const [b, l, h, f] = q.shape;
  const e = v.shape[3];
  const c = Math.min(chunkSize, l);
  const n = Math.ceil(l / c);
  const g = b * h * n; // number of (batch, head, chunk) blocks
  return tf.tidy(() => {
    // [B, L, H, X] -> [B, H, L, X] (zero-padded to N·C) -> [G, C, X].
    const toChunks = (x: tf.Tensor4D, dim: number) => {
      const t = x.transpose([0, 2, 1, 3]);
      return (
        n * c > l
          ? tf.pad(t, [
              [0, 0],
              [0, 0],
              [0, n * c - l],
              [0, 0],
            ])
          : t
      ).reshape([g, c, dim]);
    };
    const qc = toChunks(q, f);
    const kc = toChunks(k, f);
    const vc = toChunks(v, e);
    const w = decay ? decayWeights(decay, c, f) : null;
    // x [G, C, X] times a per-(head, position) weight [H, 1, C·X].
    const perHead = (x: tf.Tensor, weight: tf.Tensor) => x.reshape([b, h, n, -1]).mul(weight).reshape(x.shape);

    // Within each chunk: masked (decay-weighted) C×C scores times V.
    const scores = tf.matMul(qc, kc, false, true); // [G, C, C]
    let out = tf.matMul(w ? perHead(scores, w.mask) : scores.mul(causalMask(c)), vc); // [G, C, E]

    if (n > 1) {
      // Across chunks: each chunk's summary K_nᵀV_n, the exclusive (decayed) prefix over chunks, read by the queries.
      const summaries = tf.matMul(w ? perHead(kc, w.keyGain) : kc, vc, true, false).reshape([b, h, n, f * e]) as tf.Tensor4D;
      const states = w ? decayedExclusiveScan(summaries, w.chunkGain) : exclusiveCumsum(summaries);
      out = out.add(tf.matMul(w ? perHead(qc, w.queryGain) : qc, states.reshape([g, f, e])));
    }
    const merged = out.reshape([b, h, n * c, e]);
    return (n * c > l ? merged.slice([0, 0, 0, 0], [b, h, l, e]) : merged).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  });
}

/**
 * S_n = Σ_{m<n} x_m along axis 2. x [B, H, N, X] -> [B, H, N, X].
 * The cumsum runs on the last axis: tfjs 4.22's Cumsum gradient is wrong for any other axis.
 */
function exclusiveCumsum(x: tf.Tensor4D): tf.Tensor {
  const [b, h, n, d] = x.shape;
  return tf
    .cumsum(x.reshape([b * h, n, d]).transpose([0, 2, 1]), 2, true)
    .transpose([0, 2, 1])
    .reshape(x.shape);
}

/**
 * S_n = Σ_{m<n} gain^(n−1−m) x_m along axis 2, per head, by recursive doubling (Hillis–Steele):
 * log2(N) steps, each adding the partial sums `d` chunks back weighted by gain^d. Only
 * non-negative powers of the gain appear, so nothing overflows.
 * x [B, H, N, X], gain [H] -> [B, H, N, X].
 */
function decayedExclusiveScan(x: tf.Tensor4D, gain: number[]): tf.Tensor {
  const [b, h, n, d] = x.shape;
  const shiftedBy = (t: tf.Tensor, rows: number) => tf.concat([tf.zeros([b, h, rows, d]), t.slice([0, 0, 0, 0], [b, h, n - rows, d])], 2);
  let s = shiftedBy(x, 1);
  for (let step = 1; step < n; step *= 2) {
    const weight = tf.tensor3d(
      gain.map((r) => r ** step),
      [h, 1, 1],
    );
    s = s.add(shiftedBy(s, step).mul(weight));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Recurrent form, one token at a time (autoregressive decoding):
//
//   S_s = r S_{s−1} + φ(k_s) v_sᵀ,   z_s = r z_{s−1} + φ(k_s),
//   o_s = φ(q_s)ᵀ S_s / max(φ(q_s)·z_s, eps)        (or φ(q_s)ᵀ S_s with normalize 'none')
//
// with per-head decay r (1 without decay). Step by step this reproduces `linearAttention`
// with `causal: true` and the same options.

/** The running sums of causal linear attention after `position` tokens. */
export interface LinearAttentionState {
  /** [batch, heads, F, Dv]: Σ_t r^(s−t) φ(k_t) v_tᵀ. */
  s: tf.Tensor;
  /** [batch, heads, F]: Σ_t r^(s−t) φ(k_t). */
  z: tf.Tensor;
  /** Number of tokens consumed so far (the position of the next token). */
  position: number;
}

/** The empty state: s = 0 [batch, heads, featureDim, valueDim], z = 0 [batch, heads, featureDim], position 0. */
export function initLinearAttentionState(batch: number, heads: number, featureDim: number, valueDim: number): LinearAttentionState {
  assertInt(batch, 'batch');
  assertInt(heads, 'heads');
  assertInt(featureDim, 'featureDim');
  assertInt(valueDim, 'valueDim');
  return { s: tf.zeros([batch, heads, featureDim, valueDim]), z: tf.zeros([batch, heads, featureDim]), position: 0 };
}

/** Frees the tensors of a state. */
export function disposeLinearAttentionState(state: LinearAttentionState): void {
  tf.dispose([state.s, state.z]);
}

/**
 * One causal step. `causal` and `chunkSize` in `opts` are ignored; the other options must match
 * those of the full-sequence call this step should reproduce.
 * @param q [batch, 1, heads, F] query of the new token (before φ unless featureMap is 'identity')
 * @param k [batch, 1, heads, F] its key
 * @param v [batch, 1, heads, Dv] its value
 * @param state the state after the previous tokens (s [B, H, φ-dim, Dv], z [B, H, φ-dim])
 * @returns out [batch, 1, heads, Dv] and a NEW state. Neither input nor old state is disposed:
 *   the caller disposes the old state (`disposeLinearAttentionState`) when it no longer needs it.
 */
export function linearAttentionStep(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  state: LinearAttentionState,
  opts: LinearAttentionOptions = {},
): { out: tf.Tensor4D; state: LinearAttentionState } {
  checkQKV(q, k, v);
  assertDim(q, 1, 1, 'q', 'the length axis (one token per step)');
  const [b, , h, f] = q.shape;
  const dv = v.shape[3];
  const o = resolveLinearAttentionOptions(opts, h);
  const fd = o.featureMap.outputDim(f);
  if (state == null || state.s == null || state.z == null) throw new Error('state: expected {s, z, position} from initLinearAttentionState');
  assertRank(state.s, 4, 'state.s', '[batch, heads, featureDim, valueDim]');
  assertRank(state.z, 3, 'state.z', '[batch, heads, featureDim]');
  const want = [b, h, fd, dv];
  if (state.s.shape.some((d, i) => d !== want[i])) {
    throw new Error(`state.s: expected shape [${want.join(', ')}], got [${state.s.shape.join(', ')}]`);
  }
  if (state.z.shape.some((d, i) => d !== want[i])) {
    throw new Error(`state.z: expected shape [${want.slice(0, 3).join(', ')}], got [${state.z.shape.join(', ')}]`);
  }
  const { out, s, z } = tf.tidy(() => {
    const fq = applyFeatureMap(o.featureMap, q).reshape([b, h, 1, fd]);
    const fk = applyFeatureMap(o.featureMap, k).reshape([b, h, fd, 1]);
    const vs = v.reshape([b, h, 1, dv]);
    const r = o.decay ? tf.tensor3d(o.decay, [h, 1, 1]) : null;
    const kv = fk.mul(vs); // outer product [B, H, F, Dv]
    const s = r ? state.s.mul(r).add(kv) : state.s.add(kv);
    const zk = fk.reshape([b, h, fd]);
    const z = r ? state.z.mul(r.reshape([h, 1])).add(zk) : state.z.add(zk);
    let out = tf.matMul(fq, s); // [B, H, 1, Dv]
    if (o.normalize === 'denominator') {
      const den = tf.matMul(fq, z.reshape([b, h, fd, 1])); // [B, H, 1, 1]
      out = out.div(tf.maximum(den, o.eps));
    }
    return { out: out.reshape([b, 1, h, dv]) as tf.Tensor4D, s, z };
  });
  return { out, state: { s, z, position: state.position + 1 } };
}
