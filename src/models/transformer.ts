/**
 * The transformer models of the experiments, as one readable file (nanoGPT-style):
 * config as plain data, a pre-LN block, a trunk, and three heads on it.
 *
 * - `CausalLM`: decoder-only language model with tied embeddings; recurrent decoding via `step`.
 * - `Encoder`: bidirectional encoder with CLS (or mean) pooling for classification and a tied
 *   masked-LM head for pretraining.
 * - `DualEncoder`: two passages through one shared `Encoder`, classified from [u, v, u*v, u-v]
 *   (the LRA retrieval head).
 *
 * Token ids are int32 [batch, length]; hidden states [batch, length, model]. Embeddings follow
 * fairseq: table ~ N(0, 1/model), scaled by √model on input, tied (unscaled) on output.
 */
import { tf, Rng, assertInt, assertRank, assertOneOf, assertNumber } from '../backend';
import { Module, Linear, LayerNorm, Embedding, FeedForward, dropout, tokenNll } from '../nn';
import { buildAbsoluteEncoding, APE_KINDS, type ApeKind, type AbsoluteEncoding } from '../encodings';
import { AttentionLayer, disposeAttentionState, type AttentionState } from '../attention/layer';
import { parseSpec } from '../attention/spec';

/** Model hyper-parameters, plain JSON-serialisable data. */
export interface TransformerConfig {
  vocabSize: number;
  /** Model width. */
  model: number;
  numLayers: number;
  numHeads: number;
  /** Feed-forward hidden width. */
  hidden: number;
  /** Longest sequence (learned APE table, permutation tables). */
  maxLength: number;
  /** Attention spec, e.g. 'linear:elu+lrpe(rotation,householder,learned)'. */
  attention: string;
  /** Absolute PE added to the embeddings: kept or dropped as in the papers. */
  ape: ApeKind;
  dropout: number;
  activation?: 'relu' | 'gelu';
  /** Initialisation seed. */
  seed: number;
}

/** Checks a config; every problem names its field. */
export function validateConfig(c: TransformerConfig): void {
  assertInt(c.vocabSize, 'config.vocabSize');
  assertInt(c.model, 'config.model');
  assertInt(c.numLayers, 'config.numLayers');
  assertInt(c.numHeads, 'config.numHeads');
  assertInt(c.hidden, 'config.hidden');
  assertInt(c.maxLength, 'config.maxLength');
  assertInt(c.seed, 'config.seed', 0, 0xffffffff);
  assertNumber(c.dropout, 'config.dropout', { min: 0, max: 0.99 });
  assertOneOf(c.ape, APE_KINDS, 'config.ape');
  if (c.activation !== undefined) assertOneOf(c.activation, ['relu', 'gelu'] as const, 'config.activation');
  if (c.model % c.numHeads !== 0) throw new Error(`config.numHeads: model (${c.model}) must be divisible by numHeads (${c.numHeads})`);
  parseSpec(c.attention);
}

/** Per-call options of a model. */
export interface ForwardOptions {
  training?: boolean;
  /** Draws for dropout, SPE codes and FAVOR+ redraws. Required when training with dropout. */
  rng?: Rng;
  /**
   * Fixed positional codes: when set, every layer draws its SPE code from `new Rng(codeSeed)`
   * (forked per layer) on every call, so a full forward and a token-by-token decode see the
   * same code. When unset, codes are fresh draws from `rng` (or the layers' own generators).
   */
  codeSeed?: number;
  /** [batch, length]: 1 for real tokens, 0 for padding (bidirectional models). */
  keyMask?: tf.Tensor2D;
  /** 2-D layout of image sequences, forwarded to the encodings. */
  grid?: { rows: number; cols: number };
}

/** Pre-LN transformer block: x + Attn(LN(x)), then x + FFN(LN(x)). x: [B, L, model]. */
export class Block extends Module {
  readonly attn: AttentionLayer;
  private readonly ln1: LayerNorm;
  private readonly ln2: LayerNorm;
  private readonly ffn: FeedForward;

  constructor(
    private readonly cfg: TransformerConfig,
    rng: Rng,
  ) {
    super();
    try {
      this.ln1 = this.addModule('ln1', new LayerNorm(cfg.model));
      this.attn = this.addModule(
        'attn',
        new AttentionLayer({ model: cfg.model, numHeads: cfg.numHeads, spec: cfg.attention, maxLength: cfg.maxLength, rng: rng.fork('attn') }),
      );
      this.ln2 = this.addModule('ln2', new LayerNorm(cfg.model));
      this.ffn = this.addModule('ffn', new FeedForward(cfg.model, cfg.hidden, cfg.activation ?? 'relu', rng.fork('ffn')));
    } catch (e) {
      this.dispose(); // the parts built before the one that refused
      throw e;
    }
  }

