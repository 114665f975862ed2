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
 * The manifest carries the SHA-256 of data.bin; a checkpoint whose data does not match it (a
 * disk error, a truncated copy) is refused by `readCheckpoint` with a `CheckpointError`, and
 * `scanCheckpoints` reports it with the reason, so a resume can say which one it skipped.
 *
 * A checkpoint is written into `dir/.tmp-step-…` (files fsync'd), then renamed to
 * `step-…` in one atomic `rename`, so a crash at any moment leaves either the
 * complete checkpoint or none; readers ignore `.tmp-*` entries. Only plain `fs` is
 * used (no tfjs-node). One writer per directory is assumed.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, assertInt, Rng, RngState } from '../backend';
import { Module } from '../nn';
import { HostDType, HostTensor, HostTensors, describeShape, fromHost, sameShape, toHost } from './host';
import type { Optimizer, OptimizerState } from './optim';

export const CHECKPOINT_FORMAT = 'rpelab-checkpoint';
export const CHECKPOINT_VERSION = 2;
/** Versions this code reads: 1 (no checksum) and 2 (SHA-256 of the data file in the manifest). */
const READABLE_VERSIONS = [1, 2];

/** A checkpoint that cannot be used as it is on disk (incomplete, corrupt, unreadable); `path` names it. */
export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

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
  /** Hex SHA-256 of the data file (version 2 on). */
  dataSha256?: string;
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
      for (let done = 0; done < c.byteLength;) done += fs.writeSync(fd, c, done, c.byteLength - done);
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

function sha256(chunks: Iterable<Uint8Array>): string {
  const h = crypto.createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
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
    dataSha256: sha256(chunks),
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
    throw new CheckpointError(ckpt, `checkpoint: cannot read ${file}: ${(e as Error).message}`);
  }
  if (m?.format !== CHECKPOINT_FORMAT)
    throw new CheckpointError(ckpt, `checkpoint: ${file} is not an ${CHECKPOINT_FORMAT} manifest (format ${JSON.stringify(m?.format)})`);
  if (!READABLE_VERSIONS.includes(m.version))
    throw new CheckpointError(ckpt, `checkpoint: ${file} has version ${m.version}; this code reads versions ${READABLE_VERSIONS.join(', ')}`);
  if (m.byteOrder !== 'little-endian')
    throw new CheckpointError(ckpt, `checkpoint: ${file} has byteOrder ${JSON.stringify(m.byteOrder)}, expected 'little-endian'`);
  if (m.version >= 2 && !(typeof m.dataSha256 === 'string' && /^[0-9a-f]{64}$/.test(m.dataSha256))) {
    throw new CheckpointError(ckpt, `checkpoint: ${file} has no valid dataSha256 (version ${m.version} manifests carry one)`);
  }
  return m;
}

/** The manifest and the data file's bytes, after checking the size and the checksum. */
function readVerified(ckpt: string): { m: Manifest; data: Buffer } {
  const m = readManifest(ckpt);
  const dataFile = path.join(ckpt, typeof m.dataFile === 'string' ? m.dataFile : DATA);
  let data: Buffer;
  try {
    data = fs.readFileSync(dataFile);
  } catch (e) {
    throw new CheckpointError(ckpt, `checkpoint: cannot read ${dataFile}: ${(e as Error).message}`);
  }
  if (data.length !== m.dataBytes) throw new CheckpointError(ckpt, `checkpoint: ${dataFile} has ${data.length} bytes, the manifest says ${m.dataBytes}`);
  if (m.dataSha256 !== undefined && sha256([data]) !== m.dataSha256) {
    throw new CheckpointError(ckpt, `checkpoint: ${dataFile} does not match the SHA-256 in its manifest (the data is corrupt)`);
  }
  return { m, data };
}

/** True when `ckpt` has a readable manifest and a data file of the size it states (the checksum is checked on read). */
function isComplete(ckpt: string): boolean {
  try {
    const m = readManifest(ckpt);
    return fs.statSync(path.join(ckpt, m.dataFile)).size === m.dataBytes;
  } catch {
    return false;
  }
}

/** One `step-*` entry of a checkpoint directory; `problem` says why it cannot be used, if it cannot. */
export interface CheckpointEntry {
  step: number;
  path: string;
  problem?: string;
}

