/**
 * LRPE, Linearized Relative Positional Encoding (Qin et al., TMLR 2023).
 *
 * Each token is transformed on its own, q̃_s = M_s q_s and k̃_t = M_t k_t with
 * M_s = Λ^(s) P, so that the score
 *
 *   q̃_s · k̃_t = q_s^T P^T Λ^(t−s) P k_t      (Re of the Hermitian product for 'unitary')
 *
 * depends on positions only through t − s, and linear attention runs unchanged on (q̃, k̃).
 * The feature map (1+elu) is applied by the caller before this encoding (stage 'post').
 * One P and one θ per instance (one per layer), shared by all heads, as in the paper code.
 *
 * - core Λ^(s): 'rotation' | 'mixed' | 'permutation' | 'unitary' (see ./lrpe/core.ts).
 * - p: 'identity' | 'householder' (frozen random) | 'householder-learned' | 'dct' | 'odd-even'
 *   (see ./lrpe/p-matrix.ts).
 * - theta: 'fixed' (a buffer) or 'learned' (a parameter initialised to the fixed values).
 *
 * Paper configs (§2.4): `1+elu_l_ro` = rotation + learned θ + householder; `l_per` =
 * permutation + householder; `l_un` / `l_unl` = unitary + householder, fixed / learned θ.
 *
 * 2-D positions (`grid`): the rotation-type cores are applied axially. Their frequency
 * channels (pairs for rotation/mixed, features for unitary) are split in two halves: the
 * first half is turned by the row index with θ_0, θ_2, ..., the second half by the column
 * index with θ_1, θ_3, ... (see `phases`), so scores depend only on (Δrow, Δcol). (The
 * authors' vision code applies the 1-D core along each axis in turn, which for these
 * commuting cores only sees Δrow + Δcol.) The permutation core has no 2-D form here: a
 * single π acting on all features cannot separate the two axes, so it throws.
 *
 * Variables (dotted names under this module): 'theta' [channels] (parameter if learned,
 * else buffer; absent for permutation), 'v' [D] (Householder; parameter if learned, else
 * the frozen unit vector), 'dct' / 'oddEven' [D, D] buffers (the matrix P), and for the
 * permutation core 'permutation' int32 [D] (π) with the buffers derived from it at
 * construction, 'basis' [D, D], 'frequency' and 'period' int32 [D] (./lrpe/permutation.ts).
 *
 * Cost: per token O(D) elementwise work for identity / Householder P and the rotation /
 * mixed / unitary cores; one D x D matMul for the DCT and odd-even P; two for the
 * permutation core. cos/sin tables are [L, D], built once per call and shared by q and k.
 * Where it is faster (native kernels, or the cpu backend) P and the core run as one fused
 * kernel each way (./lrpe/kernels.ts); elsewhere they are composed from tf ops (`fused` option).
 * The plain formula, M_s written out as a matrix per position, is ./lrpe/reference.ts
 * (`lrpeReference`): the tests compare both paths with it.
 */
import { tf, Rng, assertInt, assertNumber, assertOneOf, assertRank, assertDim } from '../backend';
import { Module } from '../nn';
import type { EncodeOptions, QKEncoding, LrpeRowMap } from './types';
import {
  LRPE_CORES,
  type LrpeCore,
  type Grid,
  type Trig,
  rotatedDims,
  rotationWidth,
  frequencyChannels,
  initialThetas,
  phases,
  rotationTrig,
  rotate,
  unitaryTrig,
  unitary,
} from './lrpe/core';
import { LRPE_PS, type LrpeP, dctMatrix, oddEvenIndex, oddEvenMatrix, householderReflect, householderMatrix } from './lrpe/p-matrix';
import { permutationSpectrum, permutationTrig } from './lrpe/permutation';
import { rightMultiply } from './lrpe/ops';
import { fusedLrpeMap, hasFusedLrpe, canFuseLrpe } from './lrpe/kernels';
import { checkQK } from './check';
import { registerEncoding } from './registry';

