/**
 * `Module`: the one way rpelab holds parameters (nanoGPT-style, no tf.layers).
 *
 * A module owns named tf.Variables (trainable parameters and frozen buffers)
 * and named child modules. `namedVariables()` walks the tree with dotted
 * names ("layers.0.attn.lrpe.theta"), which is what checkpoints save and what
 * optimisers update. `dispose()` frees every variable of the tree.
 */
import { tf } from '../backend';

export abstract class Module {
  private readonly vars = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();

  /** Registers a trainable parameter initialised from `init` (which is kept, not copied). */
  protected addParameter(name: string, init: tf.Tensor): tf.Variable {
    return this.addVariable(name, init, true);
  }

  /** Registers a frozen buffer (saved in checkpoints, never trained). */
  protected addBuffer(name: string, init: tf.Tensor): tf.Variable {
    return this.addVariable(name, init, false);
  }

  private addVariable(name: string, init: tf.Tensor, trainable: boolean): tf.Variable {
    if (this.vars.has(name) || this.children.has(name)) throw new Error(`name: '${name}' is already registered in ${this.constructor.name}`);
    const v = tf.variable(init, trainable);
    init.dispose();
    this.vars.set(name, v);
    return v;
  }

  /** Registers a child module under `name` and returns it. */
  protected addModule<T extends Module>(name: string, m: T): T {
    if (this.vars.has(name) || this.children.has(name)) throw new Error(`name: '${name}' is already registered in ${this.constructor.name}`);
    this.children.set(name, m);
    return m;
  }

  /** Every variable in this module and its children, with dotted names, in registration order. */
  namedVariables(prefix = ''): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [n, v] of this.vars) out.push([prefix + n, v]);
    for (const [n, m] of this.children) out.push(...m.namedVariables(`${prefix}${n}.`));
    return out;
  }

  /** The trainable variables of the tree. */
  trainableVariables(): tf.Variable[] {
    return this.namedVariables()
      .filter(([, v]) => v.trainable)
      .map(([, v]) => v);
  }

  /** Number of trainable scalars. */
  numParameters(): number {
    return this.trainableVariables().reduce((n, v) => n + v.size, 0);
  }

  /** Disposes every variable of the tree. The module must not be used afterwards. */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    for (const m of this.children.values()) m.dispose();
    this.vars.clear();
    this.children.clear();
  }
}
