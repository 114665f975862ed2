/**
 * SPE as a query/key encoding: a code generator (sineSPE or convSPE) plus an SPEFilter
 * (gated by default), applied to the raw per-head projections before the feature map
 * (SPE paper, Liutkus et al. 2021).
 *
 *   q, k [B, L, H, D]  ->  q̂, k̂ [B, L, H, R]  with  E[q̂_m · k̂_n / √R] = Σ_d q_md k_nd P′_d(m − n) / √D
 *
 * where P′ = (1 − g) P + g when gated. A fresh code (and gate noise) is drawn at every call,
 * in training and at test time alike (as in the paper; `EncodeOptions.training` is ignored).
 * The sine variant never materialises the code (see `sineSPEFeatureProject`); the conv variant
 * does (its code is a filtered noise field, O(L·H·D·R), plus O(R·H·D·(L + 4P)) noise).
 */
import { tf, Rng, assertInt, assertRank, assertDim, assertSameShape, assertOneOf } from '../../backend';
import { Module } from '../../nn';
import type { QKEncoding, EncodeOptions } from '../types';
import { SineSPE } from './sine';
import { ConvSPE } from './conv';
import { SPEFilter } from './filter';
import { sineSPEFeatureProject, sineFeatureNoise, sineSPECodeProject, sineProjectPath, headMixing, type SineProjectPath } from './project';
import { codeScale } from './common';
import { registerEncoding } from '../registry';

/** The two code generators of the SPE paper. */
export const SPE_VARIANTS = ['sine', 'conv'] as const;

export interface SPEOptions {
  /** 'sine' (sineSPE) or 'conv' (convSPE). */
  variant: 'sine' | 'conv';
  /** Number of attention heads H. */
  numHeads: number;
  /** Per-head query/key size D. */
  headDim: number;
  /** Realizations R = the per-head size of q̂, k̂ (default 64). */
  numRealizations?: number;
  /** sine only: sines per feature K (default 10). */
  numSines?: number;
  /** conv only (required): filter length P, per axis or one for all. */
  kernelSize?: number | number[];
  /** conv only: 1 (default) or 2; 2 needs `EncodeOptions.grid` at every call. */
  ndim?: 1 | 2;
  /** Use a gated SPEFilter (default true). */
  gated?: boolean;
  /** Initialisation draws (default `new Rng(0)`); a fork of it draws codes and gate noise. */
  rng?: Rng;
}

/** `EncodeOptions` plus injectable standard-normal draws (for comparisons with the reference). */
export interface SPEEncodeOptions extends EncodeOptions {
  /**
   * The code's noise in the generator's reference layout: sine [1, H, D, 2K, R];
   * conv [R, H·D, ...(S + 4P)] for the drawn size S (1-D: max(offset + L, P); 2-D: max(rows, P0), max(cols, P1)).
   */
  noise?: tf.Tensor;
  /** The gate noise [H, D, R] (gated only). */
  gateNoise?: tf.Tensor;
  /**
   * sine only: how q̂, k̂ are computed (same numbers either way): 'features' (per head, never
   * builds the code), 'code' (builds it once per call, cheaper for batches), or 'auto' (default:
   * `sineProjectPath` by measured cost).
   */
  sinePath?: 'auto' | SineProjectPath;
}

/** The per-call generators of the code noise and the gate noise. */
interface Draws {
  code: Rng;
  gate: Rng;
}

export class SPE extends Module implements QKEncoding {
  readonly kind = 'spe';
  readonly variant: 'sine' | 'conv';
  readonly numHeads: number;
  readonly headDim: number;
  readonly numRealizations: number;
  /** The code generator (registered as child 'code'). */
  readonly code: SineSPE | ConvSPE;
  /** The filter (registered as child 'filter'). */
  readonly filter: SPEFilter;
  private readonly rng: Rng;

  constructor(opts: SPEOptions) {
    super();
    const variant = assertOneOf(opts.variant, SPE_VARIANTS, 'variant');
    const { numHeads, headDim, numRealizations = 64, gated = true } = opts;
    assertInt(numHeads, 'numHeads');
    assertInt(headDim, 'headDim');
    assertInt(numRealizations, 'numRealizations');
    const rng = opts.rng ?? new Rng(0);
    const common = { numHeads, inFeatures: headDim, numRealizations };
    if (variant === 'sine') {
      for (const key of ['kernelSize', 'ndim'] as const) {
        if (opts[key] !== undefined) throw new Error(`${key}: only used by variant 'conv', got ${JSON.stringify(opts[key])} with variant 'sine'`);
      }
    } else {
      if (opts.numSines !== undefined) throw new Error(`numSines: only used by variant 'sine', got ${opts.numSines} with variant 'conv'`);
      if (opts.kernelSize === undefined) throw new Error("kernelSize: required by variant 'conv'");
    }
    try {
      this.code = this.addModule(
        'code',
        variant === 'sine'
          ? new SineSPE({ ...common, numSines: opts.numSines, rng: rng.fork('code') })
          : new ConvSPE({ ...common, ndim: opts.ndim, kernelSize: opts.kernelSize!, rng: rng.fork('code') }),
      );
      this.filter = this.addModule('filter', new SPEFilter({ numHeads, inFeatures: headDim, gated, rng: rng.fork('filter') }));
    } catch (e) {
      this.dispose(); // a refused filter must not leave the code generator's parameters behind
      throw e;
    }
    this.variant = variant;
    this.numHeads = numHeads;
    this.headDim = headDim;
    this.numRealizations = numRealizations;
    this.rng = rng.fork('draws');
  }

