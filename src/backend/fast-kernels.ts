/**
 * Faster kernels for the shapes attention produces, registered over tfjs 4.22's own.
 * Every replacement computes exactly what the kernel it replaces computes (copies are
 * bit-identical; matmuls differ only by float32 summation order), and falls back to it
 * for any case it does not handle. Measurements: `npm run bench -- --suites micro`
 * (2 cores, shared machine; see bench/results/README.md).
 *
 * 1. wasm BatchMatMul. tfjs-backend-wasm hands a product to XNNPACK only when it is a single
 *    2-D product with neither operand transposed; batched products and every transposed
 *    form (so every matmul of a backward pass) run a naive blocked loop at 0.2–0.8 GFLOP/s,
 *    against ~9–16 GFLOP/s for XNNPACK. This kernel
 *    - materialises a transposed operand with the wasm Transpose kernel (a cheap copy),
 *    - folds a batch that shares one right operand into the rows of a single 2-D product,
 *    - runs a genuine batch as one XNNPACK product per batch element, on views of the
 *      operands (tensor ids registered at an offset into their memory; nothing is copied).
 * 2. Slice / Unpack / SplitV. Non-contiguous slices of rank > 4 on wasm, and of any rank on
 *    cpu, go through a generic per-element loop with index arrays (~3 µs per element: 2.9 s
 *    to split the [1, 512, 3, 8, 64] q/k/v projection). Here: one copy per contiguous run.
 */
import { tf } from './tf';

type TypedArray = Float32Array | Int32Array | Uint8Array;
type Info = tf.TensorInfo;

interface WasmModule {
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
  tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
}
interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(t: Info): TypedArray;
}
interface CpuBackend {
  data: { get(dataId: object): { values: TypedArray } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: TypedArray): Info;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------------------------------------
// Strided copy

/**
 * Copies the box [begin, begin + sliceSize) of a row-major array of `shape` into `dst`
 * (row-major, densely packed), one `set` per maximal contiguous run.
 */
export function copySlice(src: TypedArray, shape: readonly number[], begin: readonly number[], sliceSize: readonly number[], dst: TypedArray): void {
  const rank = shape.length;
  if (size(sliceSize) === 0) return;
  const strides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  // Trailing axes taken whole merge into one run with the first axis (from the end) that is cut.
  let axis = rank - 1;
  let run = 1;
  while (axis >= 0 && begin[axis] === 0 && sliceSize[axis] === shape[axis]) run *= shape[axis--];
  if (axis < 0) {
    dst.set(src.subarray(0, run));
    return;
  }
  run *= sliceSize[axis];
  let off = 0;
  for (let i = 0; i <= axis; i++) off += begin[i] * strides[i];
  const outer = sliceSize.slice(0, axis);
  const count = size(outer);
  const idx = new Array<number>(axis).fill(0);
  for (let n = 0, o = 0; n < count; n++, o += run) {
    if (run > 16) dst.set(src.subarray(off, off + run), o);
    else for (let j = 0; j < run; j++) dst[o + j] = src[off + j];
    for (let j = axis - 1; j >= 0; j--) {
      off += strides[j];
      if (++idx[j] < outer[j]) break;
      off -= outer[j] * strides[j];
      idx[j] = 0;
    }
  }
}

/** How a backend exposes the values of a tensor and makes an output. */
interface Store {
  values(t: Info): TypedArray;
  output(shape: number[], dtype: tf.DataType): { info: Info; values: TypedArray };
}

function wasmStore(backend: WasmBackend): Store {
  return {
    values: (t) => backend.typedArrayFromHeap(t),
    output: (shape, dtype) => {
      const info = backend.makeOutput(shape, dtype);
      return { info, values: backend.typedArrayFromHeap(info) };
    },
  };
}

function cpuStore(backend: CpuBackend): Store {
  return {
    values: (t) => backend.data.get(t.dataId).values,
    output: (shape, dtype) => {
      const values = tf.util.getTypedArrayFromDType(dtype as 'float32', size(shape)) as TypedArray;
      return { info: backend.makeTensorInfo(shape, dtype, values), values };
    },
  };
}

function sliceWith(store: Store, x: Info, begin: number[], sliceSize: number[]): Info {
  const { info, values } = store.output(sliceSize, x.dtype);
  copySlice(store.values(x), x.shape, begin, sliceSize, values);
  return info;
}

// ---------------------------------------------------------------------------------------------
// Registration

let registered = false;

/** Registers the faster kernels (once). Returns the names of the kernels replaced. */
export function registerFastKernels(): string[] {
  if (registered) return [];
  registered = true;
  const replaced: string[] = [];
  for (const backendName of ['wasm', 'cpu'] as const) {
    const storeOf = (b: unknown) => (backendName === 'wasm' ? wasmStore(b as WasmBackend) : cpuStore(b as CpuBackend));
    // Each returns null for a case it leaves to the kernel it replaces.
    const copyKernels: Record<string, (args: { inputs: tf.NamedTensorInfoMap; attrs: tf.NamedAttrMap; backend: unknown }) => Info | Info[] | null> = {
      Slice: ({ inputs, attrs, backend }) => {
        const x = inputs.x as Info;
        const [begin, sz] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs.begin as number[], attrs.size as number[]);
        if (size(sz) === 0) return null;
        return sliceWith(storeOf(backend), x, begin, sz);
      },
      Unpack: ({ inputs, attrs, backend }) => {
        const x = inputs.value as Info;
        const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
        const sz = x.shape.slice();
        sz[axis] = 1;
        const outShape = x.shape.filter((_, i) => i !== axis);
        const store = storeOf(backend);
        return Array.from({ length: x.shape[axis] }, (_, i) => {
          const begin = x.shape.map((_, j) => (j === axis ? i : 0));
          return { ...sliceWith(store, x, begin, sz), shape: outShape };
        });
      },
      SplitV: ({ inputs, attrs, backend }) => {
        const x = inputs.x as Info;
        const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
        const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, attrs.numOrSizeSplits as number[] | number, axis);
        const store = storeOf(backend);
        let start = 0;
        return sizes.map((s) => {
          const begin = x.shape.map((_, j) => (j === axis ? start : 0));
          const sz = x.shape.map((d, j) => (j === axis ? s : d));
          start += s;
          return sliceWith(store, x, begin, sz);
        });
      },
    };
    for (const [kernelName, fast] of Object.entries(copyKernels)) {
      const prev = tf.getKernel(kernelName, backendName);
      if (!prev) continue;
      tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({
        ...prev,
        kernelFunc: (args) => {
          const x = (args.inputs as Record<string, Info>).x ?? (args.inputs as Record<string, Info>).value;
          if (x == null || x.dtype === 'string' || x.dtype === 'complex64' || size(x.shape) === 0) return prev.kernelFunc(args);
          return (fast(args as never) ?? prev.kernelFunc(args)) as Info;
        },
      });
      replaced.push(`${kernelName}/${backendName}`);
    }
  }
  const prevMatMul = tf.getKernel('BatchMatMul', 'wasm');
  if (prevMatMul) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...prevMatMul, kernelFunc: (args) => wasmBatchMatMul(args as never, prevMatMul.kernelFunc as never) });
    replaced.push('BatchMatMul/wasm');
  }
  return replaced;
}

