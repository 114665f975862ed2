/**
 * The positional kernel an SPE reproduces in expectation (SPE, §2): E[q̂_m · k̂_n] is, per head
 * and feature, a function P_d(m − n) of the lag only. This module returns that kernel from the
 * generator's parameters, so a reader (and the claims ledger) can compare Monte-Carlo estimates
 * with it.
 */
import { tf } from '../../backend';
import type { SPE } from './spe';
import type { SineSPE } from './sine';
import type { ConvSPE } from './conv';

/**
 * The expected kernel of `spe` over lags −(L−1) .. L−1.
 * sineSPE: the closed form; convSPE: the filters' cross-correlation, exactly zero beyond ±(P − 1).
 * With `gated` (default: whether the SPE is gated), the gate's mix (1 − g_d) P_d + g_d.
 * @param length L, the number of positions
 * @returns kernels [heads][features][2L − 1] (index L − 1 is lag 0)
 */
export function speKernel(spe: SPE, length: number, opts: { gated?: boolean } = {}): number[][][] {
  if (!(Number.isInteger(length) && length >= 1)) throw new Error(`length: expected an integer >= 1, got ${length}`);
  const gated = opts.gated ?? spe.filter.gated;
  return tf.tidy(() => {
    let k: tf.Tensor3D;
    if (spe.variant === 'sine') k = (spe.code as SineSPE).positionalKernel(length);
    else {
      const conv = spe.code as ConvSPE;
      const raw = conv.positionalKernel() as tf.Tensor3D; // [H, D, 2P − 1]
      const pad = length - conv.kernelSize[0];
      k =
        pad >= 0
          ? raw.pad([
              [0, 0],
              [0, 0],
              [pad, pad],
            ])
          : raw.slice([0, 0, -pad], [-1, -1, 2 * length - 1]);
    }
    if (gated) {
      const g = spe.filter.gate().expandDims(-1); // [H, D, 1]
      k = tf.scalar(1).sub(g).mul(k).add(g) as tf.Tensor3D;
    }
    return k.arraySync();
  });
}

/** The L x L Toeplitz matrix T[m][n] = kernel[m − n + L − 1] of a kernel over lags −(L−1) .. L−1. */
export function toeplitz(kernel: ArrayLike<number>, length: number): number[][] {
  if (kernel.length !== 2 * length - 1) throw new Error(`kernel: expected ${2 * length - 1} lags for length ${length}, got ${kernel.length}`);
  return Array.from({ length }, (_, m) => Array.from({ length }, (_, n) => kernel[m - n + length - 1]));
}
