/**
 * Adam and AdamW on the named variables of a `Module`, with state we can checkpoint.
 *
 * The optimiser keeps, for every trainable variable `name`, the first and second
 * moment estimates `m:name` and `v:name` (tensors it owns, shaped like the
 * variable) and a global update count `t`. `getState()` copies them to the host
 * and `setState()` puts them back, so a resumed run continues bit-for-bit.
 *
 * Update for a variable p with gradient g at update t = 1, 2, ... (PyTorch's form):
 *
 *   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
 *   p ← p·(1 − lr·λ)             (AdamW only, for variables selected by `decay`)
 *   p ← p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)
 *
 * AdamW's weight decay is decoupled from the gradient (Loshchilov & Hutter), which
 * is also what fairseq's `adam` and Flax's `optim.Adam(weight_decay=…)`, used by the
 * LRPE and SPE experiments, do. A variable with no gradient in a step is skipped
 * entirely (no moment update, no decay), as in PyTorch.
 */
import { tf, assertNumber, assertInt } from '../backend';
import { Module } from '../nn';
import { HostTensors, describeShape, sameShape, toHost } from './host';
import { hasFusedAdamStep, fusedAdamStep, adamStepInPlace } from './adam-kernels';

/** Gradients keyed by the dotted variable names of `Module.namedVariables()`. */
export type NamedGrads = Record<string, tf.Tensor>;

/** What `getState` exports and `setState` restores. */
export interface OptimizerState {
  /** 'adam' | 'adamw'. */
  kind: string;
  /** Updates applied so far (t in the bias corrections). */
  step: number;
  /** Moment estimates: `m:<variable>` and `v:<variable>`, float32, shaped like the variable. */
  slots: HostTensors;
}

/** The interface the training loop needs from an optimiser. */
export interface Optimizer {
  readonly kind: string;
  /** Updates applied so far. */
  readonly step: number;
  /** Applies one update with learning rate `lr` from gradients keyed by variable name. */
  apply(grads: NamedGrads, lr: number): void;
  /** A host copy of the state (moments and update count). */
  getState(): OptimizerState;
  /** Restores a state from `getState`; throws naming the first mismatching slot. */
  setState(state: OptimizerState): void;
  /** Frees the moment tensors. */
  dispose(): void;
}

export interface AdamOptions {
  /** β1, default 0.9. */
  beta1?: number;
  /** β2, default 0.999 (the LRPE fairseq runs used 0.98). */
  beta2?: number;
  /** ε, default 1e-8. */
  eps?: number;
}

export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay λ, default 0.01. */
  weightDecay?: number;
  /**
   * Which variables decay; default: rank ≥ 2 (matrices, embeddings), so biases,
   * LayerNorm gains and per-feature encoding parameters do not.
   * Pass `() => true` to decay everything (fairseq and Flax LRA do).
   */
  decay?: (name: string, v: tf.Variable) => boolean;
}

/** Default AdamW decay rule: only variables of rank ≥ 2. */
export const decayMatrices = (_name: string, v: tf.Variable): boolean => v.rank >= 2;

type Params = Module | Array<[string, tf.Variable]>;

interface Slot {
  name: string;
  param: tf.Variable;
  m: tf.Variable;
  v: tf.Variable;
  decays: boolean;
}

abstract class AdamFamily implements Optimizer {
  abstract readonly kind: string;
  private readonly slots: Slot[];
  private readonly byName = new Map<string, Slot>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private t = 0;

