/**
 * Rotary position embedding (RoPE; Su et al. 2021), the "Orthogonal, P = I" member
 * of the LRPE family (LRPE paper, Qin et al. 2023): each pair of dimensions of q_s and k_s is
 * rotated by the angle s·θ_k, θ_k = base^(−2k/d), so that
 *
 *   (R_s q)·(R_t k) = q^T R_{t−s} k     (depends on positions only through t − s)
 *
 * and ‖R_s x‖ = ‖x‖. In the LRPE baselines it acts after the feature map (stage 'post').
 *
 * Pairings of the d = headDim dimensions (k = 0 .. d/2−1):
 * - 'split-half' (default; GPT-NeoX, fairseq `rope()`, xmixers): (x_k, x_{k+d/2});
 * - 'interleaved' (original RoFormer, LRPE core 1): (x_{2k}, x_{2k+1}).
 * The two differ only by the fixed riffle permutation of dimensions
 * out[2k] = x[k], out[2k+1] = x[k+d/2] (LRPE's "odd-even" P).
 *
 * With `grid: {rows, cols}` the encoding is axial 2-D RoPE: position p = offset + index
 * is read as (row, col) = (floor(p / cols), p mod cols); the first d/2 dimensions are
 * rotated by row·θ'_k and the second d/2 by col·θ'_k, θ'_k = base^(−2k/(d/2)), each half
 * paired by the chosen layout. Scores then depend only on (Δrow, Δcol).
 *
 * Computation: R_p x = x ⊙ cos φ_p + (x J) ⊙ sin φ_p, with J the quarter-turn matrix of the
 * pairs. One [·, d] × [d, d] matmul and elementwise products, and no slicing of the feature
 * axis (such slices are slow on tfjs cpu, and on wasm at rank 5).
 */
import { tf, assertInt, assertNumber, assertOneOf, sinCos } from '../backend';
import { Module } from '../nn';
import type { EncodeOptions, QKEncoding } from './types';
import { checkQK } from './check';
import { registerEncoding } from './registry';

export type RopeLayout = 'split-half' | 'interleaved';
export const ROPE_LAYOUTS: readonly RopeLayout[] = ['split-half', 'interleaved'];

/** θ_k = base^(−2k/dim), k = 0 .. dim/2−1 (dim even). */
export function ropeFrequencies(dim: number, base = 10000): Float32Array {
  return Float32Array.from({ length: dim / 2 }, (_, k) => Math.pow(base, (-2 * k) / dim));
}

/**
 * The pairs (a, b) of dimensions rotated together, in frequency order k = 0 .. size/2−1,
 * for the `size` dimensions starting at `start`: (start+k, start+k+size/2) for 'split-half',
 * (start+2k, start+2k+1) for 'interleaved'.
 */
export function ropePairs(size: number, layout: RopeLayout, start = 0): Array<[number, number]> {
  return Array.from({ length: size / 2 }, (_, k): [number, number] =>
    layout === 'split-half' ? [start + k, start + k + size / 2] : [start + 2 * k, start + 2 * k + 1],
  );
}

/**
 * How one RoPE acts on a head of `dim` dimensions, for `axes` position coordinates
 * (1 for sequences; 2, row and column, for grids):
 * - `quarterTurn` J [dim, dim]: x J turns every pair (a, b) by +90°, (x_a, x_b) -> (−x_b, x_a);
 * - `frequencies[c]` [dim]: the angular frequency of each dimension for coordinate c
 *   (θ_k on both dims of pair k; 0 where coordinate c does not act).
 * The rotation at position p is then R_p x = x ⊙ cos(φ) + (x J) ⊙ sin(φ), φ = Σ_c p_c · frequencies[c].
 */
interface RopePlan {
  quarterTurn: Float32Array;
  frequencies: Float32Array[];
}

function makePlan(dim: number, base: number, layout: RopeLayout, axes: 1 | 2): RopePlan {
  const size = dim / axes; // dimensions per coordinate
  const theta = ropeFrequencies(size, base);
  const quarterTurn = new Float32Array(dim * dim);
  const frequencies = Array.from({ length: axes }, () => new Float32Array(dim));
  for (let c = 0; c < axes; c++) {
    ropePairs(size, layout, c * size).forEach(([a, b], k) => {
      quarterTurn[b * dim + a] = -1;
      quarterTurn[a * dim + b] = 1;
      frequencies[c][a] = frequencies[c][b] = theta[k];
    });
  }
  return { quarterTurn, frequencies };
}

/** Largest per-head size RoPE accepts (its quarter-turn matrix is headDim² floats: 64 MiB at 4096). */
export const ROPE_MAX_HEAD_DIM = 4096;

export class RoPE extends Module implements QKEncoding {
  readonly kind = 'rope';
  readonly headDim: number;
  readonly base: number;
  readonly layout: RopeLayout;
  /** θ_k = base^(−2k/headDim), k < headDim/2 (1-D). */
  readonly frequencies: Float32Array;
  private readonly plan1d: RopePlan;
  private plan2d: RopePlan | null = null;

