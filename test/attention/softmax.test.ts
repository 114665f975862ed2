import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { softmaxAttention } from '../../src/attention/softmax';
import { assertClose, assertThrowsNaming, withBackend } from '../helpers';

function draw(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
}

interface RefOptions {
  causal?: boolean;
  /** [H, Lq, Lk] or [B, H, Lq, Lk] values, row-major. */
  bias?: { data: ArrayLike<number>; batched: boolean };
  scale?: number;
  offset?: number;
}

/** A plain loop over batch, head, query: logits, causal mask, softmax, weighted sum of values (float64). */
function loopReference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, o: RefOptions = {}): Float64Array {
  const [B, Lq, H, D] = q.shape;
  const Lk = k.shape[1] as number;
  const Dv = v.shape[3] as number;
  const [qd, kd, vd] = [q.dataSync(), k.dataSync(), v.dataSync()];
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const offset = o.offset ?? Lk - Lq;
  const out = new Float64Array(B * Lq * H * Dv);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Lq; i++) {
        const logits: number[] = [];
        for (let j = 0; j < Lk; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qd[((b * Lq + i) * H + h) * D + d] * kd[((b * Lk + j) * H + h) * D + d];
          const bi = o.bias ? o.bias.data[(((o.bias.batched ? b * H : 0) + h) * Lq + i) * Lk + j] : 0;
          logits.push(o.causal && j > offset + i ? -Infinity : scale * dot + bi);
        }
        const max = Math.max(...logits);
        const w = logits.map((x) => Math.exp(x - max));
        const total = w.reduce((a, x) => a + x, 0);
        for (let e = 0; e < Dv; e++) {
          let acc = 0;
          for (let j = 0; j < Lk; j++) acc += (w[j] / total) * vd[((b * Lk + j) * H + h) * Dv + e];
          out[((b * Lq + i) * H + h) * Dv + e] = acc;
        }
      }
    }
  }
  return out;
}

