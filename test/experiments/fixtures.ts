/** A tiny causal-LM experiment for runner and report tests (registered by the tests that use it). */
import type { ExperimentDefinition, ScaleSettings } from '../../src/experiments';

const TINY: ScaleSettings = {
  model: 8,
  numLayers: 1,
  numHeads: 2,
  hidden: 16,
  dropout: 0,
  length: 16,
  batchSize: 2,
  steps: 6,
  schedule: { kind: 'constant', lr: 3e-3 },
  weightDecay: 0.01,
  beta2: 0.98,
  evalEvery: 3,
  evalSize: 2,
  trainSize: 8,
  encoding: { R: 4, K: 2, P: 4, F: 8 },
  seeds: [0],
};

/** `test-tiny-lm`: two variants of a width-8 byte LM on Gutenberg, 6 updates. */
export function tinyLmDefinition(name = 'test-tiny-lm'): ExperimentDefinition {
  return {
    name,
    paper: 'LRPE',
    source: 'test fixture',
    title: 'tiny LM for runner tests',
    description: 'A width-8 causal byte LM trained for 6 updates.',
    task: 'causal-lm',
    dataset: 'gutenberg',
    variants: {
      ape: { label: 'sinusoidal APE', attention: 'linear:elu+none', ape: 'sinusoidal' },
      lrpe: { label: 'LRPE rotation', attention: 'linear:elu+lrpe(rotation,householder,learned)', ape: 'none' },
      spe: { label: 'convSPE', attention: 'linear:elu+spe(conv,P={P},R={R},gated)', ape: 'none' },
    },
    metrics: [
      { name: 'val_ppl', label: 'val ppl', better: 'lower' },
      { name: 'test_ppl', label: 'test ppl', better: 'lower' },
    ],
    paperNumbers: { ape: { test_ppl: { mean: 62.58, std: 0.22, n: 3 } } },
    scales: { smoke: TINY, quick: TINY, small: { ...TINY, seeds: [0, 1] }, full: { ...TINY, steps: 12, seeds: [0, 1] } },
  };
}
