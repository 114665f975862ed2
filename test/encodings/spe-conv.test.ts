import { strict as assert } from 'assert';
import { tf, Rng, useNative, runJsKernel } from '../../src/backend';
import { ConvSPE } from '../../src/encodings/spe';
import { assertClose, assertThrowsNaming, maxAbsDiff, assertNoLeak, itOnKernelPaths, requireNative } from '../helpers';
import { CONV_CODE, CONV_CODE_FILTER_GRAD } from '../../src/encodings/spe/conv-kernels';

const normal = (rng: Rng, shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);

/** The filters' cross-correlation Σ_j convK_j · convQ_{j+Δ} of channel c (1-D filters of length P), in plain JS. */
function crossCorrelation(wk: ArrayLike<number>, wq: ArrayLike<number>, c: number, P: number, delta: number): number {
  let s = 0;
  for (let j = 0; j < P; j++) if (j + delta >= 0 && j + delta < P) s += wk[c * P + j] * wq[c * P + j + delta];
  return s;
}

/**
 * Draws a code with the identity basis as noise (one realization per noise coordinate of
 * every channel, reference layout [R, C, ...T]) and returns the exact covariance
 * √(R·D)·Σ_r qbar[p, c, r]·kbar[p′, c, r] per channel c, [C, nPositions, nPositions].
 */
function exactCovariance(spe: ConvSPE, spatial: number[]): { cov: Float32Array; n: number } {
  const C = spe.numHeads * spe.inFeatures;
  const T = spatial.map((s, i) => s + 4 * spe.kernelSize[i]);
  const nT = T.reduce((a, b) => a * b, 1);
  const R = C * nT;
  const basis = new Float32Array(R * C * nT);
  for (let c = 0; c < C; c++) for (let t = 0; t < nT; t++) basis[((c * nT + t) * C + c) * nT + t] = 1;
  return tf.tidy(() => {
    const noise = tf.tensor(basis, [R, C, ...T]);
    const { qbar, kbar } = spe.forward([1, ...spatial], { noise, numRealizations: R });
    const n = spatial.reduce((a, b) => a * b, 1);
    const q = qbar.reshape([n, C, R]).transpose([1, 0, 2]);
    const k = kbar.reshape([n, C, R]).transpose([1, 0, 2]);
    return {
      cov: tf
        .matMul(q, k, false, true)
        .mul(Math.sqrt(R * spe.inFeatures))
        .dataSync() as Float32Array,
      n,
    };
  });
}

