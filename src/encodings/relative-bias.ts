/**
 * A learnable relative position bias for softmax attention (Shaw et al. 2018 with
 * scalar per-head values as in T5, but clipped rather than log-bucketed):
 *
 *   logits[h, s, t] += b[h, clip(t − s)],   clip to [−(maxDistance−1), maxDistance−1]
 *
 * (query s, key t). Unidirectional (causal) biases clip to [−(maxDistance−1), 0]:
 * future keys share the bucket of t − s = 0, which the causal mask removes anyway.
 * It needs the full L × L logit matrix, so it serves the quadratic reference
 * attention only; it cannot be linearised (LRPE paper, Qin et al. 2023).
 */
import { tf, Rng, assertInt, assertNumber } from '../backend';
import { Module, normalInit } from '../nn';
import type { BiasEncoding } from './types';
import { registerEncoding } from './registry';

export class RelativePositionBias extends Module implements BiasEncoding {
  readonly kind = 'relbias';
  readonly numHeads: number;
  readonly maxDistance: number;
  readonly bidirectional: boolean;
  /**
   * [numHeads, buckets], trainable. Bucket j holds the bias of t − s = j − (maxDistance−1);
   * buckets = 2·maxDistance − 1 (bidirectional) or maxDistance (unidirectional, t − s ≤ 0).
   */
  readonly weight: tf.Variable;

  /**
   * @param opts.numHeads H
   * @param opts.maxDistance offsets are clipped to ±(maxDistance−1)
   * @param opts.bidirectional biases for keys after the query too (default true)
   * @param opts.rng initialisation draws (default new Rng(0))
   * @param opts.std initial standard deviation (default 0.02; 0 starts as no bias)
   */
  constructor(opts: { numHeads: number; maxDistance: number; bidirectional?: boolean; rng?: Rng; std?: number }) {
    super();
    assertInt(opts.numHeads, 'numHeads');
    assertInt(opts.maxDistance, 'maxDistance');
    const std = opts.std ?? 0.02;
    assertNumber(std, 'std', { min: 0 });
    this.numHeads = opts.numHeads;
    this.maxDistance = opts.maxDistance;
    this.bidirectional = opts.bidirectional ?? true;
    const buckets = this.bidirectional ? 2 * this.maxDistance - 1 : this.maxDistance;
    this.weight = this.addParameter('weight', normalInit(opts.rng ?? new Rng(0), [this.numHeads, buckets], std));
  }

  /**
   * The bias for queries at positions offset .. offset+queryLength−1 and keys at
   * 0 .. keyLength−1: [numHeads, queryLength, keyLength], entry [h, i, j] = b[h, clip(j − (offset + i))].
   * @param opts.offset position of the first query (default 0; keyLength − queryLength when decoding with a cache;
   *   negative when the keys start after the first query, as for a block of keys in blockwise attention)
   */
  bias(queryLength: number, keyLength: number, opts: { offset?: number } = {}): tf.Tensor3D {
    assertInt(queryLength, 'queryLength');
    assertInt(keyLength, 'keyLength');
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', -Number.MAX_SAFE_INTEGER);
    return tf.tidy(() => {
      const { E, n } = this.bucketMatrix(queryLength, keyLength, offset);
      const u = tf.matMul(this.weight, E, false, true) as tf.Tensor2D; // [H, n]
      return circulantBlock(u, queryLength, keyLength, n);
    });
  }

  /**
   * The gradient of the weight ([numHeads, buckets], the only trainable variable) for an upstream
   * gradient `dBias` [numHeads, queryLength, keyLength] of `bias(queryLength, keyLength, opts)`,
   * computed without a gradient tape (blockwise softmax attention's backward pass calls it).
   */
  biasGradients(dBias: tf.Tensor3D, opts: { offset?: number } = {}): tf.Tensor[] {
    if (!(dBias instanceof tf.Tensor) || dBias.rank !== 3 || dBias.shape[0] !== this.numHeads) {
      throw new Error(
        `dBias: expected a tensor [${this.numHeads}, queryLength, keyLength], got ${dBias instanceof tf.Tensor ? `[${dBias.shape.join(', ')}]` : String(dBias)}`,
      );
    }
    const [, Lq, Lk] = dBias.shape;
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', -Number.MAX_SAFE_INTEGER);
    return [
      tf.tidy(() => {
        const { E, n } = this.bucketMatrix(Lq, Lk, offset);
        return tf.matMul(diagonalSums(dBias, n), E);
      }),
    ];
  }

