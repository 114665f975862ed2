/**
 * The vs-torch suite: rpelab against PyTorch on the same work, in one run. The PyTorch side is
 * `bench/torch/mirror.py` (the layer suite's attention layer and the train suite's small LM, each
 * in its best plain-PyTorch form), served by one Python process for the whole suite. The two
 * sides are called alternately, the order flipping from pair to pair (rpelab, torch; torch,
 * rpelab; ...), as the overhead suite does, so a machine whose speed drifts slows both alike;
 * each side times its own call (the pipe between them is outside the timings), and the reported
 * ratio is the median of the per-pair ratios rpelab / torch.
 *
 * PyTorch is Debian's `python3-torch` (1.13 on Debian 12): the suite looks for a Python that can
 * import torch ($RPELAB_TORCH_PYTHON, then /usr/bin/python3, then python3 on the PATH); when none
 * can and the suite runs as root with apt-get, it installs python3-torch (a download from the
 * Debian mirror, once); otherwise it stops with a message that says how to install it.
 */
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TRAIN_SHAPE, type EncodingCase } from '../cases';
import type { Direction } from '../args';
import { median } from '../stats';
import { round } from '../measure';
import { layerCall } from './layer';
import { timed, pairedRatio } from './overhead';
import { trainStep } from './train';

/** One pair-timed comparison: a layer at one length and direction, or one training step. */
export interface VsTorchPoint {
  kind: 'layer' | 'train';
  encoding: string;
  spec: string;
  /** Layer points: the direction and length (train points: the train suite's causal LM, batch x length). */
  direction?: Direction;
  L?: number;
  pairs?: number;
  /** Median wall time of each side over the pairs, ms. */
  msMedian?: number;
  torchMsMedian?: number;
  /** Per pair rpelab / torch (wall time), and their median. */
  ratios?: number[];
  ratio?: number;
  /** Tokens per second of each side (train points). */
  tokensPerSec?: number;
  torchTokensPerSec?: number;
  skipped?: string;
  error?: string;
}

/** What the PyTorch side is: version, threads, whether it has scaled_dot_product_attention. */
export interface TorchInfo {
  python: string;
  torch: string;
  threads: number;
  sdpa: boolean;
}

/** The encodings the PyTorch mirror implements (names of bench/cases.ts). */
export const TORCH_ENCODINGS = ['none', 'lrpe-rotation', 'lrpe-permutation', 'lrpe-unitary', 'spe-sine', 'softmax'];
/** The encodings of the training-step comparison. */
export const TORCH_TRAIN_ENCODINGS = ['none', 'lrpe-unitary', 'spe-sine'];

const MIRROR = path.join(__dirname, '..', 'torch', 'mirror.py');

function canImportTorch(python: string): boolean {
  return spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/**
 * A Python that imports torch: $RPELAB_TORCH_PYTHON, /usr/bin/python3 (Debian's, where
 * python3-torch installs), python3. Installs python3-torch with apt-get when none can and this
 * process is root; otherwise throws a message naming what to install.
 */
export function findTorchPython(log: (line: string) => void): string {
  const env = process.env.RPELAB_TORCH_PYTHON;
  if (env) {
    if (canImportTorch(env)) return env;
    throw new Error(`RPELAB_TORCH_PYTHON: expected a Python that can 'import torch', got ${env} (it cannot)`);
  }
  const candidates = ['/usr/bin/python3', 'python3'].filter((p) => !p.startsWith('/') || fs.existsSync(p));
  const found = candidates.find(canImportTorch);
  if (found) return found;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!root || !apt) {
    throw new Error(
      "vs-torch: no Python here can 'import torch'. Install Debian's PyTorch (sudo apt-get install python3-torch), " +
        'or set RPELAB_TORCH_PYTHON to a Python that has torch, or leave vs-torch out of --suites.',
    );
  }
  log('vs-torch: installing python3-torch with apt-get (Debian mirror; once)');
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'python3-torch'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const after = candidates.find(canImportTorch);
  if (!after) throw new Error("vs-torch: apt-get installed python3-torch but no Python can 'import torch' (tried /usr/bin/python3 and python3)");
  return after;
}

/** The Python side: one `mirror.py` process answering one JSON request per line. */
export class TorchServer {
  private readonly proc: ChildProcessWithoutNullStreams;
  private buffer = '';
  private waiting: Array<(line: string) => void> = [];
  private stderr = '';

