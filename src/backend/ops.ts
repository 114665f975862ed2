/**
 * Kernel-level building blocks whose speed depends on the backend.
 */
import { tf } from './tf';
import { nativeKernels } from './native';

/**
 * a [n, k] @ b [k, m] with explicit-transpose gradients on wasm: dA = dY · bᵀ, dB = (dYᵀ · a)ᵀ.
 * On tfjs-backend-wasm 4.22 only untransposed 2-D matmuls reach XNNPACK; tfjs's own matMul
 * gradient multiplies by transposed operands, which take a naive loop. Measured on 2 cores,
 * [2048,128]·[128,384] forward + backward: 469 ms built-in vs 126 ms with this gradient on wasm;
 * on cpu the explicit transposes cost more (2.8 s vs 4.8 s), so other backends use tf.matMul,
 * as does wasm with the native kernels, whose matmul reads transposed operands in place.
 */
const matMul2dWasm = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, sb.transpose()), tf.matMul(g.transpose(), sa).transpose()];
    },
  };
}) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2) throw new Error(`matMul2d: expected rank-2 operands, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  if (a.shape[1] !== b.shape[0]) throw new Error(`b: expected ${a.shape[1]} rows to match a [${a.shape.join(', ')}], got [${b.shape.join(', ')}]`);
  return tf.getBackend() === 'wasm' && nativeKernels() === null ? matMul2dWasm(a, b) : tf.matMul(a, b);
}