  apply(x: tf.Tensor3D, opts: ForwardOptions & { causal: boolean; offset?: number; layerRng?: Rng }): tf.Tensor3D {
    return tf.tidy(() => {
      const training = opts.training ?? false;
      const a = this.attn.apply(this.ln1.apply(x), {
        causal: opts.causal,
        offset: opts.offset,
        rng: opts.layerRng,
        training,
        keyMask: opts.keyMask,
        grid: opts.grid,
      });
      const h = x.add(dropout(a, this.cfg.dropout, opts.rng, training));
      const f = this.ffn.apply(this.ln2.apply(h), this.cfg.dropout, opts.rng, training);
      return h.add(dropout(f, this.cfg.dropout, opts.rng, training)) as tf.Tensor3D;
    });
  }

  step(x: tf.Tensor3D, state: AttentionState, layerRng?: Rng): { out: tf.Tensor3D; state: AttentionState } {
    let next: AttentionState | null = null;
    const out = tf.tidy(() => {
      const r = this.attn.step(this.ln1.apply(x), state, { rng: layerRng });
      next = r.state;
      const h = x.add(r.out);
      return h.add(this.ffn.apply(this.ln2.apply(h))) as tf.Tensor3D;
    });
    return { out, state: next! };
  }
}

/** Embedding + absolute PE + blocks + final LayerNorm, shared by every head. */
export class Transformer extends Module {
  readonly embed: Embedding;
  readonly ape: AbsoluteEncoding | null;
  readonly blocks: Block[];
  readonly lnf: LayerNorm;

  constructor(readonly config: TransformerConfig) {
    super();
    validateConfig(config);
    // A part that refuses the configuration disposes the parts built before it.
    try {
      const rng = new Rng(config.seed);
      // fairseq's convention (the LRPE LM; the SPE music model also scales by √model): table ~ N(0, 1/model),
      // looked up and multiplied by √model, so a token's embedding has unit-size entries like a
      // sinusoidal APE added to it; the tied output projection uses the table unscaled.
      this.embed = this.addModule('embed', new Embedding(config.vocabSize, config.model, { rng: rng.fork('embed'), std: 1 / Math.sqrt(config.model) }));
      const ape = buildAbsoluteEncoding(config.ape, config.model, config.maxLength, rng.fork('ape'));
      this.ape = ape ? this.addModule('ape', ape) : null;
      this.blocks = Array.from({ length: config.numLayers }, (_, i) => this.addModule(`blocks.${i}`, new Block(config, rng.fork(`block${i}`))));
      this.lnf = this.addModule('lnf', new LayerNorm(config.model));
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** The generator each layer draws its codes from on this call. */
  layerRng(i: number, opts: ForwardOptions): Rng | undefined {
    if (opts.codeSeed !== undefined) return new Rng(opts.codeSeed).fork(`layer${i}`);
    return opts.rng;
  }

  /** Token embeddings (+ APE) [B, L, model], with dropout. `prefix` is prepended (CLS). */
  embedTokens(ids: tf.Tensor2D, opts: ForwardOptions, offset = 0, prefix?: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      let x = (this.embed.apply(ids) as tf.Tensor3D).mul(Math.sqrt(this.config.model)) as tf.Tensor3D;
      if (prefix) x = tf.concat([prefix, x], 1);
      if (this.ape) x = this.ape.apply(x, { offset });
      return dropout(x, this.config.dropout, opts.rng, opts.training ?? false) as tf.Tensor3D;
    });
  }

  /** Runs the blocks and the final LayerNorm. x: [B, L, model] -> [B, L, model]. */
  run(x: tf.Tensor3D, opts: ForwardOptions & { causal: boolean; offset?: number }): tf.Tensor3D {
    return tf.tidy(() => {
      let h = x;
      this.blocks.forEach((b, i) => {
        h = b.apply(h, { ...opts, layerRng: this.layerRng(i, opts) });
      });
      return this.lnf.apply(h) as tf.Tensor3D;
    });
  }

  /** Tied output projection: h [..., model] -> logits [..., vocab]. */
  tiedLogits(h: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = h.shape.slice(0, -1);
      return tf.matMul(h.reshape([-1, this.config.model]), this.embed.table, false, true).reshape([...lead, this.config.vocabSize]);
    });
  }
}

