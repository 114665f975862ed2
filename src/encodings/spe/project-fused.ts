/**
 * The fused kernels' path of the sineSPE feature projection (`sineSPEFeatureProject` in
 * `project.ts` holds the formula and the composed path; this file only dispatches). With the
 * native kernels the whole projection is one call each way (`sine-kernels.ts` SINE_PROJECT: F is
 * generated 128 positions at a time inside the product, never in memory); without them, per-head
 * JavaScript feature kernels build F for tfjs's matMul, recomputed per head and never kept, so
 * memory is O(B·L·2KD) and transient. The gradient is a custom one: F is recomputed from the
 * saved inputs, and the noise Z, a constant, gets none.
 */
import { tf, runJsKernel, nativeKernels } from '../../backend';
import { SINE_FEATURES, SINE_FEATURES_GRAD, SINE_PROJECT, SINE_PROJECT_GRAD, registerSineFeatureKernels } from './sine-kernels';

// Kernel registration touches no tensor: done at import, so `hasJsKernel` answers for any backend.
registerSineFeatureKernels();

/**
 * x̂ = F·Z for queries (with θ) and keys (θ = 0), every head, through the fused kernels. Inputs as
 * `sineSPEFeatureProject` (already checked there): q, k [B, L, H, D]; omega, theta, amp [H, D, K];
 * gateAmp [H, D] or null; z [H, J, R]; sharedCode: the native projection's strategy (see
 * `SineFeatureProjectOptions`). @returns [q̂, k̂], each [B, L, H, R].
 */
export function fusedSineFeatureProject(
  q: tf.Tensor,
  k: tf.Tensor,
  omega: tf.Tensor,
  theta: tf.Tensor,
  amp: tf.Tensor,
  gateAmp: tf.Tensor | null,
  z: tf.Tensor,
  offset: number,
  sharedCode: boolean,
): [tf.Tensor4D, tf.Tensor4D] {
  const [B, L, H] = q.shape as [number, number, number, number];
  const R = z.shape[2] as number;
  const kernelInputs = (x: tf.Tensor, om: tf.Tensor, th: tf.Tensor, am: tf.Tensor, ga: tf.Tensor | undefined) => ({
    x,
    omega: om,
    theta: th,
    amp: am,
    gateAmp: ga ?? null,
  });
  // With the native kernels, one fused call per direction does every head and both sides (F in cache only).
  const projectInputs = (xq: tf.Tensor, xk: tf.Tensor, om: tf.Tensor, th: tf.Tensor, am: tf.Tensor, ga: tf.Tensor | undefined, zz: tf.Tensor) => ({
    xq,
    xk,
    omega: om,
    theta: th,
    amp: am,
    gateAmp: ga ?? null,
    z: zz,
  });
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xq, xk, om, th, am, ga] = args as tf.Tensor[];
    save([...(args as tf.Tensor[]), z]); // all small but q and k; F is recomputed, never kept
    const value = nativeKernels()
      ? runJsKernel(SINE_PROJECT, projectInputs(xq, xk, om, th, am, ga, z), { offset, shared: sharedCode })[0] // [2, B·L, H, R]
      : tf.tidy(() => {
          const zs = tf.unstack(z);
          const noTheta = tf.zerosLike(th);
          const ys: tf.Tensor[] = [];
          for (let h = 0; h < H; h++) {
            for (const [x, phase] of [
              [xq, th],
              [xk, noTheta],
            ]) {
              ys.push(tf.tidy(() => tf.matMul(runJsKernel(SINE_FEATURES, kernelInputs(x, om, phase, am, ga), { head: h, offset })[0], zs[h])));
            }
          }
          // [H, 2, B·L, R] -> [2, B·L, H, R]
          return tf
            .stack(ys)
            .reshape([H, 2, B * L, R])
            .transpose([1, 2, 0, 3]);
        });
    return {
      value,
      // customGrad's gradient function runs outside the engine's per-gradient tidy: tidy here.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sq, sk, so, st, sa] = saved;
          const sg = ga === undefined ? undefined : saved[5];
          const sz = saved[saved.length - 1];
          if (nativeKernels()) {
            const [dq, dk, dOmega, dTheta, dAmp, dGate] = runJsKernel(
              SINE_PROJECT_GRAD,
              { dy, ...projectInputs(sq, sk, so, st, sa, sg, sz) },
              { offset, shared: sharedCode },
            );
            return sg === undefined ? [dq, dk, dOmega, dTheta, dAmp] : [dq, dk, dOmega, dTheta, dAmp, dGate];
          }
          const zs = tf.unstack(sz);
          const noTheta = tf.zerosLike(st);
          const dys = tf.unstack(dy.transpose([2, 0, 1, 3]).reshape([H * 2, B * L, R]));
          const per: tf.Tensor[][][] = []; // [h][side] -> [dx, dOmega, dTheta, dAmp, dGate]
          for (let h = 0; h < H; h++) {
            per.push(
              [
                [sq, st],
                [sk, noTheta],
              ].map(([x, phase], side) =>
                tf.tidy(() => {
                  const dF = tf.matMul(dys[2 * h + side], zs[h], false, true); // [B·L, J]
                  return runJsKernel(SINE_FEATURES_GRAD, { dF, ...kernelInputs(x, so, phase, sa, sg) }, { head: h, offset });
                }),
              ),
            );
          }
          const both = (i: number) => tf.stack(per.map(([gq, gk]) => gq[i].add(gk[i])));
          const grads = [
            tf.stack(
              per.map(([gq]) => gq[0]),
              2,
            ), // dq [B, L, H, D]
            tf.stack(
              per.map(([, gk]) => gk[0]),
              2,
            ), // dk
            both(1), // dω [H, D, K]
            tf.stack(per.map(([gq]) => gq[2])), // dθ: queries only
            both(3), // da
          ];
          return sg === undefined ? grads : [...grads, both(4)]; // ds [H, D]
        }),
    };
  }) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
  return tf.tidy(() => {
    const out = op(...[q, k, omega, theta, amp, ...(gateAmp === null ? [] : [gateAmp])]);
    return tf.unstack(out).map((y) => y.reshape([B, L, H, R])) as [tf.Tensor4D, tf.Tensor4D];
  });
}
