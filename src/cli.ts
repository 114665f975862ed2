#!/usr/bin/env node
/**
 * `rpelab`: list, run and report the paper experiments.
 *
 *   rpelab list [experiment]
 *   rpelab run <experiment|all>[,...] [--scale smoke|quick|small|full] [--seeds 0,1] [--only v1,v2]
 *              [--backend auto|wasm|cpu|tensorflow] [--set key=value,...] [--results DIR] [--jobs N] [--shard i/n]
 *   rpelab report <experiment|all>[,...] [--scale ...] [--format table|csv|json] [--set ...] [--results DIR]
 *   rpelab sweep-lr <experiment|all>[,...] --lrs 3e-3,1e-2,3e-2 [--scale ...] [--only ...] [--seeds 0] [--jobs N] [--format table|json]
 *
 * Run with `npx tsx src/cli.ts ...` from a checkout, or the `rpelab` bin of the built package.
 * This is the only module of the package that prints.
 */
import { spawn } from 'child_process';
import * as readline from 'readline';
import { parseArgs as parseNodeArgs } from 'util';
import { initBackend, BACKEND_CHOICES, nativeThreads } from './backend';
import { formatProgress, formatDuration } from './train';
import { specKnobs } from './attention';
import {
  listExperiments,
  getExperiment,
  requestedExperiments,
  planRuns,
  remainingWork,
  runExperiments,
  collectReport,
  formatReports,
  checkScale,
  scaleDirName,
  readSummary,
  collectClaims,
  formatLedger,
  collectSweep,
  chooseRates,
  formatSweep,
  checkRates,
  checkStoredConfigs,
  REPORT_FORMATS,
  SCALES,
  type RunnerEvent,
  type ReportFormat,
  type ScaleOverrides,
  type ExperimentReport,
} from './experiments';

const HELP = `rpelab: the LRPE and SPE paper experiments as named, resumable runs

Usage:
  rpelab list [experiment]            experiments (or one experiment's variants and scales)
  rpelab run <experiment|all>[,...]   train every unfinished run, resuming interrupted ones
  rpelab report <experiment|all>[,...] aggregate results: mean ± std over seeds, paper beside ours
  rpelab report claims                the claims ledger: each claim of both papers, its statistic
                                      and a verdict computed from the finished runs
  rpelab sweep-lr <experiment|all>[,...] --lrs a,b,c
                                      train the rows at each peak learning rate (results under
                                      <scale>+lr=<rate>; seed 0 unless --seeds), then print the
                                      validation metric per rate and the rate each task family
                                      ranks best (--format json for a summary file)

Options:
  --scale ${SCALES.join('|')}   model / data / step sizes (default small)
  --seeds 0,1                seeds (default: the scale's)
  --only v1,v2               only these variants
  --backend ${BACKEND_CHOICES.join('|')}   compute backend (run; default auto, or $RPELAB_BACKEND)
  --jobs N                   runs trained at once, in N worker processes (run; default 1; the
                             wasm backend uses one core, so N = cores is up to N times faster;
                             each worker trains run after run in one process)
  --shard i/n                only the i-th of n disjoint slices of the runs (run): n machines
                             writing to one shared --results directory run every run once
  --set key=value,...        override settings (steps, length, batchSize, model, ...) and encoding
                             knobs (any declared integer parameter: R, K, P, F, ...);
                             results go to a separate directory <scale>+key=value,...
  --format ${REPORT_FORMATS.join('|')}     report format (default table; the claims ledger: table|markdown|json)
  --results DIR              results root (default data/results, or $RPELAB_RESULTS_DIR)
  --dry-run                  check the request and print the plan (runs planned, finished, to train)
                             and the time left, predicted from the finished runs of the same rows,
                             then stop without training (run)
  -h, --help                 this help

Results: <results>/<experiment>/<scale>/<variant>/seed-<n>/{config.json, metrics.jsonl, summary.json, checkpoints/}.
A finished run (summary.json) is never recomputed. Ctrl-C stops after writing a checkpoint; run again to resume.`;

interface Args {
  command: string | null;
  targets: string[];
  flags: Record<string, string>;
  help: boolean;
  dryRun: boolean;
}

