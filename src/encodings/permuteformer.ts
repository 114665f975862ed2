/**
 * PermuteFormer (Chen 2021), the "Permutation, P = I" member of the LRPE family
 * (LRPE paper, Qin et al. 2023): the features of the token at position s are permuted s times
 * by one fixed random permutation π,
 *
 *   y_s = Π^s x_s,   (Π x)_i = x_{π(i)},   so   (Π^s q)·(Π^t k) = q^T Π^{t−s} k,
 *
 * which depends on positions only through t − s (and is periodic in the order of π).
 * As in the LRPE baseline code, one π of the head dimensions is shared by all heads. The
 * reference code reads Π^s from a table for positions 0..511; here Π^s is computed for the
 * positions of each call from the cycles of π, so any length and offset work.
 *
 * The "-p" variant multiplies scores by a per-head decay r_h^(s−t) (query s, key t ≤ s
 * in causal attention; r_h^|s−t| when bidirectional), r_h = sigmoid(3h/H + 2). The
 * reference (causal) code folds it into the features (q_s · r^s, k_t · r^(−t)), but r^(−t)
 * overflows float32 at long lengths (r = 0.88: r^(−t) > 3.4e38 for t > ~700). So `encode`
 * applies only Π^s; the attention layer applies the decay inside its causal /
 * bidirectional scan using `decay()`.
 */
import { tf, Rng, assertInt } from '../backend';
import { Module } from '../nn';
import type { EncodeOptions, QKEncoding } from './types';
import { checkQK } from './check';
import { registerEncoding } from './registry';

/**
 * Powers of a permutation: row r of the result is π^(offset + r), i.e. idx_0 = identity and
 * idx_(s+1) = idx_s[π] (π applied s times); with `inverse`, row r is π^(−(offset + r)).
 * Computed in closed form from the cycles of π: if i sits at place p of a cycle c of length n,
 * π^k(i) = c[(p + k) mod n], so any position is exact, with no table of positions.
 * perm: a permutation of 0..d−1 -> int32 [count, d].
 */
export function permutationPowers(perm: ArrayLike<number>, count: number, inverse = false, offset = 0): tf.Tensor2D {
  const d = perm.length;
  assertInt(count, 'count');
  assertInt(offset, 'offset', 0);
  const hit = new Uint8Array(d);
  for (let i = 0; i < d; i++) {
    const v = perm[i];
    if (!(Number.isInteger(v) && v >= 0 && v < d) || hit[v]) {
      throw new Error(`perm: expected a permutation of 0..${d - 1}, got ${v} at index ${i}`);
    }
    hit[v] = 1;
  }
  const seen = new Uint8Array(d);
  const order = new Int32Array(d); // the cycles of π, one after another
  const start = new Int32Array(d); // where i's cycle starts in `order`
  const place = new Int32Array(d); // i's place in its cycle
  const size = new Int32Array(d); // the length of i's cycle
  let n = 0;
  for (let i = 0; i < d; i++) {
    if (seen[i]) continue;
    const first = n;
    for (let j = i; !seen[j]; j = perm[j]) {
      seen[j] = 1;
      order[n] = j;
      place[j] = n - first;
      start[j] = first;
      n++;
    }
    for (let m = first; m < n; m++) size[order[m]] = n - first;
  }
  // Host arithmetic: (place + k) mod n with k reduced mod n first, exact at any position.
  const out = new Int32Array(count * d);
  for (let r = 0; r < count; r++) {
    const k = offset + r;
    for (let i = 0; i < d; i++) {
      const n = size[i];
      const shift = (inverse ? n - (k % n) : k % n) % n;
      out[r * d + i] = order[start[i] + ((place[i] + shift) % n)];
    }
  }
  return tf.tensor2d(out, [count, d], 'int32');
}

/**
 * y[:, j] = x[:, forward[j]] for a permutation `forward` of the columns, whose inverse is
 * `inverse`. The gradient is the inverse gather, dx[:, j] = dy[:, inverse[j]]: exact, and O(size),
 * where tfjs's generic gather gradient (UnsortedSegmentSum) makes one pass over dy per column.
 * x: [rows, N]; forward, inverse: int32 [N] -> [rows, N].
 */
