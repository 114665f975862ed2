import { tf, initBackend, Rng } from '../src/backend';
function jsmm(a: Float32Array, b: Float32Array, out: Float32Array, g: number, m: number, k: number, n: number) {
  for (let x = 0; x < g; x++) {
    const ao = x * m * k, bo = x * k * n, oo = x * m * n;
    for (let i = 0; i < m; i++) {
      const row = oo + i * n;
      for (let j = 0; j < n; j++) out[row + j] = 0;
      for (let p = 0; p < k; p++) {
        const aip = a[ao + i * k + p];
        const br = bo + p * n;
        for (let j = 0; j < n; j++) out[row + j] += aip * b[br + j];
      }
    }
  }
}
async function main() {
  await initBackend('wasm');
  const rng = new Rng(1);
  for (const [g, m, k, n] of [[256, 32, 16, 17], [256, 32, 32, 32], [256, 32, 64, 65], [256, 64, 64, 65]]) {
    const a = rng.normalArray(g * m * k), b = rng.normalArray(g * k * n), out = new Float32Array(g * m * n);
    jsmm(a, b, out, g, m, k, n);
    const reps = 10; const c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) jsmm(a, b, out, g, m, k, n);
    const c = process.cpuUsage(c0); const ms = (c.user + c.system) / 1000 / reps;
    const ta = tf.tensor(a, [g, m, k]), tb = tf.tensor(b, [g, k, n]);
    tf.matMul(ta, tb).dispose();
    const c1 = process.cpuUsage(); for (let i = 0; i < reps; i++) tf.matMul(ta, tb).dispose(); const cc = process.cpuUsage(c1); const ms2 = (cc.user + cc.system) / 1000 / reps;
    console.log(`[${g}x${m}x${k}]@[${k}x${n}]  js ${(ms * 1000 / g).toFixed(1)} µs/block (${(2 * g * m * k * n / ms / 1e6).toFixed(2)} GFLOP/s)   xnn ${(ms2 * 1000 / g).toFixed(1)} µs/block`);
    tf.dispose([ta, tb]);
  }
}
main();
