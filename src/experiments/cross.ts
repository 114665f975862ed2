/**
 * Experiments across both papers: length extrapolation (the SPE pop-piano "NLL by position"
 * figure of the SPE paper, Liutkus et al. 2021, extended with every LRPE variant) on the MIDI corpus and on text, and
 * the PE-quality scores (translation invariance, monotonicity; SPE paper, Liutkus et al. 2021) of learned causal
 * attention maps.
 *
 * One base for every row (1+elu linear attention, denominator except for LRPE), so that only the
 * positional encoding differs; the music models of the SPE paper were Performers. Relative rows
 * carry no APE (as the SPE models); the APE row is sinusoidal (the SPE music baseline).
 */
import type { ExperimentDefinition, ScaleSettings, VariantDefinition, DatasetName } from './types';
import { SMOKE, withSettings, quickWithSteps, smallWithSteps } from './scales';
import { EXTRA_ROWS } from './rows';

/** APE, sine/conv SPE gated and ungated, NoPE, RoPE, PermuteFormer and the four LRPE variants. */
export const EXTRAPOLATION_ROWS: Record<string, VariantDefinition> = {
  ape: { label: 'sinusoidal APE', attention: 'linear:elu+none', ape: 'sinusoidal' },
  nope: { label: 'NoPE', attention: 'linear:elu+none', ape: 'none' },
  'sinespe-gated': { label: 'sineSPE (gated)', attention: 'linear:elu+spe(sine,K={K},R={R},gated)', ape: 'none' },
  'sinespe-ungated': { label: 'sineSPE (ungated)', attention: 'linear:elu+spe(sine,K={K},R={R},ungated)', ape: 'none' },
  'convspe-gated': { label: 'convSPE (gated)', attention: 'linear:elu+spe(conv,P={P},R={R},gated)', ape: 'none' },
  'convspe-ungated': { label: 'convSPE (ungated)', attention: 'linear:elu+spe(conv,P={P},R={R},ungated)', ape: 'none' },
  rope: { label: 'RoPE', attention: 'linear:elu+rope', ape: 'none' },
  permuteformer: { label: 'PermuteFormer', attention: 'linear:elu+permuteformer', ape: 'none' },
  'lrpe-rotation': { label: 'LRPE rotation (learned θ)', attention: 'linear:elu+lrpe(rotation,householder,learned)', ape: 'none' },
  'lrpe-permutation': { label: 'LRPE permutation', attention: 'linear:elu+lrpe(permutation,householder)', ape: 'none' },
  'lrpe-unitary': { label: 'LRPE unitary (fixed θ)', attention: 'linear:elu+lrpe(unitary,householder,fixed)', ape: 'none' },
  'lrpe-unitary-learned': { label: 'LRPE unitary (learned θ)', attention: 'linear:elu+lrpe(unitary,householder,learned)', ape: 'none' },
  ...EXTRA_ROWS,
};

/**
 * Pop piano (SPE paper, Liutkus et al. 2021): 24 x 512 Performer, 8 heads, FFN 2048, trained on 2048 tokens, batch 4,
 * lr 2e-4, warmup 200 then cosine to 5e-6 over 55 020 steps, clip 0.5, sineSPE K = 5, R = 64,
 * convSPE kernel 128; evaluated on 4096 tokens (2 x the training length).
 */
const MUSIC_FULL: ScaleSettings = {
  model: 512,
  numLayers: 24,
  numHeads: 8,
  hidden: 2048,
  dropout: 0.1,
  length: 2048,
  batchSize: 4,
  steps: 55020,
  schedule: { kind: 'cosine', lr: 2e-4, warmup: 200, decaySteps: 55020, floor: 5e-6 },
  weightDecay: 0,
  beta2: 0.999,
  clipNorm: 0.5,
  evalEvery: 2000,
  evalSize: 88,
  trainSize: 1,
  encoding: { R: 64, K: 5, P: 128, F: 128 },
  extrapolation: 2,
  seeds: [0],
};

const CAVEAT_MIDI =
  'The MIDI corpus is ~100 game / demo tunes from Debian packages (a toy stand-in for the 1 747 pop-piano pieces); windows of the test stream, not whole songs.';

function extrapolation(dataset: DatasetName, key: string, quick: ScaleSettings, small: ScaleSettings): ExperimentDefinition {
  return {
    name: `extrapolation-${key}`,
    paper: 'LRPE+SPE',
    source: 'SPE paper (Liutkus et al. 2021), pop-piano NLL-by-position figure, extended to the LRPE variants',
    title: `Length extrapolation on ${key === 'midi' ? 'MIDI events' : 'Gutenberg text'}: train at L, test NLL by position up to 8L`,
    description: `Causal LM trained on windows of L tokens, evaluated on windows of ${'`extrapolation`'} x L test tokens (8 x at small scale, 4 x at quick); reports mean NLL over positions < L, L..2L, 2L..4L and 4L..8L, and the NLL-by-position curve.`,
    task: 'extrapolation',
    dataset,
    variants: EXTRAPOLATION_ROWS,
    metrics: [
      { name: 'val_nll', label: 'val NLL (windows of L)', better: 'lower' },
      { name: 'nll_1x', label: 'NLL pos<L', better: 'lower' },
      { name: 'nll_2x', label: 'NLL L..2L', better: 'lower' },
      { name: 'nll_4x', label: 'NLL 2L..4L', better: 'lower' },
      { name: 'nll_8x', label: 'NLL 4L..8L', better: 'lower' },
    ],
    scales: {
      smoke: withSettings(SMOKE, {}),
      quick,
      small,
      full: key === 'midi' ? MUSIC_FULL : withSettings(MUSIC_FULL, { numLayers: 6, length: 512, batchSize: 32, extrapolation: 4, evalSize: 256 }),
    },
    notes: [
      key === 'midi' ? CAVEAT_MIDI : 'Text extrapolation has no paper counterpart; it applies the same protocol to Gutenberg bytes.',
      'Full scale evaluates at 2 x L on MIDI (the paper: 4096 = 2 x 2048), so NLL 2L..4L and 4L..8L are absent there; quick evaluates at 4 x L (no 4L..8L).',
      'The paper\'s pop-piano NLL numbers are unknown ("—").',
    ],
  };
}

