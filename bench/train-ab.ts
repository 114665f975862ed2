/**
 * The small-LM training step (the train suite's model: `trainConfig`, batch 8 × 256) of this tree
 * against another checkout of rpelab (a `git worktree` of an older commit, its native addon built),
 * in alternating processes on the same machine, so that both sides see the same drift:
 *
 *   git worktree add /tmp/old 743f5e4 && (cd /tmp/old && ln -s "$PWD/node_modules" . && bash scripts/build-native.sh)
 *   npx tsx bench/train-ab.ts --other /tmp/old --encodings none,lrpe-unitary,spe-sine --rounds 5 --steps 30
 *
 * Each round runs one process per side and encoding (the order of the sides flips every round); a
 * process times `steps` steps after three warm-up steps and prints ms per step. The parent prints
 * the median of each side and the median of the per-round ratios other / this (the speedup).
 * Environment variables pass through, so `RPELAB_NATIVE=0` compares the portable paths.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { parseArgs } from 'util';

/** Child: one side, one encoding. Prints the mean ms per step. */
async function child(root: string, encoding: string, steps: number): Promise<void> {
  const { tf, initBackend, Rng } = await import(path.join(root, 'src/backend'));
  const { CausalLM } = await import(path.join(root, 'src/models/transformer'));
  const { AdamW, lossAndGrads } = await import(path.join(root, 'src/train/optim'));
  const { trainConfig, ENCODING_CASES } = await import(path.join(root, 'bench/cases'));
  await initBackend('wasm');
  const c = (ENCODING_CASES as Array<{ name: string; spec: string }>).find((x) => x.name === encoding);
  if (!c) throw new Error(`--encodings: '${encoding}' is not an encoding of ${root}/bench/cases.ts`);
  const data = new Rng(3);
  const tokens = Int32Array.from({ length: 8 * 257 }, () => data.int(256));
  const seq = tf.tensor2d(tokens, [8, 257], 'int32');
  const ids = seq.slice([0, 0], [8, 256]);
  const targets = seq.slice([0, 1], [8, 256]);
  const model = new CausalLM(trainConfig(c.spec));
  const opt = new AdamW(model, { weightDecay: 0.01 });
  const rng = new Rng(4);
  const step = () =>
    tf.tidy(() => {
      const { loss, grads } = lossAndGrads(model, () => model.loss(ids, targets, { training: true, rng }));
      opt.apply(grads, 1e-3);
      tf.dispose([loss, ...Object.values(grads)]);
    });
  for (let i = 0; i < 3; i++) step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  process.stdout.write(`${((performance.now() - t0) / steps).toFixed(2)}\n`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function main(): void {
  const { values } = parseArgs({
    options: {
      other: { type: 'string' },
      encodings: { type: 'string', default: 'none,lrpe-unitary,spe-sine' },
      rounds: { type: 'string', default: '5' },
      steps: { type: 'string', default: '30' },
      child: { type: 'string' },
      encoding: { type: 'string' },
    },
  });
  const steps = Number(values.steps);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps: expected a positive integer, got '${values.steps}'`);
  if (values.child !== undefined) {
    void child(values.child, values.encoding ?? '', steps);
    return;
  }
  if (!values.other) throw new Error('--other: expected the path of another rpelab checkout (a git worktree with its native addon built)');
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a positive integer, got '${values.rounds}'`);
  const sides = { other: path.resolve(values.other), this: path.resolve(__dirname, '..') };
  const run = (root: string, encoding: string) => {
    const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--child', root, '--encoding', encoding, '--steps', String(steps)], {
      encoding: 'utf8',
      env: process.env,
    });
    const ms = Number(r.stdout.trim().split('\n').pop());
    if (r.status !== 0 || !Number.isFinite(ms)) throw new Error(`${root} ${encoding}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return ms;
  };
  for (const encoding of values.encodings.split(',')) {
    const ms: Record<'other' | 'this', number[]> = { other: [], this: [] };
    const ratios: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const order: Array<'other' | 'this'> = i % 2 ? ['this', 'other'] : ['other', 'this'];
      for (const side of order) ms[side].push(run(sides[side], encoding));
      ratios.push(ms.other[i] / ms.this[i]);
    }
    console.log(
      `${encoding.padEnd(18)} other ${median(ms.other).toFixed(1)} ms  this ${median(ms.this).toFixed(1)} ms  speedup ${median(ratios).toFixed(2)}x` +
        `  (per round ${ratios.map((r) => r.toFixed(2)).join(' ')})`,
    );
  }
}

main();
