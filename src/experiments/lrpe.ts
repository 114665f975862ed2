/**
 * The LRPE paper's experiments (Qin et al., TMLR 2023; design reconstructed from the paper):
 * autoregressive LM, the P ablation, bidirectional (masked) LM, text classification and image
 * classification, each with the rows the paper's tables are expected to have. The paper's
 * numbers are unknown to this project, so every paper cell is '—'.
 *
 * All variants use linear attention with φ = 1 + elu; LRPE rows drop the denominator for a
 * LayerNorm, as the authors' final code; the other rows keep it (spec defaults). Absolute PE is
 * kept as in the authors' configs (sinusoidal for the LM, learned for RoBERTa / DeiT) except on
 * the NoPE row.
 */
import type { ExperimentDefinition, MetricDefinition, ScaleSettings, TaskKind, VariantDefinition } from './types';
import type { ApeKind } from '../encodings';
import { SMOKE, withSettings, quickWithSteps, smallWithSteps } from './scales';
import { EXTRA_ROWS } from './rows';

/**
 * The ten rows of the LRPE tables, with the absolute PE every non-NoPE row keeps. With
 * `controls`, three more rows separate the encoding from the normaliser (LRPE rows use
 * LayerNorm, the others the denominator): LRPE unitary (learned θ) with the denominator, and
 * RoPE and NoPE with LayerNorm. With `extra`, the rows of encodings added later (./rows.ts).
 */
export function lrpeRows(ape: Exclude<ApeKind, 'none'>, opts: { grid?: boolean; controls?: boolean; extra?: boolean } = {}): Record<string, VariantDefinition> {
  const other: Exclude<ApeKind, 'none'> = ape === 'sinusoidal' ? 'learned' : 'sinusoidal';
  const grid = opts.grid ?? false;
  const rows: Record<string, VariantDefinition> = {
    nope: { label: 'NoPE', attention: 'linear:elu+none', ape: 'none' },
    [`ape-${ape}`]: { label: `${ape} APE`, attention: 'linear:elu+none', ape },
    [`ape-${other}`]: { label: `${other} APE`, attention: 'linear:elu+none', ape: other },
    rope: { label: 'RoPE', attention: 'linear:elu+rope', ape, grid },
    spe: { label: 'SPE (sine, K=1, gated)', attention: 'linear:elu+spe(sine,K=1,R={R},gated)', ape },
    permuteformer: { label: 'PermuteFormer', attention: 'linear:elu+permuteformer', ape },
    'lrpe-rotation': { label: 'LRPE rotation (learned θ)', attention: 'linear:elu+lrpe(rotation,householder,learned)', ape, grid },
    'lrpe-permutation': { label: 'LRPE permutation', attention: 'linear:elu+lrpe(permutation,householder)', ape },
    'lrpe-unitary': { label: 'LRPE unitary (fixed θ)', attention: 'linear:elu+lrpe(unitary,householder,fixed)', ape, grid },
    'lrpe-unitary-learned': { label: 'LRPE unitary (learned θ)', attention: 'linear:elu+lrpe(unitary,householder,learned)', ape, grid },
  };
  if (opts.controls) {
    rows['lrpe-unitary-learned-denominator'] = {
      label: 'LRPE unitary (learned θ), denominator',
      attention: 'linear(norm=denominator):elu+lrpe(unitary,householder,learned)',
      ape,
      grid,
    };
    rows['rope-layernorm'] = { label: 'RoPE, LayerNorm', attention: 'linear(norm=layernorm):elu+rope', ape, grid };
    rows['nope-layernorm'] = { label: 'NoPE, LayerNorm', attention: 'linear(norm=layernorm):elu+none', ape: 'none' };
  }
  if (opts.extra) Object.assign(rows, EXTRA_ROWS);
  return rows;
}

const LM_METRICS: MetricDefinition[] = [
  { name: 'val_ppl', label: 'val ppl', better: 'lower' },
  { name: 'test_ppl', label: 'test ppl', better: 'lower' },
  { name: 'test_bpb', label: 'test bits/byte', better: 'lower' },
];

const ACC_METRICS: MetricDefinition[] = [
  { name: 'val_acc', label: 'val acc (%)', better: 'higher' },
  { name: 'test_acc', label: 'test acc (%)', better: 'higher' },
];

/** SPE in the LRPE tables uses R = head dim (authors' baseline), so R follows the width. */
function lrpeSmoke(over: Partial<ScaleSettings> = {}): ScaleSettings {
  return withSettings(SMOKE, { encoding: { ...SMOKE.encoding, R: SMOKE.model / SMOKE.numHeads }, ...over });
}
function lrpeQuick(steps: number, over: Partial<ScaleSettings> = {}): ScaleSettings {
  const s = quickWithSteps(steps, over);
  return withSettings(s, { encoding: { ...s.encoding, R: s.model / s.numHeads } });
}
function lrpeSmall(task: TaskKind, steps: number, over: Partial<ScaleSettings> = {}): ScaleSettings {
  const s = smallWithSteps(task, steps, over);
  return withSettings(s, { encoding: { ...s.encoding, R: s.model / s.numHeads } });
}

