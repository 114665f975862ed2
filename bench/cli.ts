/**
 * `npm run bench`: the performance benchmarks of rpelab (see the README's Benchmarks section).
 *
 * For each backend the parent process runs a sequence of child processes, one at a time
 * (timings never overlap): one per encoding for the training step, one per encoding and
 * direction for the layer and the overhead suites, one per micro-benchmark. A child runs on
 * one backend, prints a progress line per point and writes its points to a part file.
 * Isolation matters: the RSS peak of a child is its own, and a case that exhausts the wasm
 * heap (whose malloc failures are not reported as errors) cannot corrupt the others. The
 * parent merges the parts into bench/results/<date>-<backend>.json (or baseline-<backend>.json
 * with --baseline), evaluates the targets, prints the tables and finally the backend comparison.
 */
import { execSync, fork } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, initBackend } from '../src/backend';
import { summarizeResult, formatSummary } from './summary';
import { parseArgs, childArgv, USAGE, type BenchArgs, type BackendName, type Suite, type Direction } from './args';
import {
  ENCODING_CASES,
  LAYER_SHAPE,
  TRAIN_SHAPE,
  OVERHEAD_ENCODINGS,
  OVERHEAD_BASELINE,
  OVERHEAD_LENGTH,
  QUICK_OVERHEAD_LENGTH,
  DEFAULT_LENGTHS,
} from './cases';
import { RssSampler, round } from './measure';
import { runLayerCase, type LayerPoint } from './suites/layer';
import { runOverheadCase, type OverheadPoint } from './suites/overhead';
import { runTrainCase, type TrainPoint } from './suites/train';
import { microCases, runMicroCase, type MicroPoint } from './suites/micro';
import {
  findTorchPython,
  TorchServer,
  runVsTorchLayer,
  runVsTorchTrain,
  torchThreads,
  TORCH_ENCODINGS,
  TORCH_TRAIN_ENCODINGS,
  type VsTorchPoint,
  type TorchInfo,
} from './suites/vs-torch';
import { evaluateTargets, vsTorchTargets } from './targets';
import {
  RESULT_SCHEMA,
  resultFileName,
  scalingFits,
  layerTable,
  overheadTable,
  trainTable,
  microTable,
  vsTorchTable,
  targetLines,
  backendComparison,
  type BenchResult,
  type MachineInfo,
  type CodeInfo,
} from './report';

/** Log times count from the parent's start (children inherit it through the environment). */
const t0 = Number(process.env.RPELAB_BENCH_T0 ?? Date.now());
process.env.RPELAB_BENCH_T0 = String(t0);
function log(line: string): void {
  const s = Math.round((Date.now() - t0) / 1000);
  console.log(
    `[${String(Math.floor(s / 3600)).padStart(2, '0')}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${line}`,
  );
}

/** What one child process reports. */
interface Part {
  backend: string;
  backendInfo: Record<string, unknown>;
  layer: LayerPoint[];
  overhead: OverheadPoint[];
  train: TrainPoint[];
  micro: MicroPoint[];
  vsTorch: VsTorchPoint[];
  torch?: TorchInfo;
}

/** Is the native tfjs-node backend installed (not the npm alias to plain tfjs)? */
function hasTfjsNode(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@tensorflow/tfjs-node/package.json').name === '@tensorflow/tfjs-node';
  } catch {
    return false;
  }
}

function tfjsVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@tensorflow/tfjs/package.json').version;
  } catch {
    return 'unknown';
  }
}

function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
    loadStart: os.loadavg().map((x) => round(x, 2)),
    node: process.version,
    tfjs: tfjsVersion(),
  };
}

