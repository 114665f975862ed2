/**
 * Kernel feature maps φ for linear attention: the score of query s and key t is φ(q_s)·φ(k_t).
 *
 * - `eluPlusOne`: φ(x) = elu(x) + 1 > 0 (Katharopoulos et al. 2020; every LRPE config of Qin et al. 2023).
 * - `reluFeatureMap(eps)`: φ(x) = relu(x) + eps (SPE's LRA linear transformer, eps = 1e-3, SPE paper, Liutkus et al. 2021).
 * - `identityFeatureMap`: φ(x) = x (the attention layer applied φ itself, before a post-map encoding).
 * - `FavorPlus`: Performer's positive orthogonal random features, φ(x)·φ(y) ≈ exp(x·y/√d).
 *
 * Every map acts on per-head tensors [batch, length, heads, d] and returns
 * [batch, length, heads, outputDim(d)].
 */
import { tf, Rng, assertRank, assertDim, assertInt, assertNumber, assertOneOf } from '../backend';
import { Module } from '../nn';
import { hasFusedFavorFeatures, fusedFavorFeatures } from './favor-kernels';

/** A feature map φ applied to per-head queries or keys. */
export interface FeatureMap {
  /** 'elu' (φ = elu + 1), 'relu' (relu + eps), 'identity', or 'favor' (FAVOR+, the Performer's random features). */
  readonly name: string;
  /** x: [batch, length, heads, d] -> [batch, length, heads, outputDim(d)]. */
  apply(x: tf.Tensor4D): tf.Tensor4D;
  /** Feature size produced from input size `d`. */
  outputDim(d: number): number;
}

const LAYOUT = '[batch, length, heads, dim]';

/** φ(x) = elu(x) + 1. x: [B, L, H, d] -> [B, L, H, d]. */
export const eluPlusOne: FeatureMap = {
  name: 'elu',
  apply(x) {
    assertRank(x, 4, 'x', LAYOUT);
    return tf.tidy(() => tf.elu(x).add(1) as tf.Tensor4D);
  },
  outputDim: (d) => d,
};

/** φ(x) = relu(x) + eps (default eps = 1e-3, the LRA `kernel_epsilon`). x: [B, L, H, d] -> [B, L, H, d]. */
export function reluFeatureMap(eps = 1e-3): FeatureMap {
  assertNumber(eps, 'eps', { min: 0 });
  return {
    name: 'relu',
    apply(x) {
      assertRank(x, 4, 'x', LAYOUT);
      return tf.tidy(() => tf.relu(x).add(eps) as tf.Tensor4D);
    },
    outputDim: (d) => d,
  };
}

/** φ(x) = x. x: [B, L, H, d] -> a new handle on the same values. */
export const identityFeatureMap: FeatureMap = {
  name: 'identity',
  apply(x) {
    assertRank(x, 4, 'x', LAYOUT);
    return x.clone();
  },
  outputDim: (d) => d,
};

/** The deterministic feature maps by the names spec strings use: 'elu' is φ(x) = elu(x) + 1. */
export const FEATURE_MAP_NAMES = ['elu', 'relu', 'identity'] as const;
export type FeatureMapName = (typeof FEATURE_MAP_NAMES)[number];

/** The deterministic feature map with this name ('relu' uses eps = 1e-3). */
export function featureMapFromName(name: FeatureMapName): FeatureMap {
  switch (assertOneOf(name, FEATURE_MAP_NAMES, 'name')) {
    case 'elu':
      return eluPlusOne;
    case 'relu':
      return reluFeatureMap();
    case 'identity':
      return identityFeatureMap;
  }
}

export interface FavorPlusOptions {
  /** Input size d per head. */
  dim: number;
  /** Number of random features m (default 256, as Performer in LRA). */
  numFeatures?: number;
  /** Orthogonal Gaussian blocks (default true) or i.i.d. Gaussian rows. */
  orthogonal?: boolean;
  /** Added to every feature before the 1/√m scaling (default 1e-4, Performer's `eps`). */
  stabilizer?: number;
  rng?: Rng;
}

/**
 * FAVOR+ positive random features (Choromanski et al. 2021), as Performer's
 * `softmax_kernel_transformation`:
 *
 *   x̂ = x · d^(-1/4),   φ(x)_i = (exp(w_i·x̂ − ‖x̂‖²/2) + stabilizer) / √m,   i = 1..m,
 *
 * so that E[φ(x)·φ(y)] = exp(x·y/√d) (up to the stabilizer). The rows w_i of the
 * projection are orthogonal within blocks of d (Gram–Schmidt of a Gaussian matrix) and
 * rescaled by the norms of independent Gaussian d-vectors, so each w_i ~ N(0, I_d) marginally.
 *
 * No max-subtraction is needed for float32: w·x̂ − ‖x̂‖²/2 ≤ ‖w‖²/2 ≈ d/2.
 *
 * The projection [dim, numFeatures] is a frozen buffer `projection`; `redraw` replaces it.
 */