  /**
   * @param opts.headDim per-head size d (even; a multiple of 4 for 2-D grids)
   * @param opts.base frequency base (default 10000)
   * @param opts.layout pairing of dimensions (default 'split-half')
   */
  constructor(opts: { headDim: number; base?: number; layout?: RopeLayout }) {
    super();
    assertInt(opts.headDim, 'headDim');
    if (opts.headDim % 2 !== 0) throw new Error(`headDim: RoPE rotates pairs of dimensions, so expected an even integer, got ${opts.headDim}`);
    // The rotation is applied as x cos + (J x) sin with a dense d x d quarter turn J (one matMul on wasm).
    if (opts.headDim > ROPE_MAX_HEAD_DIM)
      throw new Error(`headDim: RoPE builds a headDim x headDim quarter-turn matrix; expected headDim <= ${ROPE_MAX_HEAD_DIM}, got ${opts.headDim}`);
    const base = opts.base ?? 10000;
    assertNumber(base, 'base', { positive: true });
    this.headDim = opts.headDim;
    this.base = base;
    this.layout = assertOneOf(opts.layout ?? 'split-half', ROPE_LAYOUTS, 'layout');
    this.frequencies = ropeFrequencies(this.headDim, base);
    this.plan1d = makePlan(this.headDim, base, this.layout, 1);
  }

  /** RoPE keeps the size: outputDim(d) = d. */
  outputDim(dim: number): number {
    return dim;
  }

  /**
   * q, k: [batch, length, heads, headDim] -> [q', k'] of the same shape, with
   * q'_s = R_{offset+s} q_s (or the axial 2-D rotation when `opts.grid` is given).
   */
  encode(q: tf.Tensor4D, k: tf.Tensor4D, opts: EncodeOptions = {}): [tf.Tensor4D, tf.Tensor4D] {
    checkQK(q, k, this.headDim);
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', 0);
    const L = q.shape[1];
    let plan = this.plan1d;
    if (opts.grid) {
      const { rows, cols } = opts.grid;
      assertInt(rows, 'grid.rows');
      assertInt(cols, 'grid.cols');
      if (this.headDim % 4 !== 0) throw new Error(`headDim: axial 2-D RoPE splits each half into pairs, so expected a multiple of 4, got ${this.headDim}`);
      if (offset + L > rows * cols) {
        throw new Error(`q: expected offset + length <= grid.rows * grid.cols = ${rows * cols}, got offset ${offset} + length ${L} = ${offset + L}`);
      }
      plan = this.plan2d ??= makePlan(this.headDim, this.base, this.layout, 2);
    }
    return tf.tidy(() => {
      const coords = opts.grid ? gridCoordinates(offset, L, opts.grid.cols) : [tf.range(offset, offset + L, 1, 'float32')];
      const angles = this.angles(coords, plan.frequencies, q.shape[2]);
      const [cos, sin] = sinCos(angles);
      const J = tf.tensor2d(plan.quarterTurn, [this.headDim, this.headDim]);
      const rotate = (x: tf.Tensor4D) => {
        const turned = quarterTurn(x.reshape([-1, this.headDim]) as tf.Tensor2D, J).reshape(x.shape);
        return x.mul(cos).add(turned.mul(sin)) as tf.Tensor4D;
      };
      return [rotate(q), rotate(k)];
    });
  }

  /**
   * φ[s, h, j] = Σ_c coords[c][s] · frequencies[c][j], repeated over the `heads` axis:
   * [length, heads, headDim]. The head axis is materialised (an outer product with the
   * frequencies tiled H times) so that x [B, L, H, D] ⊙ φ broadcasts over the batch only.
   */
  private angles(coords: tf.Tensor1D[], frequencies: Float32Array[], heads: number): tf.Tensor3D {
    const D = this.headDim;
    const perHead = (f: Float32Array) => {
      const tiled = new Float32Array(heads * D);
      for (let h = 0; h < heads; h++) tiled.set(f, h * D);
      return tf.tensor1d(tiled);
    };
    const terms = coords.map((p, c) => tf.outerProduct(p, perHead(frequencies[c])));
    return tf.addN(terms).reshape([coords[0].shape[0], heads, D]) as tf.Tensor3D;
  }
}

/**
 * x J for a quarter-turn matrix J (a signed permutation with J^T = −J), with the backward
 * pass dy J^T written as −(dy J): tfjs's default gradient multiplies by a transposed
 * operand, which is several times slower on wasm. x: [n, d], J: [d, d] -> [n, d].
 */
function quarterTurn(x: tf.Tensor2D, J: tf.Tensor2D): tf.Tensor2D {
  const turn = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    save([J]);
    return {
      value: tf.matMul(input, J),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.matMul(dy as tf.Tensor2D, saved[0] as tf.Tensor2D).neg(),
    };
  });
  return turn(x) as tf.Tensor2D;
}

/** (row, col) = (floor(p / cols), p mod cols) for p = offset .. offset+length−1, as float32 [length] each. */
function gridCoordinates(offset: number, length: number, cols: number): tf.Tensor1D[] {
  const p = tf.range(offset, offset + length, 1, 'int32');
  const c = tf.scalar(cols, 'int32');
  return [tf.floorDiv(p, c).toFloat().as1D(), tf.mod(p, c).toFloat().as1D()];
}

/** `rope(layout)` in spec strings; after the feature map, as in the LRPE baselines. */
export const ropeEncoding = registerEncoding({
  name: 'rope',
  role: 'qk',
  stage: 'post',
  doc: 'Rotary position embedding (Su et al.), applied after the feature map as in the LRPE baselines',
  params: [{ name: 'layout', type: 'choice', choices: ROPE_LAYOUTS, default: 'split-half', doc: 'pairing of dimensions' }],
  relative: 'exact',
  examples: [['split-half'], ['interleaved']],
  build: (a, ctx) => new RoPE({ headDim: ctx.headDim, layout: a.layout as RopeLayout }),
});