export { LRPE_CORES, LRPE_PS, initialThetas, dctMatrix, oddEvenIndex, permutationSpectrum };
export { lrpeReference, lrpeMatrices, coreMatrix, type LrpeParts } from './lrpe/reference';
export type { LrpeCore, LrpeP };

export const LRPE_THETAS = ['fixed', 'learned'] as const;

export interface LrpeOptions {
  /** D, the per-head feature size after the feature map. */
  headDim: number;
  core: LrpeCore;
  /** Default 'householder' (frozen random reflection), as in the paper's final configs. */
  p?: LrpeP;
  /** Default 'fixed'. 'learned' is not available for the permutation core (it has no θ). */
  theta?: 'fixed' | 'learned';
  /** Frequency base (default 10000). */
  base?: number;
  /** Draws the Householder vector and π (default new Rng(0)). */
  rng?: Rng;
  /**
   * Apply P and the core with the fused kernels of `./lrpe/kernels.ts` (one pass each way; they
   * exist on wasm and cpu) or compose them from tf ops (any backend). Same numbers up to float
   * rounding. Default: fused where it is the faster path (`hasFusedLrpe`: with the native
   * kernels, or on cpu), decided per call.
   */
  fused?: boolean;
}

/** What one call needs per core, built once and applied to q and to k. */
type CorePlan =
  { kind: 'rotation'; trig: Trig } | { kind: 'unitary'; trig: Trig } | { kind: 'permutation'; trig: Trig; basis: tf.Tensor2D; basisT: tf.Tensor2D };

const LAYOUT = '[batch, length, heads, headDim]';

export class Lrpe extends Module implements QKEncoding {
  readonly kind = 'lrpe';
  readonly headDim: number;
  readonly core: LrpeCore;
  readonly p: LrpeP;
  readonly theta: 'fixed' | 'learned';
  readonly base: number;
  /** null: fused when the active backend has the kernels, decided per call. */
  readonly fused: boolean | null;
  private readonly thetaVar: tf.Variable | null = null;
  /** The last call's tables when they are constants (see `plan`), and the tensors it owns. */
  private cachedPlan: { key: string; sources: object[]; plan: CorePlan; own: tf.Tensor[] } | null = null;
  private readonly householderV: tf.Variable | null = null;
  /** The constant P of 'dct' and 'odd-even' [D, D]. */
  private readonly pConstant: tf.Variable | null = null;
  /** Permutation core: B [D, D] and the int32 [D] frequency / period of each component (./lrpe/permutation.ts). */
  private readonly basis: tf.Variable | null = null;
  private readonly pi: tf.Variable | null = null;
  private readonly frequency: tf.Variable | null = null;
  private readonly period: tf.Variable | null = null;

