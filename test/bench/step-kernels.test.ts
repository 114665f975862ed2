import { strict as assert } from 'assert';
import { runScript } from '../helpers';

const run = (...args: string[]) => runScript('bench/step-kernels.ts', ...args);

describe('bench/step-kernels', () => {
  it('prints every kernel of the training step with its calls, and the products repeated on the same operands', function () {
    this.timeout(120_000);
    const r = run('--encoding', 'none', '--steps', '1', '--backend', 'wasm');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^\[step-kernels\] none \(linear:elu\+none\) on wasm, 1 steps$/);
    assert.match(lines[1], /^step +[\d.]+ ms \(repeated products excluded\), kernels +[\d.]+ ms, calls \d+$/);
    const [, inStep, repeated] = /^products +([\d.]+) ms in the step, +([\d.]+) ms repeated/.exec(lines[2]) ?? [];
    assert.ok(Number(inStep) > 0 && Number(repeated) > 0, lines[2]);
    // The small LM's 27 projections and head (with the native kernels 19 plain products and 8 with
    // their bias; without them the attention's tf-op form adds its own), each row with its repeated time.
    const row = (name: string) =>
      lines
        .find((l) => l.startsWith(name + ' '))
        ?.trim()
        .split(/\s+/);
    const calls = (name: string) => Number(row(name)?.[2] ?? 0);
    assert.ok(calls('BatchMatMul') + calls('_FusedMatMul') >= 27, r.stdout);
    assert.equal(row('BatchMatMul')?.length, 4);
    assert.equal(row('Reshape')?.length, 3);
  });

  it('--shapes: a row per product shape with its flops rate in the step and repeated', function () {
    this.timeout(120_000);
    const r = run('--encoding', 'none', '--steps', '1', '--backend', 'wasm', '--shapes');
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.split('\n').filter((l) => /^(BatchMatMul|_FusedMatMul) /.test(l));
    // The small LM's products: its q/k/v, output and feed-forward projections and the tied head, forward and backward.
    assert.ok(rows.length >= 8, r.stdout);
    let calls = 0;
    for (const row of rows) {
      const m = /^(BatchMatMul|_FusedMatMul) (\[[\d,]+\]ᵀ?)·(\[[\d,]+\]ᵀ?) +([\d.]+) +(\d+) +([\d.]+) +(\d+) +(\d+)$/.exec(row);
      assert.ok(m, row);
      calls += Number(m![5]);
      assert.ok(Number(m![7]) > 0 && Number(m![8]) > 0, row);
    }
    assert.equal(calls, 27, r.stdout);
    assert.ok(
      rows.some((l) => l.startsWith('_FusedMatMul [2048,64]·[64,192] ')),
      'the q/k/v projection, 8 x 256 tokens of width 64',
    );
    assert.ok(
      rows.some((l) => l.startsWith('BatchMatMul [2048,64]ᵀ·[2048,192] ')),
      "its weight's gradient",
    );
  });

  it('refuses an unknown encoding and a step count that is not a positive integer, naming the flag', () => {
    const bad = run('--encoding', 'nope');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--encoding: expected one of none, .*got 'nope'/);
    const steps = run('--steps', '0');
    assert.notEqual(steps.status, 0);
    assert.match(steps.stderr, /--steps: expected a positive integer, got '0'/);
  });
});
