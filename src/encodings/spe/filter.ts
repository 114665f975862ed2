/**
 * SPEFilter: applies an SPE code to queries and keys, with optional gating
 * (SPE paper, Liutkus et al. 2021; reference `spe.SPEFilter`).
 *
 *   q̂[b, s, h, r] = Σ_d q[b, s, h, d] · Q̄′[s, h, d, r]     (k̂ likewise with K̄′)
 *
 * Gated (PyTorch convention): with g = sigmoid(γ) per (head, feature) and one noise draw
 * ε ~ N(0, 1)/(D·R)^(1/4) of shape [H, D, R], shared by queries and keys and constant over
 * positions and batch,
 *   Q̄′ = √(1 − g) Q̄ + √g ε,   K̄′ = √(1 − g) K̄ + √g ε,
 * which turns the kernel P_d into (1 − g_d) P_d + g_d. Ungated: Q̄′ = Q̄, K̄′ = K̄.
 */
import { tf, Rng, assertInt, assertRankIn, assertSameShape, assertDim } from '../../backend';
import { Module } from '../../nn';
import { SPECode, codeScale, standardNormal, checkNoise } from './common';

export interface SPEFilterOptions {
  /** Number of attention heads H. */
  numHeads: number;
  /** Features per head D. */
  inFeatures: number;
  /** Learn a gate between the positional code and a position-free one (default true). */
  gated?: boolean;
  /** Initialisation draws (default `new Rng(0)`); a fork of it draws the gate noise. */
  rng?: Rng;
}

/** Per-call options of `SPEFilter.apply`. */
export interface SPEGateOptions {
  /** The standard-normal gate draw in the reference layout [H, D, R] (before /(D·R)^(1/4)). */
  gateNoise?: tf.Tensor;
  /** Generator for the gate draw when `gateNoise` is absent (default: the module's own). */
  rng?: Rng;
}

export class SPEFilter extends Module {
  readonly numHeads: number;
  readonly inFeatures: number;
  readonly gated: boolean;
  /** γ [H, D] (the reference's `gate` parameter), init N(0, 1); null when ungated. */
  readonly gamma: tf.Variable | null;
  private readonly rng: Rng;

  constructor(opts: SPEFilterOptions) {
    super();
    const { numHeads, inFeatures, gated = true } = opts;
    assertInt(numHeads, 'numHeads');
    assertInt(inFeatures, 'inFeatures');
    if (typeof gated !== 'boolean') throw new Error(`gated: expected a boolean, got ${JSON.stringify(gated)}`);
    this.numHeads = numHeads;
    this.inFeatures = inFeatures;
    this.gated = gated;
    const rng = opts.rng ?? new Rng(0);
    this.gamma = gated ? this.addParameter('gate', tf.tensor(rng.normalArray(numHeads * inFeatures), [numHeads, inFeatures])) : null;
    this.rng = rng.fork('SPEFilter.gateNoise');
  }

  /** The gate g = sigmoid(γ) ∈ (0, 1), [H, D]; all zeros when ungated (pure SPE). */
  gate(): tf.Tensor2D {
    return tf.tidy(() => (this.gamma ? tf.sigmoid(this.gamma) : tf.zeros([this.numHeads, this.inFeatures])) as tf.Tensor2D);
  }

  /**
   * The gate noise ε = n/(D·R)^(1/4), [H, D, R], with n ~ N(0, 1) taken from
   * `opts.gateNoise` ([H, D, R], checked) or drawn row-major from `opts.rng` / the module's rng.
   */
  gateNoise(numRealizations: number, opts: SPEGateOptions = {}): tf.Tensor3D {
    assertInt(numRealizations, 'numRealizations');
    const shape = [this.numHeads, this.inFeatures, numRealizations];
    if (opts.gateNoise !== undefined) checkNoise(opts.gateNoise, shape, 'gateNoise', 'heads, inFeatures, numRealizations');
    return tf.tidy(() => {
      const n = opts.gateNoise ?? standardNormal(opts.rng ?? this.rng, shape);
      return n.mul(codeScale(numRealizations, this.inFeatures)) as tf.Tensor3D;
    });
  }