function permuteColumns(x: tf.Tensor2D, forward: tf.Tensor1D, inverse: tf.Tensor1D): tf.Tensor2D {
  const permute = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([inverse]);
    return {
      value: tf.gather(input, forward, 1),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.gather(dy, saved[0], 1),
    };
  });
  return permute(x) as tf.Tensor2D;
}

export class PermuteFormer extends Module implements QKEncoding {
  readonly kind = 'permuteformer';
  /** A permutation of non-negative features is non-negative: the encoded denominator stays positive. */
  readonly preservesPositivity = true;
  readonly headDim: number;
  readonly numHeads: number;
  /** int32 [headDim] buffer: π itself. Π^s for any position s is computed from its cycles (no table of positions). */
  readonly pi: tf.Variable;

  /**
   * @param opts.headDim per-head size d (π permutes 0..d−1)
   * @param opts.numHeads H (one decay per head; π is shared by all heads)
   * @param opts.rng draws π (default new Rng(0))
   */
  constructor(opts: { headDim: number; numHeads: number; rng?: Rng }) {
    super();
    assertInt(opts.headDim, 'headDim');
    assertInt(opts.numHeads, 'numHeads');
    if (opts.rng !== undefined && !(opts.rng instanceof Rng)) throw new Error(`rng: expected an Rng, got ${String(opts.rng)}`);
    this.headDim = opts.headDim;
    this.numHeads = opts.numHeads;
    this.pi = this.addBuffer('pi', tf.tensor1d(Int32Array.from((opts.rng ?? new Rng(0)).permutation(this.headDim)), 'int32'));
  }

  /** PermuteFormer keeps the size: outputDim(d) = d. */
  outputDim(dim: number): number {
    return dim;
  }

  /**
   * q, k: [batch, length, numHeads, headDim] -> [Π^s q_s, Π^s k_s] of the same shape,
   * s = offset + index. No decay is applied here (see the class comment).
   */
  encode(q: tf.Tensor4D, k: tf.Tensor4D, opts: EncodeOptions = {}): [tf.Tensor4D, tf.Tensor4D] {
    checkQK(q, k, this.headDim, this.numHeads);
    if (opts.grid) throw new Error('grid: PermuteFormer has no 2-D form; expected no grid');
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', 0);
    const [B, L, H, D] = q.shape;
    if (L * H * D > 2 ** 24) {
      throw new Error(`q: expected length * heads * headDim <= 2^24 (float32 index arithmetic), got ${L} * ${H} * ${D} = ${L * H * D}`);
    }
    return tf.tidy(() => {
      // Flat index into one sequence [L*H*D]: element (s, h, i) reads (s, h, π^s(i)), i.e.
      // (s·H + h)·D + π^s(i). Built in float32 (exact below 2^24; wasm broadcasts int32 slowly).
      const rows = tf.range(0, L * H * D, D, 'float32').reshape([L, H, 1]);
      const pi = this.pi.dataSync();
      const flat = (powers: tf.Tensor2D) =>
        rows
          .add(powers.toFloat().reshape([L, 1, D]))
          .reshape([L * H * D])
          .toInt() as tf.Tensor1D;
      const forward = flat(permutationPowers(pi, L, false, offset));
      const backward = flat(permutationPowers(pi, L, true, offset));
      const permute = (x: tf.Tensor4D) => permuteColumns(x.reshape([B, L * H * D]), forward, backward).reshape([B, L, H, D]) as tf.Tensor4D;
      return [permute(q), permute(k)];
    });
  }

  /**
   * Per-head decay r_h = sigmoid(3h/H + 2), h = 0..H−1 (in [0.8808, 0.9933)).
   * The attention layer weights the score of query s and key t by r_h^|s−t| (r_h^(s−t) when causal).
   */
  decay(): number[] {
    return Array.from({ length: this.numHeads }, (_, h) => 1 / (1 + Math.exp(-((h / this.numHeads) * 3 + 2))));
  }
}

/** `permuteformer` in spec strings: no arguments. */
export const permuteFormerEncoding = registerEncoding({
  name: 'permuteformer',
  role: 'qk',
  stage: 'post',
  doc: 'PermuteFormer (Chen 2021): Π^s on q and k with a per-head decay r^(s-t) inside attention',
  params: [],
  relative: 'exact',
  build: (_a, ctx) => new PermuteFormer({ headDim: ctx.headDim, numHeads: ctx.numHeads, rng: ctx.rng }),
});