function codeInfo(): CodeInfo {
  const sh = (cmd: string) => {
    try {
      return execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|c|h|gyp)$/.test(e.name)) files.push(p);
    }
  };
  walk('src');
  if (fs.existsSync('native')) walk(path.join('native', 'src')); // the native kernels' sources count too
  const h = createHash('sha1');
  for (const f of files.sort()) h.update(f).update('\0').update(fs.readFileSync(f)).update('\0');
  const status = sh('git status --porcelain -- src native/src');
  return {
    commit: sh('git rev-parse --short HEAD') || process.env.RPELAB_BENCH_COMMIT || 'unknown',
    srcHash: h.digest('hex').slice(0, 12),
    uncommitted: status ? status.split('\n').length : 0,
  };
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Child: run the requested suites on one backend and write the part file. */
async function runChild(args: BenchArgs): Promise<void> {
  const info = await initBackend((args.backends as BackendName[])[0]);
  // The cpu backend prints an advert for tfjs-node on its first use.
  const cpu = tf.engine().findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
  const part: Part = {
    backend: info.name,
    backendInfo: {
      requested: info.requested,
      fallbackKernels: info.fallbackKernels,
      notes: info.notes,
      native: info.native,
      // XNNPACK threads of the wasm backend: 1 on Node (tfjs-wasm 4.22 turns multithreading off there).
      ...(info.name === 'wasm'
        ? { wasmThreads: (tf.backend() as unknown as { wasm?: { tfjs?: { getThreadsCount?: () => number } } }).wasm?.tfjs?.getThreadsCount?.() ?? null }
        : {}),
    },
    layer: [],
    overhead: [],
    train: [],
    micro: [],
    vsTorch: [],
  };
  const save = () => fs.writeFileSync(args.part!, JSON.stringify(part) + '\n');
  save();
  // Heartbeats tell the parent which point is running (it kills a point that runs too long).
  const beat = (b: Beat) => process.send?.(b);
  const rss = new RssSampler();
  const cases = ENCODING_CASES.filter((c) => args.encodings.includes(c.name));
  if (args.suites.includes('train')) {
    for (const c of cases) {
      beat({ suite: 'train', encoding: c.name });
      part.train.push(runTrainCase(c, args.trainSteps, rss, log));
      save();
    }
  }
  if (args.suites.includes('micro')) {
    const all = microCases(args.quick);
    for (const c of args.microIndex === null ? all : all.slice(args.microIndex, args.microIndex + 1)) {
      beat({ suite: 'micro', name: c.name, shape: c.shape, flops: c.flops });
      part.micro.push(runMicroCase(c, Math.max(args.reps, 3), args.caseSeconds, rss, log));
      save();
    }
  }
  if (args.suites.includes('overhead')) {
    const base = ENCODING_CASES.find((c) => c.name === OVERHEAD_BASELINE)!;
    const L = args.quick ? QUICK_OVERHEAD_LENGTH : OVERHEAD_LENGTH;
    for (const c of cases.filter((e) => OVERHEAD_ENCODINGS.includes(e.name))) {
      for (const d of args.directions) {
        beat({ suite: 'overhead', encoding: c.name, direction: d, L });
        const p = runOverheadCase(c, base, d, L, args.pairs, args.caseSeconds);
        part.overhead.push(p);
        log(
          p.error
            ? `  error ${c.name.padEnd(17)} ${d.padEnd(13)} L=${String(L).padStart(5)}  ${p.error.slice(0, 160)}`
            : `  pairs ${c.name.padEnd(17)} ${d.padEnd(13)} L=${String(L).padStart(5)}  x${p.ratio!.toFixed(3)} of ${base.name} (cpu x${p.cpuRatio!.toFixed(3)}; ${p.msMedian} vs ${p.baselineMsMedian} ms; ${p.pairs} pairs)`,
        );
        save();
      }
    }
  }
  if (args.suites.includes('vs-torch')) {
    const server = new TorchServer(findTorchPython(log), torchThreads());
    try {
      part.torch = await server.info();
      save();
      if (args.torchPart !== 'layer') {
        for (const c of cases.filter((e) => TORCH_TRAIN_ENCODINGS.includes(e.name))) {
          beat({ suite: 'vs-torch', encoding: c.name });
          part.vsTorch.push(await runVsTorchTrain(c, server, args.pairs, log));
          save();
        }
      }
      if (args.torchPart !== 'train') {
        for (const c of cases.filter((e) => TORCH_ENCODINGS.includes(e.name))) {
          for (const d of args.directions) {
            const opts = { lengths: args.lengths, pairs: args.pairs, budget: args.budget, caseSeconds: args.caseSeconds, log };
            part.vsTorch.push(
              ...(await runVsTorchLayer(c, d, server, { ...opts, beat: ({ L }) => beat({ suite: 'vs-torch', encoding: c.name, direction: d, L }) })),
            );
            save();
          }
        }
      }
    } finally {
      server.close();
    }
  }
  if (args.suites.includes('layer')) {
    for (const c of cases) {
      for (const d of args.directions) {
        const opts = {
          lengths: args.lengths,
          reps: args.reps,
          budget: args.budget,
          caseSeconds: args.caseSeconds,
          topKernels: args.topKernels,
          backend: info.name,
          log,
          beat: ({ L }: { L: number }) => beat({ suite: 'layer', encoding: c.name, direction: d, L }),
        };
        part.layer.push(...(await runLayerCase(c, d, opts, rss)));
        save();
      }
    }
  }
  save();
  await rss.stop();
}

