/**
 * Checkpoints: everything a run needs to continue exactly where it stopped.
 *
 * Layout under a checkpoint directory `dir`:
 *
 *   dir/step-00000120/manifest.json   format, step, tensor table, optimiser kind/step,
 *                                     RNG states, config, metrics summary
 *   dir/step-00000120/data.bin        the tensors' values back to back (float32/int32,
 *                                     little-endian), at the byte offsets the manifest gives
 *
 * A checkpoint is written into `dir/.tmp-step-…` (files fsync'd), then renamed to
 * `step-…` in one atomic `rename`, so a crash at any moment leaves either the
 * complete checkpoint or none; readers ignore `.tmp-*` entries. Only plain `fs` is
 * used (no tfjs-node). One writer per directory is assumed.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, assertInt, Rng, RngState } from '../backend';
import { Module } from '../nn';
import { HostDType, HostTensor, HostTensors, describeShape, fromHost, sameShape, toHost } from './host';
import type { Optimizer, OptimizerState } from './optim';

export const CHECKPOINT_FORMAT = 'rpelab-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** What a checkpoint holds, with tensors as host arrays. */
export interface CheckpointContents {
  /** Updates completed when the checkpoint was taken. */
  step: number;
  /** Module variables by dotted name (trainable parameters and buffers). */
  weights: HostTensors;
  optimizer?: OptimizerState;
  /** Generator states by role, e.g. { data, model }. */
  rngs?: Record<string, RngState>;
  /** The run's configuration as plain JSON data. */
  config?: unknown;
  /** A small JSON summary: last loss, tokens seen, elapsed time, last evaluation, ... */
  metrics?: Record<string, unknown>;
}

interface TensorEntry {
  name: string;
  dtype: HostDType;
  shape: number[];
  /** Byte offset in data.bin. */
  offset: number;
}

interface Manifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  byteOrder: 'little-endian';
  dataFile: string;
  dataBytes: number;
  weights: TensorEntry[];
  optimizer?: { kind: string; step: number; slots: TensorEntry[] };
  rngs?: Record<string, RngState>;
  config?: unknown;
  metrics?: Record<string, unknown>;
}

const MANIFEST = 'manifest.json';
const DATA = 'data.bin';
const STEP_DIR = /^step-(\d{8,})$/;

/** Directory name of the checkpoint for `step`: step-00000120. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

function checkHost(): void {
  if (os.endianness() !== 'LE') throw new Error('checkpoint: the data file format is little-endian; this host is big-endian');
}

function writeFileSynced(file: string, chunks: Iterable<Uint8Array>): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const c of chunks) {
      for (let done = 0; done < c.byteLength; ) done += fs.writeSync(fd, c, done, c.byteLength - done);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

function bytesOf(h: HostTensor): Uint8Array {
  return new Uint8Array(h.data.buffer, h.data.byteOffset, h.data.byteLength);
}

/**
 * Writes `contents` as `dir/step-<step>` atomically and returns its path. An
 * existing checkpoint of the same step is replaced. With `keepLast`, only the
 * newest `keepLast` checkpoints are kept afterwards.
 */
