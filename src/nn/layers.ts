/**
 * Small building blocks shared by attention layers and models.
 * Shapes: the last axis is the feature axis; any leading axes are allowed.
 */
import { tf, Rng, assertInt, assertDim, assertOneOf, matMul2d, nativeKernels, registerJsKernel, runJsKernel } from '../backend';
import { Module } from './module';
import { dropout } from './dropout';
import { fusedLayerNorm, hasFusedLayerNorm } from './layernorm-kernels';

/** Glorot-uniform matrix [fanIn, fanOut] from `rng`. */
export function glorotUniform(rng: Rng, fanIn: number, fanOut: number): tf.Tensor2D {
  const lim = Math.sqrt(6 / (fanIn + fanOut));
  return tf.tensor2d(rng.uniformArray(fanIn * fanOut, -lim, lim), [fanIn, fanOut]);
}

/** Normal-initialised tensor of any shape from `rng`. */
export function normalInit(rng: Rng, shape: number[], std: number): tf.Tensor {
  return tf.tensor(
    rng.normalArray(
      shape.reduce((a, b) => a * b, 1),
      0,
      std,
    ),
    shape,
  );
}

export interface LinearOptions {
  bias?: boolean;
  rng?: Rng;
  /** 'glorot' (default) or a normal std, e.g. 0.02 as in GPT-2. */
  init?: 'glorot' | number;
}

/** y = x W + b. x: [..., inFeatures] -> [..., outFeatures]. Computed as one 2-D matmul. */
/** Most values one float32 tensor can hold here (a typed array of 2^31 − 1 elements at most; wasm memory is 4 GiB). */
export const MAX_TENSOR_SIZE = 2 ** 30;

export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    assertInt(inFeatures, 'inFeatures');
    assertInt(outFeatures, 'outFeatures');
    if (inFeatures * outFeatures > MAX_TENSOR_SIZE) {
      throw new Error(`outFeatures: a ${inFeatures} x ${outFeatures} weight has ${inFeatures * outFeatures} values; a tensor holds at most ${MAX_TENSOR_SIZE}`);
    }
    const rng = opts.rng ?? new Rng(0);
    const init = opts.init ?? 'glorot';
    this.weight = this.addParameter(
      'weight',
      init === 'glorot' ? glorotUniform(rng, inFeatures, outFeatures) : normalInit(rng, [inFeatures, outFeatures], init),
    );
    this.bias = opts.bias === false ? null : this.addParameter('bias', tf.zeros([outFeatures]));
  }

  /** x [..., inFeatures] -> [..., outFeatures]: x W + b, or relu(x W + b) with `activation` 'relu'. */
  apply(x: tf.Tensor, activation: 'linear' | 'relu' = 'linear'): tf.Tensor {
    assertDim(x, -1, this.inFeatures, 'x', 'the feature axis');
    assertOneOf(activation, ['linear', 'relu'] as const, 'activation');
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = x.reshape([-1, this.inFeatures]) as tf.Tensor2D;
      let y: tf.Tensor;
      if (this.bias && nativeKernels() !== null && (tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu')) {
        // With the native kernels, one kernel for the product, its bias (and the ReLU): `fusedLinear`.
        y = fusedLinear(x2, this.weight as tf.Tensor2D, this.bias as tf.Tensor1D, activation);
      } else {
        y = matMul2d(x2, this.weight as tf.Tensor2D);
        if (this.bias) y = y.add(this.bias);
        if (activation === 'relu') y = tf.relu(y);
      }
      return y.reshape([...lead, this.outFeatures]);
    });
  }
}

/**
 * act(x W + b), act = identity or ReLU, as tfjs's `_FusedMatMul` kernel called directly (with the
 * native kernels, `nativeFusedMatMul`: the product, the bias and the ReLU in one pass). tfjs's
 * `tf.fused.matMul` op would differentiate it through a custom gradient that computes every input's
 * gradient, ∂x included where nothing needs it (the first layer of a model, the bench's layer: one
 * extra product as large as the forward one), and does not fuse an activation while a gradient is
 * recorded; the gradient registered below gives each input's on demand. x [N, in], w [in, out],
 * b [out] -> [N, out].
 */
function fusedLinear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, activation: 'linear' | 'relu'): tf.Tensor2D {
  return tf.engine().runKernel('_FusedMatMul', { a: x, b: w, bias: b }, { transposeA: false, transposeB: false, activation }) as tf.Tensor2D;
}

/** dz = dy where y > 0, else 0: ReLU's gradient from its output, one pass (native, else a JavaScript loop). */
const RELU_MASK = 'RpelabReluMask';
registerJsKernel<Record<string, never>>({
  kernelName: RELU_MASK,
  inputNames: ['dy', 'y'],
  outputShapes: ([dy]) => [dy!.slice()],
  compute: ([dy, y], _shapes, [dz]) => {
    const native = nativeKernels();
    if (native) return native.reluMask(dy!, y!, dz);
    for (let i = 0; i < dz.length; i++) dz[i] = y![i] > 0 ? dy![i] : 0;
  },
});

