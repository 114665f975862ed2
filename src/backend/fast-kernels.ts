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
 *      operands (tensor ids registered at an offset into their memory; nothing is copied),
 *    - computes a 2-D product as (bᵀaᵀ)ᵀ when packing a large fresh b costs more than the
 *      transposes (see `cheaperFlipped`).
 * 2. Slice / Unpack / SplitV. Non-contiguous slices of rank > 4 on wasm, and of any rank on
 *    cpu, go through a generic per-element loop with index arrays (~3 µs per element: 2.9 s
 *    to split the [1, 512, 3, 8, 64] q/k/v projection). Here: one copy per contiguous run.
 * 3. wasm Identity (every tf.clone, and every tensor the gradient tape keeps) copies its input;
 *    here it shares the buffer, as the cpu backend does and as wasm's own Reshape does (no
 *    kernel writes into its inputs). So do a Cast to the tensor's own dtype and a Transpose by the
 *    identity permutation, on wasm and cpu.
 * 4. wasm Sum over leading axes (bias and broadcast gradients) first transposes the input so
 *    the reduced axes come last (~5 ns per element); here: a running sum of rows, which adds
 *    the same float32 numbers in the same order as the wasm kernel, so the result is identical.
 * 5. UnsortedSegmentSum (the gradient of `gather`, so of every embedding lookup): tfjs's cpu kernel, which wasm delegates to, runs
 *    equal + multiply + sum over the whole input once per segment, O(segments · size): 107 s for
 *    a [2048, 32] gradient into a 4096-row table. Here: one scatter-add pass, O(size), adding each
 *    segment's rows in input order (float32, as the cpu kernel's sum does per segment).
 * 6. Reverse and GatherV2 (wasm and cpu) as run copies: PermuteFormer's bidirectional decayed scan
 *    reverses q, k, v and the output along the length, and its Π^s is a gather of every element;
 *    wasm's own kernels took ~18 ms to reverse and ~15 ms to gather a [8, 784, 2, 16] tensor (the
 *    gather checks every index through an assertion closure), together ~40 % of a PermuteFormer
 *    training step on 28 x 28 images.
 * 7. With the native addon (`native.ts`, when built and on): BatchMatMul on wasm and cpu is its
 *    packed sgemm (operands read in place, transposed or not; large products on several threads),
 *    _FusedMatMul with a bias and no activation or ReLU (`Linear`) that product plus the bias (and
 *    the ReLU) in one kernel,
 *    the leading-axis Sum its row sum (same order, same result), and the depthwise convolution and
 *    its two gradients (stride 1, no padding: convSPE's case) its loops. Anything else, or no
 *    addon, takes the paths above or tfjs's own kernel.
 */
import { tf } from './tf';
import { nativeKernels } from './native';

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

/** Arrays of 4-byte elements, the ones the native copies (box, gather, transpose) move. */
const isWords = (a: unknown): a is Float32Array | Int32Array => a instanceof Float32Array || a instanceof Int32Array;

// ---------------------------------------------------------------------------------------------
// Strided copy

/**
 * Copies the box [begin, begin + sliceSize) of a row-major array of `shape` into `dst`
 * (row-major, densely packed).
 */
export function copySlice(src: TypedArray, shape: readonly number[], begin: readonly number[], sliceSize: readonly number[], dst: TypedArray): void {
  copyBox(src, shape, begin, dst, sliceSize, new Array<number>(shape.length).fill(0), sliceSize);
}

/**
 * Copies the box `box` of `src` (row-major, shape `srcShape`, the box starting at `srcBegin`) into
 * `dst` (shape `dstShape`, starting at `dstBegin`): slices, splits, concatenations and stacks. One
 * copy per maximal contiguous run; a native memcpy per run for 4-byte elements when the addon is
 * loaded, else one `set` per run (elementwise for short runs).
 */
export function copyBox(
  src: TypedArray,
  srcShape: readonly number[],
  srcBegin: readonly number[],
  dst: TypedArray,
  dstShape: readonly number[],
  dstBegin: readonly number[],
  box: readonly number[],
): void {
  const rank = box.length;
  if (size(box) === 0) return;
  const native = nativeKernels();
  if (native && rank >= 1 && rank <= 8 && isWords(src) && isWords(dst)) {
    native.copyBox(src, dst, Int32Array.from([rank, ...box, ...srcShape, ...srcBegin, ...dstShape, ...dstBegin]));
    return;
  }
  const stridesOf = (shape: readonly number[]) => {
    const strides = new Array<number>(rank);
    for (let i = rank - 1, s = 1; i >= 0; i--) {
      strides[i] = s;
      s *= shape[i];
    }
    return strides;
  };
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  // Trailing axes whole in both arrays merge with the first axis (from the end) that is cut.
  let axis = rank - 1;
  let run = 1;
  while (axis >= 0 && box[axis] === srcShape[axis] && box[axis] === dstShape[axis]) run *= box[axis--];
  if (axis < 0) {
    dst.set(src.subarray(0, run));
    return;
  }
  run *= box[axis];
  let so = 0;
  let dO = 0;
  for (let i = 0; i <= axis; i++) {
    so += srcBegin[i] * ss[i];
    dO += dstBegin[i] * ds[i];
  }
  const count = size(box.slice(0, axis));
  const idx = new Array<number>(axis).fill(0);
  for (let n = 0; n < count; n++) {
    if (run > 16) dst.set(src.subarray(so, so + run), dO);
    else for (let j = 0; j < run; j++) dst[dO + j] = src[so + j];
    for (let j = axis - 1; j >= 0; j--) {
      so += ss[j];
      dO += ds[j];
      if (++idx[j] < box[j]) break;
      so -= box[j] * ss[j];
      dO -= box[j] * ds[j];
      idx[j] = 0;
    }
  }
}

/**
 * dst = src of `shape` (row-major) reversed along `axes`, one `set` per run of the axes after
 * the last reversed one (elementwise when that run is short).
 */
export function reverseAxes(src: TypedArray, shape: readonly number[], axes: readonly number[], dst: TypedArray): void {
  const rank = shape.length;
  const total = size(shape);
  if (total === 0) return;
  const flip = shape.map((_, i) => axes.includes(i));
  let last = rank - 1;
  while (last >= 0 && !flip[last]) last--;
  if (last < 0) {
    dst.set(src.subarray(0, total));
    return;
  }
  const run = size(shape.slice(last + 1));
  const outer = shape.slice(0, last + 1);
  const strides = new Array<number>(last + 1);
  for (let i = last, s = run; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const idx = new Array<number>(last + 1).fill(0);
  // Source offset of output index idx: reversed axes read from the far end.
  let off = 0;
  for (let i = 0; i <= last; i++) if (flip[i]) off += (shape[i] - 1) * strides[i];
  const count = total / run;
  for (let n = 0, o = 0; n < count; n++, o += run) {
    if (run > 16) dst.set(src.subarray(off, off + run), o);
    else for (let j = 0; j < run; j++) dst[o + j] = src[off + j];
    for (let j = last; j >= 0; j--) {
      const step = flip[j] ? -strides[j] : strides[j];
      off += step;
      if (++idx[j] < outer[j]) break;
      off -= outer[j] * step;
      idx[j] = 0;
    }
  }
}

/**
 * Gather along one axis of x viewed as [outer, dim, inner]: dst[o, i, :] = x[o, ids[i], :]
 * (ids already checked to lie in [0, dim)).
 */
export function gatherRows(src: TypedArray, outer: number, dim: number, inner: number, ids: Int32Array, dst: TypedArray): void {
  const native = nativeKernels();
  if (native && isWords(src) && isWords(dst)) {
    return native.gatherRows(src, ids, dst, outer, dim, inner);
  }
  const n = ids.length;
  for (let o = 0, w = 0; o < outer; o++) {
    const base = o * dim * inner;
    if (inner === 1) {
      for (let i = 0; i < n; i++) dst[w++] = src[base + ids[i]];
      continue;
    }
    for (let i = 0; i < n; i++, w += inner) {
      const r = base + ids[i] * inner;
      if (inner > 16) dst.set(src.subarray(r, r + inner), w);
      else for (let j = 0; j < inner; j++) dst[w + j] = src[r + j];
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

/**
 * The parts (equal but for `axis`) laid side by side along `axis` in a new output of `outShape`;
 * null (the kernel it replaces runs) when a part's values are not a typed array (cpu kernels
 * occasionally keep plain arrays).
 */
function joinAlong(parts: Info[], outShape: number[], axis: number, store: Store): Info | null {
  if (!parts.every((t) => ArrayBuffer.isView(store.values(t)))) return null;
  const { info, values } = store.output(outShape, parts[0].dtype);
  const zeros = new Array<number>(outShape.length).fill(0);
  let start = 0;
  for (const t of parts) {
    const at = zeros.slice();
    at[axis] = start;
    // Views after the output exists: making it may grow the wasm heap, which detaches older views.
    copyBox(store.values(t), t.shape, zeros, values, outShape, at, t.shape);
    start += t.shape[axis];
  }
  return info;
}

/**
 * Registers `kernelFunc` over tfjs's kernel `kernelName` on `backendName` (when there is one), with
 * that kernel as `prev` for the cases it leaves to it, and records the replacement in `replaced`.
 */
function replaceKernel(
  kernelName: string,
  backendName: string,
  replaced: string[],
  kernelFunc: (args: Parameters<tf.KernelFunc>[0], prev: (args: Parameters<tf.KernelFunc>[0]) => Info | Info[]) => Info | Info[],
): void {
  const prev = tf.getKernel(kernelName, backendName);
  if (!prev) return;
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...prev, kernelFunc: (args) => kernelFunc(args, (a) => prev.kernelFunc(a) as Info | Info[]) });
  replaced.push(`${kernelName}/${backendName}`);
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
      Reverse: ({ inputs, attrs, backend }) => {
        const x = inputs.x as Info;
        const axes = tf.util.parseAxisParam(attrs.dims as number | number[], x.shape);
        const store = storeOf(backend);
        const { info, values } = store.output(x.shape.slice(), x.dtype);
        reverseAxes(store.values(x), x.shape, axes, values);
        return info;
      },
      GatherV2: ({ inputs, attrs, backend }) => {
        const { x, indices } = inputs as { x: Info; indices: Info };
        if ((attrs.batchDims as number | undefined) || indices.dtype !== 'int32') return null;
        const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0];
        const store = storeOf(backend);
        // A copy: making the output may grow the wasm heap, which detaches views of it.
        const ids = (store.values(indices) as Int32Array).slice();
        const dim = x.shape[axis];
        // Out of range: the kernel it replaces throws its own message.
        for (let i = 0; i < ids.length; i++) if (!(ids[i] >= 0 && ids[i] < dim)) return null;
        const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
        const { info, values } = store.output(outShape, x.dtype);
        gatherRows(store.values(x), size(x.shape.slice(0, axis)), dim, size(x.shape.slice(axis + 1)), ids, values);
        return info;
      },
    };
    for (const [kernelName, fast] of Object.entries(copyKernels)) {
      replaceKernel(kernelName, backendName, replaced, (args, prev) => {
        const x = (args.inputs as Record<string, Info>).x ?? (args.inputs as Record<string, Info>).value;
        if (x == null || x.dtype === 'string' || x.dtype === 'complex64' || size(x.shape) === 0) return prev(args);
        return fast(args as never) ?? prev(args);
      });
    }
  }
  for (const backendName of ['wasm', 'cpu'] as const) {
    const storeOf = (b: unknown) => (backendName === 'wasm' ? wasmStore(b as WasmBackend) : cpuStore(b as CpuBackend));
    // Concat and Pack: each input copied into its box of the output. Inputs arrive as an array.
    const joinKernels: Record<string, (inputs: Info[], attrs: tf.NamedAttrMap, store: Store) => Info | null> = {
      Concat: (inputs, attrs, store) => {
        const axis = tf.util.parseAxisParam(attrs.axis as number, inputs[0].shape)[0];
        const parts = inputs.filter((t) => size(t.shape) > 0);
        if (parts.length < 2 || parts.some((t) => t.shape.length !== inputs[0].shape.length)) return null;
        const outShape = parts[0].shape.slice();
        outShape[axis] = parts.reduce((sum, t) => sum + t.shape[axis], 0);
        if (parts.some((t) => t.shape.some((d, j) => j !== axis && d !== outShape[j]))) return null;
        return joinAlong(parts, outShape, axis, store);
      },
      Pack: (inputs, attrs, store) => {
        const rank = inputs[0].shape.length + 1;
        const axis = (attrs.axis as number) < 0 ? (attrs.axis as number) + rank : (attrs.axis as number);
        if (inputs.length < 2 || inputs.some((t) => !tf.util.arraysEqual(t.shape, inputs[0].shape))) return null;
        const parts = inputs.map((t) => ({ ...t, shape: [...t.shape.slice(0, axis), 1, ...t.shape.slice(axis)] }));
        const outShape = parts[0].shape.slice();
        outShape[axis] = inputs.length;
        return joinAlong(parts, outShape, axis, store);
      },
    };
    for (const [kernelName, fast] of Object.entries(joinKernels)) {
      replaceKernel(kernelName, backendName, replaced, (args, prev) => {
        const inputs = args.inputs as unknown as Info[];
        if (
          !Array.isArray(inputs) ||
          inputs.length === 0 ||
          inputs.some((t) => t.dtype !== inputs[0].dtype || t.dtype === 'string' || t.dtype === 'complex64')
        ) {
          return prev(args);
        }
        return fast(inputs, args.attrs ?? {}, storeOf(args.backend)) ?? prev(args);
      });
    }
    // Cast to the dtype a tensor already has (every gradient of mul and div casts its inputs to
    // float32): share the buffer, as Identity does, instead of copying it.
    replaceKernel('Cast', backendName, replaced, (args, prev) => {
      const x = (args.inputs as { x: Info }).x;
      if (x.dtype !== args.attrs?.dtype || x.dtype === 'string' || x.dtype === 'complex64') return prev(args);
      (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    });
    // Transpose by the identity permutation (tfjs's gather gradient wraps its scatter-add in two,
    // so every embedding's backward pass): share the buffer too. Any other permutation of 4-byte
    // elements: the native kernel where the addon is loaded (wasm's own moves one element at a
    // time: 9 % of a convSPE run, transposing its noise).
    replaceKernel('Transpose', backendName, replaced, (args, prev) => {
      const x = (args.inputs as { x: Info }).x;
      const perm = args.attrs?.perm as number[] | undefined;
      if (!perm || x.dtype === 'string' || x.dtype === 'complex64') return prev(args);
      if (perm.every((p, i) => p === i)) {
        (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      }
      const native = nativeKernels();
      if (!native || (x.dtype !== 'float32' && x.dtype !== 'int32') || x.shape.length > 8 || size(x.shape) === 0) return prev(args);
      const store = storeOf(args.backend);
      // cpu kernels occasionally hold values in plain arrays: those go to the kernel it replaces.
      if (!isWords(store.values(x))) return prev(args);
      const { info, values } = store.output(
        perm.map((p) => x.shape[p]),
        x.dtype,
      );
      // The input's view after the output's: making it may grow the wasm heap, which detaches views.
      native.transpose(store.values(x) as Float32Array | Int32Array, values as Float32Array | Int32Array, Int32Array.from(x.shape), Int32Array.from(perm));
      return info;
    });
  }
  const prevIdentity = tf.getKernel('Identity', 'wasm');
  if (prevIdentity) {
    tf.unregisterKernel('Identity', 'wasm');
    tf.registerKernel({
      ...prevIdentity,
      kernelFunc: (args) => {
        const x = (args.inputs as { x: Info }).x;
        if (x.dtype === 'string') return prevIdentity.kernelFunc(args);
        (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      },
    });
    replaced.push('Identity/wasm');
  }
  const prevSum = tf.getKernel('Sum', 'wasm');
  if (prevSum) {
    tf.unregisterKernel('Sum', 'wasm');
    tf.registerKernel({ ...prevSum, kernelFunc: (args) => wasmSumLeading(args as never) ?? (prevSum.kernelFunc(args) as Info) });
    replaced.push('Sum/wasm');
  }
  const prevMatMul = tf.getKernel('BatchMatMul', 'wasm');
  if (prevMatMul) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...prevMatMul, kernelFunc: (args) => wasmBatchMatMul(args as never, prevMatMul.kernelFunc as never) });
    replaced.push('BatchMatMul/wasm');
  }
  for (const backendName of ['wasm', 'cpu'] as const) {
    const storeOf = (b: unknown) => (backendName === 'wasm' ? wasmStore(b as WasmBackend) : cpuStore(b as CpuBackend));
    for (const kernelName of DEPTHWISE_KERNELS) {
      replaceKernel(
        kernelName,
        backendName,
        replaced,
        (args, prev) => nativeDepthwise(kernelName, args.inputs as Record<string, Info>, args.attrs as DepthwiseAttrs, storeOf(args.backend)) ?? prev(args),
      );
    }
    replaceKernel(
      'UnsortedSegmentSum',
      backendName,
      replaced,
      (args, prev) =>
        scatterAddSegments(args.inputs as { x: Info; segmentIds: Info }, args.attrs as { numSegments: number }, storeOf(args.backend)) ?? prev(args),
    );
    replaceKernel('_FusedMatMul', backendName, replaced, (args, prev) => nativeFusedMatMul(args as never, storeOf(args.backend)) ?? prev(args));
  }
  const prevCpuMatMul = tf.getKernel('BatchMatMul', 'cpu');
  if (prevCpuMatMul) {
    tf.unregisterKernel('BatchMatMul', 'cpu');
    tf.registerKernel({ ...prevCpuMatMul, kernelFunc: (args) => (cpuNativeMatMul(args as never) ?? prevCpuMatMul.kernelFunc(args)) as Info });
    replaced.push('BatchMatMul/cpu');
  }
  return replaced;
}

