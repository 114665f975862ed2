/**
 * Command-line options of `npm run bench` (bench/cli.ts). Pure parsing, no side effects.
 */
import { ENCODING_NAMES, DEFAULT_LENGTHS, QUICK_LENGTHS } from './cases';

export const SUITES = ['layer', 'overhead', 'train', 'micro', 'vs-torch'] as const;
export type Suite = (typeof SUITES)[number];
export const DIRECTIONS = ['bidirectional', 'causal'] as const;
export type Direction = (typeof DIRECTIONS)[number];
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BenchArgs {
  quick: boolean;
  suites: Suite[];
  /** Backends to run, in order; 'auto' resolves to every available one. */
  backends: BackendName[] | 'auto';
  encodings: string[];
  directions: Direction[];
  lengths: number[];
  /** Timed repetitions per point (the median is reported). */
  reps: number;
  /** Alternating pairs per encoding of the overhead suite (the median ratio is reported). */
  pairs: number;
  /** A point is skipped when one call is predicted to take longer than this (seconds). */
  budget: number;
  /** Timed repetitions are cut so that a point takes at most this long (seconds, at least one rep). */
  caseSeconds: number;
  /** A child process whose current point runs longer than this (seconds) is killed and the point recorded as timed out. */
  pointTimeout: number;
  /** Timed training steps per encoding. */
  trainSteps: number;
  /** Write bench/results/baseline-<backend>.json instead of <date>-<backend>.json. */
  baseline: boolean;
  /** Baseline file to compare the training step with; default <out>/baseline-<backend>.json. */
  baselineFile: string | null;
  out: string;
  /** Where the committed summary of each result is written (`bench/summary.ts`). */
  summaries: string;
  /** Only write the summaries of these result files, then stop (no benchmark). */
  summarize: string[];
  /** Only print the targets of these result or summary files as this code evaluates them, then stop. */
  targetsOf: string[];
  /** Kernels kept per point in the per-kernel time breakdown (0: no profiling pass, so no tf.memory peak). */
  topKernels: number;
  /** Free-form label added to the output file name and the JSON. */
  tag: string | null;
  /** Internal: run one backend in this process and write the points to this part file. */
  child: boolean;
  part: string | null;
  /** Internal: run only this micro-benchmark (index into the list). */
  microIndex: number | null;
  /** Internal: which half of the vs-torch suite a child runs (null: both). */
  torchPart: 'layer' | 'train' | null;
  help: boolean;
}

export const USAGE = `npm run bench -- [options]

  --quick                  short run for CI: L = ${QUICK_LENGTHS.join(', ')}, 1 rep, 5 s budget, 2 train steps
  --suites LIST            layer,overhead,train,micro,vs-torch (default: all). vs-torch: the layers and
                           the training step beside PyTorch (Debian's python3-torch, installed when
                           missing and root; $RPELAB_TORCH_PYTHON picks the Python), in alternating
                           pairs (--pairs), with the PyTorch targets
  --backends LIST          auto (default: every available of tensorflow, wasm, cpu) or e.g. wasm,cpu
  --encodings LIST         subset of ${ENCODING_NAMES.join(', ')}
  --directions LIST        bidirectional,causal (default: both)
  --lengths LIST           sequence lengths of the layer suite (default ${DEFAULT_LENGTHS.join(',')})
  --reps N                 timed repetitions per point, median reported (default 3)
  --pairs N                overhead suite: alternating (plain, encoded) pairs per encoding, median ratio reported (default 9; --quick 2)
  --budget SEC             skip a point whose single call is predicted to exceed SEC (default 30)
  --case-seconds SEC       cap on timed seconds per point; reps are reduced to fit (default 60)
  --point-timeout SEC      kill a point (and the larger lengths of its case) after SEC (default 3 x budget + case-seconds)
  --train-steps N          timed training steps per encoding (default 5)
  --baseline               write baseline-<backend>.json (the "before" numbers)
  --baseline-file PATH     compare the training step with this file (default <summaries>/baseline-<backend>.json)
  --out DIR                directory of the full result files (default bench/results, git-ignored)
  --summaries DIR          directory of their committed summaries (default bench/summaries): every
                           median, ratio and target, 3 kernels per point, no host name or paths
  --summarize FILE         write the summary of an existing result file and stop (repeatable)
  --targets FILE           print the targets of a result or summary file and stop (repeatable): the
                           vs-torch targets as this code evaluates them, the others as the run did
  --top-kernels N          per-kernel time breakdown size per point (default 8; 0 = no profiling pass)
  --tag NAME               label added to the output file name
  --help                   this text
`;

function list(v: string, name: string): string[] {
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error(`${name}: expected a comma-separated list, got '${v}'`);
  return items;
}

function oneOf<T extends string>(items: string[], choices: readonly T[], name: string): T[] {
  for (const it of items) {
    if (!(choices as readonly string[]).includes(it)) throw new Error(`${name}: unknown '${it}'; expected some of ${choices.join(', ')}`);
  }
  return items as T[];
}

function positiveInt(v: string, name: string, min = 1): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}, got '${v}'`);
  return n;
}

function positiveNumber(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a number > 0, got '${v}'`);
  return n;
}