/** The options, for Node's util.parseArgs: every value option is a string, checked where it is used. */
const OPTIONS = {
  scale: { type: 'string' },
  seeds: { type: 'string' },
  only: { type: 'string' },
  backend: { type: 'string' },
  format: { type: 'string' },
  set: { type: 'string' },
  results: { type: 'string' },
  jobs: { type: 'string' },
  shard: { type: 'string' },
  lrs: { type: 'string' },
  'dry-run': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const OPTION_LIST = Object.keys(OPTIONS)
  .map((f) => `--${f}`)
  .join(', ');

function parseArgs(argv: string[]): Args {
  const parse = () => parseNodeArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (e) {
    const err = e as Error & { code?: string };
    const name = /'(-{1,2}[^' =]+)/.exec(err.message)?.[1] ?? '?';
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new Error(`unknown option '${name}'; expected one of ${OPTION_LIST}`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new Error(`option '${name}' needs a value (${err.message})`);
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new Error(`unexpected argument: ${err.message}`);
    throw err;
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new Error(`option '--${t.name}' given twice`);
    seen.add(t.name);
  }
  const { 'dry-run': dryRun, help, ...flags } = parsed.values;
  const [command = null, ...rest] = parsed.positionals;
  return {
    command: command === 'help' ? null : command,
    targets: rest.flatMap((a) => a.split(',').filter(Boolean)),
    flags: flags as Record<string, string>,
    help: help === true || command === 'help',
    dryRun: dryRun === true,
  };
}

function list(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function parseSeeds(s: string): number[] {
  return list(s).map((x) => {
    if (!/^\d+$/.test(x)) throw new Error(`seeds: expected non-negative integers separated by commas, like 0,1,2; got '${s}'`);
    return Number(x);
  });
}

/** `steps=20,R=4` -> overrides (encoding knobs, the declared integer parameters R, K, P, F, ..., go into `encoding`). */
function parseSet(s: string): ScaleOverrides {
  const knobs = specKnobs();
  const o: Record<string, unknown> = {};
  const enc: Record<string, number> = {};
  for (const kv of list(s)) {
    const [k, v] = kv.split('=');
    if (!k || v === undefined) throw new Error(`set: expected key=value pairs like steps=20,R=4; got '${kv}'`);
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`set: ${k} expects a number, got '${v}'`);
    if (knobs.has(k)) enc[k] = n;
    else o[k] = n;
  }
  if (Object.keys(enc).length) o.encoding = enc;
  return o as ScaleOverrides;
}

function print(s = ''): void {
  process.stdout.write(s + '\n');
}

function cmdList(targets: string[]): void {
  if (targets.length > 0) {
    for (const name of targets) {
      const d = getExperiment(name);
      print(`${d.name}: ${d.title}`);
      print(`  ${d.paper} · ${d.source} · task ${d.task} on ${d.dataset}`);
      print(`  ${d.description}`);
      print('  variants:');
      const w = Math.max(...Object.keys(d.variants).map((v) => v.length));
      for (const [v, def] of Object.entries(d.variants))
        print(`    ${v.padEnd(w)}  ${def.attention}${def.ape !== 'none' ? ` + ${def.ape} APE` : ''}${def.grid ? ' (2-D grid)' : ''}`);
      print('  scales:');
      for (const sc of SCALES) {
        const s = d.scales[sc];
        print(
          `    ${sc.padEnd(5)}  ${s.numLayers}x${s.model} (${s.numHeads} heads), length ${s.length}, batch ${s.batchSize}, ${s.steps} steps, seeds ${s.seeds.join(',')}`,
        );
      }
      print(`  metrics: ${d.metrics.map((m) => m.name).join(', ')}`);
      print();
    }
    return;
  }
  const defs = listExperiments();
  const w = Math.max(...defs.map((d) => d.name.length));
  for (const d of defs) print(`${d.name.padEnd(w)}  ${d.paper.padEnd(8)} ${String(Object.keys(d.variants).length).padStart(2)} variants  ${d.title}`);
  print();
  print(`${defs.length} experiments; scales ${SCALES.join(', ')}. 'rpelab list <experiment>' shows its variants.`);
}

