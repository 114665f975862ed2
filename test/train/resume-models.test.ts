/**
 * Resume proven on real models: a CausalLM with learned-θ LRPE, a CausalLM with gated sineSPE
 * (fresh codes every step) and an Encoder classifier with dropout are killed with SIGKILL between
 * checkpoints, or in the middle of writing one, and resumed in a new process; the final weights,
 * optimiser moments and generator states equal those of an uninterrupted run bit for bit.
 */
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../../src/backend';
import { readCheckpoint, type CheckpointContents, type HostTensors } from '../../src/train';
import { onJsonLines } from '../helpers';

const REPO = path.resolve(__dirname, '../..');
const STEPS = 16;
const EVERY = 5;

interface ChildOutcome {
  signal: string | null;
  code: number | null;
  steps: number[];
  stderr: string;
}

/** Runs the fixture; with `killAtStep`, SIGKILLs its process group once it reports that step. */
function child(kind: string, dir: string, opts: { killAtStep?: number; crash?: string } = {}): Promise<ChildOutcome> {
  const args = ['tsx', 'test/train/fixtures/run-model.ts', kind, dir, String(STEPS), String(EVERY), opts.killAtStep ? '300' : '0'];
  if (opts.crash) args.push(opts.crash);
  const p = spawn('npx', args, { cwd: REPO, env: { ...process.env, RPELAB_BACKEND: tf.getBackend() }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: ChildOutcome = { signal: null, code: null, steps: [], stderr: '' };
  return new Promise((resolve, reject) => {
    onJsonLines(p.stdout!, (ev) => {
      if (ev.kind !== 'step' || ev.step === undefined) return;
      out.steps.push(ev.step);
      if (ev.step === opts.killAtStep) process.kill(-p.pid!, 'SIGKILL');
    });
    p.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
    p.on('error', reject);
    p.on('exit', (code, signal) => resolve({ ...out, code, signal }));
  });
}

function assertSameTensors(a: HostTensors, b: HostTensors, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: names`);
  for (const name of Object.keys(a)) {
    assert.deepEqual(a[name].shape, b[name].shape, `${what} '${name}': shape`);
    const bytes = (h: HostTensors[string]) => Buffer.from(h.data.buffer, h.data.byteOffset, h.data.byteLength);
    assert.ok(bytes(a[name]).equals(bytes(b[name])), `${what} '${name}': values differ`);
  }
}

/** Weights, optimiser step and moments, generator states and step: bit for bit. */
function assertSameRun(resumed: CheckpointContents, reference: CheckpointContents): void {
  assert.equal(resumed.step, reference.step);
  assertSameTensors(resumed.weights, reference.weights, 'weight');
  assert.ok(resumed.optimizer && reference.optimizer);
  assert.equal(resumed.optimizer.step, reference.optimizer.step);
  assertSameTensors(resumed.optimizer.slots, reference.optimizer.slots, 'optimiser slot');
  assert.deepEqual(resumed.rngs, reference.rngs, 'generator states');
  assert.deepEqual(resumed.config, reference.config);
}

const final = (dir: string) => readCheckpoint(path.join(dir, `step-${String(STEPS).padStart(8, '0')}`));

describe('train/resume on real models (SIGKILL, child processes)', function () {
  this.timeout(240000);
  let dir: string;
  const references = new Map<string, CheckpointContents>();
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-resume-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function reference(kind: string): Promise<CheckpointContents> {
    if (!references.has(kind)) {
      const d = path.join(dir, `${kind}-reference`);
      const r = await child(kind, d);
      assert.equal(r.code, 0, r.stderr);
      references.set(kind, final(d));
    }
    return references.get(kind)!;
  }

  for (const kind of ['lm-lrpe', 'lm-spe', 'cls-dropout']) {
    it(`${kind}: killed at step 7 (checkpoints every ${EVERY}), resumed from step 5, ends bit-identical to an uninterrupted run`, async () => {
      const ref = await reference(kind);
      const d = path.join(dir, `${kind}-killed`);
      const killed = await child(kind, d, { killAtStep: 7 });
      assert.equal(killed.signal, 'SIGKILL', `not killed (exit ${killed.code}): ${killed.stderr}`);
      assert.ok(!fs.existsSync(path.join(d, `step-${String(STEPS).padStart(8, '0')}`)));
      const resumed = await child(kind, d);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(resumed.steps[0], 6, 'the resumed process starts after the step-5 checkpoint');
      assertSameRun(final(d), ref);
    });
  }

  for (const crash of ['data:10', 'rename:10']) {
    it(`lm-lrpe: killed while writing the step-10 checkpoint (${crash === 'data:10' ? 'data file half written' : 'files written, not yet renamed'}), resumed, ends bit-identical`, async () => {
      const ref = await reference('lm-lrpe');
      const d = path.join(dir, `crash-${crash.replace(':', '-')}`);
      const killed = await child('lm-lrpe', d, { crash });
      // The fixture's node process kills itself; the npx/tsx wrapper above it reports 128 + 9.
      assert.ok(killed.signal === 'SIGKILL' || killed.code === 137, `failpoint did not fire (exit ${killed.code}): ${killed.stderr}`);
      assert.ok(
        fs.readdirSync(d).some((n) => n.startsWith('.tmp-step-00000010')),
        'the interrupted write left its temporary directory',
      );
      const resumed = await child('lm-lrpe', d);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(resumed.steps[0], 6, 'the half-written step-10 checkpoint is ignored; the run resumes from step 5');
      assert.ok(!fs.readdirSync(d).some((n) => n.startsWith('.tmp-')), 'the temporary is cleaned up');
      assertSameRun(final(d), ref);
    });
  }
});
