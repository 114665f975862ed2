import { strict as assert } from 'assert';
import { tf, Rng, useNative } from '../../src/backend';
import {
  Lrpe,
  LRPE_CORES,
  LRPE_PS,
  dctMatrix,
  initialThetas,
  permutationSpectrum,
  lrpeReference,
  lrpeMatrices,
  type LrpeCore,
  type LrpeOptions,
  type LrpeP,
} from '../../src/encodings/lrpe';
import { swapPairs } from '../../src/encodings/lrpe/ops';
import { canFuseLrpe } from '../../src/encodings/lrpe/kernels';
import { assertClose, assertThrowsNaming, maxAbsDiff, assertNoLeak, itOnKernelPaths } from '../helpers';

// ---------------------------------------------------------------------------------------------
// Helpers (no tensors at module scope: the backend is chosen in a root hook).

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const randn = (rng: Rng, shape: number[]): tf.Tensor4D => tf.tensor(rng.normalArray(size(shape)), shape as tf.Tensor4D['shape']);
/** Post-feature-map inputs as in the paper: φ(x) = 1 + elu(x) > 0. */
const features = (rng: Rng, shape: number[]) => tf.tidy(() => tf.elu(randn(rng, shape)).add(1) as tf.Tensor4D);
/** The same content vector at every position: [1, L, H, D]. */
const repeated = (rng: Rng, L: number, H: number, D: number) => tf.tidy(() => tf.tile(features(rng, [1, 1, H, D]), [1, L, 1, 1]) as tf.Tensor4D);

/** Per-head score matrices A[b, h, s, t] = q̃_s · k̃_t. q, k: [B, L, H, F] -> [B, H, L, L]. */
const scores = (q: tf.Tensor4D, k: tf.Tensor4D) => tf.tidy(() => tf.matMul(q.transpose([0, 2, 1, 3]), k.transpose([0, 2, 3, 1])) as tf.Tensor4D);

const make = (o: Partial<LrpeOptions> & { core: LrpeCore }, seed = 0) => new Lrpe({ headDim: 8, rng: new Rng(seed), ...o });

/** Runs fn with a fresh module and disposes the module afterwards. */
function withLrpe<T>(o: Partial<LrpeOptions> & { core: LrpeCore }, fn: (m: Lrpe) => T, seed = 0): T {
  const m = make(o, seed);
  try {
    return fn(m);
  } finally {
    m.dispose();
  }
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const matVec = (m: number[][], x: ArrayLike<number>) => m.map((row) => dot(row, x));
const norm = (x: ArrayLike<number>) => Math.sqrt(dot(x, x));
const variable = (m: Lrpe, name: string) => {
  const hit = m.namedVariables().find(([n]) => n === name);
  assert.ok(hit, `variable ${name}`);
  return hit![1];
};

/** Determinant by Gaussian elimination with partial pivoting (float64). */
function det(a: number[][]): number {
  const m = a.map((r) => r.slice());
  const n = m.length;
  let d = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    if (m[p][c] === 0) return 0;
    if (p !== c) {
      [m[p], m[c]] = [m[c], m[p]];
      d = -d;
    }
    d *= m[c][c];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k < n; k++) m[r][k] -= f * m[c][k];
    }
  }
  return d;
}

/** JS reference of the interleaved pair rotation by per-pair angles (features beyond 2*angles.length untouched). */
function rotateRef(x: number[], angles: number[]): number[] {
  const y = x.slice();
  angles.forEach((a, k) => {
    const [u, w] = [x[2 * k], x[2 * k + 1]];
    y[2 * k] = u * Math.cos(a) - w * Math.sin(a);
    y[2 * k + 1] = w * Math.cos(a) + u * Math.sin(a);
  });
  return y;
}

const ALL_P: LrpeP[] = [...LRPE_PS];
const ALL_CORES: LrpeCore[] = [...LRPE_CORES];

// ---------------------------------------------------------------------------------------------

