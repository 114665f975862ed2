/**
 * Absolute positional encodings (APE): a position-dependent vector added to each
 * token embedding. Both papers keep or compare against them: the LRPE fairseq
 * LMs keep sinusoidal APE alongside LRPE (learned APE for RoBERTa), and the SPE
 * baselines are "APE" models (sinusoidal for text and music, learned for LRA Image).
 *
 * Shapes: token streams are [batch, length, model]; tables are [length, model].
 */
import { tf, Rng, assertInt, assertNumber, assertRank, assertDim } from '../backend';
import { Module, normalInit } from '../nn';
import type { AbsoluteEncoding } from './types';

/** Throws unless positions offset .. offset+length-1 fit in a table of `maxLength` rows. */
function assertFits(length: number, offset: number, maxLength: number, name: string): void {
  if (offset + length > maxLength) {
    throw new Error(`${name}: expected offset + length <= maxLength = ${maxLength}, got offset ${offset} + length ${length} = ${offset + length}`);
  }
}

/**
 * The fixed sinusoidal encoding of "Attention is all you need" (Vaswani et al. 2017):
 *
 *   PE[p, 2i] = sin(p · ω_i),  PE[p, 2i+1] = cos(p · ω_i),  ω_i = base^(−2i/model).
 *
 * (Interleaved sin/cos; with an odd `model` the last column is a sine. fairseq's
 * variant concatenates [sin | cos] halves and spaces ω over half−1 steps; the two
 * differ by a fixed permutation of columns and slightly different frequencies.)
 * The table is computed on the fly, so any position works unless `maxLength` is set.
 */
export class SinusoidalAPE extends Module implements AbsoluteEncoding {
  readonly kind = 'sinusoidal';
  readonly model: number;
  readonly maxLength: number | null;
  readonly base: number;
  /** ω_i, i = 0 .. ceil(model/2)-1. */
  private readonly frequencies: Float32Array;

  /**
   * @param opts.model embedding size (the last axis of x)
   * @param opts.maxLength optional cap on offset + length (default: none)
   * @param opts.base wavelength base (default 10000)
   */
  constructor(opts: { model: number; maxLength?: number; base?: number }) {
    super();
    assertInt(opts.model, 'model');
    if (opts.maxLength !== undefined) assertInt(opts.maxLength, 'maxLength');
    const base = opts.base ?? 10000;
    assertNumber(base, 'base', { positive: true });
    this.model = opts.model;
    this.maxLength = opts.maxLength ?? null;
    this.base = base;
    const half = Math.ceil(this.model / 2);
    this.frequencies = Float32Array.from({ length: half }, (_, i) => Math.pow(base, (-2 * i) / this.model));
  }

  /** PE rows for positions offset .. offset+length-1: [length, model]. */
  table(length: number, offset = 0): tf.Tensor2D {
    assertInt(length, 'length');
    assertInt(offset, 'offset', 0);
    if (this.maxLength !== null) assertFits(length, offset, this.maxLength, 'length');
    const half = this.frequencies.length;
    return tf.tidy(() => {
      const positions = tf.range(offset, offset + length, 1, 'float32').reshape([length, 1]);
      const angles = positions.mul(tf.tensor2d(this.frequencies, [1, half])); // [L, half]
      // Interleave: column 2i = sin, column 2i+1 = cos.
      const pe = tf.stack([angles.sin(), angles.cos()], 2).reshape([length, 2 * half]);
      return pe.slice([0, 0], [length, this.model]) as tf.Tensor2D;
    });
  }

  /** x: [batch, length, model] -> x + PE[offset .. offset+length). */
  apply(x: tf.Tensor3D, opts: { offset?: number } = {}): tf.Tensor3D {
    assertRank(x, 3, 'x', '[batch, length, model]');
    assertDim(x, 2, this.model, 'x', 'the model axis');
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', 0);
    if (this.maxLength !== null) assertFits(x.shape[1], offset, this.maxLength, 'x');
    return tf.tidy(() => x.add(this.table(x.shape[1], offset)));
  }
}

/**
 * A learned table of position vectors (GPT-2 / BERT style), `weight` [maxLength, model],
 * initialised N(0, std²) with std = 0.02. Positions at or beyond `maxLength` have no row:
 * asking for them throws.
 */
export class LearnedAPE extends Module implements AbsoluteEncoding {
  readonly kind = 'learned';
  readonly model: number;
  readonly maxLength: number;
  /** [maxLength, model], trainable. */
  readonly weight: tf.Variable;

  /**
   * @param opts.model embedding size
   * @param opts.maxLength number of positions with a row
   * @param opts.rng initialisation draws (default new Rng(0))
   * @param opts.std initial standard deviation (default 0.02)
   */
  constructor(opts: { model: number; maxLength: number; rng?: Rng; std?: number }) {
    super();
    assertInt(opts.model, 'model');
    assertInt(opts.maxLength, 'maxLength');
    const std = opts.std ?? 0.02;
    assertNumber(std, 'std', { min: 0 });
    this.model = opts.model;
    this.maxLength = opts.maxLength;
    this.weight = this.addParameter('weight', normalInit(opts.rng ?? new Rng(0), [this.maxLength, this.model], std));
  }

  /** Rows offset .. offset+length-1 of the table: [length, model]. */
  table(length: number, offset = 0): tf.Tensor2D {
    assertInt(length, 'length');
    assertInt(offset, 'offset', 0);
    assertFits(length, offset, this.maxLength, 'length');
    return this.weight.slice([offset, 0], [length, this.model]) as tf.Tensor2D;
  }

  /** x: [batch, length, model] -> x + weight[offset .. offset+length). */
  apply(x: tf.Tensor3D, opts: { offset?: number } = {}): tf.Tensor3D {
    assertRank(x, 3, 'x', '[batch, length, model]');
    assertDim(x, 2, this.model, 'x', 'the model axis');
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', 0);
    assertFits(x.shape[1], offset, this.maxLength, 'x');
    return tf.tidy(() => x.add(this.table(x.shape[1], offset)));
  }
}

/** The absolute encodings a model can add to its token embeddings ('none': no absolute position). */
export const APE_KINDS = ['none', 'sinusoidal', 'learned'] as const;
export type ApeKind = (typeof APE_KINDS)[number];

/** The absolute encoding of `kind` for embeddings of width `model`, or null for 'none'. */
export function buildAbsoluteEncoding(kind: ApeKind, model: number, maxLength: number, rng: Rng): AbsoluteEncoding | null {
  if (kind === 'none') return null;
  if (kind === 'sinusoidal') return new SinusoidalAPE({ model });
  if (kind === 'learned') return new LearnedAPE({ model, maxLength, rng });
  throw new Error(`ape: expected one of ${APE_KINDS.map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(kind)}`);
}