function progressPrinter(): (ev: RunnerEvent) => void {
  const tty = process.stdout.isTTY === true;
  let open = false;
  const clear = () => {
    if (open) process.stdout.write('\r\x1b[K');
    open = false;
  };
  return (ev) => {
    switch (ev.kind) {
      case 'plan':
        print(`${ev.runs.length} run(s) planned`);
        return;
      case 'run-skip':
        print(`[${ev.index + 1}/${ev.total}] ${ev.run.experiment}/${ev.run.variant} seed ${ev.run.seed}: ${ev.reason}, skipped`);
        return;
      case 'run-start':
        print(`[${ev.index + 1}/${ev.total}] ${ev.run.experiment}/${ev.run.variant} seed ${ev.run.seed} (${ev.run.scale}, ${ev.steps} steps)`);
        return;
      case 'progress': {
        if (ev.event.kind === 'checkpoint') return;
        const line = `  ${formatProgress(ev.event)}`;
        if (tty && ev.event.kind === 'step') {
          clear();
          process.stdout.write(line);
          open = true;
        } else {
          clear();
          print(line);
        }
        return;
      }
      case 'run-test':
        clear();
        return;
      case 'run-end': {
        clear();
        const m = Object.entries(ev.summary.metrics)
          .map(([k, v]) => `${k} ${Number.isFinite(v) ? Number(v.toPrecision(4)) : 'not finite'}`)
          .join(' ');
        print(`  -> ${m} (train ${formatDuration(ev.summary.trainSec)}, test ${formatDuration(ev.summary.evalSec)})`);
        return;
      }
      case 'run-diverged':
        clear();
        print(`  -> diverged: ${ev.summary.diverged?.reason ?? 'non-finite loss'} (recorded; reports count it, never average it)`);
        return;
      case 'run-stopped':
        clear();
        print(`  stopped at step ${ev.step}; checkpoint written. Run the same command again to resume.`);
        return;
    }
  };
}

/** The request fields `run` passes on to its workers unchanged: --scale, --set, --results. */
function sharedRequest(a: Args): { scale: string; overrides?: ScaleOverrides; resultsDir?: string } {
  return { scale: a.flags.scale ?? 'small', overrides: a.flags.set !== undefined ? parseSet(a.flags.set) : undefined, resultsDir: a.flags.results };
}

