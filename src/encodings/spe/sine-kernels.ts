/**
 * The fused kernels of the sineSPE feature path (wasm and cpu; see `backend/js-kernels.ts`).
 *
 * With rpelab's native kernels: SINE_PROJECT and SINE_PROJECT_GRAD, the whole projection of every
 * head and both sides in one call each way (native/src/sine_spe.c: F generated block by block in
 * the matrix product's packed layout, never in memory).
 *
 * Without them, two JavaScript kernels per head and side: for one head h of x [B, L, H, D] they
 * build, and differentiate, the feature matrix F [B·L, J] of `sineSPEFeatureProject`, and tfjs's
 * matMul multiplies it by the noise:
 *
 *   F[n, 2·(d·K + k) + c] = a[d, k] · x[n, d] · trig_c(ω[d, k]·(offset + m) + θ[d, k]),  trig_0 = cos, trig_1 = sin
 *   F[n, 2KD + d]         = s[d] · x[n, d]                                              (gated only)
 *
 * with n = b·L + m: the columns follow the reference's noise layout [D, 2K] (cos/sin interleaved).
 * Composed from tf ops this is ~10 passes over B·L·2K·D elements forward and backward (plus
 * cos/sin, which wasm evaluates slowly); here it is one pass each way. The sinusoids are advanced
 * from position to position by the angle-addition recurrence in float64 (re-evaluated exactly
 * every `RESYNC` positions), so the kernels evaluate only O(L/RESYNC·K·D) cos/sin and the phases
 * carry no float32 rounding. (The native projection advances them the same way, 16 positions at a
 * time, from exact values every 512 positions.)
 */
import { registerJsKernel, nativeKernels } from '../../backend';

export const SINE_FEATURES = 'RpelabSineSPEFeatures';
export const SINE_FEATURES_GRAD = 'RpelabSineSPEFeaturesGrad';
/** The fused projection of every head and both sides, and its gradient: native only (see `registerSineFeatureKernels`). */
export const SINE_PROJECT = 'RpelabSineSPEProject';
export const SINE_PROJECT_GRAD = 'RpelabSineSPEProjectGrad';

/** Attributes of both kernels. */
export interface SineFeatureAttrs {
  /** The head h of x [B, L, H, D] to read. */
  head: number;
  /** Position of the first row (m = 0). */
  offset: number;
}

/** Positions between exact re-evaluations of the sinusoids. */
const RESYNC = 64;

/** Per-head parameters, copied to float64, and the running sinusoids at the current position. */
class Sinusoids {
  readonly cos: Float64Array;
  readonly sin: Float64Array;
  private readonly stepCos: Float64Array;
  private readonly stepSin: Float64Array;
  constructor(
    private readonly omega: Float64Array,
    private readonly theta: Float64Array,
  ) {
    const n = omega.length;
    this.cos = new Float64Array(n);
    this.sin = new Float64Array(n);
    this.stepCos = omega.map(Math.cos);
    this.stepSin = omega.map(Math.sin);
  }

  /** Sets the sinusoids to position p (exactly every RESYNC rows, else one recurrence step from p − 1). */
  at(row: number, p: number): void {
    const { cos, sin, omega, theta, stepCos, stepSin } = this;
    if (row % RESYNC === 0) {
      for (let j = 0; j < cos.length; j++) {
        const phase = omega[j] * p + theta[j];
        cos[j] = Math.cos(phase);
        sin[j] = Math.sin(phase);
      }
      return;
    }
    for (let j = 0; j < cos.length; j++) {
      const c = cos[j];
      cos[j] = c * stepCos[j] - sin[j] * stepSin[j];
      sin[j] = sin[j] * stepCos[j] + c * stepSin[j];
    }
  }
}

/** Head h's [D, K] block of a [H, D, K] tensor (or [D] of [H, D]) as float64. */
const headBlock = (values: Float32Array, h: number, size: number) => Float64Array.from(values.subarray(h * size, (h + 1) * size));

