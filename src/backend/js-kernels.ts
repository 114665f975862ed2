/**
 * Kernels written as plain JavaScript loops over typed arrays, registered on the backends whose
 * tensors live in JavaScript-visible memory: wasm (the module's heap) and cpu (typed arrays).
 * They serve fused operations that tfjs would run as many separate passes over large tensors
 * (see `encodings/spe/sine-kernels.ts`). Other backends (tfjs-node, webgl) do not get them:
 * callers test `hasJsKernel` and fall back to composed tf ops there.
 *
 * A kernel only reads its inputs and writes its (fresh) outputs; inputs are float32 and dense.
 */
import { tf } from './tf';
import { nativeKernels } from './native';

/** The backends JS kernels are registered on. */
export const JS_KERNEL_BACKENDS = ['wasm', 'cpu'] as const;

export interface JsKernelSpec<A extends object> {
  /** The tfjs kernel name (prefix it with the library's name, e.g. 'Rpelab…'). */
  kernelName: string;
  /** Input names, in the order `compute` receives them; a missing optional input arrives as null. */
  inputNames: readonly string[];
  /** Shapes of the (float32) outputs, from the input shapes (null for a missing input) and the attributes. */
  outputShapes(shapes: Array<number[] | null>, attrs: A): number[][];
  /**
   * Fills `outputs` (row-major, not initialised: every element must be written) from `inputs`
   * (row-major; null for a missing optional input). Must not keep references to either after
   * returning.
   */
  compute(inputs: Array<Float32Array | null>, shapes: Array<number[] | null>, outputs: Float32Array[], attrs: A): void;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/**
 * The values the active backend holds for `t`, where JavaScript can see them: a view of wasm's heap
 * (taken now: growing the heap later detaches it), or the cpu backend's array (occasionally a plain
 * array rather than a typed one); null on any other backend.
 */
export function heldValues(t: tf.TensorInfo): unknown {
  const name = tf.getBackend();
  if (name === 'wasm') return (tf.backend() as unknown as WasmBackendLike).typedArrayFromHeap(t);
  if (name === 'cpu') return (tf.backend() as unknown as CpuBackendLike).data.get(t.dataId).values;
  return null;
}

/** Registers `spec` on wasm and cpu (replacing an earlier registration of the same name). */
export function registerJsKernel<A extends object>(spec: JsKernelSpec<A>): void {
  for (const backendName of JS_KERNEL_BACKENDS) {
    if (tf.getKernel(spec.kernelName, backendName)) tf.unregisterKernel(spec.kernelName, backendName);
    tf.registerKernel({
      kernelName: spec.kernelName,
      backendName,
      kernelFunc: ({ inputs, attrs, backend }) => {
        const infos = spec.inputNames.map((n) => (inputs[n] as tf.TensorInfo | undefined) ?? null);
        infos.forEach((t, i) => {
          if (t !== null && t.dtype !== 'float32') throw new Error(`${spec.kernelName}: input ${spec.inputNames[i]} must be float32, got ${t.dtype}`);
        });
        const shapes = infos.map((t) => (t === null ? null : t.shape.slice()));
        const outShapes = spec.outputShapes(shapes, attrs as unknown as A);
        let outs: tf.TensorInfo[];
        let outValues: Float32Array[];
        let inValues: Array<Float32Array | null>;
        if (backendName === 'wasm') {
          const b = backend as unknown as WasmBackendLike;
          outs = outShapes.map((s) => b.makeOutput(s, 'float32'));
          // Views of the heap only after every allocation: growing the heap detaches older views.
          outValues = outs.map((o) => b.typedArrayFromHeap(o));
          inValues = infos.map((t) => (t === null ? null : (heldValues(t) as Float32Array)));
        } else {
          const b = backend as unknown as CpuBackendLike;
          outValues = outShapes.map((s) => new Float32Array(s.reduce((p, d) => p * d, 1)));
          outs = outShapes.map((s, i) => b.makeTensorInfo(s, 'float32', outValues[i]));
          // cpu kernels occasionally hold float32 values in plain arrays: copy those.
          inValues = infos.map((t) => {
            if (t === null) return null;
            const v = heldValues(t) as ArrayLike<number>;
            return v instanceof Float32Array ? v : Float32Array.from(v);
          });
        }
        spec.compute(inValues, shapes, outValues, attrs as unknown as A);
        return outs;
      },
    });
  }
}

/** Whether kernel `kernelName` is registered on the active backend. */
export function hasJsKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

/**
 * Whether a fused kernel that replaces a chain of elementwise tf ops pays off on the active
 * backend: with the native kernels (wasm, cpu), and on cpu without them (its own ops are
 * JavaScript loops too, one pass each). On wasm without them its SIMD elementwise ops (~0.3 ns
 * per element) beat one JavaScript pass (~2–7 ns per element here), so the composed ops stay.
 */
export function fusedKernelPaysOff(kernelName: string): boolean {
  return hasJsKernel(kernelName) && (nativeKernels() !== null || tf.getBackend() === 'cpu');
}

/**
 * Runs a registered kernel on the active backend. Not differentiable by itself: wrap it in
 * `tf.customGrad` with a gradient kernel.
 * @returns the outputs, in the order `outputShapes` gives them.
 */
export function runJsKernel(kernelName: string, inputs: Record<string, tf.Tensor | null>, attrs: object): tf.Tensor[] {
  const named: tf.NamedTensorMap = {};
  for (const [name, t] of Object.entries(inputs)) if (t !== null) named[name] = t;
  const out = tf.engine().runKernel(kernelName, named as never, attrs as never) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}
