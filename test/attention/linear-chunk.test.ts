import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { linearAttention, linearAttentionOps, defaultChunkSize } from '../../src/attention/linear';
import { assertClose } from '../helpers';
import { nativeLinearScanApplies } from '../../src/attention/linear-scan';

/** o_s = Σ_{t≤s} (φq_s·φk_t) v_t / Σ_{t≤s} φq_s·φk_t with φ = elu + 1, in float64 from the definition. q, k, v [1, L, H, F]. */
function literalCausal(q: Float32Array, k: Float32Array, v: Float32Array, L: number, H: number, F: number): number[] {
  const phi = (x: number) => (x > 0 ? x + 1 : Math.exp(x));
  const out = new Array<number>(L * H * F).fill(0);
  for (let h = 0; h < H; h++) {
    for (let s = 0; s < L; s++) {
      let den = 0;
      const num = new Array<number>(F).fill(0);
      for (let t = 0; t <= s; t++) {
        let w = 0;
        for (let d = 0; d < F; d++) w += phi(q[(s * H + h) * F + d]) * phi(k[(t * H + h) * F + d]);
        den += w;
        for (let d = 0; d < F; d++) num[d] += w * v[(t * H + h) * F + d];
      }
      for (let d = 0; d < F; d++) out[(s * H + h) * F + d] = num[d] / den;
    }
  }
  return out;
}

describe('linear attention: default causal chunk length', () => {
  it('grows with the feature size: min(max(F, 32), 128)', () => {
    assert.deepEqual([8, 16, 32, 64, 100, 128, 256].map(defaultChunkSize), [32, 32, 32, 64, 100, 128, 128]);
    assert.throws(() => defaultChunkSize(0), /featureDim: expected an integer >= 1/);
  });

  for (const [form, fn] of [
    ['chunked tf ops', linearAttentionOps],
    ['native scan', linearAttention],
  ] as const)
    it(`causal output (${form}) with the default chunk equals the literal prefix sums (L not a multiple of C)`, function () {
      // The native form is skipped (and counted) where the addon is missing: never the tf-op form twice.
      if (form === 'native scan' && !nativeLinearScanApplies()) this.skip();
      for (const [L, F] of [
        [75, 16],
        [150, 64],
        [200, 128],
      ]) {
        tf.tidy(() => {
          const H = 2;
          const rng = new Rng(F);
          const [q, k, v] = [0, 1, 2].map(() => rng.normalArray(L * H * F, 0, 0.5));
          const t = (x: Float32Array) => tf.tensor4d(x, [1, L, H, F]);
          const got = fn(t(q), t(k), t(v), { causal: true });
          assertClose(got, literalCausal(q, k, v, L, H, F), 1e-5, 1e-4, `L=${L} F=${F} (C=${defaultChunkSize(F)})`);
        });
      }
    });
});
