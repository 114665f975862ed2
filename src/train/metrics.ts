/**
 * Metrics: an append-only JSON-lines log that survives crashes, and the small
 * evaluation measures the papers report (accuracy; NLL in nats, perplexity,
 * bits per byte; NLL as a function of position, SPE §8.2).
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf, assertInt, assertNumber, assertRank, assertSameShape } from '../backend';
import { tokenNll, crossEntropy, checkTargets, maskedMean } from '../nn/losses';

// ---------------------------------------------------------------------------
// JSON lines

/**
 * Appends one JSON object per line to `file`, each line written with a single
 * `write` and fsync'd, so a crash loses at most the line being written. On open,
 * a truncated last line left by an earlier crash is cut off, so new lines never
 * glue onto it.
 */
export class JsonlWriter {
  private fd: number | null;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    repairJsonl(file);
    this.fd = fs.openSync(file, 'a');
  }

  /** Writes `record` as one line and fsyncs it. */
  append(record: Record<string, unknown>): void {
    if (this.fd === null) throw new Error(`JsonlWriter: ${this.file} is closed`);
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new Error(`record: expected a plain object, got ${JSON.stringify(record)}`);
    }
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Reads a JSON-lines file. A last line without its newline that does not parse
 * (a crash mid-write) is dropped and reported as `truncated`; any other bad
 * line throws an Error naming the file and line number. A missing file reads
 * as no records.
 */
export function readJsonl<T = Record<string, unknown>>(file: string): { records: T[]; truncated: boolean } {
  if (!fs.existsSync(file)) return { records: [], truncated: false };
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const tail = lines.pop()!; // '' when the file ends with a newline
  const records: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line));
    } catch (e) {
      throw new Error(`${file}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
  });
  let truncated = false;
  if (tail.trim() !== '') {
    try {
      records.push(JSON.parse(tail));
    } catch {
      truncated = true;
    }
  }
  return { records, truncated };
}

/**
 * Makes `file` end with a newline: a last line without one is cut off if it is
 * not valid JSON (a partial write), or completed with '\n' if it is.
 * Returns true if the file changed.
 */
export function repairJsonl(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  const buf = fs.readFileSync(file);
  if (buf.length === 0 || buf[buf.length - 1] === 0x0a) return false;
  const start = buf.lastIndexOf(0x0a) + 1;
  try {
    JSON.parse(buf.subarray(start).toString('utf8'));
    fs.appendFileSync(file, '\n');
  } catch {
    fs.truncateSync(file, start);
  }
  return true;
}

/**
 * Rewrites `file` keeping only the records `keep` accepts (atomically: a temp
 * file renamed over it). The training loop uses this on resume to drop the
 * records of steps that will be run again.
 */
export function filterJsonl(file: string, keep: (record: Record<string, unknown>) => boolean): void {
  if (!fs.existsSync(file)) return;
  const { records } = readJsonl(file);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(
      fd,
      records
        .filter(keep)
        .map((r) => JSON.stringify(r) + '\n')
        .join(''),
    );
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------
// Measures

export { tokenNll, crossEntropy };

/**
 * Fraction of positions whose arg-max class equals the label.
 * logits: [..., C]; labels: int32 [...]; mask: [...] of 0/1, optional. Returns a number in [0, 1].
 */
export function accuracy(logits: tf.Tensor, labels: tf.Tensor, mask?: tf.Tensor): number {
  checkTargets(logits, labels, 'labels');
  return tf.tidy(() => maskedMean(tf.equal(tf.argMax(logits, -1), labels).toFloat(), mask, 'mask').dataSync()[0]);
}

/** Mean of per-token NLL values (a tensor [...] with optional 0/1 mask, or an array). */
export function meanNll(nll: tf.Tensor | ArrayLike<number>, mask?: tf.Tensor): number {
  if (nll instanceof tf.Tensor) return tf.tidy(() => maskedMean(nll, mask, 'mask').dataSync()[0]);
  if (nll.length === 0) throw new Error('nll: expected at least one value, got none');
  let s = 0;
  for (let i = 0; i < nll.length; i++) s += nll[i];
  return s / nll.length;
}

/** Perplexity exp(mean NLL in nats). */
export function perplexity(meanNllNats: number): number {
  assertNumber(meanNllNats, 'meanNllNats', { min: 0 });
  return Math.exp(meanNllNats);
}

/** Bits per byte: total NLL (nats) over a text, divided by its size in bytes and by ln 2. */
export function bitsPerByte(totalNllNats: number, numBytes: number): number {
  assertNumber(totalNllNats, 'totalNllNats', { min: 0 });
  assertInt(numBytes, 'numBytes', 1);
  return totalNllNats / (numBytes * Math.LN2);
}

/**
 * NLL as a function of position (SPE §8.2, pop-piano `eval.py`): at each position,
 * the mean over the sequences that have a (non-masked) token there.
 * nll: a tensor [N, L] (with an optional 0/1 mask [N, L]) or ragged arrays, one per sequence.
 * Returns `mean[L]` and `count[L]` (sequences contributing at each position; mean is NaN where 0).
 */
export function nllByPosition(nll: tf.Tensor | ArrayLike<number>[], mask?: tf.Tensor): { mean: Float64Array; count: Int32Array } {
  let rows: ArrayLike<number>[];
  let maskRows: ArrayLike<number>[] | null = null;
  if (nll instanceof tf.Tensor) {
    assertRank(nll, 2, 'nll', '[sequences, length]');
    const [n, l] = nll.shape;
    const all = nll.dataSync();
    rows = Array.from({ length: n }, (_, i) => all.subarray(i * l, (i + 1) * l));
    if (mask) {
      assertSameShape(nll, mask, 'nll', 'mask');
      const m = mask.dataSync();
      maskRows = Array.from({ length: n }, (_, i) => m.subarray(i * l, (i + 1) * l));
    }
  } else {
    if (!Array.isArray(nll)) throw new Error('nll: expected a tensor [N, L] or an array of per-sequence arrays');
    if (mask) throw new Error('mask: only supported with a tensor nll; ragged arrays need no mask');
    rows = nll;
  }
  const len = rows.reduce((a, r) => Math.max(a, r.length), 0);
  const sum = new Float64Array(len);
  const count = new Int32Array(len);
  rows.forEach((r, i) => {
    for (let t = 0; t < r.length; t++) {
      if (maskRows && maskRows[i][t] === 0) continue;
      sum[t] += r[t];
      count[t] += 1;
    }
  });
  const mean = sum.map((s, t) => (count[t] > 0 ? s / count[t] : NaN));
  return { mean, count };
}

/**
 * Averages of `values` over consecutive windows of `window` positions (the last
 * window may be shorter), e.g. 128-token windows of `nllByPosition(...).mean`.
 * With `counts`, each position is weighted by its count (a per-token average);
 * NaN values with zero count are skipped.
 */
export function windowedMeans(values: ArrayLike<number>, window: number, counts?: ArrayLike<number>): Float64Array {
  assertInt(window, 'window', 1);
  if (counts && counts.length !== values.length) throw new Error(`counts: expected length ${values.length} (as values), got ${counts.length}`);
  const out = new Float64Array(Math.ceil(values.length / window));
  for (let w = 0; w < out.length; w++) {
    let s = 0;
    let n = 0;
    for (let t = w * window; t < Math.min(values.length, (w + 1) * window); t++) {
      const c = counts ? counts[t] : 1;
      if (c === 0) continue;
      s += values[t] * c;
      n += c;
    }
    out[w] = n > 0 ? s / n : NaN;
  }
  return out;
}
