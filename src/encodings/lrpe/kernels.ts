/**
 * The fused LRPE map y = Λ^(s) P x as one kernel each way (wasm and cpu, JavaScript loops; see
 * `backend/js-kernels.ts`). Composed from tf ops, a Householder reflection followed by a pair
 * rotation is ~8 passes over [B, L, H, D] forward and ~14 backward (products, sums, the pair
 * turn and their gradients); here it is one pass each way, and every intermediate stays in
 * registers.
 *
 * Per row x = x[b, l, h, :] (D features) at table row l:
 *
 *   z = x − 2 u (u·x)              (P: the Householder reflection of a unit u; z = x without u)
 *   'pairs':   y_2c   = z_2c C_2c − z_2c+1 S_2c,   y_2c+1 = z_2c+1 C_2c+1 + z_2c S_2c+1   (2c + 1 < W)
 *              y_f    = z_f                                                              (f ≥ W)
 *   'unitary': y_f    = z_f C_f,  y_D+f = z_f S_f                                         (output 2D)
 *
 * with per-feature tables C, S [L, W] (W = D for 'unitary', W ≤ D even for 'pairs'). 'pairs'
 * covers the rotation and mixed cores (C, S repeat each pair's cos and sin) and the
 * permutation core in its eigenbasis (sin 0 on fixed and flipped components). The backward
 * kernel returns ∂x and, on request, the table gradients ∂C, ∂S [L, W] (for learned θ) and
 * ∂u [D] (for a learned Householder vector; the gradient with respect to u as a free vector).
 *
 * With `inputMap: 'elu+1'` both kernels read φ(x) = elu(x) + 1 for x (linear attention's feature
 * map, fused in: y = Λ P φ(x)), and ∂x is the gradient with respect to the raw x, through
 * φ'(x) = 1 for x > 0, else exp(x) = φ(x).
 */
import { tf, registerJsKernel, hasJsKernel, runJsKernel, nativeKernels, fusedKernelPaysOff } from '../../backend';

export const LRPE_MAP = 'RpelabLrpeMap';
export const LRPE_MAP_GRAD = 'RpelabLrpeMapGrad';

export type LrpeMapMode = 'pairs' | 'unitary';

/** What the map reads for x: x itself, or φ(x) = elu(x) + 1. */
export type LrpeInputMap = 'identity' | 'elu+1';

interface MapAttrs {
  mode: LrpeMapMode;
  inputMap: LrpeInputMap;
}
interface GradAttrs extends MapAttrs {
  /** Whether to compute ∂C, ∂S (else they are returned empty). */
  tableGrad: boolean;
  /** Whether to compute ∂u (else it is returned empty). */
  uGrad: boolean;
}

/** Sizes of x [B, L, H, D] and tables [L, W]. */
function dims(xShape: number[], tShape: number[]) {
  const [B, L, H, D] = xShape;
  return { B, L, H, D, W: tShape[1] };
}

/** The row x[o .. o + D) into xin, mapped by φ = elu + 1 when `phi` (rounded to float32, as the native kernel keeps it). */
function inputRow(x: Float32Array, o: number, D: number, phi: boolean, xin: Float32Array): Float32Array {
  for (let f = 0; f < D; f++) {
    const v = x[o + f];
    xin[f] = !phi ? v : v > 0 ? v + 1 : Math.exp(v);
  }
  return xin;
}

/** z = x − 2u(u·x) into z for the row x [D]; returns u·x (0 without u). */
function reflect(x: Float32Array, D: number, u: Float32Array | null, z: Float64Array): number {
  if (u === null) {
    for (let f = 0; f < D; f++) z[f] = x[f];
    return 0;
  }
  let a = 0;
  for (let f = 0; f < D; f++) a += u[f] * x[f];
  for (let f = 0; f < D; f++) z[f] = x[f] - 2 * a * u[f];
  return a;
}