export function writeCheckpoint(dir: string, contents: CheckpointContents, opts: { keepLast?: number } = {}): string {
  checkHost();
  assertInt(contents.step, 'contents.step', 0);
  if (opts.keepLast !== undefined) assertInt(opts.keepLast, 'keepLast', 1);
  fs.mkdirSync(dir, { recursive: true });
  removeTemporaries(dir);

  const final = path.join(dir, checkpointName(contents.step));
  const tmp = path.join(dir, `.tmp-${checkpointName(contents.step)}-${process.pid}`);
  fs.mkdirSync(tmp);

  // The tensor table and the data file, in one pass.
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const table = (tensors: HostTensors, what: string): TensorEntry[] =>
    Object.entries(tensors).map(([name, h]) => {
      if (h.dtype !== 'float32' && h.dtype !== 'int32') throw new Error(`${what}: '${name}' has dtype ${h.dtype}; checkpoints store float32 or int32`);
      const size = h.shape.reduce((a, b) => a * b, 1);
      if (h.data.length !== size) throw new Error(`${what}: '${name}' holds ${h.data.length} values for shape [${h.shape.join(', ')}]`);
      const entry: TensorEntry = { name, dtype: h.dtype, shape: h.shape.slice(), offset };
      chunks.push(bytesOf(h));
      offset += h.data.byteLength;
      return entry;
    });
  const weights = table(contents.weights, 'contents.weights');
  const optimizer = contents.optimizer
    ? { kind: contents.optimizer.kind, step: contents.optimizer.step, slots: table(contents.optimizer.slots, 'contents.optimizer.slots') }
    : undefined;
  const manifest: Manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: contents.step,
    byteOrder: 'little-endian',
    dataFile: DATA,
    dataBytes: offset,
    weights,
    optimizer,
    rngs: contents.rngs,
    config: contents.config,
    metrics: contents.metrics,
  };
  writeFileSynced(path.join(tmp, DATA), chunks);
  writeFileSynced(path.join(tmp, MANIFEST), [Buffer.from(JSON.stringify(manifest, null, 1) + '\n', 'utf8')]);
  fsyncDir(tmp);

  if (fs.existsSync(final)) {
    const old = path.join(dir, `.tmp-old-${checkpointName(contents.step)}-${process.pid}`);
    fs.renameSync(final, old);
    fs.renameSync(tmp, final);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, final);
  }
  fsyncDir(dir);

  if (opts.keepLast !== undefined) {
    const all = listCheckpoints(dir);
    for (const c of all.slice(0, Math.max(0, all.length - opts.keepLast))) fs.rmSync(c.path, { recursive: true, force: true });
  }
  return final;
}

/** Removes leftovers of interrupted writes (`.tmp-*` entries) from `dir`. */
export function removeTemporaries(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith('.tmp-')) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function readManifest(ckpt: string): Manifest {
  const file = path.join(ckpt, MANIFEST);
  let m: Manifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`checkpoint: cannot read ${file}: ${(e as Error).message}`);
  }
  if (m?.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint: ${file} is not an ${CHECKPOINT_FORMAT} manifest (format ${JSON.stringify(m?.format)})`);
  if (m.version !== CHECKPOINT_VERSION) throw new Error(`checkpoint: ${file} has version ${m.version}; this code reads version ${CHECKPOINT_VERSION}`);
  if (m.byteOrder !== 'little-endian') throw new Error(`checkpoint: ${file} has byteOrder ${JSON.stringify(m.byteOrder)}, expected 'little-endian'`);
  return m;
}

/** True when `ckpt` has a readable manifest and a data file of the size it states. */
function isComplete(ckpt: string): boolean {
  try {
    const m = readManifest(ckpt);
    return fs.statSync(path.join(ckpt, m.dataFile)).size === m.dataBytes;
  } catch {
    return false;
  }
}

/**
 * The complete checkpoints in `dir`, oldest first. Temporaries (`.tmp-*`) and
 * directories without a valid manifest and data file are ignored.
 */
export function listCheckpoints(dir: string): Array<{ step: number; path: string }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => ({ name, match: STEP_DIR.exec(name) }))
    .filter((e) => e.match !== null)
    .map((e) => ({ step: Number(e.match![1]), path: path.join(dir, e.name) }))
    .filter((c) => isComplete(c.path))
    .sort((a, b) => a.step - b.step);
}

/** Path of the newest complete checkpoint in `dir`, or null. */
export function latestCheckpoint(dir: string): string | null {
  const all = listCheckpoints(dir);
  return all.length ? all[all.length - 1].path : null;
}

/** Reads a checkpoint directory written by `writeCheckpoint`. */
export function readCheckpoint(ckpt: string): CheckpointContents {
  checkHost();
  const m = readManifest(ckpt);
  const data = fs.readFileSync(path.join(ckpt, m.dataFile));
  if (data.length !== m.dataBytes) throw new Error(`checkpoint: ${ckpt}/${m.dataFile} has ${data.length} bytes, the manifest says ${m.dataBytes}`);
  const tensors = (entries: TensorEntry[], what: string): HostTensors => {
    const out: HostTensors = {};
    for (const e of entries) {
      if (e.name in out) throw new Error(`checkpoint ${what}: '${e.name}' appears twice`);
      const size = e.shape.reduce((a, b) => a * b, 1);
      const end = e.offset + 4 * size;
      if (!(e.offset >= 0 && e.offset % 4 === 0 && end <= data.length)) {
        throw new Error(`checkpoint ${what}: '${e.name}' lies outside the data file (bytes ${e.offset}..${end} of ${data.length})`);
      }
      const bytes = data.buffer.slice(data.byteOffset + e.offset, data.byteOffset + end);
      if (e.dtype === 'float32') out[e.name] = { dtype: 'float32', shape: e.shape, data: new Float32Array(bytes) };
      else if (e.dtype === 'int32') out[e.name] = { dtype: 'int32', shape: e.shape, data: new Int32Array(bytes) };
      else throw new Error(`checkpoint ${what}: '${e.name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
    }
    return out;
  };
  return {
    step: m.step,
    weights: tensors(m.weights, 'weights'),
    optimizer: m.optimizer ? { kind: m.optimizer.kind, step: m.optimizer.step, slots: tensors(m.optimizer.slots, 'optimizer') } : undefined,
    rngs: m.rngs,
    config: m.config,
    metrics: m.metrics,
  };
}