export class FavorPlus extends Module implements FeatureMap {
  readonly name = 'favor';
  readonly dim: number;
  readonly numFeatures: number;
  readonly orthogonal: boolean;
  readonly stabilizer: number;
  /** The random projection, [dim, numFeatures] (columns are the w_i). */
  readonly projection: tf.Variable;
  private readonly rng: Rng;

  constructor(opts: FavorPlusOptions) {
    super();
    assertInt(opts.dim, 'dim');
    this.dim = opts.dim;
    this.numFeatures = opts.numFeatures ?? 256;
    assertInt(this.numFeatures, 'numFeatures');
    this.orthogonal = opts.orthogonal ?? true;
    this.stabilizer = opts.stabilizer ?? 1e-4;
    assertNumber(this.stabilizer, 'stabilizer', { min: 0 });
    this.rng = (opts.rng ?? new Rng(0)).fork('favor+');
    this.projection = this.addBuffer('projection', this.draw(this.rng));
  }

  /** Replaces the projection with a new draw from `rng` (default: this module's own generator). */
  redraw(rng?: Rng): void {
    const w = this.draw(rng ?? this.rng);
    this.projection.assign(w);
    w.dispose();
  }

  outputDim(d: number): number {
    if (d !== this.dim) throw new Error(`d: FavorPlus was built for dim ${this.dim}, got ${d}`);
    return this.numFeatures;
  }

  /** x: [B, L, H, dim] -> positive features [B, L, H, numFeatures]. One 2-D matmul. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    assertRank(x, 4, 'x', LAYOUT);
    assertDim(x, 3, this.dim, 'x', 'the feature axis (dim)');
    const [b, l, h] = x.shape;
    const m = this.numFeatures;
    return tf.tidy(() => {
      const xs = x.reshape([-1, this.dim]).mul(this.dim ** -0.25) as tf.Tensor2D;
      const wx = tf.matMul(xs, this.projection);
      if (hasFusedFavorFeatures()) {
        // One kernel each way for what follows the product (favor-kernels.ts).
        return fusedFavorFeatures(xs, wx as tf.Tensor2D, this.stabilizer, 1 / Math.sqrt(m)).reshape([b, l, h, m]) as tf.Tensor4D;
      }
      const halfNorm = xs.square().sum(1, true).mul(0.5);
      const phi = tf
        .exp(wx.sub(halfNorm))
        .add(this.stabilizer)
        .mul(1 / Math.sqrt(m));
      return phi.reshape([b, l, h, m]) as tf.Tensor4D;
    });
  }

  /** A projection [dim, numFeatures] drawn from `rng`. */
  private draw(rng: Rng): tf.Tensor2D {
    const d = this.dim;
    const m = this.numFeatures;
    const rows = this.orthogonal ? orthogonalGaussianRows(rng, m, d) : rng.normalArray(m * d);
    // Transpose the rows w_i into columns so that apply() is a plain x [N, d] @ W [d, m].
    const w = new Float32Array(d * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) w[j * m + i] = rows[i * d + j];
    return tf.tensor2d(w, [d, m]);
  }
}

/**
 * `m` rows of length `d` (row-major): blocks of d orthonormal rows (Gram–Schmidt of a Gaussian
 * matrix, which gives a Haar-random orthogonal matrix), each row then scaled by the norm of an
 * independent N(0, I_d) draw, so that rows are marginally Gaussian.
 */
function orthogonalGaussianRows(rng: Rng, m: number, d: number): Float32Array {
  const out = new Float32Array(m * d);
  for (let start = 0; start < m; start += d) {
    const n = Math.min(d, m - start);
    const block = Array.from({ length: d }, () => Float64Array.from(rng.normalArray(d)));
    for (let i = 0; i < n; i++) {
      const row = block[i];
      for (let pass = 0; pass < 2; pass++) {
        // Two passes of modified Gram–Schmidt keep the rows orthogonal to float64 precision.
        for (let j = 0; j < i; j++) {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += row[c] * block[j][c];
          for (let c = 0; c < d; c++) row[c] -= dot * block[j][c];
        }
      }
      let norm = 0;
      for (let c = 0; c < d; c++) norm += row[c] * row[c];
      norm = Math.sqrt(norm);
      for (let c = 0; c < d; c++) row[c] /= norm;
    }
    for (let i = 0; i < n; i++) {
      let scale = 0;
      for (const g of rng.normalArray(d)) scale += g * g;
      scale = Math.sqrt(scale);
      for (let c = 0; c < d; c++) out[(start + i) * d + c] = block[i][c] * scale;
    }
  }
  return out;
}
