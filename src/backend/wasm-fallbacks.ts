/**
 * Kernels the wasm backend lacks, supplied by delegating to the cpu backend.
 *
 * tfjs-backend-wasm 4.22 has no `UnsortedSegmentSum` (the gradient of
 * `gather`, so of every embedding lookup), no `Conv2DBackpropFilter` and no
 * depthwise-conv backprop (the gradient of a conv filter), and no `Einsum`.
 * For each such kernel we register a wasm kernel that copies its inputs into
 * the cpu backend, runs the cpu backend's own implementation there, and copies
 * the outputs back into wasm memory. The result is exactly the cpu backend's
 * result; the cost is two copies of the operands, which is small for these
 * rarely-called kernels. Complex-valued kernels (FFT, Complex, Real, ...) are
 * not delegated: the wasm backend has no complex dtype to hold their results.
 */
import { tf } from './tf';

type AnyBackend = {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
};

/** Kernels never delegated: complex dtypes, strings, drawing to a canvas. */
const NOT_DELEGATED = new Set([
  'Complex',
  'ComplexAbs',
  'Real',
  'Imag',
  'FFT',
  'IFFT',
  'RFFT',
  'IRFFT',
  'Draw',
  'StaticRegexReplace',
  'StringNGrams',
  'StringSplit',
  'StringToHashBucketFast',
]);

let registered: string[] | null = null;

function cpuBackend(): AnyBackend {
  const b = tf.engine().findBackend('cpu') as unknown as AnyBackend & { firstUse?: boolean };
  if (b == null) throw new Error('backend: the cpu backend is not registered; cannot supply wasm fallback kernels');
  // The cpu backend prints an advert for tfjs-node on its first write; library code never prints.
  if ('firstUse' in b) b.firstUse = false;
  return b;
}

/**
 * Registers, once, a cpu-delegating wasm kernel for every kernel that the cpu
 * backend has and the wasm backend lacks. Returns the kernel names.
 */
export function registerWasmFallbacks(): string[] {
  if (registered) return registered;
  const wasmKernels = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
  const missing = tf
    .getKernelsForBackend('cpu')
    .map((k) => k.kernelName)
    .filter((name) => !wasmKernels.has(name) && !NOT_DELEGATED.has(name));
  for (const kernelName of missing) {
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (!cpuKernel) continue;
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ({ inputs, attrs, backend }) => {
        const wasm = backend as unknown as AnyBackend;
        const cpu = cpuBackend();
        // Inputs are a named map for most kernels and an array for a few (Einsum, AddN, Concat).
        const cpuInputs: Record<string, tf.TensorInfo> | tf.TensorInfo[] = Array.isArray(inputs) ? [] : {};
        const copies: object[] = [];
        for (const [key, info] of Object.entries(inputs as Record<string, tf.TensorInfo | undefined>)) {
          if (info == null) continue;
          const dataId = cpu.write(wasm.readSync(info.dataId), info.shape, info.dtype);
          copies.push(dataId);
          (cpuInputs as Record<string, tf.TensorInfo>)[key] = { dataId, shape: info.shape, dtype: info.dtype };
        }
        try {
          const out = cpuKernel.kernelFunc({ inputs: cpuInputs as tf.NamedTensorInfoMap, attrs, backend: cpu as unknown as tf.KernelBackend });
          const outs = Array.isArray(out) ? out : [out];
          const moved = outs.map((o) => {
            const values = cpu.readSync(o.dataId);
            cpu.disposeData(o.dataId, true);
            return { dataId: wasm.write(values, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
          });
          return Array.isArray(out) ? moved : moved[0];
        } finally {
          for (const id of copies) cpu.disposeData(id, true);
        }
      },
    });
  }
  registered = missing;
  return registered;
}

/**
 * Guards the wasm BatchMatMul against a stale XNNPACK operator.
 *
 * tfjs-backend-wasm 4.22 caches one packed XNNPACK operator per right operand, keyed by the
 * operand's memory id only. A reshape shares that id, so the same data used as the right operand
 * in another 3-D shape (e.g. `v.reshape([8, 1])` then `v.reshape([4, 2])`) silently reuses the
 * first packing: wrong numbers, and later out-of-bounds memory access. The wrapper remembers the
 * shape each right operand was first multiplied in (a WeakMap on its dataId, so it forgets freed
 * tensors) and gives the kernel a fresh copy, with a new memory id, whenever the shape differs.
 */
let matMulGuarded = false;

export function guardWasmMatMulCache(): void {
  if (matMulGuarded) return;
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  if (!orig) return;
  type WasmBackend = {
    makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
    typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
    disposeData(dataId: object): boolean;
  };
  const firstShape = new WeakMap<object, string>();
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const b = (args.inputs as { b: tf.TensorInfo }).b;
      const transposeB = Boolean((args.attrs as { transposeB?: boolean }).transposeB);
      const r = b.shape.length;
      const key = `${b.shape.slice(0, -2).reduce((p, d) => p * d, 1)}x${b.shape[r - 2]}x${b.shape[r - 1]}:${transposeB}`;
      const seen = firstShape.get(b.dataId);
      if (seen === undefined) firstShape.set(b.dataId, key);
      if (seen === undefined || seen === key) return orig.kernelFunc(args);
      const backend = args.backend as unknown as WasmBackend;
      const copy = backend.makeOutput(b.shape, b.dtype);
      backend.typedArrayFromHeap(copy).set(backend.typedArrayFromHeap(b));
      try {
        return orig.kernelFunc({ ...args, inputs: { ...args.inputs, b: copy } });
      } finally {
        backend.disposeData(copy.dataId);
      }
    },
  });
  matMulGuarded = true;
}