  /**
   * @param opts see `LrpeOptions`. Throws, naming the option, on an unknown core / p / theta,
   *   a non-integer headDim, a non-positive base, theta 'learned' with the
   *   permutation core, and headDim < 2 for the rotation and mixed cores (they rotate pairs;
   *   an odd headDim is fine: the last feature is left as it is).
   */
  constructor(opts: LrpeOptions) {
    super();
    if (opts == null || typeof opts !== 'object') throw new Error(`opts: expected an LrpeOptions object, got ${String(opts)}`);
    assertInt(opts.headDim, 'headDim');
    this.headDim = opts.headDim;
    this.core = assertOneOf(opts.core, LRPE_CORES, 'core');
    this.p = assertOneOf(opts.p ?? 'householder', LRPE_PS, 'p');
    this.theta = assertOneOf(opts.theta ?? 'fixed', LRPE_THETAS, 'theta');
    this.base = opts.base ?? 10000;
    assertNumber(this.base, 'base', { positive: true });
    if (opts.fused !== undefined && typeof opts.fused !== 'boolean') throw new Error(`fused: expected a boolean, got ${JSON.stringify(opts.fused)}`);
    this.fused = opts.fused ?? null;
    const D = this.headDim;
    if ((this.core === 'rotation' || this.core === 'mixed') && rotatedDims(this.core, D) < 2) {
      throw new Error(`headDim: the ${this.core} core rotates pairs of features (x_2k, x_2k+1), so expected headDim >= 2, got ${D}`);
    }
    if (this.core === 'permutation' && this.theta === 'learned') {
      throw new Error(`theta: the permutation core has no θ to learn; expected 'fixed', got 'learned'`);
    }

    // Two forks in a fixed order, so P's draw does not depend on the core and vice versa.
    const rng = opts.rng ?? new Rng(0);
    const pRng = rng.fork('lrpe.p');
    const coreRng = rng.fork('lrpe.core');

    if (this.core !== 'permutation') {
      const theta = tf.tensor1d(initialThetas(this.core, D, this.base));
      this.thetaVar = this.theta === 'learned' ? this.addParameter('theta', theta) : this.addBuffer('theta', theta);
    } else {
      const pi = coreRng.permutation(D);
      const spectrum = permutationSpectrum(pi);
      this.pi = this.addBuffer('permutation', tf.tensor1d(pi, 'int32'));
      this.basis = this.addBuffer('basis', tf.tensor2d(spectrum.basis, [D, D]));
      this.frequency = this.addBuffer('frequency', tf.tensor1d(spectrum.frequency, 'int32'));
      this.period = this.addBuffer('period', tf.tensor1d(spectrum.period, 'int32'));
    }

    if (this.p === 'householder') {
      const v = pRng.normalArray(D);
      const norm = Math.hypot(...v);
      this.householderV = this.addBuffer('v', tf.tensor1d(v.map((x) => x / norm)));
    } else if (this.p === 'householder-learned') {
      this.householderV = this.addParameter('v', tf.tensor1d(pRng.normalArray(D)));
    } else if (this.p === 'dct') {
      this.pConstant = this.addBuffer('dct', tf.tensor2d(dctMatrix(D), [D, D]));
    } else if (this.p === 'odd-even') {
      this.pConstant = this.addBuffer('oddEven', tf.tensor2d(oddEvenMatrix(D), [D, D]));
    }
  }

  /** `encode` applies φ = elu + 1 itself when asked (`EncodeOptions.inputMap`): inside the fused kernels' pass where they run. */
  readonly inputMaps = ['elu+1'] as const;

  /** Per-head output size for input size `dim`: 2*dim for the unitary core, dim otherwise. */
  outputDim(dim: number): number {
    return this.core === 'unitary' ? 2 * dim : dim;
  }

  /**
   * M_s x for one tensor. x: [batch, length, heads, headDim] -> [batch, length, heads, outputDim(headDim)],
   * token l at position s = offset + l (or at (row, col) of `opts.grid`).
   */
  transform(x: tf.Tensor4D, opts: EncodeOptions = {}): tf.Tensor4D {
    assertRank(x, 4, 'x', LAYOUT);
    assertDim(x, 3, this.headDim, 'x', 'headDim');
    const offset = this.checkPositions(x.shape[1], opts);
    const fused = this.useFused();
    return tf.tidy(() => this.map(x, this.plan(x.shape[1], offset, opts.grid), fused));
  }

  /**
   * q, k: [batch, length, heads, headDim] (same shape) -> [M_s q_s, M_t k_t], each
   * [batch, length, heads, outputDim(headDim)], with the same positions for both.
   */
  encode(q: tf.Tensor4D, k: tf.Tensor4D, opts: EncodeOptions = {}): [tf.Tensor4D, tf.Tensor4D] {
    checkQK(q, k, this.headDim);
    const offset = this.checkPositions(q.shape[1], opts);
    if (opts.inputMap !== undefined) assertOneOf(opts.inputMap, this.inputMaps, 'inputMap');
    const fused = this.useFused();
    return tf.tidy(() => {
      const plan = this.plan(q.shape[1], offset, opts.grid);
      const basis = opts.innerProductsOnly === true ? 'any' : 'features';
      return [this.map(q, plan, fused, opts.inputMap, basis), this.map(k, plan, fused, opts.inputMap, basis)] as [tf.Tensor4D, tf.Tensor4D];
    });
  }

