import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf } from '../../src/backend';
import {
  runExperiments,
  registerExperiment,
  unregisterExperiment,
  readSummary,
  collectReport,
  formatCell,
  getExperiment,
  type RunnerEvent,
} from '../../src/experiments';

import { tinyLmDefinition } from './fixtures';

describe('experiments: runner (finished runs are kept, interrupted runs resume)', function () {
  this.timeout(120000);
  const NAME = 'test-runner-lm';
  let root = '';
  before(() => {
    registerExperiment(tinyLmDefinition(NAME));
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-runner-'));
  });
  after(() => {
    unregisterExperiment(NAME);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a run writes config, metrics, checkpoint and summary; running again skips it', async () => {
    const dir = path.join(root, 'a');
    const events: RunnerEvent[] = [];
    const before = tf.memory().numTensors;
    const out = await runExperiments({ experiments: [NAME], scale: 'smoke', only: ['lrpe'], resultsDir: dir }, { onEvent: (e) => events.push(e) });
    assert.equal(tf.memory().numTensors - before, 0, 'the runner leaves no tensor behind (model, optimiser moments, batches all disposed)');
    assert.equal(out.finished.length, 1);
    const runDir = path.join(dir, NAME, 'smoke', 'lrpe', 'seed-0');
    for (const f of ['config.json', 'metrics.jsonl', 'summary.json', 'checkpoints']) assert.ok(fs.existsSync(path.join(runDir, f)), f);
    const s = readSummary(runDir)!;
    assert.equal(s.steps, 6);
    // 6 updates from logits of unit variance (table ~ N(0, 1/model)): about uniform (256) times e^½, not diverged.
    assert.ok(s.metrics.test_ppl > 1 && s.metrics.test_ppl < 600, `test ppl ${s.metrics.test_ppl}`);
    assert.ok(
      events.some((e) => e.kind === 'progress' && e.event.kind === 'step' && e.event.tokensPerSec! > 0),
      'progress events reach the caller',
    );

    const mtime = fs.statSync(path.join(runDir, 'summary.json')).mtimeMs;
    const again: RunnerEvent[] = [];
    const out2 = await runExperiments({ experiments: [NAME], scale: 'smoke', only: ['lrpe'], resultsDir: dir }, { onEvent: (e) => again.push(e) });
    assert.equal(out2.finished.length, 0);
    assert.equal(out2.skipped.length, 1);
    assert.ok(again.some((e) => e.kind === 'run-skip'));
    assert.ok(!again.some((e) => e.kind === 'run-start'), 'a finished run is never recomputed');
    assert.equal(fs.statSync(path.join(runDir, 'summary.json')).mtimeMs, mtime);
  });

  it('an aborted run stops after a checkpoint and resumes to the same result as an uninterrupted one', async () => {
    const req = (dir: string) => ({ experiments: [NAME], scale: 'smoke', only: ['spe'], resultsDir: dir });
    const straight = await runExperiments(req(path.join(root, 'straight')));

    const dir = path.join(root, 'resumed');
    const controller = new AbortController();
    const first = await runExperiments(req(dir), {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.kind === 'progress' && e.event.kind === 'step' && e.event.step >= 3) controller.abort();
      },
    });
    assert.ok(first.stopped, 'the run reports it was stopped');
    const runDir = path.join(dir, NAME, 'smoke', 'spe', 'seed-0');
    assert.equal(readSummary(runDir), null);
    assert.ok(fs.readdirSync(path.join(runDir, 'checkpoints')).length > 0, 'a checkpoint was written at the stop');

    const events: RunnerEvent[] = [];
    const second = await runExperiments(req(dir), { onEvent: (e) => events.push(e) });
    const start = events.find((e) => e.kind === 'progress' && e.event.kind === 'start');
    assert.ok(
      start && start.kind === 'progress' && start.event.kind === 'start' && start.event.resumedFrom !== null && start.event.step >= 3,
      'resumed from the checkpoint',
    );
    assert.equal(second.finished.length, 1);
    const a = straight.finished[0].metrics;
    const b = second.finished[0].metrics;
    for (const k of Object.keys(a)) assert.ok(Math.abs(a[k] - b[k]) <= 1e-4 * Math.abs(a[k]), `${k}: ${a[k]} vs ${b[k]}`);
  });

  it('a diverged run is recorded as diverged, counted by the report and not retried', async () => {
    const dir = path.join(root, 'diverged');
    const overrides = { schedule: { kind: 'constant' as const, lr: 1e30 } };
    const events: RunnerEvent[] = [];
    const out = await runExperiments({ experiments: [NAME], scale: 'smoke', only: ['ape'], overrides, resultsDir: dir }, { onEvent: (e) => events.push(e) });
    assert.equal(out.finished.length, 0);
    assert.equal(out.diverged.length, 1);
    const runDir = out.diverged[0].dir;
    const s = readSummary(runDir)!;
    assert.equal(s.status, 'diverged');
    assert.match(s.diverged!.reason, /loss: not finite at step \d+/);
    assert.ok(events.some((e) => e.kind === 'run-diverged'));
    const again = await runExperiments({ experiments: [NAME], scale: 'smoke', only: ['ape'], overrides, resultsDir: dir }, { onEvent: (e) => events.push(e) });
    assert.equal(again.skipped.length, 1, 'a diverged run is a result: not retried');
    assert.ok(events.some((e) => e.kind === 'run-skip' && e.reason === 'diverged'));
    const scaleDir = path.relative(path.join(dir, NAME), path.dirname(path.dirname(runDir)));
    const row = collectReport(getExperiment(NAME), scaleDir, { resultsDir: dir }).rows.find((r) => r.variant === 'ape')!;
    assert.deepEqual(
      row.runs.map((r) => r.status),
      ['diverged'],
    );
    assert.equal(row.cells.test_ppl.mean, null);
    assert.equal(formatCell(row.cells.test_ppl), '— (n=0 of 1, 1 diverged)');
  });

  it('a finished run whose stored config differs from the plan is refused, naming the differing keys', async () => {
    const dir = path.join(root, 'stale');
    await runExperiments({ experiments: [NAME], scale: 'smoke', only: ['ape'], resultsDir: dir });
    const runDir = path.join(dir, NAME, 'smoke', 'ape', 'seed-0');
    const cfgFile = path.join(runDir, 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.settings.steps += 1;
    cfg.spec = 'linear:relu+none';
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    await assert.rejects(
      runExperiments({ experiments: [NAME], scale: 'smoke', only: ['ape'], resultsDir: dir }),
      /1 run directory holds a run made with another configuration, whose results are not reused: .*seed-0 \(differs in settings\.steps, spec\)\. Move them aside/,
    );
  });
});
