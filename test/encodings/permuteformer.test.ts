import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { PermuteFormer, permutationPowers } from '../../src/encodings/permuteformer';
import { assertClose, assertThrowsNaming, maxAbsDiff, assertNoLeak, randn, scores, repeated } from '../helpers';

/** Rows π^offset .. π^(offset+count−1) as plain arrays. */
const powersOf = (pf: PermuteFormer, count: number, offset = 0) => permutationPowers(pf.pi.dataSync(), count, false, offset).arraySync() as number[][];

describe('encodings/permuteformer', () => {
  it('Π^s equals the s-fold composition of π (idx_0 = identity, idx_(s+1) = idx_s[π])', () => {
    const pf = new PermuteFormer({ headDim: 16, numHeads: 2, rng: new Rng(1) });
    const rows = powersOf(pf, 40);
    assert.equal(pf.pi.dtype, 'int32');
    assert.deepEqual(pf.pi.shape, [16]);
    assert.equal(pf.pi.trainable, false);
    // Any window of positions, however far, is the same closed form (no table of positions).
    assert.deepEqual(powersOf(pf, 5, 35), rows.slice(35, 40));
    const inv = permutationPowers(pf.pi.dataSync(), 40, true).arraySync() as number[][];
    for (let s = 0; s < 40; s++)
      assert.deepEqual(
        rows[s].map((_, i) => rows[s][inv[s][i]]),
        rows[0],
        `π^s ∘ π^(−s) = identity at s = ${s}`,
      );
    assert.deepEqual(
      rows[0],
      Array.from({ length: 16 }, (_, i) => i),
    );
    const pi = rows[1];
    assert.deepEqual(
      [...pi].sort((a, b) => a - b),
      rows[0],
      'row 1 is a permutation',
    );
    assert.notDeepEqual(pi, rows[0], 'π is not the identity');
    let idx = rows[0];
    for (let s = 1; s < 40; s++) {
      idx = pi.map((p) => idx[p]);
      assert.deepEqual(rows[s], idx, `row ${s}`);
    }
    pf.dispose();
  });

  it('permutationPowers: closed form from the cycles, e.g. π = (0 1 2)(3 4)', () => {
    const t = permutationPowers([1, 2, 0, 4, 3], 7);
    assert.deepEqual(t.arraySync(), [
      [0, 1, 2, 3, 4],
      [1, 2, 0, 4, 3],
      [2, 0, 1, 3, 4],
      [0, 1, 2, 4, 3],
      [1, 2, 0, 3, 4],
      [2, 0, 1, 4, 3],
      [0, 1, 2, 3, 4], // order lcm(3, 2) = 6
    ]);
    t.dispose();
    assertThrowsNaming(() => permutationPowers([0, 0, 1], 2), /perm: expected a permutation of 0..2, got 0 at index 1/);
  });

  it('encode applies y[b, s, h, i] = x[b, s, h, π^(offset+s)(i)] with one π shared by all heads, to q and k alike', () => {
    const pf = new PermuteFormer({ headDim: 6, numHeads: 3, rng: new Rng(2) });
    const rows = powersOf(pf, 32);
    tf.tidy(() => {
      const q = randn(new Rng(3), [2, 5, 3, 6]);
      const k = randn(new Rng(4), [2, 5, 3, 6]);
      const [qe, ke] = pf.encode(q, k, { offset: 7 });
      assert.deepEqual(qe.shape, [2, 5, 3, 6]);
      for (const [x, y] of [
        [q, qe],
        [k, ke],
      ] as const) {
        const xs = x.arraySync();
        const ys = y.arraySync();
        for (let b = 0; b < 2; b++)
          for (let s = 0; s < 5; s++)
            for (let h = 0; h < 3; h++) {
              assert.deepEqual(
                ys[b][s][h],
                rows[7 + s].map((j) => xs[b][s][h][j]),
                `b ${b} s ${s} h ${h}`,
              );
            }
      }
    });
    pf.dispose();
  });

  it('without decay, scores depend only on t − s: a shift by c leaves them unchanged; fixed content gives a Toeplitz matrix', () => {
    const pf = new PermuteFormer({ headDim: 16, numHeads: 2, rng: new Rng(5) });
    tf.tidy(() => {
      const q = randn(new Rng(6), [2, 12, 2, 16]);
      const k = randn(new Rng(7), [2, 12, 2, 16]);
      const base = scores(...pf.encode(q, k));
      for (const c of [1, 13, 52]) assertClose(scores(...pf.encode(q, k, { offset: c })), base, 1e-5, 1e-5, `offset ${c}`);
      assert.ok(maxAbsDiff(base, scores(q, k)) > 0.1, 'the encoding changes the scores');

      const L = 12;
      const A = scores(...pf.encode(repeated(new Rng(8), L, 2, 16), repeated(new Rng(9), L, 2, 16))).arraySync()[0];
      for (const Ah of A)
        for (let s = 0; s + 1 < L; s++)
          for (let t = 0; t + 1 < L; t++) {
            assert.ok(Math.abs(Ah[s + 1][t + 1] - Ah[s][t]) < 1e-5, `A[${s + 1}][${t + 1}] vs A[${s}][${t}]`);
          }
    });
    pf.dispose();
  });

  it('scores are periodic in t − s with the order of π, and the encoding preserves norms', () => {
    const D = 6;
    const pf = new PermuteFormer({ headDim: D, numHeads: 1, rng: new Rng(10) });
    const rows = powersOf(pf, 64);
    const order = rows.findIndex((r, s) => s > 0 && r.every((v, i) => v === i));
    assert.ok(order > 1 && order <= 6, `order ${order}`); // lcm of a partition of 6
    tf.tidy(() => {
      const L = order + 3;
      const q = repeated(new Rng(11), L, 1, D);
      const k = repeated(new Rng(12), L, 1, D);
      const [qe, ke] = pf.encode(q, k, { offset: 2 });
      const A = scores(qe, ke).arraySync()[0][0];
      for (let s = 0; s < 3; s++) assert.ok(Math.abs(A[s][s + order] - A[s][s]) < 1e-6);
      assertClose(qe.norm('euclidean', -1), q.norm('euclidean', -1), 1e-6, 1e-6);
    });
    pf.dispose();
  });

  it('decay r_h = sigmoid(3h/H + 2) per head, and it is not applied inside encode', () => {
    const pf = new PermuteFormer({ headDim: 4, numHeads: 8 });
    assertClose(
      pf.decay(),
      [
        0.8807970779778823, 0.9149009549929797, 0.9399133498259924, 0.9579122720843811, 0.9706877692486436, 0.9796676466573412, 0.9859363729567544,
        0.9902915235185259,
      ],
      1e-15,
      0,
    );
    assertClose(new PermuteFormer({ headDim: 4, numHeads: 1 }).decay(), [0.8807970779778823], 1e-15, 0);
    // encode is a pure permutation: every token keeps the multiset of its values (no r^s scaling).
    const far = new PermuteFormer({ headDim: 4, numHeads: 8 });
    tf.tidy(() => {
      const x = randn(new Rng(13), [1, 3, 8, 4]);
      const [y] = far.encode(x, x, { offset: 4000 });
      const sorted = (t: tf.Tensor) => tf.topk(t, 4).values;
      assertClose(sorted(y), sorted(x), 0, 0);
      assert.ok(Array.from(y.dataSync()).every(Number.isFinite));
    });
    pf.dispose();
    far.dispose();
  });

  it('backward sends each gradient to the element it was read from: ∂/∂x_(s, π^s(i)) = g_(s, i)', () => {
    const pf = new PermuteFormer({ headDim: 5, numHeads: 2, rng: new Rng(14) });
    const rows = powersOf(pf, 16);
    tf.tidy(() => {
      const x = randn(new Rng(15), [1, 4, 2, 5]);
      const g = randn(new Rng(16), [1, 4, 2, 5]);
      const [dx] = tf.grads((a: tf.Tensor) =>
        pf
          .encode(a as tf.Tensor4D, a as tf.Tensor4D, { offset: 3 })[0]
          .mul(g)
          .sum(),
      )([x]);
      const d = (dx as tf.Tensor4D).arraySync()[0];
      const gs = g.arraySync()[0];
      for (let s = 0; s < 4; s++)
        for (let h = 0; h < 2; h++)
          for (let i = 0; i < 5; i++) {
            assert.ok(Math.abs(d[s][h][rows[3 + s][i]] - gs[s][h][i]) < 1e-6, `s ${s} h ${h} i ${i}`);
          }
    });
    pf.dispose();
  });

  it('rejects bad input, naming the parameter', () => {
    const pf = new PermuteFormer({ headDim: 4, numHeads: 2 });
    tf.tidy(() => {
      const q = tf.zeros([1, 6, 2, 4]) as tf.Tensor4D;
      assertThrowsNaming(() => pf.encode(q, q, { offset: -1 }), /offset: expected an integer >= 0, got -1/);
      assertThrowsNaming(() => pf.encode(tf.zeros([6, 2, 4]) as unknown as tf.Tensor4D, q), /q: expected rank 4/);
      assertThrowsNaming(() => pf.encode(q, tf.zeros([1, 6, 2]) as unknown as tf.Tensor4D), /k: expected rank 4/);
      assertThrowsNaming(() => pf.encode(q, tf.zeros([2, 6, 2, 4]) as tf.Tensor4D), /k: expected the same shape as q \[1, 6, 2, 4\], got \[2, 6, 2, 4\]/);
      assertThrowsNaming(() => pf.encode(tf.zeros([1, 6, 3, 4]) as tf.Tensor4D, q), /q: expected numHeads \(axis 2\) to be 2, got 3/);
      assertThrowsNaming(() => pf.encode(tf.zeros([1, 6, 2, 5]) as tf.Tensor4D, q), /q: expected headDim \(axis 3\) to be 4, got 5/);
      assertThrowsNaming(() => pf.encode(q, q, { grid: { rows: 2, cols: 3 } }), /grid: PermuteFormer has no 2-D form/);
    });
    assertThrowsNaming(() => new PermuteFormer({ headDim: 4, numHeads: 0 }), /numHeads: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => new PermuteFormer({ headDim: 4.5, numHeads: 2 }), /headDim: expected an integer >= 1, got 4.5/);
    pf.dispose();
  });

  it('does not leak tensors over repeated forward + backward', () => {
    const pf = new PermuteFormer({ headDim: 8, numHeads: 2, rng: new Rng(17) });
    const q = randn(new Rng(18), [2, 10, 2, 8]);
    const k = randn(new Rng(19), [2, 10, 2, 8]);
    const before = tf.memory().numTensors;
    assertNoLeak(() => {
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        scores(...pf.encode(a as tf.Tensor4D, b as tf.Tensor4D, { offset: 5 }))
          .square()
          .mean(),
      )([q, k]);
      tf.dispose(grads);
    });
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([q, k]);
    pf.dispose();
  });
});
