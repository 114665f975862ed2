import { strict as assert } from 'assert';
import { tf, Rng, matMul2d, nativeKernels } from '../../src/backend';
import { fusedLayerNorm, hasFusedLayerNorm, LAYER_NORM } from '../../src/nn/layernorm-kernels';
import { hasJsKernel } from '../../src/backend';
import { Embedding, Linear, LayerNorm } from '../../src/nn';
import { assertClose, assertThrowsNaming, itOnKernelPaths } from '../helpers';

describe('nn layers', () => {
  it("Embedding: rows of the table, and the table's gradient sums each id's output gradients (repeated ids); ids out of range are refused", () => {
    const emb = new Embedding(37, 5, { rng: new Rng(1) });
    const idList = [0, 3, 36, 3, 3, 1];
    tf.tidy(() => {
      const ids = tf.tensor2d(idList, [2, 3], 'int32');
      const table = emb.table.arraySync() as number[][];
      assertClose(
        emb.apply(ids),
        tf.tensor(
          idList.flatMap((id) => table[id]),
          [2, 3, 5],
        ),
        0,
        0,
      );
      const w = new Rng(2).normalArray(2 * 3 * 5);
      const g = tf.variableGrads(
        () =>
          emb
            .apply(ids)
            .mul(tf.tensor(w, [2, 3, 5]))
            .sum() as tf.Scalar,
        [emb.table],
      ).grads[emb.table.name];
      const want = Array.from({ length: 37 }, (_, r) =>
        Array.from({ length: 5 }, (_, c) => idList.reduce((sum, id, i) => sum + (id === r ? w[i * 5 + c] : 0), 0)),
      );
      assertClose(g, tf.tensor(want), 1e-6, 1e-6);
      assertThrowsNaming(() => emb.apply(tf.zeros([2, 2])), /ids: expected an int32 tensor/);
      assert.throws(() => emb.apply(tf.tensor1d([1, 37], 'int32')), /index value 37 is not in \[0, 36\]/);
    });
    emb.dispose();
  });

  it('Linear and LayerNorm compute their formulas', () => {
    const lin = new Linear(3, 2, { rng: new Rng(3) });
    const ln = new LayerNorm(4);
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2, 3]]);
      const w = lin.weight.arraySync() as number[][];
      const expected = [0, 1].map((j) => [1, 2, 3].reduce((s, xi, i) => s + xi * w[i][j], 0));
      assertClose(lin.apply(x), expected, 1e-5, 1e-5);
      const y = ln.apply(tf.tensor2d([[1, 2, 3, 6]])).dataSync();
      const mean = 3;
      const sd = Math.sqrt((4 + 1 + 0 + 9) / 4 + 1e-5);
      assertClose(
        y,
        [1, 2, 3, 6].map((v) => (v - mean) / sd),
        1e-5,
        1e-5,
      );
      assertThrowsNaming(() => lin.apply(tf.zeros([1, 4])), /x: expected the feature axis \(axis 1\) to be 3, got 4/);
    });
    lin.dispose();
    ln.dispose();
  });
});

