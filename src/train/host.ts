/**
 * Host-side tensor values: what checkpoints write and optimisers export.
 *
 * A `HostTensor` is a plain typed array with its shape and dtype. It owns no
 * backend memory, so it can be held, serialised and compared freely.
 */
import { tf } from '../backend';

/** The dtypes a checkpoint stores (4 bytes per element each). */
export type HostDType = 'float32' | 'int32';

/** A tensor's values copied to the host. `data.length` is the product of `shape`. */
export interface HostTensor {
  dtype: HostDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Tensors by name (dotted variable names, or optimiser slot names such as `m:fc.weight`). */
export type HostTensors = Record<string, HostTensor>;

/**
 * Copies `t` to the host (synchronous read). Throws, naming `name`, for dtypes
 * other than float32/int32.
 */
export function toHost(t: tf.Tensor, name: string): HostTensor {
  if (t.dtype !== 'float32' && t.dtype !== 'int32') {
    throw new Error(`${name}: expected a float32 or int32 tensor, got dtype ${t.dtype}`);
  }
  const data = t.dataSync();
  return {
    dtype: t.dtype,
    shape: t.shape.slice(),
    data: t.dtype === 'float32' ? Float32Array.from(data as Float32Array) : Int32Array.from(data as Int32Array),
  };
}

/** A new tensor holding `h`'s values (the caller owns it). */
export function fromHost(h: HostTensor): tf.Tensor {
  return tf.tensor(h.data, h.shape, h.dtype);
}

/** "[2, 3] float32": for error messages. */
export function describeShape(shape: readonly number[], dtype: string): string {
  return `[${shape.join(', ')}] ${dtype}`;
}

/** True when two shapes are identical. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