  /**
   * Encodes queries and keys with a code (the gated code is materialised at every position;
   * the projection is `projectOnCode`, checked against `projectOnCodeReference`).
   * @param q queries [B, ...positions, H, D] (1 or 2 position axes).
   * @param k keys, the same shape as q.
   * @param code qbar, kbar [1, ...codePositions, H, D, R] with codePositions >= positions
   *   on every axis; longer codes are truncated to their first positions.
   * @param opts.gateNoise the standard-normal gate draw [H, D, R] (gated filters only).
   * @returns [q̂, k̂], each [B, ...positions, H, R].
   */
  apply(q: tf.Tensor, k: tf.Tensor, code: SPECode, opts: SPEGateOptions = {}): [tf.Tensor, tf.Tensor] {
    assertRankIn(q, [4, 5], 'q', 'batch, ...positions, heads, inFeatures');
    assertSameShape(q, k, 'q', 'k');
    assertDim(q, -2, this.numHeads, 'q', 'the heads axis');
    assertDim(q, -1, this.inFeatures, 'q', 'the feature axis');
    if (code == null || !(code.qbar instanceof tf.Tensor) || !(code.kbar instanceof tf.Tensor)) {
      throw new Error(`code: expected {qbar, kbar} tensors of shape [1, ...positions, heads, inFeatures, R], got ${String(code)}`);
    }
    const { qbar, kbar } = code;
    assertSameShape(qbar, kbar, 'code.qbar', 'code.kbar');
    const pos = q.shape.slice(1, -2);
    const layout = `[1, ...positions, ${this.numHeads}, ${this.inFeatures}, R]`;
    if (qbar.rank !== q.rank + 1 || qbar.shape[0] !== 1) {
      throw new Error(`code: expected qbar/kbar of rank ${q.rank + 1}, ${layout}, for q of shape [${q.shape.join(', ')}], got [${qbar.shape.join(', ')}]`);
    }
    if (qbar.shape[q.rank - 2] !== this.numHeads || qbar.shape[q.rank - 1] !== this.inFeatures) {
      throw new Error(`code: expected inner shape (heads, inFeatures) = (${this.numHeads}, ${this.inFeatures}), got [${qbar.shape.join(', ')}]`);
    }
    const codePos = qbar.shape.slice(1, -3);
    if (codePos.some((c, i) => c < pos[i])) {
      throw new Error(`code: expected at least [${pos.join(', ')}] positions to cover the queries, got [${codePos.join(', ')}] in [${qbar.shape.join(', ')}]`);
    }
    const R = qbar.shape[qbar.rank - 1];
    if (opts.gateNoise !== undefined && !this.gated) throw new Error('gateNoise: this SPEFilter is not gated');
    return tf.tidy(() => {
      // Truncate the code to the first positions (a slice copies, so only when needed).
      const size = [1, ...pos, this.numHeads, this.inFeatures, R];
      const longer = codePos.some((c, i) => c > pos[i]);
      let qb = longer ? qbar.slice(0, size) : qbar;
      let kb = longer ? kbar.slice(0, size) : kbar;
      if (this.gated) {
        const g = this.gate().expandDims(-1); // [H, D, 1]
        const eps = this.gateNoise(R, opts).mul(g.sqrt());
        const keep = tf.scalar(1).sub(g).sqrt();
        qb = qb.mul(keep).add(eps);
        kb = kb.mul(keep).add(eps);
      }
      return [projectOnCode(q, qb), projectOnCode(k, kb)] as [tf.Tensor, tf.Tensor];
    });
  }
}

/**
 * Σ_d x[b, …, h, d] · code[0, …, h, d, r] as one batched matrix product per position and head
 * ([N, B, D] × [N, D, R] with N = positions · H), the same sum as `projectOnCodeReference`
 * without materialising the [B, ...positions, H, D, R] product (nor, in the backward pass, a
 * tensor of ones that size).
 * @param x [B, ...positions, H, D]. @param code [1, ...positions, H, D, R]. @returns [B, ...positions, H, R].
 */
export function projectOnCode(x: tf.Tensor, code: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const B = x.shape[0];
    const D = x.shape[x.rank - 1];
    const R = code.shape[code.rank - 1];
    const N = x.size / (B * D);
    const c = code.reshape([N, D, R]) as tf.Tensor3D;
    const rows = (B === 1 ? x.reshape([N, 1, D]) : x.reshape([B, N, D]).transpose([1, 0, 2])) as tf.Tensor3D;
    const y = tf.matMul(rows, c); // [N, B, R]
    return (B === 1 ? y : y.transpose([1, 0, 2])).reshape([...x.shape.slice(0, -1), R]);
  });
}
