/**
 * Language-model batches from one token stream (a byte split of Gutenberg, concatenated MIDI
 * events, ...), as plain typed arrays: `tf.tensor2d(inputs, [batchSize, length], 'int32')`.
 *
 * Training batches are random windows whose starts are drawn from the `Rng` passed in and nothing
 * else, so the batch sequence is a function of the generator's state: save `rng.getState()` with
 * a checkpoint, restore it with `setState`, and training resumes on exactly the batches it would
 * have seen.
 */
import { Rng } from '../backend/rng';
import { assertInt } from '../backend/checks';

export type TokenStream = Uint8Array | Int32Array;

/** A batch of next-token windows: targets[b, t] = stream[starts[b] + t + 1], inputs[b, t] = stream[starts[b] + t]. */
export interface LmBatch {
  /** Input ids, [batchSize * length] (row-major [batchSize, length]). */
  inputs: Int32Array;
  /** Next-token ids, [batchSize * length]. */
  targets: Int32Array;
  /** Stream offset of every window, [batchSize]. */
  starts: Int32Array;
  batchSize: number;
  length: number;
}

function check(stream: TokenStream, length: number, batchSize: number): void {
  if (!(stream instanceof Uint8Array || stream instanceof Int32Array)) {
    throw new Error(`stream: expected a Uint8Array or Int32Array of token ids, got ${Object.prototype.toString.call(stream)}`);
  }
  assertInt(batchSize, 'batchSize', 1);
  assertInt(length, 'length', 1);
  if (stream.length < length + 1) throw new Error(`length: expected at most stream.length - 1 = ${stream.length - 1}, got ${length}`);
}

function gather(stream: TokenStream, starts: Int32Array, length: number): LmBatch {
  const batchSize = starts.length;
  const inputs = new Int32Array(batchSize * length);
  const targets = new Int32Array(batchSize * length);
  starts.forEach((s, b) => {
    inputs.set(stream.subarray(s, s + length), b * length);
    targets.set(stream.subarray(s + 1, s + 1 + length), b * length);
  });
  return { inputs, targets, starts, batchSize, length };
}

/**
 * One batch of `batchSize` windows of `length` tokens, starts uniform in [0, stream.length - length - 1].
 * Consumes exactly `batchSize` draws of `rng`.
 */
export function lmBatch(stream: TokenStream, opts: { batchSize: number; length: number; rng: Rng }): LmBatch {
  const { batchSize, length, rng } = opts;
  check(stream, length, batchSize);
  if (!(rng instanceof Rng)) throw new Error(`rng: expected an Rng, got ${String(rng)}`);
  const span = stream.length - length;
  const starts = new Int32Array(batchSize);
  for (let b = 0; b < batchSize; b++) starts[b] = rng.int(span);
  return gather(stream, starts, length);
}

/** An endless sequence of `lmBatch`es; each `next()` draws from `rng` then, not before. */
export function* lmBatches(stream: TokenStream, opts: { batchSize: number; length: number; rng: Rng }): Generator<LmBatch, never, void> {
  check(stream, opts.length, opts.batchSize);
  for (;;) yield lmBatch(stream, opts);
}

/**
 * Evaluation batches: the stream cut into consecutive non-overlapping windows of `length` tokens
 * (starts 0, length, 2 length, ...; the last < length + 1 tokens are not covered), `batchSize`
 * windows per batch, the last batch possibly smaller. No randomness.
 */
export function* lmEvalBatches(stream: TokenStream, opts: { batchSize: number; length: number }): Generator<LmBatch, void, void> {
  const { batchSize, length } = opts;
  check(stream, length, batchSize);
  const windows = Math.floor((stream.length - 1) / length);
  for (let w = 0; w < windows; w += batchSize) {
    const n = Math.min(batchSize, windows - w);
    yield gather(stream, Int32Array.from({ length: n }, (_, i) => (w + i) * length), length);
  }
}
