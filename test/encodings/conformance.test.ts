/**
 * One conformance suite for every registered encoding, found through the registry (never a
 * hard-coded list), with the argument lists each declaration names as `examples`. A new encoding
 * gets all of it by registering:
 *
 * - output shapes: [batch, length, heads, outputDim(dim)] (bias encodings: [heads, Lq, Lk]);
 * - relativity: scores of constant content depend only on t − s (exactly, or for 'expectation'
 *   encodings in the mean over 256 draws: Toeplitz up to Monte-Carlo noise, well under one draw's deviation);
 * - `innerProductsOnly` (the attention layer's call) changes no score;
 * - no tensor leaks over a forward and backward pass;
 * - step-by-step decoding in an attention layer equals the full causal sequence;
 * - every trainable parameter of a layer using it gets a finite gradient, the encoding's own ones nonzero;
 * - bad arguments give Errors naming them.
 */
import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { AttentionLayer, disposeAttentionState, formatSpec, parseSpec } from '../../src/attention';
import { listEncodings, resolveArgs, type EncodingDefinition, type QKEncoding, type BiasEncoding } from '../../src/encodings';
import { assertClose, assertThrowsNaming, maxAbsDiff } from '../helpers';

const [B, L, H, D] = [2, 9, 2, 8];

/** Largest |A[h][s][t] − A[h][s−1][t−1]| relative to max |A| over heads. */
function toeplitzDeviation(scores: number[][][]): number {
  let worst = 0;
  let scale = 0;
  for (const m of scores) {
    for (let s = 0; s < m.length; s++) for (let t = 0; t < m[s].length; t++) scale = Math.max(scale, Math.abs(m[s][t]));
    for (let s = 1; s < m.length; s++) for (let t = 1; t < m[s].length; t++) worst = Math.max(worst, Math.abs(m[s][t] - m[s - 1][t - 1]));
  }
  return worst / Math.max(scale, 1e-30);
}

/** Scores [H, L, L] of encoded constant content q_s = a, k_t = b (positive, as after a feature map). */
function constantContentScores(enc: QKEncoding, draw: Rng | undefined, seed = 1): number[][][] {
  return tf.tidy(() => {
    const r = new Rng(seed);
    const a = tf.tensor4d(r.uniformArray(H * D, 0.1, 1), [1, 1, H, D]).tile([1, L, 1, 1]) as tf.Tensor4D;
    const b = tf.tensor4d(r.uniformArray(H * D, 0.1, 1), [1, 1, H, D]).tile([1, L, 1, 1]) as tf.Tensor4D;
    const [qe, ke] = enc.encode(a, b, { rng: draw });
    return (tf.matMul(qe.transpose([0, 2, 1, 3]), ke.transpose([0, 2, 1, 3]), false, true).arraySync() as number[][][][])[0];
  });
}

function specOf(def: EncodingDefinition, args: string[]): string {
  const enc = `${def.name}${args.length ? `(${args.join(',')})` : ''}`;
  return def.role === 'bias' ? `softmax+${enc}` : `linear:elu+${enc}`;
}

const randomInput = (seed: number, shape: number[]) => tf.tensor(new Rng(seed).normalArray(shape.reduce((a, b) => a * b, 1)), shape);