  constructor(
    readonly python: string,
    threads: number,
  ) {
    // Idle threads sleep on both sides, so that neither spins on the cores while the other is timed:
    // PyTorch's OpenMP threads with OMP_WAIT_POLICY=PASSIVE, its OpenBLAS's after 2^16 cycles
    // (OPENBLAS_THREAD_TIMEOUT=16; OpenBLAS's default spins ~0.1 s after every product), rpelab's
    // pool after 200 µs (native/src/jobs.c; its OpenBLAS runs single-threaded). With both spinning the
    // plain model's step measured 50.4 ms rpelab / 97.8 ms PyTorch, with both asleep 34.7 / 42.4 ms
    // (README, "Against PyTorch", the command).
    const env = {
      ...process.env,
      OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE',
      OPENBLAS_THREAD_TIMEOUT: process.env.OPENBLAS_THREAD_TIMEOUT ?? '16',
    };
    this.proc = spawn(python, [MIRROR, String(threads)], { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.proc.stderr.on('data', (d) => (this.stderr = (this.stderr + String(d)).slice(-2000)));
    this.proc.on('exit', (code, signal) => {
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: `mirror.py exited (${signal ?? `code ${code}`}): ${this.stderr.trim().slice(-300)}` }));
    });
  }

  /** Sends one request; resolves with the reply, rejects with the server's error. */
  request<T = Record<string, unknown>>(req: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting.push((line) => {
        const reply = JSON.parse(line) as { error?: string };
        if (reply.error) reject(new Error(`torch: ${reply.error}`));
        else resolve(reply as T);
      });
      this.proc.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  async info(): Promise<TorchInfo> {
    const r = await this.request<{ torch: string; threads: number; sdpa: boolean }>({ op: 'info' });
    return { python: this.python, torch: r.torch, threads: r.threads, sdpa: r.sdpa };
  }

  close(): void {
    this.proc.stdin.end();
  }
}

/**
 * Alternating pairs of rpelab and torch, each side's time in a pair the mean of `calls` consecutive
 * calls (after `warmup` untimed calls of each); stops after `pairs` pairs or `maxSeconds`.
 */
async function pairTimes(
  rpelab: () => void,
  server: TorchServer,
  id: string,
  pairs: number,
  maxSeconds: number,
  { calls = 1, warmup = 1 }: { calls?: number; warmup?: number } = {},
): Promise<{ ours: number[]; theirs: number[] }> {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const torchCalls = async (n: number) => mean((await server.request<{ ms: number[] }>({ op: 'time', id, calls: n })).ms);
  const ourCalls = () => mean(Array.from({ length: calls }, () => timed(rpelab)[0]));
  for (let i = 0; i < warmup; i++) rpelab();
  await torchCalls(warmup);
  const ours: number[] = [];
  const theirs: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      ours.push(ourCalls());
      theirs.push(await torchCalls(calls));
    } else {
      theirs.push(await torchCalls(calls));
      ours.push(ourCalls());
    }
    if ((performance.now() - t0) / 1000 > maxSeconds) break;
  }
  return { ours, theirs };
}

function summarize(ours: number[], theirs: number[]): Pick<VsTorchPoint, 'pairs' | 'msMedian' | 'torchMsMedian' | 'ratios' | 'ratio'> {
  return {
    pairs: ours.length,
    msMedian: round(median(ours), 2),
    torchMsMedian: round(median(theirs), 2),
    ratios: ours.map((o, i) => round(o / theirs[i], 4)),
    ratio: round(pairedRatio(ours, theirs), 4),
  };
}

export interface VsTorchOptions {
  lengths: number[];
  pairs: number;
  /** Seconds one call of either side may be predicted to take before longer lengths are skipped. */
  budget: number;
  /** Seconds of pairs per point at most. */
  caseSeconds: number;
  log: (line: string) => void;
  beat?: (point: { L: number }) => void;
}