/** Head h's amplitudes a [D·K], gate amplitudes s [D] (or null) and sinusoids, for both kernels. */
function headParams(omega: Float32Array, theta: Float32Array, amp: Float32Array, gateAmp: Float32Array | null, head: number, D: number, K: number) {
  const KD = K * D;
  return {
    a: headBlock(amp, head, KD),
    s: gateAmp === null ? null : headBlock(gateAmp, head, D),
    trig: new Sinusoids(headBlock(omega, head, KD), headBlock(theta, head, KD)),
  };
}

/** Inputs: x [B, L, H, D], omega, theta, amp [H, D, K], gateAmp [H, D] (optional). */
const INPUTS = ['x', 'omega', 'theta', 'amp', 'gateAmp'] as const;

function dims(shapes: Array<number[] | null>) {
  const [B, L, H, D] = shapes[0] as number[];
  const K = (shapes[1] as number[])[2];
  const gated = shapes[4] !== null;
  return { B, L, H, D, K, gated, J: 2 * K * D + (gated ? D : 0) };
}

let registered = false;

/** The native kernels, for the kernels that exist only natively. */
function requireNative(kernel: string) {
  const native = nativeKernels();
  if (!native)
    throw new Error(
      `${kernel}: needs rpelab's native kernels (npm run build:native; RPELAB_NATIVE not 0); sineSPEFeatureProject takes it only when they are loaded`,
    );
  return native;
}

/**
 * Registers the kernels on wasm and cpu (once). The fused projection (SINE_PROJECT: F_h · Z[h] for
 * every head and both sides; SINE_PROJECT_GRAD: its gradient through ∂F = ∂y · Z[h]ᵀ) exists only
 * natively; the per-head feature kernels are JavaScript loops, used without the addon.
 */
