// scratch profiler (not part of the suite)
import { tf, initBackend, Rng } from '../src/backend';
import { linearAttention } from '../src/attention/linear';
import { CausalLM } from '../src/models/transformer';
import { AdamW, lossAndGrads } from '../src/train/optim';
import { trainConfig } from './cases';
import { profileCall } from './measure';
async function main() {
  await initBackend(process.argv[2] ?? 'wasm');
  const what = process.argv[3] ?? 'causal';
  let call: () => void;
  if (what === 'causal' || what === 'bidir') {
    const rng = new Rng(1); const L = Number(process.argv[4] ?? 1024);
    const [q, k, v] = [0, 1, 2].map(() => tf.tensor(rng.normalArray(L * 512), [1, L, 8, 64]) as tf.Tensor4D);
    call = () => tf.dispose(tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => linearAttention(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, { causal: what === 'causal' }).square().mean())([q, k, v]));
  } else {
    const m = new CausalLM(trainConfig(process.argv[4] ?? 'linear:elu+none')); const o = new AdamW(m);
    const d = new Rng(3); const ids = tf.tensor2d(Int32Array.from({ length: 8 * 256 }, () => d.int(256)), [8, 256], 'int32');
    const rng = new Rng(4);
    call = () => tf.tidy(() => { const { loss, grads } = lossAndGrads(m, () => m.loss(ids, ids, { training: true, rng })); o.apply(grads, 1e-3); });
  }
  call();
  const c0 = process.cpuUsage(); const t0 = performance.now(); call(); const cpu = process.cpuUsage(c0);
  console.log('wall', (performance.now() - t0).toFixed(0), 'cpu', ((cpu.user + cpu.system) / 1000).toFixed(0));
  const p = await profileCall(call, 25);
  console.log('kernel total', p.kernelMs, 'tensor peak', p.tensorPeakMB);
  for (const k of p.kernels) console.log(k.name.padEnd(30), String(k.ms).padStart(9), k.calls);
}
main();