  /** R, the per-head size of the encoded q̂, k̂ (throws if `dim` is given and is not headDim). */
  outputDim(dim?: number): number {
    if (dim !== undefined && dim !== this.headDim) throw new Error(`dim: expected the headDim ${this.headDim} of this SPE, got ${dim}`);
    return this.numRealizations;
  }

  /**
   * Encodes queries and keys with a freshly drawn code and gate noise, from two forks of
   * `opts.rng` (else of the module's own generator) made at every call.
   * @param q queries [B, L, H, headDim]; k keys of the same shape.
   * @param opts.offset position of the first token (default 0): the result is rows
   *   offset .. offset+L−1 of the encoding of a length offset+L input with the same draws
   *   (prefix-consistent: decoding step by step with a generator reset to the same state
   *   reproduces the full-sequence encoding).
   * @param opts.grid {rows, cols} with rows·cols = L (row-major), for conv with ndim 2 only.
   * @returns [q̂, k̂], each [B, L, H, R].
   */
  encode(q: tf.Tensor4D, k: tf.Tensor4D, opts: SPEEncodeOptions = {}): [tf.Tensor4D, tf.Tensor4D] {
    assertRank(q, 4, 'q', 'batch, length, heads, headDim');
    assertSameShape(q, k, 'q', 'k');
    assertDim(q, 2, this.numHeads, 'q', 'the heads axis');
    assertDim(q, 3, this.headDim, 'q', 'the feature axis');
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', 0);
    if (opts.gateNoise !== undefined && !this.filter.gated) throw new Error('gateNoise: this SPE is not gated');
    if (opts.sinePath !== undefined) {
      assertOneOf(opts.sinePath, ['auto', 'features', 'code'] as const, 'sinePath');
      if (this.variant !== 'sine') throw new Error(`sinePath: only used by SPE variant 'sine', this one is '${this.variant}'`);
    }
    // Two forks per call: the code and the gate noise each get their own stream, so neither
    // depends on how many draws the other made (conv codes draw in proportion to the length).
    const rng = opts.rng ?? this.rng;
    const draws = { code: rng.fork('code'), gate: rng.fork('gate') };
    const is2d = this.code instanceof ConvSPE && this.code.ndim === 2;
    if (opts.grid !== undefined && !is2d) {
      throw new Error(`grid: only supported by SPE variant 'conv' with ndim 2, this one is '${this.variant}'${this.variant === 'conv' ? ' with ndim 1' : ''}`);
    }
    if (this.code instanceof SineSPE) return this.encodeSine(this.code, q, k, offset, draws, opts);
    return this.encodeConv(this.code, q, k, offset, draws, opts);
  }

  private encodeSine(code: SineSPE, q: tf.Tensor4D, k: tf.Tensor4D, offset: number, draws: Draws, opts: SPEEncodeOptions): [tf.Tensor4D, tf.Tensor4D] {
    const [B, L, H, D] = q.shape;
    const [K, R] = [code.numSines, this.numRealizations];
    const path = opts.sinePath === undefined || opts.sinePath === 'auto' ? sineProjectPath(B, L, H, D, K, R) : opts.sinePath;
    return tf.tidy(() => {
      const noise = code.drawNoise({ noise: opts.noise, rng: draws.code }); // [1, H, D, 2K, R]
      const g = this.filter.gated ? this.filter.gate() : null; // [H, D]
      const gateNoise = g === null ? null : this.filter.gateNoise(R, { gateNoise: opts.gateNoise, rng: draws.gate }); // ε [H, D, R]
      const keep = g === null ? null : tf.scalar(1).sub(g).sqrt(); // √(1 − g), [H, D]
      const pass = g === null ? null : g.sqrt(); // √g, [H, D]
      if (path === 'features') {
        // Everything learned goes into the features; the noise is the constant right-hand side.
        let amp = code.amplitudes().mul(codeScale(R, D) / Math.sqrt(2 * K)); // [H, D, K]
        if (keep !== null) amp = amp.mul(keep.expandDims(-1));
        const omega = code.frequencies().mul(2 * Math.PI);
        return sineSPEFeatureProject(q, k, omega, code.offsets, amp, pass, sineFeatureNoise(noise, gateNoise), { offset });
      }
      let mixing = code.mixing(noise); // [H, D, 2K, R]
      let gate: tf.Tensor | null = null; // √g·ε, [H, D, R]
      if (keep !== null) {
        mixing = mixing.mul(keep.reshape([H, D, 1, 1]));
        gate = gateNoise!.mul(pass!.expandDims(-1));
      }
      // The mixing weights in the code path's layout, per head (query side with θ folded in).
      const perHead = (t: tf.Tensor, shape: number[]) => (H === 1 ? [t.reshape(shape)] : tf.unstack(t.reshape([H, -1])).map((x) => x.reshape(shape)));
      const thetas = perHead(code.offsets, [D, K]);
      const mixings = perHead(mixing, [D, 2 * K, R]);
      const wq = tf.stack(mixings.map((m, h) => headMixing(m, thetas[h])));
      const wk = tf.stack(mixings.map((m) => headMixing(m)));
      const omega = code
        .frequencies()
        .mul(2 * Math.PI)
        .transpose([0, 2, 1]); // [H, K, D]
      return sineSPECodeProject(q, k, omega, wq, wk, gate, offset);
    });
  }

