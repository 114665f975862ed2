import { tf, initBackend, Rng } from '../src/backend';
async function main() {
  await initBackend(process.argv[2] ?? 'wasm');
  const a = tf.tensor(new Rng(1).normalArray(512), [32, 16]);
  const time = (label: string, f: () => void, reps = 20000) => { for (let i = 0; i < 2000; i++) f(); const c0 = process.cpuUsage(); const t0 = performance.now(); for (let i = 0; i < reps; i++) f(); const c = process.cpuUsage(c0); console.log(label, ((c.user + c.system) / reps).toFixed(2), 'µs cpu/call', ((performance.now() - t0) * 1000 / reps).toFixed(2), 'µs wall'); };
  time('tf.add', () => tf.add(a, a).dispose());
  time('tidy(add)', () => tf.tidy(() => tf.add(a, a)).dispose());
  time('reshape', () => a.reshape([16, 32]).dispose());
}
main();