/**
 * Assigns `weights` to the variables of `model`. Everything is checked before
 * anything is assigned: each variable of the model must be present with the
 * same shape and dtype, and no extra name may appear; otherwise an Error names
 * the variable and the model is unchanged.
 */
export function loadWeights(model: Module, weights: HostTensors): void {
  validateWeights(model, weights);
  tf.tidy(() => {
    for (const [name, v] of model.namedVariables()) v.assign(fromHost(weights[name]));
  });
}

function validateWeights(model: Module, weights: HostTensors): void {
  const vars = model.namedVariables();
  const names = new Set(vars.map(([n]) => n));
  for (const [name, v] of vars) {
    const h = weights[name];
    if (!h) throw new Error(`checkpoint: variable '${name}' of the model is missing from the checkpoint`);
    if (h.dtype !== v.dtype || !sameShape(h.shape, v.shape)) {
      throw new Error(`checkpoint: variable '${name}' is ${describeShape(h.shape, h.dtype)} in the checkpoint but ${describeShape(v.shape, v.dtype)} in the model`);
    }
  }
  for (const name of Object.keys(weights)) {
    if (!names.has(name)) throw new Error(`checkpoint: variable '${name}' in the checkpoint does not exist in the model`);
  }
}

/** Host copies of every variable of `model` (trainable and buffers), by dotted name. */
export function modelWeights(model: Module): HostTensors {
  const out: HostTensors = {};
  for (const [name, v] of model.namedVariables()) out[name] = toHost(v, name);
  return out;
}

/** What a training run snapshots. */
export interface Snapshot {
  step: number;
  model: Module;
  optimizer?: Optimizer;
  rngs?: Record<string, Rng>;
  config?: unknown;
  metrics?: Record<string, unknown>;
}

/** Snapshots a live run (weights, optimiser state, generator states, ...) into `dir`; returns the checkpoint path. */
export function saveCheckpoint(dir: string, snap: Snapshot, opts: { keepLast?: number } = {}): string {
  const rngs: Record<string, RngState> = {};
  for (const [role, r] of Object.entries(snap.rngs ?? {})) rngs[role] = r.getState();
  return writeCheckpoint(
    dir,
    {
      step: snap.step,
      weights: modelWeights(snap.model),
      optimizer: snap.optimizer?.getState(),
      rngs,
      config: snap.config,
      metrics: snap.metrics,
    },
    opts,
  );
}

/**
 * Restores a checkpoint into a live run: the model's weights, and when given the
 * optimiser's state and each named generator's state. All of it is validated
 * before anything changes; an Error names the mismatching variable, slot or
 * generator. Returns the checkpoint's contents (step, config, metrics, ...).
 */
export function restoreCheckpoint(ckpt: string, target: { model: Module; optimizer?: Optimizer; rngs?: Record<string, Rng> }): CheckpointContents {
  const c = readCheckpoint(ckpt);
  for (const role of Object.keys(target.rngs ?? {})) {
    const s = c.rngs?.[role];
    if (!s || !Array.isArray(s.s) || s.s.length !== 4) throw new Error(`checkpoint: generator '${role}' has no saved state in ${ckpt}`);
  }
  if (target.optimizer && !c.optimizer) throw new Error(`checkpoint: ${ckpt} has no optimiser state`);
  // Nothing changes until the weights are validated; setState validates the
  // optimiser state completely before it assigns anything.
  validateWeights(target.model, c.weights);
  if (target.optimizer) target.optimizer.setState(c.optimizer!);
  loadWeights(target.model, c.weights);
  for (const [role, r] of Object.entries(target.rngs ?? {})) r.setState(c.rngs![role]);
  return c;
}

