/**
 * Positional-encoding quality of an attention map (Wang et al., ICLR 2021), as computed by the SPE
 * authors' `metrics/pe_eval.py` (SPE paper, Liutkus et al. 2021). Both scores are 0 for a perfect Toeplitz map whose
 * entries grow toward the diagonal, and grow as the map departs from that.
 *
 * - Translation invariance: over the causal diagonals at lags 0..maxOffset (A[s, s - lag]),
 *   the length-weighted mean of the per-diagonal variances divided by the variance of all the
 *   entries on those diagonals. 0 means every diagonal is constant (A is Toeplitz).
 * - Monotonicity: for each query row s, its last maxOffset + 1 causal entries A[s, t], t <= s,
 *   ordered far -> near; the count of inverted pairs (i < j with A[i] > A[j]) over all rows,
 *   divided by the number of pairs. 0 means attention never decreases toward the query.
 *
 * `causalAttentionMaps` reads the maps of a trained `CausalLM`.
 */
import { tf, Rng, assertInt } from '../backend';
import type { CausalLM } from '../models';
import type { AttentionLayer } from '../attention/layer';
import type { AttentionSpec } from '../attention/spec';
import type { EncodeOptions } from '../encodings/types';
import type { Module } from '../nn';

/** A square map, row-major: `values[s * size + t]` is the attention of query s on key t. */
export interface AttentionMap {
  values: ArrayLike<number>;
  size: number;
}

function checkMap(map: AttentionMap, maxOffset: number | undefined): number {
  assertInt(map.size, 'map.size', 1);
  if (map.values.length !== map.size * map.size) throw new Error(`map.values: expected ${map.size}² = ${map.size * map.size} values, got ${map.values.length}`);
  const off = maxOffset ?? map.size - 1;
  assertInt(off, 'maxOffset', 0, map.size - 1);
  return off;
}

/**
 * Translation-invariance score of a causal map (lower = more shift-invariant; 0 = Toeplitz).
 * A constant map (zero total variance) scores 0.
 * @param maxOffset largest lag s - t considered (default size - 1)
 */
export function translationInvariance(map: AttentionMap, maxOffset?: number): number {
  const off = checkMap(map, maxOffset);
  const n = map.size;
  const a = map.values;
  const diag = (lag: number, t: number) => a[(t + lag) * n + t];
  // Two passes (means first) keep a constant diagonal at exactly zero variance up to rounding.
  let sum = 0;
  let count = 0;
  for (let lag = 0; lag <= off; lag++) for (let t = 0; t < n - lag; t++, count++) sum += diag(lag, t);
  const grand = sum / count;
  let within = 0;
  let total = 0;
  for (let lag = 0; lag <= off; lag++) {
    const len = n - lag;
    let s = 0;
    for (let t = 0; t < len; t++) s += diag(lag, t);
    const mean = s / len;
    for (let t = 0; t < len; t++) {
      within += (diag(lag, t) - mean) ** 2;
      total += (diag(lag, t) - grand) ** 2;
    }
  }
  if (!(total > 1e-24 * count * Math.max(1, grand * grand))) return 0;
  return within / total;
}

/** Inversions of `x` (pairs i < j with x[i] > x[j]), by merge sort: O(n log n). */
export function countInversions(x: ArrayLike<number>): number {
  const a = Array.from(x);
  const tmp = new Array<number>(a.length);
  const sort = (lo: number, hi: number): number => {
    if (hi - lo < 2) return 0;
    const mid = (lo + hi) >> 1;
    let inv = sort(lo, mid) + sort(mid, hi);
    let i = lo;
    let j = mid;
    let k = lo;
    while (i < mid && j < hi) {
      if (a[i] <= a[j]) tmp[k++] = a[i++];
      else {
        tmp[k++] = a[j++];
        inv += mid - i;
      }
    }
    while (i < mid) tmp[k++] = a[i++];
    while (j < hi) tmp[k++] = a[j++];
    for (let m = lo; m < hi; m++) a[m] = tmp[m];
    return inv;
  };
  return sort(0, a.length);
}

/**
 * Monotonicity score of a causal map (lower = attention decays more monotonically with distance).
 * @param maxOffset rows keep their last maxOffset + 1 causal entries (default size - 1)
 */
export function monotonicity(map: AttentionMap, maxOffset?: number): number {
  const off = checkMap(map, maxOffset);
  const n = map.size;
  let pairs = 0;
  let inverted = 0;
  for (let s = 1; s < n; s++) {
    const from = Math.max(0, s - off);
    const row = Array.from({ length: s - from + 1 }, (_, i) => map.values[s * n + from + i]);
    pairs += (row.length * (row.length - 1)) / 2;
    inverted += countInversions(row);
  }
  return pairs === 0 ? 0 : inverted / pairs;
}

// ---------------------------------------------------------------------------------------------
// Attention maps of a trained model