/** fairseq base LM (LRPE paper, Qin et al. 2023): 6 x 512, 8 heads, FFN 2048, 512 tokens, 128 sequences, 50k updates (TNN script). */
const LM_FULL: ScaleSettings = {
  model: 512,
  numLayers: 6,
  numHeads: 8,
  hidden: 2048,
  dropout: 0.1,
  length: 512,
  batchSize: 128,
  steps: 50000,
  schedule: { kind: 'inverse_sqrt', lr: 5e-4, warmup: 4000, warmupInitLr: 1e-7 },
  weightDecay: 0.2,
  beta2: 0.98,
  clipNorm: 1.0,
  evalEvery: 1000,
  evalSize: 512,
  trainSize: 1,
  encoding: { R: 64, K: 1, P: 128, F: 256 },
  seeds: [0, 1, 2, 3, 4],
};

/** RoBERTa-base masked LM (LRPE paper, Qin et al. 2023): 12 x 768, 12 heads, FFN 3072, 512 tokens, 512 sequences, 50k updates. */
const BLM_FULL: ScaleSettings = {
  ...LM_FULL,
  model: 768,
  numLayers: 12,
  numHeads: 12,
  hidden: 3072,
  batchSize: 512,
  schedule: { kind: 'polynomial', lr: 5e-4, warmup: 3000, total: 50000 },
  weightDecay: 0.01,
  clipNorm: undefined,
};

/** Text classification at full scale: the LRA-Text sizes (the paper's GLUE settings are unknown). */
const TEXT_FULL: ScaleSettings = {
  ...LM_FULL,
  model: 256,
  numLayers: 4,
  numHeads: 4,
  hidden: 1024,
  length: 1000,
  batchSize: 32,
  steps: 30000,
  schedule: { kind: 'rsqrt', lr: 0.0125, warmup: 8000 },
  weightDecay: 0.1,
  clipNorm: undefined,
  evalSize: 2500,
  trainSize: 22500,
};

/**
 * Image classification at full scale: DeiT-tiny sizes (12 x 192, 3 heads, MLP 768) on the
 * 32 x 32 pixel sequence (no patches), 300 epochs of 60k images at batch 128, lr 5e-4, wd 0.05,
 * clip 5 (the group's DeiT recipe, LRPE paper, Qin et al. 2023).
 */
const IMAGE_FULL: ScaleSettings = {
  ...LM_FULL,
  model: 192,
  numLayers: 12,
  numHeads: 3,
  hidden: 768,
  length: 1024,
  batchSize: 128,
  steps: 140000,
  schedule: { kind: 'cosine', lr: 5e-4, warmup: 4690, decaySteps: 140000, floor: 1e-5 },
  weightDecay: 0.05,
  clipNorm: 5,
  evalSize: 5000,
  trainSize: 55000,
  imageSize: 32,
};

const DESIGN = 'Design: reconstructed from the LRPE paper (Qin et al. 2023); the paper\'s numbers are unknown here, so its column is "—".';