  protected constructor(
    params: Params,
    opts: AdamOptions,
    private readonly weightDecay: number,
    decay: (name: string, v: tf.Variable) => boolean,
  ) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    assertNumber(this.beta1, 'beta1', { min: 0, max: 0.999999 });
    assertNumber(this.beta2, 'beta2', { min: 0, max: 0.999999999 });
    assertNumber(this.eps, 'eps', { positive: true });
    assertNumber(weightDecay, 'weightDecay', { min: 0 });
    const named = params instanceof Module ? params.namedVariables() : params;
    if (!Array.isArray(named)) throw new Error(`params: expected a Module or an array of [name, tf.Variable], got ${String(params)}`);
    this.slots = named
      .filter(([, p]) => p.trainable)
      .map(([name, param]) => {
        if (param.dtype !== 'float32') throw new Error(`params: '${name}' is ${param.dtype}; only float32 variables can be trained`);
        if (this.byName.has(name)) throw new Error(`params: the name '${name}' appears twice`);
        const slot: Slot = {
          name,
          param,
          m: zeroMoment(param),
          v: zeroMoment(param),
          decays: weightDecay > 0 && decay(name, param),
        };
        this.byName.set(name, slot);
        return slot;
      });
    if (this.slots.length === 0) throw new Error('params: expected at least one trainable variable, got none');
  }

  get step(): number {
    return this.t;
  }

  /** Names of the variables this optimiser updates, in order. */
  names(): string[] {
    return this.slots.map((s) => s.name);
  }

  /** Names of the variables that weight decay applies to. */
  decayedNames(): string[] {
    return this.slots.filter((s) => s.decays).map((s) => s.name);
  }

  /**
   * One update. `grads[name]` has the shape of variable `name`; variables absent
   * from `grads` are left untouched. The gradients are not disposed.
   */
  apply(grads: NamedGrads, lr: number): void {
    assertNumber(lr, 'lr', { min: 0 });
    for (const name of Object.keys(grads)) {
      const slot = this.byName.get(name);
      if (!slot) throw new Error(`grads: '${name}' is not a trainable variable of this optimiser`);
      if (!sameShape(grads[name].shape, slot.param.shape)) {
        throw new Error(`grads: '${name}' has shape [${grads[name].shape.join(', ')}], expected [${slot.param.shape.join(', ')}]`);
      }
    }
    const t = this.t + 1;
    const { beta1, beta2, eps } = this;
    const stepSize = lr / (1 - beta1 ** t);
    const sqrtBc2 = Math.sqrt(1 - beta2 ** t);
    const fused = hasFusedAdamStep();
    tf.tidy(() => {
      for (const s of this.slots) {
        const g = grads[s.name];
        if (g === undefined) continue;
        if (fused) {
          // One kernel, the same float32 operations in the same order as the ops below (adam-kernels.ts).
          const keep = s.decays ? 1 - lr * this.weightDecay : 1;
          const c = { beta1, oneMinusBeta1: 1 - beta1, beta2, oneMinusBeta2: 1 - beta2, keep, sqrtBiasCorrection2: sqrtBc2, eps, stepSize };
          // Over the variables' own values where nothing else shares them; else into new tensors.
          if (adamStepInPlace(s.param, s.m, s.v, g, c)) continue;
          const [p, m, v] = fusedAdamStep(s.param, s.m, s.v, g, c);
          s.param.assign(p);
          s.m.assign(m);
          s.v.assign(v);
          continue;
        }
        const m = s.m.mul(beta1).add(g.mul(1 - beta1));
        const v = s.v.mul(beta2).add(g.square().mul(1 - beta2));
        const p = s.decays ? s.param.mul(1 - lr * this.weightDecay) : s.param;
        const update = m.div(v.sqrt().div(sqrtBc2).add(eps)).mul(stepSize);
        s.param.assign(p.sub(update));
        s.m.assign(m);
        s.v.assign(v);
      }
    });
    this.t = t;
  }

  getState(): OptimizerState {
    const slots: HostTensors = {};
    for (const s of this.slots) {
      slots[`m:${s.name}`] = toHost(s.m, `m:${s.name}`);
      slots[`v:${s.name}`] = toHost(s.v, `v:${s.name}`);
    }
    return { kind: this.kind, step: this.t, slots };
  }

  setState(state: OptimizerState): void {
    if (state == null || typeof state !== 'object') throw new Error(`state: expected an optimiser state object, got ${String(state)}`);
    if (state.kind !== this.kind) throw new Error(`state.kind: expected '${this.kind}', got ${JSON.stringify(state.kind)}`);
    assertInt(state.step, 'state.step', 0);
    const expected = new Set<string>();
    for (const s of this.slots) {
      for (const key of [`m:${s.name}`, `v:${s.name}`]) {
        expected.add(key);
        const h = state.slots?.[key];
        if (!h) throw new Error(`state.slots: missing '${key}' for variable '${s.name}'`);
        if (h.dtype !== 'float32' || !sameShape(h.shape, s.param.shape)) {
          throw new Error(`state.slots: '${key}' is ${describeShape(h.shape, h.dtype)}, expected ${describeShape(s.param.shape, 'float32')}`);
        }
        if (h.data.length !== s.param.size) throw new Error(`state.slots: '${key}' holds ${h.data.length} values, expected ${s.param.size}`);
      }
    }
    for (const key of Object.keys(state.slots)) {
      if (!expected.has(key)) throw new Error(`state.slots: unexpected '${key}' (no such trainable variable in this optimiser)`);
    }
    tf.tidy(() => {
      for (const s of this.slots) {
        s.m.assign(tf.tensor(state.slots[`m:${s.name}`].data, s.param.shape, 'float32'));
        s.v.assign(tf.tensor(state.slots[`v:${s.name}`].data, s.param.shape, 'float32'));
      }
    });
    this.t = state.step;
  }

  dispose(): void {
    for (const s of this.slots) {
      s.m.dispose();
      s.v.dispose();
    }
  }
}

