/**
 * Fixed linear maps on the feature axis, written so that forward and backward stay on
 * the fast kernels of the wasm backend (tfjs-backend-wasm 4.22), where LRPE spends most
 * of its time:
 *
 * - A matMul takes XNNPACK only when neither operand is transposed and there is one
 *   batch; tfjs's own matMul gradient multiplies by the transposed operand, which falls
 *   back to a naive loop (~9x slower at D = 64). `rightMultiply` therefore supplies its
 *   gradient with the transpose materialised.
 * - Reverse, Gather and strided slices cost tens of elementwise ops each, and Gather's
 *   gradient (UnsortedSegmentSum, delegated to cpu) is O(size x segments). Swapping the
 *   two features of every pair is therefore a JavaScript kernel on wasm and cpu, and a
 *   [N*D/2, 2] x [2, 2] matMul elsewhere, not a reverse or a gather.
 *
 * The wasm matMul caches its XNNPACK operator by the tensor id of the right operand and
 * ignores its shape: a long-lived tensor must only ever be the right operand in one shape.
 */
import { tf, registerJsKernel, hasJsKernel, runJsKernel } from '../../backend';

/** The pair turn as a JavaScript kernel on wasm and cpu (one pass; the matMul form costs ~5x more there). */
const SWAP_PAIRS = 'RpelabSwapPairs';
registerJsKernel<{ sign: number }>({
  kernelName: SWAP_PAIRS,
  inputNames: ['x'],
  outputShapes: ([shape]) => [shape as number[]],
  compute: ([x], _shapes, [out], { sign }) => {
    const v = x!;
    for (let i = 0; i + 1 < v.length; i += 2) {
      out[i] = -sign * v[i + 1];
      out[i + 1] = sign * v[i];
    }
  },
});

/**
 * y = x W for a constant W (no gradient flows to W).
 * x: [N, K], w: [K, M] -> [N, M]; dL/dx = dL/dy · W^T with W^T materialised.
 */
export function rightMultiply(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((input, save) => {
    (save as tf.GradSaveFunc)([w]); // kept for the backward pass, which may run after w's scope ends
    return {
      value: tf.matMul(input as tf.Tensor2D, w),
      gradFunc: (dy: tf.Tensor, [kept]: tf.Tensor[]) => tf.tidy(() => tf.matMul(dy as tf.Tensor2D, kept.transpose() as tf.Tensor2D)),
    };
  });
  return op(x) as tf.Tensor2D;
}

/**
 * The quarter turn of every interleaved pair: (x_0, x_1, x_2, x_3, ...) -> (−x_1, x_0, −x_3, x_2, ...).
 * x: any shape whose size is even, read as consecutive pairs -> same shape.
 * Its transpose is the opposite turn, which is the gradient.
 */
export function swapPairs<T extends tf.Tensor>(x: T): T {
  if (x.size % 2 !== 0) throw new Error(`x: expected an even number of elements (pairs), got shape [${x.shape.join(', ')}]`);
  const turn = (t: tf.Tensor, sign: number) =>
    tf.tidy(() =>
      hasJsKernel(SWAP_PAIRS) && t.dtype === 'float32'
        ? runJsKernel(SWAP_PAIRS, { x: t }, { sign })[0]
        : tf.matMul(t.reshape([-1, 2]), tf.tensor2d([0, sign, -sign, 0], [2, 2])).reshape(t.shape),
    );
  const op = tf.customGrad((input) => ({ value: turn(input as tf.Tensor, 1), gradFunc: (dy: tf.Tensor) => turn(dy, -1) }));
  return op(x) as T;
}