async function cmdRun(a: Args): Promise<number> {
  if (a.targets.length === 0) throw new Error('run: name an experiment or all (see rpelab list)');
  const req = {
    ...sharedRequest(a),
    experiments: a.targets,
    seeds: a.flags.seeds !== undefined ? parseSeeds(a.flags.seeds) : undefined,
    only: a.flags.only !== undefined ? list(a.flags.only) : undefined,
    shard: a.flags.shard,
  };
  // Validate the whole request before selecting a backend or loading data.
  const plans = planRuns(req);
  checkStoredConfigs(plans);
  const jobs = a.flags.jobs !== undefined ? Number(a.flags.jobs) : 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`jobs: expected an integer >= 1, got '${a.flags.jobs}'`);
  if (a.flags.backend !== undefined && !(BACKEND_CHOICES as readonly string[]).includes(a.flags.backend)) {
    throw new Error(`backend: expected one of ${BACKEND_CHOICES.join(', ')}, got '${a.flags.backend}'`);
  }
  if (a.dryRun) {
    // Each summary read once: the count, the prediction and the list of runs left all use it.
    const summaries = new Map(plans.map((p) => [p.dir, readSummary(p.dir)]));
    const finished = plans.filter((p) => summaries.get(p.dir) !== null).length;
    print(`${plans.length} run(s) planned, ${finished} already finished, ${plans.length - finished} to train (dry run: nothing trained)`);
    const w = remainingWork(plans, (dir) => {
      const s = summaries.get(dir) ?? null;
      return s ? s.trainSec + s.evalSec : null;
    });
    if (w.predicted > 0)
      print(
        `predicted from the finished runs of the same rows: ${formatDuration(w.predictedSec)} of training and testing for ${w.predicted} run(s)` +
          ` (about ${formatDuration(w.predictedSec / jobs)} with --jobs ${jobs}, start-up not counted)` +
          (w.unknown > 0 ? `; ${w.unknown} run(s) of rows with no finished run are not predicted` : ''),
      );
    for (const p of plans) if (summaries.get(p.dir) === null) print(`  ${p.experiment.name}/${p.variantName}/seed-${p.seed}  ${p.dir}`);
    return 0;
  }
  if (jobs > 1)
    return runInWorkers(
      a,
      plans.filter((p) => readSummary(p.dir) === null),
      jobs,
      plans.length,
    );
  const backend = await initBackend(a.flags.backend);
  print(
    `backend: ${backend.name}${backend.notes.length ? ` (${backend.notes.join('; ')})` : ''}; native kernels: ${backend.native.active ? 'on' : `off (${backend.native.detail})`}`,
  );

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    process.stdout.write('\ninterrupt: stopping after the current step and writing a checkpoint (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const out = await runExperiments(req, { onEvent: progressPrinter(), signal: controller.signal });
    print(`${out.finished.length} run(s) trained, ${out.skipped.length} already finished, wall ${formatDuration(out.wallSec)}`);
    return out.stopped ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The line a worker prints after each run: `${WORKER_DONE} <exit code>`. */
const WORKER_DONE = '@@rpelab-worker-done';
/** Runs a worker process trains before it is replaced by a fresh one (see `runInWorkers`). */
const WORKER_MAX_RUNS = 12;

/**
 * `--jobs N`: N worker processes (`rpelab worker`, same flags), each given the next unfinished run
 * over its stdin as soon as it has finished the last one, so that start-up (Node, tsx, the backend)
 * and the datasets it has loaded are paid once per worker and experiment, not once per run; a worker
 * is replaced by a fresh process when the next run belongs to another experiment, after
 * WORKER_MAX_RUNS runs, or when it dies. Their output is printed line by line with the run's name.
 * Ctrl-C reaches the workers too: each checkpoints and stops its run, and the parent waits for them.
 */
async function runInWorkers(a: Args, plans: ReturnType<typeof planRuns>, jobs: number, planned: number): Promise<number> {
  print(`${planned} run(s) planned, ${planned - plans.length} already finished; ${plans.length} to train in ${jobs} worker processes`);
  const started = performance.now();
  let done = 0;
  /** Whole-sweep ETA: the runs left at the rate runs have finished so far (all workers together). */
  const eta = () => formatDuration((((performance.now() - started) / 1000) * (plans.length - done)) / Math.max(1, done));
  const passOn = ['scale', 'backend', 'set', 'results'].flatMap((f) => (a.flags[f] !== undefined ? [`--${f}`, a.flags[f]] : []));
  let next = 0;
  let failed = 0;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  // Each worker gets an equal share of the native matmul's threads (see backend/native.ts).
  const env = { ...process.env, RPELAB_THREADS: String(Math.max(1, Math.floor(nativeThreads() / jobs))) };
  /** A worker process: `run(tag, line)` hands it one run and resolves with the run's exit code. */
  const startWorker = () => {
    const child = spawn(process.execPath, [...process.execArgv, __filename, 'worker', ...passOn], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let tag = '';
    let pending: ((code: number) => void) | null = null;
    let closed = false;
    const relay = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
      let buf = '';
      stream.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split(/\r|\n/);
        buf = lines.pop()!;
        for (const l of lines) {
          if (l.startsWith(WORKER_DONE)) {
            const resolve = pending;
            pending = null;
            resolve?.(Number(l.slice(WORKER_DONE.length)));
          } else if (l.trim() !== '' && !/run\(s\) (planned|trained)|^backend:/.test(l)) out.write(`[${tag}] ${l.trim()}\n`);
        }
      });
    };
    relay(child.stdout!, process.stdout);
    relay(child.stderr!, process.stderr);
    // Writing to a worker that has just died fails with EPIPE; its 'close' reports the run instead.
    child.stdin!.on('error', () => undefined);
    const exited = new Promise<number>((resolve) =>
      child.on('close', (c) => {
        closed = true;
        const resolveRun = pending;
        pending = null;
        resolveRun?.(c ?? 1); // died during a run: that run failed (or was interrupted)
        resolve(c ?? 1);
      }),
    );
    return {
      get closed() {
        return closed;
      },
      exited,
      run: (runTag: string, job: object) =>
        new Promise<number>((resolve) => {
          tag = runTag;
          pending = resolve;
          child.stdin!.write(`${JSON.stringify(job)}\n`);
        }),
      end: () => child.stdin!.end(),
    };
  };
  const worker = async (): Promise<void> => {
    let w = startWorker();
    let experiment: string | null = null;
    let runs = 0;
    while (next < plans.length && !interrupted) {
      const p = plans[next++];
      // A fresh process for each experiment and after WORKER_MAX_RUNS runs. With one process for
      // a whole sweep, rows whose code had not changed trained 1.2–1.6x slower in the default
      // reproduce once their worker had held earlier experiments' datasets (IMDB's subwords among
      // them) than with a process per run; a worker now keeps only what one experiment shares.
      if (w.closed || (experiment !== null && (p.experiment.name !== experiment || runs >= WORKER_MAX_RUNS))) {
        w.end();
        await w.exited;
        w = startWorker();
        runs = 0;
      }
      experiment = p.experiment.name;
      runs += 1;
      const code = await w.run(`${p.experiment.name}/${p.variantName}/seed-${p.seed}`, { experiment: p.experiment.name, variant: p.variantName, seed: p.seed });
      if (code === 130) interrupted = true;
      else {
        if (code !== 0) failed += 1;
        done += 1;
        print(
          `[sweep] ${done}/${plans.length} run(s) done${failed ? `, ${failed} failed` : ''}; elapsed ${formatDuration((performance.now() - started) / 1000)}, ETA ${eta()}`,
        );
      }
    }
    w.end();
    await w.exited;
  };
  try {
    await Promise.all(Array.from({ length: Math.min(jobs, plans.length) }, worker));
  } finally {
    process.off('SIGINT', onSigint);
  }
  print(
    `workers done: ${failed} run(s) failed${interrupted ? ', interrupted (run again to resume)' : ''}; wall ${formatDuration((performance.now() - started) / 1000)}`,
  );
  return interrupted ? 130 : failed > 0 ? 1 : 0;
}