/** Parses argv (without the node and script entries). Throws an Error naming the bad option. */
export function parseArgs(argv: readonly string[]): BenchArgs {
  const quick = argv.includes('--quick');
  const a: BenchArgs = {
    quick,
    suites: [...SUITES],
    backends: 'auto',
    encodings: [...ENCODING_NAMES],
    directions: [...DIRECTIONS],
    lengths: quick ? [...QUICK_LENGTHS] : [...DEFAULT_LENGTHS],
    reps: quick ? 1 : 3,
    pairs: quick ? 2 : 9,
    budget: quick ? 5 : 30,
    caseSeconds: quick ? 10 : 60,
    pointTimeout: 0,
    trainSteps: quick ? 2 : 5,
    baseline: false,
    baselineFile: null,
    out: 'bench/results',
    summaries: 'bench/summaries',
    summarize: [],
    targetsOf: [],
    topKernels: 8,
    tag: null,
    child: false,
    part: null,
    microIndex: null,
    torchPart: null,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${flag}: expected a value`);
      return v;
    };
    switch (flag) {
      case '--quick':
        break;
      case '--suites':
        a.suites = oneOf(list(value(), flag), SUITES, flag);
        break;
      case '--backends': {
        const v = value();
        a.backends = v === 'auto' ? 'auto' : oneOf(list(v, flag), BACKENDS, flag);
        break;
      }
      case '--encodings':
        a.encodings = oneOf(list(value(), flag), ENCODING_NAMES, flag);
        break;
      case '--directions':
        a.directions = oneOf(list(value(), flag), DIRECTIONS, flag);
        break;
      case '--lengths':
        a.lengths = list(value(), flag)
          .map((s) => positiveInt(s, flag))
          .sort((x, y) => x - y);
        break;
      case '--reps':
        a.reps = positiveInt(value(), flag);
        break;
      case '--pairs':
        a.pairs = positiveInt(value(), flag);
        break;
      case '--budget':
        a.budget = positiveNumber(value(), flag);
        break;
      case '--case-seconds':
        a.caseSeconds = positiveNumber(value(), flag);
        break;
      case '--point-timeout':
        a.pointTimeout = positiveNumber(value(), flag);
        break;
      case '--train-steps':
        a.trainSteps = positiveInt(value(), flag);
        break;
      case '--baseline':
        a.baseline = true;
        break;
      case '--baseline-file':
        a.baselineFile = value();
        break;
      case '--out':
        a.out = value();
        break;
      case '--summaries':
        a.summaries = value();
        break;
      case '--summarize':
        a.summarize.push(value());
        break;
      case '--targets':
        a.targetsOf.push(value());
        break;
      case '--top-kernels':
        a.topKernels = positiveInt(value(), flag, 0);
        break;
      case '--tag': {
        const t = value();
        if (!/^[\w.-]+$/.test(t)) throw new Error(`${flag}: expected letters, digits, '.', '_' or '-', got '${t}'`);
        a.tag = t;
        break;
      }
      case '--child':
        a.child = true;
        break;
      case '--part':
        a.part = value();
        break;
      case '--micro-index':
        a.microIndex = positiveInt(value(), flag, 0);
        break;
      case '--torch-part':
        a.torchPart = oneOf([value()], ['layer', 'train'] as const, flag)[0];
        break;
      case '--help':
      case '-h':
        a.help = true;
        break;
      default:
        throw new Error(`${flag}: unknown option (see --help)`);
    }
  }
  if (a.pointTimeout === 0) a.pointTimeout = 3 * a.budget + a.caseSeconds;
  return a;
}

/**
 * The argv of a child process that runs `suites` for `encodings` on one backend and writes
 * its points to `part`; the other options are those of `a`.
 */
export function childArgv(
  a: BenchArgs,
  backend: BackendName,
  part: string,
  job: { suites?: Suite[]; encodings?: string[]; directions?: Direction[]; microIndex?: number; torchPart?: 'layer' | 'train' } = {},
): string[] {
  const out = [
    '--child',
    '--part',
    part,
    '--backends',
    backend,
    '--suites',
    (job.suites ?? a.suites).join(','),
    '--encodings',
    (job.encodings ?? a.encodings).join(','),
    '--directions',
    (job.directions ?? a.directions).join(','),
    '--lengths',
    a.lengths.join(','),
    '--reps',
    String(a.reps),
    '--pairs',
    String(a.pairs),
    '--budget',
    String(a.budget),
    '--case-seconds',
    String(a.caseSeconds),
    '--point-timeout',
    String(a.pointTimeout),
    '--train-steps',
    String(a.trainSteps),
    '--out',
    a.out,
    '--top-kernels',
    String(a.topKernels),
  ];
  if (a.quick) out.push('--quick');
  if (a.baseline) out.push('--baseline');
  if (a.baselineFile) out.push('--baseline-file', a.baselineFile);
  if (a.tag) out.push('--tag', a.tag);
  if (job.microIndex !== undefined) out.push('--micro-index', String(job.microIndex));
  if (job.torchPart !== undefined) out.push('--torch-part', job.torchPart);
  return out;
}
