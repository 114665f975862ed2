/**
 * The denominator of normalised linear attention, carried as one more value column:
 *
 *   appendOnes(v)          v [..., E] -> [v, 1] [..., E + 1]
 *   divideByLastColumn(x)  x [..., E + 1] -> x[..., :E] / max(x[..., E], eps)
 *
 * so that one pass of sums gives numerator and denominator (Σ_t a_st v_t, Σ_t a_st). The plain
 * forms (`appendOnesReference`, `divideByLastColumnReference`) are a concat and a split, which on
 * wasm copy the rows in JavaScript one short run at a time, their gradients being a split and a
 * concat again (about a sixth of a small model's training step). Where the JavaScript kernels are
 * registered (wasm, cpu; `backend/js-kernels.ts`), each direction is one pass over the rows instead.
 *
 * Gradients: ∂v = ∂y[..., :E]; with d = max(x_E, eps), ∂x_j = ∂y_j / d for j < E and
 * ∂x_E = −Σ_j ∂y_j x_j / d² where x_E ≥ eps, else 0 (as tf.maximum's gradient).
 */
import { tf, registerJsKernel, runJsKernel, hasJsKernel } from '../backend';

export const APPEND_ONES = 'RpelabAppendOnes';
export const DROP_LAST_COLUMN = 'RpelabDropLastColumn';
export const DIVIDE_BY_LAST_COLUMN = 'RpelabDivideByLastColumn';
export const DIVIDE_BY_LAST_COLUMN_GRAD = 'RpelabDivideByLastColumnGrad';

// v [N, E] -> [N, E + 1].
registerJsKernel<Record<string, never>>({
  kernelName: APPEND_ONES,
  inputNames: ['v'],
  outputShapes: ([v]) => [[v![0], v![1] + 1]],
  compute: ([v], [vs], [out]) => {
    const [n, e] = vs!;
    for (let r = 0; r < n; r++) {
      out.set(v!.subarray(r * e, (r + 1) * e), r * (e + 1));
      out[r * (e + 1) + e] = 1;
    }
  },
});

// dy [N, E + 1] -> [N, E].
registerJsKernel<Record<string, never>>({
  kernelName: DROP_LAST_COLUMN,
  inputNames: ['dy'],
  outputShapes: ([dy]) => [[dy![0], dy![1] - 1]],
  compute: ([dy], [ds], [out]) => {
    const [n, e1] = ds!;
    const e = e1 - 1;
    for (let r = 0; r < n; r++) out.set(dy!.subarray(r * e1, r * e1 + e), r * e);
  },
});

// x [N, E + 1] -> y [N, E].
registerJsKernel<{ eps: number }>({
  kernelName: DIVIDE_BY_LAST_COLUMN,
  inputNames: ['x'],
  outputShapes: ([x]) => [[x![0], x![1] - 1]],
  compute: ([x], [xs], [y], { eps }) => {
    const [n, e1] = xs!;
    const e = e1 - 1;
    for (let r = 0; r < n; r++) {
      const o = r * e1;
      const d = Math.max(x![o + e], eps);
      for (let j = 0; j < e; j++) y[r * e + j] = x![o + j] / d;
    }
  },
});

// dy [N, E], x [N, E + 1] -> dx [N, E + 1].
registerJsKernel<{ eps: number }>({
  kernelName: DIVIDE_BY_LAST_COLUMN_GRAD,
  inputNames: ['dy', 'x'],
  outputShapes: ([, x]) => [x!.slice()],
  compute: ([dy, x], [, xs], [dx], { eps }) => {
    const [n, e1] = xs!;
    const e = e1 - 1;
    for (let r = 0; r < n; r++) {
      const o = r * e1;
      const den = x![o + e];
      const d = Math.max(den, eps);
      let s = 0;
      for (let j = 0; j < e; j++) {
        const g = dy![r * e + j];
        dx[o + j] = g / d;
        s += g * x![o + j];
      }
      dx[o + e] = den >= eps ? -s / (d * d) : 0;
    }
  },
});

/** The plain form: v [..., E] -> [..., E + 1] with a last column of ones. */
export function appendOnesReference<T extends tf.Tensor>(v: T): T {
  return tf.concat([v, tf.ones([...v.shape.slice(0, -1), 1])], v.rank - 1) as T;
}

/** The plain form: x [..., E + 1] -> x[..., :E] / max(x[..., E], eps). */
export function divideByLastColumnReference<T extends tf.Tensor>(x: T, eps: number): T {
  const e = x.shape[x.rank - 1] - 1;
  const [num, den] = tf.split(x, [e, 1], x.rank - 1);
  return num.div(tf.maximum(den, eps)) as T;
}

/** Rows [N, last] of x (a free reshape). */
function rows(x: tf.Tensor): tf.Tensor2D {
  return x.reshape([-1, x.shape[x.rank - 1]]) as tf.Tensor2D;
}

/**
 * v [..., E] -> [..., E + 1], the last column ones: one kernel each way where registered, else
 * the plain form.
 */
export function appendOnes<T extends tf.Tensor>(v: T): T {
  if (!hasJsKernel(APPEND_ONES) || v.size === 0) return appendOnesReference(v);
  const shape = [...v.shape.slice(0, -1), v.shape[v.rank - 1] + 1];
  const op = tf.customGrad((vi) => ({
    value: runJsKernel(APPEND_ONES, { v: rows(vi as tf.Tensor) }, {})[0].reshape(shape),
    gradFunc: (dy: tf.Tensor) => runJsKernel(DROP_LAST_COLUMN, { dy: rows(dy) }, {})[0].reshape(v.shape),
  }));
  return op(v) as T;
}

/**
 * x [..., E + 1] -> x[..., :E] / max(x[..., E], eps): one kernel each way where registered, else
 * the plain form.
 */
export function divideByLastColumn<T extends tf.Tensor>(x: T, eps: number): T {
  if (!hasJsKernel(DIVIDE_BY_LAST_COLUMN) || x.size === 0) return divideByLastColumnReference(x, eps);
  const shape = [...x.shape.slice(0, -1), x.shape[x.rank - 1] - 1];
  const op = tf.customGrad((xi, save) => {
    const x2 = rows(xi as tf.Tensor);
    (save as tf.GradSaveFunc)([x2]);
    return {
      value: runJsKernel(DIVIDE_BY_LAST_COLUMN, { x: x2 }, { eps })[0].reshape(shape),
      gradFunc: (dy: tf.Tensor, [xs]: tf.Tensor[]) => runJsKernel(DIVIDE_BY_LAST_COLUMN_GRAD, { dy: rows(dy), x: xs }, { eps })[0].reshape(x.shape),
    };
  });
  return op(x) as T;
}
