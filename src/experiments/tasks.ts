/**
 * The task kinds of the experiments: each turns (dataset, scale settings, variant, seed) into a
 * model, a loss, a batch source and its evaluations, ready for `train()`.
 *
 * | task           | model                   | trains on                      | reports                                   |
 * |----------------|-------------------------|--------------------------------|-------------------------------------------|
 * | causal-lm      | CausalLM                | random windows of the stream   | val/test perplexity, bits per byte        |
 * | masked-lm      | Encoder (mean, MLM head)| windows, 15 % masked (BERT)    | masked-token val/test perplexity          |
 * | classification | Encoder (CLS; images mean) | sampled training examples (text subwords: a masked-LM phase first) | val/test accuracy (%) |
 * | retrieval      | DualEncoder             | fresh passage pairs            | val/test accuracy (%)                     |
 * | extrapolation  | CausalLM                | windows of length L            | NLL by position up to `extrapolation`·L   |
 * | pe-quality     | CausalLM                | windows of length L            | translation invariance, monotonicity, NLL |
 * | continuation   | CausalLM (MIDI)         | windows of length L            | style similarity of sampled continuations |
 *
 * Evaluation is deterministic: held-out sets are fixed, and SPE codes / FAVOR+ features at
 * evaluation come from a fixed generator, not from the training ones.
 */
import { tf, Rng } from '../backend';
import { CausalLM, Encoder, DualEncoder, generate, type TransformerConfig, type ForwardOptions } from '../models';
import { midiVocab } from '../data';
import { segmentSimilarity, median } from './continuation';
import { crossEntropy, type Module } from '../nn';
import { lmBatch, type TokenStream } from '../data';
import { nllByPosition, type StepContext } from '../train';
import type { ExperimentDefinition, ScaleSettings, VariantDefinition } from './types';
import {
  textStream,
  midiStream,
  imdbData,
  imdbSubwordData,
  imageData,
  listOpsData,
  pairSet,
  trainPairs,
  type ClassificationData,
  type SubwordClassificationData,
  type Stream,
} from './datasets';
import { SUBWORD_MASK } from '../data';
import { causalAttentionMaps, peQualityScores } from './pe-quality';

/** What a task needs to know about one run. */
export interface TaskInput {
  experiment: ExperimentDefinition;
  variant: VariantDefinition;
  settings: ScaleSettings;
  /** The resolved attention spec. */
  spec: string;
  seed: number;
}

/** Final numbers of a run. */
export interface TaskResult {
  metrics: Record<string, number>;
  /** Per-position curves (extrapolation: mean NLL at each position). */
  curves?: Record<string, number[]>;
}

/** A model with everything `train()` needs, plus the final test. */
export interface TaskRun<B = unknown> {
  model: Module;
  modelConfig: TransformerConfig;
  loss(batch: B, ctx: StepContext): tf.Scalar;
  /** Batch of update `step`; tensors are freed by the training loop's tidy. */
  nextBatch(step: number, rng: Rng): B;
  tokensIn(batch: B): number;
  /** Validation numbers during training. */
  validate(): Record<string, number>;
  /**
   * Validation and test numbers at the end. `validated`: what `validate()` returned for the final
   * model, when the training loop computed it at the last update; it is reused, not recomputed (the
   * same weights and the same evaluation draws, EVAL_SEED, give the same numbers).
   */
  test(validated?: Record<string, number>): TaskResult;
}

/** The seed of evaluation-time draws (SPE codes, FAVOR+ features, MLM masks). */
const EVAL_SEED = 0x5eed;

function modelConfig(t: TaskInput, vocabSize: number, maxLength: number): TransformerConfig {
  const s = t.settings;
  return {
    vocabSize,
    model: s.model,
    numLayers: s.numLayers,
    numHeads: s.numHeads,
    hidden: s.hidden,
    maxLength,
    attention: t.spec,
    ape: t.variant.ape,
    dropout: s.dropout,
    activation: 'relu',
    seed: t.seed,
  };
}

