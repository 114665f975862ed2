/**
 * The data each experiment trains and evaluates on, from the offline loaders of `data/`, cut to
 * the sizes a scale asks for. Everything is plain typed arrays (no tensors); loads are cached per
 * process, since one `rpelab run all` builds many runs on the same corpora.
 *
 * Stand-ins (the papers' datasets are not available offline; see docs/REFERENCES.md):
 * - WikiText-103 -> the 18 Gutenberg books, byte level (`gutenberg`).
 * - LRA Image (CIFAR-10 grey) -> Fashion-MNIST; the LRPE ImageNet table -> MNIST and Fashion-MNIST.
 *   Images are zero-padded to 32 x 32 (the LRA length 1024) and, at small scales, average-pooled
 *   to `imageSize` x `imageSize` (16 -> 256 tokens, 8 -> 64 tokens), or the 28 x 28 pixels as they are
 *   (784 tokens); grey levels stay 0..255.
 * - LRA Retrieval (AAN citations) -> same-book / different-book Gutenberg passage pairs.
 * - Pop-piano / Groove2Groove MIDI -> the small Debian MIDI corpus (`midi`).
 * - LRA ListOps is generated (with its closing brackets, so it is solvable; the SPE paper's was not).
 */
import { Rng, assertInt } from '../backend';
import {
  gutenberg,
  gutenbergBooks,
  imdb,
  imdbReviews,
  imdbSplit,
  reviewBpe,
  subwordReviews,
  buildSubwordVocab,
  toSubwordIds,
  SUBWORD_SEP,
  type SubwordVocab,
  mnist,
  fashionMnist,
  asSequence,
  listOpsSplits,
  passagePairs,
  midiCorpus,
  concatPieces,
  type SequenceClassificationSet,
  type ImageSet,
  type PassagePairs,
  type SplitName,
  type Book,
} from '../data';
import { IMAGE_SIZES } from './types';

const cache = new Map<string, unknown>();
function cached<T>(key: string, load: () => T): T {
  if (!cache.has(key)) cache.set(key, load());
  return cache.get(key) as T;
}

/** Forgets every cached corpus (tests; long-lived notebooks). */
export function clearDatasetCache(): void {
  cache.clear();
}

/** A token stream for language modelling. */
export interface Stream {
  tokens: Uint8Array | Int32Array;
  vocabSize: number;
}

/** Gutenberg bytes of one split (vocabulary 256). */
export function textStream(split: SplitName): Stream {
  return cached(`gutenberg:${split}`, () => ({ tokens: gutenberg(split).bytes, vocabSize: 256 }));
}

/** The MIDI event corpus of one split, pieces end to end (BOS ... EOS each). */
export function midiStream(split: SplitName): Stream {
  return cached(`midi:${split}`, () => {
    const c = midiCorpus(split);
    return { tokens: concatPieces(c.pieces), vocabSize: c.vocab.size };
  });
}

/** Train / validation / test sets of a classification task. */
export interface ClassificationData {
  train: SequenceClassificationSet;
  valid: SequenceClassificationSet;
  test: SequenceClassificationSet;
  /** Rows may be right-padded with id 0 (use `lengths` for a key mask). */
  padded: boolean;
  /** Image side when the rows are images (row-major), else undefined. */
  imageSize?: number;
}

/** Rows [from, to) of a set, as a new set. */
export function sliceSet(set: SequenceClassificationSet, from: number, to: number): SequenceClassificationSet {
  const n = Math.max(0, Math.min(to, set.count) - from);
  const L = set.length;
  return {
    tokens: set.tokens.slice(from * L, (from + n) * L),
    lengths: set.lengths.slice(from, from + n),
    labels: set.labels.slice(from, from + n),
    count: n,
    length: L,
    vocabSize: set.vocabSize,
    numClasses: set.numClasses,
  };
}

function checkSizes(trainSize: number, evalSize: number): void {
  assertInt(trainSize, 'trainSize', 1);
  assertInt(evalSize, 'evalSize', 1);
}

/**
 * IMDB bytes truncated / padded to `length`: the first `trainSize` reviews of the seeded train side
 * for training, the next `evalSize` of it for validation, the first `evalSize` of the test side.
 */
export function imdbData(length: number, trainSize: number, evalSize: number): ClassificationData {
  checkSizes(trainSize, evalSize);
  return cached(`imdb:${length}:${trainSize}:${evalSize}`, () => {
    const train = imdb('train', { length });
    const test = imdb('test', { length });
    if (trainSize + evalSize > train.count) throw new Error(`trainSize: expected trainSize + evalSize <= ${train.count}, got ${trainSize + evalSize}`);
    return {
      train: sliceSet(train, 0, trainSize),
      valid: sliceSet(train, train.count - evalSize, train.count),
      test: sliceSet(test, 0, evalSize),
      padded: true,
    };
  });
}

/** IMDB in GPT-2 subwords, with the stream its masked LM pretrains on. */
export interface SubwordClassificationData extends ClassificationData {
  /** The training reviews (never the validation or test ones) end to end, SEP between them. */
  pretrain: Stream;
  vocab: SubwordVocab;
}

/**
 * IMDB as GPT-2 BPE subwords (`data/subwords.ts`): the same reviews as `imdbData` (train: the first
 * `trainSize` of the seeded train side, validation: its last `evalSize`, test: the first `evalSize`
 * of the test side), each cut to its first `length` tokens. The vocabulary keeps the `vocabSize − 4`
 * most frequent tokens of the training reviews; the masked LM pretrains on those same training
 * reviews (up to 2·`length` tokens each).
 */
