/**
 * Checks on the real installed data (installed by `bash scripts/install-data.sh`, which `npm test`
 * runs first). These are not skipped when the data is missing: the loaders then fail with the
 * message saying how to install it.
 */
import { strict as assert } from 'assert';
import {
  mnist, fashionMnist, asSequence, imdbReviews, imdb, gutenbergBooks, gutenberg, unigramEntropy, retrieval,
  midiSources, splitFiles, midiToEvents, midiVocab, GUTENBERG_BOOKS,
} from '../../src/data';

function sum(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

describe('data on the installed packages (real data)', () => {
  it('MNIST: 60000 / 10000 images of 28 x 28, first labels 5 0 4 1 9 (train) and 7 2 1 0 4 (test)', () => {
    const tr = mnist('train');
    const te = mnist('test');
    assert.deepEqual([tr.count, tr.rows, tr.cols, te.count], [60000, 28, 28, 10000]);
    assert.deepEqual(Array.from(tr.labels.subarray(0, 5)), [5, 0, 4, 1, 9]);
    assert.deepEqual(Array.from(te.labels.subarray(0, 5)), [7, 2, 1, 0, 4]);
    const seq = asSequence(te);
    assert.deepEqual([seq.count, seq.length], [10000, 1024]);
    assert.equal(seq.tokens[0], 0); // the padding border
  });

  it('Fashion-MNIST: 60000 / 10000 images, first test labels 9 2 1 1 6', () => {
    const tr = fashionMnist('train');
    const te = fashionMnist('test');
    assert.deepEqual([tr.count, te.count, te.rows, te.cols], [60000, 10000, 28, 28]);
    assert.deepEqual(Array.from(te.labels.subarray(0, 5)), [9, 2, 1, 1, 6]);
    assert.equal(sum(tr.labels.map((l) => (l === 3 ? 1 : 0))), 6000); // balanced: 6000 per class
  });

  it('IMDB: 50000 reviews, 25000 positive; the split is 25k / 25k with 12.5k of each label per side', () => {
    const c = imdbReviews();
    assert.equal(c.labels.length, 50000);
    assert.equal(sum(c.labels), 25000);
    assert.equal(Buffer.from(c.bytes).indexOf('<br'), -1);
    const tr = imdb('train');
    const te = imdb('test');
    assert.deepEqual([tr.count, te.count, tr.length], [25000, 25000, 1000]);
    assert.deepEqual([sum(tr.labels), sum(te.labels)], [12500, 12500]);
    let lo = 255;
    let hi = 0;
    for (let k = 0; k < tr.tokens.length; k++) {
      lo = Math.min(lo, tr.tokens[k]);
      hi = Math.max(hi, tr.tokens[k]);
    }
    assert.deepEqual([lo, hi > 127, hi < 256], [0, true, true]); // 0 = padding; UTF-8 bytes above 127 occur
    assert.ok(sum(tr.lengths.map((l) => (l === 1000 ? 1 : 0))) > 10000, 'about half the reviews exceed 1000 bytes');
  });

  it('Gutenberg: 18 books; 80 / 10 / 10 split sizes; unigram entropy about 4.5 bits per byte', () => {
    const books = gutenbergBooks();
    assert.deepEqual(books.map((b) => b.name), [...GUTENBERG_BOOKS]);
    assert.equal(sum(books.map((b) => b.bytes.length)), 11793318);
    const sizes = (['train', 'valid', 'test'] as const).map((s) => gutenberg(s).bytes.length);
    assert.deepEqual(sizes, [9434649, 1179329, 1179340]);
    const h = unigramEntropy(gutenberg('valid').bytes);
    assert.ok(h > 4.2 && h < 4.8, `unigram entropy ${h} bits`);
  });

  it('retrieval stand-in: 4000-byte pairs from the test regions, balanced, without the short blake-poems', () => {
    const p = retrieval('test', 200);
    assert.equal(sum(p.labels), 100);
    const used = new Set([...p.bookA, ...p.bookB].map((i) => GUTENBERG_BOOKS[i]));
    assert.ok(!used.has('blake-poems'));
    assert.ok(used.size >= 15, `${used.size} books used`);
  });

  it('MIDI corpus: 107 distinct files, split 85 / 11 / 11, every event id in range', () => {
    const sources = midiSources();
    assert.equal(sources.length, 107);
    assert.deepEqual(
      ['freedoom1/', 'freedoom2/', 'openmsx/', 'planetblupi/'].map((p) => sources.filter((s) => s.id.startsWith(p)).length),
      [31, 35, 31, 10],
    );
    const split = splitFiles(sources.map((s) => s.id));
    assert.deepEqual([split.train.length, split.valid.length, split.test.length], [85, 11, 11]);
    const v = midiVocab();
    let events = 0;
    for (const s of sources) {
      const ev = midiToEvents(s.bytes, s.id);
      assert.equal(ev[0], v.bos);
      assert.equal(ev[ev.length - 1], v.eos);
      assert.ok(ev.length > 100, `${s.id}: ${ev.length} events`);
      for (const id of ev) if (!(id >= 0 && id < v.size)) assert.fail(`${s.id}: event id ${id} out of range`);
      events += ev.length;
    }
    assert.ok(events > 1e6, `${events} events in all`);
  });
});