/** `count` windows of `length + 1` tokens spread evenly over the stream (deterministic). */
function evalWindows(stream: TokenStream, length: number, count: number): { inputs: Int32Array; targets: Int32Array; count: number } {
  const span = stream.length - length - 1;
  if (span < 0) throw new Error(`length: ${length} is longer than the evaluation stream (${stream.length} tokens)`);
  const inputs = new Int32Array(count * length);
  const targets = new Int32Array(count * length);
  for (let i = 0; i < count; i++) {
    const start = count === 1 ? 0 : Math.floor((i * span) / (count - 1));
    inputs.set(stream.subarray(start, start + length), i * length);
    targets.set(stream.subarray(start + 1, start + 1 + length), i * length);
  }
  return { inputs, targets, count };
}

/** Calls `f` on consecutive row batches [from, to) of `count` rows. */
function inBatches(count: number, batchSize: number, f: (from: number, to: number) => void): void {
  for (let from = 0; from < count; from += batchSize) f(from, Math.min(count, from + batchSize));
}

/** Per-token NLL [count, length] of a causal LM on fixed windows. */
function windowNll(lm: CausalLM, w: { inputs: Int32Array; targets: Int32Array; count: number }, length: number, batchSize: number): Float32Array {
  const out = new Float32Array(w.count * length);
  const rng = new Rng(EVAL_SEED);
  inBatches(w.count, batchSize, (from, to) => {
    const nll = tf.tidy(() => {
      const ids = tf.tensor2d(w.inputs.subarray(from * length, to * length), [to - from, length], 'int32');
      const tg = tf.tensor2d(w.targets.subarray(from * length, to * length), [to - from, length], 'int32');
      return lm.tokenNLL(ids, tg, { rng });
    });
    out.set(nll.dataSync(), from * length);
    nll.dispose();
  });
  return out;
}

function mean(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i];
  return s / Math.max(1, to - from);
}

/** NLL (nats), perplexity and bits per token of `prefix` ('val' / 'test'). */
function lmNumbers(prefix: string, nll: number): Record<string, number> {
  return { [`${prefix}_nll`]: nll, [`${prefix}_ppl`]: Math.exp(nll), [`${prefix}_bpb`]: nll / Math.LN2 };
}

interface LmBatchTensors {
  inputs: tf.Tensor2D;
  targets: tf.Tensor2D;
}

function streamsOf(t: TaskInput): { train: Stream; valid: Stream; test: Stream } {
  const load = t.experiment.dataset === 'midi' ? midiStream : t.experiment.dataset === 'gutenberg' ? textStream : null;
  if (!load) throw new Error(`dataset: task '${t.experiment.task}' needs a token stream ('gutenberg' or 'midi'), got '${t.experiment.dataset}'`);
  return { train: load('train'), valid: load('valid'), test: load('test') };
}

/** Segments of a continuation scored separately (the last half of them make `sim_late`). */
const CONTINUATION_SEGMENTS = 4;

/**
 * Groove continuation (SPE, §3.3): `count` held-out prompts of L events, each continued by
 * sampling L more (nucleus 0.9, a fixed generator); per segment of the continuation, the median
 * over prompts of its style similarity to the prompt (`continuation.ts`). The true continuations
 * of the same prompts give the reference level.
 */
function continuationScores(lm: CausalLM, stream: TokenStream, L: number, count: number): TaskResult {
  const vocab = midiVocab();
  const w = evalWindows(stream, 2 * L, count);
  const prompts = Array.from({ length: w.count }, (_, i) => Array.from(w.inputs.subarray(i * 2 * L, i * 2 * L + L)));
  const truth = Array.from({ length: w.count }, (_, i) => w.inputs.subarray(i * 2 * L + L, (i + 1) * 2 * L));
  const generated = generate(lm, prompts, { maxNewTokens: L, strategy: 'sample', topP: 0.9, rng: new Rng(EVAL_SEED) });
  const bySegment = (conts: ArrayLike<number>[]) => {
    const sims = conts.map((c, i) => segmentSimilarity(prompts[i], c, CONTINUATION_SEGMENTS, vocab));
    return Array.from({ length: CONTINUATION_SEGMENTS }, (_, j) => median(sims.map((x) => x[j])));
  };
  const gen = bySegment(generated);
  const ref = bySegment(truth);
  const half = CONTINUATION_SEGMENTS / 2;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    metrics: { sim_early: mean(gen.slice(0, half)), sim_late: mean(gen.slice(half)), sim_true_late: mean(ref.slice(half)) },
    curves: { similarity_by_segment: gen, true_similarity_by_segment: ref },
  };
}