/** The point a child is working on. */
type Beat =
  | { suite: 'train'; encoding: string }
  | { suite: 'vs-torch'; encoding: string; direction?: Direction; L?: number }
  | { suite: 'micro'; name: string; shape: string; flops: number | null }
  | { suite: 'layer' | 'overhead'; encoding: string; direction: Direction; L: number };

/**
 * Runs one child to completion. Kills it when one point runs longer than `timeoutSec`.
 * Resolves with the failure (null when it succeeded) and the point it was on.
 */
function runJob(argv: string[], timeoutSec: number): Promise<{ failure: string | null; last: Beat | null }> {
  return new Promise((resolve) => {
    const child = fork(__filename, argv, { stdio: 'inherit' });
    let last: Beat | null = null;
    let since = Date.now();
    let timedOut = false;
    child.on('message', (m: Beat) => {
      last = m;
      since = Date.now();
    });
    const timer = setInterval(() => {
      if (last && (Date.now() - since) / 1000 > timeoutSec) {
        timedOut = true;
        child.kill('SIGKILL');
      }
    }, 1000);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      const failure = timedOut
        ? `timed out after ${timeoutSec} s (--point-timeout)`
        : code === 0
          ? null
          : `child process exited with ${signal ?? `code ${code}`}`;
      resolve({ failure, last });
    });
  });
}

