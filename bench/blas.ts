/**
 * The native addon's matrix product, its two implementations side by side: OpenBLAS's cblas_sgemm
 * (where scripts/build-native.sh built the addon with it) and the addon's builtin sgemm. Square
 * products C [n, n] = A [n, n] · B [n, n] and the bidirectional linear-attention shapes (KᵀV: a
 * batch of [64, L] · [L, 64]), 1 and 2 threads, calls alternating between the two in one process,
 * median of `--reps` calls each, as GFLOP/s (2·m·n·k per product / wall time) and their ratio;
 * then the fused sineSPE projection (`native/src/sine_spe.c`, whose feature blocks go to the same
 * product) forward + backward, the layer suite's shape (8 heads of 64, K 10, R 64, gated), the
 * same way.
 *
 *   npx tsx bench/blas.ts [--sizes 256,512,1024,2048] [--reps 7] [--json FILE]
 *
 * Exits with a message when the addon is not built, or built without OpenBLAS.
 */
import * as fs from 'fs';
import { parseArgs } from 'util';
import { tf, initBackend, nativeKernels, nativeThreads, Rng } from '../src/backend';
import { sineSPEFeatureProject } from '../src/encodings/spe/project';

interface Row {
  shape: string;
  threads: number;
  flops: number;
  openblasMs: number;
  builtinMs: number;
  openblasGflops: number;
  builtinGflops: number;
  ratio: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** q̂, k̂ and every gradient of the fused sineSPE projection at [1, L, 8, 64], K 10, R 64, gated: one call. */
function sineProjection(L: number, rng: Rng): { run: () => void; flops: number; dispose: () => void } {
  const [H, D, K, R] = [8, 64, 10, 64];
  const t = (shape: number[], scale = 1) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
      shape,
    );
  const q = t([1, L, H, D]);
  const k = t([1, L, H, D]);
  const omega = t([H, D, K], 0.05);
  const theta = t([H, D, K], 0.1);
  const amp = t([H, D, K], 0.3);
  const gate = t([H, D], 0.3);
  const z = t([H, 2 * K * D + D, R]);
  const f = (...xs: tf.Tensor[]) => {
    const [qh, kh] = sineSPEFeatureProject(xs[0], xs[1], xs[2], xs[3], xs[4], xs[5], z, { fused: true });
    return qh.sum().add(kh.sum()) as tf.Scalar;
  };
  const inputs = [q, k, omega, theta, amp, gate];
  // Forward once, backward twice the products (∂F from ∂x̂, then the feature gradients): 3 products of [L, J] x [J, R] per head and side.
  const flops = 3 * 2 * 2 * H * L * (2 * K * D + D) * R;
  return {
    run: () =>
      tf.tidy(() =>
        tf
          .grads(f)(inputs)
          .forEach((g) => g.dataSync()),
      ),
    flops,
    dispose: () => tf.dispose([...inputs, z]),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { sizes: { type: 'string', default: '256,512,1024,2048' }, reps: { type: 'string', default: '7' }, json: { type: 'string' } },
  });
  const sizes = values.sizes!.split(',').map(Number);
  const reps = Number(values.reps);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes: expected positive integers separated by commas, got '${values.sizes}'`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: expected a positive integer, got '${values.reps}'`);
  const k = nativeKernels();
  if (!k) {
    console.log('[blas] the native addon is not built (npm run build:native): nothing to compare');
    return 1;
  }
  const library = k.blas();
  if (!library.startsWith('openblas')) {
    console.log(`[blas] the addon was built without OpenBLAS (matmul: ${library}); scripts/build-native.sh installs it as root (Debian: libopenblas-dev)`);
    return 1;
  }
  const rng = new Rng(0);
  // [label, batch, m, n, k, transA]
  const cases: Array<[string, number, number, number, number, 0 | 1]> = sizes.map((n) => [`[${n}x${n}] @ [${n}x${n}]`, 1, n, n, n, 0]);
  for (const L of [2048, 8192]) cases.push([`8 x [${L}x64]ᵀ @ [${L}x64] (KᵀV)`, 8, 64, 64, L, 1]);
  const rows: Row[] = [];
  console.log(`[blas] ${library} against the builtin sgemm; median of ${reps} alternating calls; machine threads ${nativeThreads()}`);
  console.log('shape                               threads  OpenBLAS GFLOP/s  builtin GFLOP/s  OpenBLAS / builtin');
  // Times `call` through OpenBLAS and the builtin product, alternating, on 1 and 2 threads; one row per thread count.
  const compare = (label: string, flops: number, call: () => void) => {
    for (const threads of [1, 2]) {
      k.setThreads(threads);
      const times: [number[], number[]] = [[], []];
      for (let r = 0; r < reps + 1; r++)
        for (const lib of [1, 0] as const) {
          k.useBlasLibrary(lib);
          const t0 = performance.now();
          call();
          const dt = performance.now() - t0;
          if (r > 0) times[lib ? 0 : 1].push(dt); // the first round warms both up
        }
      const [ob, bi] = times.map(median);
      const row: Row = {
        shape: label,
        threads,
        flops,
        openblasMs: ob,
        builtinMs: bi,
        openblasGflops: flops / ob / 1e6,
        builtinGflops: flops / bi / 1e6,
        ratio: bi / ob,
      };
      rows.push(row);
      console.log(
        `${label.padEnd(36)}${String(threads).padStart(7)}  ${row.openblasGflops.toFixed(1).padStart(16)}  ${row.builtinGflops.toFixed(1).padStart(15)}  ${row.ratio.toFixed(2).padStart(18)}`,
      );
    }
  };
  try {
    for (const [label, batch, m, n, kk, ta] of cases) {
      const a = Float32Array.from({ length: batch * m * kk }, () => rng.normal());
      const b = Float32Array.from({ length: batch * kk * n }, () => rng.normal());
      const out = new Float32Array(batch * m * n);
      compare(label, 2 * batch * m * n * kk, () => k.matMul(a, b, out, batch, batch, batch, m, n, kk, ta, 0));
    }
    await initBackend('wasm');
    for (const L of [1024, 4096]) {
      const p = sineProjection(L, rng);
      try {
        compare(`sineSPE projection L=${L} (fwd+bwd)`, p.flops, p.run);
      } finally {
        p.dispose();
      }
    }
  } finally {
    k.useBlasLibrary(1);
    k.setThreads(nativeThreads());
  }
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ library, reps, rows }, null, 1) + '\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