function checkIds(ids: tf.Tensor, name: string, maxLength?: number): void {
  assertRank(ids, 2, name, '[batch, length]');
  if (ids.dtype !== 'int32') throw new Error(`${name}: expected int32 token ids, got dtype ${ids.dtype}`);
  const length = ids.shape[1]!;
  if (maxLength !== undefined && length > maxLength) throw new Error(`${name}: length ${length} exceeds config.maxLength ${maxLength}`);
}

/** Decoder-only causal language model with tied embeddings. */
export class CausalLM extends Module {
  readonly trunk: Transformer;
  constructor(readonly config: TransformerConfig) {
    super();
    this.trunk = this.addModule('trunk', new Transformer(config));
  }

  /** ids int32 [B, L] -> logits [B, L, vocab]. Positions start at `offset`. */
  logits(ids: tf.Tensor2D, opts: ForwardOptions & { offset?: number } = {}): tf.Tensor3D {
    checkIds(ids, 'ids', this.trunk.ape?.kind === 'learned' ? this.config.maxLength : undefined);
    return tf.tidy(() => {
      const offset = opts.offset ?? 0;
      const h = this.trunk.run(this.trunk.embedTokens(ids, opts, offset), { ...opts, causal: true, offset });
      return this.trunk.tiedLogits(h) as tf.Tensor3D;
    });
  }

  /** Per-token NLL (nats) [B, L] of `targets` (int32 [B, L]) given `ids`. */
  tokenNLL(ids: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    assertRank(targets, 2, 'targets', '[batch, length]');
    if (targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new Error(`targets: expected shape [${ids.shape.join(', ')}] like ids, got [${targets.shape.join(', ')}]`);
    }
    return tf.tidy(() => tokenNll(this.logits(ids, opts), targets) as tf.Tensor2D);
  }

  /** Mean next-token cross-entropy (nats). */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, opts: ForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => this.tokenNLL(ids, targets, opts).mean() as tf.Scalar);
  }

  /** Empty per-layer decoding states. */
  initState(batch: number): AttentionState[] {
    return this.trunk.blocks.map((b) => b.attn.initState(batch));
  }

  /**
   * One decoding step: ids int32 [B, 1] at position `states[0].position` -> logits [B, vocab].
   * Returns new states; the old ones are disposed here.
   */
  step(ids: tf.Tensor2D, states: AttentionState[], opts: Pick<ForwardOptions, 'codeSeed'> = {}): { logits: tf.Tensor2D; states: AttentionState[] } {
    checkIds(ids, 'ids');
    if (ids.shape[1] !== 1) throw new Error(`ids: step takes one token per sequence, got length ${ids.shape[1]}`);
    if (states.length !== this.trunk.blocks.length) throw new Error(`states: expected ${this.trunk.blocks.length} layer states, got ${states.length}`);
    const position = states[0].position;
    const next: AttentionState[] = [];
    const logits = tf.tidy(() => {
      let h = this.trunk.embedTokens(ids, {}, position);
      this.trunk.blocks.forEach((b, i) => {
        const r = b.step(h, states[i], this.trunk.layerRng(i, opts));
        next.push(r.state);
        h = r.out;
      });
      return this.trunk.tiedLogits(this.trunk.lnf.apply(h)).reshape([ids.shape[0], this.config.vocabSize]) as tf.Tensor2D;
    });
    states.forEach(disposeAttentionState);
    return { logits, states: next };
  }
}

/** Bidirectional encoder: CLS (or mean) pooled classification and a tied masked-LM head. */
export class Encoder extends Module {
  readonly trunk: Transformer;
  readonly cls: tf.Variable;
  private readonly head: Linear | null;

  /** @param numClasses classes of the classification head (0: no head, e.g. MLM only). */
  constructor(
    readonly config: TransformerConfig,
    readonly numClasses: number,
    readonly pool: 'cls' | 'mean' = 'cls',
  ) {
    super();
    assertInt(numClasses, 'numClasses', 0);
    assertOneOf(pool, ['cls', 'mean'] as const, 'pool');
    this.trunk = this.addModule('trunk', new Transformer(config));
    const rng = new Rng(config.seed).fork('encoder-head');
    this.cls = this.addParameter('cls', tf.tensor(rng.normalArray(config.model, 0, 0.02), [1, 1, config.model]));
    this.head = numClasses > 0 ? this.addModule('head', new Linear(config.model, numClasses, { rng })) : null;
  }

