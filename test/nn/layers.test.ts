import { strict as assert } from 'assert';
import { tf, Rng, matMul2d } from '../../src/backend';
import { Embedding, Linear, LayerNorm } from '../../src/nn';
import { assertClose, assertThrowsNaming } from '../helpers';

describe('nn layers', () => {
  it('Embedding: the one-hot path equals gather, forward and gradient', () => {
    const emb = new Embedding(37, 5, { rng: new Rng(1) });
    tf.tidy(() => {
      const ids = tf.tensor2d([[0, 3, 36], [3, 3, 1]], [2, 3], 'int32');
      const viaGather = () => tf.gather(emb.table, ids.reshape([-1])).reshape([2, 3, 5]);
      assertClose(emb.apply(ids), viaGather(), 1e-7, 0);
      const w = tf.tensor(new Rng(2).normalArray(2 * 3 * 5), [2, 3, 5]);
      const g1 = tf.variableGrads(() => emb.apply(ids).mul(w).sum() as tf.Scalar, [emb.table]).grads[emb.table.name];
      const g2 = tf.variableGrads(() => viaGather().mul(w).sum() as tf.Scalar, [emb.table]).grads[emb.table.name];
      assertClose(g1, g2, 1e-6, 0);
      assertThrowsNaming(() => emb.apply(tf.zeros([2, 2])), /ids: expected an int32 tensor/);
    });
    emb.dispose();
  });

  it('Linear and LayerNorm compute their formulas', () => {
    const lin = new Linear(3, 2, { rng: new Rng(3) });
    const ln = new LayerNorm(4);
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2, 3]]);
      const w = lin.weight.arraySync() as number[][];
      const expected = [0, 1].map((j) => [1, 2, 3].reduce((s, xi, i) => s + xi * w[i][j], 0));
      assertClose(lin.apply(x), expected, 1e-5, 1e-5);
      const y = ln.apply(tf.tensor2d([[1, 2, 3, 6]])).dataSync();
      const mean = 3;
      const sd = Math.sqrt((4 + 1 + 0 + 9) / 4 + 1e-5);
      assertClose(y, [1, 2, 3, 6].map((v) => (v - mean) / sd), 1e-5, 1e-5);
      assertThrowsNaming(() => lin.apply(tf.zeros([1, 4])), /x: expected the feature axis \(axis 1\) to be 3, got 4/);
    });
    lin.dispose();
    ln.dispose();
  });
});

describe('backend matMul2d', () => {
  it('has the gradients of tf.matMul on every backend', () => {
    tf.tidy(() => {
      const r = new Rng(4);
      const a = tf.tensor2d(r.normalArray(5 * 3), [5, 3]);
      const b = tf.tensor2d(r.normalArray(3 * 4), [3, 4]);
      const w = tf.tensor2d(r.normalArray(5 * 4), [5, 4]);
      const mine = tf.grads((x: tf.Tensor, y: tf.Tensor) => matMul2d(x as tf.Tensor2D, y as tf.Tensor2D).mul(w).sum())([a, b]);
      const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D).mul(w).sum())([a, b]);
      assertClose(matMul2d(a, b), tf.matMul(a, b), 1e-6, 1e-6);
      assertClose(mine[0], ref[0], 1e-5, 1e-5);
      assertClose(mine[1], ref[1], 1e-5, 1e-5);
      assertThrowsNaming(() => matMul2d(a, a), /b: expected 3 rows/);
    });
  });
});