/** Causal LM, extrapolation, PE-quality and continuation: the same training, different final tests. */
function causalTask(t: TaskInput): TaskRun<LmBatchTensors> {
  const s = t.settings;
  const L = s.length;
  const { train, valid, test } = streamsOf(t);
  const evalLength = t.experiment.task === 'extrapolation' ? L * (s.extrapolation ?? 4) : t.experiment.task === 'continuation' ? 2 * L : L;
  const cfg = modelConfig(t, train.vocabSize, evalLength);
  const lm = new CausalLM(cfg);
  const validWindows = evalWindows(valid.tokens, L, s.evalSize);
  const validate = () => lmNumbers('val', mean(windowNll(lm, validWindows, L, s.batchSize)));

  const test_ = (validated?: Record<string, number>): TaskResult => {
    const metrics: Record<string, number> = { ...(validated ?? validate()) };
    if (t.experiment.task === 'causal-lm') {
      Object.assign(metrics, lmNumbers('test', mean(windowNll(lm, evalWindows(test.tokens, L, s.evalSize), L, s.batchSize))));
      return { metrics };
    }
    if (t.experiment.task === 'continuation') {
      const c = continuationScores(lm, test.tokens, L, s.evalSize);
      return { metrics: { ...metrics, ...c.metrics }, curves: c.curves };
    }
    if (t.experiment.task === 'extrapolation') {
      const w = evalWindows(test.tokens, evalLength, s.evalSize);
      const nll = windowNll(lm, w, evalLength, Math.max(1, Math.floor(s.batchSize / 2)));
      const rows = Array.from({ length: w.count }, (_, i) => nll.subarray(i * evalLength, (i + 1) * evalLength));
      const byPos = Array.from(nllByPosition(rows).mean);
      metrics.nll_1x = mean(byPos, 0, L);
      metrics.nll_2x = mean(byPos, L, Math.min(evalLength, 2 * L));
      if (evalLength >= 4 * L) metrics.nll_4x = mean(byPos, 2 * L, 4 * L);
      if (evalLength >= 8 * L) metrics.nll_8x = mean(byPos, 4 * L, 8 * L);
      return { metrics, curves: { nll_by_position: byPos } };
    }
    // pe-quality
    const w = evalWindows(test.tokens, L, s.evalSize);
    Object.assign(metrics, lmNumbers('test', mean(windowNll(lm, w, L, s.batchSize))));
    const n = Math.min(w.count, s.batchSize);
    const ids = tf.tensor2d(w.inputs.subarray(0, n * L), [n, L], 'int32');
    const maps = causalAttentionMaps(lm, ids, { rng: new Rng(EVAL_SEED) });
    ids.dispose();
    const q = peQualityScores(maps);
    metrics.ti = q.translationInvariance;
    metrics.mono = q.monotonicity;
    return { metrics };
  };

  return {
    model: lm,
    modelConfig: cfg,
    nextBatch: (_step, rng) => {
      const b = lmBatch(train.tokens, { batchSize: s.batchSize, length: L, rng });
      return { inputs: tf.tensor2d(b.inputs, [s.batchSize, L], 'int32'), targets: tf.tensor2d(b.targets, [s.batchSize, L], 'int32') };
    },
    loss: (b, ctx) => lm.loss(b.inputs, b.targets, { training: true, rng: ctx.rng }),
    tokensIn: () => s.batchSize * L,
    validate,
    test: test_,
  };
}

