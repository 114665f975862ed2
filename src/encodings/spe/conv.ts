/**
 * convSPE: the convolutive code generator of Stochastic Positional Encoding
 * (Liutkus et al., ICML 2021; reference
 * `spe.ConvSPE` in aliutkus/spe, after PR #14 for ndim > 1).
 *
 * White noise Z ~ N(0, 1) over a grid P longer than the input on each side of every axis
 * (size S + 4P) is filtered by two depthwise filters (one per head·feature channel) with a
 * "valid" cross-correlation y(m) = Σ_j w_j Z(m + j); the outputs are cropped to [P, P + S)
 * on every axis and scaled by (R·D)^(-1/4). Every kept output sees only real noise, so
 * the pair is exactly stationary with cross-covariance
 *   P(Δ) = Σ_j convK_j · convQ_{j+Δ},   Δ = m − n,   zero for |Δ_i| ≥ P_i.
 *
 * Naming follows the reference, including its swap: `convK` filters the noise into qbar and
 * `convQ` into kbar (the reference's `qbar = self.conv_k(z)`, `kbar = self.conv_q(z)`), so
 * `convQ`/`convK` hold exactly the reference's `conv_q.weight`/`conv_k.weight`
 * (reshaped from (H·D, 1, *P) to [H, D, *P]).
 */
import { tf, Rng, assertInt } from '../../backend';
import { Module } from '../../nn';
import { SPECode, SPECodeOptions, codeScale, checkNoise, checkCallShape } from './common';
import { hasFusedConvCode, fusedConvCode } from './conv-kernels';

export interface ConvSPEOptions {
  /** Number of spatial axes: 1 (sequences, default) or 2 (images). */
  ndim?: 1 | 2;
  /** Number of attention heads H. */
  numHeads: number;
  /** Features per head D. */
  inFeatures: number;
  /** Realizations R (default 64). */
  numRealizations?: number;
  /** Filter length P, one number for every axis or one per axis. */
  kernelSize: number | number[];
  /** Initialisation draws (default `new Rng(0)`); a fork of it draws the codes. */
  rng?: Rng;
}

export class ConvSPE extends Module {
  readonly ndim: 1 | 2;
  readonly numHeads: number;
  readonly inFeatures: number;
  readonly numRealizations: number;
  /** P per spatial axis. */
  readonly kernelSize: number[];
  /** The filter making kbar, [H, D, ...kernelSize]. Init U[0,1)/√(ΠP/2). */
  readonly convQ: tf.Variable;
  /** The filter making qbar, [H, D, ...kernelSize]. Init U[0,1)/√(ΠP/2). */
  readonly convK: tf.Variable;
  private readonly rng: Rng;

  constructor(opts: ConvSPEOptions) {
    super();
    const { numHeads, inFeatures, numRealizations = 64 } = opts;
    const ndim = opts.ndim ?? 1;
    if (ndim !== 1 && ndim !== 2) throw new Error(`ndim: expected 1 or 2, got ${JSON.stringify(ndim)}`);
    assertInt(numHeads, 'numHeads');
    assertInt(inFeatures, 'inFeatures');
    assertInt(numRealizations, 'numRealizations');
    const ks = typeof opts.kernelSize === 'number' ? Array(ndim).fill(opts.kernelSize) : opts.kernelSize;
    if (!Array.isArray(ks) || ks.length !== ndim) {
      throw new Error(`kernelSize: expected an integer or ${ndim} integers (one per axis), got ${JSON.stringify(opts.kernelSize)}`);
    }
    ks.forEach((k, i) => assertInt(k, ndim === 1 ? 'kernelSize' : `kernelSize[${i}]`, 1));
    this.ndim = ndim;
    this.numHeads = numHeads;
    this.inFeatures = inFeatures;
    this.numRealizations = numRealizations;
    this.kernelSize = ks.slice();

    const rng = opts.rng ?? new Rng(0);
    const shape = [numHeads, inFeatures, ...ks];
    const n = shape.reduce((a, b) => a * b, 1);
    const hi = 1 / Math.sqrt(ks.reduce((a, b) => a * b, 1) / 2);
    // Reference order: conv_q's weights are drawn first, then conv_k's.
    this.convQ = this.addParameter('convQ', tf.tensor(rng.uniformArray(n, 0, hi), shape));
    this.convK = this.addParameter('convK', tf.tensor(rng.uniformArray(n, 0, hi), shape));
    this.rng = rng.fork('ConvSPE.noise');
  }

  /** Size of the noise grid per axis: S_i + 4 P_i. */
  noiseShape(spatial: number[]): number[] {
    return spatial.map((s, i) => s + 4 * this.kernelSize[i]);
  }

