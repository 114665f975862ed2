/**
 * One Adam(W) update of a parameter tensor as one kernel (wasm and cpu; see `backend/js-kernels.ts`):
 * native C when rpelab's native kernels are loaded, JavaScript loops otherwise. The tf-op form of
 * `optim.ts` is ~13 kernels per parameter (two moment updates, the bias-corrected step, the decay,
 * three assigns), so ~350 per step for the small models of the experiments, each dispatched and
 * allocated: more time than their arithmetic.
 *
 * Both forms compute, in float32 and in this order (so they give the same bits; the constants are
 * rounded to float32 as tf's scalars are):
 *   m' = m·β1 + g·(1 − β1),  v' = v·β2 + (g·g)·(1 − β2),
 *   p' = p·keep − m' / (√v' / √(1 − β2^t) + ε) · lr / (1 − β1^t)      (keep = 1 − lr·λ, or 1 without decay)
 */
import { tf, registerJsKernel, runJsKernel, fusedKernelPaysOff, nativeKernels } from '../backend';

export const ADAM_STEP = 'RpelabAdamStep';

/** The update's float32 constants (see the top of the file). */
export interface AdamStepConstants {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  keep: number;
  sqrtBiasCorrection2: number;
  eps: number;
  stepSize: number;
}

const f = Math.fround;

// Inputs p, m, v, g (one shape). Outputs p', m', v'.
registerJsKernel<AdamStepConstants>({
  kernelName: ADAM_STEP,
  inputNames: ['p', 'm', 'v', 'g'],
  outputShapes: ([p]) => [p!.slice(), p!.slice(), p!.slice()],
  compute: ([p, m, v, g], _shapes, [pOut, mOut, vOut], c) => {
    const k = [c.beta1, c.oneMinusBeta1, c.beta2, c.oneMinusBeta2, c.keep, c.sqrtBiasCorrection2, c.eps, c.stepSize].map(f);
    const native = nativeKernels();
    if (native) return native.adamStep(p!, m!, v!, g!, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], pOut, mOut, vOut);
    const [b1, c1, b2, c2, keep, bc2, eps, step] = k;
    for (let i = 0; i < p!.length; i++) {
      const mi = f(f(m![i] * b1) + f(g![i] * c1));
      const vi = f(f(v![i] * b2) + f(f(g![i] * g![i]) * c2));
      const u = f(f(mi / f(f(f(Math.sqrt(vi)) / bc2) + eps)) * step);
      pOut[i] = f(f(p![i] * keep) - u);
      mOut[i] = mi;
      vOut[i] = vi;
    }
  },
});

/** Whether the one-kernel update runs here (`fusedKernelPaysOff`: native kernels, or the cpu backend). */
export function hasFusedAdamStep(): boolean {
  return fusedKernelPaysOff(ADAM_STEP);
}

/**
 * p', m', v' of one update as one kernel (check `hasFusedAdamStep` first).
 * @param p, m, v, g tensors of one shape (the parameter, its two moments, its gradient)
 * @returns [p', m', v'], new tensors of that shape
 */
export function fusedAdamStep(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, c: AdamStepConstants): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const [p2, m2, v2] = runJsKernel(ADAM_STEP, { p, m, v, g }, c);
  return [p2, m2, v2];
}
