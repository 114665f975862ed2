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
 *
 * `adamStepInPlace` runs the same update over the variables' own values, which also saves the
 * kernel's dispatch, its three output tensors and the three assigns.
 */
import { tf, registerJsKernel, runJsKernel, fusedKernelPaysOff, nativeKernels, heldValues } from '../backend';

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
  compute: ([p, m, v, g], _shapes, [pOut, mOut, vOut], c) => adamStepValues(p!, m!, v!, g!, c, pOut, mOut, vOut),
});

/** The update of the constants `c` on values p, m, v, g (of one length), written into pOut, mOut, vOut. */
function adamStepValues(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float32Array,
  c: AdamStepConstants,
  pOut: Float32Array,
  mOut: Float32Array,
  vOut: Float32Array,
): void {
  const k = [c.beta1, c.oneMinusBeta1, c.beta2, c.oneMinusBeta2, c.keep, c.sqrtBiasCorrection2, c.eps, c.stepSize].map(f);
  const native = nativeKernels();
  if (native) return native.adamStep(p, m, v, g, k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], pOut, mOut, vOut);
  const [b1, c1, b2, c2, keep, bc2, eps, step] = k;
  // Element i is read before it is written, so the outputs may be the inputs.
  for (let i = 0; i < p.length; i++) {
    const mi = f(f(m[i] * b1) + f(g[i] * c1));
    const vi = f(f(v[i] * b2) + f(f(g[i] * g[i]) * c2));
    const u = f(f(mi / f(f(f(Math.sqrt(vi)) / bc2) + eps)) * step);
    pOut[i] = f(f(p[i] * keep) - u);
    mOut[i] = mi;
    vOut[i] = vi;
  }
}

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

/**
 * The same update written over the values of p, m and v themselves (check `hasFusedAdamStep`
 * first): no kernel dispatch, no output tensors, no assigns. Only where their values are
 * visible (wasm's heap, cpu's arrays) and no other tensor shares them (on these backends a clone
 * or a reshape shares its source's values until one of them is replaced): otherwise it touches
 * nothing and returns false, and the caller runs `fusedAdamStep`.
 * @param p, m, v, g float32 tensors of one shape (the parameter, its two moments, its gradient)
 */
export function adamStepInPlace(p: tf.Variable, m: tf.Variable, v: tf.Variable, g: tf.Tensor, c: AdamStepConstants): boolean {
  if (g.dtype !== 'float32' || p.size !== g.size) return false;
  const backend = tf.backend() as unknown as { refCount(dataId: object): number };
  if ([p, m, v].some((t) => backend.refCount(t.dataId) !== 1)) return false;
  // Four views taken together, with no allocation between them (on wasm, growing the heap detaches views).
  const values = [p, m, v, g].map((t) => heldValues(t as unknown as tf.TensorInfo));
  if (!values.every((x) => x instanceof Float32Array && x.length === p.size)) return false;
  const [pv, mv, vv, gv] = values as Float32Array[];
  adamStepValues(pv, mv, vv, gv, c, pv, mv, vv);
  return true;
}