/** BERT masking of `inputs` in place: 15 % of positions chosen; of those 80 % -> mask id, 10 % random, 10 % kept. */
function maskTokens(inputs: Int32Array, vocab: number, maskId: number, rng: Rng): Float32Array {
  // When the mask id is a low reserved one (subwords: PAD, UNK, MASK), no id up to it comes as a random replacement.
  const low = maskId < vocab ? maskId + 1 : 0;
  const chosen = new Float32Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    if (rng.uniform() >= 0.15) continue;
    chosen[i] = 1;
    const u = rng.uniform();
    if (u < 0.8) inputs[i] = maskId;
    else if (u < 0.9) inputs[i] = low + rng.int(vocab - low);
  }
  if (!chosen.some((c) => c === 1)) {
    chosen[0] = 1;
    inputs[0] = maskId;
  }
  return chosen;
}

interface MlmBatchTensors {
  inputs: tf.Tensor2D;
  targets: tf.Tensor2D;
  mask: tf.Tensor2D;
}

/** Bidirectional masked LM on the byte stream (vocabulary 256 + one mask id). */
function maskedLmTask(t: TaskInput): TaskRun<MlmBatchTensors> {
  const s = t.settings;
  const L = s.length;
  const { train, valid, test } = streamsOf(t);
  const maskId = train.vocabSize;
  const cfg = modelConfig(t, train.vocabSize + 1, L);
  const enc = new Encoder(cfg, 0, 'mean');
  const build = (targets: Int32Array, rng: Rng, n: number): MlmBatchTensors => {
    const inputs = targets.slice();
    const mask = maskTokens(inputs, train.vocabSize, maskId, rng);
    return { inputs: tf.tensor2d(inputs, [n, L], 'int32'), targets: tf.tensor2d(targets, [n, L], 'int32'), mask: tf.tensor2d(mask, [n, L]) };
  };
  const evaluate = (stream: Stream, prefix: string) => {
    const w = evalWindows(stream.tokens, L, s.evalSize);
    const rng = new Rng(EVAL_SEED);
    const maskRng = new Rng(EVAL_SEED + 1);
    let sum = 0;
    let count = 0;
    inBatches(w.count, s.batchSize, (from, to) => {
      const [total, n] = tf.tidy(() => {
        const b = build(w.inputs.slice(from * L, to * L), maskRng, to - from);
        const logits = enc.mlmLogits(b.inputs, { rng });
        const ce = crossEntropy(logits, b.targets, b.mask);
        const m = b.mask.sum().dataSync()[0];
        return [ce.dataSync()[0] * m, m];
      });
      sum += total;
      count += n;
    });
    return lmNumbers(prefix, sum / count);
  };
  return {
    model: enc,
    modelConfig: cfg,
    nextBatch: (_step, rng) => {
      const b = lmBatch(train.tokens, { batchSize: s.batchSize, length: L, rng });
      return build(b.inputs, rng, s.batchSize);
    },
    loss: (b, ctx) => crossEntropy(enc.mlmLogits(b.inputs, { training: true, rng: ctx.rng }), b.targets, b.mask),
    tokensIn: () => s.batchSize * L,
    validate: () => evaluate(valid, 'val'),
    test: (validated) => ({ metrics: { ...(validated ?? evaluate(valid, 'val')), ...evaluate(test, 'test') } }),
  };
}

function classificationData(t: TaskInput): ClassificationData {
  const s = t.settings;
  switch (t.experiment.dataset) {
    case 'imdb':
      return imdbData(s.length, s.trainSize, s.evalSize);
    case 'imdb-subwords':
      if (s.vocabSize === undefined) throw new Error(`vocabSize: dataset 'imdb-subwords' needs the scale's vocabSize (subword vocabulary size)`);
      return imdbSubwordData(s.length, s.trainSize, s.evalSize, s.vocabSize);
    case 'mnist':
    case 'fashion-mnist':
      return imageData(t.experiment.dataset, s.imageSize ?? 32, s.trainSize, s.evalSize);
    case 'listops':
      return listOpsData(s.length, s.listopsDepth ?? 10, s.trainSize, s.evalSize);
    default:
      throw new Error(`dataset: task 'classification' takes imdb, imdb-subwords, mnist, fashion-mnist or listops, got '${t.experiment.dataset}'`);
  }
}

interface ClassBatchTensors {
  ids: tf.Tensor2D;
  labels: tf.Tensor1D;
  keyMask?: tf.Tensor2D;
}

