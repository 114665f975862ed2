/**
 * What is benchmarked: the attention specs per encoding, the layer shape, and the small
 * language model of the training-step benchmark.
 */
import type { TransformerConfig } from '../src/models/transformer';

/** One benchmarked attention configuration. */
export interface EncodingCase {
  /** Short name used on the command line (`--encodings`) and in tables. */
  name: string;
  /** The AttentionLayer spec string. */
  spec: string;
  /** 'linear' (O(L)) or 'softmax' (the O(L²) reference). */
  attention: 'linear' | 'softmax';
}

/** The encodings of the issue: linear attention with each encoding, and softmax as the quadratic reference. */
export const ENCODING_CASES: readonly EncodingCase[] = [
  { name: 'none', spec: 'linear:elu+none', attention: 'linear' },
  { name: 'rope', spec: 'linear:elu+rope', attention: 'linear' },
  { name: 'lrpe-rotation', spec: 'linear:elu+lrpe(rotation,householder)', attention: 'linear' },
  { name: 'lrpe-permutation', spec: 'linear:elu+lrpe(permutation,householder)', attention: 'linear' },
  { name: 'lrpe-unitary', spec: 'linear:elu+lrpe(unitary,householder)', attention: 'linear' },
  { name: 'spe-sine', spec: 'linear:elu+spe(sine,K=10,R=64,gated)', attention: 'linear' },
  { name: 'spe-conv', spec: 'linear:elu+spe(conv,R=64,gated)', attention: 'linear' },
  { name: 'softmax', spec: 'softmax+none', attention: 'softmax' },
];

export const ENCODING_NAMES = ENCODING_CASES.map((c) => c.name);

/** The attention layer of the layer benchmark: 8 heads of 64 features (model 512), batch 1. */
export const LAYER_SHAPE = { batch: 1, numHeads: 8, headDim: 64 } as const;

/** Sequence lengths of the layer benchmark (full and --quick). */
export const DEFAULT_LENGTHS = [512, 1024, 2048, 4096, 8192, 16384];
export const QUICK_LENGTHS = [512, 1024, 2048];

/**
 * The overhead suite: the encodings of the overhead targets, each against OVERHEAD_BASELINE in
 * alternating pairs at OVERHEAD_LENGTH (the targets' length; --quick: QUICK_OVERHEAD_LENGTH).
 */
export const OVERHEAD_ENCODINGS = ['lrpe-rotation', 'lrpe-permutation', 'lrpe-unitary', 'spe-sine'];
export const OVERHEAD_BASELINE = 'none';
export const OVERHEAD_LENGTH = 4096;
export const QUICK_OVERHEAD_LENGTH = 1024;

/**
 * The small causal LM of the training-step benchmark: 2 layers, width 64, 4 heads,
 * length 256, batch 8, byte vocabulary, no dropout, no absolute PE (so encodings are
 * compared on equal terms).
 */
export const TRAIN_SHAPE = { batch: 8, length: 256 } as const;

export function trainConfig(attention: string): TransformerConfig {
  return {
    vocabSize: 256,
    model: 64,
    numLayers: 2,
    numHeads: 4,
    hidden: 256,
    maxLength: TRAIN_SHAPE.length,
    attention,
    ape: 'none',
    dropout: 0,
    seed: 0,
  };
}