  /**
   * The part of the standard-normal noise that the kept outputs read, channels-last: positions
   * [P, S + 2P − 1) on each axis of the full draw [R, T0, (T1,) H·D] with T = S + 4P, as
   * [R, 1 | S0 + P0 − 1, S? + P? − 1, H·D], or with `codeLayout` (1-D only) channel-major as
   * [H·D, S + P − 1, R], the layout of the fused code kernel (`conv-kernels.ts`). `opts.noise` is in the reference layout
   * [R, H·D, ...T] and is transposed and cropped; otherwise the draws are made position-major
   * (for each noise position in row-major order, for each realization, for each channel), so
   * that along the first axis a longer draw from the same generator state extends a shorter one:
   * codes drawn from equal states are prefix-consistent. Draws outside the kept region are
   * skipped (the generator advances exactly as if they had been made).
   */
  private croppedNoise(spatial: number[], R: number, opts: SPECodeOptions, codeLayout = false): tf.Tensor {
    const C = this.numHeads * this.inFeatures;
    const P = this.kernelSize;
    const T = this.noiseShape(spatial);
    const kept = spatial.map((s, i) => s + P[i] - 1); // positions [P, P + kept) on each axis
    if (codeLayout && this.ndim !== 1) throw new Error('codeLayout: only for 1-D codes');
    const shape4 = (this.ndim === 1 ? [R, 1, kept[0], C] : [R, kept[0], kept[1], C]) as [number, number, number, number];
    if (opts.noise !== undefined) {
      checkNoise(opts.noise, [R, C, ...T], 'noise', 'numRealizations, heads*inFeatures, ...(size + 4*kernelSize)');
      return tf.tidy(() => {
        if (codeLayout) return opts.noise!.transpose([1, 2, 0]).slice([0, P[0], 0], [C, kept[0], R]);
        const z = opts.noise!.transpose(this.ndim === 1 ? [0, 2, 1] : [0, 2, 3, 1]);
        return z.slice([0, ...P, 0], [R, ...kept, C]).reshape(shape4) as tf.Tensor4D;
      });
    }
    const rng = opts.rng ?? this.rng;
    const [T0, T1] = this.ndim === 1 ? [1, T[0]] : [T[0], T[1]];
    const [K0, K1] = this.ndim === 1 ? [1, kept[0]] : [kept[0], kept[1]];
    const [P0, P1] = this.ndim === 1 ? [0, P[0]] : [P[0], P[1]];
    const nKept = K0 * K1;
    // The kept draws as made, [position, r, c]: each kept row of the grid is one run of the stream.
    const drawn = new Float32Array(nKept * R * C);
    for (let t0 = 0; t0 < T0; t0++) {
      if (t0 < P0 || t0 >= P0 + K0) {
        rng.skipNormals(T1 * R * C);
        continue;
      }
      rng.skipNormals(P1 * R * C);
      rng.fillNormal(drawn, (t0 - P0) * K1 * R * C, (t0 - P0 + 1) * K1 * R * C);
      rng.skipNormals((T1 - P1 - K1) * R * C);
    }
    return tf.tidy(() => {
      const z = tf.tensor3d(drawn, [nKept, R, C]);
      // [c, position, r] for the fused kernel; [r, position, c] otherwise
      return codeLayout ? z.transpose([2, 0, 1]) : z.transpose([1, 0, 2]).reshape(shape4);
    });
  }

  /** A filter [H, D, ...P] as a depthwiseConv2d filter [P0 | 1, P1 | P, H·D, 1]. */
  private depthwise(w: tf.Tensor): tf.Tensor4D {
    const C = this.numHeads * this.inFeatures;
    const P = this.kernelSize;
    const hw = this.ndim === 1 ? [1, P[0]] : [P[0], P[1]];
    return w
      .reshape([C, hw[0] * hw[1]])
      .transpose()
      .reshape([hw[0], hw[1], C, 1]) as tf.Tensor4D;
  }

