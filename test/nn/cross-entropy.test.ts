import { strict as assert } from 'assert';
import { tf, Rng, hasJsKernel, fusedKernelPaysOff } from '../../src/backend';
import { tokenNllReference, crossEntropy } from '../../src/nn';
import { hasFusedSoftmaxNll, fusedSoftmaxNll, SOFTMAX_NLL } from '../../src/nn/cross-entropy-kernels';
import { assertClose, itOnKernelPaths } from '../helpers';

/** tokenNll's fused path, whatever the active backend would choose. */
const fused = (z: tf.Tensor, t: tf.Tensor): tf.Tensor => {
  const v = z.shape[z.rank - 1];
  return fusedSoftmaxNll(z.reshape([-1, v]) as tf.Tensor2D, t.flatten() as tf.Tensor1D).reshape(t.shape);
};

describe('nn: softmax cross-entropy, one fused kernel each way beside the formula', () => {
  it('tokenNll takes the fused kernels where they pay off (native kernels, or the cpu backend)', () => {
    assert.equal(hasFusedSoftmaxNll(), fusedKernelPaysOff(SOFTMAX_NLL));
  });

  itOnKernelPaths(
    'the fused kernels equal the formula (log-softmax, one-hot, sum): values and gradients, any leading shape, large logits, targets out of range',
    (_native, ctx) => {
      if (!hasJsKernel(SOFTMAX_NLL)) ctx.skip();
      const rng = new Rng(3);
      const cases: Array<[number[], number]> = [
        [[5], 7],
        [[3, 4], 257],
        [[2, 3, 2], 33],
        [[1], 2],
      ];
      for (const [lead, V] of cases) {
        tf.tidy(() => {
          const n = lead.reduce((a, b) => a * b, 1);
          // Logits up to ±40: exp would overflow float32 without the shift by the row's max.
          const z = tf.tensor(
            Float32Array.from(rng.normalArray(n * V), (x) => 10 * x),
            [...lead, V],
          );
          const ids = Int32Array.from({ length: n }, (_, i) => (i === 1 ? V : i === 2 ? -1 : rng.int(V)));
          const t = tf.tensor(ids, lead, 'int32');
          const w = tf.tensor(rng.normalArray(n), lead);
          const f = (g: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => tf.valueAndGrad((x: tf.Tensor) => g(x, t).mul(w).sum() as tf.Scalar)(z);
          const got = f(fused);
          const want = f(tokenNllReference);
          assert.deepEqual(fused(z, t).shape, lead);
          assertClose(fused(z, t), tokenNllReference(z, t).dataSync(), 1e-5, 1e-5, `nll [${lead}] x ${V}`);
          assertClose(got.value, want.value.dataSync(), 1e-5, 1e-5, `weighted sum [${lead}] x ${V}`);
          assertClose(got.grad, want.grad.dataSync(), 1e-5, 1e-6, `gradient [${lead}] x ${V}`);
          // Out-of-range targets: nll 0 and no gradient, as the one-hot formula gives.
          if (n > 2) {
            const nll = fused(z, t).dataSync();
            assert.equal(nll[1], 0);
            assert.equal(nll[2], 0);
          }
        });
      }
    },
  );

  it('a masked mean of it trains (crossEntropy), and nothing leaks', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const z = tf.variable(tf.zeros([4, 5]));
      const { value, grads } = tf.variableGrads(() => crossEntropy(z, tf.tensor1d([0, 1, 2, 3], 'int32'), tf.tensor1d([1, 1, 0, 1])), [z]);
      assertClose(value, [Math.log(5)], 1e-6, 1e-6, 'uniform logits');
      // ∂/∂z of the mean over 3 counted rows: (1/5 − onehot)/3 on counted rows, 0 on the masked one.
      const g = grads[z.name].arraySync() as number[][];
      assert.ok(Math.abs(g[0][0] - (0.2 - 1) / 3) < 1e-6 && Math.abs(g[0][1] - 0.2 / 3) < 1e-6);
      assert.deepEqual(g[2], [0, 0, 0, 0, 0]);
      z.dispose();
    });
    if (hasFusedSoftmaxNll()) tf.tidy(() => void fusedSoftmaxNll(tf.zeros([2, 3]) as tf.Tensor2D, tf.tensor1d([0, 1], 'int32')));
    assert.equal(tf.memory().numTensors, before);
  });
});
