/**
 * The contracts every positional encoding implements.
 *
 * Tensor layout everywhere: [batch, length, heads, dim] ("BLHD"). Positions are
 * 0-based; `offset` shifts them (position = offset + index) for incremental
 * decoding. Inside an attention layer the order is
 *
 *   project -> [pre-feature-map encoding: SPE]      q,k [B,L,H,D] -> [B,L,H,R]
 *           -> feature map (elu+1, relu, FAVOR+)
 *           -> [post-feature-map encoding: LRPE, RoPE, PermuteFormer]
 *           -> linear attention
 *
 * Which stage an encoding acts at is declared once, in its registry definition (`stage`).
 * Absolute encodings (APE) act on token embeddings [B,L,model] instead and
 * implement `AbsoluteEncoding`.
 */
import type { tf, Rng } from '../backend';
import type { Module } from '../nn';

/** Per-call options of a query/key encoding. */
export interface EncodeOptions {
  /** Position of the first token (default 0). Used for incremental decoding. */
  offset?: number;
  /**
   * 2-D layout for image sequences: the length axis is rows*cols in row-major order.
   * Encodings that support it encode (row, col) positions; others throw.
   */
  grid?: { rows: number; cols: number };
  /** Source of random draws (SPE codes, gate noise). Defaults to the module's own generator. */
  rng?: Rng;
  /** True while training (some encodings redraw only then). */
  training?: boolean;
  /**
   * A feature map for the encoding to apply to q and k first (`q ← φ(q)`), for encodings that list
   * it in `inputMaps`: linear attention hands φ = elu + 1 to LRPE, whose fused kernels apply it in
   * the same pass. Default: none (q, k arrive mapped).
   */
  inputMap?: 'elu+1';
  /**
   * The caller uses the encoded q, k only through their inner products q'_s · k'_t (attention
   * scores, linear attention's sums), so `encode` may return both in any orthonormal basis common to
   * every position (q'U, k'U with one orthogonal U). The LRPE permutation core then leaves out its
   * last change of basis (Π^s = Bᵀ R(s) B: the Bᵀ cancels in every inner product). Default false:
   * the encoding itself.
   */
  innerProductsOnly?: boolean;
}

/** An encoding that transforms queries and keys of one attention layer. */
export interface QKEncoding extends Module {
  /** Registry name, e.g. 'lrpe', 'rope', 'spe', 'permuteformer'. */
  readonly kind: string;
  /** Per-head feature size of the encoded q/k given input size `dim` (LRPE unitary: 2*dim; SPE: R). */
  outputDim(dim: number): number;
  /**
   * q, k: [batch, length, heads, dim] (same shape) -> [q', k'], each [batch, length, heads, outputDim(dim)].
   * Scores q'_s . k'_t depend on positions only through t - s (exactly, or in expectation for SPE).
   */
  encode(q: tf.Tensor4D, k: tf.Tensor4D, opts?: EncodeOptions): [tf.Tensor4D, tf.Tensor4D];
  /**
   * Post encodings: true when encoded features stay non-negative whenever the inputs are (a
   * permutation, as PermuteFormer). Linear attention with a denominator divides by the encoded
   * scores only then; otherwise (RoPE, LRPE) the layer keeps the unencoded φ(q_s)·Σφ(k_t) as the
   * denominator, RoFormer's linear-attention form (Su et al. 2021, §3.4.3 "RoPE with linear
   * attention"), since encoded scores can sum to zero or below.
   */
  readonly preservesPositivity?: boolean;
  /** The feature maps `encode` can apply itself (`EncodeOptions.inputMap`); none when absent. */
  readonly inputMaps?: readonly 'elu+1'[];
  /**
   * Per-head decay r in (0,1) applied as r^(s-t) inside attention (PermuteFormer), or null.
   * Returned as a plain array of length `heads`.
   */
  decay?(): number[] | null;
  /**
   * Post encodings that are a fixed linear map of each q/k row per position, which an attention
   * kernel can apply to the rows as it gathers them (LRPE with fixed θ and P, every core,
   * `LrpeRowMap`): the map for `length` tokens (positions as `encode`), after φ = elu + 1 (one of
   * `inputMaps`); the kernel reads the mapped rows only through inner products (as
   * `EncodeOptions.innerProductsOnly`). null when this call cannot be given that way (learned
   * parameters, a grid, the reference path).
   */
  rowMap?(length: number, opts?: EncodeOptions): LrpeRowMap | null;
}

/**
 * A fixed LRPE map y = Λ P x of each row (`encodings/lrpe/kernels.ts`): P the Householder
 * reflection of the unit u [D], or a dense matrix given as `right` [D, D] with P x = (xᵀ right)ᵀ
 * (DCT, odd-even; for the permutation core right = Pᵀ Bᵀ, its turn then read in the basis B), or
 * P = I when both are null; Λ the core's turn by the table rows cos, sin [L, W] of the call's
 * positions: 'pairs' (W even, ≤ D: rotation, mixed and permutation cores; y [D]) or 'unitary'
 * (W = D; y = [z ⊙ cos, z ⊙ sin], [2D]).
 */
export interface LrpeRowMap {
  mode: 'pairs' | 'unitary';
  u: tf.Tensor1D | null;
  right: tf.Tensor2D | null;
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
}

/** A bias added to softmax logits (a relative position bias); registered with role 'bias'. */
export interface BiasEncoding extends Module {
  readonly kind: string;
  /**
   * Additive logits [heads, Lq, Lk] for queries at positions offset .. offset+Lq−1 and keys 0 .. Lk−1
   * (offset may be negative: the keys then start after the first query).
   */
  bias(lq: number, lk: number, opts?: { offset?: number }): tf.Tensor3D;
  /**
   * The gradients of `trainableVariables()` (in that order) for an upstream gradient dBias
   * [heads, Lq, Lk] of `bias(Lq, Lk, opts)`, computed without a gradient tape (blockwise softmax
   * attention computes the bias block by block inside its own backward pass).
   */
  biasGradients(dBias: tf.Tensor3D, opts?: { offset?: number }): tf.Tensor[];
}

/** An absolute encoding added to token embeddings. */
export interface AbsoluteEncoding extends Module {
  readonly kind: string;
  /** x: [batch, length, model] -> x + PE[offset .. offset+length). */
  apply(x: tf.Tensor3D, opts?: { offset?: number }): tf.Tensor3D;
}
