/**
 * `sinCos(x)`: cos and sin of one tensor in one kernel (wasm and cpu; see `js-kernels.ts`),
 * native C over threads when rpelab's native kernels are loaded, `Math.cos`/`Math.sin` loops
 * otherwise. The wasm backend's own Cos and Sin cost ~35 ns per element (measured, 131k
 * elements: 4.7 ms each), which made the position tables of LRPE and RoPE a visible part of a
 * layer's time. Other backends use tf.cos and tf.sin.
 */
import { tf } from './tf';
import { registerJsKernel, hasJsKernel, runJsKernel } from './js-kernels';
import { nativeKernels } from './native';

export const SIN_COS = 'RpelabSinCos';

// One output [2, ...x.shape]: cos x, then sin x (a custom gradient has one output).
registerJsKernel<Record<string, never>>({
  kernelName: SIN_COS,
  inputNames: ['x'],
  outputShapes: ([x]) => [[2, ...x!]],
  compute: ([x], _shapes, [out]) => {
    const n = x!.length;
    const c = out.subarray(0, n);
    const s = out.subarray(n, 2 * n);
    const native = nativeKernels();
    if (native) return native.sinCos(x!, c, s);
    for (let i = 0; i < n; i++) {
      c[i] = Math.cos(x![i]);
      s[i] = Math.sin(x![i]);
    }
  },
});

/**
 * [cos x, sin x], each of x's shape, differentiable: ∂x = ∂sin ⊙ cos x − ∂cos ⊙ sin x.
 * @param x float32 tensor of any shape.
 */
export function sinCos<T extends tf.Tensor>(x: T): [T, T] {
  if (!hasJsKernel(SIN_COS) || x.dtype !== 'float32') return tf.tidy(() => [tf.cos(x), tf.sin(x)] as [T, T]);
  const op = tf.customGrad((xi, save) => {
    const both = runJsKernel(SIN_COS, { x: xi as tf.Tensor }, {})[0]; // [2, ...shape]
    (save as tf.GradSaveFunc)([both]);
    return {
      value: both,
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
        tf.tidy(() => {
          const [c, s] = tf.unstack(saved);
          const [dc, ds] = tf.unstack(dy);
          return ds.mul(c).sub(dc.mul(s));
        }),
    };
  });
  return tf.tidy(() => tf.unstack(op(x)) as [T, T]);
}
