/**
 * Where the small LM's training step (the train suite's model and batch, `trainStep`) spends its
 * time: every kernel's wall time per step and its calls, and, for the matrix products
 * (BatchMatMul, _FusedMatMul), the same call repeated at once on the same operands (warm caches,
 * threads awake), which separates a product's arithmetic from what the step around it costs it.
 *
 *   npx tsx bench/step-kernels.ts [--encoding none] [--steps 30] [--backend wasm] [--shapes]
 *
 * `--shapes`: one row per product shape (operands, transposes) instead of one per product kernel,
 * each with its GFLOP/s in the step and repeated: which products lose most to the step around them.
 *
 * Each kernel is wrapped by a timer (~1 µs a call), so the step measured here is slightly slower
 * than the train suite's; the repeated products run outside the timed kernels and the step time.
 */
import { parseArgs } from 'util';
import { tf, initBackend } from '../src/backend';
import { ENCODING_CASES, ENCODING_NAMES } from './cases';
import { trainStep } from './suites/train';

const PRODUCTS = new Set(['BatchMatMul', '_FusedMatMul']);

/** A product call's row name with `--shapes` (`BatchMatMul [2048,64]ᵀ·[2048,256]`) and its flops, 2 per multiply-add. */
function productShape(kernel: string, inputs: tf.NamedTensorInfoMap, attrs: { transposeA?: boolean; transposeB?: boolean }): { name: string; flops: number } {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const [ta, tb] = [attrs.transposeA === true, attrs.transposeB === true];
  const ra = a.shape.length,
    rb = b.shape.length;
  const m = a.shape[ta ? ra - 1 : ra - 2]!,
    k = a.shape[ta ? ra - 2 : ra - 1]!,
    n = b.shape[tb ? rb - 2 : rb - 1]!;
  const batch = Math.max(
    a.shape.slice(0, -2).reduce((x, y) => x * y, 1),
    b.shape.slice(0, -2).reduce((x, y) => x * y, 1),
  );
  const dims = (t: tf.TensorInfo, tr: boolean) => `[${t.shape.join(',')}]${tr ? 'ᵀ' : ''}`;
  return { name: `${kernel} ${dims(a, ta)}·${dims(b, tb)}`, flops: 2 * batch * m * n * k };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      encoding: { type: 'string', default: 'none' },
      steps: { type: 'string', default: '30' },
      backend: { type: 'string', default: 'wasm' },
      shapes: { type: 'boolean', default: false },
    },
  });
  const c = ENCODING_CASES.find((x) => x.name === values.encoding);
  if (!c) throw new Error(`--encoding: expected one of ${ENCODING_NAMES.join(', ')}, got '${values.encoding}'`);
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: expected a positive integer, got '${values.steps}'`);
  await initBackend(values.backend);
  const backendName = tf.getBackend();

  const stats = new Map<string, { calls: number; ms: number; repeatMs: number; flops: number }>();
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
        const shape =
          values.shapes && PRODUCTS.has(k.kernelName)
            ? productShape(k.kernelName, args.inputs, args.attrs as { transposeA?: boolean; transposeB?: boolean })
            : null;
        const key = shape?.name ?? k.kernelName;
        const s = stats.get(key) ?? { calls: 0, ms: 0, repeatMs: 0, flops: 0 };
        s.calls++;
        s.ms += ms;
        s.flops += shape?.flops ?? 0;
        if (PRODUCTS.has(k.kernelName)) {
          const t1 = performance.now();
          const again = run(args) as tf.TensorInfo;
          s.repeatMs += performance.now() - t1;
          (args.backend as tf.KernelBackend).disposeData(again.dataId);
        }
        stats.set(key, s);
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
    const isProduct = (name: string) => PRODUCTS.has(name.split(' ')[0]!);
    const productMs = rows.filter(([n]) => isProduct(n)).reduce((a, [, s]) => a + s.ms, 0);
    const width = values.shapes ? 48 : 32;
    console.log(`[step-kernels] ${c.name} (${c.spec}) on ${backendName}, ${steps} steps`);
    console.log(
      `step ${perStep(wall - repeatMs)} ms (repeated products excluded), kernels ${perStep(kernelMs)} ms, calls ${(rows.reduce((a, [, s]) => a + s.calls, 0) / steps).toFixed(0)}`,
    );
    console.log(`products ${perStep(productMs)} ms in the step, ${perStep(repeatMs)} ms repeated at once on the same operands`);
    console.log(`${'kernel'.padEnd(width)}${'ms/step'.padStart(9)}  calls  repeated${values.shapes ? '  GFLOP/s in the step, repeated' : ''}`);
    const gflops = (flops: number, ms: number) => (flops / ms / 1e6).toFixed(0).padStart(5);
    for (const [name, s] of rows) {
      const repeat = isProduct(name) ? perStep(s.repeatMs) : '';
      const rate = s.flops > 0 ? `  ${gflops(s.flops, s.ms)} ${gflops(s.flops, s.repeatMs)}` : '';
      console.log(`${name.padEnd(width)}${perStep(s.ms)}  ${String(s.calls / steps).padStart(5)}  ${repeat}${rate}`);
    }
  } finally {
    dispose();
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
