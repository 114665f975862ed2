import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { SinusoidalAPE, LearnedAPE } from '../../src/encodings/ape';
import { assertClose, assertThrowsNaming, assertNoLeak } from '../helpers';

const randn = (rng: Rng, shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);

/** Runs `step` once to warm up, then `reps` more times; the live tensor count must not change. */

describe('encodings/ape', () => {
  describe('SinusoidalAPE', () => {
    it('equals the closed form PE[p, 2i] = sin(p / 10000^(2i/model)), PE[p, 2i+1] = cos(same)', () => {
      for (const model of [6, 7]) {
        const ape = new SinusoidalAPE({ model });
        const positions = [0, 1, 5, 37, 1000];
        const table = ape.table(1001);
        const rows = table.arraySync();
        table.dispose();
        for (const p of positions) {
          for (let j = 0; j < model; j++) {
            const angle = p / Math.pow(10000, (2 * Math.floor(j / 2)) / model);
            const want = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
            assert.ok(Math.abs(rows[p][j] - want) < 1e-4, `model ${model}, PE[${p}, ${j}] = ${rows[p][j]}, want ${want}`);
          }
        }
        ape.dispose();
      }
      // Anchors: PE[1, 0] = sin 1, PE[1, 1] = cos 1, PE[0, :] = (0, 1, 0, 1, ...).
      const ape = new SinusoidalAPE({ model: 4 });
      const t = ape.table(2);
      assertClose(t, [0, 1, 0, 1, 0.8414709848, 0.5403023059, 0.0099998333, 0.9999500004], 1e-6, 1e-5);
      t.dispose();
    });

    it('offset slices the table: table(L, o) = rows o..o+L of table(o+L), and apply adds them', () => {
      const ape = new SinusoidalAPE({ model: 8 });
      tf.tidy(() => {
        const full = ape.table(20);
        assertClose(ape.table(5, 15), full.slice([15, 0], [5, 8]), 1e-6, 0);
        const x = randn(new Rng(1), [2, 5, 8]) as tf.Tensor3D;
        const y = ape.apply(x, { offset: 15 });
        assertClose(y.sub(x), tf.stack([full.slice([15, 0], [5, 8]), full.slice([15, 0], [5, 8])]), 1e-6, 0);
        assertClose(ape.apply(x), x.add(full.slice([0, 0], [5, 8])), 1e-6, 0);
      });
    });

    it('has no length limit by default, and an optional maxLength names the length', () => {
      const free = new SinusoidalAPE({ model: 4 });
      const t = free.table(3, 100000);
      assert.deepEqual(t.shape, [3, 4]);
      t.dispose();
      const capped = new SinusoidalAPE({ model: 4, maxLength: 10 });
      tf.tidy(() => {
        assertThrowsNaming(
          () => capped.apply(tf.zeros([1, 8, 4]) as tf.Tensor3D, { offset: 3 }),
          /x: expected offset \+ length <= maxLength = 10, got offset 3 \+ length 8 = 11/,
        );
        assert.deepEqual(capped.apply(tf.zeros([1, 8, 4]) as tf.Tensor3D, { offset: 2 }).shape, [1, 8, 4]);
      });
    });

    it('rejects bad input, naming the parameter', () => {
      const ape = new SinusoidalAPE({ model: 4 });
      tf.tidy(() => {
        assertThrowsNaming(() => ape.apply(tf.zeros([5, 4]) as unknown as tf.Tensor3D), /x: expected rank 3 \(\[batch, length, model\]\), got rank 2/);
        assertThrowsNaming(() => ape.apply(tf.zeros([1, 5, 6]) as tf.Tensor3D), /x: expected the model axis \(axis 2\) to be 4, got 6/);
        assertThrowsNaming(() => ape.apply(tf.zeros([1, 5, 4]) as tf.Tensor3D, { offset: -1 }), /offset: expected an integer >= 0, got -1/);
      });
      assertThrowsNaming(() => new SinusoidalAPE({ model: 0 }), /model: expected an integer >= 1, got 0/);
    });

    it('passes gradients straight through to x, and does not leak tensors over forward + backward', () => {
      const ape = new SinusoidalAPE({ model: 6 });
      const x = randn(new Rng(2), [2, 7, 6]) as tf.Tensor3D;
      const w = randn(new Rng(3), [2, 7, 6]);
      const step = () => {
        const [g] = tf.grads((xx: tf.Tensor) =>
          ape
            .apply(xx as tf.Tensor3D, { offset: 4 })
            .mul(w)
            .sum(),
        )([x]);
        assertClose(g, w, 1e-6, 0);
        g.dispose();
      };
      assertNoLeak(step);
      tf.dispose([x, w]);
    });
  });

  describe('LearnedAPE', () => {
    it('holds a [maxLength, model] table drawn N(0, 0.02²) from the Rng', () => {
      const a = new LearnedAPE({ model: 16, maxLength: 64, rng: new Rng(5) });
      const b = new LearnedAPE({ model: 16, maxLength: 64, rng: new Rng(5) });
      assert.deepEqual(a.weight.shape, [64, 16]);
      assert.deepEqual(
        a.namedVariables().map(([n]) => n),
        ['weight'],
      );
      assert.equal(a.numParameters(), 64 * 16);
      const v = Array.from(a.weight.dataSync());
      assert.deepEqual(v, Array.from(b.weight.dataSync()));
      const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
      assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
      a.dispose();
      b.dispose();
    });

    it('adds rows offset..offset+L of its table, with shape [batch, length, model]', () => {
      const ape = new LearnedAPE({ model: 4, maxLength: 10, rng: new Rng(6) });
      tf.tidy(() => {
        const x = randn(new Rng(7), [3, 4, 4]) as tf.Tensor3D;
        const y = ape.apply(x, { offset: 6 });
        assert.deepEqual(y.shape, [3, 4, 4]);
        const rows = ape.weight.slice([6, 0], [4, 4]);
        assertClose(y, x.add(rows), 1e-6, 0);
        assertClose(ape.table(4, 6), rows, 0, 0);
      });
      ape.dispose();
    });

    it('gradient reaches exactly the rows used: dW[offset+s] = Σ_b dY[b, s], zero elsewhere', () => {
      const ape = new LearnedAPE({ model: 3, maxLength: 8, rng: new Rng(8) });
      tf.tidy(() => {
        const x = randn(new Rng(9), [2, 3, 3]) as tf.Tensor3D;
        const g = randn(new Rng(10), [2, 3, 3]);
        const { grads } = tf.variableGrads(() => ape.apply(x, { offset: 2 }).mul(g).sum() as tf.Scalar);
        const want = tf.concat([tf.zeros([2, 3]), g.sum(0), tf.zeros([3, 3])], 0);
        assertClose(grads[ape.weight.name], want, 1e-6, 0);
      });
      ape.dispose();
    });

    it('throws past maxLength, naming the length', () => {
      const ape = new LearnedAPE({ model: 4, maxLength: 16 });
      tf.tidy(() => {
        assertThrowsNaming(
          () => ape.apply(tf.zeros([1, 20, 4]) as tf.Tensor3D),
          /x: expected offset \+ length <= maxLength = 16, got offset 0 \+ length 20 = 20/,
        );
        assertThrowsNaming(() => ape.apply(tf.zeros([1, 4, 4]) as tf.Tensor3D, { offset: 13 }), /maxLength = 16, got offset 13 \+ length 4 = 17/);
        assertThrowsNaming(() => ape.table(17), /length: expected offset \+ length <= maxLength = 16/);
        assertThrowsNaming(() => ape.apply(tf.zeros([1, 4, 5]) as tf.Tensor3D), /x: expected the model axis \(axis 2\) to be 4, got 5/);
        assertThrowsNaming(() => ape.apply(tf.zeros([4, 4]) as unknown as tf.Tensor3D), /x: expected rank 3/);
      });
      assertThrowsNaming(() => new LearnedAPE({ model: 4, maxLength: 0 }), /maxLength: expected an integer >= 1, got 0/);
      ape.dispose();
    });

    it('does not leak tensors over repeated forward + backward', () => {
      const ape = new LearnedAPE({ model: 8, maxLength: 32, rng: new Rng(11) });
      const x = randn(new Rng(12), [2, 10, 8]) as tf.Tensor3D;
      assertNoLeak(() => {
        const { value, grads } = tf.variableGrads(() => ape.apply(x, { offset: 3 }).square().mean() as tf.Scalar);
        tf.dispose([value, ...Object.values(grads)]);
      });
      x.dispose();
      ape.dispose();
    });
  });
});
