import { strict as assert } from 'assert';
import { lmBatch, lmBatches, lmEvalBatches } from '../../src/data';
import { Rng } from '../../src/backend/rng';
import { assertThrowsNaming } from '../helpers';

const stream = Int32Array.from({ length: 1000 }, (_, i) => (i * 37) % 311);

describe('data/batching (LM windows)', () => {
  it('targets are the inputs shifted by one token, windows lie inside the stream', () => {
    const b = lmBatch(stream, { batchSize: 8, length: 50, rng: new Rng(1) });
    assert.deepEqual([b.inputs.length, b.targets.length, b.starts.length], [400, 400, 8]);
    for (let r = 0; r < 8; r++) {
      const s = b.starts[r];
      assert.ok(s >= 0 && s + 51 <= stream.length);
      for (let t = 0; t < 50; t++) {
        assert.equal(b.inputs[r * 50 + t], stream[s + t]);
        assert.equal(b.targets[r * 50 + t], stream[s + t + 1]);
      }
    }
  });

  it('reaches both ends of the stream (start 0 and the last full window)', () => {
    const small = Uint8Array.from({ length: 12 }, (_, i) => i);
    const seen = new Set<number>();
    const rng = new Rng(2);
    for (let k = 0; k < 200; k++) lmBatch(small, { batchSize: 4, length: 9, rng }).starts.forEach((s) => seen.add(s));
    assert.deepEqual([...seen].sort(), [0, 1, 2]);
  });

  it('is deterministic from the rng state, so training resumes on exactly the same batches', () => {
    const rng = new Rng(9);
    const it1 = lmBatches(stream, { batchSize: 4, length: 20, rng });
    it1.next();
    it1.next();
    const saved = rng.getState();
    const next3 = [it1.next().value, it1.next().value, it1.next().value];
    const restored = new Rng(0);
    restored.setState(saved);
    const it2 = lmBatches(stream, { batchSize: 4, length: 20, rng: restored });
    for (const want of next3) assert.deepEqual(it2.next().value, want);
    const fresh = lmBatches(stream, { batchSize: 4, length: 20, rng: new Rng(9) });
    assert.notDeepEqual(Array.from(fresh.next().value.starts), Array.from(next3[0].starts));
  });

  it('evaluation batches tile the stream with consecutive windows, last batch smaller', () => {
    const batches = [...lmEvalBatches(stream, { batchSize: 4, length: 100 })];
    // (1000 - 1) / 100 -> 9 windows: batches of 4, 4, 1
    assert.deepEqual(batches.map((b) => b.batchSize), [4, 4, 1]);
    assert.deepEqual(batches.flatMap((b) => Array.from(b.starts)), [0, 100, 200, 300, 400, 500, 600, 700, 800]);
    assert.equal(batches[2].targets[99], stream[900]);
  });

  it('rejects bad arguments by name', () => {
    const rng = new Rng(0);
    assertThrowsNaming(() => lmBatch(stream, { batchSize: 0, length: 5, rng }), /batchSize: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => lmBatch(stream, { batchSize: 2, length: 1000, rng }), /length: expected at most stream\.length - 1 = 999, got 1000/);
    assertThrowsNaming(() => lmBatch([1, 2, 3] as unknown as Int32Array, { batchSize: 1, length: 1, rng }), /stream: expected a Uint8Array or Int32Array/);
    assertThrowsNaming(() => lmBatch(stream, { batchSize: 1, length: 5, rng: {} as Rng }), /rng: expected an Rng/);
  });
});