registerJsKernel<MapAttrs>({
  kernelName: LRPE_MAP,
  inputNames: ['x', 'u', 'cos', 'sin'],
  outputShapes: ([x], { mode }) => [mode === 'unitary' ? [x![0], x![1], x![2], 2 * x![3]] : x!.slice()],
  compute: ([x, u, C, S], [xs, , ts], [y], { mode, inputMap }) => {
    const { B, L, H, D, W } = dims(xs!, ts!);
    const phi = inputMap === 'elu+1';
    const native = nativeKernels();
    if (native) return native.lrpeMap(x!, u, C!, S!, B, L, H, D, W, mode === 'unitary' ? 1 : 0, phi ? 1 : 0, y);
    const z = new Float64Array(D);
    const xin = new Float32Array(D);
    const out = mode === 'unitary' ? 2 * D : D;
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < L; l++) {
        const t = l * W;
        for (let h = 0; h < H; h++) {
          const row = (b * L + l) * H + h;
          reflect(inputRow(x!, row * D, D, phi, xin), D, u, z);
          const o = row * out;
          if (mode === 'unitary') {
            for (let f = 0; f < D; f++) {
              y[o + f] = z[f] * C![t + f];
              y[o + D + f] = z[f] * S![t + f];
            }
          } else {
            for (let f = 0; f + 1 < W; f += 2) {
              y[o + f] = z[f] * C![t + f] - z[f + 1] * S![t + f];
              y[o + f + 1] = z[f + 1] * C![t + f + 1] + z[f] * S![t + f + 1];
            }
            for (let f = W; f < D; f++) y[o + f] = z[f];
          }
        }
      }
    }
  },
});

registerJsKernel<GradAttrs>({
  kernelName: LRPE_MAP_GRAD,
  inputNames: ['dy', 'x', 'u', 'cos', 'sin'],
  outputShapes: ([, x, u, t], { tableGrad, uGrad }) => [
    x!.slice(),
    tableGrad ? t!.slice() : [0],
    tableGrad ? t!.slice() : [0],
    u !== null && uGrad ? u.slice() : [0],
  ],
  compute: ([g, x, u, C, S], [, xs, , ts], [dx, dC, dS, du], { mode, inputMap, tableGrad, uGrad }) => {
    const { B, L, H, D, W } = dims(xs!, ts!);
    const phi = inputMap === 'elu+1';
    const native = nativeKernels();
    if (native) {
      return native.lrpeMapGrad(
        g!,
        x!,
        u,
        C!,
        S!,
        B,
        L,
        H,
        D,
        W,
        mode === 'unitary' ? 1 : 0,
        phi ? 1 : 0,
        dx,
        tableGrad ? dC : null,
        tableGrad ? dS : null,
        u !== null && uGrad ? du : null,
      );
    }
    const z = new Float64Array(D);
    const dz = new Float64Array(D);
    const xin = new Float32Array(D);
    const duAcc = new Float64Array(u !== null && uGrad ? D : 0);
    const out = mode === 'unitary' ? 2 * D : D;
    if (tableGrad) {
      dC.fill(0);
      dS.fill(0);
    }
    for (let b = 0; b < B; b++) {
      for (let l = 0; l < L; l++) {
        const t = l * W;
        for (let h = 0; h < H; h++) {
          const row = (b * L + l) * H + h;
          const xr = inputRow(x!, row * D, D, phi, xin);
          const a = reflect(xr, D, u, z);
          const o = row * out;
          if (mode === 'unitary') {
            for (let f = 0; f < D; f++) {
              const g0 = g![o + f],
                g1 = g![o + D + f];
              dz[f] = g0 * C![t + f] + g1 * S![t + f];
              if (tableGrad) {
                dC[t + f] += g0 * z[f];
                dS[t + f] += g1 * z[f];
              }
            }
          } else {
            for (let f = 0; f + 1 < W; f += 2) {
              const g0 = g![o + f],
                g1 = g![o + f + 1];
              dz[f] = g0 * C![t + f] + g1 * S![t + f + 1];
              dz[f + 1] = g1 * C![t + f + 1] - g0 * S![t + f];
              if (tableGrad) {
                dC[t + f] += g0 * z[f];
                dC[t + f + 1] += g1 * z[f + 1];
                dS[t + f] -= g0 * z[f + 1];
                dS[t + f + 1] += g1 * z[f];
              }
            }
            for (let f = W; f < D; f++) dz[f] = g![o + f];
          }
          const xo = row * D;
          if (u === null) {
            for (let f = 0; f < D; f++) dx[xo + f] = dz[f];
          } else {
            // dx = P dz (P symmetric); ∂u = −2 Σ_rows ((u·x) dz + (u·dz) x).
            let c = 0;
            for (let f = 0; f < D; f++) c += u[f] * dz[f];
            for (let f = 0; f < D; f++) dx[xo + f] = dz[f] - 2 * c * u[f];
            if (uGrad) for (let f = 0; f < D; f++) duAcc[f] -= 2 * (a * dz[f] + c * xr[f]);
          }
          // Through φ: φ'(x) = 1 for x > 0, else exp(x) = φ(x).
          if (phi) for (let f = 0; f < D; f++) if (!(x![xo + f] > 0)) dx[xo + f] *= xr[f];
        }
      }
    }
    for (let f = 0; f < duAcc.length; f++) du[f] = duAcc[f];
  },
});