/** Rows `idx` of a set as tensors (with a key mask from `lengths` when padded). */
function rowsOf(set: ClassificationData['train'], idx: ArrayLike<number>, padded: boolean): ClassBatchTensors {
  const L = set.length;
  const n = idx.length;
  const ids = new Int32Array(n * L);
  const labels = new Int32Array(n);
  const mask = padded ? new Float32Array(n * L) : null;
  for (let i = 0; i < n; i++) {
    const r = idx[i];
    ids.set(set.tokens.subarray(r * L, (r + 1) * L), i * L);
    labels[i] = set.labels[r];
    if (mask) mask.fill(1, i * L, i * L + Math.max(1, set.lengths[r]));
  }
  return {
    ids: tf.tensor2d(ids, [n, L], 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
    keyMask: mask ? tf.tensor2d(mask, [n, L]) : undefined,
  };
}

/** Accuracy (%) over `count` rows, from the logits and labels of each batch. */
function accuracyOver(count: number, batchSize: number, batch: (from: number, to: number) => { logits: tf.Tensor2D; labels: tf.Tensor1D }): number {
  let correct = 0;
  inBatches(count, batchSize, (from, to) => {
    correct += tf.tidy(() => {
      const { logits, labels } = batch(from, to);
      return tf.equal(tf.argMax(logits, -1), labels).sum().dataSync()[0];
    });
  });
  return (100 * correct) / count;
}

const range = (from: number, to: number) => Int32Array.from({ length: to - from }, (_, i) => from + i);

/** A masked-LM batch scored at its masked positions only: inputs [B, L], positions and targets [P]. */
interface SparseMlmBatch {
  kind: 'mlm';
  inputs: tf.Tensor2D;
  positions: tf.Tensor1D;
  targets: tf.Tensor1D;
}
type ClassOrMlmBatch = ({ kind: 'class' } & ClassBatchTensors) | SparseMlmBatch;

/**
 * Sequence classification: IMDB bytes or subwords, ListOps, images (the experiment's `pool`: CLS by default, mean for
 * images). With `pretrainSteps` (text subwords), updates 0 .. pretrainSteps − 1 train the same
 * encoder as a masked LM on the training texts (BERT masking, tied output embeddings, logits at the
 * masked positions only), the rest on the labels: one run, one optimiser, one schedule over both phases.
 */
function classificationTask(t: TaskInput): TaskRun<ClassOrMlmBatch> {
  const s = t.settings;
  const data = classificationData(t);
  const L = data.train.length;
  const image = data.imageSize !== undefined;
  const grid = image && t.variant.grid ? { rows: data.imageSize!, cols: data.imageSize! } : undefined;
  const pool = t.experiment.pool ?? (image ? 'mean' : 'cls');
  const cfg = modelConfig(t, data.train.vocabSize, pool === 'mean' ? L : L + 1);
  const enc = new Encoder(cfg, data.train.numClasses, pool);
  const pretrainSteps = s.pretrainSteps ?? 0;
  const pretrain = (data as Partial<SubwordClassificationData>).pretrain;
  if (pretrainSteps > 0 && !pretrain) throw new Error(`pretrainSteps: dataset '${t.experiment.dataset}' has no text to pretrain on (use imdb-subwords, or 0)`);
  if (pretrainSteps >= s.steps) throw new Error(`pretrainSteps: expected fewer than the ${s.steps} updates (the rest fine-tune), got ${pretrainSteps}`);
  const opts = (b: ClassBatchTensors, extra: ForwardOptions): ForwardOptions => ({ ...extra, keyMask: b.keyMask, grid });
  const evaluate = (set: ClassificationData['train']) => {
    const rng = new Rng(EVAL_SEED);
    return accuracyOver(set.count, s.batchSize, (from, to) => {
      const b = rowsOf(set, range(from, to), data.padded);
      return { logits: enc.classify(b.ids, opts(b, { rng })), labels: b.labels };
    });
  };
  const mlmBatch = (rng: Rng): ClassOrMlmBatch => {
    const b = lmBatch(pretrain!.tokens, { batchSize: s.batchSize, length: L, rng });
    const inputs = b.inputs.slice();
    const mask = maskTokens(inputs, pretrain!.vocabSize, SUBWORD_MASK, rng);
    const positions = Int32Array.from(Array.from(mask).flatMap((m, i) => (m === 1 ? [i] : [])));
    return {
      kind: 'mlm',
      inputs: tf.tensor2d(inputs, [s.batchSize, L], 'int32'),
      positions: tf.tensor1d(positions, 'int32'),
      targets: tf.tensor1d(
        Int32Array.from(positions, (p) => b.inputs[p]),
        'int32',
      ),
    };
  };
  return {
    model: enc,
    modelConfig: cfg,
    nextBatch: (step, rng) =>
      step < pretrainSteps
        ? mlmBatch(rng)
        : {
            kind: 'class',
            ...rowsOf(
              data.train,
              Int32Array.from({ length: s.batchSize }, () => rng.int(data.train.count)),
              data.padded,
            ),
          },
    loss: (b, ctx) =>
      b.kind === 'mlm'
        ? crossEntropy(enc.mlmLogitsAt(b.inputs, b.positions, { training: true, rng: ctx.rng }), b.targets)
        : crossEntropy(enc.classify(b.ids, opts(b, { training: true, rng: ctx.rng })), b.labels),
    tokensIn: () => s.batchSize * L,
    validate: () => ({ val_acc: evaluate(data.valid) }),
    test: (validated) => ({ metrics: { ...(validated ?? { val_acc: evaluate(data.valid) }), test_acc: evaluate(data.test) } }),
  };
}

interface PairBatchTensors {
  a: tf.Tensor2D;
  b: tf.Tensor2D;
  labels: tf.Tensor1D;
}

/** Same-book retrieval with a dual encoder (the LRA Retrieval stand-in). */
function retrievalTask(t: TaskInput): TaskRun<PairBatchTensors> {
  const s = t.settings;
  const L = s.length;
  const valid = pairSet('valid', L, s.evalSize);
  const test = pairSet('test', L, s.evalSize);
  const pool = t.experiment.pool ?? 'cls';
  const cfg = modelConfig(t, 256, pool === 'mean' ? L : L + 1);
  const dual = new DualEncoder(cfg, 2, pool);
  const tensors = (p: { a: Int32Array; b: Int32Array; labels: Int32Array }, from: number, to: number): PairBatchTensors => ({
    a: tf.tensor2d(p.a.subarray(from * L, to * L), [to - from, L], 'int32'),
    b: tf.tensor2d(p.b.subarray(from * L, to * L), [to - from, L], 'int32'),
    labels: tf.tensor1d(p.labels.subarray(from, to), 'int32'),
  });
  const evaluate = (p: typeof valid) => {
    const rng = new Rng(EVAL_SEED);
    return accuracyOver(p.count, s.batchSize, (from, to) => {
      const b = tensors(p, from, to);
      return { logits: dual.classify(b.a, b.b, { rng }), labels: b.labels };
    });
  };
  return {
    model: dual,
    modelConfig: cfg,
    nextBatch: (_step, rng) => tensors(trainPairs(L, s.batchSize, rng), 0, s.batchSize),
    loss: (b, ctx) => crossEntropy(dual.classify(b.a, b.b, { training: true, rng: ctx.rng }), b.labels),
    tokensIn: () => 2 * s.batchSize * L,
    validate: () => ({ val_acc: evaluate(valid) }),
    test: (validated) => ({ metrics: { ...(validated ?? { val_acc: evaluate(valid) }), test_acc: evaluate(test) } }),
  };
}

/** Builds the run of task `t.experiment.task`. */
export function buildTask(t: TaskInput): TaskRun {
  switch (t.experiment.task) {
    case 'causal-lm':
    case 'extrapolation':
    case 'pe-quality':
    case 'continuation':
      return causalTask(t) as TaskRun;
    case 'masked-lm':
      return maskedLmTask(t) as TaskRun;
    case 'classification':
      return classificationTask(t) as TaskRun;
    case 'retrieval':
      return retrievalTask(t) as TaskRun;
    default:
      throw new Error(`task: unknown task kind '${String(t.experiment.task)}'`);
  }
}
