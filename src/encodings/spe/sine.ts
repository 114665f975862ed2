/**
 * sineSPE: the sinusoidal code generator of Stochastic Positional Encoding
 * (Liutkus et al., ICML 2021; reference
 * `spe.SineSPE` in aliutkus/spe).
 *
 * For each head h and feature d there are K sines with frequency f = sigmoid(f̃)/2,
 * query-side phase θ and gain λ = softplus(g̃). With
 *   Ω_q(m) = [cos φ_1, sin φ_1, cos φ_2, ...],  φ_k = 2π f_k m + θ_k   (query side)
 *   Ω_k(n) = the same without θ                                        (key side)
 *   λ̃ = [λ_1, λ_1, λ_2, λ_2, ...],  Z ~ N(0, 1/(2K)) of shape [2K, R]
 * the codes are Q̄(m) = Ω_q(m) diag(λ̃) Z and K̄(n) = Ω_k(n) diag(λ̃) Z, both scaled by (R·D)^(-1/4).
 * Their cross-covariance is the kernel P_d(Δ) = (1/2K) Σ_k λ_k² cos(2π f_k Δ + θ_k), Δ = m − n.
 */
import { tf, Rng, assertInt } from '../../backend';
import { Module } from '../../nn';
import { SPECode, SPECodeOptions, codeScale, standardNormal, checkNoise, checkCallShape } from './common';

export interface SineSPEOptions {
  /** Number of attention heads H. */
  numHeads: number;
  /** Features per head D (the reference's `in_features`). */
  inFeatures: number;
  /** Realizations R of the process = the per-head size of q̂, k̂ (default 64). */
  numRealizations?: number;
  /** Sines per feature K (default 10). */
  numSines?: number;
  /** Initialisation draws (default `new Rng(0)`); a fork of it draws the codes. */
  rng?: Rng;
}

export class SineSPE extends Module {
  readonly numHeads: number;
  readonly inFeatures: number;
  readonly numRealizations: number;
  readonly numSines: number;
  /** f̃ [H, D, K]; the frequency is sigmoid(f̃)/2 cycles per position. Init N(0,1) − 4. */
  readonly freqs: tf.Variable;
  /** θ [H, D, K]: the query-side phases. Init N(0,1). */
  readonly offsets: tf.Variable;
  /** g̃ [H, D, K]; the gain is softplus(g̃). Init N(0,1), then g̃ · 2/√‖g̃‖ (norm over K). */
  readonly gains: tf.Variable;
  private readonly rng: Rng;

  constructor(opts: SineSPEOptions) {
    super();
    const { numHeads, inFeatures, numRealizations = 64, numSines = 10 } = opts;
    assertInt(numHeads, 'numHeads');
    assertInt(inFeatures, 'inFeatures');
    assertInt(numRealizations, 'numRealizations');
    assertInt(numSines, 'numSines');
    this.numHeads = numHeads;
    this.inFeatures = inFeatures;
    this.numRealizations = numRealizations;
    this.numSines = numSines;

    const rng = opts.rng ?? new Rng(0);
    const shape = [numHeads, inFeatures, numSines];
    const n = numHeads * inFeatures * numSines;
    // Same draw order as the reference: freqs, offsets, gains, each N(0,1) of shape (H, D, K).
    const freqs = rng.normalArray(n, -4, 1);
    const offsets = rng.normalArray(n);
    const gains = rng.normalArray(n);
    for (let i = 0; i < n; i += numSines) {
      let norm = 0;
      for (let k = 0; k < numSines; k++) norm += gains[i + k] ** 2;
      const div = Math.sqrt(Math.sqrt(norm)) / 2;
      for (let k = 0; k < numSines; k++) gains[i + k] /= div;
    }
    this.freqs = this.addParameter('freqs', tf.tensor(freqs, shape));
    this.offsets = this.addParameter('offsets', tf.tensor(offsets, shape));
    this.gains = this.addParameter('gains', tf.tensor(gains, shape));
    this.rng = rng.fork('SineSPE.noise');
  }

  /** The frequencies f = sigmoid(f̃)/2 ∈ (0, ½), [H, D, K]. */
  frequencies(): tf.Tensor3D {
    return tf.tidy(() => tf.sigmoid(this.freqs).div(2) as tf.Tensor3D);
  }

  /** The gains λ = softplus(g̃) ≥ 0, [H, D, K]. */
  amplitudes(): tf.Tensor3D {
    return tf.tidy(() => tf.softplus(this.gains) as tf.Tensor3D);
  }

