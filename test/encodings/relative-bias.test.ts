import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { RelativePositionBias } from '../../src/encodings/relative-bias';
import { assertClose, assertThrowsNaming, assertNoLeak, maxAbsDiff } from '../helpers';

const clip = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

describe('encodings/relative-bias', () => {
  for (const bidirectional of [true, false]) {
    it(`b[h, s, t] = w[h, clip(t − s)] with t − s clipped to ${bidirectional ? '±(maxDistance−1)' : '[−(maxDistance−1), 0]'}; shape [H, Lq, Lk], any Lq, Lk, offset`, () => {
      const m = 4;
      const rb = new RelativePositionBias({ numHeads: 3, maxDistance: m, bidirectional, rng: new Rng(1) });
      assert.deepEqual(rb.weight.shape, [3, bidirectional ? 2 * m - 1 : m]);
      const w = rb.weight.arraySync() as number[][];
      for (const [Lq, Lk, offset] of [
        [6, 9, 0],
        [9, 4, 0],
        [1, 1, 0],
        [3, 7, 4],
        [5, 2, 11],
      ]) {
        const b = rb.bias(Lq, Lk, { offset });
        assert.deepEqual(b.shape, [3, Lq, Lk]);
        const bs = b.arraySync();
        for (let h = 0; h < 3; h++)
          for (let s = 0; s < Lq; s++)
            for (let t = 0; t < Lk; t++) {
              const rel = clip(t - (offset + s), -(m - 1), bidirectional ? m - 1 : 0);
              assert.equal(bs[h][s][t], w[h][rel + m - 1], `Lq ${Lq} Lk ${Lk} offset ${offset}: h ${h} s ${s} t ${t}`);
            }
        b.dispose();
      }
      rb.dispose();
    });
  }

  it('depends only on the clipped offset: Toeplitz, and constant beyond ±(maxDistance−1)', () => {
    const m = 3;
    const rb = new RelativePositionBias({ numHeads: 2, maxDistance: m, rng: new Rng(2) });
    const b = rb.bias(10, 10);
    const bs = b.arraySync();
    for (const B of bs) {
      for (let s = 0; s + 1 < 10; s++) for (let t = 0; t + 1 < 10; t++) assert.equal(B[s + 1][t + 1], B[s][t]);
      for (let d = m - 1; d < 10; d++) {
        assert.equal(B[0][d], B[0][m - 1], `t − s = ${d} shares the edge bucket`);
        assert.equal(B[d][0], B[m - 1][0], `t − s = ${-d} shares the edge bucket`);
      }
      // Distinct offsets inside the window get distinct (randomly initialised) values.
      const inside = [-2, -1, 0, 1, 2].map((r) => (r >= 0 ? B[0][r] : B[-r][0]));
      assert.equal(new Set(inside).size, 5);
    }
    b.dispose();
    rb.dispose();
  });

  it('offset places the queries: bias(1, Lk, {offset: Lk−1}) is the last row of bias(Lk, Lk)', () => {
    const rb = new RelativePositionBias({ numHeads: 2, maxDistance: 5, bidirectional: false, rng: new Rng(3) });
    tf.tidy(() => {
      const full = rb.bias(8, 8);
      assertClose(rb.bias(1, 8, { offset: 7 }), full.slice([0, 7, 0], [2, 1, 8]), 0, 0);
      assertClose(rb.bias(3, 8, { offset: 5 }), full.slice([0, 5, 0], [2, 3, 8]), 0, 0);
    });
    rb.dispose();
  });

  it('gradient: ∂ Σ b / ∂ w[h, j] counts the (s, t) pairs whose clipped offset falls in bucket j', () => {
    const rb = new RelativePositionBias({ numHeads: 2, maxDistance: 3, rng: new Rng(4) });
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => rb.bias(5, 5).sum() as tf.Scalar);
      // 5×5, offsets −4..4 with counts 1,2,3,4,5,4,3,2,1; clipped to −2..2: [6, 4, 5, 4, 6].
      assertClose(grads[rb.weight.name], [6, 4, 5, 4, 6, 6, 4, 5, 4, 6], 0, 0);
    });
    rb.dispose();
  });

  for (const bidirectional of [true, false]) {
    it(`gradient: ∂⟨b, g⟩ / ∂w[h, j] = Σ g[h, s, t] over the pairs in bucket j (bidirectional ${bidirectional}; Lq > Lk, Lq = 1, offsets)`, () => {
      const m = 3;
      const rb = new RelativePositionBias({ numHeads: 2, maxDistance: m, bidirectional, rng: new Rng(7) });
      const buckets = rb.weight.shape[1] as number;
      for (const [Lq, Lk, offset] of [
        [7, 4, 0],
        [1, 6, 5],
        [4, 9, 2],
        [5, 5, 0],
      ]) {
        const rng = new Rng(Lq * 100 + Lk);
        const g = tf.tensor3d(rng.normalArray(2 * Lq * Lk), [2, Lq, Lk]);
        const { value, grads } = tf.variableGrads(() => rb.bias(Lq, Lk, { offset }).mul(g).sum() as tf.Scalar);
        const gs = g.arraySync();
        const want = Array.from({ length: 2 * buckets }, () => 0);
        for (let h = 0; h < 2; h++)
          for (let s = 0; s < Lq; s++)
            for (let t = 0; t < Lk; t++) {
              want[h * buckets + clip(t - (offset + s), -(m - 1), bidirectional ? m - 1 : 0) + m - 1] += gs[h][s][t];
            }
        assertClose(grads[rb.weight.name], want, 1e-5, 1e-5, `Lq ${Lq} Lk ${Lk} offset ${offset}`);
        tf.dispose([g, value, ...Object.values(grads)]);
      }
      rb.dispose();
    });
  }

  it('std: 0 starts as no bias; the draw follows the Rng', () => {
    const zero = new RelativePositionBias({ numHeads: 2, maxDistance: 3, std: 0 });
    assert.ok(Array.from(zero.weight.dataSync()).every((v) => v === 0));
    const a = new RelativePositionBias({ numHeads: 2, maxDistance: 3, rng: new Rng(9) });
    const b = new RelativePositionBias({ numHeads: 2, maxDistance: 3, rng: new Rng(9) });
    assert.deepEqual(Array.from(a.weight.dataSync()), Array.from(b.weight.dataSync()));
    [zero, a, b].forEach((m) => m.dispose());
  });

  it('a negative offset is a block whose keys start after the first query (blockwise attention): bias(3, 4, {offset: −2}) = bias(5, 6)[:, 0:3, 2:6]', () => {
    const rb = new RelativePositionBias({ numHeads: 2, maxDistance: 3, rng: new Rng(4), std: 1 });
    tf.tidy(() => {
      const block = rb.bias(3, 4, { offset: -2 });
      const big = rb.bias(5, 6).slice([0, 0, 2], [2, 3, 4]);
      assert.ok(maxAbsDiff(block, big) === 0);
    });
    rb.dispose();
  });

  it("biasGradients equals the tape's gradient of the weight, with and without an offset", () => {
    const rb = new RelativePositionBias({ numHeads: 2, maxDistance: 4, rng: new Rng(4), std: 1 });
    const rng = new Rng(9);
    for (const [lq, lk, offset] of [
      [5, 7, 0],
      [3, 8, -4],
      [6, 2, 3],
    ]) {
      tf.tidy(() => {
        const dBias = tf.tensor(rng.normalArray(2 * lq * lk), [2, lq, lk]) as tf.Tensor3D;
        const [mine] = rb.biasGradients(dBias, { offset });
        const tape = tf.variableGrads(() => rb.bias(lq, lk, { offset }).mul(dBias).sum() as tf.Scalar, [rb.weight]).grads[rb.weight.name];
        assert.ok(maxAbsDiff(mine, tape) < 1e-5, `lq ${lq}, lk ${lk}, offset ${offset}: ${maxAbsDiff(mine, tape)}`);
      });
    }
    rb.dispose();
  });

  it('rejects bad input, naming the parameter', () => {
    const rb = new RelativePositionBias({ numHeads: 2, maxDistance: 3 });
    assertThrowsNaming(() => rb.bias(0, 4), /queryLength: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => rb.bias(4, 2.5), /keyLength: expected an integer >= 1, got 2.5/);
    assertThrowsNaming(() => rb.bias(4, 4, { offset: 0.5 }), /offset: expected an integer/);
    assertThrowsNaming(() => rb.biasGradients(tf.zeros([3, 2, 2]) as tf.Tensor3D), /dBias: expected a tensor \[2, queryLength, keyLength\], got \[3, 2, 2\]/);
    assertThrowsNaming(() => new RelativePositionBias({ numHeads: 2, maxDistance: 0 }), /maxDistance: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => new RelativePositionBias({ numHeads: 0, maxDistance: 3 }), /numHeads: expected an integer >= 1, got 0/);
    rb.dispose();
  });

  it('does not leak tensors over repeated forward + backward', () => {
    const rb = new RelativePositionBias({ numHeads: 4, maxDistance: 8, rng: new Rng(5) });
    const logits = tf.tensor3d(new Rng(6).normalArray(4 * 12 * 12), [4, 12, 12]);
    assertNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.logSoftmax(logits.add(rb.bias(12, 12)), -1).mean() as tf.Scalar);
      tf.dispose([value, ...Object.values(grads)]);
    });
    logits.dispose();
    rb.dispose();
  });
});