  /**
   * Draws a code.
   * @param shape [batch, ...spatial] (the batch size is ignored: one code serves the batch).
   *   Each spatial size must be >= the kernel size on that axis.
   * @param opts.noise the standard-normal draw in the reference layout [R, H·D, ...(S + 4P)].
   * @returns qbar, kbar, each [1, ...spatial, H, D, R].
   */
  forward(shape: number[], opts: SPECodeOptions = {}): SPECode {
    const S = checkCallShape(shape, this.ndim);
    S.forEach((s, i) => {
      if (this.kernelSize[i] > s) {
        throw new Error(`kernelSize: expected at most the input size ${s} on axis ${i}, got ${this.kernelSize[i]} (shape ${JSON.stringify(shape)})`);
      }
    });
    const R = opts.numRealizations ?? this.numRealizations;
    assertInt(R, 'numRealizations');
    const [H, D] = [this.numHeads, this.inFeatures];
    const C = H * D;
    return tf.tidy(() => {
      // The kept outputs [P, P + S) of the valid correlation read only the noise [P, S + 2P − 1):
      // only that part is made, so the correlation computes exactly the S kept outputs.
      const scale = codeScale(R, D);
      if (this.ndim === 1 && hasFusedConvCode()) {
        // The fused kernel writes the code in the filter's layout [S, H·D, R]; the scale goes into the filter.
        const z = this.croppedNoise(S, R, opts, true) as tf.Tensor3D;
        const code = (w: tf.Tensor) => fusedConvCode(z, w.reshape([C, -1]).mul(scale) as tf.Tensor2D).reshape([1, ...S, H, D, R]);
        return { qbar: code(this.convK), kbar: code(this.convQ) };
      }
      const zc = this.croppedNoise(S, R, opts) as tf.Tensor4D;
      const code = (w: tf.Tensor) => {
        const f = this.depthwise(w);
        const y = this.ndim === 1 ? correlate1d(zc, f) : tf.depthwiseConv2d(zc, f, 1, 'valid'); // [R, (1|S0), S?, C]
        const nS = S.reduce((a, b) => a * b, 1);
        return y
          .reshape([R, nS * C])
          .transpose()
          .reshape([1, ...S, H, D, R])
          .mul(scale);
      };
      return { qbar: code(this.convK), kbar: code(this.convQ) };
    });
  }

  /**
   * The exact positional kernel P(Δ) = Σ_j convK_j · convQ_{j+Δ} (filters' cross-correlation),
   * normalised so that E[Q̄(m) K̄(n)] · √(R·D) = P(m − n).
   * 1-D: [H, D, 2P − 1], index Δ + P − 1 for Δ = −(P−1) .. P−1.
   * 2-D: [H, D, 2P0 − 1, 2P1 − 1], index (Δ0 + P0 − 1, Δ1 + P1 − 1) for the lag (m0 − n0, m1 − n1).
   * Outside these lags the kernel is exactly 0.
   */
  positionalKernel(): tf.Tensor {
    const [H, D, P] = [this.numHeads, this.inFeatures, this.kernelSize];
    const C = H * D;
    return tf.tidy(() => {
      // Correlate convQ (zero-padded by P−1 on each side) with the filter convK.
      const q = this.depthwise(this.convQ).reshape(this.ndim === 1 ? [1, 1, P[0], C] : [1, P[0], P[1], C]);
      const pads: Array<[number, number]> =
        this.ndim === 1
          ? [
              [0, 0],
              [0, 0],
              [P[0] - 1, P[0] - 1],
              [0, 0],
            ]
          : [
              [0, 0],
              [P[0] - 1, P[0] - 1],
              [P[1] - 1, P[1] - 1],
              [0, 0],
            ];
      const y = tf.depthwiseConv2d(q.pad(pads) as tf.Tensor4D, this.depthwise(this.convK), 1, 'valid');
      const lags = P.map((p) => 2 * p - 1);
      const nLags = lags.reduce((a, b) => a * b, 1);
      return y
        .reshape([nLags, C])
        .transpose()
        .reshape([H, D, ...lags]);
    });
  }
}

/**
 * The valid depthwise correlation of constant noise with a filter, y[r, 0, m, c] = Σ_j f[0, j, c, 0]·z[r, 0, m + j, c],
 * differentiable in the filter only. Its filter gradient Σ_{r,m} z[r, 0, m + j, c]·dy[r, 0, m, c] is itself a
 * forward depthwise correlation, of z seen as one [R, T] image per channel with dy as an [R, S] filter,
 * so it runs on the backend's forward kernel: tfjs-backend-wasm has no DepthwiseConv2dNativeBackpropFilter
 * and the cpu backend's (used for it) took ~9 s for R = 8, S = 641, P = 128, 64 channels.
 * @param z noise [R, 1, T, C] (no gradient). @param f filter [1, P, C, 1]. @returns [R, 1, T − P + 1, C].
 */
function correlate1d(z: tf.Tensor4D, f: tf.Tensor4D): tf.Tensor4D {
  const [R, , T, C] = z.shape;
  const P = f.shape[1];
  const op = tf.customGrad(((filter: tf.Tensor, save: tf.GradSaveFunc) => {
    save([z]); // kept by the engine until the backward pass (z itself belongs to the caller's tidy)
    return {
      value: tf.depthwiseConv2d(z, filter as tf.Tensor4D, 1, 'valid'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const image = saved[0].reshape([1, R, T, C]) as tf.Tensor4D;
          const asFilter = dy.reshape([R, T - P + 1, C, 1]) as tf.Tensor4D;
          return tf.depthwiseConv2d(image, asFilter, 1, 'valid').reshape([1, P, C, 1]); // [1, 1, P, C] -> filter layout
        }),
    };
  }) as never) as unknown as (filter: tf.Tensor) => tf.Tensor4D;
  return op(f);
}
