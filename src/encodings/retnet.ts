/**
 * Retention (Sun et al. 2023, "Retentive Network: A Successor to Transformer for Large Language
 * Models", §2.1) as an encoding of linear attention. The score of query n and key m ≤ n is
 *
 *   a_nm = γ_h^(n−m) · Re[(q_n e^{inθ}) · conj(k_m e^{imθ})],   θ_k = 10000^(−2k/d),   γ_h = 1 − 2^(−5−h),
 *
 * a rotation of q and k by their position (RoPE's, pairing dimensions 2k, 2k+1 as the reference
 * code's `rotate_every_two`) and a per-head decay. `encode` applies the rotation; the attention
 * layer applies γ_h^(n−m) inside its scan (`decay()`), in the parallel (masked), chunked and
 * recurrent forms alike, which are the paper's three forms of retention.
 *
 * The paper uses no feature map and normalises each head with GroupNorm instead of a
 * denominator: here the default normaliser is LayerNorm (`linear:identity+retnet` is the
 * paper's form; `linear:elu+retnet` shares the base of the other rows of rpelab's tables).
 */
import { tf, assertInt } from '../backend';
import { Module } from '../nn';
import type { EncodeOptions, QKEncoding } from './types';
import { checkQK } from './check';
import { RoPE } from './rope';
import { registerEncoding } from './registry';

/** γ_h = 1 − 2^(−5−h), h = 0..heads−1: the paper's per-head decays (from 0.969 down). */
export function retentionDecays(heads: number): number[] {
  assertInt(heads, 'heads');
  return Array.from({ length: heads }, (_, h) => 1 - 2 ** (-5 - h));
}

export class Retention extends Module implements QKEncoding {
  readonly kind = 'retnet';
  readonly headDim: number;
  readonly numHeads: number;
  private readonly rotation: RoPE;

  /**
   * @param opts.headDim per-head size d (even: the rotation turns pairs)
   * @param opts.numHeads H (one decay per head)
   * @param opts.base frequency base (default 10000)
   */
  constructor(opts: { headDim: number; numHeads: number; base?: number }) {
    super();
    assertInt(opts.headDim, 'headDim');
    assertInt(opts.numHeads, 'numHeads');
    this.headDim = opts.headDim;
    this.numHeads = opts.numHeads;
    this.rotation = this.addModule('rotation', new RoPE({ headDim: opts.headDim, base: opts.base, layout: 'interleaved' }));
  }

  /** The rotation keeps the size. */
  outputDim(dim: number): number {
    return dim;
  }

  /** q, k: [batch, length, numHeads, headDim] -> [q e^{inθ}, k e^{imθ}], n = offset + index. */
  encode(q: tf.Tensor4D, k: tf.Tensor4D, opts: EncodeOptions = {}): [tf.Tensor4D, tf.Tensor4D] {
    checkQK(q, k, this.headDim, this.numHeads);
    if (opts.grid) throw new Error('grid: retention has no 2-D form; expected no grid');
    return this.rotation.encode(q, k, { offset: opts.offset });
  }

  /** γ_h per head; the layer weighs the score of query n and key m by γ_h^(n−m). */
  decay(): number[] {
    return retentionDecays(this.numHeads);
  }
}

/** `retnet` in spec strings: no arguments. */
export const retentionEncoding = registerEncoding({
  name: 'retnet',
  role: 'qk',
  stage: 'post',
  doc: 'Retention (Sun et al. 2023): rotation e^{inθ} of q and k with a per-head decay γ^(n−m), γ_h = 1 − 2^(−5−h)',
  params: [],
  defaultNormalize: 'layernorm',
  relative: 'exact',
  build: (_a, ctx) => new Retention({ headDim: ctx.headDim, numHeads: ctx.numHeads }),
});
