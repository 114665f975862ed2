import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import {
  linearAttention,
  linearAttentionOps,
  linearAttentionStep,
  initLinearAttentionState,
  disposeLinearAttentionState,
  type LinearAttentionOptions,
} from '../../src/attention/linear';
import { assertClose, assertThrowsNaming, withBackend, weightedSumValueAndGrads } from '../helpers';
import { linearAttentionReference } from '../../src/attention/reference';
import { nativeLinearScanApplies } from '../../src/attention/linear-scan';

type LinearAttentionFn = typeof linearAttention;

/**
 * The two forms every equality below is checked on: `linearAttention` as the library runs it (the
 * native kernels where the addon is loaded: scans, and bidirectionally without decay products) and
 * the chunked tf-op form. The native form is skipped (and counted) where the addon is missing:
 * never passed on the tf-op form twice.
 */
const FORMS: Array<{ name: string; fn: LinearAttentionFn; native: boolean }> = [
  { name: 'native scan', fn: linearAttention, native: true },
  { name: 'chunked tf ops', fn: linearAttentionOps, native: false },
];

/** Skips `ctx` when `form` is the native one and the native kernels are not there. */
function skipUnlessTaken(ctx: Mocha.Context, form: (typeof FORMS)[number]): void {
  if (form.native && !nativeLinearScanApplies()) ctx.skip();
}

type Shape4 = [number, number, number, number];

/** A [B, L, H, X] tensor of draws from `rng`: normal, or uniform in [lo, hi) when `range` is given. */
function draw(rng: Rng, shape: Shape4, range?: [number, number]): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(range ? rng.uniformArray(n, range[0], range[1]) : rng.normalArray(n), shape);
}

type QKVFn = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor4D;

/** The gradients for q, k, v of Σ f(q, k, v) ⊙ R, as arrays. */
function weightedSumGrads(f: QKVFn, qkv: tf.Tensor4D[], R: tf.Tensor4D): number[][] {
  return weightedSumValueAndGrads(f, qkv, R).slice(1);
}

interface RefOptions {
  causal: boolean;
  decay?: number[] | null;
  normalize?: 'denominator' | 'none';
  eps?: number;
}

/**
 * The quadratic reference in float64: for each (batch, head) the explicit L×L matrix
 * A[s][t] = w_st q_s·k_t (w_st = r^|s−t|, zero above the diagonal when causal), then
 * out = A V, divided by max(A 1, eps) when normalising. q, k [B, L, H, F] (φ already applied), v [B, L, H, Dv].
 */
function quadraticReference(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, o: RefOptions): Float64Array {
  const [B, L, H, F] = q.shape;
  const Dv = v.shape[3];
  const qd = q.dataSync();
  const kd = k.dataSync();
  const vd = v.dataSync();
  const out = new Float64Array(B * L * H * Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const r = o.decay ? o.decay[h] : 1;
      const A: number[][] = [];
      for (let s = 0; s < L; s++) {
        A.push([]);
        for (let t = 0; t < L; t++) {
          let dot = 0;
          for (let f = 0; f < F; f++) dot += qd[((b * L + s) * H + h) * F + f] * kd[((b * L + t) * H + h) * F + f];
          A[s].push(o.causal && t > s ? 0 : r ** Math.abs(s - t) * dot);
        }
      }
      for (let s = 0; s < L; s++) {
        const den = A[s].reduce((acc, a) => acc + a, 0);
        for (let j = 0; j < Dv; j++) {
          let num = 0;
          for (let t = 0; t < L; t++) num += A[s][t] * vd[((b * L + t) * H + h) * Dv + j];
          out[((b * L + s) * H + h) * Dv + j] = o.normalize === 'none' ? num : num / Math.max(den, o.eps ?? 1e-6);
        }
      }
    }
  }
  return out;
}