describe('softmaxAttention', () => {
  it('equals a plain loop reference (bidirectional, default scale 1/√D)', () => {
    tf.tidy(() => {
      const rng = new Rng(1);
      const q = draw(rng, [2, 7, 3, 4]) as tf.Tensor4D;
      const k = draw(rng, [2, 7, 3, 4]) as tf.Tensor4D;
      const v = draw(rng, [2, 7, 3, 5]) as tf.Tensor4D;
      const out = softmaxAttention(q, k, v);
      assert.deepEqual(out.shape, [2, 7, 3, 5]);
      assertClose(out, loopReference(q, k, v), 1e-5, 1e-4);
      assertClose(softmaxAttention(q, k, v, { scale: 0.3 }), loopReference(q, k, v, { scale: 0.3 }), 1e-5, 1e-4, 'scale 0.3');
    });
  });

  it('causal mask: equals the loop reference, and outputs up to s ignore keys and values after s', () => {
    tf.tidy(() => {
      const rng = new Rng(2);
      const q = draw(rng, [2, 9, 2, 4]) as tf.Tensor4D;
      const k = draw(rng, [2, 9, 2, 4]) as tf.Tensor4D;
      const v = draw(rng, [2, 9, 2, 3]) as tf.Tensor4D;
      const out = softmaxAttention(q, k, v, { causal: true });
      assertClose(out, loopReference(q, k, v, { causal: true }), 1e-5, 1e-4);
      // The first query sees only the first key: its output is v_0.
      assertClose(out.slice([0, 0, 0, 0], [2, 1, 2, 3]), v.slice([0, 0, 0, 0], [2, 1, 2, 3]), 1e-6, 1e-6, 'row 0');
      // Changing keys and values after position 4 leaves outputs 0..4 unchanged.
      const k2 = tf.concat([k.slice([0, 0, 0, 0], [2, 5, 2, 4]), draw(rng, [2, 4, 2, 4])], 1) as tf.Tensor4D;
      const v2 = tf.concat([v.slice([0, 0, 0, 0], [2, 5, 2, 3]), draw(rng, [2, 4, 2, 3])], 1) as tf.Tensor4D;
      const out2 = softmaxAttention(q, k2, v2, { causal: true });
      assertClose(out2.slice([0, 0, 0, 0], [2, 5, 2, 3]), out.slice([0, 0, 0, 0], [2, 5, 2, 3]), 1e-6, 1e-6, 'prefix');
      assert.ok(Math.abs(out2.sub(out).abs().max().dataSync()[0]) > 1e-3, 'later outputs do change');
    });
  });

  it('additive bias [H, Lq, Lk] and [B, H, Lq, Lk] before the softmax equals the loop reference', () => {
    tf.tidy(() => {
      const rng = new Rng(3);
      const q = draw(rng, [2, 6, 3, 4]) as tf.Tensor4D;
      const k = draw(rng, [2, 6, 3, 4]) as tf.Tensor4D;
      const v = draw(rng, [2, 6, 3, 2]) as tf.Tensor4D;
      const bias3 = draw(rng, [3, 6, 6]);
      const bias4 = draw(rng, [2, 3, 6, 6]);
      assertClose(
        softmaxAttention(q, k, v, { bias: bias3 }),
        loopReference(q, k, v, { bias: { data: bias3.dataSync(), batched: false } }),
        1e-5,
        1e-4,
        '[H, Lq, Lk]',
      );
      assertClose(
        softmaxAttention(q, k, v, { bias: bias4, causal: true }),
        loopReference(q, k, v, { bias: { data: bias4.dataSync(), batched: true }, causal: true }),
        1e-5,
        1e-4,
        '[B, H, Lq, Lk], causal',
      );
      // A bias constant along keys cancels in the softmax.
      assertClose(softmaxAttention(q, k, v, { bias: tf.fill([3, 6, 6], 5) }), softmaxAttention(q, k, v), 1e-5, 1e-5, 'constant bias');
    });
  });

  it('offset places the queries for cached decoding (Lq < Lk); default offset is Lk − Lq', () => {
    tf.tidy(() => {
      const rng = new Rng(4);
      const q = draw(rng, [1, 3, 2, 4]) as tf.Tensor4D;
      const k = draw(rng, [1, 8, 2, 4]) as tf.Tensor4D;
      const v = draw(rng, [1, 8, 2, 3]) as tf.Tensor4D;
      for (const offset of [0, 2, 5]) {
        assertClose(softmaxAttention(q, k, v, { causal: true, offset }), loopReference(q, k, v, { causal: true, offset }), 1e-5, 1e-4, `offset ${offset}`);
      }
      assertClose(softmaxAttention(q, k, v, { causal: true }), softmaxAttention(q, k, v, { causal: true, offset: 5 }), 0, 0, 'default');
      // The last 3 rows of a full causal pass equal the cached pass with those 3 queries.
      const qFull = tf.concat([draw(rng, [1, 5, 2, 4]), q], 1) as tf.Tensor4D;
      const full = softmaxAttention(qFull, k, v, { causal: true });
      assertClose(softmaxAttention(q, k, v, { causal: true, offset: 5 }), full.slice([0, 5, 0, 0], [1, 3, 2, 3]), 1e-6, 1e-5, 'cached');
    });
  });

  it('gradients for q, k, v exist and agree between wasm and cpu; no tensor leak over forward + backward', async () => {
    const run = () =>
      tf.tidy(() => {
        const rng = new Rng(5);
        const q = draw(rng, [2, 5, 2, 3]);
        const k = draw(rng, [2, 5, 2, 3]);
        const v = draw(rng, [2, 5, 2, 4]);
        const bias = draw(rng, [2, 5, 5]);
        const R = draw(rng, [2, 5, 2, 4]);
        const g = tf.grads((a, b, c) =>
          softmaxAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true, bias })
            .mul(R)
            .sum(),
        )([q, k, v]);
        return g.map((t) => Array.from(t.dataSync()));
      });
    const onCpu = await withBackend('cpu', run);
    const onWasm = await withBackend('wasm', run);
    ['q', 'k', 'v'].forEach((n, i) => {
      assert.ok(
        onCpu[i].some((x) => Math.abs(x) > 1e-6),
        `d${n} is not zero`,
      );
      assertClose(onWasm[i], onCpu[i], 1e-5, 1e-4, `d${n}`);
    });

    const rng = new Rng(6);
    const [q, k, v] = [draw(rng, [1, 4, 2, 3]), draw(rng, [1, 4, 2, 3]), draw(rng, [1, 4, 2, 3])];
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.valueAndGrads((a, b, c) => softmaxAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true }).sum())([
        q,
        k,
        v,
      ]);
      tf.dispose([value, ...grads]);
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([q, k, v]);
  });

  it('bad input throws an Error naming the parameter', () => {
    tf.tidy(() => {
      const q = tf.ones([1, 4, 2, 3]) as tf.Tensor4D;
      const v = tf.ones([1, 4, 2, 5]) as tf.Tensor4D;
      assertThrowsNaming(() => softmaxAttention(tf.ones([4, 2, 3]) as unknown as tf.Tensor4D, q, v), /^q: expected rank 4/);
      assertThrowsNaming(() => softmaxAttention(q, tf.ones([1, 4, 2, 2]) as tf.Tensor4D, v), /^k: expected the feature axis/);
      assertThrowsNaming(() => softmaxAttention(q, tf.ones([1, 4, 3, 3]) as tf.Tensor4D, v), /^k: expected the heads axis/);
      assertThrowsNaming(() => softmaxAttention(q, q, tf.ones([1, 6, 2, 5]) as tf.Tensor4D), /^v: expected the length axis/);
      assertThrowsNaming(() => softmaxAttention(q, q, v, { bias: tf.ones([2, 4, 5]) }), /^bias: expected shape \[2, 4, 4\] or \[1, 2, 4, 4\], got \[2, 4, 5\]/);
      assertThrowsNaming(() => softmaxAttention(q, q, v, { bias: tf.ones([4, 4]) }), /^bias: expected rank 3 or 4/);
      assertThrowsNaming(() => softmaxAttention(q, q, v, { causal: true, offset: -1 }), /^offset: expected an integer >= 0/);
      assertThrowsNaming(() => softmaxAttention(q, q, v, { scale: NaN }), /^scale: expected a finite number/);
    });
  });
});
