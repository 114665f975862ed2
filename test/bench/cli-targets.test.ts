import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runScript } from '../helpers';

const run = (...args: string[]) => runScript('bench/cli.ts', ...args);

describe('bench/cli --targets', () => {
  it("prints a committed summary's targets, the vs-torch ones evaluated by this code, without running anything", function () {
    this.timeout(60_000);
    const summary = path.join('bench', 'summaries', '2026-12-05-062103-wasm.json');
    const r = run('--targets', summary);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /2026-12-05-062103-wasm\.json \(wasm, 2026-12-05T06:21:03\.767Z, code d69ba00\), wall time:/);
    // The seven targets the run recorded and its three vs-torch targets, each once.
    const ids = [...r.stdout.matchAll(/^(PASS|FAIL|N\/A) +(\S+)/gm)].map((m) => m[2]);
    assert.equal(ids.length, 10, r.stdout);
    assert.equal(new Set(ids).size, 10);
    // This code's account of the training step: its products at the run's sgemm rate, and what 3x PyTorch leaves beside them.
    assert.match(r.stdout, /FAIL +torch-train-step +1\.96 \(>= 3\)/);
    assert.match(r.stdout, /the step's 27 products \(1\.41 GFLOP, every encoding\) take 7\.13 ms at OpenBLAS's 197\.74 GFLOP\/s/);
    assert.match(r.stdout, /none 5\.94 of 13\.07 ms \(its whole step now 19\.97 ms\)/);
  });

  it('refuses a file that is not a bench result, naming the flag', function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-targets-'));
    const bad = path.join(dir, 'x.json');
    fs.writeFileSync(bad, '{"schema": "other"}');
    const r = run('--targets', bad);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--targets: expected a bench result or summary file \(schema rpelab-bench\/1\), got .*x\.json/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
