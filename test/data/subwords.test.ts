import { strict as assert } from 'assert';
import {
  gpt2Encode,
  gpt2EncodePrefix,
  buildSubwordVocab,
  toSubwordIds,
  subwordReviews,
  imdbReviews,
  imdbSplit,
  reviewText,
  SUBWORD_PAD,
  SUBWORD_UNK,
  SUBWORD_MASK,
  SUBWORD_SEP,
} from '../../src/data';
import { imdbSubwordData } from '../../src/experiments/datasets';
import { assertThrowsNaming } from '../helpers';

describe('data/subwords: GPT-2 BPE (gpt-tokenizer) with a cut vocabulary', () => {
  it("encodes with GPT-2's r50k_base merges, shipped in the package", () => {
    // Ids of GPT-2's tokenizer (the same as tiktoken's r50k_base / HuggingFace's gpt2).
    assert.deepEqual(gpt2Encode('This movie was terrible.'), [1212, 3807, 373, 7818, 13]);
    assert.deepEqual(gpt2Encode(''), []);
    assertThrowsNaming(() => gpt2Encode(3 as unknown as string), /text: expected a string/);
  });

  it('a prefix of the text gives the first tokens of the whole text', () => {
    const text = 'A long review. '.repeat(400) + 'The ending, however, was superb!';
    const all = gpt2Encode(text);
    for (const n of [1, 7, 100, all.length, all.length + 5]) assert.deepEqual(gpt2EncodePrefix(text, n), all.slice(0, n), `first ${n} tokens`);
    assertThrowsNaming(() => gpt2EncodePrefix(text, 0), /maxTokens/);
  });

  it('keeps the most frequent tokens after PAD, UNK, MASK, SEP; maps the rest to UNK', () => {
    const docs = [
      [5, 5, 5, 9, 9, 2],
      [9, 5, 7, 7, 7, 7, 40000],
    ];
    const v = buildSubwordVocab(docs, 7);
    assert.equal(v.size, 7);
    // Counts: 5 -> 4, 7 -> 4, 9 -> 3, then 2 and 40000 (1 each; the smaller BPE id first, cut).
    assert.deepEqual(Array.from(v.toBpe), [-1, -1, -1, -1, 5, 7, 9]);
    assert.deepEqual(Array.from(toSubwordIds(v, [5, 9, 2, 40000, 7])), [4, 6, SUBWORD_UNK, SUBWORD_UNK, 5]);
    assert.equal(v.coverage, 11 / 13);
    assert.deepEqual([SUBWORD_PAD, SUBWORD_UNK, SUBWORD_MASK, SUBWORD_SEP], [0, 1, 2, 3]);
    // Fewer distinct tokens than asked for: the vocabulary is what there is.
    assert.equal(buildSubwordVocab([[1, 1, 2]], 100).size, 6);
    assertThrowsNaming(() => buildSubwordVocab(docs, 4), /size/);
    assertThrowsNaming(() => buildSubwordVocab([[60000]], 10), /docs: expected GPT-2 BPE ids/);
  });

  it('reviews become rows of the first `length` subwords, right-padded with PAD', () => {
    const v = buildSubwordVocab([[10, 11, 12, 13]], 8);
    const set = subwordReviews([[10, 11, 12, 13, 14], [12]], Int32Array.from([1, 0]), 3, v);
    assert.deepEqual(Array.from(set.tokens), [v.fromBpe[10], v.fromBpe[11], v.fromBpe[12], v.fromBpe[12], SUBWORD_PAD, SUBWORD_PAD]);
    assert.deepEqual(Array.from(set.lengths), [3, 1]);
    assert.deepEqual(Array.from(set.labels), [1, 0]);
    assert.equal(set.vocabSize, 8);
    assertThrowsNaming(() => subwordReviews([[1]], Int32Array.from([1, 0]), 3, v), /labels: expected one per review/);
  });

  it('IMDB subwords: the same reviews as the byte tables, a training-only vocabulary and pretraining stream', function () {
    this.timeout(120000);
    const d = imdbSubwordData(64, 200, 50, 512);
    assert.equal(d.train.count, 200);
    assert.equal(d.valid.count, 50);
    assert.equal(d.test.count, 50);
    assert.equal(d.train.vocabSize, 512);
    assert.equal(d.pretrain.vocabSize, 512);
    // The stream holds the training reviews only: 200 reviews, one SEP after each.
    assert.equal(d.pretrain.tokens.filter((x) => x === SUBWORD_SEP).length, 200);
    assert.ok(d.vocab.coverage > 0.6 && d.vocab.coverage < 1, `coverage ${d.vocab.coverage}`);
    // The first training row is the first 64 subwords of the first review of the seeded train side.
    const corpus = imdbReviews();
    const first = imdbSplit(corpus.labels).train[0];
    const want = toSubwordIds(d.vocab, gpt2EncodePrefix(reviewText(corpus, first), 64));
    assert.deepEqual(Array.from(d.train.tokens.subarray(0, want.length)), Array.from(want));
    assert.equal(d.train.lengths[0], want.length);
    assert.equal(d.train.labels[0], corpus.labels[first]);
    assert.ok(d.train.lengths.every((n) => n >= 1 && n <= 64));
  });
});