export function imdbSubwordData(length: number, trainSize: number, evalSize: number, vocabSize: number): SubwordClassificationData {
  checkSizes(trainSize, evalSize);
  assertInt(vocabSize, 'vocabSize', 5);
  return cached(`imdb-subwords:${length}:${trainSize}:${evalSize}:${vocabSize}`, () => {
    const corpus = imdbReviews();
    const sides = imdbSplit(corpus.labels);
    if (trainSize + evalSize > sides.train.length)
      throw new Error(`trainSize: expected trainSize + evalSize <= ${sides.train.length}, got ${trainSize + evalSize}`);
    const trainIdx = sides.train.subarray(0, trainSize);
    const validIdx = sides.train.subarray(sides.train.length - evalSize);
    const testIdx = sides.test.subarray(0, evalSize);
    const trainBpe = reviewBpe(corpus, trainIdx, 2 * length);
    const vocab = buildSubwordVocab(trainBpe, vocabSize);
    const labelsOf = (idx: Int32Array) => Int32Array.from(idx, (i) => corpus.labels[i]);
    const streamLength = trainBpe.reduce((a, d) => a + d.length + 1, 0);
    const stream = new Int32Array(streamLength);
    let at = 0;
    for (const d of trainBpe) {
      stream.set(toSubwordIds(vocab, d), at);
      at += d.length;
      stream[at++] = SUBWORD_SEP;
    }
    return {
      train: subwordReviews(
        trainBpe.map((d) => d.slice(0, length)),
        labelsOf(trainIdx),
        length,
        vocab,
      ),
      valid: subwordReviews(reviewBpe(corpus, validIdx, length), labelsOf(validIdx), length, vocab),
      test: subwordReviews(reviewBpe(corpus, testIdx, length), labelsOf(testIdx), length, vocab),
      padded: true,
      pretrain: { tokens: stream, vocabSize: vocab.size },
      vocab,
    };
  });
}

/**
 * Images as pixel sequences: size 28 is the 28 x 28 image itself (784 tokens); otherwise it is
 * zero-padded (centred) to 32 x 32, then average-pooled by 32 / size (size in 32, 16, 8, 4):
 * tokens [count, size²] of grey levels 0..255.
 */
export function imageSequences(set: ImageSet, size: number): SequenceClassificationSet {
  if (!(IMAGE_SIZES as readonly number[]).includes(size)) throw new Error(`imageSize: expected one of ${IMAGE_SIZES.join(', ')}, got ${size}`);
  if (size === set.rows && size === set.cols) return asSequence(set, { size });
  if (32 % size !== 0)
    throw new Error(`imageSize: ${size} is the images' own size only, and these are ${set.rows} x ${set.cols}; expected ${set.rows} or one of 32, 16, 8, 4`);
  const full = asSequence(set, { size: 32 });
  if (size === 32) return full;
  const f = 32 / size;
  const tokens = new Int32Array(full.count * size * size);
  for (let n = 0; n < full.count; n++) {
    const src = n * 1024;
    const dst = n * size * size;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        let s = 0;
        for (let i = 0; i < f; i++) for (let j = 0; j < f; j++) s += full.tokens[src + (r * f + i) * 32 + c * f + j];
        tokens[dst + r * size + c] = Math.round(s / (f * f));
      }
    }
  }
  return { ...full, tokens, lengths: new Int32Array(full.count).fill(size * size), length: size * size };
}

/** MNIST or Fashion-MNIST as sequences: train = first `trainSize`, valid = last `evalSize` of train, test = first `evalSize` of test. */
export function imageData(name: 'mnist' | 'fashion-mnist', size: number, trainSize: number, evalSize: number): ClassificationData {
  checkSizes(trainSize, evalSize);
  return cached(`${name}:${size}:${trainSize}:${evalSize}`, () => {
    const load = name === 'mnist' ? mnist : fashionMnist;
    const train = imageSequences(load('train'), size);
    const test = imageSequences(load('test'), size);
    if (trainSize + evalSize > train.count) throw new Error(`trainSize: expected trainSize + evalSize <= ${train.count}, got ${trainSize + evalSize}`);
    return {
      train: sliceSet(train, 0, trainSize),
      valid: sliceSet(train, train.count - evalSize, train.count),
      test: sliceSet(test, 0, evalSize),
      padded: false,
      imageSize: size,
    };
  });
}

/**
 * Generated ListOps with expressions of (length/4, length) tokens and the given depth, from seed 0
 * (the data set is the same for every run; model seeds vary).
 */
export function listOpsData(length: number, depth: number, trainSize: number, evalSize: number): ClassificationData {
  checkSizes(trainSize, evalSize);
  return cached(`listops:${length}:${depth}:${trainSize}:${evalSize}`, () => {
    const s = listOpsSplits(
      { train: trainSize, valid: evalSize, test: evalSize },
      { maxLength: length, minLength: Math.floor(length / 4), maxDepth: depth, seed: 0 },
    );
    return { train: s.train, valid: s.valid, test: s.test, padded: true };
  });
}

/** The Gutenberg books (for passage pairs). */
export function books(): Book[] {
  return cached('gutenberg:books', () => gutenbergBooks());
}

/** Fixed evaluation pairs of one split (seeded by the split, not by the run). */
export function pairSet(split: 'valid' | 'test', length: number, count: number): PassagePairs {
  return cached(`pairs:${split}:${length}:${count}`, () => passagePairs(books(), split, count, { length, rng: new Rng(split === 'valid' ? 1 : 2) }));
}

/** Fresh training pairs drawn from `rng` (so a resumed run sees the same pairs). */
export function trainPairs(length: number, count: number, rng: Rng): PassagePairs {
  return passagePairs(books(), 'train', count, { length, rng });
}
