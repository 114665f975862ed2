import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../../src/backend';
import {
  JsonlWriter,
  accuracy,
  bitsPerByte,
  crossEntropy,
  filterJsonl,
  meanNll,
  nllByPosition,
  perplexity,
  readJsonl,
  tokenNll,
  windowedMeans,
} from '../../src/train';
import { assertClose, assertThrowsNaming } from '../helpers';

describe('train/metrics', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-metrics-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('JSONL survives a truncated last line (a crash mid-write)', () => {
    const file = path.join(dir, 'crash.jsonl');
    const w = new JsonlWriter(file);
    for (let s = 1; s <= 3; s++) w.append({ kind: 'train', step: s, loss: 1 / s });
    w.close();
    fs.appendFileSync(file, '{"kind":"train","step":4,"lo'); // what a kill mid-write leaves
    const r = readJsonl<{ step: number; loss: number }>(file);
    assert.equal(r.truncated, true);
    assert.deepEqual(
      r.records.map((x) => x.step),
      [1, 2, 3],
    );
    assert.equal(r.records[2].loss, 1 / 3);
    // Reopening repairs the tail, so new lines do not glue onto the partial one.
    const w2 = new JsonlWriter(file);
    w2.append({ kind: 'train', step: 4, loss: 0.25 });
    w2.close();
    const r2 = readJsonl<{ step: number }>(file);
    assert.equal(r2.truncated, false);
    assert.deepEqual(
      r2.records.map((x) => x.step),
      [1, 2, 3, 4],
    );
    assert.ok(fs.readFileSync(file, 'utf8').endsWith('}\n'));
  });

  it('JSONL: a complete last line without newline is kept; a bad middle line is an error naming it', () => {
    const file = path.join(dir, 'nonl.jsonl');
    fs.writeFileSync(file, '{"a":1}\n{"a":2}');
    assert.deepEqual(readJsonl(file).records, [{ a: 1 }, { a: 2 }]);
    new JsonlWriter(file).close();
    assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"a":2}\n');
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"a":1}\n{"a":\n{"a":3}\n');
    assertThrowsNaming(() => readJsonl(bad), /bad.jsonl: line 2 is not valid JSON/);
    assert.deepEqual(readJsonl(path.join(dir, 'missing.jsonl')), { records: [], truncated: false });
  });

  it('filterJsonl keeps only accepted records', () => {
    const file = path.join(dir, 'filter.jsonl');
    const w = new JsonlWriter(file);
    for (let s = 0; s < 6; s++) w.append({ step: s });
    w.close();
    filterJsonl(file, (r) => (r.step as number) <= 3);
    assert.deepEqual(
      readJsonl<{ step: number }>(file).records.map((r) => r.step),
      [0, 1, 2, 3],
    );
  });

  it('token NLL (nats), mean NLL, perplexity', () => {
    tf.tidy(() => {
      // Row 0 uniform over 4 classes: NLL ln 4. Row 1 p = [1/4, 3/4, 0+, 0+] (logits ln1, ln3, -inf-ish).
      const logits = tf.tensor2d([
        [0, 0, 0, 0],
        [0, Math.log(3), -1e4, -1e4],
      ]);
      const nll = tokenNll(logits, tf.tensor1d([2, 1], 'int32'));
      assertClose(nll, [Math.log(4), -Math.log(0.75)], 1e-5, 1e-5);
      const m = meanNll(nll);
      assert.ok(Math.abs(m - (Math.log(4) - Math.log(0.75)) / 2) < 1e-5);
      assert.ok(Math.abs(perplexity(Math.log(4)) - 4) < 1e-12);
      assert.ok(Math.abs(meanNll([1, 2, 6]) - 3) < 1e-12);
      // Masked mean: only row 0 counts.
      const ce = crossEntropy(logits, tf.tensor1d([2, 1], 'int32'), tf.tensor1d([1, 0]));
      assert.ok(Math.abs(ce.dataSync()[0] - Math.log(4)) < 1e-5);
      assertThrowsNaming(() => tokenNll(logits, tf.tensor1d([0, 1])), /targets: expected an int32 tensor/);
      assertThrowsNaming(() => tokenNll(logits, tf.tensor1d([0, 1, 2], 'int32')), /targets: expected shape \[2\]/);
    });
  });

  it('accuracy, with and without a mask', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [2, 1, 0],
        [0, 3, 1],
        [1, 0, 5],
      ]);
      assert.ok(Math.abs(accuracy(logits, tf.tensor1d([0, 1, 0], 'int32')) - 2 / 3) < 1e-6);
      assert.equal(accuracy(logits, tf.tensor1d([0, 1, 0], 'int32'), tf.tensor1d([1, 1, 0])), 1);
    });
  });

  it('bits per byte = total nats / (bytes · ln 2)', () => {
    assert.ok(Math.abs(bitsPerByte(8 * Math.LN2, 8) - 1) < 1e-12);
    assert.ok(Math.abs(bitsPerByte(100, 50) - 2 / Math.LN2) < 1e-12);
    assertThrowsNaming(() => bitsPerByte(1, 0), /numBytes/);
  });

  it('NLL by position: mean over sequences at each position, then windowed', () => {
    const ragged = nllByPosition([
      [1, 2, 3],
      [3, 4],
    ]);
    assert.deepEqual(Array.from(ragged.mean), [2, 3, 3]);
    assert.deepEqual(Array.from(ragged.count), [2, 2, 1]);
    tf.tidy(() => {
      const r = nllByPosition(
        tf.tensor2d([
          [1, 2, 3],
          [3, 4, 100],
        ]),
        tf.tensor2d([
          [1, 1, 1],
          [1, 1, 0],
        ]),
      );
      assert.deepEqual(Array.from(r.mean), [2, 3, 3]);
      assertThrowsNaming(() => nllByPosition(tf.ones([2, 3, 1])), /nll: expected rank 2/);
    });
    assert.deepEqual(Array.from(windowedMeans([1, 2, 3, 4, 5], 2)), [1.5, 3.5, 5]);
    // Weighted by counts: a per-token average over the window.
    assert.deepEqual(Array.from(windowedMeans(ragged.mean, 3, ragged.count)), [(2 * 2 + 3 * 2 + 3 * 1) / 5]);
    assertThrowsNaming(() => windowedMeans([1], 0), /window: expected an integer >= 1/);
  });
});
