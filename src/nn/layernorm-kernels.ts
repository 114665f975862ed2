/**
 * Layer normalisation as one kernel each way (wasm and cpu; see `backend/js-kernels.ts`): native
 * C over threads when rpelab's native kernels are loaded, JavaScript loops otherwise. Composed
 * from tf ops it is ~8 passes over x forward and ~15 backward (moments, their gradients,
 * broadcasts).
 *
 * Per row x [F]: μ = mean(x), r = 1/√(mean((x − μ)²) + eps), x̂ = (x − μ)·r, y = γ ⊙ x̂ + β.
 * Gradient from dy: ∂β = Σ_rows dy, ∂γ = Σ_rows dy ⊙ x̂, and with g = dy ⊙ γ,
 * ∂x = r·(g − mean(g) − x̂·mean(g ⊙ x̂)).
 */
import { tf, registerJsKernel, runJsKernel, nativeKernels, fusedKernelPaysOff } from '../backend';

export const LAYER_NORM = 'RpelabLayerNorm';
export const LAYER_NORM_GRAD = 'RpelabLayerNormGrad';

// Inputs x [N, F], gamma, beta [F]. Outputs y [N, F], mean and rstd [N].
registerJsKernel<{ eps: number }>({
  kernelName: LAYER_NORM,
  inputNames: ['x', 'gamma', 'beta'],
  outputShapes: ([x]) => [x!.slice(), [x![0]], [x![0]]],
  compute: ([x, gamma, beta], [xs], [y, mean, rstd], { eps }) => {
    const [N, F] = xs!;
    const native = nativeKernels();
    if (native) return native.layerNorm(x!, gamma!, beta!, N, F, eps, y, mean, rstd);
    for (let n = 0, o = 0; n < N; n++, o += F) {
      let s = 0;
      for (let i = 0; i < F; i++) s += x![o + i];
      const mu = s / F;
      let v = 0;
      for (let i = 0; i < F; i++) v += (x![o + i] - mu) * (x![o + i] - mu);
      const r = 1 / Math.sqrt(v / F + eps);
      for (let i = 0; i < F; i++) y[o + i] = (x![o + i] - mu) * r * gamma![i] + beta![i];
      mean[n] = mu;
      rstd[n] = r;
    }
  },
});

// Inputs dy, x [N, F], mean, rstd [N], gamma [F]. Outputs dx [N, F], dgamma, dbeta [F].
registerJsKernel<Record<string, never>>({
  kernelName: LAYER_NORM_GRAD,
  inputNames: ['dy', 'x', 'mean', 'rstd', 'gamma'],
  outputShapes: ([, x]) => [x!.slice(), [x![1]], [x![1]]],
  compute: ([dy, x, mean, rstd, gamma], [, xs], [dx, dgamma, dbeta]) => {
    const [N, F] = xs!;
    const native = nativeKernels();
    if (native) return native.layerNormGrad(dy!, x!, mean!, rstd!, gamma!, N, F, dx, dgamma, dbeta);
    const dg = new Float64Array(F);
    const db = new Float64Array(F);
    for (let n = 0, o = 0; n < N; n++, o += F) {
      const mu = mean![n];
      const r = rstd![n];
      let sg = 0;
      let sgx = 0;
      for (let i = 0; i < F; i++) {
        const xh = (x![o + i] - mu) * r;
        const g = dy![o + i] * gamma![i];
        sg += g;
        sgx += g * xh;
        dg[i] += dy![o + i] * xh;
        db[i] += dy![o + i];
      }
      const mg = sg / F;
      const mgx = sgx / F;
      for (let i = 0; i < F; i++) dx[o + i] = r * (dy![o + i] * gamma![i] - mg - (x![o + i] - mu) * r * mgx);
    }
    dgamma.set(dg);
    dbeta.set(db);
  },
});

/** Whether the fused kernels pay off on the active backend (`fusedKernelPaysOff`). */
export function hasFusedLayerNorm(): boolean {
  return fusedKernelPaysOff(LAYER_NORM);
}

/**
 * Layer normalisation over the last axis with one kernel each way.
 * @param x [N, F]; gamma, beta [F].
 * @returns y [N, F].
 */
export function fusedLayerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const op = tf.customGrad((xi, g, b, save) => {
    const [y, mean, rstd] = runJsKernel(LAYER_NORM, { x: xi as tf.Tensor, gamma: g as tf.Tensor, beta: b as tf.Tensor }, { eps });
    (save as tf.GradSaveFunc)([xi as tf.Tensor, mean, rstd, g as tf.Tensor]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [xs, m, r, gs]: tf.Tensor[]) => runJsKernel(LAYER_NORM_GRAD, { dy, x: xs, mean: m, rstd: r, gamma: gs }, {}),
    };
  });
  return op(x, gamma, beta) as tf.Tensor2D;
}
