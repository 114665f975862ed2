/**
 * convSPE's code as one kernel each way (wasm and cpu; see `backend/js-kernels.ts`), written in the
 * layout the SPE filter reads, y [S, C, R] (positions, channels = heads·features, realizations), from
 * channel-major noise z [C, T, R] and filters f [C, P]:
 *
 *   y[m, c, r] = Σ_{j<P} f[c, j] · z[c, m + j, r]          m < S = T − P + 1   (the valid correlation)
 *   ∂f[c, j]   = Σ_r Σ_{m<S} ∂y[m, c, r] · z[c, m + j, r]   (the noise takes no gradient)
 *
 * Composed from tf ops (`conv.ts`'s reference path) the same code is a depthwise convolution over
 * [R, 1, T, C] followed by a transpose of the whole [R, S·C] code to [S, C, R], and the same
 * transposes backwards. Here the realizations are the innermost axis of both z and y, so each
 * output row is a sum of P scaled noise rows of one channel, consecutive in z, which the native
 * kernels (native/src/conv_spe.c) vectorise. Without them, the JavaScript loops below compute the same sums in float64 (equal to
 * float32 rounding), used where they pay off (`fusedKernelPaysOff`).
 */
import { tf, registerJsKernel, runJsKernel, nativeKernels, fusedKernelPaysOff } from '../../backend';

export const CONV_CODE = 'RpelabConvSPECode';
export const CONV_CODE_FILTER_GRAD = 'RpelabConvSPECodeFilterGrad';

/** Sizes from z [C, T, R] and f [C, P] (or ∂y [S, C, R], whose S gives P). */
function sizes(z: number[], other: number[], grad: boolean) {
  const [C, T, R] = z;
  return { T, C, R, P: grad ? T - other[0] + 1 : other[1] };
}

registerJsKernel<object>({
  kernelName: CONV_CODE,
  inputNames: ['z', 'f'],
  outputShapes: ([z, f]) => {
    const { T, C, R, P } = sizes(z!, f!, false);
    return [[T - P + 1, C, R]];
  },
  compute: ([z, f], [zs, fs], [y]) => {
    const { T, C, R, P } = sizes(zs!, fs!, false);
    const native = nativeKernels();
    if (native) {
      native.convCode(T, C, R, P, z!, f!, y);
      return;
    }
    const acc = new Float64Array(R);
    for (let m = 0; m < T - P + 1; m++) {
      for (let c = 0; c < C; c++) {
        acc.fill(0);
        for (let j = 0; j < P; j++) {
          const w = f![c * P + j];
          const o = (c * T + m + j) * R;
          for (let r = 0; r < R; r++) acc[r] += w * z![o + r];
        }
        y.set(acc, (m * C + c) * R);
      }
    }
  },
});

registerJsKernel<object>({
  kernelName: CONV_CODE_FILTER_GRAD,
  inputNames: ['z', 'dy'],
  outputShapes: ([z, dy]) => {
    const { C, P } = sizes(z!, dy!, true);
    return [[C, P]];
  },
  compute: ([z, dy], [zs, dys], [df]) => {
    const { T, C, R, P } = sizes(zs!, dys!, true);
    const native = nativeKernels();
    if (native) {
      native.convCodeFilterGrad(T, C, R, P, z!, dy!, df);
      return;
    }
    const S = T - P + 1;
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < P; j++) {
        let s = 0;
        for (let m = 0; m < S; m++) {
          const d = (m * C + c) * R;
          const o = (c * T + m + j) * R;
          for (let r = 0; r < R; r++) s += dy![d + r] * z![o + r];
        }
        df[c * P + j] = s;
      }
    }
  },
});

/** Whether the fused code kernels pay off on the active backend (`fusedKernelPaysOff`). */
export function hasFusedConvCode(): boolean {
  return fusedKernelPaysOff(CONV_CODE);
}

/**
 * The code y [S, C, R] = valid correlation of the noise z [C, T, R] (a constant) with the filters
 * f [C, P] (differentiable), S = T − P + 1, one kernel each way (see the file comment). Call only
 * where `hasFusedConvCode()`.
 */
export function fusedConvCode(z: tf.Tensor3D, f: tf.Tensor2D): tf.Tensor3D {
  const op = tf.customGrad(((filter: tf.Tensor, save: tf.GradSaveFunc) => {
    save([z]);
    return {
      value: runJsKernel(CONV_CODE, { z, f: filter }, {})[0],
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => runJsKernel(CONV_CODE_FILTER_GRAD, { z: saved[0], dy }, {})[0],
    };
  }) as never) as unknown as (filter: tf.Tensor) => tf.Tensor3D;
  return op(f);
}