/** Whether the fused kernels pay off on the active backend (`fusedKernelPaysOff`). */
export function hasFusedLrpe(): boolean {
  return fusedKernelPaysOff(LRPE_MAP);
}

/** Whether the fused kernels can run at all on the active backend (wasm and cpu). */
export function canFuseLrpe(): boolean {
  return hasJsKernel(LRPE_MAP);
}

/**
 * y = Λ P x with one kernel forward and one backward (see the file comment).
 * @param x [B, L, H, D].
 * @param u the unit Householder vector [D], or null for P = I.
 * @param cos, sin the per-feature tables [L, W].
 * @param mode 'pairs' (W even, ≤ D) or 'unitary' (W = D).
 * @param learn which of u and the tables receive gradients (the others are constants); x always does.
 * @param inputMap 'elu+1': map φ(x) = elu(x) + 1 instead of x (the feature map fused in).
 * @returns [B, L, H, D] ('pairs') or [B, L, H, 2D] ('unitary').
 */
export function fusedLrpeMap(
  x: tf.Tensor4D,
  u: tf.Tensor1D | null,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  mode: LrpeMapMode,
  learn: { u: boolean; tables: boolean },
  inputMap: LrpeInputMap = 'identity',
): tf.Tensor4D {
  const [, L, , D] = x.shape;
  if (cos.shape[0] !== L || sin.shape[0] !== L || cos.shape[1] !== sin.shape[1]) {
    throw new Error(`cos, sin: expected two [${L}, W] tables, got [${cos.shape}] and [${sin.shape}]`);
  }
  const W = cos.shape[1];
  if (mode === 'unitary' ? W !== D : W % 2 !== 0 || W > D) {
    throw new Error(`cos: expected ${mode === 'unitary' ? `width ${D}` : `an even width <= ${D}`} for mode '${mode}', got ${W}`);
  }
  if (u !== null && (u.rank !== 1 || u.shape[0] !== D)) throw new Error(`u: expected [${D}], got [${u.shape}]`);
  // Inputs of the custom gradient: x, then what is learned (the rest is closed over as constants).
  const inputs: tf.Tensor[] = [x];
  if (learn.u && u !== null) inputs.push(u);
  if (learn.tables) inputs.push(cos, sin);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xi] = args as tf.Tensor[];
    // Kept for the backward pass, which may run after the scope of u and the tables ends.
    save(u === null ? [xi, cos, sin] : [xi, cos, sin, u]);
    return {
      value: runJsKernel(LRPE_MAP, { x: xi, u, cos, sin }, { mode, inputMap })[0],
      gradFunc: (dy: tf.Tensor, [xs, c, s, us]: tf.Tensor[]) =>
        tf.tidy(() => {
          const [dx, dC, dS, du] = runJsKernel(
            LRPE_MAP_GRAD,
            { dy, x: xs, u: us ?? null, cos: c, sin: s },
            { mode, inputMap, tableGrad: learn.tables, uGrad: learn.u && u !== null },
          );
          const grads = [dx];
          if (learn.u && u !== null) grads.push(du);
          if (learn.tables) grads.push(dC, dS);
          return grads;
        }),
    };
  }) as unknown as (...xs: tf.Tensor[]) => tf.Tensor4D;
  return op(...inputs);
}
