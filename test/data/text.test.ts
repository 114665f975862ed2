import { strict as assert } from 'assert';
import * as path from 'path';
import {
  GUTENBERG_BOOKS, gutenbergBooks, gutenberg, splitBounds, splitBooks, unigramEntropy,
  cleanReview, parseImdbJson, imdbSplit, encodeReviews, imdb, passagePairs, Book,
} from '../../src/data';
import { Rng } from '../../src/backend/rng';
import { assertThrowsNaming } from '../helpers';
import { removeDir, tempDir, writeFiles } from './fixtures';

/** A synthetic book: `n` bytes, byte i = (seed * 31 + i) mod 251 + 1 (never 0). */
function fakeBook(name: string, n: number, seed: number): Book {
  return { name, bytes: Uint8Array.from({ length: n }, (_, i) => ((seed * 31 + i) % 251) + 1) };
}

describe('data/text (gutenberg, imdb, retrieval)', () => {
  describe('gutenberg split', () => {
    it('cuts each book into first 80 % / next 10 % / last 10 %: disjoint, covering, in order', () => {
      assert.deepEqual(splitBounds(1000), { train: [0, 800], valid: [800, 900], test: [900, 1000] });
      assert.deepEqual(splitBounds(1005), { train: [0, 804], valid: [804, 904], test: [904, 1005] });
      assert.deepEqual(splitBounds(100, { validFraction: 0.05, testFraction: 0.2 }), { train: [0, 75], valid: [75, 80], test: [80, 100] });
      assertThrowsNaming(() => splitBounds(10, { validFraction: 0.5, testFraction: 0.5 }), /validFraction \+ testFraction: expected < 1, got 1/);
    });

    it('concatenates the per-book slices in book order and records their regions', () => {
      const books = [fakeBook('a', 100, 1), fakeBook('b', 50, 2)];
      const test = splitBooks(books, 'test');
      assert.deepEqual(test.regions, [{ book: 'a', start: 90, end: 100, offset: 0 }, { book: 'b', start: 45, end: 50, offset: 10 }]);
      assert.deepEqual(Array.from(test.bytes), [...books[0].bytes.subarray(90), ...books[1].bytes.subarray(45)]);
      const total = (['train', 'valid', 'test'] as const).reduce((a, s) => a + splitBooks(books, s).bytes.length, 0);
      assert.equal(total, 150);
    });

    it('loads the 18 books from a directory, and says how to install them when absent', () => {
      const dir = tempDir('gutenberg');
      try {
        writeFiles(dir, Object.fromEntries(GUTENBERG_BOOKS.map((b, i) => [`${b}.txt`, `book ${i} `.repeat(10 + i)])));
        const books = gutenbergBooks({ dir });
        assert.deepEqual(books.map((b) => b.name), [...GUTENBERG_BOOKS]);
        assert.equal(Buffer.from(books[3].bytes).toString(), 'book 3 '.repeat(13));
        const train = gutenberg('train', { dir });
        assert.equal(train.regions.length, 18);
        assertThrowsNaming(() => gutenbergBooks({ dir: path.join(dir, 'missing') }), /gutenberg: book austen-emma\.txt not found/, /install-data\.sh/);
      } finally {
        removeDir(dir);
      }
    });

    it('unigram entropy: 8 bits for uniform bytes, 1 bit for two equal symbols, nats = bits * ln 2', () => {
      const uniform = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      assert.ok(Math.abs(unigramEntropy(uniform) - 8) < 1e-12);
      assert.ok(Math.abs(unigramEntropy(Uint8Array.from([7, 9, 9, 7])) - 1) < 1e-12);
      assert.equal(unigramEntropy(Uint8Array.from([5, 5, 5])), 0);
      const skewed = Uint8Array.from([1, 1, 1, 2]); // H = -(3/4 log 3/4 + 1/4 log 1/4)
      const h = -(0.75 * Math.log2(0.75) + 0.25 * Math.log2(0.25));
      assert.ok(Math.abs(unigramEntropy(skewed) - h) < 1e-12);
      assert.ok(Math.abs(unigramEntropy(skewed, 'nats') - h * Math.LN2) < 1e-12);
      assertThrowsNaming(() => unigramEntropy(new Uint8Array(0)), /bytes: expected a non-empty Uint8Array/);
      assertThrowsNaming(() => unigramEntropy(uniform, 'bans' as 'bits'), /unit: expected one of 'bits', 'nats'/);
    });
  });

  describe('imdb', () => {
    it('turns each run of <br /> tags into one newline', () => {
      assert.equal(cleanReview('Good.<br /><br />Bad. <br/>End<BR>x'), 'Good.\nBad.\nEnd\nx');
      assert.equal(cleanReview('no tags'), 'no tags');
    });

    it('validates the records of reviews.json', () => {
      assertThrowsNaming(() => parseImdbJson('{"t":1}', 'r.json'), /imdb: r\.json: expected a non-empty JSON array/);
      assertThrowsNaming(() => parseImdbJson('[{"t":"ok","s":2}]', 'r.json'), /imdb: r\.json: record 0: expected \{t: string, s: 0 \| 1\}/);
      assertThrowsNaming(() => parseImdbJson('[{"t":"a', 'r.json'), /imdb: r\.json: not valid JSON/);
      const c = parseImdbJson('[{"t":"ab<br />c","s":0},{"t":"é","s":1}]', 'r.json');
      assert.deepEqual(Array.from(c.offsets), [0, 4, 6]);
      assert.deepEqual(Array.from(c.bytes), [97, 98, 10, 99, 0xc3, 0xa9]);
      assert.deepEqual(Array.from(c.labels), [0, 1]);
    });

    it('stratified split: each label halved, sides disjoint and covering, determined by the seed', () => {
      // sorted by label, like the package: 30 negatives then 20 positives
      const labels = Int32Array.from({ length: 50 }, (_, i) => (i < 30 ? 0 : 1));
      const a = imdbSplit(labels);
      const count = (idx: Int32Array, l: number) => Array.from(idx).filter((i) => labels[i] === l).length;
      assert.deepEqual([count(a.train, 0), count(a.train, 1), count(a.test, 0), count(a.test, 1)], [15, 10, 15, 10]);
      assert.deepEqual([...a.train, ...a.test].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
      assert.deepEqual(imdbSplit(labels), a);
      assert.notDeepEqual(Array.from(imdbSplit(labels, { seed: 1 }).train), Array.from(a.train));
      // the train order is shuffled, not sorted by label
      assert.ok(Array.from(a.train.subarray(0, 25), (i) => labels[i]).some((l, k, xs) => k > 0 && l !== xs[k - 1] && xs[k - 1] === 1));
    });

    it('encodes reviews as bytes truncated / right-padded with 0 to the length', () => {
      const c = parseImdbJson('[{"t":"abcdef","s":0},{"t":"xy","s":1}]', 'r.json');
      const set = encodeReviews(c, Int32Array.from([1, 0]), 4);
      assert.deepEqual(Array.from(set.tokens), [120, 121, 0, 0, 97, 98, 99, 100]);
      assert.deepEqual(Array.from(set.lengths), [2, 4]);
      assert.deepEqual(Array.from(set.labels), [1, 0]);
      assert.deepEqual([set.count, set.length, set.vocabSize, set.padId], [2, 4, 256, 0]);
    });

    it('imdb() reads a reviews.json file and says how to install it when absent', () => {
      const dir = tempDir('imdb');
      try {
        const recs = Array.from({ length: 8 }, (_, i) => ({ t: `review ${i}<br /><br />end`, s: i < 4 ? 0 : 1 }));
        writeFiles(dir, { 'reviews.json': JSON.stringify(recs) });
        const file = path.join(dir, 'reviews.json');
        const train = imdb('train', { file, length: 16 });
        const test = imdb('test', { file, length: 16 });
        assert.equal(train.count + test.count, 8);
        assert.deepEqual([Array.from(train.labels).reduce((a, b) => a + b, 0), Array.from(test.labels).reduce((a, b) => a + b, 0)], [2, 2]);
        assert.match(Buffer.from(train.tokens.subarray(0, train.lengths[0])).toString(), /^review \d\nend$/);
        assertThrowsNaming(() => imdb('train', { file: path.join(dir, 'none.json') }), /imdb: reviews\.json not found/, /install-data\.sh/);
      } finally {
        removeDir(dir);
      }
    });
  });

  describe('retrieval stand-in (same-book passage pairs)', () => {
    const books = [fakeBook('a', 2000, 1), fakeBook('b', 3000, 2), fakeBook('c', 700, 3), fakeBook('tiny', 70, 4)];
    const pairs = (split: 'train' | 'valid' | 'test', count: number, seed = 0) =>
      passagePairs(books, split, count, { length: 40, rng: new Rng(seed) });

    it('is balanced, labels say whether the books agree, and passages are the book bytes', () => {
      const p = pairs('train', 200);
      assert.equal(Array.from(p.labels).reduce((a, b) => a + b, 0), 100);
      for (let i = 0; i < p.count; i++) {
        assert.equal(p.labels[i], p.bookA[i] === p.bookB[i] ? 1 : 0);
        const a = books[p.bookA[i]].bytes.subarray(p.startA[i], p.startA[i] + 40);
        assert.deepEqual(Array.from(p.a.subarray(i * 40, i * 40 + 40)), Array.from(a));
        if (p.labels[i] === 1) assert.ok(Math.abs(p.startA[i] - p.startB[i]) >= 40, `pair ${i} overlaps`);
      }
      // labels are shuffled, not alternating
      assert.notDeepEqual(Array.from(p.labels.subarray(0, 10)), [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    });

    it('draws every passage from its split region, so train / valid / test never share a byte', () => {
      for (const split of ['train', 'valid', 'test'] as const) {
        const p = pairs(split, 100);
        for (let i = 0; i < p.count; i++) {
          for (const [bk, s] of [[p.bookA[i], p.startA[i]], [p.bookB[i], p.startB[i]]]) {
            const [lo, hi] = splitBounds(books[bk].bytes.length)[split];
            assert.ok(s >= lo && s + 40 <= hi, `${split} pair ${i}: [${s}, ${s + 40}) outside [${lo}, ${hi})`);
          }
        }
      }
    });

    it('uses only books whose region holds two passages (2 x 40 bytes: not "tiny", nor "c" in test, whose test region is 70)', () => {
      const used = (split: 'train' | 'test') => new Set([...pairs(split, 200).bookA, ...pairs(split, 200).bookB].map((i) => books[i].name));
      assert.deepEqual([...used('train')].sort(), ['a', 'b', 'c']);
      assert.deepEqual([...used('test')].sort(), ['a', 'b']);
    });

    it('is a function of the rng state', () => {
      assert.deepEqual(pairs('valid', 30, 5), pairs('valid', 30, 5));
      assert.notDeepEqual(Array.from(pairs('valid', 30, 5).startA), Array.from(pairs('valid', 30, 6).startA));
      assertThrowsNaming(() => passagePairs(books, 'test', 4, { length: 200, rng: new Rng(0) }), /length: 200 is too long/);
    });
  });
});