// ---------------------------------------------------------------------------------------------
// wasm BatchMatMul

type KernelArgs = { inputs: { a: Info; b: Info }; attrs: { transposeA?: boolean; transposeB?: boolean }; backend: WasmBackend };
type KernelFn = (args: KernelArgs) => Info;

let xnnMatMul: ((...args: unknown[]) => void) | null = null;
const shapeBytes = (s: number[]) => new Uint8Array(new Int32Array(s).buffer);

/** x [batch, r, c] -> a new [batch, c, r] (the wasm Transpose kernel). */
function transposeLast(backend: WasmBackend, x: Info, batch: number): Info {
  const transpose = tf.getKernel('Transpose', 'wasm')!;
  const r = x.shape[x.shape.length - 2];
  const c = x.shape[x.shape.length - 1];
  return transpose.kernelFunc({ inputs: { x: { ...x, shape: [batch, r, c] } }, attrs: { perm: [0, 2, 1] }, backend: backend as never }) as Info;
}

function wasmBatchMatMul(args: KernelArgs, prev: KernelFn): Info {
  const { a, b } = args.inputs;
  const { backend } = args;
  const transposeA = Boolean(args.attrs.transposeA);
  const transposeB = Boolean(args.attrs.transposeB);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return prev(args);
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ca, ra] : [ra, ca];
  const [k2, n] = transposeB ? [cb, rb] : [rb, cb];
  if (k !== k2) return prev(args);
  const plain = !transposeA && !transposeB;
  if (plain && batchA === 1 && batchB === 1) return prev(args);
  if (!(batchA === batchB || batchB === 1 || batchA === 1)) return prev(args);
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];

  const temps: Info[] = [];
  try {
    const aa = transposeA ? (temps[temps.length] = transposeLast(backend, a, batchA)) : a;
    const bb = transposeB ? (temps[temps.length] = transposeLast(backend, b, batchB)) : b;
    if (batchB === 1) {
      // The rows of every batch element of A meet the same B: one [batchA·m, k] x [k, n] product.
      const out = prev({ inputs: { a: { ...aa, shape: [1, batchA * m, k] }, b: { ...bb, shape: [1, k, n] } }, attrs: {}, backend });
      return { ...out, shape: outShape };
    }
    const batch = Math.max(batchA, batchB);
    const out = backend.makeOutput([batch, m, n], 'float32');
    xnnMatMul ??= backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    const base = (t: Info) => backend.dataIdMap.get(t.dataId).memoryOffset;
    const [a0, b0, o0] = [base(aa), base(bb), base(out)];
    const aShape = shapeBytes([1, m, k]);
    const bShape = shapeBytes([1, k, n]);
    const view = (offset: number, n: number) => {
      const id = backend.dataIdNextNumber++;
      backend.wasm.tfjs.registerTensor(id, n, offset);
      return id;
    };
    for (let g = 0; g < batch; g++) {
      const ai = view(a0 + 4 * (batchA === 1 ? 0 : g) * m * k, m * k);
      const bi = view(b0 + 4 * g * k * n, k * n);
      const oi = view(o0 + 4 * g * m * n, m * n);
      xnnMatMul(ai, aShape, 3, bi, bShape, 3, 0, 0, oi);
      // Disposing a view id frees its cached XNNPACK operator, not the memory (owned by the tensor).
      backend.wasm.tfjs.disposeData(ai);
      backend.wasm.tfjs.disposeData(bi);
      backend.wasm.tfjs.disposeData(oi);
    }
    return { ...out, shape: outShape };
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}