// ---------------------------------------------------------------------------------------------
// UnsortedSegmentSum as one scatter-add

/**
 * out [numSegments, ...inner] with out[s] = Σ_{i: ids[i] = s} x[i] (ids outside [0, numSegments)
 * dropped, as TensorFlow does), for float32 x whose shape starts with the shape of the int32 ids.
 * Returns null for any other case (the kernel it replaces runs).
 */
export function scatterAddSegments(inputs: { x: Info; segmentIds: Info }, attrs: { numSegments: number }, store: Store): Info | null {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments;
  if (x.dtype !== 'float32' || segmentIds.dtype !== 'int32' || !Number.isInteger(numSegments) || numSegments < 0) return null;
  const lead = segmentIds.shape;
  if (lead.length > x.shape.length || lead.some((d, i) => d !== x.shape[i])) return null;
  const inner = x.shape.slice(lead.length);
  const n = size(lead);
  const w = size(inner);
  const { info, values: out } = store.output([numSegments, ...inner], 'float32');
  const xs = store.values(x);
  const ids = store.values(segmentIds);
  const native = nativeKernels();
  if (native && xs instanceof Float32Array && ids instanceof Int32Array && out instanceof Float32Array && n > 0) {
    native.scatterAddRows(xs, ids, out, numSegments);
    return info;
  }
  out.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const o = s * w;
    const r = i * w;
    for (let j = 0; j < w; j++) out[o + j] += xs[r + j];
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// wasm Sum over leading axes

/**
 * Σ over the leading `axes` of x, viewed as [rows, cols]: out[j] = (((x[0,j] + x[1,j]) + x[2,j]) + ...)
 * accumulated in float32, the order of wasm's own Sum after its transpose. Returns null (use the
 * wasm kernel) unless x is float32 and the reduced axes are exactly 0 .. r−1 for some r < rank.
 */
function wasmSumLeading(args: { inputs: { x: Info }; attrs: { axis: number | number[]; keepDims?: boolean }; backend: WasmBackend }): Info | null {
  const { x } = args.inputs;
  if (x.dtype !== 'float32' || x.shape.length < 2) return null;
  const axes = tf.util.parseAxisParam(args.attrs.axis, x.shape).sort((a, b) => a - b);
  const r = axes.length;
  if (r === 0 || r >= x.shape.length || axes.some((a, i) => a !== i)) return null;
  const rows = size(x.shape.slice(0, r));
  const cols = size(x.shape.slice(r));
  if (rows * cols === 0) return null;
  const keepShape = x.shape.map((d, i) => (i < r ? 1 : d));
  const out = args.backend.makeOutput(args.attrs.keepDims ? keepShape : x.shape.slice(r), 'float32');
  const acc = args.backend.typedArrayFromHeap(out) as Float32Array;
  const src = args.backend.typedArrayFromHeap(x) as Float32Array;
  const native = nativeKernels();
  if (native) {
    native.sumRows(src, rows, cols, acc);
    return out;
  }
  acc.fill(0);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let j = 0; j < cols; j++) acc[j] += src[o + j];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Depthwise convolution (native only)

const DEPTHWISE_KERNELS = ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput'] as const;
type DepthwiseAttrs = {
  strides?: number | number[];
  dilations?: number | number[];
  pad?: unknown;
  dataFormat?: string;
  filterShape?: number[];
  inputShape?: number[];
};

const allOnes = (v: number | number[] | undefined) => v === undefined || (Array.isArray(v) ? v.every((x) => x === 1) : v === 1);

/**
 * The three depthwise-convolution kernels on the native addon, for the case convSPE uses: NHWC,
 * one output channel per input channel, stride 1, dilation 1, no padding. Null (use tfjs's
 * kernel; on wasm the two gradients are delegated to cpu) for anything else or without the addon.
 */
function nativeDepthwise(kernelName: (typeof DEPTHWISE_KERNELS)[number], inputs: Record<string, Info>, attrs: DepthwiseAttrs, store: Store): Info | null {
  const native = nativeKernels();
  if (!native || !allOnes(attrs.strides) || !allOnes(attrs.dilations) || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  if (!(attrs.pad === 'valid' || attrs.pad === 0)) return null;
  const [a, b] =
    kernelName === 'DepthwiseConv2dNative'
      ? [inputs.x, inputs.filter]
      : kernelName === 'DepthwiseConv2dNativeBackpropFilter'
        ? [inputs.x, inputs.dy]
        : [inputs.dy, inputs.filter];
  if (a === undefined || b === undefined || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const xShape = kernelName === 'DepthwiseConv2dNativeBackpropInput' ? attrs.inputShape : a.shape;
  const fShape = kernelName === 'DepthwiseConv2dNativeBackpropFilter' ? attrs.filterShape : b.shape;
  if (!xShape || !fShape || xShape.length !== 4 || fShape.length !== 4 || fShape[3] !== 1 || fShape[2] !== xShape[3]) return null;
  const [n, h, w, c] = xShape;
  const [fh, fw] = fShape;
  if (fh > h || fw > w) return null;
  const outShape =
    kernelName === 'DepthwiseConv2dNative' ? [n, h - fh + 1, w - fw + 1, c] : kernelName === 'DepthwiseConv2dNativeBackpropFilter' ? fShape : xShape;
  // cpu kernels occasionally hold float32 values in plain arrays: those go to tfjs's kernel.
  if (![a, b].every((t) => store.values(t) instanceof Float32Array)) return null;
  const out = store.output(outShape, 'float32');
  // Input views after the output's allocation (a wasm heap that grows detaches older views).
  const [av, bv] = [store.values(a), store.values(b)] as Float32Array[];
  const run =
    kernelName === 'DepthwiseConv2dNative'
      ? native.depthwiseConv
      : kernelName === 'DepthwiseConv2dNativeBackpropFilter'
        ? native.depthwiseFilterGrad
        : native.depthwiseInputGrad;
  run.call(native, n, h, w, c, fh, fw, av, bv, out.values as Float32Array);
  return out.info;
}

// ---------------------------------------------------------------------------------------------
// cpu BatchMatMul (native only)

/** The cpu backend's product, on the native addon when it is built; null (use tfjs's) otherwise. */
function cpuNativeMatMul(args: { inputs: { a: Info; b: Info }; attrs: { transposeA?: boolean; transposeB?: boolean }; backend: CpuBackend }): Info | null {
  const native = nativeKernels();
  const { a, b } = args.inputs;
  if (!native || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const dims = matMulDims(a, b, Boolean(args.attrs.transposeA), Boolean(args.attrs.transposeB));
  if (dims === null) return null;
  const { batchA, batchB, m, n, k, outShape } = dims;
  const store = cpuStore(args.backend);
  const [av, bv] = [store.values(a), store.values(b)];
  // cpu kernels occasionally hold float32 values in plain arrays: those go to tfjs's kernel.
  if (!(av instanceof Float32Array) || !(bv instanceof Float32Array)) return null;
  const out = store.output(outShape, 'float32');
  native.matMul(
    av,
    bv,
    out.values as Float32Array,
    Math.max(batchA, batchB),
    batchA,
    batchB,
    m,
    n,
    k,
    args.attrs.transposeA ? 1 : 0,
    args.attrs.transposeB ? 1 : 0,
  );
  return out.info;
}

/** Sizes of op(a)·op(b) over a batch, or null when the batch shapes broadcast other than all-or-one. */
function matMulDims(a: Info, b: Info, transposeA: boolean, transposeB: boolean) {
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ca, ra] : [ra, ca];
  const [k2, n] = transposeB ? [cb, rb] : [rb, cb];
  if (k !== k2 || !(batchA === batchB || batchB === 1 || batchA === 1)) return null;
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), m, n];
  return { batchA, batchB, m, n, k, outShape };
}

/**
 * _FusedMatMul (tf.fused.matMul) with a bias and no activation or ReLU, as `Linear` calls it with the
 * native kernels: the native product with the bias added to every row (and the ReLU) by each thread
 * on the block of the output it has just computed (one kernel instead of a product, an Add and a
 * Relu; the same bits as a pass after the product). Null for anything else
 * (another activation, a bias that is not one row of n values, other dtypes, no addon): tfjs's kernel runs.
 */
export function nativeFusedMatMul(
  args: {
    inputs: { a: Info; b: Info; bias?: Info; preluActivationWeights?: Info };
    attrs: { transposeA?: boolean; transposeB?: boolean; activation?: string };
  },
  store: Store,
): Info | null {
  const native = nativeKernels();
  const { a, b, bias, preluActivationWeights } = args.inputs;
  const activation = args.attrs.activation ?? 'linear';
  if (!native || preluActivationWeights || (activation !== 'linear' && activation !== 'relu') || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const relu = activation === 'relu';
  const transposeA = Boolean(args.attrs.transposeA);
  const transposeB = Boolean(args.attrs.transposeB);
  const dims = matMulDims(a, b, transposeA, transposeB);
  if (dims === null) return null;
  const { batchA, batchB, m, n, k, outShape } = dims;
  if (bias && (bias.dtype !== 'float32' || size(bias.shape) !== n || bias.shape.slice(0, -1).some((d) => d !== 1))) return null;
  if (relu && !bias) return null;
  // cpu kernels occasionally hold float32 values in plain arrays: those go to tfjs's kernel.
  if ([a, b, ...(bias ? [bias] : [])].some((t) => !(store.values(t) instanceof Float32Array))) return null;
  const out = store.output(outShape, 'float32');
  // After the output: making it may grow the wasm heap, which detaches earlier views.
  const [av, bv] = [a, b].map((t) => store.values(t) as Float32Array);
  const ov = out.values as Float32Array;
  const batch = Math.max(batchA, batchB);
  if (bias) native.matMul(av, bv, ov, batch, batchA, batchB, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0, store.values(bias) as Float32Array, relu ? 1 : 0);
  else native.matMul(av, bv, ov, batch, batchA, batchB, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0);
  return out.info;
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

/**
 * Operands seen as the right operand (or its candidate) before. A tensor multiplied more than
 * once is most likely a weight, whose XNNPACK packing is cached (by the wasm kernel, per tensor)
 * and costs nothing after the first product; activations are fresh every time.
 */
const seenRight = new WeakSet<object>();

/**
 * Measured cost per float on wasm (2-core machine, CPU time): XNNPACK packing a fresh right
 * operand ~15 ns (it transposes while packing), the Transpose kernel ~8 ns; the products
 * themselves cost the same either way round.
 */
const PACK_NS = 15;
const TRANSPOSE_NS = 8;

/**
 * Whether out [m, n] = op(a)·op(b) is cheaper as (op(b)ᵀ·op(a)ᵀ)ᵀ, which packs op(a)ᵀ [k, m]
 * instead of op(b) [k, n]: true for a thin a against a large, fresh b, e.g. the weight
 * gradient featsᵀ·dY written as (dYᵀ·feats)ᵀ. Measured, CPU ms, a fresh b per call:
 *   [64x4096]@[4096x1280]: 157 as is, 92 flipped;  [128x4096]@[4096x512]: 90 vs 63;
 *   [64x2048]@[2048x256]: 13.4 vs 10.8;  but [512x4096]@[4096x512]: 179 vs 211 and
 *   [256x2048]@[2048x64]: 4.0 vs 12.8 stay as they are (this model picks right in all seven).
 */
function cheaperFlipped(m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, a: Info, b: Info): boolean {
  const asIs = (transposeA ? TRANSPOSE_NS * m * k : 0) + (transposeB ? TRANSPOSE_NS * k * n : seenRight.has(b.dataId) ? 0 : PACK_NS * k * n);
  const flipped =
    (transposeB ? 0 : TRANSPOSE_NS * k * n) +
    (transposeA ? (seenRight.has(a.dataId) ? 0 : PACK_NS * m * k) : (TRANSPOSE_NS + PACK_NS) * m * k) +
    TRANSPOSE_NS * m * n;
  if (!transposeB) seenRight.add(b.dataId);
  return flipped < asIs;
}

function wasmBatchMatMul(args: KernelArgs, prev: KernelFn): Info {
  const { a, b } = args.inputs;
  const { backend } = args;
  const transposeA = Boolean(args.attrs.transposeA);
  const transposeB = Boolean(args.attrs.transposeB);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return prev(args);
  const dims = matMulDims(a, b, transposeA, transposeB);
  if (dims === null) return prev(args);
  const { batchA, batchB, m, n, k, outShape } = dims;
  const native = nativeKernels();
  if (native) {
    // The native product reads the operands in place, transposed or not (see native/src/sgemm.c).
    const out = backend.makeOutput(outShape, 'float32');
    const [av, bv, ov] = [a, b, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
    native.matMul(av, bv, ov, Math.max(batchA, batchB), batchA, batchB, m, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0);
    return out;
  }

  const temps: Info[] = [];
  const transposed = (x: Info, batch: number) => (temps[temps.length] = transposeLast(backend, x, batch));
  try {
    if (batchA === 1 && batchB === 1 && cheaperFlipped(m, k, n, transposeA, transposeB, a, b)) {
      // out = (op(b)ᵀ · op(a)ᵀ)ᵀ, where op(b)ᵀ is b itself when transposeB, op(a)ᵀ is a itself when transposeA.
      const left = transposeB ? b : transposed(b, 1);
      const right = transposeA ? a : transposed(a, 1);
      if (transposeA) seenRight.add(a.dataId);
      const outT = (temps[temps.length] = prev({ inputs: { a: { ...left, shape: [1, n, k] }, b: { ...right, shape: [1, k, m] } }, attrs: {}, backend }));
      return { ...transposeLast(backend, outT, 1), shape: outShape };
    }
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) return prev(args);
    const aa = transposeA ? transposed(a, batchA) : a;
    const bb = transposeB ? transposed(b, batchB) : b;
    if (batchB === 1) {
      // The rows of every batch element of A meet the same B: one [batchA·m, k] x [k, n] product.
      if (!transposeB) seenRight.add(b.dataId);
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
