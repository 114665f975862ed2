import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { SineSPE } from '../../src/encodings/spe';
import { assertClose, assertThrowsNaming, maxAbsDiff, assertNoLeak } from '../helpers';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.log1p(Math.exp(x));
const normal = (rng: Rng, shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);

/** The digest's sineSPE kernel (h, d, Δ) -> (1/2K) Σ_k λ_k² cos(2π f_k Δ + θ_k), from the raw parameters, in plain JS. */
function kernelJS(spe: SineSPE): (h: number, d: number, delta: number) => number {
  const K = spe.numSines;
  const [f, th, g] = [spe.freqs, spe.offsets, spe.gains].map((v) => Array.from(v.dataSync()));
  return (h, d, delta) => {
    let p = 0;
    for (let k = 0; k < K; k++) {
      const i = (h * spe.inFeatures + d) * K + k;
      p += softplus(g[i]) ** 2 * Math.cos(2 * Math.PI * (sigmoid(f[i]) / 2) * delta + th[i]);
    }
    return p / (2 * K);
  };
}

/**
 * The exact cross-covariance √(R·D)·Σ_r qbar[m,h,d,r]·kbar[n,h,e,r] of codes drawn with the
 * identity basis as noise (one realization per noise coordinate), [H, D, D, L, L]. Since the
 * codes are linear in a standard-normal noise vector, this equals E[Q̄_d(m) K̄_e(n)]·√(R·D).
 */
function exactCovariance(qbar: tf.Tensor, kbar: tf.Tensor): Float32Array {
  const [, L, H, D, R] = qbar.shape;
  return tf.tidy(() => {
    const q = qbar
      .reshape([L, H * D, R])
      .transpose([1, 0, 2])
      .reshape([H, D * L, R]);
    const k = kbar
      .reshape([L, H * D, R])
      .transpose([1, 0, 2])
      .reshape([H, D * L, R]);
    return tf
      .matMul(q, k, false, true)
      .mul(Math.sqrt(R * D))
      .dataSync() as Float32Array; // [H, (d,m), (e,n)]
  });
}

