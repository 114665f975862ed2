/**
 * `AttentionLayer`: multi-head attention with a relative positional encoding, built from a spec
 * string (see `spec.ts`). Token streams are [batch, length, model]; per-head tensors
 * [batch, length, heads, headDim] with headDim = model / heads.
 *
 *   x -> q, k, v (one fused projection)
 *     -> pre encoding (SPE: q, k [B,L,H,D] -> [B,L,H,R])
 *     -> feature map (linear: elu+1 | relu | identity | FAVOR+ (the Performer); softmax: none)
 *     -> post encoding (LRPE, RoPE, PermuteFormer)
 *     -> linear attention (O(L)) or softmax attention (O(L^2), with optional relative bias)
 *        (with the denominator and a post encoding that can make features negative, RoPE or
 *        LRPE: the encoded numerator over the unencoded denominator φ(q_s)·Σ_t φ(k_t), as
 *        RoFormer's linear form, Su et al. 2021 §3.4.3)
 *     -> merge heads -> LayerNorm (when normalize = 'layernorm') -> output projection
 *
 * With the native kernels, linear attention with φ = elu + 1 and either no encoding or LRPE with
 * fixed parameters skips the middle steps as tensors: one kernel each way takes the projection
 * [B,L,3,H,D] as it is and applies φ and LRPE's map to the rows it gathers (`kernelPath`); the
 * same function, tested against the steps above.
 */
import { tf, Rng, assertRank, assertInt, assertDim, canonicalJson } from '../backend';
import { Module, Linear, LayerNorm, MAX_TENSOR_SIZE } from '../nn';
import { getEncoding, type QKEncoding, type BiasEncoding, type EncodeOptions, type EncodingContext, type LrpeRowMap } from '../encodings';
import { parseSpec, formatSpec, type AttentionSpec } from './spec';
import { FavorPlus, featureMapFromName, eluPlusOne, identityFeatureMap, type FeatureMap } from './feature-maps';
import { linearAttention, initLinearAttentionState, linearAttentionStep, type LinearAttentionState } from './linear';
import { nativeLinearScanPacked, nativeLinearScanApplies } from './linear-scan';
import { softmaxAttention, quadraticSoftmaxMaxScores } from './softmax';
import { blockwiseSoftmaxAttention, blockBiasOf } from './softmax-blockwise';
import { nativeFlashApplies } from './softmax-flash';

/** Lower clamp of the linear-attention denominator (that of `linearAttention`). */
const DENOMINATOR_EPS = 1e-6;

export interface AttentionLayerOptions {
  /** Model width; must be divisible by numHeads. */
  model: number;
  numHeads: number;
  /** A spec string (`linear:elu+lrpe(unitary)`) or a parsed spec. */
  spec: string | AttentionSpec;
  /** Longest sequence expected (sizes permutation tables). */
  maxLength?: number;
  rng?: Rng;
}

export interface AttentionCallOptions extends Pick<EncodeOptions, 'grid' | 'training'> {
  causal?: boolean;
  /** Position of the first token (default 0). */
  offset?: number;
  /** Random draws for this call (SPE codes, FAVOR+ redraws); defaults to the layer's own generator. */
  rng?: Rng;
  /** [batch, length]: 1 for real tokens, 0 for padding; padded keys get no attention. */
  keyMask?: tf.Tensor2D;
}

/** Recurrent state for one-token-at-a-time decoding. Replaced states are disposed with `disposeAttentionState`. */
export type AttentionState =
  | { kind: 'linear'; position: number; attn: LinearAttentionState; den: LinearAttentionState | null }
  | { kind: 'softmax'; position: number; k: tf.Tensor4D | null; v: tf.Tensor4D | null };

/** Frees the tensors of a decoding state. */
export function disposeAttentionState(state: AttentionState): void {
  if (state.kind === 'linear') tf.dispose([state.attn.s, state.attn.z, ...(state.den ? [state.den.s, state.den.z] : [])]);
  else tf.dispose([state.k, state.v].filter((t): t is tf.Tensor4D => t !== null));
}

/** A spec string, or a parsed spec (checked by a round trip through its canonical string). */
function checkedSpec(spec: unknown): AttentionSpec {
  if (typeof spec === 'string') return parseSpec(spec);
  if (spec === null || typeof spec !== 'object')
    throw new Error(`spec: expected a spec string like 'linear:elu+lrpe' or a parsed AttentionSpec, got ${String(spec)}`);
  let canonical: string;
  try {
    canonical = formatSpec(spec as AttentionSpec);
  } catch (e) {
    throw new Error(`spec: not a parsed AttentionSpec (${(e as Error).message})`);
  }
  const parsed = parseSpec(canonical);
  if (canonicalJson(parsed) !== canonicalJson(spec))
    throw new Error(`spec: not a valid AttentionSpec (fields the spec string '${canonical}' does not carry); pass parseSpec('${canonical}')`);
  return parsed;
}