function reluMask(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return runJsKernel(RELU_MASK, { dy, y }, {})[0];
}

// The gradient of `fusedLinear`'s kernel calls (untransposed, with a bias, linear or ReLU): with
// dz = dy, or dy where y > 0 for ReLU (one native pass), ∂x = dz Wᵀ, ∂W = xᵀ dz, ∂b = Σ_rows dz, each
// computed only when the tape needs it. (tfjs's own fused op never reaches it: its custom gradient
// records the op, not the kernel.)
tf.registerGradient({
  kernelName: '_FusedMatMul',
  inputsToSave: ['a', 'b'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [a, b, y] = saved;
    const { transposeA, transposeB, activation } = attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
    if (transposeA || transposeB || (activation !== 'linear' && activation !== 'relu')) {
      throw new Error(`_FusedMatMul: rpelab differentiates untransposed calls with a linear or ReLU activation, got ${JSON.stringify(attrs)}`);
    }
    const dz = activation === 'relu' ? reluMask(dy as tf.Tensor, y) : (dy as tf.Tensor);
    return { a: () => tf.matMul(dz, b, false, true), b: () => tf.matMul(a, dz, true, false), bias: () => dz.sum(0) };
  },
});

/** LayerNorm over the last axis. x: [..., features] -> same shape. */
export class LayerNorm extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  constructor(
    readonly features: number,
    readonly eps = 1e-5,
  ) {
    super();
    assertInt(features, 'features');
    this.gamma = this.addParameter('gamma', tf.ones([features]));
    this.beta = this.addParameter('beta', tf.zeros([features]));
  }

  /** x [..., features] -> the same shape, normalised over the last axis (one fused kernel each way where that is faster, see `layernorm-kernels.ts`). */
  apply(x: tf.Tensor): tf.Tensor {
    assertDim(x, -1, this.features, 'x', 'the feature axis');
    return tf.tidy(() => {
      if (hasFusedLayerNorm() && x.dtype === 'float32') {
        return fusedLayerNorm(x.reshape([-1, this.features]) as tf.Tensor2D, this.gamma as tf.Tensor1D, this.beta as tf.Tensor1D, this.eps).reshape(x.shape);
      }
      const { mean, variance } = tf.moments(x, -1, true);
      return x.sub(mean).div(variance.add(this.eps).sqrt()).mul(this.gamma).add(this.beta);
    });
  }
}

/**
 * Token embedding table [vocabSize, dim]. ids: int32 [...] -> [..., dim].
 *
 * A row gather; its gradient is a scatter-add of the rows into the table (`UnsortedSegmentSum`, one
 * pass in input order on wasm and cpu, native C with the addon: backend/fast-kernels.ts). Until the scatter-add was a single
 * pass, vocabularies up to 1024 looked up rows with a one-hot matmul instead; in the train suite's
 * step (vocabulary 256, 2048 tokens of width 64; each kernel's wall time, wasm, 2-core AMD EPYC) the
 * gather and its scatter-add take 0.5 ms where the one-hot, its product and the product's gradient
 * took 1.3 ms. Ids outside [0, vocabSize) are refused by the gather (tfjs's message).
 */
export class Embedding extends Module {
  readonly table: tf.Variable;
  constructor(
    readonly vocabSize: number,
    readonly dim: number,
    opts: { rng?: Rng; std?: number } = {},
  ) {
    super();
    assertInt(vocabSize, 'vocabSize');
    assertInt(dim, 'dim');
    this.table = this.addParameter('table', normalInit(opts.rng ?? new Rng(0), [vocabSize, dim], opts.std ?? 0.02));
  }

  apply(ids: tf.Tensor): tf.Tensor {
    if (ids.dtype !== 'int32') throw new Error(`ids: expected an int32 tensor of token ids, got dtype ${ids.dtype}`);
    return tf.tidy(() => tf.gather(this.table, ids.reshape([-1])).reshape([...ids.shape, this.dim]));
  }
}

/** Feed-forward block: x [..., model] -> [..., model] through hidden width `hidden`. */
export class FeedForward extends Module {
  private readonly fc1: Linear;
  private readonly fc2: Linear;
  constructor(
    readonly model: number,
    readonly hidden: number,
    readonly activation: 'relu' | 'gelu' = 'relu',
    rng: Rng = new Rng(0),
  ) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(model, hidden, { rng: rng.fork('fc1') }));
    this.fc2 = this.addModule('fc2', new Linear(hidden, model, { rng: rng.fork('fc2') }));
  }

  apply(x: tf.Tensor, dropoutRate = 0, rng?: Rng, training = false): tf.Tensor {
    return tf.tidy(() => {
      const a = this.activation === 'relu' ? this.fc1.apply(x, 'relu') : gelu(this.fc1.apply(x));
      return this.fc2.apply(dropout(a, dropoutRate, rng, training));
    });
  }
}

/** GELU (tanh approximation). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = Math.sqrt(2 / Math.PI);
    return x.mul(0.5).mul(tf.tanh(x.add(x.pow(3).mul(0.044715)).mul(c)).add(1));
  });
}