/**
 * The members of `Block` / `AttentionLayer` this module reads. They are private in TypeScript;
 * `AttentionLayer` has no public way yet to return its scores, so this is the one place that
 * reaches inside (an `AttentionLayer.scores()` method would replace it).
 */
interface BlockInternals {
  ln1: Module & { apply(x: tf.Tensor): tf.Tensor };
  attn: AttentionLayer;
}
interface LayerInternals {
  spec: AttentionSpec;
  numHeads: number;
  headDim: number;
  project(x: tf.Tensor): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  encodeQK(q: tf.Tensor4D, k: tf.Tensor4D, opts: EncodeOptions, offset: number): { q: tf.Tensor4D; k: tf.Tensor4D; plain: [tf.Tensor4D, tf.Tensor4D] | null };
  encoding: { decay?(): number[] | null } | null;
}

/**
 * Causal attention weights of every layer and head, averaged over the batch.
 * Linear layers (any feature map, FAVOR+ included) with the denominator: a_st = q̃_s·k̃_t / Σ_{t'<=s} q̃_s·k̃_t' (RoPE and
 * LRPE: over the unencoded Σ_{t'<=s} φ(q_s)·φ(k_t'), RoFormer's linear form);
 * with LayerNorm output normalisation (LRPE) the raw scores q̃_s·k̃_t (the layer applies no row
 * normaliser); PermuteFormer's decay r^(s-t) included; softmax layers: softmax of the logits.
 * @param ids int32 [batch, length]
 * @param opts.rng draws for SPE codes / FAVOR+ features (a fixed generator gives repeatable maps)
 * @returns maps[layer][head], each length x length
 */
export function causalAttentionMaps(lm: CausalLM, ids: tf.Tensor2D, opts: { rng?: Rng } = {}): AttentionMap[][] {
  const rng = opts.rng ?? new Rng(0);
  const L = ids.shape[1];
  const maps: AttentionMap[][] = [];
  tf.tidy(() => {
    let h = lm.trunk.embedTokens(ids, {}, 0);
    lm.trunk.blocks.forEach((block, i) => {
      const b = block as unknown as BlockInternals;
      const layer = b.attn as unknown as LayerInternals;
      const layerRng = rng.fork(`layer${i}`);
      const x = b.ln1.apply(h);
      const [q0, k0] = layer.project(x);
      const { q, k, plain } = layer.encodeQK(q0, k0, { rng: layerRng, training: false }, 0);
      // [B, H, L, L]
      const qh = q.transpose([0, 2, 1, 3]);
      const kh = k.transpose([0, 2, 1, 3]);
      let scores = tf.matMul(qh, kh, false, true);
      const causal = tf.linalg.bandPart(tf.ones([L, L]), -1, 0);
      if (layer.spec.kind === 'softmax') {
        const logits = scores.mul(1 / Math.sqrt(q.shape[3]));
        scores = tf.softmax(logits.add(tf.sub(1, causal).mul(-1e9)), -1);
      } else {
        const decay = layer.encoding?.decay?.() ?? null;
        if (decay) {
          const pos = tf.range(0, L, 1, 'float32');
          const lag = pos
            .reshape([L, 1])
            .sub(pos.reshape([1, L]))
            .relu(); // s - t >= 0 below the diagonal
          const d = tf.tensor1d(decay).reshape([1, decay.length, 1, 1]);
          scores = scores.mul(tf.pow(d, lag.reshape([1, 1, L, L])));
        }
        scores = scores.mul(causal);
        // RoPE / LRPE with the denominator divide by the unencoded scores (RoFormer's linear form).
        const rowScores = plain ? tf.matMul(plain[0].transpose([0, 2, 1, 3]), plain[1].transpose([0, 2, 1, 3]), false, true).mul(causal) : scores;
        if (layer.spec.normalize === 'denominator') scores = scores.div(rowScores.sum(-1, true).maximum(1e-6));
      }
      const mean = scores.mean(0) as tf.Tensor3D; // [H, L, L]
      const data = mean.dataSync();
      const heads = mean.shape[0];
      maps.push(Array.from({ length: heads }, (_, hd) => ({ values: data.slice(hd * L * L, (hd + 1) * L * L), size: L })));
      h = block.apply(h, { causal: true, layerRng });
    });
  });
  return maps;
}

/** Mean translation-invariance and monotonicity scores over every layer and head of `maps`. */
export function peQualityScores(maps: AttentionMap[][], maxOffset?: number): { translationInvariance: number; monotonicity: number } {
  const flat = maps.flat();
  if (flat.length === 0) throw new Error('maps: expected at least one attention map');
  const ti = flat.reduce((s, m) => s + translationInvariance(m, maxOffset), 0) / flat.length;
  const mono = flat.reduce((s, m) => s + monotonicity(m, maxOffset), 0) / flat.length;
  return { translationInvariance: ti, monotonicity: mono };
}
