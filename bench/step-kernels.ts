/**
 * Where the small LM's training step (the train suite's model and batch, `trainStep`) spends its
 * time: every kernel's wall time per step and its calls, and, for the matrix products
 * (BatchMatMul, _FusedMatMul), the same call repeated at once on the same operands (warm caches,
 * threads awake), which separates a product's arithmetic from what the step around it costs it.
 *
 *   npx tsx bench/step-kernels.ts [--encoding none] [--steps 30] [--backend wasm]
 *
 * Each kernel is wrapped by a timer (~1 µs a call), so the step measured here is slightly slower
 * than the train suite's; the repeated products run outside the timed kernels and the step time.
 */
import { parseArgs } from 'util';
import { tf, initBackend } from '../src/backend';
import { ENCODING_CASES, ENCODING_NAMES } from './cases';
import { trainStep } from './suites/train';

const PRODUCTS = new Set(['BatchMatMul', '_FusedMatMul']);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      encoding: { type: 'string', default: 'none' },
      steps: { type: 'string', default: '30' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  const c = ENCODING_CASES.find((x) => x.name === values.encoding);
  if (!c) throw new Error(`--encoding: expected one of ${ENCODING_NAMES.join(', ')}, got '${values.encoding}'`);
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: expected a positive integer, got '${values.steps}'`);
  await initBackend(values.backend);
  const backendName = tf.getBackend();

  const stats = new Map<string, { calls: number; ms: number; repeatMs: number }>();
  let timing = false;
  for (const k of tf.getKernelsForBackend(backendName)) {
    const run = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const t0 = performance.now();
        const out = run(args);
        const ms = performance.now() - t0;
        if (!timing) return out;
        const s = stats.get(k.kernelName) ?? { calls: 0, ms: 0, repeatMs: 0 };
        s.calls++;
        s.ms += ms;
        if (PRODUCTS.has(k.kernelName)) {
          const t1 = performance.now();
          const again = run(args) as tf.TensorInfo;
          s.repeatMs += performance.now() - t1;
          (args.backend as tf.KernelBackend).disposeData(again.dataId);
        }
        stats.set(k.kernelName, s);
        return out;
      },
    });
  }

  const { step, dispose } = trainStep(c);
  try {
    for (let i = 0; i < 3; i++) step();
    timing = true;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) step();
    const wall = performance.now() - t0;
    timing = false;
    const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const repeatMs = rows.reduce((a, [, s]) => a + s.repeatMs, 0);
    const perStep = (x: number) => (x / steps).toFixed(3).padStart(9);
    const kernelMs = rows.reduce((a, [, s]) => a + s.ms, 0);
    const productMs = rows.filter(([n]) => PRODUCTS.has(n)).reduce((a, [, s]) => a + s.ms, 0);
    console.log(`[step-kernels] ${c.name} (${c.spec}) on ${backendName}, ${steps} steps`);
    console.log(
      `step ${perStep(wall - repeatMs)} ms (repeated products excluded), kernels ${perStep(kernelMs)} ms, calls ${(rows.reduce((a, [, s]) => a + s.calls, 0) / steps).toFixed(0)}`,
    );
    console.log(`products ${perStep(productMs)} ms in the step, ${perStep(repeatMs)} ms repeated at once on the same operands`);
    console.log(`${'kernel'.padEnd(32)}${'ms/step'.padStart(9)}  calls  repeated`);
    for (const [name, s] of rows) {
      const repeat = PRODUCTS.has(name) ? perStep(s.repeatMs) : '';
      console.log(`${name.padEnd(32)}${perStep(s.ms)}  ${String(s.calls / steps).padStart(5)}  ${repeat}`);
    }
  } finally {
    dispose();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
