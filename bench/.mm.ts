import { tf, initBackend, Rng } from '../src/backend';
async function main() {
  await initBackend('wasm');
  const rng = new Rng(1);
  const rnd = (s: number[]) => tf.tensor(rng.normalArray(s.reduce((a, b) => a * b, 1)), s);
  for (const [g, m, k, n] of [[256, 32, 16, 17], [256, 32, 32, 32], [256, 32, 64, 65], [256, 64, 64, 65], [256, 128, 64, 65], [64, 256, 64, 65]]) {
    const a = rnd([g, m, k]), b = rnd([g, k, n]);
    for (let i = 0; i < 30; i++) tf.matMul(a, b).dispose();
    const reps = 30; const c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) tf.matMul(a, b).dispose();
    const c = process.cpuUsage(c0); const ms = (c.user + c.system) / 1000 / reps;
    console.log(`[${g}x${m}x${k}]@[${g}x${k}x${n}]  cpu ${ms.toFixed(2)} ms  ${(ms * 1000 / g).toFixed(1)} µs/block  ${(2 * g * m * k * n / ms / 1e6).toFixed(2)} GFLOP/s`);
    tf.dispose([a, b]);
  }
}
main();