  /** ids int32 [B, L] -> hidden [B, L+1, model] (CLS first when pool = 'cls', else [B, L, model]). */
  hidden(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    checkIds(ids, 'ids');
    return tf.tidy(() => {
      const [b] = ids.shape;
      const useCls = this.pool === 'cls';
      const prefix = useCls ? (this.cls.tile([b, 1, 1]) as tf.Tensor3D) : undefined;
      let keyMask = opts.keyMask;
      if (keyMask && useCls) keyMask = tf.concat([tf.ones([b, 1]), keyMask.toFloat()], 1) as tf.Tensor2D;
      const x = this.trunk.embedTokens(ids, opts, 0, prefix);
      return this.trunk.run(x, { ...opts, keyMask, causal: false });
    });
  }

  /** Pooled representation [B, model]. */
  pooled(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const h = this.hidden(ids, opts);
      if (this.pool === 'cls') return h.slice([0, 0, 0], [-1, 1, -1]).squeeze([1]) as tf.Tensor2D;
      if (!opts.keyMask) return h.mean(1) as tf.Tensor2D;
      const m = opts.keyMask.toFloat().expandDims(-1);
      return h.mul(m).sum(1).div(m.sum(1).maximum(1)) as tf.Tensor2D;
    });
  }

  /** Class logits [B, numClasses]. */
  classify(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor2D {
    if (!this.head) throw new Error('numClasses: this encoder was built without a classification head (numClasses = 0)');
    return tf.tidy(() => this.head!.apply(this.pooled(ids, opts)) as tf.Tensor2D);
  }

  /**
   * Masked-LM logits at chosen positions only, as BERT computes them: ids [B, L], positions int32
   * [P] (flat indices b·L + t of the masked tokens) -> [P, vocab] (tied embeddings). The same numbers
   * as the rows of `mlmLogits`, at P/(B·L) of the output layer's cost.
   */
  mlmLogitsAt(ids: tf.Tensor2D, positions: tf.Tensor1D, opts: ForwardOptions = {}): tf.Tensor2D {
    if (positions.dtype !== 'int32' || positions.rank !== 1)
      throw new Error(`positions: expected a 1-D int32 tensor of flat positions, got ${positions.dtype} rank ${positions.rank}`);
    return tf.tidy(() => {
      let h = this.hidden(ids, opts);
      if (this.pool === 'cls') h = h.slice([0, 1, 0], [-1, -1, -1]);
      const rows = tf.gather(h.reshape([-1, this.config.model]), positions);
      return this.trunk.tiedLogits(rows) as tf.Tensor2D;
    });
  }

  /** Masked-LM logits over the token positions [B, L, vocab] (tied embeddings). */
  mlmLogits(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      let h = this.hidden(ids, opts);
      if (this.pool === 'cls') h = h.slice([0, 1, 0], [-1, -1, -1]);
      return this.trunk.tiedLogits(h) as tf.Tensor3D;
    });
  }
}

/** Two passages through one shared encoder; logits from [u, v, u*v, u-v] (LRA retrieval head). */
export class DualEncoder extends Module {
  readonly encoder: Encoder;
  private readonly mlp: Linear;
  private readonly outLayer: Linear;

  /**
   * @param config the shared encoder's configuration
   * @param numClasses outputs of the head (2: same / different)
   * @param pool how the encoder pools each passage: 'cls' or 'mean' (see Encoder)
   */
  constructor(
    readonly config: TransformerConfig,
    readonly numClasses = 2,
    readonly pool: 'cls' | 'mean' = 'cls',
  ) {
    super();
    this.encoder = this.addModule('encoder', new Encoder(config, 0, pool));
    const rng = new Rng(config.seed).fork('dual-head');
    this.mlp = this.addModule('mlp', new Linear(4 * config.model, config.hidden, { rng: rng.fork('mlp') }));
    this.outLayer = this.addModule('out', new Linear(config.hidden, numClasses, { rng: rng.fork('out') }));
  }

  /** a, b: int32 [B, L] -> logits [B, numClasses]. */
  classify(a: tf.Tensor2D, b: tf.Tensor2D, opts: ForwardOptions & { keyMaskB?: tf.Tensor2D } = {}): tf.Tensor2D {
    return tf.tidy(() => {
      const u = this.encoder.pooled(a, opts);
      const v = this.encoder.pooled(b, { ...opts, keyMask: opts.keyMaskB });
      const f = tf.concat([u, v, u.mul(v), u.sub(v)], -1);
      return this.outLayer.apply(tf.relu(this.mlp.apply(f))) as tf.Tensor2D;
    });
  }
}