/**
 * `rpelab worker` (the worker process of `run --jobs`): reads one run per stdin line,
 * `{"experiment", "variant", "seed"}`, trains it with the command line's --scale, --set, --results
 * and --backend, and prints `${WORKER_DONE} <code>` after it (0 trained or already finished, 1 failed,
 * 130 interrupted, after which it exits). Ends when stdin closes.
 */
async function cmdWorker(a: Args): Promise<number> {
  const backend = await initBackend(a.flags.backend);
  print(`backend: ${backend.name}; native kernels: ${backend.native.active ? 'on' : `off (${backend.native.detail})`}`);
  const controller = new AbortController();
  let running = false;
  const onSigint = () => {
    controller.abort();
    if (!running) process.exit(130);
  };
  process.on('SIGINT', onSigint);
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      let code = 0;
      running = true;
      try {
        const job = JSON.parse(line) as { experiment: string; variant: string; seed: number };
        const out = await runExperiments(
          {
            ...sharedRequest(a),
            experiments: [job.experiment],
            only: [job.variant],
            seeds: [job.seed],
          },
          { onEvent: progressPrinter(), signal: controller.signal },
        );
        code = out.stopped ? 130 : 0;
      } catch (e) {
        process.stderr.write(`rpelab: ${(e as Error).message}\n`);
        code = 1;
      }
      running = false;
      print(`${WORKER_DONE} ${code}`);
      if (code === 130) return 130;
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function cmdClaims(a: Args): Promise<void> {
  const scale = checkScale(a.flags.scale ?? 'small');
  const format = a.flags.format ?? 'table';
  if (!['table', 'markdown', 'json'].includes(format))
    throw new Error(`format: unknown format '${format}' for the claims ledger; expected one of table, markdown, json`);
  for (const f of ['only', 'set', 'seeds'] as const)
    if (a.flags[f] !== undefined) throw new Error(`report claims: --${f} does not apply to the claims ledger (it reads every claim row at --scale)`);
  await initBackend(a.flags.backend);
  const ledger = await collectClaims(scale, { resultsDir: a.flags.results });
  print(formatLedger(ledger, format as 'table' | 'markdown' | 'json'));
}

function cmdReport(a: Args): void {
  if (a.targets.length === 0) throw new Error('report: name an experiment or all (see rpelab list)');
  const scale = checkScale(a.flags.scale ?? 'small');
  const format = (a.flags.format ?? 'table') as ReportFormat;
  if (!(REPORT_FORMATS as readonly string[]).includes(format))
    throw new Error(`format: unknown format '${format}'; expected one of ${REPORT_FORMATS.join(', ')}`);
  const dir = scaleDirName(scale, a.flags.set !== undefined ? parseSet(a.flags.set) : undefined);
  let reports: ExperimentReport[] = requestedExperiments(a.targets).map((d) => collectReport(d, dir, { resultsDir: a.flags.results }));
  if (a.flags.only !== undefined) {
    const only = list(a.flags.only);
    const known = new Set(reports.flatMap((r) => r.rows.map((row) => row.variant)));
    const unknown = only.filter((v) => !known.has(v));
    if (unknown.length > 0)
      throw new Error(
        `only: unknown variant${unknown.length > 1 ? 's' : ''} ${unknown.map((v) => `'${v}'`).join(', ')}; expected some of ${[...known].join(', ')}`,
      );
    reports = reports.map((r) => ({ ...r, rows: r.rows.filter((row) => only.includes(row.variant)) }));
  }
  print(formatReports(reports, format));
}

async function cmdSweep(a: Args): Promise<number> {
  if (a.targets.length === 0) throw new Error('sweep-lr: name the experiments to sweep (see rpelab list)');
  if (a.flags.lrs === undefined) throw new Error('sweep-lr: --lrs is required, e.g. --lrs 3e-3,1e-2,3e-2');
  if (a.flags.set !== undefined) throw new Error('sweep-lr: --set does not apply (each rate is its own --set lr=<rate>)');
  const rates = checkRates(
    list(a.flags.lrs).map((x) => {
      const n = Number(x);
      if (!Number.isFinite(n)) throw new Error(`lrs: expected numbers separated by commas, like 3e-3,1e-2; got '${x}'`);
      return n;
    }),
  );
  const format = a.flags.format ?? 'table';
  if (!['table', 'json'].includes(format)) throw new Error(`format: unknown format '${format}' for a sweep; expected table or json`);
  const scale = checkScale(a.flags.scale ?? 'small');
  const defs = requestedExperiments(a.targets);
  const flags = { ...a.flags, seeds: a.flags.seeds ?? '0' };
  delete (flags as Record<string, string>).format;
  delete (flags as Record<string, string>).lrs;
  for (const lr of rates) {
    if (format === 'table') print(`[sweep-lr] lr ${lr}`);
    const code = await cmdRun({ ...a, command: 'run', flags: { ...flags, set: `lr=${lr}` } });
    if (code !== 0) return code;
  }
  if (a.dryRun) return 0;
  const rows = collectSweep(defs, scale, rates, { resultsDir: a.flags.results, only: a.flags.only !== undefined ? list(a.flags.only) : undefined });
  const choices = chooseRates(rows);
  print(format === 'json' ? JSON.stringify({ scale, rates, seeds: parseSeeds(flags.seeds), rows, choices }, null, 1) : formatSweep(rows, choices));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  let a: Args;
  try {
    a = parseArgs(argv);
    if (a.help || a.command === null) {
      print(HELP);
      return a.command === null && !a.help ? 1 : 0;
    }
    switch (a.command) {
      case 'list':
        cmdList(a.targets);
        return 0;
      case 'run':
        return await cmdRun(a);
      case 'worker':
        return await cmdWorker(a);
      case 'sweep-lr':
        return await cmdSweep(a);
      case 'report':
        if (a.targets.length === 1 && a.targets[0] === 'claims') await cmdClaims(a);
        else if (a.targets.includes('claims')) throw new Error("report: 'claims' is the ledger; ask for it alone (rpelab report claims)");
        else cmdReport(a);
        return 0;
      default:
        throw new Error(`unknown command '${a.command}'; expected list, run, report or sweep-lr (rpelab --help)`);
    }
  } catch (e) {
    process.stderr.write(`rpelab: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
