/**
 * Micro-benchmarks of the kernels that dominate attention on tfjs, as effective GFLOP/s
 * (useful floating-point operations / wall time; data-movement kernels as GB/s):
 *
 * - 2-D matmul, plain and with a transposed operand (the forms a backward pass uses);
 * - batched matmul in the shapes of the causal chunk step and of bidirectional KᵀV;
 * - the causal (chunked prefix) and bidirectional linear attention functions in their tf-op form
 *   (`linearAttentionOps`), forward and forward + backward, the causal one for several chunk
 *   lengths C (the default C is the plain "causal fwd+bwd" case; compare ms, not GFLOP/s, across
 *   C), and the causal native scan (`linearAttention` where the addon is loaded);
 * - splitting the fused q/k/v projection (`tf.unstack` of a rank-5 tensor);
 * - SPE code generation (sineSPE, convSPE) and filtering (materialised code), and the whole
 *   gated sineSPE encoding of q and k as the SPE layer runs it.
 */
import { tf, Rng } from '../../src/backend';
import { linearAttention, linearAttentionOps, defaultChunkSize } from '../../src/attention/linear';
import { nativeLinearScanApplies } from '../../src/attention/linear-scan';

/** The causal chunk length linear attention picks for these 64-feature heads. */
const DEFAULT_CHUNK = defaultChunkSize(64);
import { SineSPE, ConvSPE, SPEFilter, SPE } from '../../src/encodings/spe';
import { RssSampler, timeCalls, round } from '../measure';

export interface MicroPoint {
  name: string;
  /** Operand shapes, human-readable. */
  shape: string;
  /** Useful floating-point operations per call (null for pure data movement). */
  flops: number | null;
  /** Bytes moved per call (data-movement kernels). */
  bytes?: number;
  ms?: number[];
  msMedian?: number;
  cpuMsMedian?: number;
  gflops?: number;
  /** GFLOP/s on process CPU time (robust to other jobs on the machine). */
  gflopsCpu?: number;
  gbps?: number;
  error?: string;
}

interface MicroCase {
  name: string;
  shape: string;
  flops: number | null;
  bytes?: number;
  /** Builds the operands and returns the timed call (which disposes its results) and a cleanup. */
  setup: () => { call: () => void; dispose: () => void };
}

const rnd = (rng: Rng, shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);

