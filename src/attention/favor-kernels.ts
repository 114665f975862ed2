/**
 * FAVOR+'s positive features from their projection as one kernel each way (wasm and cpu; see
 * `backend/js-kernels.ts`): native C when rpelab's native kernels are loaded, JavaScript loops
 * otherwise. Composed from tf ops (`FavorPlus.apply`) they are seven passes forward (square, sum,
 * halve, subtract, exp, add, scale) and more backward, among them a tensor of ones as large as x for
 * the sum's gradient; in an LRA Image run with Performer attention the composed form took a quarter
 * of the run, wasm's exp alone 13 %.
 *
 * Per row, for x [d] (already scaled by d^(-1/4)) and its projection wx = x W [m]:
 *   h = ½ Σ_i x_i²,  e_j = exp(wx_j − h),  φ_j = (e_j + s)·c
 * and from dφ, with g_j = dφ_j·c·e_j (e recomputed, not stored):
 *   ∂wx_j = g_j,  ∂x_i = −(Σ_j g_j)·x_i   (the part of x's gradient through h; tf adds the part
 *   through wx = x W).
 * The native exp is a polynomial with relative error ~1e-7 (`native/src/vec.h`), so the fused and
 * composed forms agree to float32 rounding, not to the bit.
 */
import { tf, registerJsKernel, runJsKernel, nativeKernels, fusedKernelPaysOff } from '../backend';

export const FAVOR_FEATURES = 'RpelabFavorFeatures';
export const FAVOR_FEATURES_GRAD = 'RpelabFavorFeaturesGrad';

/** ½ Σ x_i² of row r of x [n, d]. */
function halfNorm(x: Float32Array, r: number, d: number): number {
  let h = 0;
  for (let i = 0; i < d; i++) h += x[r * d + i] * x[r * d + i];
  return 0.5 * h;
}

// Inputs x [n, d], wx [n, m]. Output phi [n, m].
registerJsKernel<{ stabilizer: number; scale: number }>({
  kernelName: FAVOR_FEATURES,
  inputNames: ['x', 'wx'],
  outputShapes: ([, wx]) => [wx!.slice()],
  compute: ([x, wx], [xs, ws], [phi], { stabilizer, scale }) => {
    const [n, d] = xs!;
    const m = ws![1];
    const native = nativeKernels();
    if (native) return native.favorFeatures(x!, wx!, n, d, m, stabilizer, scale, phi);
    for (let r = 0; r < n; r++) {
      const h = halfNorm(x!, r, d);
      for (let j = 0; j < m; j++) phi[r * m + j] = (Math.exp(wx![r * m + j] - h) + stabilizer) * scale;
    }
  },
});

// Inputs x [n, d], wx [n, m], dphi [n, m]. Outputs dwx [n, m], dx [n, d].
registerJsKernel<{ scale: number }>({
  kernelName: FAVOR_FEATURES_GRAD,
  inputNames: ['x', 'wx', 'dphi'],
  outputShapes: ([x, wx]) => [wx!.slice(), x!.slice()],
  compute: ([x, wx, dphi], [xs, ws], [dwx, dx], { scale }) => {
    const [n, d] = xs!;
    const m = ws![1];
    const native = nativeKernels();
    if (native) return native.favorFeaturesGrad(x!, wx!, dphi!, n, d, m, scale, dwx, dx);
    for (let r = 0; r < n; r++) {
      const h = halfNorm(x!, r, d);
      let sg = 0;
      for (let j = 0; j < m; j++) {
        const g = dphi![r * m + j] * scale * Math.exp(wx![r * m + j] - h);
        dwx[r * m + j] = g;
        sg += g;
      }
      for (let i = 0; i < d; i++) dx[r * d + i] = -sg * x![r * d + i];
    }
  },
});

/** Whether the fused kernels pay off on the active backend (`fusedKernelPaysOff`). */
export function hasFusedFavorFeatures(): boolean {
  return fusedKernelPaysOff(FAVOR_FEATURES);
}

/**
 * φ = (exp(wx − ½|x|²) + stabilizer)·scale per row, differentiable in x and wx (check
 * `hasFusedFavorFeatures` first).
 * @param x [n, d], the rows already scaled by d^(-1/4)
 * @param wx [n, m], their projections x W
 * @returns φ [n, m]
 */
export function fusedFavorFeatures(x: tf.Tensor2D, wx: tf.Tensor2D, stabilizer: number, scale: number): tf.Tensor2D {
  const op = tf.customGrad((xi, wi, save) => {
    (save as tf.GradSaveFunc)([xi as tf.Tensor, wi as tf.Tensor]);
    return {
      value: runJsKernel(FAVOR_FEATURES, { x: xi as tf.Tensor, wx: wi as tf.Tensor }, { stabilizer, scale })[0],
      gradFunc: (dphi: tf.Tensor, [xs, ws]: tf.Tensor[]) => {
        const [dwx, dx] = runJsKernel(FAVOR_FEATURES_GRAD, { x: xs, wx: ws, dphi }, { scale });
        return [dx, dwx];
      },
    };
  });
  return op(x, wx) as tf.Tensor2D;
}