  /**
   * E [n, buckets], one-hot: row j is the bucket of the offset t − s ≡ j (mod n), n = Lq + Lk (more than
   * the Lq + Lk − 1 distinct offsets of the block), queries starting at `offset`: bias u = w Eᵀ per offset.
   */
  private bucketMatrix(Lq: number, Lk: number, offset: number): { E: tf.Tensor2D; n: number } {
    const n = Lq + Lk;
    const m = this.maxDistance - 1;
    const E = tf.tidy(() => {
      // t − s = ((j + Lq − 1) mod n) − (Lq − 1) for j = 0..n−1, queries starting at `offset`.
      // (Offsets in float32, exact below 2^24: wasm's clipByValue mishandles int32.)
      const rel = tf
        .range(0, n, 1, 'float32')
        .add(Lq - 1)
        .mod(n)
        .sub(Lq - 1 + offset);
      const bucket = rel
        .clipByValue(-m, this.bidirectional ? m : 0)
        .add(m)
        .toInt();
      // A one-hot product rather than a gather: tfjs computes a gather's gradient with one pass over
      // its output per bucket (seconds at 255 buckets).
      return tf.oneHot(bucket, this.weight.shape[1] as number).toFloat() as tf.Tensor2D; // (wasm's OneHot ignores a float32 dtype)
    });
    return { E, n };
  }
}

/**
 * Σ of dy [H, Lq, Lk] along its wrapped diagonals: out[h, j] = Σ dy[h, s, t] over (t − s) mod n = j,
 * n >= Lq + Lk − 1, by "unskewing" (place row s at flat offset s·(n−1) of a run of Lq·n zeros: pad
 * each row to n−1, flatten, pad to Lq·n; entry (s, t) lands at s·(n−1) + t ≡ t − s (mod n), so
 * folding the run into rows of n and summing the rows gives the sums). [H, n].
 */
function diagonalSums(dy: tf.Tensor, n: number): tf.Tensor2D {
  const [H, Lq, Lk] = dy.shape as [number, number, number];
  return dy
    .pad([
      [0, 0],
      [0, 0],
      [0, n - 1 - Lk],
    ])
    .reshape([H, Lq * (n - 1)])
    .pad([
      [0, 0],
      [0, Lq],
    ])
    .reshape([H, Lq, n])
    .sum(1) as tf.Tensor2D;
}

/**
 * The top-left Lq × Lk block of the circulant matrices of u: T[h, s, t] = u[h, (t − s) mod n].
 * u: [H, n] with n >= Lq + Lk − 1 -> [H, Lq, Lk]. Forward: one gather. Backward: `diagonalSums`,
 * instead of tfjs's generic gather gradient (which makes one pass over ∂T per column of u).
 */
function circulantBlock(u: tf.Tensor2D, Lq: number, Lk: number, n: number): tf.Tensor3D {
  const block = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor2D;
    const s = tf.range(0, Lq, 1, 'float32').reshape([Lq, 1]);
    const t = tf.range(0, Lk, 1, 'float32').reshape([1, Lk]);
    const index = t.sub(s).add(n).mod(n).toInt(); // [Lq, Lk]
    return {
      value: tf.gather(input as tf.Tensor, index, 1) as tf.Tensor3D,
      gradFunc: (dy: tf.Tensor) => diagonalSums(dy, n),
    };
  });
  return block(u) as tf.Tensor3D;
}

/** `relbias(max=…)` in spec strings: softmax attention only. */
export const relativeBiasEncoding = registerEncoding({
  name: 'relbias',
  role: 'bias',
  doc: 'Learnable relative position bias b[h, t-s] added to softmax logits (quadratic attention only)',
  params: [{ name: 'maxDistance', type: 'int', aliases: ['max'], min: 1, default: 128, doc: 'offsets clipped to ±(max-1)' }],
  relative: 'exact',
  build: (a, ctx) => new RelativePositionBias({ numHeads: ctx.numHeads, maxDistance: a.maxDistance as number, bidirectional: true, rng: ctx.rng }),
});