  private encodeConv(code: ConvSPE, q: tf.Tensor4D, k: tf.Tensor4D, offset: number, draws: Draws, opts: SPEEncodeOptions): [tf.Tensor4D, tf.Tensor4D] {
    const [B, L, H, D] = q.shape;
    const P = code.kernelSize;
    const gate = { gateNoise: opts.gateNoise, rng: draws.gate };
    if (code.ndim === 1) {
      // Drawing at least P positions keeps short (e.g. single-step) inputs legal; the filter truncates.
      const drawn = Math.max(offset + L, P[0]);
      return tf.tidy(() => {
        let { qbar, kbar } = code.forward([B, drawn], { noise: opts.noise, rng: draws.code });
        if (offset > 0) {
          const size = [1, L, H, D, this.numRealizations];
          qbar = qbar.slice([0, offset, 0, 0, 0], size);
          kbar = kbar.slice([0, offset, 0, 0, 0], size);
        }
        return this.filter.apply(q, k, { qbar, kbar }, gate) as [tf.Tensor4D, tf.Tensor4D];
      });
    }
    const grid = opts.grid;
    if (grid === undefined) throw new Error(`grid: required by SPE variant 'conv' with ndim 2 ({rows, cols} with rows*cols = ${L})`);
    assertInt(grid.rows, 'grid.rows');
    assertInt(grid.cols, 'grid.cols');
    if (grid.rows * grid.cols !== L) throw new Error(`grid: expected rows*cols = length ${L}, got ${grid.rows}*${grid.cols}`);
    if (offset !== 0) throw new Error(`offset: must be 0 with a 2-D grid, got ${offset}`);
    return tf.tidy(() => {
      const code2d = code.forward([B, Math.max(grid.rows, P[0]), Math.max(grid.cols, P[1])], { noise: opts.noise, rng: draws.code });
      const as2d = (x: tf.Tensor) => x.reshape([B, grid.rows, grid.cols, H, D]);
      const [qh, kh] = this.filter.apply(as2d(q), as2d(k), code2d, gate);
      const R = this.numRealizations;
      return [qh.reshape([B, L, H, R]), kh.reshape([B, L, H, R])] as [tf.Tensor4D, tf.Tensor4D];
    });
  }
}

/** `spe(variant, K=…, R=…, P=…, gated)` in spec strings; acts before the feature map; relative in expectation over its codes. */
export const speEncoding = registerEncoding({
  name: 'spe',
  role: 'qk',
  stage: 'pre',
  doc: 'Stochastic Positional Encoding (Liutkus et al. 2021): sine or conv codes + (gated) filter, before the feature map',
  params: [
    { name: 'variant', type: 'choice', choices: SPE_VARIANTS, default: 'sine', doc: 'sineSPE or convSPE' },
    { name: 'numSines', type: 'int', aliases: ['K'], min: 1, default: 10, only: { param: 'variant', value: 'sine' }, doc: 'K, sinusoids per feature (sine)' },
    { name: 'numRealizations', type: 'int', aliases: ['R'], min: 1, default: 64, doc: 'R, realizations = new q/k dim' },
    { name: 'kernelSize', type: 'int', aliases: ['P'], min: 1, default: 128, only: { param: 'variant', value: 'conv' }, doc: 'P, conv filter length (conv)' },
    { name: 'gated', type: 'bool', flags: ['gated', 'ungated'], default: true, doc: 'gated filter' },
  ],
  relative: 'expectation',
  examples: [
    ['sine', 'K=4', 'R=16', 'gated'],
    ['sine', 'K=4', 'R=16', 'ungated'],
    ['conv', 'P=8', 'R=16', 'gated'],
  ],
  build: (a, ctx) =>
    new SPE({
      variant: a.variant as (typeof SPE_VARIANTS)[number],
      numHeads: ctx.numHeads,
      headDim: ctx.headDim,
      numRealizations: a.numRealizations as number,
      // Each variant takes only its own size: K for sine, P for conv.
      ...(a.variant === 'sine' ? { numSines: a.numSines as number } : { kernelSize: a.kernelSize as number }),
      gated: a.gated as boolean,
      rng: ctx.rng,
    }),
});
