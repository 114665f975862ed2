/**
 * The plain formula of linear attention, to read first and to test the fast paths against
 * (`linear.ts`: chunked causal scan, bidirectional products, recurrent step). It builds the
 * L × L matrix of weighted scores explicitly, so it is O(L²): a reference, not a kernel.
 *
 *   A[s, t] = w_st · φ(q_s)·φ(k_t),   w_st = r_h^|s−t| (1 without a decay), 0 for t > s when causal
 *   o_s     = Σ_t A[s, t] v_t  /  max(Σ_t A[s, t], eps)      ('denominator'; 'none': the numerator)
 *
 * q, k [batch, length, heads, F] (φ applied here), v [batch, length, heads, Dv] -> [batch, length, heads, Dv].
 */
import { tf, assertRank } from '../backend';
import { featureMapFromName, type FeatureMapName } from './feature-maps';

export interface LinearAttentionReferenceOptions {
  causal?: boolean;
  /** φ applied to q and k first (default 'identity': the inputs are features already). */
  featureMap?: FeatureMapName;
  /** Per-head decay r_h (length = heads), or null. */
  decay?: number[] | null;
  normalize?: 'denominator' | 'none';
  eps?: number;
}

export function linearAttentionReference(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: LinearAttentionReferenceOptions = {}): tf.Tensor4D {
  assertRank(q, 4, 'q', '[batch, length, heads, F]');
  assertRank(k, 4, 'k', '[batch, length, heads, F]');
  assertRank(v, 4, 'v', '[batch, length, heads, Dv]');
  const [, L, H] = q.shape;
  const phi = featureMapFromName(opts.featureMap ?? 'identity');
  const w = new Float32Array(H * L * L);
  for (let h = 0; h < H; h++) {
    const r = opts.decay ? opts.decay[h] : 1;
    for (let s = 0; s < L; s++) for (let t = 0; t < L; t++) w[(h * L + s) * L + t] = opts.causal && t > s ? 0 : r ** Math.abs(s - t);
  }
  return tf.tidy(() => {
    const perm = [0, 2, 1, 3];
    const A = tf.matMul(phi.apply(q).transpose(perm), phi.apply(k).transpose(perm), false, true).mul(tf.tensor3d(w, [H, L, L]));
    const num = tf.matMul(A, v.transpose(perm));
    const out = opts.normalize === 'none' ? num : num.div(tf.maximum(A.sum(3, true), opts.eps ?? 1e-6));
    return out.transpose(perm) as tf.Tensor4D;
  });
}
