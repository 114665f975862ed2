/**
 * The claims of the two papers as data: each claim as one sentence, where the paper makes it,
 * and the experiment rows and statistic that test it (or the exact check that does). The
 * ledger (`claims.ts`) computes their verdicts; the planner (`plan.ts`) reads which rows a claim
 * compares (`claimRows`), so that rows no claim compares can run fewer seeds (`supportSeeds`).
 */
import { useNative } from '../backend';
import { getExperiment } from './registry';
import { relativeDeviation, monteCarloConvergence, memoryExponent } from './exact-checks';
import { formatStatistic as fmt } from './stats';
export const VERDICTS = ['supported', 'contradicted', 'inconclusive', 'not testable offline', 'not run'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Two rows of one experiment compared on one metric (per seed). */
export interface Comparison {
  experiment: string;
  /** Metric key of summary.json, e.g. 'test_ppl'. */
  metric: string;
  /** Optional second metric subtracted per seed (e.g. nll_8x − nll_1x: the NLL's rise past L). */
  minus?: string;
  /** Direction of the (derived) metric; default: the experiment's metric definition. */
  better?: 'higher' | 'lower';
  treatment: string;
  baseline: string;
  /**
   * 'better': the treatment improves on the baseline. 'equivalent': |difference| within
   * `margin` × |baseline mean| (relative margin).
   */
  expect: 'better' | 'equivalent';
  margin?: number;
}

/** A check computed on the spot (no training): returns the statistic and the verdict. */
export interface ExactCheck {
  describe: string;
  run(): Promise<ExactOutcome>;
}

export interface ExactOutcome {
  verdict: Verdict;
  /** One line per item checked, e.g. 'lrpe(rotation,...): max |Δ| 1.2e-7'. */
  lines: string[];
  reason: string;
}

export interface ClaimDefinition {
  id: string;
  paper: 'LRPE' | 'SPE' | 'rpelab';
  /** The claim in one sentence. */
  claim: string;
  /** Where the paper makes it (paper, section / table / figure). */
  where: string;
  comparisons?: Comparison[];
  exact?: ExactCheck;
  /** Why it cannot be tested here (verdict 'not testable offline' or 'not run' with `notRun`). */
  untestable?: string;
  /** A claim whose experiment rpelab does not have yet: verdict 'not run' with this reason. */
  notRun?: string;
}

// ---------------------------------------------------------------------------------------------
// The claims

const LRPE = 'LRPE (Qin et al., TMLR 2023)';
const SPE_PAPER = 'SPE (Liutkus et al., ICML 2021)';

/** The other PEs of the LRPE tables, compared with LRPE unitary (learned θ). */
const OTHER_PES = ['nope', 'ape-sinusoidal', 'ape-learned', 'rope', 'spe', 'permuteformer'];

function versus(
  experiment: string,
  metric: string,
  treatment: string,
  baselines: string[],
  expect: Comparison['expect'] = 'better',
  margin?: number,
): Comparison[] {
  return baselines.map((baseline) => ({ experiment, metric, treatment, baseline, expect, ...(margin !== undefined ? { margin } : {}) }));
}

/** The rise of a row's NLL from the training length to 8× it (nll_8x − nll_1x, per seed), lower is better, against a baseline row. */
function nllRise(experiment: string, treatment: string, baseline: string): Comparison {
  return { experiment, metric: 'nll_8x', minus: 'nll_1x', better: 'lower', treatment, baseline, expect: 'better' };
}

/** APE rows of the LM tables are named after their kind; the BLM table's first APE is learned. */
function apeRows(experiment: string): string[] {
  return Object.keys(getExperiment(experiment).variants).filter((v) => v.startsWith('ape-'));
}

/** Normaliser-matched pairs: the LRPE row with the denominator against denominator rows, LayerNorm against LayerNorm. */
function likeForLike(experiment: string, metric: string): Comparison[] {
  return [
    ...versus(experiment, metric, 'lrpe-unitary-learned-denominator', ['nope', ...apeRows(experiment), 'rope', 'spe', 'permuteformer']),
    ...versus(experiment, metric, 'lrpe-unitary-learned', ['nope-layernorm', 'rope-layernorm']),
  ];
}

const P_CORES = ['rotation', 'permutation', 'unitary', 'unitary-learned'];

export const CLAIMS: ClaimDefinition[] = [
  {
    id: 'lrpe-causal-lm',
    paper: 'LRPE',
    claim: 'LRPE matches or beats the other positional encodings (NoPE, APE, RoPE, SPE, PermuteFormer) on autoregressive language modelling.',
    where: `${LRPE}, abstract; Table 1 (autoregressive LM on WikiText-103, 1+elu linear attention)`,
    comparisons: versus('lrpe-alm', 'test_ppl', 'lrpe-unitary-learned', OTHER_PES),
  },
  {
    id: 'lrpe-causal-lm-normaliser',
    paper: 'rpelab',
    claim: 'The causal-LM gain of LRPE holds with the normaliser held fixed (LRPE and the others both with the denominator, or both with LayerNorm).',
    where: `rpelab control for ${LRPE}, Table 1: LRPE rows there use LayerNorm, the others the denominator`,
    comparisons: likeForLike('lrpe-alm', 'test_ppl'),
  },
  {
    id: 'lrpe-bidirectional-lm',
    paper: 'LRPE',
    claim: 'LRPE matches or beats the other positional encodings on bidirectional (masked) language modelling.',
    where: `${LRPE}, abstract ("state-of-the-art performance in language modeling"); the bidirectional LM experiments`,
    comparisons: versus('lrpe-blm', 'test_ppl', 'lrpe-unitary-learned', ['nope', 'ape-learned', 'ape-sinusoidal', 'rope', 'spe', 'permuteformer']),
  },
  {
    id: 'lrpe-bidirectional-lm-normaliser',
    paper: 'rpelab',
    claim: 'The masked-LM gain of LRPE holds with the normaliser held fixed.',
    where: `rpelab control for ${LRPE}, bidirectional LM table`,
    comparisons: likeForLike('lrpe-blm', 'test_ppl'),
  },
  {
    id: 'lrpe-text-classification',
    paper: 'LRPE',
    claim: 'LRPE matches or beats the other positional encodings on text classification.',
    where: `${LRPE}, abstract ("text classification"); the GLUE fine-tuning experiments (rpelab: IMDB in GPT-2 subwords, masked-LM pretraining then fine-tuning, a stand-in)`,
    comparisons: versus('lrpe-imdb', 'test_acc', 'lrpe-unitary-learned', ['nope', 'ape-learned', 'ape-sinusoidal', 'rope', 'spe', 'permuteformer']),
  },
  {
    id: 'lrpe-text-classification-normaliser',
    paper: 'rpelab',
    claim: 'The text-classification result of LRPE holds with the normaliser held fixed.',
    where: `rpelab control for ${LRPE}, text classification (IMDB stand-in): LRPE rows use LayerNorm, the others the denominator`,
    comparisons: likeForLike('lrpe-imdb', 'test_acc'),
  },
  {
    id: 'lrpe-image-classification',
    paper: 'LRPE',
    claim: 'LRPE matches or beats the other positional encodings on image classification (2-D positions).',
    where: `${LRPE}, abstract ("image classification"); the ImageNet-1k DeiT experiments (rpelab: Fashion-MNIST pixel sequences, a stand-in)`,
    comparisons: versus('lrpe-fashion-mnist', 'test_acc', 'lrpe-unitary-learned', ['nope', 'ape-learned', 'ape-sinusoidal', 'rope', 'spe', 'permuteformer']),
  },
  {
    id: 'lrpe-p-ablation',
    paper: 'LRPE',
    claim: 'The choice of the basis change P matters little: Householder P is within 2 % perplexity of identity and odd-even P for every core.',
    where: `${LRPE}, ablation of P; Householder is the authors' default`,
    comparisons: P_CORES.flatMap((core) =>
      versus('lrpe-p-ablation', 'test_ppl', `${core}-householder`, [`${core}-identity`, `${core}-odd-even`], 'equivalent', 0.02),
    ),
  },
  {
    id: 'lrpe-learned-theta',
    paper: 'LRPE',
    claim: 'Learning θ improves on the fixed θ = 10000^(−2k/d) of the unitary core.',
    where: `${LRPE}; the authors' released configurations use learned θ`,
    comparisons: [
      ...versus('lrpe-alm', 'test_ppl', 'lrpe-unitary-learned', ['lrpe-unitary']),
      ...versus('lrpe-blm', 'test_ppl', 'lrpe-unitary-learned', ['lrpe-unitary']),
      ...['householder', 'identity', 'odd-even'].flatMap((p) => versus('lrpe-p-ablation', 'test_ppl', `unitary-learned-${p}`, [`unitary-${p}`])),
    ],
  },
  {
    id: 'lrpe-canonical-form',
    paper: 'LRPE',
    claim:
      'RoPE, PermuteFormer and every LRPE variant are special cases of one canonical form a_st = q_sᴴ W_(t−s) k_t: their scores depend on positions only through t − s.',
    where: `${LRPE}, abstract ("a variety of existing linear relative positional encoding approaches under a canonical form")`,
    exact: {
      describe: 'constant content at every position; the score matrix must be Toeplitz (max |A[s,t] − A[s−1,t−1]| / max |A| below 1e-4)',
      async run() {
        const encodings = [
          'rope',
          'permuteformer',
          ...['rotation', 'mixed', 'permutation', 'unitary'].flatMap((core) =>
            ['identity', 'householder', 'dct', 'odd-even'].map((p) => `lrpe(${core},${p},${core === 'permutation' ? 'fixed' : 'learned'})`),
          ),
        ];
        const devs = encodings.map((e) => [e, relativeDeviation(e)] as const);
        const worst = devs.reduce((a, d) => (d[1] > a[1] ? d : a));
        const lines = devs.map(([e, d]) => `${e}: ${fmt(d)}`);
        if (worst[1] < 1e-4)
          return { verdict: 'supported', lines, reason: `all ${devs.length} encodings are Toeplitz to ${fmt(worst[1])} (worst: ${worst[0]})` };
        return { verdict: 'contradicted', lines, reason: `${worst[0]} deviates by ${fmt(worst[1])}` };
      },
    },
  },
  {
    id: 'linear-complexity',
    paper: 'LRPE',
    claim: 'LRPE (and SPE) keep the linear space complexity of linear attention.',
    where: `${LRPE}, abstract ("preserve linear space-time complexity"); ${SPE_PAPER}, abstract`,
    exact: {
      describe:
        'peak memory of one causal layer forward + backward at L = 256 … 2048: log-log slope; linear if the 95 % interval is below 1.15, quadratic softmax as the control (time: npm run bench)',
      async run() {
        const specs = [
          'linear:elu',
          'linear:elu+lrpe(rotation,householder,learned)',
          'linear:elu+lrpe(permutation,householder)',
          'linear:elu+lrpe(unitary,householder,learned)',
          'linear:elu+spe(sine,K=8,R=64,gated)',
          'linear:elu+spe(conv,P=32,R=64,gated)',
        ];
        const results = [];
        for (const s of specs) results.push([s, (await memoryExponent(s)).exponent] as const);
        // The control is softmax's quadratic form: with the native kernels off, the layer does not take the O(L) native kernel (attention/softmax-flash.ts).
        const was = useNative(false);
        let control: Awaited<ReturnType<typeof memoryExponent>>['exponent'];
        try {
          control = (await memoryExponent('softmax')).exponent;
        } finally {
          useNative(was);
        }
        const lines = [
          ...results.map(([s, e]) => `${s}: exponent ${fmt(e.estimate)} [${fmt(e.lo)}, ${fmt(e.hi)}]`),
          `softmax (control): exponent ${fmt(control.estimate)} [${fmt(control.lo)}, ${fmt(control.hi)}]`,
        ];
        const bad = results.filter(([, e]) => e.lo >= 1.5);
        if (bad.length) return { verdict: 'contradicted', lines, reason: `super-linear memory: ${bad.map(([s]) => s).join(', ')}` };
        if (results.every(([, e]) => e.hi <= 1.15) && control.lo > 1.5)
          return { verdict: 'supported', lines, reason: `every exponent's interval is below 1.15 (softmax control ${fmt(control.estimate)})` };
        return { verdict: 'inconclusive', lines, reason: 'an interval crosses 1.15, or the softmax control did not separate' };
      },
    },
  },
  {
    id: 'spe-expected-kernel',
    paper: 'SPE',
    claim: 'SPE codes reproduce a relative (Toeplitz) positional kernel in expectation, with a Monte-Carlo error falling as 1/√R.',
    where: `${SPE_PAPER}, abstract ("provably behaves like RPE"); §2`,
    exact: {
      describe:
        'relative error of the R-realization estimate against the exact kernel, R = 16 … 4096, slope on log-log axes; supported if the 95 % interval contains −1/2 and excludes 0',
      async run() {
        const lines: string[] = [];
        let verdict: Verdict = 'supported';
        const reasons: string[] = [];
        for (const variant of ['sine', 'conv'] as const) {
          const r = monteCarloConvergence(variant, { realizations: [16, 64, 256, 1024, 4096], length: 32, draws: 4 });
          const s = r.slope;
          lines.push(
            `${variant}SPE: error ${r.error.map(fmt).join(', ')} at R = ${r.realizations.join(', ')}; slope ${fmt(s.estimate)} [${fmt(s.lo)}, ${fmt(s.hi)}]`,
          );
          const contains = s.lo <= -0.5 && s.hi >= -0.5;
          if (!contains) {
            verdict = 'contradicted';
            reasons.push(`${variant}SPE slope interval [${fmt(s.lo)}, ${fmt(s.hi)}] excludes −0.5`);
          } else if (s.hi >= 0 && verdict === 'supported') {
            verdict = 'inconclusive';
            reasons.push(`${variant}SPE slope interval contains 0`);
          }
        }
        return { verdict, lines, reason: reasons.length ? reasons.join('; ') : 'both slope intervals contain −1/2' };
      },
    },
  },
  ...(['listops', 'text', 'retrieval', 'image'] as const).map((task): ClaimDefinition => ({
    id: `spe-lra-${task}`,
    paper: 'SPE',
    claim: `SPE is competitive with absolute PE on LRA ${task[0].toUpperCase()}${task.slice(1)}: within 2 % accuracy of APE for Performer and linear-ReLU attention.`,
    where: `${SPE_PAPER}, Table 1 (Long-Range Arena)`,
    comparisons: ['performer', 'relu'].flatMap((base) => versus(`spe-lra-${task}`, 'test_acc', `${base}-sinespe`, [`${base}-ape`], 'equivalent', 0.02)),
  })),
  {
    id: 'spe-lra-retrieval-gain',
    paper: 'SPE',
    claim: 'sineSPE improves linear-ReLU attention over absolute PE on LRA Retrieval.',
    where: `${SPE_PAPER}, Table 1 (62.39 ± 0.59 vs 58.78 ± 0.93 in the authors' result files)`,
    comparisons: versus('spe-lra-retrieval', 'test_acc', 'relu-sinespe', ['relu-ape']),
  },
  {
    id: 'spe-extrapolation',
    paper: 'SPE',
    claim: 'Beyond the training length, SPE models keep their NLL while absolute-PE models degrade.',
    where: `${SPE_PAPER}, music generation (pop piano: trained on 2048 tokens, evaluated on 4096)`,
    comparisons: ['sinespe-gated', 'sinespe-ungated', 'convspe-gated', 'convspe-ungated'].map((t) => nllRise('extrapolation-midi', t, 'ape')),
  },
  {
    id: 'rpe-extrapolation',
    paper: 'rpelab',
    claim: 'LRPE and RoPE, like SPE, keep their NLL beyond the training length better than absolute PE (on MIDI and on text).',
    where: `rpelab's extension of the ${SPE_PAPER} extrapolation protocol`,
    comparisons: ['extrapolation-midi', 'extrapolation-text'].flatMap((experiment) =>
      ['rope', 'lrpe-rotation', 'lrpe-unitary-learned'].map((t) => nllRise(experiment, t, 'ape')),
    ),
  },
  {
    id: 'spe-gating',
    paper: 'SPE',
    claim: 'Ungated SPE extrapolates better than gated SPE (the gate trades positional information for stability).',
    where: `${SPE_PAPER}, gated SPE (§2) and the music experiments; the authors' companion site singles out ungated convSPE`,
    comparisons: (['sinespe', 'convspe'] as const).map((v) => nllRise('extrapolation-midi', `${v}-ungated`, `${v}-gated`)),
  },
  {
    id: 'spe-groove-continuation',
    paper: 'SPE',
    claim: 'In groove continuation past the training length, SPE continuations stay similar to the prompt longer than APE continuations.',
    where: `${SPE_PAPER}, §3.3 (groove continuation); rpelab: windows of the MIDI test stream, pitch-class and time-shift histograms`,
    comparisons: ['sinespe-gated', 'sinespe-ungated', 'convspe-gated', 'convspe-ungated'].map((t): Comparison => ({
      experiment: 'spe-groove-continuation',
      metric: 'sim_late',
      treatment: t,
      baseline: 'ape',
      expect: 'better',
    })),
  },
];

/**
 * The rows of `experiment` that some claim compares (treatment or baseline), from `claims`.
 * Rows outside this set are context: a scale may run them with fewer seeds (`supportSeeds`).
 */
export function claimRows(experiment: string, claims: ClaimDefinition[] = CLAIMS): Set<string> {
  return new Set(claims.flatMap((c) => (c.comparisons ?? []).filter((x) => x.experiment === experiment).flatMap((x) => [x.treatment, x.baseline])));
}
