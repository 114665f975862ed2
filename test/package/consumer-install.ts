/**
 * rpelab as another project's dependency: `npm pack`, then `npm install <tarball>` into a new
 * project (from the npm registry and cache; the optional notebook stack, danfojs-node and
 * plotly.js-dist, may fail to install there: danfojs-node names an xlsx tarball by URL and
 * depends on @tensorflow/tfjs-node), then use the encodings and a model from plain Node. Checks
 * that the install succeeds, that a layer runs, and that a missing optional package gives a
 * clear error. One summary line for `npm test` (RPELAB_TEST_SUMMARY).
 *   npx tsx test/package/consumer-install.ts [--keep]
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-consumer-'));
const keep = process.argv.includes('--keep');
const failures: string[] = [];
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });

try {
  const packed = run('npm', ['pack', '--silent', '--pack-destination', dir], root).trim().split('\n').pop()!;
  const project = path.join(dir, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  console.log(`[consumer] npm install ${packed} into a new project (${project})`);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, packed)], project);
  const script = `
const rpelab = require('rpelab');
(async () => {
  const info = await rpelab.initBackend();
  const layer = new rpelab.AttentionLayer({ spec: 'linear:elu+lrpe(unitary,householder,learned)', model: 16, numHeads: 2, rng: new rpelab.Rng(0) });
  const y = layer.apply(rpelab.tf.ones([1, 8, 16]), { causal: true });
  const lm = new rpelab.CausalLM({ vocabSize: 32, model: 16, numLayers: 1, numHeads: 2, hidden: 32, maxLength: 16, attention: 'linear:elu+spe(sine,K=2,R=8)', ape: 'none', dropout: 0, seed: 0 });
  const logits = lm.logits(rpelab.tf.zeros([1, 8], 'int32'));
  let tables;
  try { rpelab.dataFrame([{ a: 1 }]); tables = 'available'; } catch (e) { tables = e.message; }
  console.log(JSON.stringify({ backend: info.name, layer: y.shape, logits: logits.shape, tables }));
})().catch((e) => { console.error(e); process.exit(1); });
`;
  fs.writeFileSync(path.join(project, 'use.js'), script);
  const out = run('node', ['use.js'], project);
  const last = JSON.parse(
    out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop()!,
  );
  console.log(`[consumer] ${JSON.stringify(last)}`);
  if (JSON.stringify(last.layer) !== '[1,8,16]') failures.push(`layer output shape ${JSON.stringify(last.layer)}, expected [1,8,16]`);
  if (JSON.stringify(last.logits) !== '[1,8,32]') failures.push(`CausalLM logits shape ${JSON.stringify(last.logits)}, expected [1,8,32]`);
  if (last.tables !== 'available' && !/danfojs-node, an optional dependency of rpelab/.test(last.tables))
    failures.push(`without danfojs-node, tables should say so by name; got: ${last.tables}`);
} catch (e) {
  const err = e as { message: string; stderr?: string; stdout?: string };
  failures.push(`${err.message.split('\n')[0]}\n${(err.stderr ?? '').split('\n').slice(-15).join('\n')}`);
} finally {
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
}
const summary = process.env.RPELAB_TEST_SUMMARY;
if (summary)
  fs.appendFileSync(
    summary,
    JSON.stringify({ backend: 'consumer install', passed: failures.length ? 0 : 1, failed: failures.length ? 1 : 0, skipped: 0 }) + '\n',
  );
if (failures.length) {
  console.error(`[consumer] FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('[consumer] ok: rpelab installs into a new project and runs without the notebook stack');