/** Parent: all suites on one backend, one child per job; returns the merged result. */
async function runBackend(args: BenchArgs, backend: BackendName): Promise<BenchResult | null> {
  const date = new Date();
  fs.mkdirSync(args.out, { recursive: true });
  const partDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-bench-'));
  const { child: _c, help: _h, part: _p, microIndex: _m, summarize: _s, targetsOf: _o, torchPart: _t, ...argsOut } = args;
  const result: BenchResult & { overhead: OverheadPoint[] } = {
    schema: RESULT_SCHEMA,
    date: date.toISOString(),
    backend,
    backendInfo: {},
    baseline: args.baseline,
    tag: args.tag,
    machine: machineInfo(),
    code: codeInfo(),
    args: argsOut,
    layer: [],
    overhead: [],
    fits: [],
    train: [],
    micro: [],
    targets: [],
  };
  const file = path.join(args.out, resultFileName(backend, date, args.baseline, args.tag));
  const summaryFile = path.join(args.summaries, path.basename(file));
  const baselineFile = args.baselineFile ?? path.join(args.summaries, resultFileName(backend, date, true, null));
  const baseline = args.baseline ? null : readJson<BenchResult>(baselineFile);
  log(
    `=== backend ${backend}: load ${result.machine.loadStart.join(' ')} on ${result.machine.cpus} cpus; code ${result.code.commit}+${result.code.srcHash}; writing ${file} and ${summaryFile}` +
      (baseline ? `; baseline ${baselineFile} (${baseline.date})` : ''),
  );

  const encodings = ENCODING_CASES.filter((c) => args.encodings.includes(c.name)).map((c) => c.name);
  type Job = { suites: Suite[]; encodings?: string[]; directions?: Direction[]; microIndex?: number; torchPart?: 'layer' | 'train'; label: string };
  const jobs: Job[] = [];
  if (args.suites.includes('train')) jobs.push(...encodings.map((e) => ({ suites: ['train' as const], encodings: [e], label: `train ${e}` })));
  if (args.suites.includes('micro')) {
    jobs.push(...microCases(args.quick).map((c, i) => ({ suites: ['micro' as const], microIndex: i, label: `micro ${c.name}` })));
  }
  if (args.suites.includes('layer')) {
    for (const e of encodings) for (const d of args.directions) jobs.push({ suites: ['layer'], encodings: [e], directions: [d], label: `layer ${e} ${d}` });
  }
  if (args.suites.includes('overhead')) {
    for (const e of encodings.filter((n) => OVERHEAD_ENCODINGS.includes(n))) {
      for (const d of args.directions) jobs.push({ suites: ['overhead'], encodings: [e], directions: [d], label: `overhead ${e} ${d}` });
    }
  }

  // vs-torch compares PyTorch with the fast backends; on the portable cpu backend only when asked for by name.
  let torchHere = args.suites.includes('vs-torch') && (backend !== 'cpu' || args.backends !== 'auto');
  if (torchHere) {
    try {
      findTorchPython(log); // once, here: installs python3-torch when root, else says how
    } catch (e) {
      torchHere = false;
      log(`vs-torch skipped: ${(e as Error).message}`);
    }
  }
  if (torchHere) {
    const torchTrain = encodings.filter((e) => TORCH_TRAIN_ENCODINGS.includes(e));
    if (torchTrain.length > 0) jobs.push({ suites: ['vs-torch'], encodings: torchTrain, torchPart: 'train', label: `vs-torch train ${torchTrain.join(',')}` });
    for (const e of encodings.filter((n) => TORCH_ENCODINGS.includes(n))) {
      for (const d of args.directions) jobs.push({ suites: ['vs-torch'], encodings: [e], directions: [d], torchPart: 'layer', label: `vs-torch ${e} ${d}` });
    }
  }

  const save = () => {
    result.fits = scalingFits(result.layer);
    const baseName = baseline ? path.basename(baselineFile) : 'none';
    result.targets = [
      ...evaluateTargets(result.layer, result.train, baseline?.train ?? null, baseName, 'wall', result.overhead, result.micro),
      ...vsTorchTargets(result.vsTorch ?? [], [Math.min(...args.lengths), Math.max(...args.lengths)], result.micro),
    ];
    result.targetsCpuTime = evaluateTargets(result.layer, result.train, baseline?.train ?? null, baseName, 'cpu', result.overhead, result.micro);
    result.machine.loadEnd = os.loadavg().map((x) => round(x, 2));
    result.durationSec = Math.round((Date.now() - date.getTime()) / 1000);
    fs.writeFileSync(file, JSON.stringify(result, null, 1) + '\n');
    fs.mkdirSync(args.summaries, { recursive: true });
    fs.writeFileSync(summaryFile, formatSummary(summarizeResult(result)));
  };
  let sawBackend = false;
  for (const [i, job] of jobs.entries()) {
    if (!job.label.startsWith('micro')) log(`--- ${backend} ${job.label}`);
    const partFile = path.join(partDir, `part-${i}.json`);
    const { failure, last } = await runJob(childArgv(args, backend, partFile, job), args.pointTimeout);
    const part = readJson<Part>(partFile);
    if (part) {
      if (part.backend !== backend) {
        log(`backend ${backend} is not available (got ${part.backend}); skipping it`);
        fs.rmSync(partDir, { recursive: true, force: true });
        return null;
      }
      if (!sawBackend) result.backendInfo = part.backendInfo;
      sawBackend = true;
      result.layer.push(...part.layer);
      result.overhead.push(...(part.overhead ?? []));
      result.train.push(...part.train);
      result.micro.push(...part.micro);
      if (part.vsTorch?.length) (result.vsTorch ??= []).push(...part.vsTorch);
      if (part.torch) result.torch = part.torch;
    }
    if (failure) {
      const at = last as Beat | null;
      log(`  ${job.label}${at?.suite === 'layer' || at?.suite === 'overhead' ? ` L=${at.L}` : ''}: ${failure}`);
      const c = ENCODING_CASES.find((e) => e.name === job.encodings?.[0]);
      if (job.suites[0] === 'train' && c && !result.train.some((p) => p.encoding === c.name)) {
        result.train.push({ encoding: c.name, spec: c.spec, batch: TRAIN_SHAPE.batch, length: TRAIN_SHAPE.length, error: failure });
      }
      if (
        job.suites[0] === 'vs-torch' &&
        !result.vsTorch?.some((p) => p.encoding === job.encodings?.[0] && (job.torchPart === 'train') === (p.kind === 'train'))
      ) {
        (result.vsTorch ??= []).push({
          kind: job.torchPart ?? 'layer',
          encoding: job.encodings?.[0] ?? '',
          spec: c?.spec ?? '',
          direction: job.directions?.[0],
          error: failure,
        });
      }
      if (job.suites[0] === 'micro' && at?.suite === 'micro' && !result.micro.some((p) => p.name === at.name)) {
        result.micro.push({ name: at.name, shape: at.shape, flops: at.flops, error: failure });
      }
      if (job.suites[0] === 'overhead' && c) {
        for (const d of job.directions ?? args.directions) {
          if (result.overhead.some((p) => p.encoding === c.name && p.direction === d)) continue;
          const L = args.quick ? QUICK_OVERHEAD_LENGTH : OVERHEAD_LENGTH;
          result.overhead.push({ encoding: c.name, spec: c.spec, baseline: OVERHEAD_BASELINE, direction: d, L, error: failure });
        }
      }
      if (job.suites[0] === 'layer' && c) {
        const { batch, numHeads, headDim } = LAYER_SHAPE;
        for (const d of job.directions ?? args.directions) {
          for (const L of args.lengths) {
            if (result.layer.some((p) => p.encoding === c.name && p.direction === d && p.L === L)) continue;
            // Lengths after the one that failed were never reached: skipped, not failed.
            const beyond = at?.suite === 'layer' && at.direction === d && L > at.L;
            const outcome = beyond ? { skipped: `L = ${(at as { L: number }).L} failed: ${failure}` } : { error: failure };
            result.layer.push({ encoding: c.name, spec: c.spec, attention: c.attention, direction: d, L, batch, heads: numHeads, headDim, ...outcome });
          }
        }
      }
    }
    save();
  }
  fs.rmSync(partDir, { recursive: true, force: true });
  if (!sawBackend) return null;
  save();

  console.log(
    `\n== ${backend} (${result.date}; load ${result.machine.loadStart.join(' ')} -> ${result.machine.loadEnd!.join(' ')}; ${result.durationSec} s) ==`,
  );
  if (result.layer.length) console.log('\n' + layerTable(result.layer, result.fits));
  if (result.overhead.length) console.log('\n' + overheadTable(result.overhead));
  if (result.train.length) console.log('\n' + trainTable(result.train, baseline?.train ?? null));
  if (result.micro.length) console.log('\n' + microTable(result.micro));
  if (result.vsTorch?.length) {
    const t = result.torch;
    console.log(
      `\nPyTorch ${t?.torch ?? '?'} (${t?.python ?? '?'}, ${t?.threads ?? '?'} threads${t && !t.sdpa ? '; no scaled_dot_product_attention: softmax is softmax(QK^T/sqrt(d))V' : ''})\n` +
        vsTorchTable(result.vsTorch),
    );
  }
  console.log(`\ntargets on ${backend} (wall time):\n` + targetLines(result.targets));
  console.log(`\ntargets on ${backend} (process CPU time; less sensitive to other jobs on the machine):\n` + targetLines(result.targetsCpuTime!));
  console.log(`\nwrote ${file}\n`);
  return result;
}

