import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { summarizeResult, formatSummary, stripPaths, SUMMARY_KERNELS } from '../../bench/summary';
import { RESULT_SCHEMA, type BenchResult } from '../../bench/report';
import { evaluateTargets } from '../../bench/targets';
import type { LayerPoint } from '../../bench/suites/layer';

function result(): BenchResult {
  const point = (direction: 'causal' | 'bidirectional', L: number, ms: number): LayerPoint => ({
    encoding: 'none',
    spec: 'linear:elu+none',
    attention: 'linear',
    direction,
    L,
    batch: 1,
    heads: 8,
    headDim: 64,
    ms: [ms, ms + 1, ms - 1],
    msMedian: ms,
    cpuMs: [2 * ms],
    cpuMsMedian: 2 * ms,
    tensorPeakMB: L / 100,
    kernels: [
      { name: 'Add', ms: 1, calls: 2 },
      { name: 'BatchMatMul', ms: 9, calls: 4 },
      { name: 'Elu', ms: 2, calls: 1 },
      { name: 'Transpose', ms: 3, calls: 1 },
      { name: 'Sum', ms: 0.5, calls: 1 },
    ],
  });
  return {
    schema: RESULT_SCHEMA,
    date: '2026-01-01T00:00:00.000Z',
    backend: 'wasm',
    backendInfo: { native: { active: true, detail: '/home/someone/rpelab/native/build/Release/rpelab_native.node (avx2+fma, 2 threads)' } },
    baseline: false,
    tag: null,
    machine: { hostname: 'lab-node-17', cpus: 2, cpuModel: 'Test CPU', totalMemMB: 1000, loadStart: [0, 0, 0], node: 'v20', tfjs: '4.22.0' },
    code: { commit: 'abc1234', srcHash: '0123456789ab', uncommitted: 0 },
    args: { out: '/home/someone/rpelab/bench/results' } as unknown as BenchResult['args'],
    layer: [1024, 2048, 4096, 8192, 16384].flatMap((L) => [point('causal', L, L / 10), point('bidirectional', L, L / 20)]),
    overhead: [],
    fits: [],
    train: [{ encoding: 'none', spec: 'linear:elu+none', batch: 8, length: 256, msMedian: 100 }],
    micro: [],
    targets: [],
  };
}

describe('bench/summary (the committed form of a result)', () => {
  it('keeps every median and the targets computed from them, the three slowest kernels per point, no host name and no absolute paths', () => {
    const r = result();
    const s = summarizeResult(r);
    assert.equal(s.machine.hostname, undefined);
    assert.equal(r.machine.hostname, 'lab-node-17', 'the result itself is not modified');
    assert.equal((s.backendInfo.native as { detail: string }).detail, 'rpelab_native.node (avx2+fma, 2 threads)');
    assert.equal((s.args as unknown as { out: string }).out, 'results');
    assert.deepEqual(
      s.layer.map((p) => p.msMedian),
      r.layer.map((p) => p.msMedian),
    );
    assert.deepEqual(
      s.layer[0].kernels!.map((k) => k.name),
      ['BatchMatMul', 'Transpose', 'Elu'],
    );
    assert.ok(s.layer.every((p) => p.kernels!.length === SUMMARY_KERNELS));
    const targets = (x: BenchResult) => evaluateTargets(x.layer, x.train, r.train, 'baseline', 'wall', x.overhead);
    assert.deepEqual(targets(s), targets(r));
    const text = formatSummary(s);
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(s)));
    assert.equal(text.split('\n').filter((l) => l.includes('"L":')).length, r.layer.length, 'one layer point per line');
    assert.ok(!/lab-node-17|\/home\//.test(text));
  });

  it('stripPaths keeps the last component of every absolute path and nothing else', () => {
    assert.equal(stripPaths('/a/b/c.node (x, 2 threads)'), 'c.node (x, 2 threads)');
    assert.equal(stripPaths('no paths here: 1/2 of 3'), 'no paths here: 1/2 of 3');
  });

  it('the committed summaries are summaries: no host names, no absolute paths, at most three kernels per point', () => {
    const dir = path.join(__dirname, '..', '..', 'bench', 'summaries');
    const files = fs
      .readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0, 'bench/summaries holds the summaries the README cites');
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      const s = JSON.parse(text) as BenchResult;
      assert.equal(s.schema, RESULT_SCHEMA, f);
      assert.equal(s.machine.hostname, undefined, f);
      assert.ok(!/"\/(work|home|root|tmp)\//.test(text) && !/ \/(work|home|root|tmp)\//.test(text), `${f}: an absolute path`);
      assert.ok(
        s.layer.every((p) => (p.kernels?.length ?? 0) <= SUMMARY_KERNELS),
        f,
      );
    }
  });
});