  /**
   * The map as fixed tables, for attention kernels that apply it to rows as they gather them
   * (`QKEncoding.rowMap`, which reads the encoded rows only through inner products): for `length`
   * tokens from `opts.offset`, P (the Householder unit, or a dense right factor for DCT and
   * odd-even) and the core's cos/sin rows [length, W] (the module's cached tables, reshaped). The
   * permutation core gives its turn in the basis B: right = Pᵀ Bᵀ (as `innerProductsOnly`). null
   * where the map is not fixed: learned θ or P, a grid, or the fused kernels off (`fused: false`).
   */
  rowMap(length: number, opts: EncodeOptions = {}): LrpeRowMap | null {
    assertInt(length, 'length', 1);
    if (opts.grid || this.theta === 'learned' || this.p === 'householder-learned' || !this.useFused()) return null;
    const plan = this.plan(length, this.checkPositions(length, opts), undefined);
    const W = plan.trig.cos.shape[2];
    const tables = { cos: plan.trig.cos.reshape([length, W]) as tf.Tensor2D, sin: plan.trig.sin.reshape([length, W]) as tf.Tensor2D };
    if (plan.kind === 'permutation') {
      return { mode: 'pairs', u: null, right: tf.matMul(this.pMatrix(), plan.basisT, true, false) as tf.Tensor2D, ...tables };
    }
    const mode = plan.kind === 'unitary' ? 'unitary' : 'pairs';
    const dense = this.p === 'dct' || this.p === 'odd-even' ? ((this.pConstant as tf.Tensor2D).transpose() as tf.Tensor2D) : null;
    return { mode, u: this.p === 'householder' ? (this.householderV as tf.Tensor1D) : null, right: dense, ...tables };
  }

  /** The current θ [channels] (empty for the permutation core). A copy. */
  thetas(): Float32Array {
    return this.thetaVar ? Float32Array.from(this.thetaVar.dataSync()) : new Float32Array(0);
  }

  /** π of the permutation core ((Π x)_j = x_{π(j)}), a copy; null for the other cores. */
  permutation(): Int32Array | null {
    return this.pi ? Int32Array.from(this.pi.dataSync()) : null;
  }

  /** The matrix P [headDim, headDim], with (P x)_i = Σ_j P_ij x_j. The caller disposes it. */
  pMatrix(): tf.Tensor2D {
    return tf.tidy(() => {
      const D = this.headDim;
      switch (this.p) {
        case 'identity':
          return tf.eye(D) as tf.Tensor2D;
        case 'householder':
        case 'householder-learned':
          return householderMatrix(this.householderUnit());
        case 'dct':
        case 'odd-even':
          return this.pConstant!.clone() as tf.Tensor2D;
      }
    });
  }

  /** Validates offset / grid / table size for a sequence of `length` tokens; returns the offset. */
  private checkPositions(length: number, opts: EncodeOptions): number {
    const offset = opts.offset ?? 0;
    assertInt(offset, 'offset', 0);
    if (opts.grid != null) {
      if (this.core === 'permutation') {
        throw new Error(
          `grid: the permutation core has no 2-D form (one π permutes all headDim features, so it cannot separate rows from columns); use the rotation, mixed or unitary core`,
        );
      }
      assertInt(opts.grid.rows, 'grid.rows');
      assertInt(opts.grid.cols, 'grid.cols');
      const cells = opts.grid.rows * opts.grid.cols;
      if (offset + length > cells) {
        throw new Error(`grid: expected offset + length <= rows*cols = ${cells}, got offset ${offset} + length ${length} = ${offset + length}`);
      }
      const n = frequencyChannels(this.core, this.headDim);
      if (n < 2) {
        throw new Error(
          `grid: the ${this.core} core with headDim ${this.headDim} has ${n} frequency channel(s); a 2-D grid needs at least 2 (one per axis), so a larger headDim`,
        );
      }
    }
    return offset;
  }