describe('SineSPE (sinusoidal code generator, SPE paper, Liutkus et al. 2021)', () => {
  it('forward((B, L)) returns qbar, kbar of shape [1, L, H, D, R] (§10.1)', () => {
    const spe = new SineSPE({ numHeads: 3, inFeatures: 4, numRealizations: 5, numSines: 2 });
    const { qbar, kbar } = spe.forward([2, 7]);
    assert.deepEqual(qbar.shape, [1, 7, 3, 4, 5]);
    assert.deepEqual(kbar.shape, [1, 7, 3, 4, 5]);
    assert.equal(spe.numRealizations, 5);
    assert.deepEqual(new SineSPE({ numHeads: 1, inFeatures: 1 }).freqs.shape, [1, 1, 10]); // default K = 10
    assert.equal(new SineSPE({ numHeads: 1, inFeatures: 1 }).numRealizations, 64); // default R = 64
    tf.dispose([qbar, kbar]);
    spe.dispose();
  });

  it('with injected noise, codes equal the formulas Ω_q diag(λ̃) Z/(RD)^¼ (θ on the query side only), in plain JS', () => {
    const [H, D, K, R, L] = [2, 3, 4, 5, 7];
    const spe = new SineSPE({ numHeads: H, inFeatures: D, numRealizations: R, numSines: K, rng: new Rng(11) });
    const noise = normal(new Rng(12), [1, H, D, 2 * K, R]);
    const { qbar, kbar } = spe.forward([1, L], { noise });
    const [f, th, g, z] = [spe.freqs, spe.offsets, spe.gains, noise].map((v) => v.dataSync());
    const expQ = new Float32Array(L * H * D * R);
    const expK = new Float32Array(L * H * D * R);
    const scale = 1 / Math.sqrt(2 * K) / Math.pow(R * D, 0.25);
    for (let m = 0; m < L; m++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < D; d++)
          for (let r = 0; r < R; r++) {
            let sq = 0;
            let sk = 0;
            for (let k = 0; k < K; k++) {
              const i = (h * D + d) * K + k;
              const lam = softplus(g[i]);
              const phase = 2 * Math.PI * (sigmoid(f[i]) / 2) * m;
              const zc = z[((h * D + d) * 2 * K + 2 * k) * R + r]; // interleaved: row 2k is cos, 2k+1 is sin
              const zs = z[((h * D + d) * 2 * K + 2 * k + 1) * R + r];
              sq += lam * (Math.cos(phase + th[i]) * zc + Math.sin(phase + th[i]) * zs);
              sk += lam * (Math.cos(phase) * zc + Math.sin(phase) * zs);
            }
            const o = ((m * H + h) * D + d) * R + r;
            expQ[o] = sq * scale;
            expK[o] = sk * scale;
          }
    assertClose(qbar.dataSync(), expQ, 1e-5, 1e-4, 'qbar');
    assertClose(kbar.dataSync(), expK, 1e-5, 1e-4, 'kbar');
    tf.dispose([qbar, kbar, noise]);
    spe.dispose();
  });

  it('initialisation: f = sigmoid(f̃)/2 ∈ (0, ½) with median ≈ 0.009, λ = softplus(g̃) > 0, g̃ = n·2/√‖n‖ (§3, §10.9)', () => {
    const [H, D, K] = [4, 64, 10];
    const spe = new SineSPE({ numHeads: H, inFeatures: D, numSines: K, rng: new Rng(5) });
    const f = Array.from(spe.frequencies().dataSync()).sort((a, b) => a - b);
    assert.ok(f[0] > 0 && f[f.length - 1] < 0.5, `f in (0, 1/2): [${f[0]}, ${f[f.length - 1]}]`);
    const median = f[f.length >> 1];
    assert.ok(Math.abs(median - sigmoid(-4) / 2) < 0.0007, `median frequency ${median}, expected ≈ ${sigmoid(-4) / 2}`);
    assert.ok(spe.amplitudes().min().dataSync()[0] > 0);
    // Reference draw order from the same seed: freqs, offsets, gains, each N(0,1) of shape (H, D, K).
    const rng = new Rng(5);
    const n = H * D * K;
    assertClose(
      spe.freqs.dataSync(),
      rng.normalArray(n).map((v) => v - 4),
      1e-6,
      0,
      'freqs',
    );
    assertClose(spe.offsets.dataSync(), rng.normalArray(n), 1e-6, 0, 'offsets');
    const raw = rng.normalArray(n);
    const expected = new Float32Array(n);
    for (let i = 0; i < n; i += K) {
      let norm = 0;
      for (let k = 0; k < K; k++) norm += raw[i + k] ** 2;
      for (let k = 0; k < K; k++) expected[i + k] = (raw[i + k] * 2) / Math.sqrt(Math.sqrt(norm));
    }
    assertClose(spe.gains.dataSync(), expected, 1e-5, 1e-5, 'gains');
    spe.dispose();
  });

  it('positionalKernel(L) is (1/2K) Σ λ² cos(2πfΔ + θ) for Δ = −(L−1)..L−1 (§10.5)', () => {
    const spe = new SineSPE({ numHeads: 2, inFeatures: 3, numSines: 4, rng: new Rng(2) });
    const L = 9;
    const P = spe.positionalKernel(L);
    assert.deepEqual(P.shape, [2, 3, 2 * L - 1]);
    const kernel = kernelJS(spe);
    const expected: number[] = [];
    for (let h = 0; h < 2; h++) for (let d = 0; d < 3; d++) for (let t = 0; t < 2 * L - 1; t++) expected.push(kernel(h, d, t - (L - 1)));
    assertClose(P.dataSync(), expected, 1e-5, 1e-4);
    P.dispose();
    spe.dispose();
  });

  it('the exact code covariance is Toeplitz: E[Q̄_d(m) K̄_e(n)]·√(RD) = δ_de P_d(m − n) (stationarity §10.3, independence §10.11)', () => {
    // Noise = identity basis over the per-head noise vector (d, j): R = D·2K realizations.
    const [H, D, K, L] = [2, 3, 2, 10];
    const R = D * 2 * K;
    const spe = new SineSPE({ numHeads: H, inFeatures: D, numRealizations: R, numSines: K, rng: new Rng(8) });
    const basis = new Float32Array(H * D * 2 * K * R);
    for (let h = 0; h < H; h++) for (let i = 0; i < D * 2 * K; i++) basis[(h * D * 2 * K + i) * R + i] = 1;
    const noise = tf.tensor(basis, [1, H, D, 2 * K, R]);
    const { qbar, kbar } = spe.forward([1, L], { noise });
    const cov = exactCovariance(qbar, kbar);
    const kernel = kernelJS(spe);
    let worst = 0;
    let asym = 0;
    for (let h = 0; h < H; h++)
      for (let d = 0; d < D; d++)
        for (let e = 0; e < D; e++)
          for (let m = 0; m < L; m++)
            for (let n = 0; n < L; n++) {
              const got = cov[((h * D + d) * L + m) * D * L + e * L + n];
              const want = d === e ? kernel(h, d, m - n) : 0;
              worst = Math.max(worst, Math.abs(got - want));
              if (d === e) asym = Math.max(asym, Math.abs(got - cov[((h * D + d) * L + n) * D * L + e * L + m]));
            }
    assert.ok(worst < 2e-5, `max |covariance − δ P(m−n)| = ${worst}`);
    assert.ok(asym > 1e-2, `the kernel should not be even with random θ (max |P(Δ) − P(−Δ)| = ${asym})`);
    tf.dispose([qbar, kbar, noise]);
    spe.dispose();
  });

  it('code variance: Var[Q̄(m)] = Var[K̄(m)] = (1/2K) Σ λ² at every position (§10.5)', () => {
    const [D, K, R, L] = [3, 5, 4096, 16];
    const spe = new SineSPE({ numHeads: 1, inFeatures: D, numRealizations: R, numSines: K, rng: new Rng(4) });
    const { qbar, kbar } = spe.forward([1, L], { rng: new Rng(40) });
    const lam = spe.amplitudes().dataSync();
    const scale = Math.sqrt(R * D); // undoes (RD)^(-1/4) squared
    const tol = 5 * Math.sqrt(2 / R); // 5 standard errors of a Gaussian sample variance
    for (const [name, code] of [
      ['qbar', qbar],
      ['kbar', kbar],
    ] as const) {
      const varr = tf.tidy(() =>
        tf
          .moments(code.reshape([L, D, R]), 2)
          .variance.mul(scale)
          .dataSync(),
      );
      for (let d = 0; d < D; d++) {
        let expected = 0;
        for (let k = 0; k < K; k++) expected += lam[d * K + k] ** 2;
        expected /= 2 * K;
        for (let m = 0; m < L; m++) {
          const rel = Math.abs(varr[m * D + d] / expected - 1);
          assert.ok(rel < tol, `${name} variance at m=${m}, d=${d}: ${varr[m * D + d]} vs ${expected} (rel ${rel.toFixed(3)} > ${tol.toFixed(3)})`);
        }
      }
    }
    tf.dispose([qbar, kbar]);
    spe.dispose();
  });

  it('asymmetry: θ ≠ 0 gives P(Δ) ≠ P(−Δ); θ = 0 gives an even kernel (§10.6)', () => {
    const spe = new SineSPE({ numHeads: 1, inFeatures: 4, numSines: 5, rng: new Rng(6) });
    const L = 40;
    const oddPart = () =>
      tf.tidy(() => {
        const P = spe.positionalKernel(L);
        return [P.sub(P.reverse(-1)).abs().max().dataSync()[0], P.abs().max().dataSync()[0]];
      });
    const [odd, scale] = oddPart();
    assert.ok(odd > 0.05 * scale, `θ ≠ 0: max |P(Δ) − P(−Δ)| = ${odd} (max |P| = ${scale})`);
    spe.offsets.assign(tf.zerosLike(spe.offsets));
    const [even] = oddPart();
    assert.ok(even < 1e-6, `θ = 0: max |P(Δ) − P(−Δ)| = ${even}`);
    spe.dispose();
  });

  it('Monte-Carlo: E_R = √(D/R)·Q̄K̄ᵀ → Toeplitz(P) with relative error ∝ 1/√R (§10.2: 0.51 at R=16, 0.10 at 256, 0.026 at 4096)', () => {
    // H = 1, D = 4, K = 5 as in the digest; L = 32 to stay fast. Three parameter/noise seeds per R.
    const [D, K, L] = [4, 5, 32];
    const Rs = [16, 64, 256, 1024, 4096];
    const digest: Record<number, number> = { 16: 0.51, 256: 0.1, 4096: 0.026 };
    const mean: number[] = [];
    for (const R of Rs) {
      let err = 0;
      let pred = 0;
      for (let s = 0; s < 3; s++) {
        const spe = new SineSPE({ numHeads: 1, inFeatures: D, numRealizations: R, numSines: K, rng: new Rng(100 + s) });
        const { qbar, kbar } = spe.forward([1, L], { rng: new Rng(7 + s) });
        const lam = Array.from(spe.amplitudes().dataSync());
        const V = Array.from({ length: D }, (_, d) => lam.slice(d * K, d * K + K).reduce((a, l) => a + l * l, 0) / (2 * K));
        const kernel = kernelJS(spe);
        const E = tf.tidy(() => {
          const q = qbar.reshape([L, D, R]).transpose([1, 0, 2]);
          const k = kbar.reshape([L, D, R]).transpose([1, 0, 2]);
          return tf
            .matMul(q, k, false, true)
            .mul(Math.sqrt(D / R))
            .dataSync();
        });
        let absErr = 0;
        let absP = 0;
        let expErr = 0;
        for (let d = 0; d < D; d++)
          for (let m = 0; m < L; m++)
            for (let n = 0; n < L; n++) {
              const p = kernel(0, d, m - n);
              absErr += Math.abs(E[(d * L + m) * L + n] - p);
              absP += Math.abs(p);
              // E|N(0, (V² + P²)/R)|: a product of jointly Gaussian codes has variance V_q V_k + P².
              expErr += Math.sqrt((V[d] * V[d] + p * p) / R) * Math.sqrt(2 / Math.PI);
            }
        err += absErr / absP / 3;
        pred += expErr / absP / 3;
        tf.dispose([qbar, kbar]);
        spe.dispose();
      }
      mean.push(err);
      assert.ok(err > 0.6 * pred && err < 1.5 * pred, `R=${R}: relative error ${err.toFixed(3)} vs predicted ${pred.toFixed(3)}`);
      if (digest[R]) assert.ok(err > digest[R] / 2 && err < digest[R] * 2, `R=${R}: relative error ${err.toFixed(3)} vs digest ${digest[R]}`);
    }
    // Least-squares slope of log(error) against log(R): −½ for a 1/√R law.
    const xs = Rs.map(Math.log);
    const ys = mean.map(Math.log);
    const xm = xs.reduce((a, b) => a + b) / xs.length;
    const ym = ys.reduce((a, b) => a + b) / ys.length;
    const slope = xs.reduce((a, x, i) => a + (x - xm) * (ys[i] - ym), 0) / xs.reduce((a, x) => a + (x - xm) ** 2, 0);
    assert.ok(Math.abs(slope + 0.5) < 0.12, `log-log slope ${slope.toFixed(3)}, expected −0.5 (errors ${mean.map((e) => e.toFixed(3)).join(', ')})`);
  });

  it('prefix consistency: with the same noise the code for L is the first L positions of the code for L′ > L (§10.10)', () => {
    const spe = new SineSPE({ numHeads: 2, inFeatures: 3, numRealizations: 4, numSines: 3, rng: new Rng(9) });
    const noise = normal(new Rng(90), [1, 2, 3, 6, 4]);
    const short = spe.forward([1, 5], { noise });
    const long = spe.forward([3, 12], { noise });
    for (const key of ['qbar', 'kbar'] as const) {
      assert.equal(maxAbsDiff(short[key], long[key].slice(0, [1, 5, 2, 3, 4])), 0, key);
    }
    // Drawn from equal generator states, the draws (independent of L) coincide too.
    const a = spe.forward([1, 5], { rng: new Rng(3) });
    const b = spe.forward([1, 12], { rng: new Rng(3) });
    assert.equal(maxAbsDiff(a.qbar, b.qbar.slice(0, [1, 5, 2, 3, 4])), 0);
    tf.dispose([noise, short.qbar, short.kbar, long.qbar, long.kbar, a.qbar, a.kbar, b.qbar, b.kbar]);
    spe.dispose();
  });

  it('codes are fresh at every call, shared over the batch (one draw per forward pass, §3)', () => {
    const spe = new SineSPE({ numHeads: 1, inFeatures: 2, numRealizations: 8, numSines: 2 });
    const a = spe.forward([4, 6]);
    const b = spe.forward([4, 6]);
    assert.equal(a.qbar.shape[0], 1);
    assert.ok(maxAbsDiff(a.qbar, b.qbar) > 1e-3, 'two calls should draw different codes');
    tf.dispose([a.qbar, a.kbar, b.qbar, b.kbar]);
    spe.dispose();
  });

  it('rejects bad input, naming the parameter', () => {
    assertThrowsNaming(() => new SineSPE({ numHeads: 1, inFeatures: 2, numRealizations: 0 }), /numRealizations: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => new SineSPE({ numHeads: 1, inFeatures: 2, numSines: 0 }), /numSines/);
    assertThrowsNaming(() => new SineSPE({ numHeads: 0, inFeatures: 2 }), /numHeads/);
    assertThrowsNaming(() => new SineSPE({ numHeads: 1, inFeatures: 1.5 }), /inFeatures/);
    const spe = new SineSPE({ numHeads: 2, inFeatures: 3, numRealizations: 5, numSines: 4 });
    assertThrowsNaming(() => spe.forward([2, 4, 4]), /shape: SineSPE supports only 1-D inputs/);
    assertThrowsNaming(() => spe.forward([2, 0]), /shape\[1\]: expected an integer >= 1, got 0/);
    const bad = tf.zeros([1, 2, 3, 8, 6]);
    assertThrowsNaming(() => spe.forward([1, 4], { noise: bad }), /noise: expected shape \[1, 2, 3, 8, 5\]/, /got \[1, 2, 3, 8, 6\]/);
    assertThrowsNaming(() => spe.positionalKernel(0), /length/);
    bad.dispose();
    spe.dispose();
  });

  it('does not leak tensors over repeated forward + backward passes', () => {
    const spe = new SineSPE({ numHeads: 2, inFeatures: 3, numRealizations: 4, numSines: 2 });
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const { qbar, kbar } = spe.forward([1, 6]);
        return qbar.mul(kbar).sum().add(spe.positionalKernel(3).sum()) as tf.Scalar;
      });
      tf.dispose([value, ...Object.values(grads)]);
    };
    assertNoLeak(step);
    spe.dispose();
  });
});
