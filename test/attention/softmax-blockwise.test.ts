import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { softmaxAttention, quadraticSoftmaxMaxScores } from '../../src/attention/softmax';
import { blockwiseSoftmaxAttention, blockBiasOf } from '../../src/attention/softmax-blockwise';
import { AttentionLayer } from '../../src/attention';
import { RelativePositionBias } from '../../src/encodings/relative-bias';
import { hasNativeFlash, FLASH_ATTENTION, FLASH_ATTENTION_GRAD } from '../../src/attention/softmax-flash';
import { assertThrowsNaming, maxAbsDiff, itOnKernelPaths, assertNoLeak } from '../helpers';

const draw = (rng: Rng, shape: number[]) =>
  tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape as [number, number, number, number]) as tf.Tensor4D;

interface Case {
  lq: number;
  lk: number;
  causal: boolean;
  bias: boolean;
  mask: boolean;
  block: number;
}

/** Output and the gradients of q, k, v and the bias weight of both forms, for one case. */
function bothForms(c: Case) {
  const rng = new Rng(c.lq * 31 + c.lk);
  const [B, H, D, Dv] = [2, 3, 4, 5];
  const rb = new RelativePositionBias({ numHeads: H, maxDistance: 9, rng: new Rng(2), std: 0.5 });
  try {
    return tf.tidy(() => {
      const [q, k, v, dy] = [draw(rng, [B, c.lq, H, D]), draw(rng, [B, c.lk, H, D]), draw(rng, [B, c.lk, H, Dv]), draw(rng, [B, c.lq, H, Dv])];
      const keep = Array.from({ length: B * c.lk }, (_, i) => (i < c.lk || i % c.lk < c.lk - 3 ? 1 : 0)); // the second row pads its last 3 keys
      const keyMask = c.mask ? tf.tensor2d(keep, [B, c.lk]) : undefined;
      const offset = c.lk - c.lq;
      const quadratic = (a: tf.Tensor, b: tf.Tensor, v2: tf.Tensor) => {
        let bias: tf.Tensor | undefined = c.bias ? rb.bias(c.lq, c.lk, { offset }) : undefined;
        if (keyMask) {
          const pad = tf.sub(1, keyMask).mul(-1e9).reshape([B, 1, 1, c.lk]);
          bias = bias ? bias.expandDims(0).add(pad) : pad.tile([1, H, c.lq, 1]);
        }
        return softmaxAttention(a as tf.Tensor4D, b as tf.Tensor4D, v2 as tf.Tensor4D, { causal: c.causal, bias, offset });
      };
      const blockwise = (a: tf.Tensor, b: tf.Tensor, v2: tf.Tensor) =>
        blockwiseSoftmaxAttention(a as tf.Tensor4D, b as tf.Tensor4D, v2 as tf.Tensor4D, {
          causal: c.causal,
          offset,
          blockSize: c.block,
          keyMask,
          bias: c.bias ? blockBiasOf(rb) : undefined,
        });
      const run = (f: typeof quadratic) => {
        const y = f(q, k, v);
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, v2: tf.Tensor) => f(a, b, v2).mul(dy).sum())([q, k, v]);
        const dW = c.bias ? [tf.variableGrads(() => f(q, k, v).mul(dy).sum() as tf.Scalar, [rb.weight]).grads[rb.weight.name]] : [];
        return [y, ...grads, ...dW].map((t) => Array.from(t.dataSync()));
      };
      return { quadratic: run(quadratic), blockwise: run(blockwise) };
    });
  } finally {
    rb.dispose();
  }
}