  /** Whether this call takes the fused kernels; throws when they were asked for and are missing. */
  private useFused(): boolean {
    if (this.fused === true && !canFuseLrpe()) {
      throw new Error(`fused: the fused LRPE kernels exist on the wasm and cpu backends, not on '${tf.getBackend()}'; construct Lrpe with fused: false`);
    }
    return this.fused ?? hasFusedLrpe();
  }

  /**
   * M_s x (or M_s φ(x) with `inputMap`): x [B, L, H, D] -> [B, L, H, outputDim(D)]. basis 'any': U M_s x
   * for an orthogonal U of the core's choosing, the same at every position (`EncodeOptions.innerProductsOnly`).
   */
  private map(x: tf.Tensor4D, plan: CorePlan, fused: boolean, inputMap?: 'elu+1', basis: 'features' | 'any' = 'features'): tf.Tensor4D {
    // φ = elu + 1 (attention/feature-maps' eluPlusOne): inside the fused kernel below, else first.
    const inKernel = fused && plan.kind !== 'permutation' && (this.p === 'householder' || this.p === 'householder-learned' || this.p === 'identity');
    if (inputMap === 'elu+1' && !inKernel) x = tf.elu(x).add(1) as tf.Tensor4D;
    if (!fused) return this.applyCore(this.applyP(x), plan);
    const [, L, , D] = x.shape;
    const W = plan.trig.cos.shape[2];
    const cos = plan.trig.cos.reshape([L, W]) as tf.Tensor2D;
    const sin = plan.trig.sin.reshape([L, W]) as tf.Tensor2D;
    if (plan.kind === 'permutation') {
      // Π^s P x = B^T R(s) B P x; as rows: ((x^T (B P)^T) R(s)) B, with (B P)^T = P^T B^T.
      const toBasis = tf.matMul(this.pMatrix(), plan.basisT, true, false) as tf.Tensor2D;
      const rows = x.reshape([-1, D]) as tf.Tensor2D;
      const inBasis = (this.p === 'householder-learned' ? tf.matMul(rows, toBasis) : rightMultiply(rows, toBasis)).reshape(x.shape) as tf.Tensor4D;
      const turned = fusedLrpeMap(inBasis, null, cos, sin, 'pairs', { u: false, tables: false });
      // R(s) B P x is Π^s P x in the basis B (U = B): enough for inner products.
      if (basis === 'any') return turned;
      return rightMultiply(turned.reshape([-1, D]), plan.basis).reshape(x.shape) as tf.Tensor4D;
    }
    const householder = this.p === 'householder' || this.p === 'householder-learned';
    const input = householder || this.p === 'identity' ? x : this.applyP(x);
    const u = householder ? this.householderUnit() : null;
    return fusedLrpeMap(
      input,
      u,
      cos,
      sin,
      plan.kind === 'unitary' ? 'unitary' : 'pairs',
      { u: this.p === 'householder-learned', tables: this.theta === 'learned' },
      inKernel ? inputMap : undefined,
    );
  }

  /** The unit Householder vector: the frozen one, or v / (‖v‖ + 1e−6) for the learned one. [D] */
  private householderUnit(): tf.Tensor1D {
    const v = this.householderV as tf.Tensor1D;
    return this.p === 'householder-learned' ? tf.tidy(() => v.div(tf.norm(v).add(1e-6))) : v;
  }

  /** x [B, L, H, D] -> P x [B, L, H, D]; one matmul over the flattened [B*L*H, D] rows (or O(D) per row). */
  private applyP(x: tf.Tensor4D): tf.Tensor4D {
    const D = this.headDim;
    switch (this.p) {
      case 'identity':
        return x;
      case 'householder':
      case 'householder-learned':
        return householderReflect(x.reshape([-1, D]), this.householderUnit()).reshape(x.shape);
      case 'dct':
      case 'odd-even': // rows: (P x)^T = x^T P^T
        return rightMultiply(x.reshape([-1, D]), (this.pConstant as tf.Tensor2D).transpose()).reshape(x.shape);
    }
  }

