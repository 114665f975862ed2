import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { SineSPE, SPEFilter, projectOnCode, projectOnCodeReference } from '../../src/encodings/spe';
import { assertClose, assertThrowsNaming, maxAbsDiff, assertNoLeak } from '../helpers';

const normal = (rng: Rng, shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** q[b, m, 0, d] = δ(b, d): applying the filter to it returns the (gated) code of feature b. */
const featureProbe = (D: number, L: number) =>
  tf.tidy(() =>
    tf
      .oneHot(tf.range(0, D, 1, 'int32'), D)
      .reshape([D, 1, 1, D])
      .tile([1, L, 1, 1])
      .mul(1),
  );

describe('SPEFilter (applying a code, with gating; SPE paper, Liutkus et al. 2021)', () => {
  it('maps q, k [B, ...S, H, D] and a code [1, ...S, H, D, R] to q̂, k̂ [B, ...S, H, R] (§10.1)', () => {
    const f = new SPEFilter({ numHeads: 2, inFeatures: 3 });
    const rng = new Rng(1);
    const q = normal(rng, [4, 5, 2, 3]);
    const code = { qbar: normal(rng, [1, 5, 2, 3, 7]), kbar: normal(rng, [1, 5, 2, 3, 7]) };
    const [qh, kh] = f.apply(q, q, code);
    assert.deepEqual(qh.shape, [4, 5, 2, 7]);
    assert.deepEqual(kh.shape, [4, 5, 2, 7]);
    const q2 = normal(rng, [2, 3, 4, 2, 3]);
    const code2 = { qbar: normal(rng, [1, 3, 4, 2, 3, 6]), kbar: normal(rng, [1, 3, 4, 2, 3, 6]) };
    const [qh2] = f.apply(q2, q2, code2);
    assert.deepEqual(qh2.shape, [2, 3, 4, 2, 6]);
    assert.deepEqual(f.gate().shape, [2, 3]);
    tf.dispose([q, code.qbar, code.kbar, qh, kh, q2, code2.qbar, code2.kbar, qh2]);
    f.dispose();
  });

  it('with injected gate noise, q̂ = Σ_d q_d (√(1−g) Q̄ + √g ε/(DR)^¼) and likewise k̂, in plain JS (PyTorch convention)', () => {
    const [B, L, H, D, R] = [2, 3, 2, 3, 4];
    const f = new SPEFilter({ numHeads: H, inFeatures: D, rng: new Rng(2) });
    const rng = new Rng(3);
    const [q, k, qbar, kbar, gateNoise] = [
      [B, L, H, D],
      [B, L, H, D],
      [1, L, H, D, R],
      [1, L, H, D, R],
      [H, D, R],
    ].map((s) => normal(rng, s));
    const [qh, kh] = f.apply(q, k, { qbar, kbar }, { gateNoise });
    const [qv, kv, qb, kb, eps, gamma] = [q, k, qbar, kbar, gateNoise, f.gamma!].map((t) => t.dataSync());
    const expQ: number[] = [];
    const expK: number[] = [];
    for (let b = 0; b < B; b++)
      for (let m = 0; m < L; m++)
        for (let h = 0; h < H; h++)
          for (let r = 0; r < R; r++) {
            let sq = 0;
            let sk = 0;
            for (let d = 0; d < D; d++) {
              const g = sigmoid(gamma[h * D + d]);
              const e = eps[(h * D + d) * R + r] / Math.pow(D * R, 0.25);
              const c = ((m * H + h) * D + d) * R + r;
              sq += qv[((b * L + m) * H + h) * D + d] * (Math.sqrt(1 - g) * qb[c] + Math.sqrt(g) * e);
              sk += kv[((b * L + m) * H + h) * D + d] * (Math.sqrt(1 - g) * kb[c] + Math.sqrt(g) * e);
            }
            expQ.push(sq);
            expK.push(sk);
          }
    assertClose(qh.dataSync(), expQ, 1e-5, 1e-4, 'q̂');
    assertClose(kh.dataSync(), expK, 1e-5, 1e-4, 'k̂');
    tf.dispose([q, k, qbar, kbar, gateNoise, qh, kh]);
    f.dispose();
  });

  it('the batched-product projection equals the plain formula (projectOnCodeReference), values and gradients, 1-D and 2-D, batch 1 and 3', () => {
    const rng = new Rng(11);
    for (const [xShape, R] of [
      [[1, 5, 2, 3], 4],
      [[3, 5, 2, 3], 7],
      [[3, 2, 3, 2, 4], 5],
    ] as Array<[number[], number]>) {
      const x = normal(rng, xShape);
      const code = normal(rng, [1, ...xShape.slice(1), R]);
      const dy = normal(rng, [...xShape.slice(0, -1), R]);
      const grads = (f: (x: tf.Tensor, c: tf.Tensor) => tf.Tensor) => tf.grads((a: tf.Tensor, b: tf.Tensor) => f(a, b).mul(dy).sum())([x, code]);
      const [fast, ref] = [projectOnCode(x, code), projectOnCodeReference(x, code)];
      assert.deepEqual(fast.shape, ref.shape);
      assertClose(fast, ref, 1e-5);
      const [gf, gr] = [grads(projectOnCode), grads(projectOnCodeReference)];
      gf.forEach((g, i) => assertClose(g, gr[i], 1e-5));
      tf.dispose([x, code, dy, fast, ref, ...gf, ...gr]);
    }
  });

  it('ungated: no parameters, q̂ = Σ_d q_d Q̄_d exactly', () => {
    const f = new SPEFilter({ numHeads: 1, inFeatures: 2, gated: false });
    assert.equal(f.numParameters(), 0);
    const q = tf.tensor([[[[1, 2]]]]); // [1, 1, 1, 2]
    const qbar = tf.tensor([1, 10, 100, 1000], [1, 1, 1, 2, 2]);
    const [qh] = f.apply(q, q, { qbar, kbar: qbar });
    assert.deepEqual(Array.from(qh.dataSync()), [1 * 1 + 2 * 100, 1 * 10 + 2 * 1000]);
    tf.dispose([q, qbar, qh]);
    f.dispose();
  });

  it('a longer code is truncated to the first positions (1-D and 2-D); a shorter one is an error (§10.1)', () => {
    const f = new SPEFilter({ numHeads: 1, inFeatures: 2, rng: new Rng(4) });
    tf.tidy(() => {
      const rng = new Rng(5);
      const gateNoise = normal(rng, [1, 2, 3]);
      const q = normal(rng, [2, 5, 1, 2]);
      const code = { qbar: normal(rng, [1, 9, 1, 2, 3]), kbar: normal(rng, [1, 9, 1, 2, 3]) };
      const sliced = { qbar: code.qbar.slice(0, [1, 5, 1, 2, 3]), kbar: code.kbar.slice(0, [1, 5, 1, 2, 3]) };
      const [a, b] = [f.apply(q, q, code, { gateNoise }), f.apply(q, q, sliced, { gateNoise })];
      assert.equal(maxAbsDiff(a[0], b[0]), 0);
      assert.equal(maxAbsDiff(a[1], b[1]), 0);
      const q2 = normal(rng, [1, 3, 4, 1, 2]);
      const code2 = { qbar: normal(rng, [1, 5, 6, 1, 2, 3]), kbar: normal(rng, [1, 5, 6, 1, 2, 3]) };
      const sliced2 = { qbar: code2.qbar.slice(0, [1, 3, 4, 1, 2, 3]), kbar: code2.kbar.slice(0, [1, 3, 4, 1, 2, 3]) };
      assert.equal(maxAbsDiff(f.apply(q2, q2, code2, { gateNoise })[0], f.apply(q2, q2, sliced2, { gateNoise })[0]), 0);
      const long = normal(rng, [2, 10, 1, 2]);
      assertThrowsNaming(() => f.apply(long, long, code), /code: expected at least \[10\] positions/, /got \[9\]/);
      assertThrowsNaming(() => f.apply(normal(rng, [1, 6, 4, 1, 2]), normal(rng, [1, 6, 4, 1, 2]), code2), /code: expected at least \[6, 4\] positions/);
    });
    f.dispose();
  });

  it('gated kernel is exactly (1 − g)·P + g: the codes plus gate noise have cross-covariance (1 − g_d) P_d(m−n) + g_d (§5, §10.7)', () => {
    // Identity basis over the joint noise (z of every feature, then ε of every feature): R = D·2K + D.
    const [D, K, L] = [3, 2, 8];
    const R = D * 2 * K + D;
    const spe = new SineSPE({ numHeads: 1, inFeatures: D, numRealizations: R, numSines: K, rng: new Rng(6) });
    const f = new SPEFilter({ numHeads: 1, inFeatures: D, rng: new Rng(7) });
    const basis = tf.tidy(() => tf.oneHot(tf.range(0, R, 1, 'int32'), R).mul(1)); // [R, R]
    const noise = basis.slice([0, 0], [D * 2 * K, R]).reshape([1, 1, D, 2 * K, R]);
    const gateNoise = basis.slice([D * 2 * K, 0], [D, R]).reshape([1, D, R]);
    const code = spe.forward([1, L], { noise });
    const probe = featureProbe(D, L);
    const [qh, kh] = f.apply(probe, probe, code, { gateNoise }); // [D, L, 1, R]: the gated code of each feature
    const cov = tf.tidy(() =>
      tf
        .matMul(qh.reshape([D, L, R]), kh.reshape([D, L, R]), false, true)
        .mul(Math.sqrt(R * D))
        .dataSync(),
    );
    const P = spe.positionalKernel(L).dataSync(); // [1, D, 2L−1]
    const g = f.gate().dataSync();
    let worst = 0;
    for (let d = 0; d < D; d++)
      for (let m = 0; m < L; m++)
        for (let n = 0; n < L; n++) {
          const want = (1 - g[d]) * P[d * (2 * L - 1) + m - n + L - 1] + g[d];
          worst = Math.max(worst, Math.abs(cov[(d * L + m) * L + n] - want));
        }
    assert.ok(worst < 2e-5, `max |covariance − ((1−g)P + g)| = ${worst}`);
    tf.dispose([basis, noise, gateNoise, code.qbar, code.kbar, probe, qh, kh]);
    spe.dispose();
    f.dispose();
  });

  it('Monte-Carlo: the gated E_R → (1 − g)·P + g (§10.7: relative error 0.023 at R = 4096)', () => {
    const [D, K, L, R] = [4, 5, 16, 4096];
    const spe = new SineSPE({ numHeads: 1, inFeatures: D, numRealizations: R, numSines: K, rng: new Rng(100) });
    const f = new SPEFilter({ numHeads: 1, inFeatures: D, rng: new Rng(101) });
    const code = spe.forward([1, L], { rng: new Rng(102) });
    const probe = featureProbe(D, L);
    const [qh, kh] = f.apply(probe, probe, code, { rng: new Rng(103) });
    const E = tf.tidy(() =>
      tf
        .matMul(qh.reshape([D, L, R]), kh.reshape([D, L, R]), false, true)
        .mul(Math.sqrt(D / R))
        .dataSync(),
    );
    const P = spe.positionalKernel(L).dataSync();
    const g = f.gate().dataSync();
    let absErr = 0;
    let absP = 0;
    for (let d = 0; d < D; d++)
      for (let m = 0; m < L; m++)
        for (let n = 0; n < L; n++) {
          const want = (1 - g[d]) * P[d * (2 * L - 1) + m - n + L - 1] + g[d];
          absErr += Math.abs(E[(d * L + m) * L + n] - want);
          absP += Math.abs(want);
        }
    const err = absErr / absP;
    assert.ok(err > 0.023 / 2.5 && err < 0.023 * 2.5, `relative error ${err.toFixed(4)} vs the digest's 0.023`);
    tf.dispose([code.qbar, code.kbar, probe, qh, kh]);
    spe.dispose();
    f.dispose();
  });

  it('g → 1 gives content-only logits: the code drops out and E[q̂·k̂/√R] = q·k/√D exactly (§10.7, §10.8)', () => {
    const [D, L] = [3, 4];
    const f = new SPEFilter({ numHeads: 1, inFeatures: D, rng: new Rng(8) });
    f.gamma!.assign(tf.fill([1, D], 40)); // sigmoid(40) = 1 in float32
    const rng = new Rng(9);
    const q = normal(rng, [1, L, 1, D]);
    const k = normal(rng, [1, L, 1, D]);
    const codeA = { qbar: normal(rng, [1, L, 1, D, D]), kbar: normal(rng, [1, L, 1, D, D]) };
    const codeB = { qbar: normal(rng, [1, L, 1, D, D]), kbar: normal(rng, [1, L, 1, D, D]) };
    const gateNoise = tf.eye(D).reshape([1, D, D]); // identity basis: R = D realizations
    const [qa, ka] = f.apply(q, k, codeA, { gateNoise });
    const [qb] = f.apply(q, k, codeB, { gateNoise });
    assert.equal(maxAbsDiff(qa, qb), 0, 'the positional code must have no effect at g = 1');
    // Exact expectation from the basis: E[q̂·k̂/√R] = √R_basis · Σ_r q̂_r k̂_r.
    const logits = tf.tidy(() => tf.matMul(qa.reshape([L, D]), ka.reshape([L, D]), false, true).mul(Math.sqrt(D)));
    const content = tf.tidy(() => tf.matMul(q.reshape([L, D]), k.reshape([L, D]), false, true).div(Math.sqrt(D)));
    assertClose(logits, content, 1e-5, 1e-5, 'logits');
    // g → 0 (γ → −∞) is pure SPE: the ungated result.
    f.gamma!.assign(tf.fill([1, D], -40));
    const plain = new SPEFilter({ numHeads: 1, inFeatures: D, gated: false });
    assertClose(f.apply(q, k, codeA, { gateNoise })[0], plain.apply(q, k, codeA)[0], 1e-6, 0, 'g = 0');
    tf.dispose([q, k, codeA.qbar, codeA.kbar, codeB.qbar, codeB.kbar, gateNoise, qa, ka, qb, logits, content]);
    f.dispose();
    plain.dispose();
  });

  it('ε is identical for queries and keys, constant over positions and batch, and re-drawn at every call (§10.7)', () => {
    const [D, L, R] = [3, 5, 4];
    const f = new SPEFilter({ numHeads: 1, inFeatures: D, rng: new Rng(10) });
    const zero = tf.zeros([1, L, 1, D, R]);
    const probe = featureProbe(D, L); // batch b = feature b
    const [qh, kh] = f.apply(probe, probe, { qbar: zero, kbar: zero });
    assert.equal(maxAbsDiff(qh, kh), 0, 'same ε on both sides');
    const first = tf.tidy(() => qh.slice([0, 0, 0, 0], [D, 1, 1, R]).tile([1, L, 1, 1]));
    assert.equal(maxAbsDiff(qh, first), 0, 'constant over positions');
    const [again] = f.apply(probe, probe, { qbar: zero, kbar: zero });
    assert.ok(maxAbsDiff(qh, again) > 1e-3, 're-drawn per call');
    // Its scale: Var[√g·ε] = g/√(D·R), checked through the norm over many realizations.
    const big = 20000;
    const zeroBig = tf.zeros([1, 1, 1, D, big]);
    const g = f.gate().dataSync();
    const varr = tf.tidy(() => {
      const one = featureProbe(D, 1);
      const [qBig] = f.apply(one, one, { qbar: zeroBig, kbar: zeroBig });
      return tf.moments(qBig.reshape([D, big]), 1).variance.dataSync();
    });
    for (let d = 0; d < D; d++) {
      const want = g[d] / Math.sqrt(D * big);
      assert.ok(Math.abs(varr[d] / want - 1) < 5 * Math.sqrt(2 / big), `feature ${d}: variance ${varr[d]} vs ${want}`);
    }
    tf.dispose([zero, probe, qh, kh, first, again, zeroBig]);
    f.dispose();
  });

  it('rejects bad input, naming the parameter', () => {
    const f = new SPEFilter({ numHeads: 2, inFeatures: 3 });
    const rng = new Rng(11);
    const q = normal(rng, [1, 4, 2, 3]);
    const code = { qbar: normal(rng, [1, 4, 2, 3, 5]), kbar: normal(rng, [1, 4, 2, 3, 5]) };
    assertThrowsNaming(() => f.apply(q, normal(rng, [1, 5, 2, 3]), code), /k: expected the same shape as q \[1, 4, 2, 3\], got \[1, 5, 2, 3\]/);
    assertThrowsNaming(() => f.apply(normal(rng, [4, 2, 3]), normal(rng, [4, 2, 3]), code), /q: expected rank 4 or 5/);
    assertThrowsNaming(() => f.apply(normal(rng, [1, 4, 3, 3]), normal(rng, [1, 4, 3, 3]), code), /q: expected the heads axis \(axis 2\) to be 2/);
    const wrongInner = { qbar: normal(rng, [1, 4, 2, 4, 5]), kbar: normal(rng, [1, 4, 2, 4, 5]) };
    assertThrowsNaming(() => f.apply(q, q, wrongInner), /code: expected inner shape \(heads, inFeatures\) = \(2, 3\)/);
    const twoD = { qbar: normal(rng, [1, 4, 4, 2, 3, 5]), kbar: normal(rng, [1, 4, 4, 2, 3, 5]) };
    assertThrowsNaming(() => f.apply(q, q, twoD), /code: expected qbar\/kbar of rank 5/);
    assertThrowsNaming(() => f.apply(q, q, { qbar: code.qbar, kbar: twoD.kbar }), /code.kbar: expected the same shape as code.qbar/);
    assertThrowsNaming(() => f.apply(q, q, code, { gateNoise: normal(rng, [2, 3, 4]) }), /gateNoise: expected shape \[2, 3, 5\]/);
    const plain = new SPEFilter({ numHeads: 2, inFeatures: 3, gated: false });
    assertThrowsNaming(() => plain.apply(q, q, code, { gateNoise: normal(rng, [2, 3, 5]) }), /gateNoise: this SPEFilter is not gated/);
    assertThrowsNaming(() => new SPEFilter({ numHeads: 2, inFeatures: 0 }), /inFeatures/);
    assertThrowsNaming(() => new SPEFilter({ numHeads: 2, inFeatures: 3, gated: 'yes' as unknown as boolean }), /gated: expected a boolean/);
    tf.dispose([q, code.qbar, code.kbar]);
    f.dispose();
    plain.dispose();
  });

  it('the gate receives a gradient and nothing leaks over repeated forward + backward passes', () => {
    const f = new SPEFilter({ numHeads: 2, inFeatures: 3 });
    const rng = new Rng(12);
    const q = normal(rng, [2, 4, 2, 3]);
    const code = { qbar: normal(rng, [1, 6, 2, 3, 5]), kbar: normal(rng, [1, 6, 2, 3, 5]) };
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const [qh, kh] = f.apply(q, q, code);
        return qh.mul(kh).sum() as tf.Scalar;
      });
      assert.equal(Object.keys(grads).length, 1);
      const n = tf.tidy(() => Object.values(grads)[0].abs().sum().dataSync()[0]);
      assert.ok(Number.isFinite(n) && n > 0, `gate gradient ${n}`);
      tf.dispose([value, ...Object.values(grads)]);
    };
    assertNoLeak(step);
    tf.dispose([q, code.qbar, code.kbar]);
    f.dispose();
  });
});
