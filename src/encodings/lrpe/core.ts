/**
 * The position-dependent core Λ^(s) of LRPE, M_s = Λ^(s) P (LRPE paper, Qin et al. 2023). It acts on
 * the post-P vector x of the token at position s (0-based):
 *
 * - 'rotation' [code 1]: the interleaved pairs (x_2k, x_2k+1), k < e/2, are rotated by s·θ_k,
 *   θ_k = base^(−2k/e), e = D (D − 1 when D is odd: the last feature is left as it is).
 * - 'mixed' [code 2]: the same rotation on the first e = floor(D/2) features only (bumped to
 *   even), θ_k = base^(−2k/e); the other D − e features are left as they are.
 * - 'permutation' [code 3]: y = Π^s x for one fixed random permutation π (see ./permutation.ts).
 * - 'unitary' [code 4]: z = x ⊙ e^{i s θ} with D frequencies θ_k = base^(−2k/D), k < D, returned
 *   as the real vector [x ⊙ cos(sθ), x ⊙ sin(sθ)] of size 2D, so q̃_s·k̃_t = Re(q̃_s^H k̃_t).
 *
 * The rotation-type cores are described by "frequency channels": one per rotated pair
 * (rotation, mixed) or one per feature (unitary), each with its θ_c. Per call, the
 * positions and θ give an angle table [L, channels] (`phases`), from which cos/sin
 * tables [L, 1, width] are built once and applied to q and to k with a few broadcast
 * elementwise ops over [B, L, H, D].
 */
import { tf, sinCos } from '../../backend';
import { swapPairs } from './ops';

export const LRPE_CORES = ['rotation', 'mixed', 'permutation', 'unitary'] as const;
export type LrpeCore = (typeof LRPE_CORES)[number];

/** A 2-D layout of the length axis: rows*cols positions in row-major order. */
export interface Grid {
  rows: number;
  cols: number;
}

/** e, the number of rotated features of a rotation-type core (0 for permutation; D for unitary). */
export function rotatedDims(core: LrpeCore, d: number): number {
  switch (core) {
    case 'rotation':
      return d % 2 === 0 ? d : d - 1;
    case 'mixed': {
      const e = Math.floor(d / 2);
      return e % 2 === 0 ? e : e + 1;
    }
    case 'unitary':
      return d;
    case 'permutation':
      return 0;
  }
}

/** Number of frequency channels (entries of θ): e/2 for rotation and mixed, D for unitary, 0 for permutation. */
export function frequencyChannels(core: LrpeCore, d: number): number {
  return core === 'unitary' ? d : rotatedDims(core, d) / 2;
}

/**
 * The initial (and, for theta 'fixed', permanent) θ of a core, the code's theta_type "a":
 * rotation / mixed θ_k = base^(−2k/e), k < e/2; unitary θ_k = base^(−2k/D), k < D;
 * permutation: empty.
 */
export function initialThetas(core: LrpeCore, d: number, base = 10000): Float32Array {
  const n = frequencyChannels(core, d);
  const e = rotatedDims(core, d);
  return Float32Array.from({ length: n }, (_, k) => Math.pow(base, (-2 * k) / e));
}

/**
 * Angle table [length, n]: the angle of frequency channel c at token l.
 * 1-D: (offset + l)·θ_c.
 * 2-D (`grid`): position p = offset + l is read as (row, col) = (floor(p / cols), p mod cols).
 * The first ceil(n/2) channels are turned by row and take the even-indexed frequencies
 * θ_0, θ_2, ...; the last floor(n/2) channels are turned by col and take θ_1, θ_3, ....
 * So both axes see the whole frequency range, and the row half is exactly the core of a
 * D/2-sized head (θ_2k = base^(−2k/(e/2))).
 * theta: [n] -> [length, n].
 */
export function phases(theta: tf.Tensor1D, length: number, offset: number, grid?: Grid): tf.Tensor2D {
  return tf.tidy(() => {
    if (!grid) return outer(tf.range(offset, offset + length, 1, 'float32'), theta);
    const n = theta.shape[0];
    // Float arithmetic (int32 Mod/FloorDiv are slow on wasm); exact for positions below 2^24.
    const p = tf.range(offset, offset + length, 1, 'float32');
    const row = p.div(grid.cols).floor() as tf.Tensor1D;
    const col = p.sub(row.mul(grid.cols)) as tf.Tensor1D;
    const rowTheta = tf.gather(theta, tf.range(0, n, 2, 'int32'));
    const colTheta = tf.gather(theta, tf.range(1, n, 2, 'int32'));
    return tf.concat([outer(row, rowTheta), outer(col, colTheta)], 1);
  });
}

