/**
 * Softmax cross-entropy as one kernel each way (wasm and cpu; see `backend/js-kernels.ts`): native
 * C over threads when rpelab's native kernels are loaded, JavaScript loops otherwise. The
 * formula (`losses.ts`, `tokenNllReference`) is log-softmax, a one-hot product and a sum: six
 * passes over the logits each way. Forward + backward for [2048, 256] logits (the byte LMs' output
 * layer) on wasm, one process with a reproduce sharing the 2 cores: 63 ms by the formula, 62 ms by
 * the JavaScript loops; on cpu the loops take 64 ms, the formula 956. The native kernel (its exp a
 * vectorized polynomial, native/src/vec.h): 0.76 ms on the idle 2-core AMD EPYC, through tf.grads.
 *
 * Per row of logits z [V] with target t: lse = log Σ_j exp(z_j) (shifted by the row's max, summed
 * in float64), nll = lse − z_t. Gradient from dnll: ∂z_j = (exp(z_j − lse) − [j = t]) · dnll.
 * A target outside [0, V) gives nll 0 and gradient 0, as the one-hot formula does.
 */
import { tf, registerJsKernel, runJsKernel, fusedKernelPaysOff, nativeKernels } from '../backend';

export const SOFTMAX_NLL = 'RpelabSoftmaxNll';
export const SOFTMAX_NLL_GRAD = 'RpelabSoftmaxNllGrad';

const inRange = (t: number, V: number) => Number.isInteger(t) && t >= 0 && t < V;

// Inputs logits [N, V], targets [N] (class ids as float32). Outputs nll [N] and lse [N].
registerJsKernel<Record<string, never>>({
  kernelName: SOFTMAX_NLL,
  inputNames: ['logits', 'targets'],
  outputShapes: ([z]) => [[z![0]], [z![0]]],
  compute: ([z, targets], [zs], [nll, lse]) => {
    const [N, V] = zs!;
    const native = nativeKernels();
    if (native) return native.softmaxNll(z!, targets!, N, V, nll, lse);
    for (let n = 0, o = 0; n < N; n++, o += V) {
      let max = -Infinity;
      for (let j = 0; j < V; j++) if (z![o + j] > max) max = z![o + j];
      let s = 0;
      for (let j = 0; j < V; j++) s += Math.exp(z![o + j] - max);
      const l = max + Math.log(s);
      const t = targets![n];
      lse[n] = l;
      nll[n] = inRange(t, V) ? l - z![o + t] : 0;
    }
  },
});

// Inputs dnll [N], logits [N, V], targets [N], lse [N]. Output dlogits [N, V].
registerJsKernel<Record<string, never>>({
  kernelName: SOFTMAX_NLL_GRAD,
  inputNames: ['dnll', 'logits', 'targets', 'lse'],
  outputShapes: ([, z]) => [z!.slice()],
  compute: ([dnll, z, targets, lse], [, zs], [dz]) => {
    const [N, V] = zs!;
    const native = nativeKernels();
    if (native) return native.softmaxNllGrad(dnll!, z!, targets!, lse!, N, V, dz);
    for (let n = 0, o = 0; n < N; n++, o += V) {
      const t = targets![n];
      if (!inRange(t, V)) {
        dz.fill(0, o, o + V);
        continue;
      }
      const g = dnll![n];
      const l = lse![n];
      for (let j = 0; j < V; j++) dz[o + j] = Math.exp(z![o + j] - l) * g;
      dz[o + t] -= g;
    }
  },
});

/**
 * Whether `tokenNll` takes the fused kernels on the active backend: with the native kernels (2–3x
 * faster than the formula on wasm), and on cpu (15x) — not on wasm without them, where the
 * JavaScript loop's exp costs as much as the formula's passes (`fusedKernelPaysOff`).
 */
export function hasFusedSoftmaxNll(): boolean {
  return fusedKernelPaysOff(SOFTMAX_NLL);
}

/**
 * Per-row negative log-likelihood of `targets` under softmax(`logits`), one kernel each way.
 * @param logits [N, V] float32; @param targets [N] int32 class ids.
 * @returns nll [N] (nats).
 */
export function fusedSoftmaxNll(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  // The ids go in as an input (float32, as JS kernels take), so the tape keeps them for the backward pass.
  const op = tf.customGrad((z, ids, save) => {
    const [nll, lse] = runJsKernel(SOFTMAX_NLL, { logits: z as tf.Tensor, targets: ids as tf.Tensor }, {});
    (save as tf.GradSaveFunc)([z as tf.Tensor, ids as tf.Tensor, lse]);
    return {
      value: nll,
      gradFunc: (dnll: tf.Tensor, [zs, ts, l]: tf.Tensor[]) => [
        runJsKernel(SOFTMAX_NLL_GRAD, { dnll, logits: zs, targets: ts, lse: l }, {})[0],
        tf.zerosLike(ts),
      ],
    };
  });
  return tf.tidy(() => op(logits, targets.toFloat()) as tf.Tensor1D);
}
