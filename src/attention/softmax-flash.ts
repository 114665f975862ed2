/**
 * Softmax attention in O(L) memory as one native kernel each way (`native/src/flash.c`:
 * FlashAttention's online softmax over key blocks, the backward pass recomputing each block's
 * probabilities from the saved log-sum-exp, every product an OpenBLAS call on the rows in place).
 * The same function as `blockwiseSoftmaxAttention`'s tf-op form (./softmax-blockwise.ts), which
 * calls this where it applies (`hasNativeFlash`: the addon is built with OpenBLAS; no bias, no key
 * mask), and as the quadratic `softmaxAttention` (./softmax.ts) the tests compare it with.
 *
 * Layout: q [batch, Lq, heads, D]; k [batch, Lk, heads, D]; v [batch, Lk, heads, Dv]; out [batch, Lq, heads, Dv].
 */
import { tf, registerJsKernel, runJsKernel, hasJsKernel, nativeKernels } from '../backend';

export const FLASH_ATTENTION = 'RpelabFlashAttention';
export const FLASH_ATTENTION_GRAD = 'RpelabFlashAttentionGrad';

interface FlashAttrs {
  scale: number;
  causal: boolean;
  offset: number;
}

// Inputs q [B, Lq, H, D], k [B, Lk, H, D], v [B, Lk, H, Dv]. Outputs o [B, Lq, H, Dv], lse [B, H, Lq].
registerJsKernel<FlashAttrs>({
  kernelName: FLASH_ATTENTION,
  inputNames: ['q', 'k', 'v'],
  outputShapes: ([q, , v]) => [
    [q![0], q![1], q![2], v![3]],
    [q![0], q![2], q![1]],
  ],
  compute: ([q, k, v], [qs, ks, vs], [o, lse], { scale, causal, offset }) => {
    const native = nativeKernels();
    if (!native?.flashAvailable()) throw new Error(`${FLASH_ATTENTION}: needs the native kernels built with OpenBLAS (npm run build:native)`);
    const [B, Lq, H, D] = qs!;
    native.flashAttention(q!, k!, v!, B, Lq, ks![1], H, D, vs![3], offset, scale, causal ? 1 : 0, o, lse);
  },
});

// Inputs q, k, v, o, lse, dout. Outputs dq, dk, dv.
registerJsKernel<FlashAttrs>({
  kernelName: FLASH_ATTENTION_GRAD,
  inputNames: ['q', 'k', 'v', 'o', 'lse', 'dout'],
  outputShapes: ([q, k, v]) => [q!.slice(), k!.slice(), v!.slice()],
  compute: ([q, k, v, o, lse, dout], [qs, ks, vs], [dq, dk, dv], { scale, causal, offset }) => {
    const native = nativeKernels();
    if (!native?.flashAvailable()) throw new Error(`${FLASH_ATTENTION_GRAD}: needs the native kernels built with OpenBLAS (npm run build:native)`);
    const [B, Lq, H, D] = qs!;
    native.flashAttentionGrad(q!, k!, v!, o!, lse!, dout!, B, Lq, ks![1], H, D, vs![3], offset, scale, causal ? 1 : 0, dq, dk, dv);
  },
});

/** Whether the native kernel runs here: the addon is loaded and built with OpenBLAS, on a backend with the JS kernels. */
export function hasNativeFlash(): boolean {
  const native = nativeKernels();
  return native !== null && typeof native.flashAvailable === 'function' && native.flashAvailable() && hasJsKernel(FLASH_ATTENTION);
}

/**
 * Whether a call takes the native kernel: it runs here (`hasNativeFlash`), there is no bias and no
 * key mask, at least one key, and a causal call starts its queries at offset ≥ 0 (every query
 * sees a key). The one test `blockwiseSoftmaxAttention` and `AttentionLayer` both make.
 */
export function nativeFlashApplies(o: { bias?: unknown; keyMask?: unknown; lk: number; causal: boolean; offset: number }): boolean {
  return o.bias === undefined && o.keyMask === undefined && o.lk > 0 && (!o.causal || o.offset >= 0) && hasNativeFlash();
}

/**
 * Softmax attention, one native kernel each way (check `nativeFlashApplies` first; no bias, no key
 * mask; causal needs offset ≥ 0, so that every query sees a key). Inputs as `blockwiseSoftmaxAttention`
 * after its checks.
 * @param q [batch, Lq, heads, D]; k [batch, Lk, heads, D] (Lk ≥ 1); v [batch, Lk, heads, Dv]
 * @returns [batch, Lq, heads, Dv]
 */
export function nativeFlashAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: FlashAttrs): tf.Tensor4D {
  const attrs = { scale: opts.scale, causal: opts.causal, offset: opts.offset };
  const op = tf.customGrad((qi, ki, vi, save) => {
    const [o, lse] = runJsKernel(FLASH_ATTENTION, { q: qi as tf.Tensor, k: ki as tf.Tensor, v: vi as tf.Tensor }, attrs);
    (save as tf.GradSaveFunc)([qi as tf.Tensor, ki as tf.Tensor, vi as tf.Tensor, o, lse]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, [sq, sk, sv, so, sl]: tf.Tensor[]) =>
        runJsKernel(FLASH_ATTENTION_GRAD, { q: sq, k: sk, v: sv, o: so, lse: sl, dout: dy }, attrs),
    };
  });
  return op(q, k, v) as tf.Tensor4D;
}
