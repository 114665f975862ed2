/**
 * Softmax attention (Vaswani et al. 2017), the O(L²) reference:
 *
 *   o_s = Σ_t softmax_t(scale · q_s·k_t + bias_st + mask_st) v_t
 *
 * with mask_st = −1e9 when causal and key t lies after query s. Queries may be fewer than keys
 * (cached decoding): query i then sits at position offset + i.
 *
 * Layout: q [batch, Lq, heads, D]; k [batch, Lk, heads, D]; v [batch, Lk, heads, Dv]; out [batch, Lq, heads, Dv].
 */
import { tf, assertRank, assertRankIn, assertDim, assertInt, assertNumber } from '../backend';

export interface SoftmaxAttentionOptions {
  /** Query at position p attends only to keys at positions ≤ p (default false). */
  causal?: boolean;
  /** Additive logits [heads, Lq, Lk] or [batch (or 1), heads, Lq, Lk], added before the softmax. */
  bias?: tf.Tensor;
  /** Logit scale (default 1/√D). */
  scale?: number;
  /** Position of the first query for the causal mask (default Lk − Lq: queries are the last Lq positions). */
  offset?: number;
}

/**
 * The most scores (batch · heads · Lq · Lk) this quadratic reference takes on a backend, or
 * Infinity where the backend manages its own memory (tensorflow). wasm has 4 GiB of memory, and
 * a forward + backward pass keeps about ten score-sized float32 buffers alive (logits, mask,
 * weights and their gradients): 2^32 / (4 · 10) scores; measured, 8 heads fail between
 * L = 3400 (92 M scores: runs) and L = 4096 (134 M: out of bounds). The cpu backend's typed
 * arrays hold at most 2^30 floats each.
 */
export function softmaxScoreLimit(backend = tf.getBackend()): number {
  if (backend === 'wasm') return Math.floor(2 ** 32 / (4 * 10));
  if (backend === 'cpu') return 2 ** 30;
  return Infinity;
}

/**
 * The most scores (batch · heads · L²) `AttentionLayer` computes with this quadratic form; longer
 * inputs take the blockwise form (`blockwiseSoftmaxAttention`, O(L) memory), which past this size
 * is the only one that fits and below it is slower (`bench/softmax-forms.ts`). 2^25 scores (L = 2048
 * at 8 heads), or the backend's limit if lower.
 */
export function quadraticSoftmaxMaxScores(backend = tf.getBackend()): number {
  return Math.min(2 ** 25, softmaxScoreLimit(backend));
}

/** Added to masked logits: exp(−1e9 − max) is exactly 0 in float32. */
const MASKED = -1e9;

/**
 * Checks the inputs of both forms of softmax attention (shapes agree; `causal`, `scale`, `offset`
 * valid) and returns the sizes and the options with their defaults.
 */
export function checkSoftmaxInputs(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  opts: { causal?: boolean; scale?: number; offset?: number },
): { b: number; lq: number; lk: number; h: number; d: number; dv: number; causal: boolean; scale: number; offset: number } {
  assertRank(q, 4, 'q', '[batch, Lq, heads, dim]');
  assertRank(k, 4, 'k', '[batch, Lk, heads, dim]');
  assertRank(v, 4, 'v', '[batch, Lk, heads, valueDim]');
  const [b, lq, h, d] = q.shape;
  const [lk, dv] = [k.shape[1], v.shape[3]];
  assertDim(k, 0, b, 'k', 'the batch axis (that of q)');
  assertDim(k, 2, h, 'k', 'the heads axis (that of q)');
  assertDim(k, 3, d, 'k', 'the feature axis (that of q)');
  assertDim(v, 0, b, 'v', 'the batch axis (that of k)');
  assertDim(v, 1, lk, 'v', 'the length axis (that of k)');
  assertDim(v, 2, h, 'v', 'the heads axis (that of k)');
  const causal = opts.causal ?? false;
  if (typeof causal !== 'boolean') throw new Error(`causal: expected a boolean, got ${JSON.stringify(causal)}`);
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  assertNumber(scale, 'scale');
  const offset = opts.offset ?? Math.max(lk - lq, 0);
  assertInt(offset, 'offset', 0);
  return { b, lq, lk, h, d, dv, causal, scale, offset };
}

/**
 * Multi-head softmax attention.
 * @param q [batch, Lq, heads, D]
 * @param k [batch, Lk, heads, D]
 * @param v [batch, Lk, heads, Dv]
 * @returns [batch, Lq, heads, Dv]
 */
export function softmaxAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: SoftmaxAttentionOptions = {}): tf.Tensor4D {
  const { b, lq, lk, h, causal, scale, offset } = checkSoftmaxInputs(q, k, v, opts);
  const scores = b * h * lq * lk;
  const limit = softmaxScoreLimit();
  if (scores > limit) {
    const maxL = Math.floor(Math.sqrt(limit / (b * h)));
    throw new Error(
      `softmaxAttention: length Lq ${lq} x Lk ${lk} on ${b} x ${h} heads needs ${scores} attention scores, more than the ${limit} the ${tf.getBackend()} backend holds ` +
        `(an L x L matrix per head, kept about ten times over in forward + backward); use linear attention, or at this batch and head count L <= ${maxL}`,
    );
  }
  const bias = opts.bias;
  if (bias !== undefined) {
    assertRankIn(bias, [3, 4], 'bias', '[heads, Lq, Lk] or [batch, heads, Lq, Lk]');
    const tail = bias.shape.slice(-3);
    if (tail[0] !== h || tail[1] !== lq || tail[2] !== lk || (bias.rank === 4 && bias.shape[0] !== b && bias.shape[0] !== 1)) {
      throw new Error(`bias: expected shape [${h}, ${lq}, ${lk}] or [${b}, ${h}, ${lq}, ${lk}], got [${bias.shape.join(', ')}]`);
    }
  }
  return tf.tidy(() => {
    const perm = [0, 2, 1, 3];
    let logits = tf.matMul(q.transpose(perm), k.transpose(perm), false, true).mul(scale); // [B, H, Lq, Lk]
    if (bias) logits = logits.add(bias);
    if (causal) logits = logits.add(causalMask(lq, lk, offset));
    const weights = tf.softmax(logits);
    return tf.matMul(weights, v.transpose(perm)).transpose(perm) as tf.Tensor4D;
  });
}

/** [Lq, Lk]: 0 where key j ≤ offset + i, else −1e9. */
function causalMask(lq: number, lk: number, offset: number): tf.Tensor2D {
  const m = new Float32Array(lq * lk);
  for (let i = 0; i < lq; i++) for (let j = offset + i + 1; j < lk; j++) m[i * lk + j] = MASKED;
  return tf.tensor2d(m, [lq, lk]);
}