  /** The per-call tables of the core for `length` tokens from `offset` (or on `grid`). */
  private plan(length: number, offset: number, grid: Grid | undefined): CorePlan {
    if (this.theta === 'learned') return this.buildPlan(length, offset, grid);
    // Constant tables (θ fixed, or the permutation's spectrum): the last call's plan while the
    // length, offset, grid and the buffers it came from (a checkpoint load replaces them) hold.
    const key = `${tf.getBackend()}:${length}:${offset}:${grid ? `${grid.rows}x${grid.cols}` : ''}`;
    const sources = [this.thetaVar, this.frequency, this.period].filter((v): v is tf.Variable => v !== null).map((v) => v.dataId);
    const c = this.cachedPlan;
    if (c && c.key === key && c.sources.length === sources.length && c.sources.every((d, i) => d === sources[i])) return c.plan;
    this.dropCachedPlan();
    const plan = this.buildPlan(length, offset, grid);
    const own = [plan.trig.cos, plan.trig.sin, ...(plan.kind === 'permutation' ? [plan.basisT] : [])];
    for (const t of own) tf.keep(t);
    this.cachedPlan = { key, sources, plan, own };
    return plan;
  }

  private dropCachedPlan(): void {
    if (this.cachedPlan) tf.dispose(this.cachedPlan.own);
    this.cachedPlan = null;
  }

  /** Frees the cached tables with the variables. */
  override dispose(): void {
    this.dropCachedPlan();
    super.dispose();
  }

  private buildPlan(length: number, offset: number, grid: Grid | undefined): CorePlan {
    const width = rotationWidth(this.headDim);
    if (this.core === 'permutation') {
      const basis = this.basis as tf.Tensor2D;
      const trig = permutationTrig(this.frequency as tf.Tensor1D, this.period as tf.Tensor1D, length, offset, width);
      return { kind: 'permutation', trig, basis, basisT: basis.transpose() };
    }
    const angles = phases(this.thetaVar as tf.Tensor1D, length, offset, grid);
    return this.core === 'unitary' ? { kind: 'unitary', trig: unitaryTrig(angles) } : { kind: 'rotation', trig: rotationTrig(angles, width) };
  }

  private applyCore(x: tf.Tensor4D, plan: CorePlan): tf.Tensor4D {
    switch (plan.kind) {
      case 'rotation':
        return rotate(x, plan.trig);
      case 'unitary':
        return unitary(x, plan.trig);
      case 'permutation': {
        // Π^s x = B^T R(s) B x; as rows: ((x^T B^T) R(s)) B.
        const D = this.headDim;
        const inBasis = rightMultiply(x.reshape([-1, D]), plan.basisT).reshape(x.shape) as tf.Tensor4D;
        return rightMultiply(rotate(inBasis, plan.trig).reshape([-1, D]), plan.basis).reshape(x.shape) as tf.Tensor4D;
      }
    }
  }
}

/** `lrpe(core, p, theta)` in spec strings; applied after the feature map; LayerNorm by default, as the authors' final code. */
export const lrpeEncoding = registerEncoding({
  name: 'lrpe',
  role: 'qk',
  stage: 'post',
  doc: 'Linearized Relative Positional Encoding (Qin et al. 2023): M_s = Λ^(s) P, applied after the feature map',
  params: [
    { name: 'core', type: 'choice', choices: LRPE_CORES, default: 'rotation', doc: 'Λ: rotation | mixed | permutation | unitary' },
    { name: 'p', type: 'choice', choices: LRPE_PS, default: 'householder', doc: 'P: the shared orthogonal basis change' },
    { name: 'theta', type: 'choice', choices: LRPE_THETAS, default: 'fixed', doc: 'θ fixed at 10000^(-2k/e) or learned from it' },
  ],
  defaultNormalize: 'layernorm',
  relative: 'exact',
  examples: LRPE_CORES.map((core) => [core, core === 'permutation' ? 'fixed' : 'learned']),
  build: (a, ctx) => new Lrpe({ headDim: ctx.headDim, core: a.core as LrpeCore, p: a.p as LrpeP, theta: a.theta as 'fixed' | 'learned', rng: ctx.rng }),
});