function matmulCase(name: string, aShape: number[], bShape: number[], transposeA = false, transposeB = false): MicroCase {
  const batch = aShape.length === 3 ? aShape[0] : 1;
  const [m, k] = transposeA ? aShape.slice(-2).reverse() : aShape.slice(-2);
  const n = transposeB ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
  const t = (s: number[], tr: boolean) => `[${s.join('x')}]${tr ? 'ᵀ' : ''}`;
  return {
    name,
    shape: `${t(aShape, transposeA)} @ ${t(bShape, transposeB)}`,
    flops: 2 * batch * m * k * n,
    setup: () => {
      const rng = new Rng(5);
      const a = rnd(rng, aShape);
      const b = rnd(rng, bShape);
      return {
        call: () => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, transposeA, transposeB).dispose(),
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

/** FLOPs of linear attention on [B, L, H, F] with values of width E (+1 for the denominator column). */
function linearFlops(b: number, l: number, h: number, f: number, e: number, causal: boolean, chunk: number): number {
  if (!causal) return 2 * 2 * b * l * h * f * e; // KᵀV and Q(KᵀV)
  const c = Math.min(chunk, l);
  const blocks = Math.ceil(l / c) * b * h;
  // Per chunk: QKᵀ (C·C·F), scores·V (C·C·E), KᵀV summary (C·F·E), Q·state (C·F·E).
  return blocks * 2 * c * (c * f + c * e + 2 * f * e);
}

/**
 * Linear attention on [1, l, 8, 64]: the tf-op form (chunked when causal), or with `scan` the
 * native recurrent form (its FLOPs: per position and head a state update and a read of F·(E+1)
 * multiply-adds each, forward; three scans backward).
 */
function linearCase(l: number, causal: boolean, backward: boolean, chunk?: number, scan = false): MicroCase {
  const [b, h, f] = [1, 8, 64];
  const c = chunk ?? DEFAULT_CHUNK;
  const fwd = scan ? 4 * b * l * h * f * (f + 1) : linearFlops(b, l, h, f, f + 1, causal, c);
  const form = scan ? 'causal (native scan)' : causal ? 'causal (chunked prefix)' : 'bidirectional';
  return {
    name: `linear attention ${form} ${backward ? 'fwd+bwd' : 'fwd'}${chunk ? `, chunk ${chunk}` : ''}`,
    shape: `q,k,v [${b}x${l}x${h}x${f}]${causal && !scan ? `, chunk ${c}` : ''}`,
    flops: backward ? (scan ? 4 : 3) * fwd : fwd,
    setup: () => {
      const rng = new Rng(6);
      const [q, k, v] = [0, 1, 2].map(() => rnd(rng, [b, l, h, f]) as tf.Tensor4D);
      const run = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) =>
        (scan ? linearAttention : linearAttentionOps)(qq as tf.Tensor4D, kk as tf.Tensor4D, vv as tf.Tensor4D, { causal, chunkSize: c });
      const call = backward
        ? () => {
            const g = tf.grads((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor) => run(qq, kk, vv).square().mean())([q, k, v]);
            tf.dispose(g);
          }
        : () => run(q, k, v).dispose();
      return { call, dispose: () => tf.dispose([q, k, v]) };
    },
  };
}

function unstackCase(l: number): MicroCase {
  const shape = [1, l, 3, 8, 64];
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    name: 'unstack q/k/v (rank-5 strided slice)',
    shape: `[${shape.join('x')}] axis 2`,
    flops: null,
    bytes: 2 * 4 * n,
    setup: () => {
      const x = rnd(new Rng(7), shape);
      return { call: () => tf.dispose(tf.unstack(x, 2)), dispose: () => x.dispose() };
    },
  };
}

function sineCodeCase(l: number): MicroCase {
  const [H, D, K, R] = [8, 64, 10, 64];
  return {
    name: 'sineSPE code generation (materialised)',
    shape: `L=${l}, H=${H}, D=${D}, K=${K}, R=${R}`,
    flops: 2 * 2 * l * H * D * 2 * K * R,
    setup: () => {
      const spe = new SineSPE({ numHeads: H, inFeatures: D, numSines: K, numRealizations: R, rng: new Rng(8) });
      return {
        call: () => {
          const c = spe.forward([1, l]);
          tf.dispose([c.qbar, c.kbar]);
        },
        dispose: () => spe.dispose(),
      };
    },
  };
}

function convCodeCase(l: number): MicroCase {
  const [H, D, R, P] = [8, 64, 64, 128];
  return {
    name: 'convSPE code generation',
    shape: `L=${l}, H=${H}, D=${D}, R=${R}, P=${P}`,
    flops: 2 * 2 * R * (l + 3 * P + 1) * H * D * P,
    setup: () => {
      const spe = new ConvSPE({ numHeads: H, inFeatures: D, numRealizations: R, kernelSize: P, rng: new Rng(9) });
      return {
        call: () => {
          const c = spe.forward([1, l]);
          tf.dispose([c.qbar, c.kbar]);
        },
        dispose: () => spe.dispose(),
      };
    },
  };
}

function filterCase(l: number): MicroCase {
  const [H, D, R] = [8, 64, 64];
  return {
    name: 'SPE filter, materialised code (gated)',
    shape: `q,k [1x${l}x${H}x${D}], code [1x${l}x${H}x${D}x${R}]`,
    flops: 2 * 2 * l * H * D * R,
    setup: () => {
      const rng = new Rng(10);
      const filter = new SPEFilter({ numHeads: H, inFeatures: D, gated: true, rng });
      const [q, k] = [rnd(rng, [1, l, H, D]), rnd(rng, [1, l, H, D])];
      const code = { qbar: rnd(rng, [1, l, H, D, R]), kbar: rnd(rng, [1, l, H, D, R]) };
      return {
        call: () => tf.dispose(filter.apply(q, k, code)),
        dispose: () => {
          tf.dispose([q, k, code.qbar, code.kbar]);
          filter.dispose();
        },
      };
    },
  };
}

function sineEncodeCase(l: number): MicroCase {
  const [H, D, K, R] = [8, 64, 10, 64];
  return {
    name: 'sineSPE encode q and k (gated; code + filter)',
    shape: `q,k [1x${l}x${H}x${D}], K=${K}, R=${R}`,
    // Per tensor: the [L, 2K·D] x [2K·D, R] products of every head, plus the gate's [L, D] x [D, R].
    flops: 2 * (2 * l * H * (2 * K * D) * R + 2 * l * H * D * R),
    setup: () => {
      const rng = new Rng(11);
      const spe = new SPE({ variant: 'sine', numHeads: H, headDim: D, numSines: K, numRealizations: R, gated: true, rng });
      const [q, k] = [rnd(rng, [1, l, H, D]) as tf.Tensor4D, rnd(rng, [1, l, H, D]) as tf.Tensor4D];
      return {
        call: () => tf.dispose(spe.encode(q, k)),
        dispose: () => {
          tf.dispose([q, k]);
          spe.dispose();
        },
      };
    },
  };
}

/** The micro-benchmark list; `quick` uses smaller sizes. */
export function microCases(quick: boolean): MicroCase[] {
  const n = quick ? 1024 : 4096;
  const l = quick ? 1024 : 4096;
  const g = (l / DEFAULT_CHUNK) * 8; // chunk blocks of the causal step: (L / C) · heads
  return [
    matmulCase('matmul 2-D (qkv projection)', [n, 512], [512, 1536]),
    matmulCase('matmul 2-D, A transposed (weight gradient)', [n, 512], [n, 1536], true, false),
    matmulCase('matmul 2-D, B transposed (input gradient)', [n, 1536], [512, 1536], false, true),
    matmulCase('matmul 2-D (per-head feature map)', [16 * n, 64], [64, 64]),
    matmulCase('batched matmul (chunk scores·V)', [g, 64, 64], [g, 64, 65]),
    matmulCase('batched matmul, B transposed (chunk QKᵀ)', [g, 64, 64], [g, 64, 64], false, true),
    matmulCase('batched matmul, A transposed (bidirectional KᵀV)', [8, l, 64], [8, l, 65], true, false),
    matmulCase('batched matmul (bidirectional Q·KᵀV)', [8, l, 64], [8, 64, 65]),
    linearCase(l, true, false),
    linearCase(l, true, true),
    ...(nativeLinearScanApplies() ? [linearCase(l, true, false, undefined, true), linearCase(l, true, true, undefined, true)] : []),
    linearCase(l, false, false),
    linearCase(l, false, true),
    // The causal chunk length C by measurement (the effective GFLOP/s count the C·C in-chunk work).
    ...(quick ? [32, 128] : [16, 32, 64, 128, 256]).filter((c) => c !== DEFAULT_CHUNK).map((c) => linearCase(l, true, true, c)),
    unstackCase(l),
    sineCodeCase(quick ? 512 : 1024),
    sineEncodeCase(l),
    convCodeCase(quick ? 512 : 1024),
    filterCase(quick ? 512 : 1024),
  ];
}

/** Runs one micro-benchmark: one untimed warm-up call, then up to `reps` timed calls. */
export function runMicroCase(c: MicroCase, reps: number, caseSeconds: number, rss: RssSampler, log: (line: string) => void): MicroPoint {
  const base: MicroPoint = { name: c.name, shape: c.shape, flops: c.flops, ...(c.bytes ? { bytes: c.bytes } : {}) };
  let ops: { call: () => void; dispose: () => void } | null = null;
  try {
    ops = c.setup();
    ops.call();
    const t = timeCalls(ops.call, reps, caseSeconds, rss);
    const sec = t.msMedian / 1000;
    const p: MicroPoint = {
      ...base,
      ms: t.ms,
      msMedian: t.msMedian,
      cpuMsMedian: t.cpuMsMedian,
      ...(c.flops !== null ? { gflops: round(c.flops / sec / 1e9, 3), gflopsCpu: round(c.flops / (t.cpuMsMedian / 1000) / 1e9, 3) } : {}),
      ...(c.bytes ? { gbps: round(c.bytes / sec / 1e9, 3) } : {}),
    };
    const rate =
      p.gflops !== undefined ? `${p.gflops.toFixed(2).padStart(8)} GFLOP/s (cpu ${p.gflopsCpu!.toFixed(2)})` : `${p.gbps!.toFixed(3).padStart(8)} GB/s`;
    log(`  micro ${c.name.padEnd(52)} ${p.msMedian!.toFixed(1).padStart(9)} ms  ${rate}  ${c.shape}`);
    return p;
  } catch (e) {
    const msg = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);
    log(`  error micro ${c.name}: ${msg}`);
    return { ...base, error: msg };
  } finally {
    ops?.dispose();
  }
}
