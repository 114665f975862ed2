/**
 * The two forms of softmax attention side by side: the quadratic `softmaxAttention` and the blockwise
 * `blockwiseSoftmaxAttention` (O(L) memory), causal, batch 1, 8 heads of 64, forward + backward,
 * alternating calls in one process, median of 3 wall-clock ms per form and length. It sets
 * `quadraticSoftmaxMaxScores()` (where the layer switches form).
 *
 *   npx tsx bench/softmax-forms.ts [--backend wasm] [--lengths 512,1024,2048,4096]
 */
import { parseArgs } from 'util';
import { tf, Rng, initBackend } from '../src/backend';
import { softmaxAttention, softmaxScoreLimit } from '../src/attention/softmax';
import { blockwiseSoftmaxAttention } from '../src/attention/softmax-blockwise';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, lengths: { type: 'string', default: '512,1024,2048,4096' } } });
  const info = await initBackend(values.backend as 'wasm' | 'cpu' | 'tensorflow');
  const lengths = values.lengths!.split(',').map(Number);
  if (lengths.some((l) => !Number.isInteger(l) || l < 1)) throw new Error(`--lengths: expected positive integers separated by commas, got '${values.lengths}'`);
  const [H, D] = [8, 64];
  console.log(`backend ${info.name}; causal, batch 1, ${H} heads of ${D}, forward + backward, median of 3 (ms)`);
  console.log('L        quadratic  blockwise');
  const rng = new Rng(1);
  for (const L of lengths) {
    const draw = () => tf.tensor(rng.normalArray(L * H * D), [1, L, H, D]) as tf.Tensor4D;
    const [q, k, v] = [draw(), draw(), draw()];
    const fits = H * L * L <= softmaxScoreLimit();
    const time = (blockwise: boolean) => {
      const start = performance.now();
      const f = blockwise ? blockwiseSoftmaxAttention : softmaxAttention;
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true }).sum())([
        q,
        k,
        v,
      ]);
      g.forEach((t) => t.dataSync());
      tf.dispose(g);
      return performance.now() - start;
    };
    const runs: [number[], number[]] = [[], []];
    for (let i = 0; i < 4; i++) {
      if (fits) runs[0].push(time(false));
      runs[1].push(time(true));
    }
    const median = (xs: number[]) => (xs.length ? [...xs.slice(1)].sort((a, b) => a - b)[1] : NaN); // first call is warm-up
    console.log(`${String(L).padEnd(8)} ${(fits ? median(runs[0]).toFixed(0) : 'too big').padStart(9)}  ${median(runs[1]).toFixed(0).padStart(9)}`);
    tf.dispose([q, k, v]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
