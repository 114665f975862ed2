import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { RoPE, ropeFrequencies, type RopeLayout } from '../../src/encodings/rope';
import { assertClose, assertThrowsNaming, maxAbsDiff, assertNoLeak, randn, scores, repeated } from '../helpers';

const LAYOUTS: RopeLayout[] = ['split-half', 'interleaved'];

describe('encodings/rope', () => {
  it('uses θ_k = 10000^(−2k/d): θ_0 = 1, θ_(d/2−1) = 10000^(−(d−2)/d)', () => {
    const rope = new RoPE({ headDim: 8 });
    assert.equal(rope.frequencies.length, 4);
    assertClose(rope.frequencies, [1, 0.1, 0.01, 0.001], 0, 1e-6);
    assert.equal(ropeFrequencies(64).length, 32);
    assert.equal(ropeFrequencies(64)[0], 1);
    assertClose([ropeFrequencies(64)[31]], [Math.pow(10000, -62 / 64)], 0, 1e-6);
    assertClose(new RoPE({ headDim: 4, base: 100 }).frequencies, [1, 0.1], 0, 1e-6);
  });

  for (const layout of LAYOUTS) {
    describe(`layout ${layout}`, () => {
      it('rotates each pair by s·θ_k (checked against the explicit 2×2 rotation)', () => {
        const rope = new RoPE({ headDim: 4, layout });
        tf.tidy(() => {
          const x = randn(new Rng(1), [1, 6, 1, 4]);
          const [y] = rope.encode(x, x, { offset: 3 });
          const xs = x.arraySync()[0];
          const ys = y.arraySync()[0];
          const pairs =
            layout === 'split-half'
              ? [
                  [0, 2],
                  [1, 3],
                ]
              : [
                  [0, 1],
                  [2, 3],
                ];
          for (let s = 0; s < 6; s++) {
            pairs.forEach(([a, b], kk) => {
              const angle = (s + 3) * rope.frequencies[kk];
              const [c, sn] = [Math.cos(angle), Math.sin(angle)];
              const [xa, xb] = [xs[s][0][a], xs[s][0][b]];
              assert.ok(Math.abs(ys[s][0][a] - (xa * c - xb * sn)) < 1e-5, `pos ${s} dim ${a}`);
              assert.ok(Math.abs(ys[s][0][b] - (xa * sn + xb * c)) < 1e-5, `pos ${s} dim ${b}`);
            });
          }
        });
      });

      it('relativity: shifting every position by c leaves all scores unchanged', () => {
        const rope = new RoPE({ headDim: 16, layout });
        tf.tidy(() => {
          const q = randn(new Rng(2), [2, 9, 3, 16]);
          const k = randn(new Rng(3), [2, 9, 3, 16]);
          const base = scores(...rope.encode(q, k));
          for (const c of [1, 37, 1000]) {
            const shifted = scores(...rope.encode(q, k, { offset: c }));
            // float32 angles c·θ_0 carry ~c·6e-8 rad of rounding, hence the looser tolerance at c = 1000.
            assertClose(shifted, base, c < 100 ? 2e-5 : 1e-3, 1e-4, `offset ${c}`);
          }
          // ...while scores do change with position (the encoding is not the identity).
          assert.ok(maxAbsDiff(base, scores(q, k)) > 0.1);
        });
      });

      it('Toeplitz: with fixed content, A[s, t] depends only on t − s (and is not even in t − s)', () => {
        const rope = new RoPE({ headDim: 8, layout });
        tf.tidy(() => {
          const L = 10;
          const q = repeated(new Rng(4), L, 2, 8);
          const k = repeated(new Rng(5), L, 2, 8);
          const A = scores(...rope.encode(q, k)).arraySync()[0];
          for (const Ah of A) {
            for (let s = 0; s + 1 < L; s++)
              for (let t = 0; t + 1 < L; t++) assert.ok(Math.abs(Ah[s + 1][t + 1] - Ah[s][t]) < 1e-5, `A[${s + 1}][${t + 1}] vs A[${s}][${t}]`);
          }
          // The rotation core has sin terms: A(Δ) ≠ A(−Δ) for generic content.
          assert.ok(Math.abs(A[0][0][3] - A[0][3][0]) > 1e-3);
        });
      });

      it('preserves norms: ‖R_s x‖ = ‖x‖, and position 0 is the identity', () => {
        const rope = new RoPE({ headDim: 12, layout });
        tf.tidy(() => {
          const x = randn(new Rng(6), [2, 7, 2, 12]);
          const [y] = rope.encode(x, x, { offset: 5 });
          assertClose(y.norm('euclidean', -1), x.norm('euclidean', -1), 1e-5, 1e-5);
          const [y0] = rope.encode(x.slice([0, 0, 0, 0], [2, 1, 2, 12]), x.slice([0, 0, 0, 0], [2, 1, 2, 12]));
          assertClose(y0, x.slice([0, 0, 0, 0], [2, 1, 2, 12]), 1e-7, 0);
        });
      });

      it('backward is the transposed rotation: ⟨∂/∂q ⟨R q, g⟩, u⟩ = ⟨g, R u⟩', () => {
        const rope = new RoPE({ headDim: 8, layout });
        tf.tidy(() => {
          const q = randn(new Rng(7), [2, 5, 2, 8]);
          const g = randn(new Rng(8), [2, 5, 2, 8]);
          const u = randn(new Rng(9), [2, 5, 2, 8]);
          const [dq] = tf.grads((x: tf.Tensor) =>
            rope
              .encode(x as tf.Tensor4D, x as tf.Tensor4D, { offset: 2 })[0]
              .mul(g)
              .sum(),
          )([q]);
          const lhs = dq.mul(u).sum().dataSync()[0];
          const rhs = rope.encode(u, u, { offset: 2 })[0].mul(g).sum().dataSync()[0];
          assert.ok(Math.abs(lhs - rhs) < 1e-4, `${lhs} vs ${rhs}`);
        });
      });

      it('2-D grid: scores depend only on (Δrow, Δcol); the first half of the dims moves with the row, the second with the column', () => {
        const rope = new RoPE({ headDim: 8, layout });
        const rows = 3;
        const cols = 4;
        const L = rows * cols;
        tf.tidy(() => {
          const q = repeated(new Rng(10), L, 2, 8);
          const k = repeated(new Rng(11), L, 2, 8);
          const [qe, ke] = rope.encode(q, k, { grid: { rows, cols } });
          const A = scores(qe, ke).arraySync()[0];
          const byOffset = new Map<string, number[]>();
          for (let s = 0; s < L; s++) {
            for (let t = 0; t < L; t++) {
              const key = `${Math.floor(t / cols) - Math.floor(s / cols)},${(t % cols) - (s % cols)}`;
              const seen = byOffset.get(key);
              if (!seen) byOffset.set(key, [A[0][s][t], A[1][s][t]]);
              else for (let h = 0; h < 2; h++) assert.ok(Math.abs(A[h][s][t] - seen[h]) < 1e-5, `(Δrow, Δcol) = (${key}), head ${h}`);
            }
          }
          assert.equal(byOffset.size, (2 * rows - 1) * (2 * cols - 1));
          // 1-D neighbours across a row break, (0, cols−1) → (1, 0), are not at a 1-D offset of 1 in the grid.
          assert.ok(Math.abs(A[0][cols - 1][cols] - A[0][0][1]) > 1e-3);
          // Row half: equal along a row; column half: equal down a column.
          const e = qe.arraySync()[0];
          for (let r = 0; r < rows; r++) for (let c = 1; c < cols; c++) assertClose(e[r * cols + c][0].slice(0, 4), e[r * cols][0].slice(0, 4), 1e-6, 0);
          for (let c = 0; c < cols; c++) for (let r = 1; r < rows; r++) assertClose(e[r * cols + c][0].slice(4), e[c][0].slice(4), 1e-6, 0);
        });
      });
    });
  }

  it('split-half and interleaved agree up to the fixed riffle permutation out[2k] = x[k], out[2k+1] = x[k + d/2]', () => {
    const d = 8;
    const riffle = tf.tensor1d([0, 4, 1, 5, 2, 6, 3, 7], 'int32');
    const split = new RoPE({ headDim: d, layout: 'split-half' });
    const inter = new RoPE({ headDim: d, layout: 'interleaved' });
    tf.tidy(() => {
      const x = randn(new Rng(12), [2, 6, 2, d]);
      const [a] = inter.encode(tf.gather(x, riffle, 3) as tf.Tensor4D, x, { offset: 4 });
      const [b] = split.encode(x, x, { offset: 4 });
      assertClose(a, tf.gather(b, riffle, 3), 1e-6, 0);
      assert.ok(maxAbsDiff(inter.encode(x, x, { offset: 4 })[0], b) > 0.1, 'the layouts differ without the permutation');
    });
    riffle.dispose();
  });

  it('grid with an offset continues the raster (incremental decoding of an image)', () => {
    const rope = new RoPE({ headDim: 8 });
    tf.tidy(() => {
      const x = randn(new Rng(13), [1, 12, 1, 8]);
      const [full] = rope.encode(x, x, { grid: { rows: 3, cols: 4 } });
      const tail = x.slice([0, 5, 0, 0], [1, 7, 1, 8]);
      const [part] = rope.encode(tail, tail, { grid: { rows: 3, cols: 4 }, offset: 5 });
      assertClose(part, full.slice([0, 5, 0, 0], [1, 7, 1, 8]), 1e-6, 0);
    });
  });

  it('rejects bad input, naming the parameter', () => {
    assertThrowsNaming(() => new RoPE({ headDim: 7 }), /headDim: RoPE rotates pairs of dimensions, so expected an even integer, got 7/);
    assertThrowsNaming(() => new RoPE({ headDim: 8, layout: 'zigzag' as RopeLayout }), /layout: expected one of 'split-half', 'interleaved', got "zigzag"/);
    const rope = new RoPE({ headDim: 6 });
    tf.tidy(() => {
      const q = tf.zeros([1, 4, 2, 6]) as tf.Tensor4D;
      assertThrowsNaming(
        () => rope.encode(tf.zeros([4, 2, 6]) as unknown as tf.Tensor4D, q),
        /q: expected rank 4 \(\[batch, length, heads, headDim\]\), got rank 3/,
      );
      assertThrowsNaming(
        () => rope.encode(tf.zeros([1, 4, 2, 8]) as tf.Tensor4D, tf.zeros([1, 4, 2, 8]) as tf.Tensor4D),
        /q: expected headDim \(axis 3\) to be 6, got 8/,
      );
      assertThrowsNaming(() => rope.encode(q, tf.zeros([1, 5, 2, 6]) as tf.Tensor4D), /k: expected the same shape as q \[1, 4, 2, 6\], got \[1, 5, 2, 6\]/);
      assertThrowsNaming(() => rope.encode(q, q, { offset: 1.5 }), /offset: expected an integer >= 0, got 1.5/);
      assertThrowsNaming(() => rope.encode(q, q, { grid: { rows: 2, cols: 2 } }), /headDim: axial 2-D RoPE .* multiple of 4, got 6/);
      const r8 = new RoPE({ headDim: 8 });
      const q8 = tf.zeros([1, 4, 2, 8]) as tf.Tensor4D;
      assertThrowsNaming(
        () => r8.encode(q8, q8, { grid: { rows: 1, cols: 3 } }),
        /q: expected offset \+ length <= grid.rows \* grid.cols = 3, got offset 0 \+ length 4 = 4/,
      );
      assertThrowsNaming(() => r8.encode(q8, q8, { grid: { rows: 0, cols: 3 } }), /grid.rows: expected an integer >= 1, got 0/);
    });
  });

  it('does not leak tensors over repeated forward + backward (1-D and 2-D)', () => {
    const rope = new RoPE({ headDim: 8, layout: 'interleaved' });
    const q = randn(new Rng(14), [2, 6, 2, 8]);
    const k = randn(new Rng(15), [2, 6, 2, 8]);
    assertNoLeak(() => {
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
        const [qe, ke] = rope.encode(a as tf.Tensor4D, b as tf.Tensor4D, { offset: 3 });
        const [qg, kg] = rope.encode(a as tf.Tensor4D, b as tf.Tensor4D, { grid: { rows: 2, cols: 3 } });
        return scores(qe, ke).square().mean().add(scores(qg, kg).mean());
      })([q, k]);
      tf.dispose(grads);
    });
    tf.dispose([q, k]);
  });
});