/** One encoding in one direction over the lengths: the layer suite's layer on both sides. */
export async function runVsTorchLayer(c: EncodingCase, direction: Direction, server: TorchServer, opts: VsTorchOptions): Promise<VsTorchPoint[]> {
  const points: VsTorchPoint[] = [];
  const growth = c.attention === 'softmax' ? 2 : 1;
  let stop: string | null = null;
  for (const L of opts.lengths) {
    const base: VsTorchPoint = { kind: 'layer', encoding: c.name, spec: c.spec, direction, L };
    const last = [...points].reverse().find((p) => p.msMedian !== undefined);
    if (!stop && last) {
      const slowest = Math.max(last.msMedian!, last.torchMsMedian!) / 1000;
      const predicted = slowest * (L / last.L!) ** growth;
      if (predicted > opts.budget) stop = `predicted ${predicted.toFixed(1)} s per call > budget ${opts.budget} s`;
    }
    if (stop) {
      points.push({ ...base, skipped: stop });
      opts.log(`  skip  ${c.name.padEnd(17)} ${direction.padEnd(13)} L=${String(L).padStart(5)}  ${stop}`);
      continue;
    }
    opts.beat?.({ L });
    const id = `${c.name}-${direction}-${L}`;
    const ours = layerCall(c.spec, L, direction === 'causal');
    try {
      await server.request({ op: 'layer', id, encoding: c.name, L, causal: direction === 'causal' });
      const t = await pairTimes(ours.call, server, id, opts.pairs, opts.caseSeconds);
      const p = { ...base, ...summarize(t.ours, t.theirs) };
      points.push(p);
      opts.log(
        `  torch ${c.name.padEnd(17)} ${direction.padEnd(13)} L=${String(L).padStart(5)}  rpelab ${p.msMedian!.toFixed(1).padStart(8)} ms  torch ${p.torchMsMedian!.toFixed(1).padStart(8)} ms  x${p.ratio!.toFixed(3)}  (${p.pairs} pairs)`,
      );
    } catch (e) {
      const msg = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);
      points.push({ ...base, error: msg });
      opts.log(`  error ${c.name.padEnd(17)} ${direction.padEnd(13)} L=${String(L).padStart(5)}  ${msg.slice(0, 160)}`);
      stop = 'an earlier length failed';
    } finally {
      ours.dispose();
      await server.request({ op: 'free', id }).catch(() => undefined);
    }
  }
  return points;
}

/**
 * Steps per side in one pair of the training-step comparison, and untimed steps first. A single step
 * (~30 ms) varies too much to compare alone: at 813e366 the plain model's per-pair ratios of single
 * steps spread over 0.54-1.30 within one point, and two runs minutes apart gave medians 0.95 and 0.76.
 */
export const TRAIN_STEPS_PER_PAIR = 5;
export const TRAIN_WARMUP_STEPS = 3;

/** One training step of the train suite's small LM on both sides, in alternating pairs (each side's time the mean of TRAIN_STEPS_PER_PAIR steps). */
export async function runVsTorchTrain(c: EncodingCase, server: TorchServer, pairs: number, log: (line: string) => void): Promise<VsTorchPoint> {
  const base: VsTorchPoint = { kind: 'train', encoding: c.name, spec: c.spec };
  const ours = trainStep(c);
  const id = `train-${c.name}`;
  try {
    await server.request({ op: 'train', id, encoding: c.name });
    const t = await pairTimes(ours.step, server, id, pairs, Number.POSITIVE_INFINITY, { calls: TRAIN_STEPS_PER_PAIR, warmup: TRAIN_WARMUP_STEPS });
    const tokens = TRAIN_SHAPE.batch * TRAIN_SHAPE.length;
    const s = summarize(t.ours, t.theirs);
    const p = { ...base, ...s, tokensPerSec: round(tokens / (s.msMedian! / 1000), 1), torchTokensPerSec: round(tokens / (s.torchMsMedian! / 1000), 1) };
    log(
      `  torch train ${c.name.padEnd(13)} rpelab ${p.msMedian!.toFixed(1).padStart(7)} ms/step (${Math.round(p.tokensPerSec)} tok/s)  torch ${p.torchMsMedian!.toFixed(1).padStart(7)} ms/step (${Math.round(p.torchTokensPerSec)} tok/s)  x${p.ratio!.toFixed(3)}  (${p.pairs} pairs)`,
    );
    return p;
  } catch (e) {
    const msg = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);
    log(`  error torch train ${c.name}: ${msg}`);
    return { ...base, error: msg };
  } finally {
    ours.dispose();
    await server.request({ op: 'free', id }).catch(() => undefined);
  }
}

/** Threads PyTorch gets: the machine's cores (the native kernels use them too; the sides never run at once). */
export function torchThreads(): number {
  return Math.max(1, os.cpus().length);
}
