import { tf, initBackend, Rng } from '../src/backend';
async function main() {
  await initBackend('wasm');
  const rng = new Rng(1);
  const rnd = (s: number[]) => tf.tensor(rng.normalArray(s.reduce((a, b) => a * b, 1)), s);
  const a = rnd([32, 16]), b = rnd([16, 17]);
  const time = (label: string, f: () => void, reps = 2000) => { f(); const c0 = process.cpuUsage(); for (let i = 0; i < reps; i++) f(); const c = process.cpuUsage(c0); console.log(label, ((c.user + c.system) / reps).toFixed(2), 'µs/call'); };
  time('tf.matMul 2-D cached operator', () => tf.matMul(a, b).dispose());
  time('tf.add (elementwise op overhead)', () => tf.add(a, a).dispose());
  time('tf.matMul 2-D fresh b each call', () => { const bb = b.clone(); tf.matMul(a, bb).dispose(); bb.dispose(); });
  time('clone alone', () => { const bb = b.clone(); bb.dispose(); });
}
main();