export const LRPE_EXPERIMENTS: ExperimentDefinition[] = [
  {
    name: 'lrpe-alm',
    paper: 'LRPE',
    source: 'LRPE paper (Qin et al. 2023), autoregressive LM table (WikiText-103)',
    title: 'LRPE autoregressive LM: every PE on 1+elu linear attention',
    description:
      'Causal byte-level LM on Gutenberg (stand-in for WikiText-103). Rows: NoPE, sinusoidal / learned APE, RoPE, SPE, PermuteFormer and the four LRPE variants (Householder P).',
    task: 'causal-lm',
    dataset: 'gutenberg',
    variants: lrpeRows('sinusoidal', { controls: true, extra: true }),
    metrics: LM_METRICS,
    scales: { smoke: lrpeSmoke(), quick: lrpeQuick(400), small: lrpeSmall('causal-lm', 300), full: LM_FULL },
    notes: [DESIGN, 'Byte-level perplexity on Gutenberg is not comparable with word-level WikiText-103 perplexity.'],
  },
  {
    name: 'lrpe-p-ablation',
    paper: 'LRPE',
    source: 'LRPE paper (Qin et al. 2023), ablation of P',
    title: 'LRPE ablation: P ∈ {Householder, identity, odd-even} for each core',
    description: 'The ALM task with each LRPE variant and each choice of the shared basis change P.',
    task: 'causal-lm',
    dataset: 'gutenberg',
    variants: Object.fromEntries(
      (
        [
          ['rotation', 'rotation', 'learned', 'rotation (learned θ)'],
          ['permutation', 'permutation', 'fixed', 'permutation'],
          ['unitary', 'unitary', 'fixed', 'unitary (fixed θ)'],
          ['unitary-learned', 'unitary', 'learned', 'unitary (learned θ)'],
        ] as const
      ).flatMap(([name, core, theta, label]) =>
        (['householder', 'identity', 'odd-even'] as const).map((p) => [
          `${name}-${p}`,
          { label: `LRPE ${label}, P = ${p}`, attention: `linear:elu+lrpe(${core},${p},${theta})`, ape: 'sinusoidal' as const },
        ]),
      ),
    ),
    metrics: LM_METRICS,
    scales: { smoke: lrpeSmoke(), quick: lrpeQuick(400), small: lrpeSmall('causal-lm', 300), full: LM_FULL },
    notes: [DESIGN],
  },
  {
    name: 'lrpe-blm',
    paper: 'LRPE',
    source: 'LRPE paper (Qin et al. 2023), bidirectional LM table',
    title: 'LRPE bidirectional (masked) LM',
    description: 'RoBERTa-style masked byte LM on Gutenberg (15 % masked, 80/10/10), bidirectional linear attention, learned APE kept.',
    task: 'masked-lm',
    dataset: 'gutenberg',
    variants: lrpeRows('learned', { controls: true }),
    metrics: [
      { name: 'val_ppl', label: 'val masked ppl', better: 'lower' },
      { name: 'test_ppl', label: 'test masked ppl', better: 'lower' },
    ],
    scales: { smoke: lrpeSmoke(), quick: lrpeQuick(400), small: lrpeSmall('masked-lm', 300), full: BLM_FULL },
    notes: [DESIGN, 'Mean pooling (no CLS); the masked-token perplexity is over bytes.'],
  },
  {
    name: 'lrpe-imdb',
    paper: 'LRPE',
    source: 'LRPE paper (Qin et al. 2023), text classification (GLUE)',
    title: 'LRPE text classification (IMDB subwords, pretrained then fine-tuned)',
    description:
      'IMDB sentiment as the paper treats text (RoBERTa pretrained, then fine-tuned on GLUE, whose tasks and settings are unknown): GPT-2 BPE subwords (gpt-tokenizer), the encoder first trained as a masked LM on the training reviews, then fine-tuned on their labels; mean pooling, learned APE kept.',
    task: 'classification',
    dataset: 'imdb-subwords',
    pool: 'mean',
    variants: lrpeRows('learned', { controls: true }),
    metrics: ACC_METRICS,
    scales: {
      smoke: lrpeSmoke({ pretrainSteps: 2, vocabSize: 512 }),
      quick: lrpeQuick(300, { length: 128, pretrainSteps: 150, vocabSize: 2048 }),
      small: lrpeSmall('classification', 400, { evalSize: 1024, pretrainSteps: 200, vocabSize: 4096 }),
      full: { ...TEXT_FULL, length: 512, pretrainSteps: 15000, vocabSize: 16384 },
    },
    notes: [
      DESIGN,
      'Reviews are cut to their first `length` subwords; the vocabulary keeps the vocabSize − 4 subwords most frequent in the training reviews (the rest become UNK); a balanced 50 % baseline applies.',
      'Pretraining and fine-tuning share one run: the first pretrainSteps updates are masked-LM updates (15 % masked) on the training reviews, the rest classification updates, with one optimiser and one learning-rate schedule.',
    ],
  },
  ...(['mnist', 'fashion-mnist'] as const).map((dataset): ExperimentDefinition => ({
    name: `lrpe-${dataset}`,
    paper: 'LRPE',
    source: 'LRPE paper (Qin et al. 2023), image classification',
    title: `LRPE image classification (${dataset === 'mnist' ? 'MNIST' : 'Fashion-MNIST'} pixels, 2-D LRPE)`,
    description: `${dataset === 'mnist' ? 'MNIST' : 'Fashion-MNIST'} as a pixel sequence (stand-in for ImageNet-1k), mean pooling, learned APE kept; RoPE and the rotation / unitary LRPE see (row, col) positions (2-D, axial), permutation LRPE, PermuteFormer and SPE the flattened sequence.`,
    task: 'classification',
    dataset,
    variants: lrpeRows('learned', { grid: true }),
    metrics: ACC_METRICS,
    // MNIST is the easy twin of the claim table (Fashion-MNIST): one seed at small scale.
    scales: {
      smoke: lrpeSmoke(),
      quick: lrpeQuick(300),
      small: lrpeSmall('classification', 300, dataset === 'mnist' ? { seeds: [0], evalSize: 1024 } : { evalSize: 1024, imageSize: 28 }),
      full: IMAGE_FULL,
    },
    notes: [
      DESIGN,
      dataset === 'mnist'
        ? 'Grid: 32 x 32 (zero-padded 28 x 28) at full scale; average-pooled to 16 x 16 (256 tokens) at small and 8 x 8 (64 tokens) at smoke and quick scale.'
        : 'Grid: 32 x 32 (zero-padded 28 x 28) at full scale; the 28 x 28 pixels (784 tokens) at small, as the claim table; average-pooled to 8 x 8 (64 tokens) at smoke and quick scale.',
    ],
  })),
];