  /**
   * The standard-normal draw z in the reference layout [1, H, D, 2K, R] (before the
   * 1/√(2K) scaling): `opts.noise` checked, or drawn row-major from `opts.rng` / the module's rng.
   * One draw serves every position and batch element; z does not depend on the length.
   */
  drawNoise(opts: SPECodeOptions = {}): tf.Tensor {
    const R = opts.numRealizations ?? this.numRealizations;
    assertInt(R, 'numRealizations');
    const shape = [1, this.numHeads, this.inFeatures, 2 * this.numSines, R];
    if (opts.noise !== undefined) {
      checkNoise(opts.noise, shape, 'noise', '1, heads, inFeatures, 2*numSines, numRealizations');
      return opts.noise.clone();
    }
    return standardNormal(opts.rng ?? this.rng, shape);
  }

  /**
   * The mixing weights W = (R·D)^(-1/4) · λ̃ ⊙ z / √(2K), [H, D, 2K, R], from a
   * standard-normal z [1, H, D, 2K, R]. Then Q̄(m) = Ω_q(m) W and K̄(n) = Ω_k(n) W.
   */
  mixing(z: tf.Tensor): tf.Tensor4D {
    const [H, D, K] = [this.numHeads, this.inFeatures, this.numSines];
    const R = z.shape[4] as number;
    checkNoise(z, [1, H, D, 2 * K, R], 'z', '1, heads, inFeatures, 2*numSines, numRealizations');
    return tf.tidy(() => {
      const lam = this.amplitudes();
      const lamTilde = tf.stack([lam, lam], -1).reshape([H, D, 2 * K, 1]); // [λ1, λ1, λ2, λ2, ...]
      const scale = codeScale(R, D) / Math.sqrt(2 * K);
      return z
        .reshape([H, D, 2 * K, R])
        .mul(lamTilde)
        .mul(scale) as tf.Tensor4D;
    });
  }

  /**
   * Draws a code, materialised as the reference does (O(L·H·D·R) memory, direct cos/sin;
   * `SPE.encode` is the fast path that never builds it).
   * @param shape [batch, length] (1-D only, as in the reference).
   * @param opts.noise the standard-normal z, [1, H, D, 2K, R] (reference layout, before /√(2K)).
   * @returns qbar, kbar, each [1, length, H, D, R].
   */
  forward(shape: number[], opts: SPECodeOptions = {}): SPECode {
    if (!Array.isArray(shape) || shape.length !== 2) {
      throw new Error(`shape: SineSPE supports only 1-D inputs; expected [batch, length], got ${JSON.stringify(shape)}`);
    }
    const [L] = checkCallShape(shape, 1);
    const [H, D, K] = [this.numHeads, this.inFeatures, this.numSines];
    return tf.tidy(() => {
      const W = this.mixing(this.drawNoise(opts)); // [H, D, 2K, R]
      const R = W.shape[3];
      // Ω(m)·W = Σ_k cos φ_k(m)·W[2k] + sin φ_k(m)·W[2k+1], per (h, d) as batched matmuls.
      const halves = W.reshape([H * D * K, 2, R])
        .transpose([1, 0, 2])
        .reshape([2, H * D * K * R]);
      const [wCos, wSin] = [0, 1].map((i) => halves.slice([i, 0], [1, H * D * K * R]).reshape([H * D, K, R]));
      const positions = tf.range(0, L, 1, 'float32').reshape([1, L, 1]);
      const phasesK = this.frequencies()
        .mul(2 * Math.PI)
        .reshape([H * D, 1, K])
        .mul(positions); // [HD, L, K]
      const phasesQ = phasesK.add(this.offsets.reshape([H * D, 1, K])); // θ on the query side only
      const code = (phases: tf.Tensor) =>
        tf
          .matMul(tf.cos(phases) as tf.Tensor3D, wCos as tf.Tensor3D)
          .add(tf.matMul(tf.sin(phases) as tf.Tensor3D, wSin as tf.Tensor3D)) // [HD, L, R]
          .transpose([1, 0, 2])
          .reshape([1, L, H, D, R]);
      return { qbar: code(phasesQ), kbar: code(phasesK) };
    });
  }

  /**
   * The exact positional kernel P_d(Δ) = (1/2K) Σ_k λ_k² cos(2π f_k Δ + θ_k) for
   * Δ = −(length−1) .. length−1 (index Δ + length − 1), [H, D, 2·length − 1]. These are
   * the digest's units: E[Q̄_d(m) K̄_d(n)] · √(R·D) = P_d(m − n). The reference's
   * `get_posattn_matrix` is 2K times this, laid out as a Toeplitz matrix.
   */
  positionalKernel(length: number): tf.Tensor3D {
    assertInt(length, 'length');
    return tf.tidy(() => {
      const lags = tf.range(-(length - 1), length, 1, 'float32').reshape([1, 1, 2 * length - 1, 1]);
      const phases = this.frequencies()
        .mul(2 * Math.PI)
        .expandDims(2)
        .mul(lags)
        .add(this.offsets.expandDims(2));
      const lam2 = this.amplitudes().square().expandDims(2);
      return tf
        .cos(phases)
        .mul(lam2)
        .sum(-1)
        .div(2 * this.numSines) as tf.Tensor3D;
    });
  }
}