export class AttentionLayer extends Module {
  readonly spec: AttentionSpec;
  readonly numHeads: number;
  readonly headDim: number;
  readonly model: number;
  private readonly qkv: Linear;
  private readonly out: Linear;
  private readonly norm: LayerNorm | null = null;
  private readonly preEncoding: QKEncoding | null = null;
  private readonly postEncoding: QKEncoding | null = null;
  private readonly relBias: BiasEncoding | null = null;
  private readonly featureMap: FeatureMap | null;
  private readonly rng: Rng;

  constructor(opts: AttentionLayerOptions) {
    super();
    assertInt(opts.model, 'model');
    assertInt(opts.numHeads, 'numHeads');
    if (3 * opts.model * opts.model > MAX_TENSOR_SIZE)
      throw new Error(`model: the q/k/v projection of width ${opts.model} would hold 3 x ${opts.model}² values; a tensor holds at most ${MAX_TENSOR_SIZE}`);
    if (opts.model % opts.numHeads !== 0) throw new Error(`numHeads: model (${opts.model}) must be divisible by numHeads (${opts.numHeads})`);
    this.model = opts.model;
    this.numHeads = opts.numHeads;
    this.headDim = opts.model / opts.numHeads;
    this.spec = checkedSpec(opts.spec);
    if (opts.maxLength !== undefined) assertInt(opts.maxLength, 'maxLength');
    if (opts.rng !== undefined && !(opts.rng instanceof Rng)) throw new Error(`rng: expected an Rng, got ${String(opts.rng)}`);
    // Anything built before a bad argument is found is disposed before the error leaves.
    try {
      const rng = opts.rng ?? new Rng(0);
      this.rng = rng.fork('draws');
      this.qkv = this.addModule('qkv', new Linear(this.model, 3 * this.model, { rng: rng.fork('qkv') }));
      this.out = this.addModule('out', new Linear(this.model, this.model, { rng: rng.fork('out') }));

      // Per-head size through the pipeline: projection -> pre encoding -> feature map -> post encoding.
      const enc = this.spec.encoding;
      const def = enc ? getEncoding(enc.name) : null;
      const ctx = (headDim: number): EncodingContext => ({ numHeads: this.numHeads, headDim, maxLength: opts.maxLength, rng: rng.fork('encoding') });
      // An encoding that refuses the layer's sizes: say which layer sizes led there.
      const build = <M>(headDim: number, make: (c: EncodingContext) => M): M => {
        try {
          return make(ctx(headDim));
        } catch (e) {
          throw new Error(
            `spec: ${enc!.name} on ${this.numHeads} heads of ${headDim} features (model ${this.model} / numHeads ${this.numHeads}${headDim !== this.headDim ? ', after the feature map' : ''}): ${(e as Error).message}`,
          );
        }
      };
      let dim = this.headDim;
      if (def?.role === 'bias') {
        this.relBias = this.addModule(
          'relbias',
          build(dim, (c) => def.build(enc!.args, c)),
        );
      } else if (def?.role === 'qk' && def.stage === 'pre') {
        this.preEncoding = this.addModule(
          'encoding',
          build(dim, (c) => def.build(enc!.args, c)),
        );
        dim = this.preEncoding.outputDim(dim);
      }
      if (this.spec.kind === 'softmax') this.featureMap = null;
      else if (this.spec.featureMap === 'favor') {
        this.featureMap = this.addModule('favor', new FavorPlus({ dim, numFeatures: this.spec.numFeatures, rng: rng.fork('favor') }));
      } else this.featureMap = featureMapFromName(this.spec.featureMap);
      if (this.featureMap) dim = this.featureMap.outputDim(dim);
      if (def?.role === 'qk' && def.stage === 'post') {
        this.postEncoding = this.addModule(
          'encoding',
          build(dim, (c) => def.build(enc!.args, c)),
        );
      }
      if (this.spec.normalize === 'layernorm' && this.spec.kind !== 'softmax') this.norm = this.addModule('norm', new LayerNorm(this.model));
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** The canonical spec string of this layer. */
  get specString(): string {
    return formatSpec(this.spec);
  }

  /** The relative encoding module (pre or post), if any. */
  get encoding(): QKEncoding | null {
    return this.preEncoding ?? this.postEncoding;
  }

  /** x [B, L, model] -> q, k, v each [B, L, H, headDim]. */
  private project(x: tf.Tensor): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
    const [q, k, v] = tf.unstack(this.projectPacked(x), 2) as tf.Tensor4D[];
    return [q, k, v];
  }

  /** x [B, L, model] -> q, k, v as one [B, L, 3, H, headDim] (the projection's output, not split). */
  private projectPacked(x: tf.Tensor): tf.Tensor5D {
    const [b, l] = x.shape;
    return this.qkv.apply(x).reshape([b, l, 3, this.numHeads, this.headDim]) as tf.Tensor5D;
  }

  /**
   * Whether the denominator comes from the unencoded features (RoFormer's linear form): linear
   * attention with the denominator and a post encoding that does not keep features positive.
   */
  get plainDenominator(): boolean {
    return (
      this.spec.kind !== 'softmax' && this.spec.normalize === 'denominator' && this.postEncoding !== null && this.postEncoding.preservesPositivity !== true
    );
  }

  /**
   * Positional pipeline on q, k [B, L, H, headDim] -> attention-ready q, k [B, L, H, F], and,
   * when `plainDenominator`, the features before the post encoding [B, L, H, F'] (else null).
   */
  private encodeQK(
    q: tf.Tensor4D,
    k: tf.Tensor4D,
    opts: AttentionCallOptions,
    offset: number,
    deferFeatureMap: 'no' | 'to attention' | 'to the encoding' = 'no',
  ): { q: tf.Tensor4D; k: tf.Tensor4D; plain: [tf.Tensor4D, tf.Tensor4D] | null } {
    const encOpts = this.encodeOptions(opts, offset);
    if (this.preEncoding) [q, k] = this.preEncoding.encode(q, k, encOpts);
    if (this.featureMap && deferFeatureMap === 'no') {
      if (this.featureMap instanceof FavorPlus && opts.training) this.featureMap.redraw(encOpts.rng);
      q = this.featureMap.apply(q);
      k = this.featureMap.apply(k);
    }
    const plain: [tf.Tensor4D, tf.Tensor4D] | null = this.plainDenominator ? [q, k] : null;
    if (this.postEncoding) [q, k] = this.postEncoding.encode(q, k, deferFeatureMap === 'to the encoding' ? { ...encOpts, inputMap: 'elu+1' } : encOpts);
    return { q, k, plain };
  }

  /** What the encodings are called with. */
  private encodeOptions(opts: AttentionCallOptions, offset: number): EncodeOptions {
    // The layer reads encoded q, k only through their inner products (scores, linear attention's sums).
    return { offset, grid: opts.grid, rng: opts.rng ?? this.rng, training: opts.training, innerProductsOnly: true };
  }

  /**
   * Whether this call is one native linear attention kernel each way on the projection's q, k, v as
   * they come (`nativeLinearScanPacked`: no split, no encoded tensors): linear attention with the
   * native kernels, φ = elu + 1, no pre encoding, no padded keys (zeroed after the feature map), and
   * either no post encoding (the kernel applies φ) or one that gives its map as tables
   * (`QKEncoding.rowMap`: LRPE with fixed parameters; the kernel applies φ, then the map). Returns
   * the map (null for none), or undefined when the call takes the general path below.
   */
  private kernelPath(
    deferral: 'no' | 'to attention' | 'to the encoding',
    opts: AttentionCallOptions,
    offset: number,
    length: number,
  ): LrpeRowMap | null | undefined {
    if (this.spec.kind === 'softmax' || this.preEncoding || opts.keyMask !== undefined || !nativeLinearScanApplies()) return undefined;
    if (deferral === 'to attention') return null;
    if (deferral !== 'to the encoding' || !this.postEncoding?.rowMap) return undefined;
    return this.postEncoding.rowMap(length, this.encodeOptions(opts, offset)) ?? undefined;
  }

  /**
   * Who applies φ = elu + 1 in a full-sequence call: the native linear scan, inside its kernel (no
   * post encoding, no padded keys to zero after φ), or a post encoding that applies it in its own
   * pass (LRPE's fused map; not when the layer also needs the unencoded φ(q), φ(k) for the
   * denominator), else the feature map itself.
   */
  private featureMapDeferral(keyMask: boolean): 'no' | 'to attention' | 'to the encoding' {
    if (this.featureMap !== eluPlusOne) return 'no';
    if (!this.postEncoding) return keyMask ? 'no' : 'to attention';
    return this.postEncoding.inputMaps?.includes('elu+1') && !this.plainDenominator ? 'to the encoding' : 'no';
  }

  /** Merged heads [B, L, H, Dv] -> output [B, L, model]. */
  private finish(o: tf.Tensor4D): tf.Tensor3D {
    const [b, l] = o.shape;
    let y: tf.Tensor = o.reshape([b, l, this.model]);
    if (this.norm) y = this.norm.apply(y);
    return this.out.apply(y) as tf.Tensor3D;
  }

  private decay(): number[] | null {
    return this.postEncoding?.decay?.() ?? null;
  }

  /**
   * Full-sequence attention.
   * @param x [batch, length, model]
   * @returns [batch, length, model]
   */
  apply(x: tf.Tensor, opts: AttentionCallOptions = {}): tf.Tensor3D {
    assertRank(x, 3, 'x', '[batch, length, model]');
    assertDim(x, 2, this.model, 'x', 'the model axis');
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', 0);
    // A FAVOR+ redraw (training) assigns the projection buffer inside this tidy: an assigned
    // variable keeps its new values when the tidy disposes the tensor they came from.
    return tf.tidy(() => {
      const deferral = this.featureMapDeferral(opts.keyMask !== undefined);
      const rowMap = this.kernelPath(deferral, opts, offset, x.shape[1]!);
      if (rowMap !== undefined) {
        // φ (and LRPE's map) inside the linear attention kernel: the same function as below (tested).
        const attrs = {
          causal: opts.causal ?? false,
          normalize: this.spec.normalize === 'denominator',
          eps: DENOMINATOR_EPS,
          decay: this.decay(),
          featureMap: 'elu' as const,
          ...(rowMap ? { map: rowMap.mode } : {}),
        };
        return this.finish(nativeLinearScanPacked(this.projectPacked(x), attrs, rowMap ?? undefined));
      }
      const [q0, k0, v] = this.project(x);
      const deferMap = deferral === 'to attention';
      const enc = this.encodeQK(q0, k0, opts, offset, deferral);
      const q = enc.q;
      let k = enc.k;
      const [b, l] = x.shape;
      if (opts.keyMask) {
        assertRank(opts.keyMask, 2, 'keyMask', '[batch, length]');
        if (opts.keyMask.shape[0] !== b || opts.keyMask.shape[1] !== l) {
          throw new Error(`keyMask: expected shape [${b}, ${l}], got [${opts.keyMask.shape.join(', ')}]`);
        }
      }
      let o: tf.Tensor4D;
      // The blockwise (FlashAttention) form, O(L) memory, the bias made block by block: for long sequences, for softmax(block=N),
      // and at every length where it is one native kernel each way (no bias, no padding), which is faster than the quadratic form.
      const nativeFlash = nativeFlashApplies({
        bias: this.relBias ?? undefined,
        keyMask: opts.keyMask ?? undefined,
        lk: l,
        causal: opts.causal ?? false,
        offset: 0,
      });
      if (this.spec.kind === 'softmax' && (nativeFlash || this.spec.blockSize !== undefined || b * this.numHeads * l * l > quadraticSoftmaxMaxScores())) {
        const bias = this.relBias ? blockBiasOf(this.relBias) : undefined;
        const common = { causal: opts.causal ?? false, bias, keyMask: opts.keyMask as tf.Tensor2D | undefined, offset: 0 };
        o = blockwiseSoftmaxAttention(q, k, v, { ...common, ...(this.spec.blockSize !== undefined ? { blockSize: this.spec.blockSize } : {}) });
      } else if (this.spec.kind === 'softmax') {
        let bias: tf.Tensor | undefined = this.relBias ? this.relBias.bias(l, l) : undefined; // queries and keys are the same positions
        if (opts.keyMask) {
          // Additive -1e9 on padded keys: [B, 1, 1, L] broadcast over heads and queries.
          const pad = tf.sub(1, opts.keyMask.toFloat()).mul(-1e9).reshape([b, 1, 1, l]);
          bias = bias ? bias.expandDims(0).add(pad) : pad.tile([1, this.numHeads, l, 1]);
        }
        o = softmaxAttention(q, k, v, { causal: opts.causal ?? false, bias });
      } else {
        // Padded keys contribute nothing to the sums φ(K)ᵀV and φ(K)ᵀ1.
        const mask = opts.keyMask ? (opts.keyMask.toFloat().reshape([b, l, 1, 1]) as tf.Tensor4D) : null;
        if (mask) k = k.mul(mask);
        const common = {
          causal: opts.causal ?? false,
          featureMap: deferMap ? eluPlusOne : identityFeatureMap,
          chunkSize: this.spec.chunkSize,
          decay: this.decay(),
        };
        if (enc.plain) {
          // RoFormer's linear form: encoded numerator, unencoded (positive) denominator.
          const [qp, kp0] = enc.plain;
          const kp = (mask ? kp0.mul(mask) : kp0) as tf.Tensor4D;
          const num = linearAttention(q, k, v, { ...common, normalize: 'none' });
          const ones = tf.ones([b, l, this.numHeads, 1]) as tf.Tensor4D;
          const den = linearAttention(qp, kp, ones, { ...common, normalize: 'none' });
          o = num.div(den.maximum(DENOMINATOR_EPS)) as tf.Tensor4D;
        } else {
          o = linearAttention(q, k, v, { ...common, normalize: this.spec.normalize === 'layernorm' ? 'none' : 'denominator' });
        }
      }
      return this.finish(o);
    });
  }

  /** An empty decoding state for `batch` sequences. */
  initState(batch: number): AttentionState {
    assertInt(batch, 'batch');
    if (this.spec.kind === 'softmax') return { kind: 'softmax', position: 0, k: null, v: null };
    const f = this.featureDim();
    const den = this.plainDenominator ? initLinearAttentionState(batch, this.numHeads, this.plainFeatureDim(), 1) : null;
    return { kind: 'linear', position: 0, attn: initLinearAttentionState(batch, this.numHeads, f, this.headDim), den };
  }

  /** Feature size per head seen by the attention product. */
  featureDim(): number {
    const dim = this.plainFeatureDim();
    return this.postEncoding ? this.postEncoding.outputDim(dim) : dim;
  }

  /** Feature size per head after the feature map, before the post encoding. */
  private plainFeatureDim(): number {
    let dim = this.headDim;
    if (this.preEncoding) dim = this.preEncoding.outputDim(dim);
    if (this.featureMap) dim = this.featureMap.outputDim(dim);
    return dim;
  }

  /**
   * One causal decoding step (O(1) in the prefix length for linear attention).
   * @param x [batch, 1, model] the next token's input
   * @returns out [batch, 1, model] and the new state (the old one is left to the caller to dispose)
   */
  step(x: tf.Tensor, state: AttentionState, opts: Omit<AttentionCallOptions, 'causal' | 'offset'> = {}): { out: tf.Tensor3D; state: AttentionState } {
    assertRank(x, 3, 'x', '[batch, 1, model]');
    assertDim(x, 1, 1, 'x', 'the length axis');
    assertDim(x, 2, this.model, 'x', 'the model axis');
    const position = state.position;
    let next: AttentionState | null = null;
    const out = tf.tidy(() => {
      const [q0, k0, v] = this.project(x);
      const { q, k, plain } = this.encodeQK(q0, k0, { ...opts, training: false }, position);
      if (state.kind === 'softmax') {
        const kc = state.k ? tf.concat([state.k, k], 1) : k.clone();
        const vc = state.v ? tf.concat([state.v, v], 1) : v.clone();
        const len = kc.shape[1];
        const bias = this.relBias ? this.relBias.bias(1, len, { offset: position }) : undefined;
        const o = softmaxAttention(q, kc, vc, { causal: true, offset: position, bias });
        next = { kind: 'softmax', position: position + 1, k: tf.keep(kc), v: tf.keep(vc) };
        return this.finish(o);
      }
      const decay = this.decay();
      if (plain) {
        if (!state.den) throw new Error('state: this layer divides by the unencoded denominator; start decoding from its own initState()');
        const num = linearAttentionStep(q, k, v, state.attn, { featureMap: 'identity', normalize: 'none', decay });
        const ones = tf.ones([v.shape[0], 1, v.shape[2], 1]) as tf.Tensor4D;
        const den = linearAttentionStep(plain[0], plain[1], ones, state.den, { featureMap: 'identity', normalize: 'none', decay });
        for (const t of [num.state.s, num.state.z, den.state.s, den.state.z]) tf.keep(t);
        next = { kind: 'linear', position: position + 1, attn: num.state, den: den.state };
        return this.finish(num.out.div(den.out.maximum(DENOMINATOR_EPS)) as tf.Tensor4D);
      }
      const r = linearAttentionStep(q, k, v, state.attn, {
        featureMap: 'identity',
        normalize: this.spec.normalize === 'layernorm' ? 'none' : 'denominator',
        decay,
      });
      tf.keep(r.state.s);
      tf.keep(r.state.z);
      next = { kind: 'linear', position: position + 1, attn: r.state, den: null };
      return this.finish(r.out);
    });
    return { out, state: next! };
  }
}