describe('encodings/lrpe', () => {
  it('swapPairs turns every pair, (x0, x1, ...) -> (−x1, x0, ...), with the opposite turn as its gradient', () => {
    tf.tidy(() => {
      const x = tf.tensor([1, 2, 3, 4, 5, 6], [1, 3, 2]);
      assert.deepEqual(Array.from(swapPairs(x).dataSync()), [-2, 1, -4, 3, -6, 5]);
      const dy = tf.tensor([1, 10, 100, 1000, 7, 8], [1, 3, 2]);
      const g = tf.grad((t: tf.Tensor) => swapPairs(t).mul(dy).sum())(x);
      assert.deepEqual(Array.from(g.dataSync()), [10, -1, 1000, -100, 8, -7]);
    });
    assertThrowsNaming(() => swapPairs(tf.zeros([3])), /^x: expected an even number/);
  });

  it('θ initial values: rotation θ_0 = 1, θ_(d/2−1) = 10000^(−(d−2)/d); unitary has d of them; mixed uses e = d/2 (§5.11)', () => {
    const d = 8;
    assertClose(
      withLrpe({ core: 'rotation' }, (m) => m.thetas()),
      [1, 0.1, 0.01, 0.001],
      0,
      1e-6,
    );
    const rot64 = withLrpe({ core: 'rotation', headDim: 64 }, (m) => m.thetas());
    assert.equal(rot64.length, 32);
    assertClose([rot64[0], rot64[31]], [1, Math.pow(10000, -62 / 64)], 0, 1e-6);
    // Odd d: e = d − 1.
    assertClose(
      withLrpe({ core: 'rotation', headDim: 9 }, (m) => m.thetas()),
      [1, 0.1, 0.01, 0.001],
      0,
      1e-6,
    );
    // Unitary: θ_k = 10000^(−2k/d), k < d; θ_(d−1) = 10000^(−2(d−1)/d).
    const un = withLrpe({ core: 'unitary' }, (m) => m.thetas());
    assert.equal(un.length, d);
    assertClose(
      un,
      Array.from({ length: d }, (_, k) => Math.pow(10000, (-2 * k) / d)),
      0,
      1e-6,
    );
    assertClose([un[d - 1]], [Math.pow(10000, (-2 * (d - 1)) / d)], 0, 1e-5);
    // Mixed: e = d/2 in the exponent (d = 8: e = 4 -> θ = [1, 10000^(−1/2)]); d = 6: floor(3) bumped to 4.
    assertClose(
      withLrpe({ core: 'mixed' }, (m) => m.thetas()),
      [1, 0.01],
      0,
      1e-6,
    );
    assertClose(
      withLrpe({ core: 'mixed', headDim: 6 }, (m) => m.thetas()),
      [1, 0.01],
      0,
      1e-6,
    );
    // Learned θ starts at the fixed values; base is honoured; permutation has none.
    assertClose(
      withLrpe({ core: 'rotation', theta: 'learned' }, (m) => m.thetas()),
      [1, 0.1, 0.01, 0.001],
      0,
      1e-6,
    );
    assertClose(
      withLrpe({ core: 'unitary', headDim: 4, base: 100 }, (m) => m.thetas()),
      [1, 0.1, 0.01, 0.001],
      0,
      1e-6,
    );
    assert.equal(withLrpe({ core: 'permutation' }, (m) => m.thetas()).length, 0);
    assertClose(initialThetas('rotation', 4, 10000), [1, 0.01], 0, 1e-6);
  });

  it('outputDim is 2·D for the unitary core and D otherwise; encode returns that size', () => {
    for (const core of ALL_CORES) {
      withLrpe({ core }, (m) => {
        const F = core === 'unitary' ? 16 : 8;
        assert.equal(m.outputDim(8), F);
        assert.equal(m.kind, 'lrpe');
        tf.tidy(() => {
          const [qe, ke] = m.encode(features(new Rng(1), [2, 5, 3, 8]), features(new Rng(2), [2, 5, 3, 8]));
          assert.deepEqual(qe.shape, [2, 5, 3, F]);
          assert.deepEqual(ke.shape, [2, 5, 3, F]);
        });
      });
    }
  });

  describe('shift invariance: adding c to every position leaves the score matrix unchanged (§5.1)', () => {
    for (const core of ALL_CORES) {
      for (const p of ALL_P) {
        it(`${core} core, P = ${p}`, () => {
          withLrpe({ core, p }, (m) => {
            tf.tidy(() => {
              const rng = new Rng(11);
              const q = features(rng, [2, 9, 2, 8]);
              const k = features(rng, [2, 9, 2, 8]);
              const c = 1 + rng.int(150);
              const a0 = scores(...m.encode(q, k));
              const ac = scores(...m.encode(q, k, { offset: c }));
              assertClose(ac, a0, 2e-4, 2e-4, `offset ${c}`);
              // The encoding is not the identity: scores differ from the plain q·k (a position 0 token
              // keeps its score with itself, so compare the whole matrices).
              assert.ok(maxAbsDiff(a0, scores(q, k)) > 1e-2, 'LRPE changed the scores');
            });
          });
        });
      }
    }

    it('odd headDim 7 (rotation and mixed leave unpaired features untouched), every core', () => {
      for (const core of ALL_CORES) {
        withLrpe({ core, headDim: 7 }, (m) => {
          tf.tidy(() => {
            const rng = new Rng(12);
            const q = features(rng, [1, 8, 2, 7]);
            const k = features(rng, [1, 8, 2, 7]);
            assertClose(scores(...m.encode(q, k, { offset: 37 })), scores(...m.encode(q, k)), 2e-4, 2e-4, core);
          });
        });
      }
    });
  });

  it('odd headDim: rotation leaves the last feature untouched; mixed rotates only the first e features', () => {
    tf.tidy(() => {
      const x = randn(new Rng(3), [1, 6, 1, 7]);
      const xs = x.arraySync()[0].map((r) => r[0]);
      withLrpe({ core: 'rotation', p: 'identity', headDim: 7 }, (m) => {
        const ys = m
          .transform(x, { offset: 2 })
          .arraySync()[0]
          .map((r) => r[0]);
        const th = Array.from(m.thetas()); // e = 6: 3 pairs
        assert.equal(th.length, 3);
        for (let s = 0; s < 6; s++)
          assertClose(
            ys[s],
            rotateRef(
              xs[s],
              th.map((t) => (s + 2) * t),
            ),
            1e-5,
            1e-4,
            `pos ${s}`,
          );
      });
      withLrpe({ core: 'mixed', p: 'identity', headDim: 7 }, (m) => {
        const ys = m
          .transform(x, { offset: 2 })
          .arraySync()[0]
          .map((r) => r[0]);
        const th = Array.from(m.thetas()); // e = floor(7/2) = 3 -> 4: 2 pairs, 3 features untouched
        assert.equal(th.length, 2);
        for (let s = 0; s < 6; s++) {
          assertClose(
            ys[s],
            rotateRef(
              xs[s],
              th.map((t) => (s + 2) * t),
            ),
            1e-5,
            1e-4,
            `pos ${s}`,
          );
          assertClose(ys[s].slice(4), xs[s].slice(4), 0, 0, `pos ${s} identity block`);
        }
      });
    });
  });

  it('offset-only dependence: constant content gives a Toeplitz score matrix A[s, t] = a(t − s) (§5.2)', () => {
    const L = 10;
    for (const core of ALL_CORES) {
      withLrpe({ core }, (m) => {
        tf.tidy(() => {
          const rng = new Rng(21);
          const a = scores(...m.encode(repeated(rng, L, 1, 8), repeated(rng, L, 1, 8))).arraySync()[0][0];
          let spread = 0;
          for (let s = 0; s + 1 < L; s++) {
            for (let t = 0; t + 1 < L; t++) {
              assert.ok(Math.abs(a[s + 1][t + 1] - a[s][t]) < 2e-4, `${core}: A[${s + 1}, ${t + 1}] = ${a[s + 1][t + 1]} vs A[${s}, ${t}] = ${a[s][t]}`);
            }
            spread = Math.max(spread, Math.abs(a[0][s + 1] - a[0][0]));
          }
          assert.ok(spread > 1e-2, `${core}: the score varies with t − s (spread ${spread})`);
        });
      });
    }
  });

  it('norm preservation: ‖M_s x‖ = ‖x‖ for every core × P, odd headDim and 2-D grid (§5.3)', () => {
    const cases: Array<[Partial<LrpeOptions> & { core: LrpeCore }, { grid?: { rows: number; cols: number }; offset?: number; inputMap?: 'elu+1' }]> = [];
    for (const core of ALL_CORES) for (const p of ALL_P) cases.push([{ core, p }, { offset: 5 }]);
    for (const core of ALL_CORES) cases.push([{ core, headDim: 7, p: 'householder-learned' }, { offset: 3 }]);
    for (const core of ['rotation', 'mixed', 'unitary'] as const) cases.push([{ core, p: 'dct', headDim: 12 }, { grid: { rows: 3, cols: 4 } }]);
    for (const [o, enc] of cases) {
      withLrpe(o, (m) => {
        tf.tidy(() => {
          const D = m.headDim;
          const x = randn(new Rng(31), [2, 12, 2, D]);
          const y = m.transform(x, enc);
          assertClose(y.norm('euclidean', -1), x.norm('euclidean', -1), 1e-5, 1e-4, `${o.core}/${o.p}/D=${D}`);
        });
      });
    }
  });

  it('unitary closed form: q̃_s·k̃_t = Σ_k (Pq)_k (Pk)_k cos((t−s)θ_k), even in t − s (rotation is not) (§5.5)', () => {
    const L = 7;
    const D = 6;
    withLrpe({ core: 'unitary', headDim: D }, (m) => {
      tf.tidy(() => {
        const rng = new Rng(41);
        const q = features(rng, [1, L, 1, D]);
        const k = features(rng, [1, L, 1, D]);
        const a = scores(...m.encode(q, k, { offset: 4 })).arraySync()[0][0];
        const P = m.pMatrix().arraySync();
        const th = m.thetas();
        const qs = q.arraySync()[0].map((r) => matVec(P, r[0]));
        const ks = k.arraySync()[0].map((r) => matVec(P, r[0]));
        for (let s = 0; s < L; s++) {
          for (let t = 0; t < L; t++) {
            let want = 0;
            for (let j = 0; j < D; j++) want += qs[s][j] * ks[t][j] * Math.cos((t - s) * th[j]);
            assert.ok(Math.abs(a[s][t] - want) < 1e-4, `A[${s}, ${t}] = ${a[s][t]}, closed form ${want}`);
          }
        }
        // Even in t − s for constant content.
        const c = scores(...m.encode(repeated(rng, L, 1, D), repeated(rng, L, 1, D))).arraySync()[0][0];
        for (let dlt = 1; dlt < L; dlt++) assert.ok(Math.abs(c[0][dlt] - c[dlt][0]) < 1e-4, `a(${dlt}) = a(−${dlt})`);
      });
    });
    withLrpe({ core: 'rotation', headDim: D }, (m) => {
      tf.tidy(() => {
        const rng = new Rng(42);
        const c = scores(...m.encode(repeated(rng, L, 1, D), repeated(rng, L, 1, D))).arraySync()[0][0];
        assert.ok(Math.abs(c[0][2] - c[2][0]) > 1e-3, `rotation: a(2) = ${c[0][2]} should differ from a(−2) = ${c[2][0]}`);
      });
    });
  });

  it('P-placement invariance: M_s = P^T Λ^(s) P gives the same scores as Λ^(s) P (§5.6)', () => {
    for (const [core, p] of [
      ['rotation', 'householder'],
      ['mixed', 'dct'],
      ['permutation', 'odd-even'],
    ] as Array<[LrpeCore, LrpeP]>) {
      withLrpe({ core, p }, (m) => {
        tf.tidy(() => {
          const rng = new Rng(51);
          const [qe, ke] = m.encode(features(rng, [1, 6, 2, 8]), features(rng, [1, 6, 2, 8]), { offset: 2 });
          const P = m.pMatrix();
          const back = (x: tf.Tensor4D) => tf.matMul(x.reshape([-1, 8]), P).reshape(x.shape) as tf.Tensor4D; // rows x -> P^T x
          assertClose(scores(back(qe), back(ke)), scores(qe, ke), 1e-4, 1e-4, `${core}/${p}`);
          assert.ok(maxAbsDiff(back(qe), qe) > 1e-2, 'P^T changed the vectors');
        });
      });
    }
  });

  it('position 0: M_0 = P, so the first token is P x (unitary: [P x, 0]) (§5.10)', () => {
    for (const core of ALL_CORES) {
      for (const p of ALL_P) {
        withLrpe({ core, p }, (m) => {
          tf.tidy(() => {
            const x = randn(new Rng(61), [2, 3, 2, 8]);
            const y = m.transform(x).slice([0, 0, 0, 0], [2, 1, 2, m.outputDim(8)]);
            const px = tf.matMul(x.slice([0, 0, 0, 0], [2, 1, 2, 8]).reshape([-1, 8]), m.pMatrix(), false, true).reshape([2, 1, 2, 8]);
            const want = core === 'unitary' ? tf.concat([px, tf.zerosLike(px)], 3) : px;
            assertClose(y, want, 1e-5, 1e-4, `${core}/${p}`);
          });
        });
      }
    }
  });

  it('θ = 0 reduces LRPE to plain linear attention: scores (Pq)·(Pk) = q·k at every position (§5.10)', () => {
    for (const core of ['rotation', 'mixed', 'unitary'] as const) {
      withLrpe({ core, p: 'householder', theta: 'learned' }, (m) => {
        const theta = variable(m, 'theta');
        theta.assign(tf.zerosLike(theta));
        tf.tidy(() => {
          const rng = new Rng(62);
          const q = features(rng, [1, 6, 2, 8]);
          const k = features(rng, [1, 6, 2, 8]);
          assertClose(scores(...m.encode(q, k, { offset: 9 })), scores(q, k), 1e-4, 1e-4, core);
        });
      });
    }
  });

  it('zero-step permutation: the diagonal scores are the plain q_s·k_s (Π^0 = I) (§5.10)', () => {
    withLrpe({ core: 'permutation', p: 'householder' }, (m) => {
      tf.tidy(() => {
        const rng = new Rng(63);
        const q = features(rng, [1, 6, 1, 8]);
        const k = features(rng, [1, 6, 1, 8]);
        const a = scores(...m.encode(q, k, { offset: 20 })).arraySync()[0][0];
        const plain = scores(q, k).arraySync()[0][0];
        for (let s = 0; s < 6; s++) assert.ok(Math.abs(a[s][s] - plain[s][s]) < 1e-4, `A[${s}, ${s}]`);
        assert.ok(Math.abs(a[0][1] - plain[0][1]) > 1e-3, 'off-diagonal scores are permuted');
      });
    });
  });

  it('unitary with every θ_k = π/(2M) is cosFormer reweighting: score = q·k cos((t−s)π/(2M)) (§5.10)', () => {
    const M = 6;
    withLrpe({ core: 'unitary', p: 'householder', theta: 'learned' }, (m) => {
      const theta = variable(m, 'theta');
      theta.assign(tf.fill([8], Math.PI / (2 * M)));
      tf.tidy(() => {
        const rng = new Rng(64);
        const q = features(rng, [1, M, 1, 8]);
        const k = features(rng, [1, M, 1, 8]);
        const a = scores(...m.encode(q, k)).arraySync()[0][0];
        const plain = scores(q, k).arraySync()[0][0];
        for (let s = 0; s < M; s++) {
          for (let t = 0; t < M; t++) {
            const want = plain[s][t] * Math.cos(((t - s) * Math.PI) / (2 * M));
            assert.ok(Math.abs(a[s][t] - want) < 1e-4, `A[${s}, ${t}] = ${a[s][t]} vs ${want}`);
          }
        }
      });
    });
  });

  it('Householder: P = P^T, P² = I, P v = −v, P u = u for u ⟂ v, det P = −1 (§5.7)', () => {
    withLrpe({ core: 'rotation', p: 'householder', headDim: 6 }, (m) => {
      const v = Array.from(variable(m, 'v').dataSync());
      assert.ok(Math.abs(norm(v) - 1) < 1e-6, 'the frozen v is a unit vector');
      const P = tf.tidy(() => m.pMatrix().arraySync());
      const D = 6;
      for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) assert.ok(Math.abs(P[i][j] - P[j][i]) < 1e-6, `P[${i}][${j}] = P[${j}][${i}]`);
      const P2 = P.map((row) =>
        P[0].map((_, j) =>
          dot(
            row,
            P.map((r) => r[j]),
          ),
        ),
      );
      for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) assert.ok(Math.abs(P2[i][j] - (i === j ? 1 : 0)) < 1e-5, `P²[${i}][${j}]`);
      assertClose(
        matVec(P, v),
        v.map((x) => -x),
        1e-5,
        1e-5,
        'P v = −v',
      );
      const w = new Rng(5).normalArray(D);
      const u = Array.from(w, (x, i) => x - dot(w, v) * v[i]); // u ⟂ v
      assertClose(matVec(P, u), u, 1e-5, 1e-5, 'P u = u');
      assert.ok(Math.abs(det(P) + 1) < 1e-5, `det P = ${det(P)}`);
      // The P step applied by transform is this matrix (position 0: M_0 = P).
      tf.tidy(() => {
        const x = randn(new Rng(6), [1, 1, 1, D]);
        assertClose(m.transform(x).dataSync(), matVec(P, x.dataSync()), 1e-5, 1e-4, 'transform at position 0');
      });
    });
  });

  it('learned Householder: v / (‖v‖ + 1e−6) gives an orthogonal reflection for any v ≠ 0 (§5.7)', () => {
    withLrpe({ core: 'rotation', p: 'householder-learned', headDim: 6 }, (m) => {
      const v = variable(m, 'v');
      assert.ok(v.trainable);
      for (const scale of [1, 37, 0.05]) {
        tf.tidy(() => v.assign(tf.tensor1d(new Rng(7).normalArray(6)).mul(scale)));
        const raw = Array.from(v.dataSync());
        const P = tf.tidy(() => m.pMatrix().arraySync());
        const PPt = P.map((row) => P.map((r) => dot(row, r)));
        for (let i = 0; i < 6; i++)
          for (let j = 0; j < 6; j++) assert.ok(Math.abs(PPt[i][j] - (i === j ? 1 : 0)) < 1e-4, `scale ${scale}: (P P^T)[${i}][${j}]`);
        assertClose(
          matVec(P, raw),
          raw.map((x) => -x),
          1e-4,
          1e-4,
          `scale ${scale}: P v = −v`,
        );
      }
    });
  });

  it('DCT: C C^T = I and C equals the orthonormal DCT-II formula (§5.8)', () => {
    for (const d of [8, 5]) {
      const C = dctMatrix(d);
      for (let k = 0; k < d; k++) {
        for (let n = 0; n < d; n++) {
          const want = Math.sqrt((k === 0 ? 1 : 2) / d) * Math.cos((Math.PI * (2 * n + 1) * k) / (2 * d));
          assert.ok(Math.abs(C[k * d + n] - want) < 1e-6, `C[${k}][${n}]`);
          let cct = 0;
          for (let j = 0; j < d; j++) cct += C[k * d + j] * C[n * d + j];
          assert.ok(Math.abs(cct - (k === n ? 1 : 0)) < 1e-6, `(C C^T)[${k}][${n}] = ${cct}`);
        }
      }
    }
    // The module's P is C, and a constant vector goes to [√d, 0, ..., 0].
    withLrpe({ core: 'rotation', p: 'dct' }, (m) => {
      tf.tidy(() => {
        assertClose(m.pMatrix().dataSync(), dctMatrix(8), 1e-7, 0, 'pMatrix');
        assertClose(m.transform(tf.ones([1, 1, 1, 8]) as tf.Tensor4D).dataSync(), [Math.sqrt(8), 0, 0, 0, 0, 0, 0, 0], 1e-5, 1e-5, 'DCT of ones');
      });
    });
  });

  it('odd-even P + interleaved rotation equals split-half (GPT-NeoX) RoPE (§5.9)', () => {
    const D = 8;
    const h = D / 2;
    const L = 7;
    const offset = 3;
    const th = Array.from({ length: h }, (_, k) => Math.pow(10000, (-2 * k) / D));
    const splitHalfRope = (x: number[], s: number) => {
      const y = x.slice();
      for (let k = 0; k < h; k++) {
        const [c, sn] = [Math.cos(s * th[k]), Math.sin(s * th[k])];
        y[k] = x[k] * c - x[k + h] * sn;
        y[k + h] = x[k] * sn + x[k + h] * c;
      }
      return y;
    };
    withLrpe({ core: 'rotation', p: 'odd-even', headDim: D }, (m) => {
      tf.tidy(() => {
        const rng = new Rng(71);
        const q = features(rng, [1, L, 1, D]);
        const k = features(rng, [1, L, 1, D]);
        const [qe, ke] = m.encode(q, k, { offset });
        const qr = q.arraySync()[0].map((r, s) => splitHalfRope(r[0], s + offset));
        const kr = k.arraySync()[0].map((r, s) => splitHalfRope(r[0], s + offset));
        const a = scores(qe, ke).arraySync()[0][0];
        for (let s = 0; s < L; s++) for (let t = 0; t < L; t++) assert.ok(Math.abs(a[s][t] - dot(qr[s], kr[t])) < 1e-4, `A[${s}, ${t}]`);
        // The vectors themselves are the riffled split-half outputs.
        const qv = qe.arraySync()[0].map((r) => r[0]);
        for (let s = 0; s < L; s++) {
          const riffled = Array.from({ length: D }, (_, j) => (j % 2 === 0 ? qr[s][j / 2] : qr[s][h + (j - 1) / 2]));
          assertClose(qv[s], riffled, 1e-5, 1e-4, `pos ${s}`);
        }
      });
    });
  });

  describe('permutation core (§5.12)', () => {
    const D = 6;
    const piOf = (m: Lrpe) => Array.from(variable(m, 'permutation').dataSync());
    const applyPi = (x: number[], pi: number[], times: number) => {
      let y = x.slice();
      for (let i = 0; i < times; i++) y = pi.map((j) => y[j]); // Π y = y[π]
      return y;
    };
    const orderOf = (pi: number[]) => {
      let id = pi.map((_, i) => i);
      let n = 0;
      do {
        id = applyPi(id, pi, 1);
        n++;
      } while (id.some((v, i) => v !== i));
      return n;
    };

    it('Π^s x equals the s-fold composition of π (even and odd headDim)', () => {
      for (const d of [D, 7]) {
        withLrpe(
          { core: 'permutation', p: 'identity', headDim: d },
          (m) => {
            const pi = piOf(m);
            assert.deepEqual(
              [...pi].sort(),
              Array.from({ length: d }, (_, i) => i),
              'π is a permutation',
            );
            tf.tidy(() => {
              const x = randn(new Rng(81), [2, 30, 2, d]);
              const ys = m.transform(x, { offset: 7 }).arraySync();
              const xs = x.arraySync();
              for (let b = 0; b < 2; b++) {
                for (let l = 0; l < 30; l++) {
                  for (let hh = 0; hh < 2; hh++)
                    assertClose(ys[b][l][hh], applyPi(xs[b][l][hh], pi, l + 7), 1e-5, 1e-5, `d ${d} b ${b} pos ${l + 7} head ${hh}`);
                }
              }
            });
          },
          3,
        );
      }
    });

    it('real Schur form: B is orthogonal and B^T R(s) B = Π^s, with fixed points, 2-cycles (eigenvalue −1) and 3-cycles', () => {
      const pi = [1, 0, 3, 4, 2, 5, 7, 6]; // cycles (0 1), (2 3 4), (5), (6 7)
      const d = pi.length;
      const { basis, frequency, period } = permutationSpectrum(pi);
      const B = Array.from({ length: d }, (_, r) => Array.from(basis.slice(r * d, (r + 1) * d)));
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) assert.ok(Math.abs(dot(B[i], B[j]) - (i === j ? 1 : 0)) < 1e-6, `(B B^T)[${i}][${j}]`);
      const x = Array.from(new Rng(83).normalArray(d));
      for (let s = 0; s < 8; s++) {
        const z = matVec(B, x);
        const angle = (r: number) => (2 * Math.PI * ((s * frequency[r]) % period[r])) / period[r];
        const turned = z.map((_, r) =>
          r % 2 === 0 ? z[r] * Math.cos(angle(r)) - z[r + 1] * Math.sin(angle(r)) : z[r] * Math.cos(angle(r)) + z[r - 1] * Math.sin(angle(r)),
        );
        // Non-turning components (k = 0 or k = m/2) have sin = 0 exactly; the formula above only pairs turning ones.
        const y = B[0].map((_, j) => B.reduce((acc, row, r) => acc + row[j] * turned[r], 0));
        assertClose(y, applyPi(x, pi, s), 1e-5, 1e-5, `s = ${s}`);
      }
      assert.deepEqual(Array.from(period).sort(), [1, 2, 2, 2, 2, 3, 3, 3], 'one component per feature, with its cycle length');
    });

    it('scores equal q^T Π^(t−s) k and are periodic in the order of π', () => {
      withLrpe(
        { core: 'permutation', p: 'identity', headDim: D },
        (m) => {
          const pi = piOf(m);
          const order = orderOf(pi);
          assert.ok(order >= 2 && order <= 6, `order ${order}`);
          const L = order + 5;
          tf.tidy(() => {
            const rng = new Rng(82);
            const q = repeated(rng, L, 1, D);
            const k = repeated(rng, L, 1, D);
            const a = scores(...m.encode(q, k)).arraySync()[0][0];
            const qv = Array.from(q.dataSync().slice(0, D));
            const kv = Array.from(k.dataSync().slice(0, D));
            for (let s = 0; s < L; s++) {
              for (let t = 0; t < L; t++) {
                const steps = (((t - s) % order) + order) % order;
                assert.ok(Math.abs(a[s][t] - dot(qv, applyPi(kv, pi, steps))) < 1e-4, `A[${s}, ${t}]`);
              }
            }
            for (let t = 0; t + order < L; t++) assert.ok(Math.abs(a[0][t + order] - a[0][t]) < 1e-5, `a(${t} + order) = a(${t})`);
            const y = m.transform(repeated(rng, order + 1, 1, D)).arraySync()[0]; // same x at every position
            assertClose(y[order][0], y[0][0], 1e-5, 1e-5, 'Π^order = I');
            assert.ok(maxAbsDiff(y[1][0], y[0][0]) > 1e-3, 'Π ≠ I');
          });
        },
        4,
      );
    });

    it('innerProductsOnly: the same scores, the vectors in the basis B (its last product left out)', () => {
      withLrpe({ core: 'permutation', p: 'householder', headDim: 16 }, (m) => {
        tf.tidy(() => {
          const rng = new Rng(83);
          const q = randn(rng, [2, 9, 2, 16]);
          const k = randn(rng, [2, 9, 2, 16]);
          const opts = { offset: 3, inputMap: 'elu+1' as const };
          const exact = m.encode(q, k, opts);
          const fast = m.encode(q, k, { ...opts, innerProductsOnly: true });
          assertClose(scores(...fast).dataSync(), scores(...exact).dataSync(), 1e-5, 1e-4, 'q̃_s·k̃_t');
          const basis = tf.tensor2d(permutationSpectrum(piOf(m)).basis, [16, 16]);
          const rows = (x: tf.Tensor4D) => x.reshape([-1, 16]) as tf.Tensor2D;
          if (canFuseLrpe()) {
            // The fused path leaves out Bᵀ: fast = exact Bᵀ, as rows.
            assertClose(rows(fast[0]).dataSync(), tf.matMul(rows(exact[0]), basis, false, true).dataSync(), 1e-5, 1e-4, 'q̃ in the basis B');
            assert.ok(maxAbsDiff(fast[0].dataSync(), exact[0].dataSync()) > 1e-3, 'the vectors differ');
          }
        });
      });
    });
  });

  describe('2-D grid (axial): scores depend only on (Δrow, Δcol)', () => {
    const rows = 3;
    const cols = 4;
    for (const [core, D] of [
      ['rotation', 8],
      ['mixed', 12],
      ['unitary', 6],
    ] as Array<[LrpeCore, number]>) {
      it(`${core} core, headDim ${D}`, () => {
        withLrpe({ core, headDim: D, p: 'householder' }, (m) => {
          tf.tidy(() => {
            const rng = new Rng(91);
            const L = rows * cols;
            const a = scores(...m.encode(repeated(rng, L, 1, D), repeated(rng, L, 1, D), { grid: { rows, cols } })).arraySync()[0][0];
            const byOffset = new Map<string, number>();
            for (let s = 0; s < L; s++) {
              for (let t = 0; t < L; t++) {
                const key = `${Math.floor(t / cols) - Math.floor(s / cols)},${(t % cols) - (s % cols)}`;
                const seen = byOffset.get(key);
                if (seen === undefined) byOffset.set(key, a[s][t]);
                else assert.ok(Math.abs(a[s][t] - seen) < 2e-4, `(Δrow, Δcol) = (${key}): ${a[s][t]} vs ${seen}`);
              }
            }
            // Not a function of the flat offset t − s: (s, t) = (3, 4) is (Δrow, Δcol) = (1, −3), (0, 1) is (0, 1).
            assert.ok(Math.abs(a[3][4] - a[0][1]) > 1e-3, `flat offset 1: ${a[3][4]} vs ${a[0][1]}`);
            // Not a function of Δrow + Δcol either (one step down vs one step right).
            assert.ok(Math.abs(a[0][cols] - a[0][1]) > 1e-3, `(1, 0): ${a[0][cols]} vs (0, 1): ${a[0][1]}`);
          });
        });
      });
    }

    it('the row half turns by row·θ_0, θ_2, ...; the column half by col·θ_1, θ_3, ...', () => {
      withLrpe({ core: 'rotation', p: 'identity', headDim: 8 }, (m) => {
        tf.tidy(() => {
          const th = Array.from(m.thetas()); // 4 pairs: pairs 0, 1 by row (θ_0, θ_2); pairs 2, 3 by col (θ_1, θ_3)
          const x = randn(new Rng(92), [1, 6, 1, 8]);
          const ys = m.transform(x, { grid: { rows: 2, cols: 3 } }).arraySync()[0];
          const xs = x.arraySync()[0];
          for (let p = 0; p < 6; p++) {
            const [r, c] = [Math.floor(p / 3), p % 3];
            assertClose(ys[p][0], rotateRef(xs[p][0], [r * th[0], r * th[2], c * th[1], c * th[3]]), 1e-5, 1e-4, `cell (${r}, ${c})`);
          }
        });
      });
    });
  });

  it('incremental decoding: tokens encoded with `offset` equal the tail of the full sequence', () => {
    for (const core of ALL_CORES) {
      withLrpe({ core, p: 'householder-learned' }, (m) => {
        tf.tidy(() => {
          const x = randn(new Rng(101), [2, 10, 2, 8]);
          const F = m.outputDim(8);
          const tail = m.transform(x, {}).slice([0, 6, 0, 0], [2, 4, 2, F]);
          assertClose(m.transform(x.slice([0, 6, 0, 0], [2, 4, 2, 8]), { offset: 6 }), tail, 1e-5, 1e-4, core);
          assert.ok(maxAbsDiff(m.transform(x.slice([0, 6, 0, 0], [2, 4, 2, 8])), tail) > 1e-2, `${core}: the offset matters`);
        });
      });
    }
  });

  it('learned θ and learned Householder v receive non-zero gradients that match finite differences', () => {
    for (const core of ['rotation', 'mixed', 'unitary'] as const) {
      withLrpe({ core, p: 'householder-learned', theta: 'learned' }, (m) => {
        assert.deepEqual(
          m
            .namedVariables()
            .filter(([, v]) => v.trainable)
            .map(([n]) => n)
            .sort(),
          ['theta', 'v'],
        );
        const rng = new Rng(111);
        const x = randn(rng, [2, 12, 2, 8]);
        const w = randn(rng, [2, 12, 2, m.outputDim(8)]);
        const loss = () => tf.tidy(() => m.transform(x, { offset: 3 }).mul(w).sum() as tf.Scalar);
        const { value, grads } = tf.variableGrads(loss, m.trainableVariables());
        for (const name of ['theta', 'v']) {
          const v = variable(m, name);
          const g = grads[v.name].dataSync();
          assert.ok(Array.from(g).every(Number.isFinite), `${core}: ${name} gradient is finite`);
          assert.ok(norm(g) > 1e-3, `${core}: ${name} gradient is non-zero (‖g‖ = ${norm(g)})`);
          // Central finite difference on coordinate 1 (θ_1 has a non-trivial angle at every position > 0).
          const eps = 1e-2;
          const base = Array.from(v.dataSync());
          const at = (delta: number) => {
            const b = base.slice();
            b[1] += delta;
            v.assign(tf.tensor1d(b));
            const l = loss();
            const out = l.dataSync()[0];
            l.dispose();
            return out;
          };
          const fd = (at(eps) - at(-eps)) / (2 * eps);
          at(0);
          assert.ok(Math.abs(fd - g[1]) <= 2e-2 * Math.abs(fd) + 2e-2, `${core}: d loss / d ${name}[1] = ${g[1]}, finite difference ${fd}`);
        }
        value.dispose();
        Object.values(grads).forEach((g) => g.dispose());
        x.dispose();
        w.dispose();
      });
    }
  });

  it('backward: the gradient with respect to the input is that of the linear map x -> M_s x (every core × P)', () => {
    // L(x) = Σ w ⊙ M(x) is linear in x, so a central difference is exact up to rounding at any step.
    for (const core of ALL_CORES) {
      for (const p of ALL_P) {
        withLrpe({ core, p, headDim: 6 }, (m) => {
          tf.tidy(() => {
            const rng = new Rng(131);
            const shape = [1, 5, 2, 6];
            const x0 = rng.normalArray(size(shape));
            const w = randn(rng, [1, 5, 2, m.outputDim(6)]);
            const loss = (x: tf.Tensor) =>
              m
                .transform(x as tf.Tensor4D, { offset: 2 })
                .mul(w)
                .sum();
            const g = tf.grad(loss)(tf.tensor(x0, shape)).dataSync();
            for (const i of [0, 7, 20, 33, 59]) {
              const at = (delta: number) => {
                const x = x0.slice();
                x[i] += delta;
                return loss(tf.tensor(x, shape)).dataSync()[0];
              };
              const fd = (at(1) - at(-1)) / 2;
              assert.ok(Math.abs(g[i] - fd) < 1e-4 + 1e-4 * Math.abs(fd), `${core}/${p}: dL/dx[${i}] = ${g[i]}, finite difference ${fd}`);
            }
          });
        });
      }
    }
  });

  it('the plain formula (lrpeReference: M_s = Λ^(s) P written out per position) equals the composed and the fused paths, every core × P, even and odd headDim, with an offset', () => {
    for (const core of ALL_CORES) {
      for (const p of ALL_P) {
        for (const headDim of [8, 7]) {
          const theta = core === 'permutation' ? 'fixed' : 'learned';
          withLrpe(
            { core, p, theta, headDim },
            (m) => {
              const x = features(new Rng(23), [2, 9, 3, headDim]);
              const ref = lrpeReference(x, m, 4);
              for (const fused of canFuseLrpe() ? [false, true] : [false]) {
                const alt = new Lrpe({ headDim, core, p, theta, rng: new Rng(5), fused });
                const y = alt.transform(x, { offset: 4 });
                assert.ok(maxAbsDiff(y, ref) < 1e-5, `${core}/${p}/D ${headDim}/${fused ? 'fused' : 'composed'}: differs by ${maxAbsDiff(y, ref)}`);
                tf.dispose(y);
                alt.dispose();
              }
              tf.dispose([x, ref]);
            },
            5,
          );
        }
      }
    }
  });

  it('the canonical form: W = M_s^T M_t from the written-out matrices depends on t − s only, for every core (LRPE paper, §3)', () => {
    for (const core of ALL_CORES) {
      withLrpe({ core, p: 'householder', headDim: 6 }, (m) => {
        const t3 = lrpeMatrices(m, 7);
        const mats = t3.arraySync();
        t3.dispose();
        const w = (s: number, t: number) =>
          mats[s][0].map((_, i) => mats[s][0].map((__, j) => mats[s].reduce((acc, row, r) => acc + row[i] * mats[t][r][j], 0)));
        for (const [s, t, s2, t2] of [
          [0, 3, 2, 5],
          [1, 1, 6, 6],
          [5, 2, 4, 1],
        ]) {
          assert.ok(maxAbsDiff(w(s, t).flat(), w(s2, t2).flat()) < 1e-5, `${core}: W(${s},${t}) != W(${s2},${t2})`);
        }
        assert.ok(maxAbsDiff(w(0, 1).flat(), w(0, 2).flat()) > 1e-3, `${core}: W changes with t − s`);
      });
    }
  });

  itOnKernelPaths(
    'fused kernels equal the composed tf ops: output and the gradients of x, θ and v, also with φ = elu + 1 applied by encode (inputMap)',
    (native, ctx) => {
      if (!canFuseLrpe()) ctx.skip();
      const cases: Array<[Partial<LrpeOptions> & { core: LrpeCore }, { grid?: { rows: number; cols: number }; offset?: number; inputMap?: 'elu+1' }]> = [];
      for (const core of ALL_CORES) {
        for (const p of ALL_P) {
          const theta = core === 'permutation' ? 'fixed' : 'learned';
          cases.push([{ core, p, theta, headDim: 8 }, { offset: 3 }], [{ core, p, theta: 'fixed', headDim: 7 }, {}]);
        }
      }
      cases.push([{ core: 'unitary', p: 'householder-learned', theta: 'learned', headDim: 8 }, { grid: { rows: 3, cols: 4 } }]);
      cases.push([
        { core: 'rotation', p: 'householder', theta: 'learned', headDim: 8 },
        { grid: { rows: 3, cols: 4 }, offset: 2 },
      ]);
      for (const [o, enc] of cases.flatMap(
        ([o, e]) =>
          [
            [o, e],
            [o, { ...e, inputMap: 'elu+1' }],
          ] as typeof cases,
      )) {
        const run = (fused: boolean, native: boolean) =>
          withLrpe(
            { ...o, fused },
            (m) =>
              tf.tidy(() => {
                const was = useNative(native);
                try {
                  const rng = new Rng(17);
                  const D = o.headDim!;
                  // Raw projections (both signs, so φ's two branches) when encode applies φ itself.
                  const input = (shape: number[]) => (enc.inputMap ? (randn(rng, shape) as tf.Tensor4D) : features(rng, shape));
                  const q = input([2, 10, 3, D]);
                  const k = input([2, 10, 3, D]);
                  const w = randn(rng, [2, 10, 3, m.outputDim(D)]);
                  const vars = m.trainableVariables();
                  const loss = (a: tf.Tensor, b: tf.Tensor) => {
                    const [qe, ke] = m.encode(a as tf.Tensor4D, b as tf.Tensor4D, enc);
                    return qe.mul(w).sum().add(ke.mul(w).square().sum()) as tf.Scalar;
                  };
                  const [dq, dk] = tf.grads(loss)([q, k]);
                  const value = loss(q, k);
                  const grads = vars.length > 0 ? tf.variableGrads(() => loss(q, k), vars).grads : {};
                  return [value, dq, dk, ...vars.map((v) => grads[v.name])].map((t) => Array.from(t.dataSync()));
                } finally {
                  useNative(was);
                }
              }),
            5,
          );
        const want = run(false, native);
        const got = run(true, native);
        const label = `${o.core}/${o.p}/θ ${o.theta}/D ${o.headDim}${enc.grid ? '/grid' : ''}${enc.inputMap ? '/φ in encode' : ''} (${native ? 'native' : 'JavaScript'})`;
        assert.equal(got.length, want.length, label);
        const names = ['loss', 'dq', 'dk', 'theta / v'];
        got.forEach((g, i) =>
          assert.ok(
            maxAbsDiff(g, want[i]) <= 1e-4 * (1 + Math.max(...want[i].map(Math.abs))),
            `${label}: ${names[Math.min(i, 3)]} differs by ${maxAbsDiff(g, want[i])}`,
          ),
        );
      }
    },
  );

  it('fused: a non-boolean is rejected, naming the option', () => {
    assertThrowsNaming(() => make({ core: 'rotation', fused: 'yes' as unknown as boolean }), /fused: expected a boolean/);
  });

  it('fused: true on a backend without the fused kernels throws naming the option', function () {
    if (canFuseLrpe()) this.skip(); // wasm and cpu have them; this runs on other backends (webgl, tfjs-node)
    withLrpe({ core: 'rotation', fused: true }, (m) =>
      tf.tidy(() =>
        assertThrowsNaming(() => m.transform(features(new Rng(1), [1, 4, 1, 8])), /fused: the fused LRPE kernels exist on the wasm and cpu backends/),
      ),
    );
  });

  it('frozen variants have no trainable parameters; the Householder v and π are drawn from rng', () => {
    for (const core of ALL_CORES)
      for (const p of ['identity', 'householder', 'dct', 'odd-even'] as const) withLrpe({ core, p }, (m) => assert.equal(m.numParameters(), 0));
    const vOf = (o: Partial<LrpeOptions> & { core: LrpeCore }, seed: number) => withLrpe(o, (m) => Array.from(variable(m, 'v').dataSync()), seed);
    assert.deepEqual(vOf({ core: 'rotation' }, 5), vOf({ core: 'rotation' }, 5), 'same seed, same v');
    assert.deepEqual(vOf({ core: 'rotation' }, 5), vOf({ core: 'unitary' }, 5), 'v does not depend on the core');
    assert.notDeepEqual(vOf({ core: 'rotation' }, 5), vOf({ core: 'rotation' }, 6), 'another seed, another v');
    const piOf = (p: LrpeP, seed: number) => withLrpe({ core: 'permutation', p, headDim: 16 }, (m) => Array.from(variable(m, 'permutation').dataSync()), seed);
    assert.deepEqual(piOf('identity', 5), piOf('dct', 5), 'π does not depend on P');
    assert.notDeepEqual(piOf('identity', 5), piOf('identity', 6), 'another seed, another π');
  });

  it('bad input throws an Error naming the parameter', () => {
    assertThrowsNaming(() => make({ core: 'spiral' as LrpeCore }), /core: expected one of 'rotation', 'mixed', 'permutation', 'unitary', got "spiral"/);
    assertThrowsNaming(() => make({ core: 'rotation', p: 'fourier' as LrpeP }), /p: expected one of .*'odd-even', got "fourier"/);
    assertThrowsNaming(() => make({ core: 'rotation', theta: 'sometimes' as 'fixed' }), /theta: expected one of 'fixed', 'learned'/);
    assertThrowsNaming(() => make({ core: 'permutation', theta: 'learned' }), /theta: the permutation core has no θ/);
    assertThrowsNaming(() => make({ core: 'rotation', headDim: 1 }), /headDim: .*rotates pairs.*got 1/);
    assertThrowsNaming(() => make({ core: 'mixed', headDim: 1 }), /headDim: .*got 1/);
    assertThrowsNaming(() => make({ core: 'unitary', headDim: 2.5 }), /headDim: expected an integer/);
    assertThrowsNaming(() => make({ core: 'rotation', base: -1 }), /base: expected a finite number > 0/);
    withLrpe({ core: 'rotation' }, (m) => {
      tf.tidy(() => {
        const x = randn(new Rng(1), [2, 4, 8]) as unknown as tf.Tensor4D;
        const q = randn(new Rng(1), [1, 4, 2, 8]);
        assertThrowsNaming(() => m.transform(x), /x: expected rank 4 \(\[batch, length, heads, headDim\]\), got rank 3/);
        assertThrowsNaming(() => m.encode(x, x), /q: expected rank 4/);
        assertThrowsNaming(() => m.encode(q, randn(new Rng(1), [1, 5, 2, 8])), /k: expected the same shape as q/);
        assertThrowsNaming(() => m.encode(randn(new Rng(1), [1, 4, 2, 6]), randn(new Rng(1), [1, 4, 2, 6])), /q: expected headDim \(axis 3\) to be 8, got 6/);
        assertThrowsNaming(() => m.transform(q, { offset: -1 }), /offset: expected an integer >= 0, got -1/);
        assertThrowsNaming(() => m.transform(q, { grid: { rows: 1, cols: 3 } }), /grid: expected offset \+ length <= rows\*cols = 3/);
        assertThrowsNaming(() => m.transform(q, { grid: { rows: 0, cols: 3 } }), /grid.rows: expected an integer/);
      });
    });
    withLrpe({ core: 'permutation' }, (m) => {
      tf.tidy(() => {
        assertThrowsNaming(() => m.transform(randn(new Rng(1), [1, 4, 2, 8]), { grid: { rows: 2, cols: 2 } }), /grid: the permutation core has no 2-D form/);
      });
    });
    withLrpe({ core: 'rotation', headDim: 3 }, (m) =>
      tf.tidy(() =>
        assertThrowsNaming(() => m.transform(randn(new Rng(1), [1, 4, 1, 3]), { grid: { rows: 2, cols: 2 } }), /grid: .*headDim 3 has 1 frequency channel/),
      ),
    );
  });

  it('fixed tables are built once per length, offset and grid, rebuilt when θ is replaced (a checkpoint load), and freed with the module', () => {
    const before = tf.memory().numTensors;
    const m = new Lrpe({ core: 'unitary', p: 'householder', headDim: 6, rng: new Rng(2) });
    const rng = new Rng(3);
    const [q, k] = [features(rng, [2, 5, 2, 6]), features(rng, [2, 5, 2, 6])];
    const encodeOnce = (offset: number) => tf.tidy(() => Array.from(m.encode(q, k, { offset })[0].dataSync()));
    const first = encodeOnce(0);
    const held = tf.memory().numTensors;
    assert.deepEqual(encodeOnce(0), first, 'the same numbers from the cached tables');
    assert.equal(tf.memory().numTensors, held, 'no new tensors on a repeated call');
    const atOffset = encodeOnce(3);
    assert.ok(maxAbsDiff(atOffset, first) > 1e-3, 'another offset: other tables');
    assert.deepEqual(encodeOnce(0), first, 'back at offset 0');
    const theta = m.namedVariables().find(([n]) => n === 'theta')![1];
    const old = theta.dataSync().slice();
    tf.tidy(() => theta.assign(tf.tensor1d(Array.from(old, (t) => t * 2))));
    assert.ok(maxAbsDiff(encodeOnce(0), first) > 1e-3, 'a replaced θ gives new tables');
    tf.tidy(() => theta.assign(tf.tensor1d(old)));
    assert.deepEqual(encodeOnce(0), first, 'and the old θ the old ones');
    m.dispose();
    tf.dispose([q, k]);
    assert.equal(tf.memory().numTensors, before, 'nothing left after dispose');
  });

  it('no tensor leak over repeated forward + backward', () => {
    const variants: Array<[Partial<LrpeOptions> & { core: LrpeCore }, { grid?: { rows: number; cols: number }; offset?: number }]> = [
      [{ core: 'rotation', p: 'householder-learned', theta: 'learned' }, { offset: 4 }],
      [{ core: 'mixed', p: 'dct', theta: 'learned' }, {}],
      [{ core: 'unitary', p: 'householder', theta: 'learned' }, { grid: { rows: 2, cols: 3 } }],
      [{ core: 'permutation', p: 'odd-even' }, { offset: 1 }],
      [{ core: 'rotation', p: 'identity', headDim: 7 }, {}],
    ];
    for (const [o, enc] of variants) {
      withLrpe(o, (m) => {
        const D = m.headDim;
        const q = features(new Rng(121), [2, 6, 2, D]);
        const k = features(new Rng(122), [2, 6, 2, D]);
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          tf.tidy(
            () =>
              scores(...m.encode(a as tf.Tensor4D, b as tf.Tensor4D, enc))
                .square()
                .mean() as tf.Scalar,
          );
        const step = () => {
          const { value, grads } = tf.valueAndGrads(loss)([q, k]);
          value.dispose();
          grads.forEach((g) => g.dispose());
          if (m.numParameters() > 0) {
            const r = tf.variableGrads(() => loss(q, k), m.trainableVariables());
            r.value.dispose();
            Object.values(r.grads).forEach((g) => g.dispose());
          }
          m.pMatrix().dispose();
        };
        assertNoLeak(step, 3, `${o.core}/${o.p}`);
        q.dispose();
        k.dispose();
      });
    }
  });
});
