/**
 * The shape of an experiment: plain, JSON-serialisable data. An experiment is one table (or
 * figure) of a paper: a task on a dataset, a set of variants (one attention spec + absolute PE
 * each), the metrics it reports, the paper's numbers where they are known, and three scales.
 */
import type { ScheduleConfig } from '../train';
import type { ApeKind } from '../encodings';

/** What is trained and how it is scored. */
export const TASK_KINDS = ['causal-lm', 'masked-lm', 'classification', 'retrieval', 'extrapolation', 'pe-quality', 'continuation'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** The datasets the tasks know how to load (all offline; see `datasets.ts`). */
/** Image sizes a scale may ask for: the 28 x 28 pixels as they are, or zero-padded to 32 x 32 and average-pooled. */
export const IMAGE_SIZES = [32, 28, 16, 8, 4] as const;

export const DATASETS = ['gutenberg', 'imdb', 'imdb-subwords', 'mnist', 'fashion-mnist', 'listops', 'gutenberg-pairs', 'midi'] as const;
export type DatasetName = (typeof DATASETS)[number];

export const SCALES = ['smoke', 'quick', 'small', 'full'] as const;
export type ScaleName = (typeof SCALES)[number];

/** One row of an experiment's table. */
export interface VariantDefinition {
  /** Human-readable row name, e.g. 'LRPE rotation (learned θ)'. */
  label: string;
  /**
   * Attention spec template (see `attention/spec.ts`); placeholders such as `{R}`, `{K}`, `{P}`
   * and `{F}` are filled from the scale's `encoding` settings, e.g. 'linear(features={F}):favor+spe(conv,P={P},R={R},gated)'.
   */
  attention: string;
  /** Absolute PE added to the token embeddings (kept as in the papers). */
  ape: ApeKind;
  /** Image tasks: encode (row, col) positions (2-D LRPE / RoPE); others see the flattened sequence. */
  grid?: boolean;
}

/** A number as a paper reports it: mean ± std over n runs (std null when n = 1 or not given). */
export interface PaperNumber {
  mean: number;
  std: number | null;
  n: number;
}

/** A reported metric. */
export interface MetricDefinition {
  /** Key in summary.json, e.g. 'test_acc'. */
  name: string;
  /** Column header, e.g. 'test acc (%)'. */
  label: string;
  better: 'higher' | 'lower';
}

/** Model, data and optimisation sizes of one scale. */
export interface ScaleSettings {
  /** Model width, layers, heads, feed-forward width, dropout. */
  model: number;
  numLayers: number;
  numHeads: number;
  hidden: number;
  dropout: number;
  /** Training sequence length (per passage for retrieval; image tasks: imageSize²). */
  length: number;
  batchSize: number;
  /** Optimiser updates. */
  steps: number;
  schedule: ScheduleConfig;
  weightDecay: number;
  beta2: number;
  clipNorm?: number;
  /** Updates between validation passes during training (and one at the end). */
  evalEvery: number;
  /** Held-out sequences (LM windows, examples, pairs) in each of the validation and test sets. */
  evalSize: number;
  /** Classification / retrieval: training examples available (a subset at small scales). */
  trainSize: number;
  /**
   * Classification on text subwords: the first `pretrainSteps` of the `steps` updates train the
   * encoder as a masked LM on the training texts, the rest fine-tune it on the labels (the LRPE
   * paper's protocol: RoBERTa pretrained, then fine-tuned on GLUE). Absent or 0: labels from the start.
   */
  pretrainSteps?: number;
  /** Subword datasets: vocabulary size, PAD, UNK, MASK and SEP included (`data/subwords.ts`). */
  vocabSize?: number;
  /**
   * Values of the `{name}` placeholders of the variants' spec templates: each key is an integer
   * parameter that an encoding or an attention option declares, by name or alias (`specKnobs()`:
   * R, K, P for SPE, F for FAVOR+, max for relbias, ...), so a new encoding's parameter is a knob
   * without touching the experiments.
   */
  encoding: Record<string, number>;
  /** Image tasks: side of the image grid, one of IMAGE_SIZES (28: the pixels as they are; else zero-padded to 32, then average-pooled). */
  imageSize?: number;
  /** Extrapolation: evaluation length as a multiple of `length`. */
  extrapolation?: number;
  /** ListOps generator depth (LRA: 10). */
  listopsDepth?: number;
  /** Seeds run by default. */
  seeds: number[];
  /**
   * Rows that no claim of the ledger compares (`claimRows`: context rows of a table) run only
   * the first `supportSeeds` of `seeds` (default: all of them). An explicit `--seeds` list runs
   * every row at every listed seed.
   */
  supportSeeds?: number;
}

/** An experiment: one table or figure of a paper as a named, resumable unit. */
export interface ExperimentDefinition {
  /** Registry key, e.g. 'lrpe-alm'. */
  name: string;
  paper: 'LRPE' | 'SPE' | 'LRPE+SPE';
  /** Where the design comes from, e.g. 'LRPE paper, Qin et al. 2023'. */
  source: string;
  /** One line. */
  title: string;
  /** What it reproduces and how it departs from the paper. */
  description: string;
  task: TaskKind;
  dataset: DatasetName;
  /**
   * Classification and retrieval: how the encoder pools its outputs, 'cls' (a learned first token)
   * or 'mean' (over the unpadded positions). Default: 'mean' for images, 'cls' otherwise.
   */
  pool?: 'cls' | 'mean';
  /** Rows, in table order. */
  variants: Record<string, VariantDefinition>;
  metrics: MetricDefinition[];
  /** Paper numbers by variant then metric, where known (never invented: absent means '—'). */
  paperNumbers?: Record<string, Record<string, PaperNumber>>;
  scales: Record<ScaleName, ScaleSettings>;
  /** Honest caveats shown under the table. */
  notes?: string[];
}

/** A scale's settings, possibly with fields overridden by the caller. */
export type ScaleOverrides = Partial<Omit<ScaleSettings, 'encoding' | 'seeds'>> & {
  encoding?: Partial<ScaleSettings['encoding']>;
  /** The schedule's peak learning rate (its floor / end scaled with it), e.g. for a learning-rate sweep. */
  lr?: number;
};