/**
 * a [m] ⊗ b [n] -> [m, n] as a broadcast product. (Not tf.outerProduct: on wasm a matMul
 * caches its XNNPACK operator by the right operand's tensor id, and θ is a long-lived variable.)
 */
function outer(a: tf.Tensor1D, b: tf.Tensor1D): tf.Tensor2D {
  return a.reshape([-1, 1]).mul(b.reshape([1, -1]));
}

/** cos and sin tables broadcastable against [batch, length, heads, features]: each [length, 1, features]. */
export interface Trig {
  cos: tf.Tensor3D;
  sin: tf.Tensor3D;
}

/** The features a pair rotation can touch: D, or D − 1 when D is odd (the last one is never paired). */
export function rotationWidth(d: number): number {
  return d % 2 === 0 ? d : d - 1;
}

/**
 * Tables for the interleaved pair rotation of the first `width` features (width even):
 * angles [L, n] (2n <= width) -> cos and sin of each pair's angle, written twice (once per
 * feature of the pair), padded with cos 1 and sin 0 up to `width`; each [L, 1, width].
 */
export function rotationTrig(angles: tf.Tensor2D, width: number): Trig {
  return tf.tidy(() => {
    const [L, n] = angles.shape;
    // [t_0, t_0, t_1, t_1, ...] per row. (Stacking on the last axis is ~15x slower on wasm.)
    const twice = (t: tf.Tensor2D) =>
      tf
        .stack([t, t])
        .transpose([1, 2, 0])
        .reshape([L, 2 * n]);
    const [c, s] = sinCos(angles);
    let cos = twice(c);
    let sin = twice(s);
    if (2 * n < width) {
      cos = tf.concat([cos, tf.ones([L, width - 2 * n])], 1);
      sin = tf.concat([sin, tf.zeros([L, width - 2 * n])], 1);
    }
    return { cos: cos.reshape([L, 1, width]) as tf.Tensor3D, sin: sin.reshape([L, 1, width]) as tf.Tensor3D };
  });
}

/**
 * Rotates the interleaved pairs of the first width = trig.cos.shape[2] features by the
 * table's angles: y_2k = x_2k cos − x_2k+1 sin, y_2k+1 = x_2k+1 cos + x_2k sin; features
 * width.. pass through. x: [B, L, H, D], trig from `rotationTrig` -> [B, L, H, D].
 */
export function rotate(x: tf.Tensor4D, trig: Trig): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, L, H, D] = x.shape;
    const width = trig.cos.shape[2];
    const head = width === D ? x : x.slice([0, 0, 0, 0], [B, L, H, width]);
    const y = head.mul(trig.cos).add(swapPairs(head).mul(trig.sin));
    return (width === D ? y : tf.concat([y, x.slice([0, 0, 0, width], [B, L, H, D - width])], 3)) as tf.Tensor4D;
  });
}

/** Tables for the unitary core: angles [L, D] -> cos and sin of each feature's angle, each [L, 1, D]. */
export function unitaryTrig(angles: tf.Tensor2D): Trig {
  return tf.tidy(() => {
    const [L, n] = angles.shape;
    const [cos, sin] = sinCos(angles);
    return { cos: cos.reshape([L, 1, n]) as tf.Tensor3D, sin: sin.reshape([L, 1, n]) as tf.Tensor3D };
  });
}

/**
 * The unitary core as a real vector: x [B, L, H, D], tables from `unitaryTrig`
 * -> [x ⊙ cos, x ⊙ sin] [B, L, H, 2D]. The two tables are stacked to [L, 1, 2, D] so that
 * one broadcast product gives both halves (a concat is ~4x slower on wasm, forward and backward).
 */
export function unitary(x: tf.Tensor4D, trig: Trig): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, L, H, D] = x.shape;
    const cosSin = tf.stack([trig.cos, trig.sin]).transpose([1, 2, 0, 3]); // [L, 1, 2, D]
    return x
      .reshape([B, L, H, 1, D])
      .mul(cosSin)
      .reshape([B, L, H, 2 * D]) as tf.Tensor4D;
  });
}
