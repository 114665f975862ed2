import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, Rng } from '../../src/backend';
import { ProgressEvent, TrainConfig, crossEntropy, latestCheckpoint, listCheckpoints, readCheckpoint, readJsonl, train } from '../../src/train';
import { ToyBatch, ToyMLP, toyAccuracy, toyConfig, weightsOf } from './fixtures/toy';
import { onJsonLines } from '../helpers';

const REPO = path.resolve(__dirname, '../..');

/** Runs `cfg` and disposes its optimiser; returns the result. */
async function run(cfg: TrainConfig<ToyBatch>) {
  try {
    return await train(cfg);
  } finally {
    cfg.optimizer.dispose();
  }
}

/** Weights after an uninterrupted run of `steps` updates. */
async function straight(steps: number, extra: Partial<TrainConfig<ToyBatch>> = {}) {
  const m = new ToyMLP();
  const r = await run(toyConfig(m, { steps, ...extra }));
  const w = weightsOf(m);
  m.dispose();
  return { w, r };
}

const trainRecords = (file: string) =>
  readJsonl<{ kind: string; step: number; loss: number; lr: number; gradNorm: number; tokens: number }>(file)
    .records.filter((r) => r.kind === 'train')
    .map((r) => [r.step, r.loss, r.lr, r.gradNorm, r.tokens]);