describe('encodings: conformance of every registered encoding', () => {
  const defs = listEncodings();
  it('the registry holds encodings, each with a relativity claim and its examples', () => {
    assert.ok(defs.length >= 6, defs.map((d) => d.name).join(', '));
    for (const d of defs) assert.ok(d.relative === 'exact' || d.relative === 'expectation', d.name);
  });

  for (const def of defs) {
    for (const args of def.examples ?? [[]]) {
      const label = specOf(def, args);
      const build = (seed = 3) => def.build(resolveArgs(def, args), { numHeads: H, headDim: D, maxLength: 64, rng: new Rng(seed) });

      describe(label, () => {
        if (def.role === 'qk') {
          it('output shapes: [batch, length, heads, outputDim(headDim)] for q and k, at an offset too', () => {
            const enc = build() as QKEncoding;
            tf.tidy(() => {
              const q = randomInput(1, [B, L, H, D]) as tf.Tensor4D;
              for (const offset of [0, 5]) {
                const [qe, ke] = enc.encode(q, q, { offset, rng: new Rng(2) });
                assert.deepEqual(qe.shape, [B, L, H, enc.outputDim(D)]);
                assert.deepEqual(ke.shape, [B, L, H, enc.outputDim(D)]);
              }
            });
            enc.dispose();
          });

          it(`relativity (${def.relative}): scores of constant content depend only on t − s`, () => {
            const enc = build() as QKEncoding;
            if (def.relative === 'exact') {
              const dev = toeplitzDeviation(constantContentScores(enc, new Rng(5)));
              assert.ok(dev < 1e-4, `deviation from Toeplitz ${dev}`);
            } else {
              // In expectation: the mean over many draws is Toeplitz up to Monte-Carlo noise, well under one draw's deviation.
              const meanDeviation = (draws: number, first: number) => {
                const sum = constantContentScores(enc, new Rng(first)).map((m) => m.map((row) => row.map(() => 0)));
                for (let i = 0; i < draws; i++) {
                  constantContentScores(enc, new Rng(first + i)).forEach((m, h) => m.forEach((row, s) => row.forEach((x, t) => (sum[h][s][t] += x / draws))));
                }
                return toeplitzDeviation(sum);
              };
              const one = meanDeviation(1, 1000);
              const many = meanDeviation(256, 2000);
              assert.ok(many < 0.1 && many < 0.5 * one, `mean of 256 draws deviates ${many.toFixed(4)} from Toeplitz, one draw ${one.toFixed(4)}`);
            }
            enc.dispose();
          });

          it('innerProductsOnly (as the attention layer calls it): every score q̃_s·k̃_t as without it', () => {
            const enc = build() as QKEncoding;
            tf.tidy(() => {
              const [q, k] = [1, 2].map((seed) => randomInput(seed, [B, L, H, D]).abs() as tf.Tensor4D);
              const perHead = (x: tf.Tensor4D) => x.transpose([0, 2, 1, 3]);
              const scores = (innerProductsOnly: boolean) => {
                const [qe, ke] = enc.encode(q, k, { offset: 2, rng: new Rng(4), innerProductsOnly });
                return tf.matMul(perHead(qe), perHead(ke), false, true).dataSync();
              };
              assertClose(scores(true), scores(false), 1e-5, 1e-4, 'scores');
            });
            enc.dispose();
          });

          it('no tensor leaks over forward + backward', () => {
            const enc = build() as QKEncoding;
            const q = randomInput(1, [B, L, H, D]) as tf.Tensor4D;
            const run = () =>
              tf.tidy(() => {
                const f = (x: tf.Tensor) => {
                  const [qe, ke] = enc.encode(x as tf.Tensor4D, x as tf.Tensor4D, { rng: new Rng(4) });
                  return qe.mul(ke).sum();
                };
                tf.grad(f)(q).dataSync();
              });
            run();
            const before = tf.memory().numTensors;
            run();
            assert.equal(tf.memory().numTensors, before);
            q.dispose();
            enc.dispose();
          });

          it('bad arguments give Errors naming them', () => {
            const enc = build() as QKEncoding;
            tf.tidy(() => {
              const q = randomInput(1, [B, L, H, D]) as tf.Tensor4D;
              assertThrowsNaming(() => enc.encode(randomInput(1, [B, L, D]) as tf.Tensor4D, q), /^q: /);
              assertThrowsNaming(() => enc.encode(q, randomInput(1, [B, L + 1, H, D]) as tf.Tensor4D), /^k: /);
              assertThrowsNaming(() => enc.encode(q, q, { offset: -1 }), /offset/);
            });
            assertThrowsNaming(() => resolveArgs(def, ['bogusArgument=1']), new RegExp(`^${def.name}: unknown argument 'bogusArgument'`));
            enc.dispose();
          });
        } else {
          it('bias shapes [heads, Lq, Lk], depending only on t − s', () => {
            const enc = build() as BiasEncoding;
            tf.tidy(() => {
              const b = enc.bias(L, L);
              assert.deepEqual(b.shape, [H, L, L]);
              assert.ok(toeplitzDeviation(b.arraySync() as number[][][]) < 1e-6);
              assertThrowsNaming(() => enc.bias(L, L, { offset: 0.5 }), /offset/);
              // Its tape-free gradient (blockwise softmax attention's backward pass) equals the tape's.
              const dBias = tf.tensor(new Rng(3).normalArray(H * L * L), [H, L, L]) as tf.Tensor3D;
              const vars = enc.trainableVariables();
              const tape = tf.variableGrads(() => enc.bias(L, L, { offset: 2 }).mul(dBias).sum() as tf.Scalar, vars).grads;
              enc.biasGradients(dBias, { offset: 2 }).forEach((g, i) => assert.ok(maxAbsDiff(g, tape[vars[i].name]) < 1e-4, `gradient of ${vars[i].name}`));
            });
            enc.dispose();
          });
        }

        it('in an attention layer: step-by-step decoding equals the full causal sequence', () => {
          const layer = new AttentionLayer({ model: H * D, numHeads: H, spec: label, maxLength: 64, rng: new Rng(7) });
          tf.tidy(() => {
            const x = randomInput(8, [B, L, H * D]) as tf.Tensor3D;
            // A fresh generator per call draws the same codes (SPE), at each call's offset.
            const full = layer.apply(x, { causal: true, rng: new Rng(9) });
            let state = layer.initState(B);
            const steps: tf.Tensor3D[] = [];
            for (let t = 0; t < L; t++) {
              const r = layer.step(x.slice([0, t, 0], [B, 1, H * D]), state, { rng: new Rng(9) });
              disposeAttentionState(state);
              state = r.state;
              steps.push(r.out);
            }
            disposeAttentionState(state);
            assertClose(tf.concat(steps, 1), full, 1e-4, 1e-3, label);
          });
          layer.dispose();
        });

        it("in an attention layer: every trainable parameter gets a finite gradient, the encoding's own nonzero", () => {
          const layer = new AttentionLayer({ model: H * D, numHeads: H, spec: label, maxLength: 64, rng: new Rng(7) });
          tf.tidy(() => {
            const x = randomInput(8, [B, L, H * D]) as tf.Tensor3D;
            const vars = layer.namedVariables().filter(([, v]) => v.trainable);
            const { grads } = tf.variableGrads(
              () =>
                layer
                  .apply(x, { causal: true, rng: new Rng(9) })
                  .square()
                  .sum() as tf.Scalar,
              vars.map(([, v]) => v),
            );
            for (const [name, v] of vars) {
              const g = grads[v.name];
              assert.ok(g, `${label}: no gradient for ${name}`);
              const values = g.dataSync();
              assert.ok(values.every(Number.isFinite), `${label}: non-finite gradient for ${name}`);
              if (name.startsWith('encoding.') || name.startsWith('relbias.'))
                assert.ok(
                  values.some((x) => x !== 0),
                  `${label}: zero gradient for ${name}`,
                );
            }
          });
          layer.dispose();
        });

        it('its spec string round-trips through parse and format', () => {
          const parsed = parseSpec(label);
          assert.deepEqual(parseSpec(formatSpec(parsed)), parsed);
        });
      });
    }
  }
});