describe('blockwiseSoftmaxAttention (FlashAttention: online softmax over key blocks, O(L) memory)', () => {
  const cases: Case[] = [
    { lq: 37, lk: 37, causal: false, bias: false, mask: false, block: 8 },
    { lq: 37, lk: 37, causal: true, bias: true, mask: false, block: 8 },
    { lq: 37, lk: 37, causal: false, bias: true, mask: true, block: 16 },
    { lq: 5, lk: 37, causal: true, bias: true, mask: true, block: 8 },
    { lq: 20, lk: 20, causal: true, bias: false, mask: true, block: 64 },
    { lq: 23, lk: 23, causal: true, bias: true, mask: false, block: 1 },
    // Without bias and mask the native kernel runs where built (blocks of 64 queries and 128 keys): lengths past and between them.
    { lq: 150, lk: 150, causal: true, bias: false, mask: false, block: 64 },
    { lq: 150, lk: 150, causal: false, bias: false, mask: false, block: 64 },
    { lq: 70, lk: 200, causal: true, bias: false, mask: false, block: 32 },
    { lq: 1, lk: 129, causal: false, bias: false, mask: false, block: 32 },
  ];
  for (const c of cases) {
    const name = `Lq ${c.lq}, Lk ${c.lk}, block ${c.block}${c.causal ? ', causal' : ''}${c.bias ? ', relative bias' : ''}${c.mask ? ', padded keys' : ''}`;
    itOnKernelPaths(`equals the quadratic reference, output and the gradients of q, k, v and the bias weight: ${name}`, (native, ctx) => {
      const flash = !c.bias && !c.mask;
      // The native kernel needs OpenBLAS: skipped (and counted) where the addon has none, never passed on the tf-op form twice.
      if (native && flash && !hasNativeFlash()) ctx.skip();
      const { quadratic, blockwise } = bothForms(c);
      const names = ['output', 'dq', 'dk', 'dv', 'd bias weight'];
      assert.equal(blockwise.length, quadratic.length);
      quadratic.forEach((want, i) => assert.ok(maxAbsDiff(blockwise[i], want) < 2e-5, `${name}: ${names[i]} differs by ${maxAbsDiff(blockwise[i], want)}`));
    });
  }

  it('keeps O(L · block) tensors, not O(L²): peak memory of forward + backward grows linearly in L and stays below one score matrix', async () => {
    const [H, D] = [2, 8];
    const peak = async (L: number, blockwise: boolean) => {
      const rng = new Rng(L);
      const [q, k, v] = [draw(rng, [1, L, H, D]), draw(rng, [1, L, H, D]), draw(rng, [1, L, H, D])];
      const before = tf.memory().numBytes;
      const f = blockwise ? blockwiseSoftmaxAttention : softmaxAttention;
      const prof = await tf.profile(() => {
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true, blockSize: 64 }).sum(),
        )([q, k, v]);
        tf.dispose(g);
      });
      tf.dispose([q, k, v]);
      return prof.peakBytes - before;
    };
    const scoreBytes = (L: number) => H * L * L * 4;
    const [b512, b1024, b2048] = [await peak(512, true), await peak(1024, true), await peak(2048, true)];
    const q1024 = await peak(1024, false);
    assert.ok(q1024 >= scoreBytes(1024), `the quadratic form holds a score matrix: ${q1024} bytes >= ${scoreBytes(1024)}`);
    for (const [L, p] of [
      [1024, b1024],
      [2048, b2048],
    ])
      assert.ok(p < scoreBytes(L), `blockwise at L = ${L}: peak ${p} bytes, one score matrix ${scoreBytes(L)}`);
    assert.ok(b2048 / b1024 < 2.5 && b1024 / b512 < 2.5, `linear growth: peaks ${b512}, ${b1024}, ${b2048} bytes at L = 512, 1024, 2048`);
  });

  it('without bias or key mask, forward and backward are one native kernel each where the addon has OpenBLAS (RpelabFlashAttention), leaking no tensor', async function () {
    if (!hasNativeFlash()) this.skip();
    const rng = new Rng(3);
    const [q, k, v] = [draw(rng, [1, 40, 2, 8]), draw(rng, [1, 40, 2, 8]), draw(rng, [1, 40, 2, 8])];
    const prof = await tf.profile(() => {
      tf.dispose(
        tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          blockwiseSoftmaxAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true }).sum(),
        )([q, k, v]),
      );
    });
    assertNoLeak(() =>
      tf.dispose(
        tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          blockwiseSoftmaxAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true }).sum(),
        )([q, k, v]),
      ),
    );
    tf.dispose([q, k, v]);
    const names = prof.kernels.map((x) => x.name);
    assert.ok(names.includes(FLASH_ATTENTION) && names.includes(FLASH_ATTENTION_GRAD), `kernels run: ${names.join(', ')}`);
    assert.ok(!names.includes('BatchMatMul'), 'no tf-op product beside the native kernel');
  });

  it('no tensor leaks over forward + backward (with bias and mask)', () => {
    bothForms({ lq: 9, lk: 9, causal: true, bias: true, mask: true, block: 4 });
    const before = tf.memory().numTensors;
    bothForms({ lq: 9, lk: 9, causal: true, bias: true, mask: true, block: 4 });
    assert.equal(tf.memory().numTensors, before);
  });

  it('AttentionLayer: softmax(block=N) takes the blockwise form and equals the quadratic layer (relative bias, causal and not, padded keys); automatic past quadraticSoftmaxMaxScores()', () => {
    assert.ok(quadraticSoftmaxMaxScores() <= 2 ** 25);
    assert.equal(quadraticSoftmaxMaxScores('tensorflow'), 2 ** 25);
    const make = (spec: string) => new AttentionLayer({ spec, model: 8, numHeads: 2, rng: new Rng(1) });
    const [quad, block] = [make('softmax+relbias(max=6)'), make('softmax(block=5)+relbias(max=6)')];
    assert.equal(block.specString, 'softmax(block=5)+relbias(maxDistance=6)');
    tf.tidy(() => {
      const x = tf.tensor(new Rng(2).normalArray(2 * 19 * 8), [2, 19, 8]) as tf.Tensor3D;
      const keyMask = tf.tensor2d(
        Array.from({ length: 38 }, (_, i) => (i < 35 ? 1 : 0)),
        [2, 19],
      );
      for (const o of [{ causal: true }, { causal: false, keyMask }]) {
        const loss = (layer: AttentionLayer) => tf.variableGrads(() => layer.apply(x, o).square().sum() as tf.Scalar, layer.trainableVariables());
        const [a, b] = [loss(quad), loss(block)];
        assert.ok(maxAbsDiff(a.value, b.value) < 1e-4, `loss ${a.value.dataSync()[0]} vs ${b.value.dataSync()[0]}`);
        quad
          .trainableVariables()
          .forEach((v, i) => assert.ok(maxAbsDiff(a.grads[v.name], b.grads[block.trainableVariables()[i].name]) < 1e-4, `gradient of ${v.name}`));
      }
    });
    quad.dispose();
    block.dispose();
  });

  it('rejects bad input, naming the parameter', () => {
    const rng = new Rng(1);
    tf.tidy(() => {
      const [q, k, v] = [draw(rng, [1, 4, 2, 3]), draw(rng, [1, 4, 2, 3]), draw(rng, [1, 4, 2, 3])];
      assertThrowsNaming(() => blockwiseSoftmaxAttention(q, k, v, { blockSize: 0 }), /blockSize: expected an integer >= 1, got 0/);
      assertThrowsNaming(
        () => blockwiseSoftmaxAttention(q, k, v, { keyMask: tf.ones([1, 5]) as tf.Tensor2D }),
        /keyMask: expected shape \[1, 4\], got \[1, 5\]/,
      );
      assertThrowsNaming(() => blockwiseSoftmaxAttention(q, draw(rng, [1, 4, 3, 3]), v), /k: .*heads axis/);
      assertThrowsNaming(() => blockwiseSoftmaxAttention(q, k, v, { causal: 'yes' as unknown as boolean }), /causal: expected a boolean/);
    });
  });
});
