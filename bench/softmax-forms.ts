/**
 * The forms of softmax attention side by side: the quadratic `softmaxAttention`, the blockwise
 * form composed from tf ops (`blockwiseSoftmaxAttentionOps`, O(L) memory) and, where the addon is
 * built with OpenBLAS, the blockwise form as one native kernel each way (`nativeFlashAttention`),
 * causal, batch 1, 8 heads of 64, forward + backward, alternating calls in one process, median of 3
 * wall-clock ms per form and length. It set `quadraticSoftmaxMaxScores()` (where the layer switches
 * from the quadratic to the tf-op blockwise form when the native kernel is not there).
 *
 *   npx tsx bench/softmax-forms.ts [--backend wasm] [--lengths 512,1024,2048,4096]
 */
import { parseArgs } from 'util';
import { tf, Rng, initBackend } from '../src/backend';
import { softmaxAttention, softmaxScoreLimit } from '../src/attention/softmax';
import { blockwiseSoftmaxAttentionOps } from '../src/attention/softmax-blockwise';
import { hasNativeFlash, nativeFlashAttention } from '../src/attention/softmax-flash';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, lengths: { type: 'string', default: '512,1024,2048,4096' } } });
  const info = await initBackend(values.backend as 'wasm' | 'cpu' | 'tensorflow');
  const lengths = values.lengths!.split(',').map(Number);
  if (lengths.some((l) => !Number.isInteger(l) || l < 1)) throw new Error(`--lengths: expected positive integers separated by commas, got '${values.lengths}'`);
  const [H, D] = [8, 64];
  console.log(`backend ${info.name}; causal, batch 1, ${H} heads of ${D}, forward + backward, median of 3 (ms)`);
  const native = hasNativeFlash();
  console.log(`L        quadratic  blockwise (tf ops)  blockwise (native)${native ? '' : ': not built with OpenBLAS'}`);
  const rng = new Rng(1);
  for (const L of lengths) {
    const draw = () => tf.tensor(rng.normalArray(L * H * D), [1, L, H, D]) as tf.Tensor4D;
    const [q, k, v] = [draw(), draw(), draw()];
    const fits = H * L * L <= softmaxScoreLimit();
    type Form = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, o: { causal: boolean }) => tf.Tensor4D;
    const forms: Form[] = [
      softmaxAttention,
      blockwiseSoftmaxAttentionOps,
      (a, b, c) => nativeFlashAttention(a, b, c, { causal: true, scale: 1 / Math.sqrt(D), offset: 0 }),
    ];
    const time = (form: number) => {
      const start = performance.now();
      const f = forms[form];
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: true }).sum())([
        q,
        k,
        v,
      ]);
      g.forEach((t) => t.dataSync());
      tf.dispose(g);
      return performance.now() - start;
    };
    const runs: [number[], number[], number[]] = [[], [], []];
    for (let i = 0; i < 4; i++) {
      if (fits) runs[0].push(time(0));
      runs[1].push(time(1));
      if (native) runs[2].push(time(2));
    }
    const median = (xs: number[]) => [...xs.slice(1)].sort((a, b) => a - b)[1]; // first call is warm-up
    const cell = (xs: number[], none: string) => (xs.length ? median(xs).toFixed(0) : none);
    console.log(`${String(L).padEnd(8)} ${cell(runs[0], 'too big').padStart(9)}  ${cell(runs[1], '').padStart(19)}  ${cell(runs[2], '—').padStart(18)}`);
    tf.dispose([q, k, v]);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
