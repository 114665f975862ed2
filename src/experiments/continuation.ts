/**
 * Style similarity of a generated continuation to its prompt, for the groove-continuation
 * experiment (SPE, §3.3: a model trained on short windows continues held-out prompts past its
 * training length; the paper plots, per segment of the continuation, how similar its style
 * statistics stay to the prompt's).
 *
 * The statistics here are what an event sequence of the MIDI vocabulary (`data/midi.ts`) gives
 * offline: the pitch-class histogram of its NOTE_ONs (harmony) and the histogram of its
 * TIME_SHIFT sizes (rhythm), each normalised to sum 1, concatenated. Similarity is the cosine of
 * two such vectors (1: the same distributions). Plain arrays in, numbers out.
 */
import type { MidiVocab } from '../data';

/** The style vector of `ids`: [12 pitch-class shares, maxShiftSteps time-shift shares] (zeros where a family is absent). */
export function styleFeatures(ids: ArrayLike<number>, vocab: MidiVocab): Float64Array {
  const pitch = new Float64Array(12);
  const shift = new Float64Array(vocab.maxShiftSteps);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id >= vocab.noteOn && id < vocab.noteOff) pitch[(id - vocab.noteOn) % 12] += 1;
    else if (id >= vocab.timeShift && id < vocab.velocity) shift[id - vocab.timeShift] += 1;
  }
  const norm = (h: Float64Array) => {
    const s = h.reduce((a, b) => a + b, 0);
    return s > 0 ? h.map((x) => x / s) : h;
  };
  const out = new Float64Array(12 + vocab.maxShiftSteps);
  out.set(norm(pitch), 0);
  out.set(norm(shift), 12);
  return out;
}

/** Cosine similarity of two vectors of the same length; 0 when either is all zeros. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`b: expected ${a.length} values (the length of a), got ${b.length}`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/**
 * Similarity of each of `segments` equal segments of `continuation` to the whole `prompt`.
 * @returns one cosine similarity per segment, in order
 */
export function segmentSimilarity(prompt: ArrayLike<number>, continuation: ArrayLike<number>, segments: number, vocab: MidiVocab): number[] {
  if (!(Number.isInteger(segments) && segments >= 1 && segments <= continuation.length)) {
    throw new Error(`segments: expected an integer in [1, ${continuation.length}] (the continuation's length), got ${segments}`);
  }
  const ref = styleFeatures(prompt, vocab);
  const size = continuation.length / segments;
  return Array.from({ length: segments }, (_, j) => {
    const seg = Array.prototype.slice.call(continuation, Math.round(j * size), Math.round((j + 1) * size)) as number[];
    return cosineSimilarity(ref, styleFeatures(seg, vocab));
  });
}

/** Median of finite values (NaN when none). */
export function median(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
