import { strict as assert } from 'assert';
import { tf, Rng, hasJsKernel } from '../../src/backend';
import {
  appendOnes,
  appendOnesReference,
  divideByLastColumn,
  divideByLastColumnReference,
  APPEND_ONES,
  DIVIDE_BY_LAST_COLUMN,
} from '../../src/attention/denominator';
import { assertClose, assertNoLeak, randn, withBackend } from '../helpers';

describe('denominator columns of linear attention (appendOnes, divideByLastColumn)', () => {
  for (const backend of ['wasm', 'cpu']) {
    it(`${backend}: the one-kernel forms equal the plain concat / split forms, values and gradients (a denominator below eps included)`, async () => {
      await withBackend(backend, () => {
        assert.ok(hasJsKernel(APPEND_ONES) && hasJsKernel(DIVIDE_BY_LAST_COLUMN), 'the kernels are registered on wasm and cpu');
        const rng = new Rng(5);
        tf.tidy(() => {
          const v = randn(rng, [2, 7, 3, 5]);
          const w = randn(rng, [2, 7, 3, 6]);
          // Sums as attention makes them, the last column (the denominator) positive but for a few rows below eps.
          const xs = randn(rng, [2, 7, 3, 6]).arraySync() as number[][][][];
          xs[0][0][0][5] = 1e-9;
          xs[1][3][2][5] = -0.5;
          xs[1][6][1][5] = 2;
          for (const b of xs) for (const l of b) for (const h of l) if (h[5] !== 1e-9 && h[5] !== -0.5) h[5] = Math.abs(h[5]) + 0.1;
          const x = tf.tensor4d(xs);
          const dy = randn(rng, [2, 7, 3, 5]);

          assertClose(appendOnes(v), appendOnesReference(v), 0, 0, 'appendOnes value');
          const ga = (f: (t: tf.Tensor) => tf.Tensor) => tf.grad((t: tf.Tensor) => f(t).mul(w).sum())(v);
          assertClose(ga(appendOnes), ga(appendOnesReference), 0, 0, 'appendOnes gradient');

          const eps = 1e-6;
          assertClose(divideByLastColumn(x, eps), divideByLastColumnReference(x, eps), 1e-6, 1e-6, 'divideByLastColumn value');
          const gd = (f: (t: tf.Tensor, e: number) => tf.Tensor) => tf.grad((t: tf.Tensor) => f(t, eps).mul(dy).sum())(x);
          assertClose(gd(divideByLastColumn), gd(divideByLastColumnReference), 1e-5, 1e-5, 'divideByLastColumn gradient');
        });
      });
    });
  }

  it('the one-kernel forms leak no tensors over forward + backward', () => {
    const rng = new Rng(6);
    const v = randn(rng, [1, 4, 2, 3]);
    assertNoLeak(() => {
      tf.tidy(() => {
        tf.grad((t: tf.Tensor) => divideByLastColumn(appendOnes(t), 1e-6).sum())(v);
      });
    });
    v.dispose();
  });
});