describe('linearAttentionReference (attention/reference.ts): the plain formula', () => {
  for (const causal of [true, false]) {
    for (const normalize of ['denominator', 'none'] as const) {
      it(`equals the float64 quadratic written out here (${causal ? 'causal' : 'bidirectional'}, ${normalize}, with a decay)`, () => {
        const rng = new Rng(41);
        tf.tidy(() => {
          const [q, k] = [draw(rng, [2, 11, 2, 5], [0.1, 1]), draw(rng, [2, 11, 2, 5], [0.1, 1])];
          const v = draw(rng, [2, 11, 2, 3]);
          const decay = [0.9, 0.5];
          assertClose(linearAttentionReference(q, k, v, { causal, normalize, decay }), quadraticReference(q, k, v, { causal, normalize, decay }), 1e-5, 1e-4);
        });
      });
    }
  }
});

describe('linearAttention', () => {
  for (const form of FORMS)
    describe(`linear-time equals quadratic (LRPE paper, Qin et al. 2023): ${form.name}`, () => {
      // The native form needs the addon: skipped (and counted) without it.
      beforeEach(function () {
        skipUnlessTaken(this, form);
      });
      // (L, chunkSize): lengths that are not a multiple of the chunk, one that is, a single chunk longer than L, L = 1.
      const shapes: Array<[number, number]> = [
        [37, 8],
        [50, 16],
        [16, 4],
        [11, 64],
        [1, 4],
      ];

      for (const [L, C] of shapes) {
        it(`causal chunked == masked quadratic with denominator (L=${L}, chunk=${C})`, () => {
          tf.tidy(() => {
            const rng = new Rng(L * 100 + C);
            // Positive features, as after elu+1, so that every denominator is positive.
            const q = draw(rng, [2, L, 3, 5], [0.05, 1]);
            const k = draw(rng, [2, L, 3, 5], [0.05, 1]);
            const v = draw(rng, [2, L, 3, 4]);
            const out = form.fn(q, k, v, { causal: true, featureMap: 'identity', chunkSize: C });
            assert.deepEqual(out.shape, [2, L, 3, 4]);
            assertClose(out, quadraticReference(q, k, v, { causal: true }), 1e-5, 1e-4);
          });
        });
      }

      it('causal chunked == masked quadratic without denominator (normalize none, signed features as after LRPE)', () => {
        tf.tidy(() => {
          const rng = new Rng(2);
          const q = draw(rng, [2, 45, 2, 6]);
          const k = draw(rng, [2, 45, 2, 6]);
          const v = draw(rng, [2, 45, 2, 3]);
          const out = form.fn(q, k, v, { causal: true, featureMap: 'identity', normalize: 'none', chunkSize: 16 });
          assertClose(out, quadraticReference(q, k, v, { causal: true, normalize: 'none' }), 1e-4, 1e-4);
        });
      });

      for (const normalize of ['denominator', 'none'] as const) {
        it(`causal with decay r^(s−t) == decay-weighted quadratic (${normalize}), including r = 0.01 with no overflow`, () => {
          tf.tidy(() => {
            const rng = new Rng(3);
            const decay = [0.9, 0.5, 0.01, 1];
            const q = draw(rng, [2, 70, 4, 5], [0.05, 1]);
            const k = draw(rng, [2, 70, 4, 5], [0.05, 1]);
            const v = draw(rng, [2, 70, 4, 3]);
            // chunk 32: a naive r^(−t) factorisation would need 0.01^(−31) = 1e62, beyond float32.
            const out = form.fn(q, k, v, { causal: true, featureMap: 'identity', normalize, decay, chunkSize: 32 });
            const data = out.dataSync();
            assert.ok(data.every(Number.isFinite), 'every output is finite');
            assertClose(data, quadraticReference(q, k, v, { causal: true, decay, normalize }), 1e-5, 1e-4);
          });
        });
      }

      for (const normalize of ['denominator', 'none'] as const) {
        it(`bidirectional φ(Q)(φ(K)ᵀV) == (φ(Q)φ(K)ᵀ)V (${normalize})`, function () {
          tf.tidy(() => {
            const rng = new Rng(4);
            const range: [number, number] | undefined = normalize === 'denominator' ? [0.05, 1] : undefined;
            const q = draw(rng, [2, 29, 3, 6], range);
            const k = draw(rng, [2, 29, 3, 6], range);
            const v = draw(rng, [2, 29, 3, 5]);
            const out = form.fn(q, k, v, { featureMap: 'identity', normalize });
            assertClose(out, quadraticReference(q, k, v, { causal: false, normalize }), 1e-4, 1e-4);
          });
        });
      }

      for (const normalize of ['denominator', 'none'] as const) {
        it(`bidirectional with decay r^|s−t| (causal + anti-causal − diagonal) == weighted quadratic (${normalize})`, () => {
          tf.tidy(() => {
            const rng = new Rng(5);
            const decay = [0.95, 0.6, 0.2];
            const q = draw(rng, [2, 41, 3, 4], [0.05, 1]);
            const k = draw(rng, [2, 41, 3, 4], [0.05, 1]);
            const v = draw(rng, [2, 41, 3, 3]);
            const out = form.fn(q, k, v, { featureMap: 'identity', normalize, decay, chunkSize: 8 });
            assertClose(out, quadraticReference(q, k, v, { causal: false, decay, normalize }), 1e-5, 1e-4);
          });
        });
      }

      it('decay of 1 in every head is no decay', () => {
        tf.tidy(() => {
          const rng = new Rng(6);
          const q = draw(rng, [1, 20, 2, 4]);
          const k = draw(rng, [1, 20, 2, 4]);
          const v = draw(rng, [1, 20, 2, 4]);
          const a = form.fn(q, k, v, { causal: true, decay: [1, 1], chunkSize: 8 });
          const b = form.fn(q, k, v, { causal: true, chunkSize: 8 });
          assertClose(a, b, 1e-6, 1e-6);
        });
      });

      it('the default feature map is elu+1 and the output does not depend on the chunk size', () => {
        tf.tidy(() => {
          const rng = new Rng(7);
          const q = draw(rng, [2, 33, 2, 4]);
          const k = draw(rng, [2, 33, 2, 4]);
          const v = draw(rng, [2, 33, 2, 4]);
          const elu1 = (x: tf.Tensor4D) =>
            tf.tensor4d(
              Array.from(x.dataSync(), (a) => (a > 0 ? a + 1 : Math.exp(a))),
              x.shape,
            );
          const want = quadraticReference(elu1(q), elu1(k), v, { causal: true });
          for (const chunkSize of [1, 5, 8, 33, 100]) {
            assertClose(form.fn(q, k, v, { causal: true, chunkSize }), want, 1e-5, 1e-4, `chunkSize ${chunkSize}`);
          }
          assertClose(form.fn(q, k, v, { causal: false }), quadraticReference(elu1(q), elu1(k), v, { causal: false }), 1e-5, 1e-4, 'bidirectional');
        });
      });

      it('the denominator is clamped at eps', () => {
        tf.tidy(() => {
          // q·k = 0 for every pair: the denominator 0 is clamped, so out = 0 / eps = 0 (not NaN).
          const q = tf.tensor4d([1, 0, 1, 0], [1, 2, 1, 2]);
          const k = tf.tensor4d([0, 1, 0, 1], [1, 2, 1, 2]);
          const v = tf.tensor4d([3, 4], [1, 2, 1, 1]);
          assert.deepEqual(Array.from(form.fn(q, k, v, { featureMap: 'identity', causal: true }).dataSync()), [0, 0]);
          // A tiny positive denominator 1e-9 is raised to eps = 1e-3: out = 1e-9·v / 1e-3.
          const q2 = tf.tensor4d([1e-9], [1, 1, 1, 1]);
          const out = form.fn(q2, tf.onesLike(q2), tf.tensor4d([2], [1, 1, 1, 1]), { featureMap: 'identity', eps: 1e-3 });
          assertClose(out.dataSync(), [2e-6], 1e-9, 1e-3);
        });
      });
    });

  describe('causal form is O(L) in memory (LRPE paper, Qin et al. 2023)', () => {
    /** Runs causal attention at length L under tf.profile; returns peak bytes above the start, largest kernel output, the output. */
    async function profileCausal(L: number) {
      const rng = new Rng(11);
      const q = draw(rng, [1, L, 1, 8], [0, 1]);
      const k = draw(rng, [1, L, 1, 8], [0, 1]);
      const v = draw(rng, [1, L, 1, 8]);
      const start = tf.memory().numBytes;
      let out: tf.Tensor4D | null = null;
      const info = await tf.profile(() => {
        out = linearAttention(q, k, v, { causal: true, featureMap: 'identity' });
        return out;
      });
      const largest = Math.max(...info.kernels.flatMap((kr) => kr.outputShapes.map((s) => (s as number[]).reduce((a, b) => a * b, 1))));
      return { q, k, v, out: out! as tf.Tensor4D, peak: info.peakBytes - start, largest };
    }

    it('L = 16384: peak tf.memory().numBytes stays far below L² floats, no L×L-sized tensor, output == O(L) JS recurrence', async function () {
      this.timeout(60000);
      const L = 16384;
      const small = await profileCausal(L / 4);
      const big = await profileCausal(L);
      try {
        const quadraticBytes = L * L * 4;
        assert.ok(big.peak < quadraticBytes / 20, `peak ${big.peak} bytes vs L² floats ${quadraticBytes} bytes`);
        assert.ok(big.largest < (L * L) / 100, `largest kernel output has ${big.largest} elements`);
        // Quadrupling L must roughly quadruple the peak (a quadratic implementation would multiply it by 16).
        assert.ok(big.peak / small.peak < 5, `peak grows ${big.peak / small.peak}x for 4x the length`);

        // Reference: the recurrence S_t = S_{t−1} + k_t v_tᵀ, z_t = z_{t−1} + k_t in float64.
        const [qd, kd, vd, od] = [big.q, big.k, big.v, big.out].map((t) => t.dataSync());
        const S = new Float64Array(64);
        const z = new Float64Array(8);
        let worst = 0;
        for (let t = 0; t < L; t++) {
          for (let f = 0; f < 8; f++) {
            z[f] += kd[t * 8 + f];
            for (let j = 0; j < 8; j++) S[f * 8 + j] += kd[t * 8 + f] * vd[t * 8 + j];
          }
          let den = 0;
          for (let f = 0; f < 8; f++) den += qd[t * 8 + f] * z[f];
          for (let j = 0; j < 8; j++) {
            let num = 0;
            for (let f = 0; f < 8; f++) num += qd[t * 8 + f] * S[f * 8 + j];
            worst = Math.max(worst, Math.abs(od[t * 8 + j] - num / Math.max(den, 1e-6)) / (1 + Math.abs(num / den)));
          }
        }
        assert.ok(worst < 1e-4, `worst relative error ${worst}`);
      } finally {
        tf.dispose([small.q, small.k, small.v, small.out, big.q, big.k, big.v, big.out]);
      }
    });
  });

  for (const form of FORMS)
    describe(`gradients: ${form.name}`, () => {
      // The native form needs the addon: skipped (and counted) without it.
      beforeEach(function () {
        skipUnlessTaken(this, form);
      });
      const variants: Array<[string, LinearAttentionOptions]> = [
        ['causal', { causal: true, chunkSize: 8 }],
        ['causal, decay, no denominator', { causal: true, chunkSize: 8, decay: [0.8, 0.3], normalize: 'none' }],
        ['bidirectional', { causal: false }],
        ['bidirectional, decay', { causal: false, decay: [0.8, 0.3], chunkSize: 8 }],
      ];

      /** Gradients of Σ out ⊙ R for q, k, v at fixed seeded inputs (φ = identity on positive inputs). */
      function gradsOf(f: QKVFn): number[][] {
        return tf.tidy(() => {
          const rng = new Rng(21);
          const q = draw(rng, [2, 19, 2, 3], [0.05, 1]);
          const k = draw(rng, [2, 19, 2, 3], [0.05, 1]);
          const v = draw(rng, [2, 19, 2, 4]);
          return weightedSumGrads(f, [q, k, v], draw(rng, [2, 19, 2, 4]));
        });
      }

      for (const [name, opts] of variants) {
        it(`${name}: gradients for q, k, v equal those of the quadratic reference`, function () {
          const o = { ...opts, featureMap: 'identity' as const };
          const got = gradsOf((q, k, v) => form.fn(q, k, v, o));
          const want = gradsOf((q, k, v) => linearAttentionReference(q, k, v, { causal: !!o.causal, decay: o.decay, normalize: o.normalize }));
          ['q', 'k', 'v'].forEach((n, i) => {
            assert.ok(
              got[i].some((x) => x !== 0),
              `d${n} is not all zero`,
            );
            assertClose(got[i], want[i], 1e-4, 1e-3, `d${n}`);
          });
        });

        it(`${name}: gradients for q, k, v agree between wasm and cpu`, async function () {
          const run = () => gradsOf((q, k, v) => form.fn(q, k, v, opts));
          const onCpu = await withBackend('cpu', run);
          const onWasm = await withBackend('wasm', run);
          ['q', 'k', 'v'].forEach((n, i) => assertClose(onWasm[i], onCpu[i], 1e-5, 1e-4, `d${n}`));
        });
      }

      for (const causal of [true, false]) {
        it(`${causal ? 'causal' : 'bidirectional, decay'}, φ = elu + 1 (inside the native kernel): gradients equal those of the reference on elu(x) + 1`, function () {
          const decay = causal ? null : [0.8, 0.3];
          const rng = new Rng(23);
          // Normal draws: both branches of elu.
          const [q, k, v, R] = [3, 3, 4, 4].map((d) => draw(rng, [2, 19, 2, d]));
          const grads = (f: QKVFn) => weightedSumGrads(f, [q, k, v], R);
          const phi = (x: tf.Tensor4D) => tf.elu(x).add(1) as tf.Tensor4D;
          const got = grads((a, b, c) => form.fn(a, b, c, { causal, decay, featureMap: 'elu', chunkSize: 8 }));
          const want = grads((a, b, c) => linearAttentionReference(phi(a), phi(b), c, { causal, decay }));
          ['q', 'k', 'v'].forEach((n, i) => assertClose(got[i], want[i], 1e-4, 1e-3, `d${n}`));
          tf.dispose([q, k, v, R]);
        });
      }

      // From 64 features the native backward reads dk and dv from one state, in column blocks of 64
      // with the leftover columns one by one: one block, one block and a tail, two blocks and a tail
      // (bidirectional without decay: matrix products, at any width).
      for (const F of [64, 67, 136]) {
        const wideCases: Array<[string, LinearAttentionOptions]> = [
          ['causal', { causal: true }],
          ['causal, no denominator', { causal: true, normalize: 'none' }],
          ['bidirectional, decay', { causal: false, decay: [0.8, 0.3] }],
          ['bidirectional', { causal: false }],
        ];
        for (const [name, opts] of wideCases) {
          it(`${F} features (${name}, φ = elu + 1): gradients equal those of the reference`, function () {
            const rng = new Rng(24 + F);
            const [q, k] = [0, 1].map(() => tf.tidy(() => draw(rng, [1, 11, 2, F]).mul(0.3) as tf.Tensor4D));
            const [v, R] = [0, 1].map(() => draw(rng, [1, 11, 2, 9]));
            const grads = (f: QKVFn) => weightedSumGrads(f, [q, k, v], R);
            const phi = (x: tf.Tensor4D) => tf.elu(x).add(1) as tf.Tensor4D;
            const got = grads((a, b, c) => form.fn(a, b, c, { ...opts, featureMap: 'elu', chunkSize: 4 }));
            const ref = { causal: !!opts.causal, decay: opts.decay, normalize: opts.normalize };
            const want = grads((a, b, c) => linearAttentionReference(phi(a), phi(b), c, ref));
            ['q', 'k', 'v'].forEach((n, i) => assertClose(got[i], want[i], 1e-4, 1e-3, `d${n}`));
            tf.dispose([q, k, v, R]);
          });
        }
      }

      // Longer causal sequences through the wide scans (the cases above have 11 positions), values too.
      for (const [F, L] of [
        [64, 128],
        [64, 150],
        [136, 77],
      ]) {
        for (const normalize of ['denominator', 'none'] as const) {
          it(`causal over ${L} positions, ${F} features (${normalize}, φ = elu + 1): values and gradients equal those of the reference`, function () {
            const rng = new Rng(31 + F + L);
            const [q, k] = [0, 1].map(() => tf.tidy(() => draw(rng, [1, L, 2, F]).mul(0.3) as tf.Tensor4D));
            const [v, R] = [0, 1].map(() => draw(rng, [1, L, 2, 9]));
            const phi = (x: tf.Tensor4D) => tf.elu(x).add(1) as tf.Tensor4D;
            const run = (f: QKVFn) => weightedSumValueAndGrads(f, [q, k, v], R);
            const got = run((a, b, c) => form.fn(a, b, c, { causal: true, normalize, featureMap: 'elu', chunkSize: 16 }));
            const want = run((a, b, c) => linearAttentionReference(phi(a), phi(b), c, { causal: true, normalize }));
            ['value', 'dq', 'dk', 'dv'].forEach((n, i) => assertClose(got[i], want[i], 1e-4, 1e-3, n));
            tf.dispose([q, k, v, R]);
          });
        }
      }

      it('no tensor leak over repeated forward + backward (every variant, and the recurrent step)', () => {
        const rng = new Rng(22);
        const q = draw(rng, [2, 13, 2, 3]);
        const k = draw(rng, [2, 13, 2, 3]);
        const v = draw(rng, [2, 13, 2, 4]);
        try {
          form.fn(q, k, v, { causal: true }).dispose(); // warm-up
          const before = tf.memory().numTensors;
          for (let i = 0; i < 3; i++) {
            for (const [, opts] of variants) {
              const { value, grads } = tf.valueAndGrads((a, b, c) => form.fn(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, opts).sum())([q, k, v]);
              tf.dispose([value, ...grads]);
            }
            const q1 = q.slice([0, 0, 0, 0], [2, 1, 2, 3]);
            const k1 = k.slice([0, 0, 0, 0], [2, 1, 2, 3]);
            const v1 = v.slice([0, 0, 0, 0], [2, 1, 2, 4]);
            const s0 = initLinearAttentionState(2, 2, 3, 4);
            const { out, state } = linearAttentionStep(q1, k1, v1, s0, { decay: [0.5, 0.9] });
            tf.dispose([q1, k1, v1, out]);
            disposeLinearAttentionState(s0);
            disposeLinearAttentionState(state);
          }
          assert.equal(tf.memory().numTensors, before);
        } finally {
          tf.dispose([q, k, v]);
        }
      });
    });

  describe('recurrent step', () => {
    const cases: Array<[string, LinearAttentionOptions]> = [
      ['denominator', {}],
      ['no denominator', { normalize: 'none' }],
      ['decay, denominator', { decay: [0.7, 0.99, 0.2] }],
      ['decay, no denominator', { decay: [0.7, 0.99, 0.2], normalize: 'none' }],
    ];
    for (const [name, opts] of cases) {
      it(`a sequence of steps reproduces the causal chunked output (${name})`, () => {
        tf.tidy(() => {
          const rng = new Rng(31);
          const L = 23;
          const q = draw(rng, [2, L, 3, 4]);
          const k = draw(rng, [2, L, 3, 4]);
          const v = draw(rng, [2, L, 3, 5]);
          const full = linearAttention(q, k, v, { ...opts, causal: true, chunkSize: 8 });
          let state = initLinearAttentionState(2, 3, 4, 5);
          const outs: tf.Tensor4D[] = [];
          for (let t = 0; t < L; t++) {
            const at = (x: tf.Tensor4D) => x.slice([0, t, 0, 0], [2, 1, 3, x.shape[3]]);
            const r = linearAttentionStep(at(q), at(k), at(v), state, opts);
            assert.equal(r.state.position, t + 1);
            assert.ok(!state.s.isDisposed, 'the old state is left to the caller');
            state = r.state;
            outs.push(r.out);
          }
          assertClose(tf.concat(outs, 1), full, 1e-5, 1e-4);
        });
      });
    }

    it('the state holds the running sums S = Σ φ(k)vᵀ and z = Σ φ(k)', () => {
      tf.tidy(() => {
        const k = tf.tensor4d([0.5, -1], [1, 1, 1, 2]); // φ(k) = elu+1 = [1.5, e^-1]
        const v = tf.tensor4d([2, 3], [1, 1, 1, 2]);
        let st = initLinearAttentionState(1, 1, 2, 2);
        st = linearAttentionStep(k, k, v, st).state;
        st = linearAttentionStep(k, k, v, st, { decay: [0.5] }).state;
        const e = Math.exp(-1);
        // After one step S = φ(k)vᵀ; the second (decay 0.5) gives 0.5 S + φ(k)vᵀ = 1.5 φ(k)vᵀ.
        assertClose(st.s.dataSync(), [1.5 * 1.5 * 2, 1.5 * 1.5 * 3, 1.5 * e * 2, 1.5 * e * 3], 1e-6, 1e-5);
        assertClose(st.z.dataSync(), [1.5 * 1.5, 1.5 * e], 1e-6, 1e-5);
        assert.equal(st.position, 2);
      });
    });
  });

  describe('bad input throws an Error naming the parameter', () => {
    it('rank, shapes, lengths, decay, chunkSize, options', () => {
      tf.tidy(() => {
        const q = tf.ones([1, 6, 2, 3]) as tf.Tensor4D;
        const v = tf.ones([1, 6, 2, 4]) as tf.Tensor4D;
        assertThrowsNaming(() => linearAttention(tf.ones([6, 2, 3]) as unknown as tf.Tensor4D, q, v), /^q: expected rank 4/);
        assertThrowsNaming(() => linearAttention(q, tf.ones([1, 6, 2, 5]) as tf.Tensor4D, v), /^k: expected the same shape as q/);
        assertThrowsNaming(() => linearAttention(q, q, tf.ones([1, 5, 2, 4]) as tf.Tensor4D), /^v: expected the length axis/, /got 5/);
        assertThrowsNaming(() => linearAttention(q, q, tf.ones([1, 6, 3, 4]) as tf.Tensor4D), /^v: expected the heads axis/);
        assertThrowsNaming(() => linearAttention(q, q, v, { decay: [0.5] }), /^decay: expected one rate per head \(length 2\), got length 1/);
        assertThrowsNaming(() => linearAttention(q, q, v, { decay: [0.5, 1.5] }), /^decay: expected every rate in \(0, 1\], got decay\[1\] = 1.5/);
        assertThrowsNaming(() => linearAttention(q, q, v, { causal: true, chunkSize: 0 }), /^chunkSize: expected an integer >= 1, got 0/);
        assertThrowsNaming(() => linearAttention(q, q, v, { chunkSize: 2.5 }), /^chunkSize: /);
        assertThrowsNaming(() => linearAttention(q, q, v, { eps: 0 }), /^eps: /);
        assertThrowsNaming(() => linearAttention(q, q, v, { normalize: 'layer' as 'none' }), /^normalize: expected one of 'denominator', 'none'/);
        assertThrowsNaming(() => linearAttention(q, q, v, { featureMap: 'exp' as 'relu' }), /^featureMap: expected one of 'elu', 'relu', 'identity'/);
        const st = initLinearAttentionState(1, 2, 3, 4);
        assertThrowsNaming(() => linearAttentionStep(q, q, v, st), /^q: expected the length axis \(one token per step\)/);
        const q1 = tf.ones([1, 1, 2, 3]) as tf.Tensor4D;
        const v1 = tf.ones([1, 1, 2, 4]) as tf.Tensor4D;
        assertThrowsNaming(() => linearAttentionStep(q1, q1, v1, initLinearAttentionState(1, 2, 5, 4)), /^state\.s: expected shape \[1, 2, 3, 4\]/);
        assertThrowsNaming(() => initLinearAttentionState(1, 0, 3, 4), /^heads: /);
      });
    });
  });
});