describe('nn fused LayerNorm', () => {
  itOnKernelPaths('Linear: the gradients of W and b alone (x a constant) take one product, not the unneeded ∂x', async () => {
    const lin = new Linear(5, 4, { rng: new Rng(8) });
    const x = tf.tensor(new Rng(9).normalArray(6 * 5), [6, 5]);
    for (const activation of ['linear', 'relu'] as const) {
      const profile = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => lin.apply(x, activation).sum() as tf.Scalar, [lin.weight, lin.bias!]);
        tf.dispose([value, ...Object.values(grads)]);
      });
      const products = profile.kernelNames.filter((k) => k === 'BatchMatMul');
      assert.equal(products.length, 1, `${activation}: ${profile.kernelNames.join(', ')}`);
    }
    x.dispose();
    lin.dispose();
  });

  itOnKernelPaths("Linear.apply(x, 'relu') is relu(x W + b), with the composed ops' gradients of x, W and b (and FeedForward with it)", () => {
    const lin = new Linear(5, 4, { rng: new Rng(8) });
    tf.tidy(() => {
      const r = new Rng(9);
      lin.bias!.assign(tf.tensor1d([0.3, -0.2, 0.1, -0.4]));
      const x = tf.tensor(r.normalArray(3 * 6 * 5), [3, 6, 5]);
      const w = tf.tensor(r.normalArray(3 * 6 * 4), [3, 6, 4]);
      const W = lin.weight.arraySync() as number[][];
      const b = lin.bias!.arraySync() as number[];
      const xv = x.arraySync() as number[][][];
      const literal = xv.map((rows) =>
        rows.map((row) =>
          b.map((bj, j) =>
            Math.max(
              0,
              row.reduce((acc, xi, i) => acc + xi * W[i][j], bj),
            ),
          ),
        ),
      );
      const y = lin.apply(x, 'relu');
      assertClose(y, literal.flat(2), 1e-5, 1e-5, 'relu(x W + b)');
      assert.ok((y.dataSync() as Float32Array).some((v) => v === 0) && (y.dataSync() as Float32Array).some((v) => v > 0), 'both sides of the ReLU');
      const vars = [lin.weight, lin.bias!];
      const fused = tf.variableGrads(() => lin.apply(x, 'relu').mul(w).sum() as tf.Scalar, vars);
      const composed = tf.variableGrads(
        () =>
          tf
            .relu(x.reshape([-1, 5]).matMul(lin.weight).add(lin.bias!))
            .reshape([3, 6, 4])
            .mul(w)
            .sum() as tf.Scalar,
        vars,
      );
      for (const v of vars) assertClose(fused.grads[v.name], composed.grads[v.name], 1e-5, 1e-5, `∂/∂${v.name}`);
      const dxF = tf.grad((xi: tf.Tensor) => lin.apply(xi, 'relu').mul(w).sum())(x);
      const dxC = tf.grad((xi: tf.Tensor) =>
        tf
          .relu(xi.reshape([-1, 5]).matMul(lin.weight).add(lin.bias!))
          .reshape([3, 6, 4])
          .mul(w)
          .sum(),
      )(x);
      assertClose(dxF, dxC, 1e-5, 1e-5, '∂/∂x');
      assertThrowsNaming(() => lin.apply(x, 'gelu' as never), /^activation: /);
    });
    lin.dispose();
  });

  itOnKernelPaths('the fused kernels equal the composed tf ops: output and the gradients of x, γ, β', (native, ctx) => {
    if (!hasJsKernel(LAYER_NORM)) ctx.skip();
    const r = new Rng(21);
    const [N, F] = [2000, 37]; // N·F = 74 000 > 2^16: the native kernel splits the rows over its threads
    const big = tf.tensor2d(
      r.normalArray(N * F).map((v, i) => 3 * v + (i % F) * 0.1 + 5),
      [N, F],
    );
    const gamma = tf.tensor1d(r.normalArray(F));
    const beta = tf.tensor1d(r.normalArray(F));
    const w = tf.tensor2d(r.normalArray(N * F), [N, F]);
    const composed = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return x.sub(mean).div(variance.add(1e-5).sqrt()).mul(g).add(b);
    };
    const loss = (f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) => (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      f(x, g, b)
        .mul(w)
        .sum()
        .add(f(x, g, b).square().sum());
    tf.tidy(() => {
      const want = [composed(big, gamma, beta), ...tf.grads(loss(composed))([big, gamma, beta])];
      const fused = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => fusedLayerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, 1e-5);
      const got = [fused(big, gamma, beta), ...tf.grads(loss(fused))([big, gamma, beta])];
      ['y', '∂x', '∂γ', '∂β'].forEach((name, i) => assertClose(got[i], want[i], 2e-4, 2e-4, `${native ? 'native' : 'JavaScript'} ${name}`));
    });
    tf.dispose([big, gamma, beta, w]);
  });

  it('LayerNorm takes the fused kernels where they pay off, on any rank, without leaking tensors', () => {
    const ln = new LayerNorm(6);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor3d(new Rng(5).normalArray(2 * 3 * 6), [2, 3, 6]);
      const { value, grads } = tf.variableGrads(() => ln.apply(x).square().sum() as tf.Scalar, ln.trainableVariables());
      assert.deepEqual(ln.apply(x).shape, [2, 3, 6]);
      assert.equal(Object.keys(grads).length, 2);
      value.dispose();
    });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(hasFusedLayerNorm(), hasJsKernel(LAYER_NORM) && (nativeKernels() !== null || tf.getBackend() === 'cpu'));
    ln.dispose();
  });
});

describe('backend matMul2d', () => {
  it('has the gradients of tf.matMul on every backend', () => {
    tf.tidy(() => {
      const r = new Rng(4);
      const a = tf.tensor2d(r.normalArray(5 * 3), [5, 3]);
      const b = tf.tensor2d(r.normalArray(3 * 4), [3, 4]);
      const w = tf.tensor2d(r.normalArray(5 * 4), [5, 4]);
      const mine = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        matMul2d(x as tf.Tensor2D, y as tf.Tensor2D)
          .mul(w)
          .sum(),
      )([a, b]);
      const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        tf
          .matMul(x as tf.Tensor2D, y as tf.Tensor2D)
          .mul(w)
          .sum(),
      )([a, b]);
      assertClose(matMul2d(a, b), tf.matMul(a, b), 1e-6, 1e-6);
      assertClose(mine[0], ref[0], 1e-5, 1e-5);
      assertClose(mine[1], ref[1], 1e-5, 1e-5);
      assertThrowsNaming(() => matMul2d(a, a), /b: expected 3 rows/);
    });
  });
});