describe('train/loop', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-loop-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('learns the toy task, with tf.memory().numTensors flat over 300 steps', async () => {
    const m = new ToyMLP();
    const accBefore = toyAccuracy(m);
    const counts: number[] = [];
    const losses: number[] = [];
    const base = toyConfig(m, { steps: 300 });
    const cfg = toyConfig(m, {
      steps: 300,
      // numTensors at the start of every step, before the step's tf.tidy makes anything.
      nextBatch: (step, rng) => {
        counts.push(tf.memory().numTensors);
        return base.nextBatch(step, rng);
      },
      logEvery: 10,
      evalEvery: 100,
      evaluate: () => ({ acc: toyAccuracy(m) }),
      checkpointDir: path.join(dir, 'ck'),
      checkpointEvery: 100,
      metricsFile: path.join(dir, 'metrics.jsonl'),
      onProgress: (ev) => ev.kind === 'step' && losses.push(ev.loss),
    });
    const before = tf.memory().numTensors;
    const r = await train(cfg);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(counts.length, 300);
    assert.ok(
      counts.every((c) => c === before),
      `numTensors over the run: min ${Math.min(...counts)}, max ${Math.max(...counts)}, start ${before}`,
    );
    assert.equal(r.step, 300);
    assert.equal(r.tokens, 300 * 16);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.equal(losses.length, 30);
    assert.ok(mean(losses.slice(-3)) < 0.5 * mean(losses.slice(0, 3)), `loss ${mean(losses.slice(0, 3))} -> ${mean(losses.slice(-3))}`);
    assert.ok(r.eval!.acc > 0.85 && r.eval!.acc > accBefore + 0.2, `accuracy ${accBefore} -> ${r.eval!.acc}`);
    const recs = readJsonl<{ kind: string; step: number }>(path.join(dir, 'metrics.jsonl')).records;
    assert.deepEqual(
      recs.filter((x) => x.kind === 'eval').map((x) => x.step),
      [100, 200, 300],
    );
    assert.deepEqual(
      recs.filter((x) => x.kind === 'checkpoint').map((x) => x.step),
      [100, 200, 300],
    );
    assert.deepEqual(
      listCheckpoints(path.join(dir, 'ck')).map((c) => c.step),
      [200, 300],
    ); // keepCheckpoints 2
    cfg.optimizer.dispose();
    base.optimizer.dispose();
    m.dispose();
  });

  it('resume after SIGKILL of a child process reaches the same weights as an uninterrupted run', async function () {
    this.timeout(90000);
    const STEPS = 120;
    const EVERY = 20;
    const ck = path.join(dir, 'ck');
    const { w: reference } = await straight(STEPS, { metricsFile: path.join(dir, 'straight.jsonl') });

    // The child trains with checkpoints every 20 steps, sleeping 20 ms per logged step; kill it once step 40 is saved.
    const metricsFile = path.join(dir, 'resumed.jsonl');
    const child = spawn('npx', ['tsx', 'test/train/fixtures/run-toy.ts', ck, metricsFile, String(STEPS), String(EVERY), '20'], {
      cwd: REPO,
      env: { ...process.env, RPELAB_BACKEND: tf.getBackend() },
      detached: true, // its own process group, so the kill reaches tsx's node child too
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let killedAt = -1;
    try {
      const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
        onJsonLines(child.stdout!, (ev) => {
          if (ev.kind === 'checkpoint' && ev.step !== undefined && ev.step >= 2 * EVERY && killedAt < 0) {
            killedAt = ev.step;
            process.kill(-child.pid!, 'SIGKILL');
          }
        });
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('exit', (code, signal) => resolve({ code, signal }));
      });
      assert.equal(exit.signal, 'SIGKILL', `child was not killed (exit ${exit.code}); stderr: ${stderr}`);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const latest = latestCheckpoint(ck)!;
    const savedStep = readCheckpoint(latest).step;
    assert.ok(savedStep >= killedAt && savedStep < STEPS, `killed at step ${killedAt}; latest checkpoint step ${savedStep}`);

    // Resume in this process from a freshly initialised model.
    const m = new ToyMLP();
    m.fc1.weight.assign(tf.zerosLike(m.fc1.weight)); // the checkpoint must overwrite everything
    const events: ProgressEvent[] = [];
    const r = await run(toyConfig(m, { steps: STEPS, checkpointDir: ck, checkpointEvery: EVERY, metricsFile, onProgress: (ev) => events.push(ev) }));
    assert.equal(r.resumedFrom, latest);
    assert.deepEqual(events[0], { kind: 'start', step: savedStep, totalSteps: STEPS, resumedFrom: latest });
    assert.equal(r.step, STEPS);
    // Exact equality: same backend, same kernels, same float32 operations in the same order.
    assert.deepEqual(weightsOf(m), reference);
    // The metrics log reads as one run: the killed segment's extra records were dropped on resume.
    assert.deepEqual(trainRecords(metricsFile), trainRecords(path.join(dir, 'straight.jsonl')));
    m.dispose();
  });

  it('an AbortSignal stops the run cleanly after writing a checkpoint, and resuming finishes it identically', async () => {
    const { w: reference } = await straight(60);
    const ck = path.join(dir, 'ck');
    const ac = new AbortController();
    const m = new ToyMLP();
    const r = await run(
      toyConfig(m, {
        steps: 60,
        checkpointDir: ck,
        signal: ac.signal,
        onProgress: (ev) => ev.kind === 'step' && ev.step === 25 && ac.abort(),
      }),
    );
    assert.equal(r.aborted, true);
    assert.equal(r.step, 25);
    assert.deepEqual(
      listCheckpoints(ck).map((c) => c.step),
      [25],
    );
    assert.deepEqual(readCheckpoint(latestCheckpoint(ck)!).weights['fc2.bias'].data, new Float32Array(m.fc2.bias!.dataSync()));
    const m2 = new ToyMLP(3);
    const r2 = await run(toyConfig(m2, { steps: 60, checkpointDir: ck }));
    assert.equal(r2.step, 60);
    assert.deepEqual(weightsOf(m2), reference);
    m.dispose();
    m2.dispose();
  });

  it('a corrupt newest checkpoint is moved aside and the run resumes from the one before, saying so in the metrics and progress', async () => {
    const { w: reference } = await straight(40);
    const ck = path.join(dir, 'ck');
    const metricsFile = path.join(dir, 'm.jsonl');
    const m = new ToyMLP();
    const ac = new AbortController();
    await run(
      toyConfig(m, {
        steps: 40,
        checkpointDir: ck,
        checkpointEvery: 10,
        keepCheckpoints: 3,
        metricsFile,
        signal: ac.signal,
        onProgress: (ev) => ev.kind === 'checkpoint' && ev.step === 20 && ac.abort(),
      }),
    );
    m.dispose();
    assert.deepEqual(
      listCheckpoints(ck).map((c) => c.step),
      [10, 20],
    );
    const newest = latestCheckpoint(ck)!;
    const data = path.join(newest, 'data.bin');
    const bytes = fs.readFileSync(data);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(data, bytes);

    const m2 = new ToyMLP(3);
    const events: ProgressEvent[] = [];
    const r = await run(
      toyConfig(m2, { steps: 40, checkpointDir: ck, checkpointEvery: 10, keepCheckpoints: 3, metricsFile, onProgress: (ev) => events.push(ev) }),
    );
    assert.equal(path.basename(r.resumedFrom!), 'step-00000010', 'fell back to step 10');
    const warning = events.find((e) => e.kind === 'warning');
    assert.ok(
      warning && warning.kind === 'warning' && /skipped checkpoint .*step-00000020 .*SHA-256.*resumed from .*step-00000010/.test(warning.message),
      JSON.stringify(warning),
    );
    const skipped = readJsonl<{ kind: string; path: string; movedTo: string; reason: string }>(metricsFile).records.filter(
      (x) => x.kind === 'checkpoint-skipped',
    );
    assert.equal(skipped.length, 1);
    assert.ok(fs.existsSync(skipped[0].movedTo), 'the corrupt checkpoint is kept, under corrupt-*');
    assert.deepEqual(weightsOf(m2), reference, 'the fallback resume still reaches the uninterrupted weights');
    m2.dispose();
  });

  it('refuses to resume from a checkpoint made with another configuration, naming the differing keys', async () => {
    const ck = path.join(dir, 'ck');
    const m = new ToyMLP();
    await run(toyConfig(m, { steps: 20, checkpointDir: ck, config: { lr: 0.01, spec: 'linear:elu+rope' } }));
    await assert.rejects(
      run(toyConfig(m, { steps: 30, checkpointDir: ck, config: { lr: 0.01, spec: 'linear:elu+rope' } })),
      /another configuration \(train.steps 20 -> 30\)/,
    );
    await assert.rejects(
      run(toyConfig(m, { steps: 20, checkpointDir: ck, config: { lr: 0.02, spec: 'linear:elu+rope' } })),
      /cfg.config: .*run.lr 0.01 -> 0.02.*delete/,
    );
    await assert.rejects(run(toyConfig(m, { steps: 20, seed: 9, checkpointDir: ck, config: { lr: 0.01, spec: 'linear:elu+rope' } })), /train.seed/);
    // The same configuration resumes (here: nothing left to do).
    const r = await run(toyConfig(m, { steps: 20, checkpointDir: ck, config: { lr: 0.01, spec: 'linear:elu+rope' } }));
    assert.equal(r.step, 20);
    m.dispose();
  });

  it('an abort from a timer is seen between steps (the loop yields to the event loop)', async () => {
    const ac = new AbortController();
    const m = new ToyMLP();
    setTimeout(() => ac.abort(), 100);
    const r = await run(toyConfig(m, { steps: 1_000_000, checkpointDir: dir, signal: ac.signal }));
    assert.equal(r.aborted, true);
    assert.ok(r.step > 0 && r.step < 1_000_000, `stopped at ${r.step}`);
    assert.equal(readCheckpoint(latestCheckpoint(dir)!).step, r.step);
    m.dispose();
  });

  it('a non-finite loss stops the run, naming the step, before the bad update', async () => {
    const m = new ToyMLP();
    const cfg = toyConfig(m, {
      steps: 10,
      loss: (b, ctx) => tf.tidy(() => crossEntropy(m.apply(b.x, ctx.rng, true), b.y).mul(ctx.step < 4 ? 1 : NaN) as tf.Scalar),
    });
    await assert.rejects(run(cfg), /loss: not finite at step 4 \(loss NaN/);
    const { w } = await straight(4);
    assert.deepEqual(weightsOf(m), w);
    m.dispose();
  });

  it('rejects a bad configuration, naming the field', async () => {
    const m = new ToyMLP();
    const cfg = toyConfig(m, { steps: 5 });
    await assert.rejects(train({ ...cfg, steps: -1 }), /cfg.steps: expected an integer >= 0, got -1/);
    await assert.rejects(train({ ...cfg, checkpointEvery: 5 }), /cfg.checkpointDir: expected a directory/);
    await assert.rejects(train({ ...cfg, rngs: { data: new Rng(1) } }), /cfg.rngs: 'data' is reserved/);
    await assert.rejects(train({ ...cfg, clipNorm: 0 }), /cfg.clipNorm: expected a finite number > 0/);
    await assert.rejects(train({ ...cfg, evaluate: () => ({ step: 1 }) }), /cfg.evaluate: the metric name 'step' is reserved/);
    cfg.optimizer.dispose();
    m.dispose();
  });
});