/** Adam (Kingma & Ba) without weight decay. `params`: a Module or its `namedVariables()`; only trainable ones are updated. */
export class Adam extends AdamFamily {
  readonly kind = 'adam';
  constructor(params: Params, opts: AdamOptions = {}) {
    super(params, opts, 0, () => false);
  }
}

/** AdamW: Adam with decoupled weight decay on the variables `opts.decay` selects (default rank ≥ 2). */
export class AdamW extends AdamFamily {
  readonly kind = 'adamw';
  constructor(params: Params, opts: AdamWOptions = {}) {
    super(params, opts, opts.weightDecay ?? 0.01, opts.decay ?? decayMatrices);
  }
}

/** √(Σ‖g‖²) over all gradients, as a number. */
export function globalNorm(grads: NamedGrads): number {
  const gs = Object.values(grads);
  if (gs.length === 0) return 0;
  return tf.tidy(
    () =>
      tf
        .addN(gs.map((g) => g.square().sum()))
        .sqrt()
        .dataSync()[0],
  );
}

/**
 * Global-norm gradient clipping (as torch.nn.utils.clip_grad_norm_): when the
 * global norm exceeds `maxNorm`, every gradient is scaled by maxNorm / norm.
 * Returns new gradient tensors (the caller owns them; the inputs are not
 * disposed) and the pre-clip norm.
 */
export function clipGradNorm(grads: NamedGrads, maxNorm: number): { grads: NamedGrads; norm: number } {
  assertNumber(maxNorm, 'maxNorm', { positive: true });
  const norm = globalNorm(grads);
  const scale = norm > maxNorm ? maxNorm / norm : 1;
  const out: NamedGrads = {};
  for (const [name, g] of Object.entries(grads)) out[name] = scale === 1 ? g.clone() : tf.tidy(() => g.mul(scale));
  return { grads: out, norm };
}

/**
 * The value of `f` and its gradients with respect to the trainable variables
 * of `model`, keyed by dotted variable name. Variables `f` does not depend on
 * have no entry. The caller owns (and disposes, or tidies) all returned tensors.
 */
export function lossAndGrads(model: Module, f: () => tf.Scalar): { loss: tf.Scalar; grads: NamedGrads } {
  const named = model.namedVariables().filter(([, v]) => v.trainable);
  if (named.length === 0) throw new Error('model: expected at least one trainable variable, got none');
  const nameOf = new Map(named.map(([n, v]) => [v.name, n]));
  const { value, grads } = tf.variableGrads(
    f,
    named.map(([, v]) => v),
  );
  const out: NamedGrads = {};
  for (const [id, g] of Object.entries(grads)) out[nameOf.get(id)!] = g;
  return { loss: value, grads: out };
}

/** A non-trainable zero variable shaped like `param` (the initial value is freed, not leaked). */
function zeroMoment(param: tf.Variable): tf.Variable {
  const zeros = tf.zerosLike(param);
  const v = tf.variable(zeros, false);
  zeros.dispose();
  return v;
}