/** The SPE groove-continuation rows: APE against sine / conv SPE, gated and ungated. */
const CONTINUATION_ROWS = Object.fromEntries(
  ['ape', 'sinespe-gated', 'sinespe-ungated', 'convspe-gated', 'convspe-ungated'].map((k) => [k, EXTRAPOLATION_ROWS[k]]),
);

export const CROSS_EXPERIMENTS: ExperimentDefinition[] = [
  extrapolation('midi', 'midi', quickWithSteps(400, { evalSize: 16 }), smallWithSteps('extrapolation', 400, { length: 64, evalSize: 64 })),
  extrapolation('gutenberg', 'text', quickWithSteps(400, { evalSize: 16 }), smallWithSteps('extrapolation', 400, { length: 64, evalSize: 64 })),
  {
    name: 'spe-groove-continuation',
    paper: 'SPE',
    source: 'SPE (Liutkus et al., ICML 2021), §3.3 (groove continuation)',
    title: 'Groove continuation on MIDI: continue held-out prompts of L events to 2L, style similarity by segment',
    description:
      "Causal LM trained on windows of L events; each of `evalSize` held-out prompts of L events is continued by sampling L more (nucleus 0.9). Per quarter of the continuation: the median over prompts of the cosine similarity of its pitch-class and time-shift histograms to the prompt's; sim_early / sim_late average the first / second half (higher: the style is kept), sim_true_late is the same score of the true continuations.",
    task: 'continuation',
    dataset: 'midi',
    variants: CONTINUATION_ROWS,
    metrics: [
      { name: 'val_nll', label: 'val NLL', better: 'lower' },
      { name: 'sim_early', label: 'similarity L..1.5L', better: 'higher' },
      { name: 'sim_late', label: 'similarity 1.5L..2L', better: 'higher' },
      { name: 'sim_true_late', label: 'true continuation 1.5L..2L', better: 'higher' },
    ],
    scales: {
      smoke: withSettings(SMOKE, {}),
      quick: quickWithSteps(400, { evalSize: 16 }),
      small: smallWithSteps('continuation', 400, { length: 64, evalSize: 32 }),
      full: withSettings(MUSIC_FULL, { evalSize: 32 }),
    },
    notes: [
      CAVEAT_MIDI,
      'The paper continues Groove2Groove accompaniments and compares style features of the continuation with the prompt; Groove2Groove is not available offline, so the prompts are windows of the test MIDI stream and the features are pitch-class and time-shift histograms.',
    ],
  },
  {
    name: 'pe-quality',
    paper: 'SPE',
    source: 'SPE paper, Liutkus et al. 2021 (pe_eval.py: translation invariance, monotonicity; Wang et al. 2021)',
    title: 'PE quality of learned causal attention maps (MIDI)',
    description:
      'After causal-LM training on MIDI events, the translation-invariance and monotonicity scores (0 = perfect Toeplitz, monotone map) of every layer and head, averaged; plus test NLL.',
    task: 'pe-quality',
    dataset: 'midi',
    variants: Object.fromEntries(
      ['ape', 'nope', 'sinespe-gated', 'sinespe-ungated', 'convspe-gated', 'convspe-ungated', 'rope', 'lrpe-rotation', 'lrpe-unitary'].map((k) => [
        k,
        EXTRAPOLATION_ROWS[k],
      ]),
    ),
    metrics: [
      { name: 'val_nll', label: 'val NLL', better: 'lower' },
      { name: 'ti', label: 'transl. invariance', better: 'lower' },
      { name: 'mono', label: 'monotonicity', better: 'lower' },
      { name: 'test_nll', label: 'test NLL', better: 'lower' },
    ],
    // Not a claim of the ledger: one seed at small scale.
    scales: {
      smoke: withSettings(SMOKE, {}),
      quick: quickWithSteps(400, { evalSize: 16 }),
      small: smallWithSteps('pe-quality', 400, { length: 64, evalSize: 16, seeds: [0] }),
      full: MUSIC_FULL,
    },
    notes: [
      CAVEAT_MIDI,
      'Scores of the maps the layers apply (rows normalised when the layer uses the denominator; raw q̃·k̃ for LRPE\'s LayerNorm form). The paper\'s values are unknown ("—").',
    ],
  },
];