/** Every `step-*` directory of `dir`, oldest first, unverified (temporaries excluded). */
export function checkpointDirs(dir: string): Array<{ step: number; path: string }> {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((name) => ({ name, match: STEP_DIR.exec(name) }))
    .filter((e) => e.match !== null)
    .map((e) => ({ step: Number(e.match![1]), path: path.join(dir, e.name) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * Every `step-*` checkpoint in `dir`, oldest first, each fully verified (manifest, size,
 * SHA-256); the ones that cannot be used carry the reason in `problem`. Temporaries are not listed.
 */
export function scanCheckpoints(dir: string): CheckpointEntry[] {
  return checkpointDirs(dir).map((e) => {
    try {
      readVerified(e.path);
      return e;
    } catch (err) {
      return { ...e, problem: (err as Error).message };
    }
  });
}

/**
 * The complete checkpoints in `dir`, oldest first (manifest readable, data file of the stated
 * size). Temporaries (`.tmp-*`) and incomplete directories are left out; the checksum is
 * verified when a checkpoint is read (see `scanCheckpoints` for a full check with reasons).
 */
export function listCheckpoints(dir: string): Array<{ step: number; path: string }> {
  return checkpointDirs(dir).filter((c) => isComplete(c.path));
}

/** Path of the newest complete checkpoint in `dir`, or null. */
export function latestCheckpoint(dir: string): string | null {
  const all = listCheckpoints(dir);
  return all.length ? all[all.length - 1].path : null;
}

/** Reads a checkpoint directory written by `writeCheckpoint`. */
export function readCheckpoint(ckpt: string): CheckpointContents {
  checkHost();
  const { m, data } = readVerified(ckpt);
  const spans: Array<{ name: string; from: number; to: number }> = [];
  const tensors = (entries: TensorEntry[], what: string): HostTensors => {
    const out: HostTensors = {};
    if (!Array.isArray(entries)) throw new CheckpointError(ckpt, `checkpoint ${what}: the manifest's tensor table is not a list`);
    for (const e of entries) {
      if (
        e === null ||
        typeof e !== 'object' ||
        typeof e.name !== 'string' ||
        !Array.isArray(e.shape) ||
        !e.shape.every((d) => Number.isInteger(d) && d >= 0) ||
        !Number.isInteger(e.offset)
      ) {
        throw new CheckpointError(ckpt, `checkpoint ${what}: malformed tensor entry ${JSON.stringify(e)?.slice(0, 80)}`);
      }
      if (e.name in out) throw new CheckpointError(ckpt, `checkpoint ${what}: '${e.name}' appears twice`);
      const size = e.shape.reduce((a, b) => a * b, 1);
      const end = e.offset + 4 * size;
      if (!(e.offset >= 0 && e.offset % 4 === 0 && end <= data.length)) {
        throw new CheckpointError(ckpt, `checkpoint ${what}: '${e.name}' lies outside the data file (bytes ${e.offset}..${end} of ${data.length})`);
      }
      spans.push({ name: `${what} '${e.name}'`, from: e.offset, to: end });
      const bytes = data.buffer.slice(data.byteOffset + e.offset, data.byteOffset + end);
      if (e.dtype === 'float32') out[e.name] = { dtype: 'float32', shape: e.shape, data: new Float32Array(bytes) };
      else if (e.dtype === 'int32') out[e.name] = { dtype: 'int32', shape: e.shape, data: new Int32Array(bytes) };
      else throw new CheckpointError(ckpt, `checkpoint ${what}: '${e.name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
    }
    return out;
  };
  const weights = tensors(m.weights, 'weights');
  const optimizer = m.optimizer ? { kind: m.optimizer.kind, step: m.optimizer.step, slots: tensors(m.optimizer.slots, 'optimizer') } : undefined;
  // The checksum guards the data file, not the manifest: the tensors must tile the file exactly, as
  // written, so that an edited offset or shape cannot read other tensors' bytes.
  spans.sort((a, b) => a.from - b.from);
  let at = 0;
  for (const sp of spans) {
    if (sp.from !== at)
      throw new CheckpointError(ckpt, `checkpoint: ${sp.name} starts at byte ${sp.from}, expected ${at} (the tensors must tile the data file)`);
    at = sp.to;
  }
  if (at !== data.length) throw new CheckpointError(ckpt, `checkpoint: the tensors cover ${at} of the data file's ${data.length} bytes`);
  return { step: m.step, weights, optimizer, rngs: m.rngs, config: m.config, metrics: m.metrics };
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
      throw new Error(
        `checkpoint: variable '${name}' is ${describeShape(h.shape, h.dtype)} in the checkpoint but ${describeShape(v.shape, v.dtype)} in the model`,
      );
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
export function restoreCheckpoint(
  ckpt: string | CheckpointContents,
  target: { model: Module; optimizer?: Optimizer; rngs?: Record<string, Rng> },
): CheckpointContents {
  const c = typeof ckpt === 'string' ? readCheckpoint(ckpt) : ckpt;
  const where = typeof ckpt === 'string' ? ckpt : `the checkpoint of step ${c.step}`;
  for (const role of Object.keys(target.rngs ?? {})) {
    const s = c.rngs?.[role];
    if (!s || !Array.isArray(s.s) || s.s.length !== 4) throw new Error(`checkpoint: generator '${role}' has no saved state in ${where}`);
  }
  if (target.optimizer && !c.optimizer) throw new Error(`checkpoint: ${where} has no optimiser state`);
  // Nothing changes until the weights are validated; setState validates the
  // optimiser state completely before it assigns anything.
  validateWeights(target.model, c.weights);
  if (target.optimizer) target.optimizer.setState(c.optimizer!);
  loadWeights(target.model, c.weights);
  for (const [role, r] of Object.entries(target.rngs ?? {})) r.setState(c.rngs![role]);
  return c;
}