async function main(): Promise<void> {
  let args: BenchArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.child) {
    if (!args.part) throw new Error('--part: required with --child');
    return runChild(args);
  }
  if (args.summarize.length > 0) {
    for (const f of args.summarize) {
      const r = readJson<BenchResult>(f);
      if (!r || r.schema !== RESULT_SCHEMA) throw new Error(`--summarize: expected a bench result file (schema ${RESULT_SCHEMA}), got ${f}`);
      const out = path.join(args.summaries, path.basename(f));
      fs.mkdirSync(args.summaries, { recursive: true });
      fs.writeFileSync(out, formatSummary(summarizeResult(r)));
      console.log(`${f} (${fs.statSync(f).size} bytes) -> ${out} (${fs.statSync(out).size} bytes)`);
    }
    return;
  }
  if (args.targetsOf.length > 0) {
    for (const f of args.targetsOf) {
      const r = readJson<BenchResult>(f);
      if (!r || r.schema !== RESULT_SCHEMA) throw new Error(`--targets: expected a bench result or summary file (schema ${RESULT_SCHEMA}), got ${f}`);
      const lengths = (r.args as { lengths?: number[] } | undefined)?.lengths ?? DEFAULT_LENGTHS;
      const torch = vsTorchTargets(r.vsTorch ?? [], [Math.min(...lengths), Math.max(...lengths)], r.micro);
      const recorded = r.targets.filter((t) => !torch.some((u) => u.id === t.id));
      console.log(`${f} (${r.backend}, ${r.date}, code ${r.code.commit}), wall time:\n` + targetLines([...recorded, ...torch]));
    }
    return;
  }
  const backends: BackendName[] = args.backends === 'auto' ? [...(hasTfjsNode() ? ['tensorflow' as const] : []), 'wasm', 'cpu'] : args.backends;
  if (args.backends === 'auto' && !hasTfjsNode()) log('tfjs-node is not installed: comparing wasm and cpu');
  const results: BenchResult[] = [];
  for (const b of backends) {
    const r = await runBackend(args, b);
    if (r) results.push(r);
  }
  const cmp = backendComparison(results);
  if (cmp) console.log(cmp + '\n');
  for (const r of results) {
    for (const [clock, ts] of [
      ['wall', r.targets],
      ['cpu', r.targetsCpuTime ?? []],
    ] as const) {
      const bad = ts.filter((t) => t.status !== 'PASS').map((t) => `${t.id} ${t.status}`);
      console.log(
        `${r.backend} (${clock} time): ${ts.filter((t) => t.status === 'PASS').length}/${ts.length} targets PASS${bad.length ? ` (${bad.join(', ')})` : ''}`,
      );
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
