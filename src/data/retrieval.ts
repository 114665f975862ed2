/**
 * Document matching on real text: a STAND-IN for LRA "Retrieval". LRA's task (ACL Anthology
 * Network citation links, byte-level, 4000 bytes per document, dual encoder) needs the AAN corpus,
 * which no offline registry ships. This task keeps its shape: a pair of byte passages, label 1 if
 * both come from the same book, 0 if from two different books, from the 18 Gutenberg books of
 * `gutenberg.ts`. The numbers are not comparable with LRA's.
 *
 * - Regions: a pair for split s draws both passages from the split-s region of their books (the
 *   per-book train / valid / test byte ranges of `splitBounds`: first 80 %, next 10 %, last 10 % by
 *   default), so passages of different splits never share a byte.
 * - Eligible books: those whose split region holds at least 2 x `length` bytes (so a positive
 *   pair can take two disjoint passages). The same set serves both labels, so a book's presence
 *   says nothing about the label. With length 4000 this drops `blake-poems` from valid and test.
 * - Sampling, from the `Rng` passed in: pair i is positive for even i and negative for odd i
 *   (exactly balanced when `count` is even); the pair order is then shuffled. A positive pair
 *   picks one eligible book uniformly and two non-overlapping passages in its region; a negative
 *   pair picks two distinct eligible books uniformly and one passage in each, its start uniform
 *   over the region. (For a positive pair: the earlier start is uniform over the positions that
 *   leave room for the later passage, the later one uniform after it, and which of the two is `a`
 *   is a coin flip.)
 * - Tokens are raw bytes (vocabulary 256); every passage is exactly `length` bytes, no padding.
 */
import { Rng } from '../backend/rng';
import { assertInt, assertOneOf } from '../backend/checks';
import { Book, SplitName, SPLIT_NAMES, SplitOptions, splitBounds, gutenbergBooks } from './gutenberg';

/** Pairs of equal-length byte passages with a same-source label. */
export interface PassagePairs {
  /** First passages, [count * length] (row-major [count, length]). */
  a: Int32Array;
  /** Second passages, [count * length]. */
  b: Int32Array;
  /** 1 = same book, 0 = different books, [count]. */
  labels: Int32Array;
  /** Book index (into the `books` array given) of each passage, [count] each. */
  bookA: Int32Array;
  bookB: Int32Array;
  /** Byte offset of each passage inside its book, [count] each. */
  startA: Int32Array;
  startB: Int32Array;
  count: number;
  length: number;
  vocabSize: 256;
  numClasses: 2;
}

/**
 * Samples `count` passage pairs of `length` bytes from the `split` regions of `books`.
 * @param opts.length bytes per passage (LRA Retrieval: 4000). @param opts.rng advanced by the draws.
 */
export function passagePairs(
  books: Book[],
  split: SplitName,
  count: number,
  opts: SplitOptions & { length: number; rng: Rng },
): PassagePairs {
  assertOneOf(split, SPLIT_NAMES, 'split');
  assertInt(count, 'count', 0);
  const { length, rng } = opts;
  assertInt(length, 'length', 1);
  if (!(rng instanceof Rng)) throw new Error(`rng: expected an Rng, got ${String(rng)}`);
  const regions = books.map((b) => splitBounds(b.bytes.length, opts)[split]);
  const eligible = books.map((_, i) => i).filter((i) => regions[i][1] - regions[i][0] >= 2 * length);
  if (eligible.length < 2) {
    throw new Error(`length: ${length} is too long: fewer than 2 books have a ${split} region of at least ${2 * length} bytes`);
  }

  const a = new Int32Array(count * length);
  const b = new Int32Array(count * length);
  const labels = new Int32Array(count);
  const bookA = new Int32Array(count);
  const bookB = new Int32Array(count);
  const startA = new Int32Array(count);
  const startB = new Int32Array(count);
  const order = rng.permutation(count);
  for (let i = 0; i < count; i++) {
    const row = order[i];
    const positive = i % 2 === 0;
    let ba: number, bb: number, sa: number, sb: number;
    if (positive) {
      ba = bb = eligible[rng.int(eligible.length)];
      const [lo, hi] = regions[ba];
      // Two disjoint windows: draw the gap layout uniformly, then randomise which comes first.
      const slack = hi - lo - 2 * length;
      const first = lo + rng.int(slack + 1);
      const second = first + length + rng.int(hi - length - (first + length) + 1);
      [sa, sb] = rng.uniform() < 0.5 ? [first, second] : [second, first];
    } else {
      const x = rng.int(eligible.length);
      const y = (x + 1 + rng.int(eligible.length - 1)) % eligible.length;
      ba = eligible[x];
      bb = eligible[y];
      sa = regions[ba][0] + rng.int(regions[ba][1] - regions[ba][0] - length + 1);
      sb = regions[bb][0] + rng.int(regions[bb][1] - regions[bb][0] - length + 1);
    }
    a.set(books[ba].bytes.subarray(sa, sa + length), row * length);
    b.set(books[bb].bytes.subarray(sb, sb + length), row * length);
    labels[row] = positive ? 1 : 0;
    bookA[row] = ba;
    bookB[row] = bb;
    startA[row] = sa;
    startB[row] = sb;
  }
  return { a, b, labels, bookA, bookB, startA, startB, count, length, vocabSize: 256, numClasses: 2 };
}

/**
 * The Gutenberg same-book task for one split: `count` pairs of `length` (default 4000) bytes,
 * drawn with `new Rng(seed).fork(split)` (seed default 0), so each split is reproducible on its own.
 */
export function retrieval(
  split: SplitName,
  count: number,
  opts: SplitOptions & { length?: number; seed?: number; dir?: string } = {},
): PassagePairs {
  const rng = new Rng(opts.seed ?? 0).fork(split);
  return passagePairs(gutenbergBooks({ dir: opts.dir }), split, count, { ...opts, length: opts.length ?? 4000, rng });
}