export function registerSineFeatureKernels(): void {
  if (registered) return;
  registered = true;

  // Inputs xq, xk [B, L, H, D], omega, theta, amp [H, D, K], gateAmp [H, D] (optional), z [H, J, R].
  const projectInputs = ['xq', 'xk', 'omega', 'theta', 'amp', 'gateAmp', 'z'] as const;
  const projectDims = (shapes: Array<number[] | null>) => {
    const [B, L, H, D] = shapes[0]!;
    return { B, L, H, D, K: shapes[2]![2], R: shapes[6]![2] };
  };
  registerJsKernel<{ offset: number; shared: boolean }>({
    kernelName: SINE_PROJECT,
    inputNames: projectInputs,
    outputShapes: (shapes) => {
      const { B, L, H, R } = projectDims(shapes);
      return [[2, B * L, H, R]];
    },
    compute: ([xq, xk, omega, theta, amp, gateAmp, z], shapes, [out], { offset, shared }) => {
      const { B, L, H, D, K, R } = projectDims(shapes);
      requireNative(SINE_PROJECT).sineProject(xq!, xk!, omega!, theta!, amp!, gateAmp, z!, B, L, H, D, K, R, offset, out, shared ? 1 : 0);
    },
  });
  // Extra first input: dy [2, B·L, H, R]. Outputs: dxq, dxk [B, L, H, D], dOmega, dTheta, dAmp [H, D, K], dGateAmp [H, D] ([0] when ungated).
  registerJsKernel<{ offset: number; shared: boolean }>({
    kernelName: SINE_PROJECT_GRAD,
    inputNames: ['dy', ...projectInputs],
    outputShapes: (shapes) => {
      const { B, L, H, D, K } = projectDims(shapes.slice(1));
      return [[B, L, H, D], [B, L, H, D], [H, D, K], [H, D, K], [H, D, K], shapes[6] === null ? [0] : [H, D]];
    },
    compute: ([dy, xq, xk, omega, theta, amp, gateAmp, z], shapes, [dxq, dxk, dOmega, dTheta, dAmp, dGate], { offset, shared }) => {
      const { B, L, H, D, K, R } = projectDims(shapes.slice(1));
      requireNative(SINE_PROJECT_GRAD).sineProjectGrad(
        xq!,
        xk!,
        omega!,
        theta!,
        amp!,
        gateAmp,
        z!,
        B,
        L,
        H,
        D,
        K,
        R,
        offset,
        dy!,
        dxq,
        dxk,
        dOmega,
        dTheta,
        dAmp,
        gateAmp === null ? null : dGate,
        shared ? 1 : 0,
      );
    },
  });

  registerJsKernel<SineFeatureAttrs>({
    kernelName: SINE_FEATURES,
    inputNames: INPUTS,
    outputShapes: (shapes) => {
      const { B, L, J } = dims(shapes);
      return [[B * L, J]];
    },
    compute: ([x, omega, theta, amp, gateAmp], shapes, [out], { head, offset }) => {
      const { B, L, H, D, K, gated, J } = dims(shapes);
      const KD = K * D;
      const { a, s, trig } = headParams(omega!, theta!, amp!, gated ? gateAmp! : null, head, D, K);
      const { cos, sin } = trig;
      const xs = x!;
      for (let m = 0; m < L; m++) {
        trig.at(m, offset + m);
        for (let b = 0; b < B; b++) {
          const n = b * L + m;
          const xo = (n * H + head) * D;
          const fo = n * J;
          for (let d = 0, j = 0; d < D; d++) {
            const xv = xs[xo + d];
            for (let k = 0; k < K; k++, j++) {
              const t = a[j] * xv;
              out[fo + 2 * j] = t * cos[j];
              out[fo + 2 * j + 1] = t * sin[j];
            }
          }
          if (s !== null) for (let d = 0; d < D; d++) out[fo + 2 * KD + d] = s[d] * xs[xo + d];
        }
      }
    },
  });

  // Extra first input: dF [B·L, J]. Outputs: dx [B, L, D], dOmega, dTheta, dAmp [D, K], dGateAmp [D].
  registerJsKernel<SineFeatureAttrs>({
    kernelName: SINE_FEATURES_GRAD,
    inputNames: ['dF', ...INPUTS],
    outputShapes: (shapes) => {
      const { B, L, D, K } = dims(shapes.slice(1));
      return [[B, L, D], [D, K], [D, K], [D, K], [D]];
    },
    compute: ([dF, x, omega, theta, amp, gateAmp], shapes, [dx, dOmega, dTheta, dAmp, dGate], { head, offset }) => {
      const { B, L, H, D, K, gated, J } = dims(shapes.slice(1));
      const KD = K * D;
      const { a, s, trig } = headParams(omega!, theta!, amp!, gated ? gateAmp! : null, head, D, K);
      const { cos, sin } = trig;
      const [g, xs] = [dF!, x!];
      // float64 accumulators: sums over up to B·L rows.
      const accOmega = new Float64Array(KD);
      const accTheta = new Float64Array(KD);
      const accAmp = new Float64Array(KD);
      const accGate = new Float64Array(D);
      const phaseRow = new Float64Array(KD); // Σ_b ∂/∂phase at the current position
      for (let m = 0; m < L; m++) {
        const p = offset + m;
        trig.at(m, p);
        phaseRow.fill(0);
        for (let b = 0; b < B; b++) {
          const n = b * L + m;
          const xo = (n * H + head) * D;
          const fo = n * J;
          for (let d = 0, j = 0; d < D; d++) {
            const xv = xs[xo + d];
            let dxv = 0;
            for (let k = 0; k < K; k++, j++) {
              const g0 = g[fo + 2 * j];
              const g1 = g[fo + 2 * j + 1];
              const c = cos[j];
              const sn = sin[j];
              const u = g0 * c + g1 * sn; // Σ_c ∂F_c · trig_c
              const w = g1 * c - g0 * sn; // Σ_c ∂F_c · trig_c′  (cos′ = −sin, sin′ = cos)
              dxv += a[j] * u;
              accAmp[j] += xv * u;
              phaseRow[j] += a[j] * xv * w;
            }
            if (s !== null) {
              const gf = g[fo + 2 * KD + d];
              dxv += s[d] * gf;
              accGate[d] += gf * xv;
            }
            dx[n * D + d] = dxv;
          }
        }
        for (let j = 0; j < KD; j++) {
          accTheta[j] += phaseRow[j];
          accOmega[j] += p * phaseRow[j];
        }
      }
      dOmega.set(accOmega);
      dTheta.set(accTheta);
      dAmp.set(accAmp);
      dGate.set(accGate);
    },
  });
}