describe('ConvSPE (convolutive code generator, SPE paper, Liutkus et al. 2021)', () => {
  it('forward((B, ...S)) returns codes of shape [1, ...S, H, D, R] for 1-D and 2-D (§10.1)', () => {
    const one = new ConvSPE({ numHeads: 2, inFeatures: 3, numRealizations: 5, kernelSize: 4 });
    const a = one.forward([3, 9]);
    assert.deepEqual(a.qbar.shape, [1, 9, 2, 3, 5]);
    assert.deepEqual(a.kbar.shape, [1, 9, 2, 3, 5]);
    assert.deepEqual(one.convQ.shape, [2, 3, 4]);
    const two = new ConvSPE({ ndim: 2, numHeads: 2, inFeatures: 3, numRealizations: 5, kernelSize: [2, 3] });
    const b = two.forward([1, 4, 6]);
    assert.deepEqual(b.qbar.shape, [1, 4, 6, 2, 3, 5]);
    assert.deepEqual(two.convK.shape, [2, 3, 2, 3]);
    assert.deepEqual(two.positionalKernel().shape, [2, 3, 3, 5]);
    tf.dispose([a.qbar, a.kbar, b.qbar, b.kbar]);
    one.dispose();
    two.dispose();
  });

  itOnKernelPaths('with injected noise, codes are the valid cross-correlations cropped to [P, P+S), scaled by (RD)^(-¼), in plain JS (1-D)', () => {
    const [H, D, R, P, L] = [2, 2, 3, 3, 5];
    const spe = new ConvSPE({ numHeads: H, inFeatures: D, numRealizations: R, kernelSize: P, rng: new Rng(3) });
    const T = L + 4 * P;
    const noise = normal(new Rng(4), [R, H * D, T]);
    const { qbar, kbar } = spe.forward([1, L], { noise });
    const [z, wq, wk] = [noise, spe.convQ, spe.convK].map((v) => v.dataSync());
    const scale = Math.pow(R * D, -0.25);
    const expQ: number[] = [];
    const expK: number[] = [];
    for (let m = 0; m < L; m++)
      for (let c = 0; c < H * D; c++)
        for (let r = 0; r < R; r++) {
          let yq = 0;
          let yk = 0;
          for (let j = 0; j < P; j++) {
            const zz = z[(r * H * D + c) * T + m + P + j];
            yq += wk[c * P + j] * zz; // the reference's swap: conv_k makes qbar
            yk += wq[c * P + j] * zz;
          }
          expQ.push(yq * scale);
          expK.push(yk * scale);
        }
    assertClose(qbar.dataSync(), expQ, 1e-5, 1e-4, 'qbar');
    assertClose(kbar.dataSync(), expK, 1e-5, 1e-4, 'kbar');
    tf.dispose([noise, qbar, kbar]);
    spe.dispose();
  });

  itOnKernelPaths('1-D filter gradients equal plain JS (fused code kernel; composed: a forward correlation of the noise with the output gradient)', () => {
    const [H, D, R, P, L] = [2, 2, 3, 3, 5];
    const spe = new ConvSPE({ numHeads: H, inFeatures: D, numRealizations: R, kernelSize: P, rng: new Rng(13) });
    const T = L + 4 * P;
    const C = H * D;
    const noise = normal(new Rng(14), [R, C, T]);
    const weight = normal(new Rng(15), [1, L, H, D, R]);
    // loss = Σ weight·qbar + Σ (weight²)·kbar, so dL/dqbar = weight and dL/dkbar = weight².
    const { grads } = tf.variableGrads(() => {
      const { qbar, kbar } = spe.forward([1, L], { noise });
      return qbar.mul(weight).sum().add(kbar.mul(weight.square()).sum()) as tf.Scalar;
    }, [spe.convQ, spe.convK]);
    const [z, w] = [noise.dataSync(), weight.dataSync()];
    const scale = Math.pow(R * D, -0.25);
    const expK = new Array<number>(C * P).fill(0); // convK makes qbar (the reference's swap)
    const expQ = new Array<number>(C * P).fill(0);
    for (let m = 0; m < L; m++)
      for (let c = 0; c < C; c++)
        for (let r = 0; r < R; r++) {
          const g = w[(m * C + c) * R + r];
          for (let j = 0; j < P; j++) {
            const zz = z[(r * C + c) * T + m + P + j] * scale;
            expK[c * P + j] += g * zz;
            expQ[c * P + j] += g * g * zz;
          }
        }
    assertClose(grads[spe.convK.name], expK, 1e-5, 1e-4, 'd/d convK');
    assertClose(grads[spe.convQ.name], expQ, 1e-5, 1e-4, 'd/d convQ');
    tf.dispose([noise, weight, ...Object.values(grads)]);
    spe.dispose();
  });

  itOnKernelPaths('the code kernels (RpelabConvSPECode and its filter gradient) equal the literal sums (noise [C, T, R], code [S, C, R])', (native) => {
    // [11, 3, 5, 4]: below every block of the native kernels; [85, 2, 37, 6]: their blocks of 4
    // positions or lags × 16 realizations, runs of 32 positions, and every edge (S = 80, R = 37, P = 6).
    for (const [T, C, R, P] of [
      [11, 3, 5, 4],
      [85, 2, 37, 6],
    ]) {
      literalConvCode(T, C, R, P, native);
    }
  });

  /** The code kernels against the literal sums; natively, in float32 in the header's order, to the bit. */
  function literalConvCode(T: number, C: number, R: number, P: number, native: boolean): void {
    const S = T - P + 1;
    const rng = new Rng(21);
    const [z, f, dy] = [normal(rng, [C, T, R]), normal(rng, [C, P]), normal(rng, [S, C, R])];
    const [zv, fv, dv] = [z.dataSync(), f.dataSync(), dy.dataSync()];
    const y = runJsKernel(CONV_CODE, { z, f }, {})[0];
    const df = runJsKernel(CONV_CODE_FILTER_GRAD, { z, dy }, {})[0];
    assert.deepEqual(y.shape, [S, C, R]);
    assert.deepEqual(df.shape, [C, P]);
    const expY: number[] = [];
    for (let m = 0; m < S; m++)
      for (let c = 0; c < C; c++)
        for (let r = 0; r < R; r++) {
          let acc = 0;
          for (let j = 0; j < P; j++) acc += fv[c * P + j] * zv[(c * T + m + j) * R + r];
          expY.push(acc);
        }
    const expDf: number[] = [];
    for (let c = 0; c < C; c++)
      for (let j = 0; j < P; j++) {
        let acc = 0;
        for (let m = 0; m < S; m++) for (let r = 0; r < R; r++) acc += dv[(m * C + c) * R + r] * zv[(c * T + m + j) * R + r];
        expDf.push(acc);
      }
    assertClose(y.dataSync(), expY, 1e-5, 1e-5, `y [${T}, ${C}, ${R}, ${P}]`);
    assertClose(df.dataSync(), expDf, 1e-5, 1e-5, `df [${T}, ${C}, ${R}, ${P}]`);
    if (native) {
      // native/src/conv_spe.h: y sums j ascending; df sums m ascending per r, then r ascending.
      const f32 = Math.fround;
      const y32: number[] = [];
      for (let m = 0; m < S; m++)
        for (let c = 0; c < C; c++)
          for (let r = 0; r < R; r++) {
            let acc = 0;
            for (let j = 0; j < P; j++) acc = f32(acc + f32(fv[c * P + j] * zv[(c * T + m + j) * R + r]));
            y32.push(acc);
          }
      const df32: number[] = [];
      for (let c = 0; c < C; c++)
        for (let j = 0; j < P; j++) {
          let total = 0;
          for (let r = 0; r < R; r++) {
            let lane = 0;
            for (let m = 0; m < S; m++) lane = f32(lane + f32(dv[(m * C + c) * R + r] * zv[(c * T + m + j) * R + r]));
            total = f32(total + lane);
          }
          df32.push(total);
        }
      assert.deepEqual(Array.from(y.dataSync()), y32, `y [${T}, ${C}, ${R}, ${P}] to the bit`);
      assert.deepEqual(Array.from(df.dataSync()), df32, `df [${T}, ${C}, ${R}, ${P}] to the bit`);
    }
    tf.dispose([z, f, dy, y, df]);
  }

  it('drawn codes and their filter gradients are the same with the fused code kernel (native) and the composed depthwise path', function () {
    requireNative(this);
    const [H, D, R, P, L] = [2, 3, 16, 5, 40];
    const spe = new ConvSPE({ numHeads: H, inFeatures: D, numRealizations: R, kernelSize: P, rng: new Rng(31) });
    const weight = normal(new Rng(32), [1, L, H, D, R]);
    const run = (native: boolean) => {
      const was = useNative(native);
      try {
        const rng = new Rng(33);
        let codes: tf.Tensor[] = [];
        const { grads } = tf.variableGrads(() => {
          const { qbar, kbar } = spe.forward([1, L], { rng });
          codes = [tf.keep(qbar.clone()), tf.keep(kbar.clone())];
          return qbar.mul(weight).sum().add(kbar.mul(weight.square()).sum()) as tf.Scalar;
        }, [spe.convQ, spe.convK]);
        return { codes, grads: [grads[spe.convQ.name], grads[spe.convK.name]] };
      } finally {
        useNative(was);
      }
    };
    const fused = run(true);
    const composed = run(false);
    fused.codes.forEach((c, i) => assertClose(c.dataSync(), composed.codes[i].dataSync(), 1e-5, 1e-4, i ? 'kbar' : 'qbar'));
    fused.grads.forEach((g, i) => assertClose(g.dataSync(), composed.grads[i].dataSync(), 1e-4, 1e-4, i ? 'd/d convK' : 'd/d convQ'));
    tf.dispose([weight, ...fused.codes, ...composed.codes, ...fused.grads, ...composed.grads]);
    spe.dispose();
  });

  it('with injected noise, 2-D codes are the valid 2-D cross-correlations cropped on both axes, in plain JS', () => {
    const [H, D, R, P0, P1, S0, S1] = [1, 2, 2, 2, 3, 3, 4];
    const spe = new ConvSPE({ ndim: 2, numHeads: H, inFeatures: D, numRealizations: R, kernelSize: [P0, P1], rng: new Rng(5) });
    const [T0, T1] = [S0 + 4 * P0, S1 + 4 * P1];
    const noise = normal(new Rng(6), [R, H * D, T0, T1]);
    const { qbar } = spe.forward([1, S0, S1], { noise });
    const [z, wk] = [noise, spe.convK].map((v) => v.dataSync());
    const expQ: number[] = [];
    for (let a = 0; a < S0; a++)
      for (let b = 0; b < S1; b++)
        for (let c = 0; c < H * D; c++)
          for (let r = 0; r < R; r++) {
            let y = 0;
            for (let i = 0; i < P0; i++)
              for (let j = 0; j < P1; j++) {
                y += wk[(c * P0 + i) * P1 + j] * z[((r * H * D + c) * T0 + a + P0 + i) * T1 + b + P1 + j];
              }
            expQ.push(y * Math.pow(R * D, -0.25));
          }
    assertClose(qbar.dataSync(), expQ, 1e-5, 1e-4, 'qbar');
    tf.dispose([noise, qbar]);
    spe.dispose();
  });

  it('initialisation: weights ~ U[0,1)/√(P/2) ≥ 0, expected kernel the triangle (P − |Δ|)/(2P) with P(0) ≈ 0.5 (§4, §10.9)', () => {
    const [H, D, P] = [4, 64, 8];
    const spe = new ConvSPE({ numHeads: H, inFeatures: D, kernelSize: P, rng: new Rng(7) });
    const hi = 1 / Math.sqrt(P / 2);
    for (const w of [spe.convQ, spe.convK]) {
      const v = w.dataSync();
      assert.ok(
        v.every((x) => x >= 0 && x < hi),
        `weights in [0, ${hi})`,
      );
    }
    // Reference draw order: conv_q then conv_k, U[0,1) each, scaled.
    const rng = new Rng(7);
    assertClose(spe.convQ.dataSync(), rng.uniformArray(H * D * P, 0, hi), 1e-7, 1e-6, 'convQ');
    assertClose(spe.convK.dataSync(), rng.uniformArray(H * D * P, 0, hi), 1e-7, 1e-6, 'convK');
    const mean = tf.tidy(() =>
      spe
        .positionalKernel()
        .reshape([H * D, 2 * P - 1])
        .mean(0)
        .dataSync(),
    );
    for (let t = 0; t < 2 * P - 1; t++) {
      const lag = Math.abs(t - (P - 1));
      const expected = (P - lag) / (2 * P);
      // Each of the P−|Δ| products u·v/(P/2) of independent U[0,1) has variance (1/9 − 1/16)/(P/2)².
      const se = Math.sqrt(((P - lag) * (1 / 9 - 1 / 16)) / (P / 2) ** 2 / (H * D));
      assert.ok(Math.abs(mean[t] - expected) < 5 * se, `lag ${lag}: mean kernel ${mean[t]} vs ${expected} ± ${5 * se}`);
    }
    assert.ok(Math.abs(mean[P - 1] - 0.5) < 0.05);
    spe.dispose();
  });

  it('the exact code covariance is Toeplitz with P(Δ) = Σ_j w^k_j w^q_{j+Δ}, exactly 0 for |Δ| ≥ P (§10.3, §10.4, §10.5)', () => {
    const [H, D, P, L] = [1, 2, 3, 7];
    const spe = new ConvSPE({ numHeads: H, inFeatures: D, kernelSize: P, rng: new Rng(8) });
    const { cov } = exactCovariance(spe, [L]);
    const kern = spe.positionalKernel().dataSync(); // [H, D, 2P−1]
    const [wq, wk] = [spe.convQ.dataSync(), spe.convK.dataSync()];
    let worst = 0;
    for (let c = 0; c < H * D; c++)
      for (let m = 0; m < L; m++)
        for (let n = 0; n < L; n++) {
          const got = cov[(c * L + m) * L + n];
          const delta = m - n;
          if (Math.abs(delta) >= P) {
            assert.equal(got, 0, `lag ${delta} ≥ P must be exactly 0`);
            continue;
          }
          const want = crossCorrelation(wk, wq, c, P, delta);
          worst = Math.max(worst, Math.abs(got - want), Math.abs(kern[c * (2 * P - 1) + delta + P - 1] - want));
        }
    assert.ok(worst < 1e-5, `max |covariance − Σ w^k w^q| = ${worst}`);
    // Code variances: Var[Q̄] = Σ(w^k)², Var[K̄] = Σ(w^q)², read off the basis codes.
    const T = L + 4 * P;
    const R = H * D * T;
    const basis = tf.tidy(() =>
      tf
        .oneHot(tf.range(0, R, 1, 'int32'), R)
        .reshape([R, H * D, T])
        .mul(1),
    );
    const { qbar, kbar } = spe.forward([1, L], { noise: basis, numRealizations: R });
    const varQ = tf.tidy(() =>
      qbar
        .square()
        .sum(-1)
        .mul(Math.sqrt(R * D))
        .reshape([L, H * D])
        .dataSync(),
    );
    const varK = tf.tidy(() =>
      kbar
        .square()
        .sum(-1)
        .mul(Math.sqrt(R * D))
        .reshape([L, H * D])
        .dataSync(),
    );
    for (let c = 0; c < H * D; c++) {
      let sk = 0;
      let sq = 0;
      for (let j = 0; j < P; j++) {
        sk += wk[c * P + j] ** 2;
        sq += wq[c * P + j] ** 2;
      }
      for (let m = 0; m < L; m++) {
        assert.ok(Math.abs(varQ[m * H * D + c] - sk) < 1e-5, `Var[Q̄] ${varQ[m * H * D + c]} vs Σ(w^k)² ${sk}`);
        assert.ok(Math.abs(varK[m * H * D + c] - sq) < 1e-5, `Var[K̄] ${varK[m * H * D + c]} vs Σ(w^q)² ${sq}`);
      }
    }
    tf.dispose([basis, qbar, kbar]);
    spe.dispose();
  });

  it('2-D: the exact code covariance depends only on the lag (Δ0, Δ1) and equals the 2-D positionalKernel (stationarity)', () => {
    const [P0, P1, S0, S1] = [2, 3, 4, 5];
    const spe = new ConvSPE({ ndim: 2, numHeads: 1, inFeatures: 1, kernelSize: [P0, P1], rng: new Rng(9) });
    const { cov, n } = exactCovariance(spe, [S0, S1]);
    const kern = spe.positionalKernel().dataSync(); // [1, 1, 2P0−1, 2P1−1]
    const [wq, wk] = [spe.convQ.dataSync(), spe.convK.dataSync()];
    let worst = 0;
    for (let m = 0; m < n; m++)
      for (let p = 0; p < n; p++) {
        const [d0, d1] = [Math.floor(m / S1) - Math.floor(p / S1), (m % S1) - (p % S1)];
        const got = cov[m * n + p];
        if (Math.abs(d0) >= P0 || Math.abs(d1) >= P1) {
          assert.equal(got, 0, `lag (${d0}, ${d1}) outside the support must be exactly 0`);
          continue;
        }
        let want = 0;
        for (let i = 0; i < P0; i++)
          for (let j = 0; j < P1; j++) {
            if (i + d0 >= 0 && i + d0 < P0 && j + d1 >= 0 && j + d1 < P1) want += wk[i * P1 + j] * wq[(i + d0) * P1 + j + d1];
          }
        worst = Math.max(worst, Math.abs(got - want), Math.abs(kern[(d0 + P0 - 1) * (2 * P1 - 1) + d1 + P1 - 1] - want));
      }
    assert.ok(worst < 1e-5, `max deviation from the 2-D kernel ${worst}`);
    spe.dispose();
  });

  it('w^q = w^k gives an even kernel; independent random filters do not (§10.6)', () => {
    const spe = new ConvSPE({ numHeads: 1, inFeatures: 3, kernelSize: 5, rng: new Rng(10) });
    const odd = () =>
      tf.tidy(() => {
        const P = spe.positionalKernel();
        return P.sub(P.reverse(-1)).abs().max().dataSync()[0];
      });
    assert.ok(odd() > 1e-2, `random filters: max |P(Δ) − P(−Δ)| = ${odd()}`);
    spe.convQ.assign(spe.convK);
    assert.ok(odd() < 1e-6, `w^q = w^k: max |P(Δ) − P(−Δ)| = ${odd()}`);
    spe.dispose();
  });

  it('Monte-Carlo: E_R → Toeplitz(P) with relative error ∝ 1/√R, matching E|N(0, (V_qV_k + P²)/R)| (§10.2)', () => {
    // The digest lists 0.35 (R=256) and 0.09 (R=4096) for P = 8 without the length; at L = 64 the
    // sampling-theory prediction (and this implementation) give ≈ 0.59 and 0.15, at L = 32 ≈ 0.31 and 0.08.
    // We check the prediction, whose mean |P| counts the exact zeros beyond lag P − 1.
    const [D, P, L] = [4, 8, 32];
    const errs: number[] = [];
    for (const R of [128, 2048]) {
      const spe = new ConvSPE({ numHeads: 1, inFeatures: D, numRealizations: R, kernelSize: P, rng: new Rng(100) });
      const { qbar, kbar } = spe.forward([1, L], { rng: new Rng(7) });
      const E = tf.tidy(() => {
        const q = qbar.reshape([L, D, R]).transpose([1, 0, 2]);
        const k = kbar.reshape([L, D, R]).transpose([1, 0, 2]);
        return tf
          .matMul(q, k, false, true)
          .mul(Math.sqrt(D / R))
          .dataSync();
      });
      const [wq, wk] = [spe.convQ.dataSync(), spe.convK.dataSync()];
      let absErr = 0;
      let absP = 0;
      let expErr = 0;
      for (let d = 0; d < D; d++) {
        let vq = 0;
        let vk = 0;
        for (let j = 0; j < P; j++) {
          vq += wk[d * P + j] ** 2;
          vk += wq[d * P + j] ** 2;
        }
        for (let m = 0; m < L; m++)
          for (let n = 0; n < L; n++) {
            const p = Math.abs(m - n) < P ? crossCorrelation(wk, wq, d, P, m - n) : 0;
            absErr += Math.abs(E[(d * L + m) * L + n] - p);
            absP += Math.abs(p);
            expErr += Math.sqrt((vq * vk + p * p) / R) * Math.sqrt(2 / Math.PI);
          }
      }
      const [err, pred] = [absErr / absP, expErr / absP];
      assert.ok(Math.abs(err / pred - 1) < 0.15, `R=${R}: relative error ${err.toFixed(3)} vs predicted ${pred.toFixed(3)}`);
      errs.push(err);
      tf.dispose([qbar, kbar]);
      spe.dispose();
    }
    const ratio = errs[0] / errs[1];
    assert.ok(ratio > 3.2 && ratio < 4.8, `error ratio R=128 / R=2048 = ${ratio.toFixed(2)}, expected √16 = 4`);
  });

  it('prefix consistency: the code for L equals the first L positions of the code for L′ > L, with sliced or re-drawn noise', () => {
    const [H, D, R, P] = [1, 2, 3, 2];
    const spe = new ConvSPE({ numHeads: H, inFeatures: D, numRealizations: R, kernelSize: P, rng: new Rng(11) });
    const noise = normal(new Rng(12), [R, H * D, 12 + 4 * P]);
    const long = spe.forward([1, 12], { noise });
    const short = spe.forward([1, 5], { noise: noise.slice([0, 0, 0], [R, H * D, 5 + 4 * P]) });
    assert.ok(maxAbsDiff(short.qbar, long.qbar.slice(0, [1, 5, H, D, R])) < 1e-6);
    assert.ok(maxAbsDiff(short.kbar, long.kbar.slice(0, [1, 5, H, D, R])) < 1e-6);
    // Drawn noise is filled position-major, so equal generator states give prefix-consistent codes.
    const a = spe.forward([1, 5], { rng: new Rng(3) });
    const b = spe.forward([1, 12], { rng: new Rng(3) });
    assert.ok(maxAbsDiff(a.qbar, b.qbar.slice(0, [1, 5, H, D, R])) < 1e-6);
    tf.dispose([noise, long.qbar, long.kbar, short.qbar, short.kbar, a.qbar, a.kbar, b.qbar, b.kbar]);
    spe.dispose();
  });

  itOnKernelPaths(
    'drawn noise is the grid drawn position-major (each position: realizations, then channels): the code of injecting that draw (1-D and 2-D)',
    () => {
      for (const [ndim, P, S] of [
        [1, [3], [7]],
        [2, [2, 3], [4, 5]],
      ] as Array<[1 | 2, number[], number[]]>) {
        const [H, D, R] = [2, 2, 3];
        const C = H * D;
        const spe = new ConvSPE({ ndim, numHeads: H, inFeatures: D, numRealizations: R, kernelSize: ndim === 1 ? P[0] : P, rng: new Rng(4) });
        const T = spe.noiseShape(S);
        const positions = T.reduce((a, b) => a * b, 1);
        // The reference layout [R, C, ...T], filled in the stream's order.
        const rng = new Rng(7);
        const full = new Float32Array(R * C * positions);
        for (let t = 0; t < positions; t++) for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) full[(r * C + c) * positions + t] = rng.normal();
        const noise = tf.tensor(full, [R, C, ...T]);
        const drawn = spe.forward([1, ...S], { rng: new Rng(7) });
        const injected = spe.forward([1, ...S], { noise });
        assertClose(drawn.qbar, injected.qbar.dataSync(), 0, 0, `${ndim}-D qbar`);
        assertClose(drawn.kbar, injected.kbar.dataSync(), 0, 0, `${ndim}-D kbar`);
        tf.dispose([noise, drawn.qbar, drawn.kbar, injected.qbar, injected.kbar]);
        spe.dispose();
      }
    },
  );

  it('rejects bad input, naming the parameter', () => {
    assertThrowsNaming(() => new ConvSPE({ numHeads: 1, inFeatures: 2, kernelSize: 0 }), /kernelSize: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => new ConvSPE({ ndim: 2, numHeads: 1, inFeatures: 2, kernelSize: [3] }), /kernelSize: expected an integer or 2 integers/);
    assertThrowsNaming(() => new ConvSPE({ ndim: 3 as 1, numHeads: 1, inFeatures: 2, kernelSize: 2 }), /ndim: expected 1 or 2, got 3/);
    assertThrowsNaming(() => new ConvSPE({ numHeads: 1, inFeatures: 2, numRealizations: 0, kernelSize: 2 }), /numRealizations/);
    const spe = new ConvSPE({ numHeads: 1, inFeatures: 2, numRealizations: 3, kernelSize: 4 });
    assertThrowsNaming(() => spe.forward([1, 3]), /kernelSize: expected at most the input size 3 on axis 0, got 4/);
    assertThrowsNaming(() => spe.forward([1, 5, 5]), /shape: expected \[batch, length\]/);
    const bad = tf.zeros([3, 2, 20]);
    assertThrowsNaming(() => spe.forward([1, 5], { noise: bad }), /noise: expected shape \[3, 2, 21\]/);
    bad.dispose();
    spe.dispose();
  });

  it('filters receive gradients and nothing leaks over repeated forward + backward passes (1-D and 2-D)', () => {
    for (const spe of [
      new ConvSPE({ numHeads: 2, inFeatures: 2, numRealizations: 3, kernelSize: 3 }),
      new ConvSPE({ ndim: 2, numHeads: 1, inFeatures: 2, numRealizations: 3, kernelSize: [2, 2] }),
    ]) {
      const shape = spe.ndim === 1 ? [1, 6] : [1, 3, 4];
      const step = () => {
        const { value, grads } = tf.variableGrads(() => {
          const { qbar, kbar } = spe.forward(shape);
          return qbar.mul(kbar).sum().add(spe.positionalKernel().square().sum()) as tf.Scalar;
        });
        for (const [name, g] of Object.entries(grads)) {
          const n = tf.tidy(() => g.abs().sum().dataSync()[0]);
          assert.ok(Number.isFinite(n) && n > 0, `gradient of ${name}: ${n}`);
        }
        tf.dispose([value, ...Object.values(grads)]);
      };
      assertNoLeak(step);
      spe.dispose();
    }
  });
});
