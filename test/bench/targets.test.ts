import { strict as assert } from 'assert';
import type { LayerPoint } from '../../bench/suites/layer';
import type { TrainPoint } from '../../bench/suites/train';
import { pairedRatio, type OverheadPoint } from '../../bench/suites/overhead';
import {
  linearScalingTarget,
  linearMemoryTarget,
  lrpeOverheadTarget,
  speOverheadTarget,
  softmaxTarget,
  trainTarget,
  evaluateTargets,
  vsTorchTargets,
  trainStepProducts,
  TORCH_LINEAR,
  linearLayerFlops,
  blasFractionTarget,
} from '../../bench/targets';
import type { MicroPoint } from '../../bench/suites/micro';
import type { VsTorchPoint } from '../../bench/suites/vs-torch';

type Dir = 'causal' | 'bidirectional';
const pt = (encoding: string, direction: Dir, L: number, msMedian?: number, tensorPeakMB?: number): LayerPoint => ({
  encoding,
  spec: encoding,
  attention: encoding === 'softmax' ? 'softmax' : 'linear',
  direction,
  L,
  batch: 1,
  heads: 8,
  headDim: 64,
  ...(msMedian !== undefined ? { msMedian, tensorPeakMB, rssPeakMB: 100 } : { skipped: 'budget' }),
});
const LS = [1024, 2048, 4096, 8192, 16384];
const both = (f: (d: Dir) => LayerPoint[]) => [...f('causal'), ...f('bidirectional')];

describe('bench/targets', () => {
  it('linear-time exponent: PASS for t ∝ L, FAIL for t ∝ L^1.3, N/A when 16k was not measured', () => {
    const lin = both((d) => LS.map((L) => pt('none', d, L, 0.01 * L)));
    const r = linearScalingTarget(lin);
    assert.equal(r.status, 'PASS');
    assert.ok(Math.abs(r.value! - 1) < 1e-9);
    const steep = both((d) => LS.map((L) => pt('none', d, L, 1e-3 * L ** 1.3)));
    assert.equal(linearScalingTarget(steep).status, 'FAIL');
    assert.ok(Math.abs(linearScalingTarget(steep).value! - 1.3) < 1e-9);
    const short = both((d) => LS.map((L) => pt('none', d, L, L < 16384 ? 0.01 * L : undefined)));
    assert.equal(linearScalingTarget(short).status, 'N/A');
  });

  it('linear memory ratio uses the tensor peaks at 16k and 8k, worst direction', () => {
    const pts = [
      pt('none', 'causal', 8192, 10, 100),
      pt('none', 'causal', 16384, 20, 190),
      pt('none', 'bidirectional', 8192, 10, 100),
      pt('none', 'bidirectional', 16384, 20, 250),
    ];
    const r = linearMemoryTarget(pts);
    assert.equal(r.value, 2.5);
    assert.equal(r.status, 'FAIL');
    pts[3].tensorPeakMB = 199;
    assert.equal(linearMemoryTarget(pts).status, 'PASS');
  });

  it('LRPE overhead takes the worst core and direction at L = 4096', () => {
    const pts = both((d) => [
      pt('none', d, 4096, 100),
      pt('lrpe-rotation', d, 4096, 110),
      pt('lrpe-permutation', d, 4096, d === 'causal' ? 140 : 120),
      pt('lrpe-unitary', d, 4096, 125),
    ]);
    const r = lrpeOverheadTarget(pts);
    assert.ok(Math.abs(r.value! - 1.4) < 1e-12);
    assert.equal(r.status, 'FAIL');
    pts.find((p) => p.encoding === 'lrpe-permutation' && p.direction === 'causal')!.msMedian = 129;
    assert.equal(lrpeOverheadTarget(pts).status, 'PASS');
    assert.equal(lrpeOverheadTarget(pts.filter((p) => p.encoding !== 'lrpe-unitary')).status, 'N/A');
  });

  it('SPE overhead threshold 2 at L = 4096', () => {
    const pts = both((d) => [pt('none', d, 4096, 100), pt('spe-sine', d, 4096, 199)]);
    assert.equal(speOverheadTarget(pts).status, 'PASS');
    pts[1].msMedian = 201;
    assert.equal(speOverheadTarget(pts).status, 'FAIL');
  });

  it('overhead targets prefer the paired ratios (median of per-pair ratios) over separate runs, per clock', () => {
    assert.equal(pairedRatio([110, 300, 120], [100, 100, 100]), 1.2); // a slow pair (a drifting machine) does not move the median
    assert.throws(() => pairedRatio([1], []), /pairedRatio: expected two non-empty lists of one length/);
    const pts = both((d) => [pt('none', d, 4096, 100), pt('spe-sine', d, 4096, 250), pt('lrpe-rotation', d, 4096, 140)]);
    const pair = (encoding: string, direction: Dir, ratio: number, cpuRatio: number): OverheadPoint => ({
      encoding,
      spec: encoding,
      baseline: 'none',
      direction,
      L: 4096,
      pairs: 9,
      ratio,
      cpuRatio,
      ratios: [ratio],
      cpuRatios: [cpuRatio],
    });
    assert.equal(speOverheadTarget(pts).status, 'FAIL');
    const paired = [pair('spe-sine', 'causal', 1.8, 1.9), pair('spe-sine', 'bidirectional', 1.95, 2.1)];
    const wall = speOverheadTarget(pts, 4096, 2, 'wall', paired);
    assert.equal(wall.status, 'PASS');
    assert.equal(wall.value, 1.95);
    assert.match(wall.detail, /spe-sine bidirectional: x1\.95 \(9 pairs\)/);
    const cpu = speOverheadTarget(pts, 4096, 2, 'cpu', paired); // the pairs' CPU-time ratios (the layer points have none)
    assert.deepEqual([cpu.value, cpu.status], [2.1, 'FAIL']);
    // A direction without a pair falls back to the separate runs and says so.
    const mixed = lrpeOverheadTarget(
      pts.filter((p) => p.encoding !== 'lrpe-rotation' || p.direction === 'causal'),
      4096,
      1.3,
      'wall',
      [pair('lrpe-rotation', 'bidirectional', 1.1, 1.1)],
    );
    assert.match(mixed.detail, /lrpe-rotation causal: x1\.40 \(separate runs\)/);
    assert.match(mixed.detail, /lrpe-rotation bidirectional: x1\.10 \(9 pairs\)/);
  });

  it('linear vs softmax: measured speedup at 8k, or extrapolated from the softmax power law', () => {
    const lin = both((d) => LS.map((L) => pt('none', d, L, 0.01 * L)));
    const soft = both((d) => [1024, 2048, 4096].map((L) => pt('softmax', d, L, 1e-5 * L * L)));
    const r = softmaxTarget([...lin, ...soft]);
    // softmax at 8192 extrapolated: 1e-5·8192² = 671 ms; linear 81.92 ms -> x8.19.
    assert.ok(Math.abs(r.value! - (1e-5 * 8192 * 8192) / (0.01 * 8192)) < 1e-6, `value ${r.value}`);
    assert.match(r.detail, /extrapolated/);
    assert.equal(r.status, 'PASS');
    // Softmax faster than linear at L = 1024 fails the "from 1k on" half whatever the 8k ratio.
    const slowLinear = lin.map((p) => (p.L === 1024 ? { ...p, msMedian: 100 } : p));
    assert.equal(softmaxTarget([...slowLinear, ...soft]).status, 'FAIL');
  });

  it('training speedup is the worst encoding ratio of tokens/s against the baseline; N/A without one', () => {
    const step = (encoding: string, msMedian: number, cpuMsMedian: number): TrainPoint => ({
      encoding,
      spec: '',
      batch: 8,
      length: 256,
      msMedian,
      cpuMsMedian,
      tokensPerSec: 2048 / (msMedian / 1000),
    });
    const now = [step('none', 100, 50), step('rope', 1000 / 4.5, 60)];
    const base = [step('none', 600, 400), step('rope', 1000, 400)];
    const r = trainTarget(now, base, 'baseline-wasm.json');
    assert.ok(Math.abs(r.value! - 4.5) < 1e-12);
    assert.equal(r.status, 'FAIL');
    // On CPU time the same runs are x8 and x6.67.
    const c = trainTarget(now, base, 'baseline-wasm.json', 5, 'cpu');
    assert.ok(Math.abs(c.value! - 400 / 60) < 1e-12);
    assert.equal(c.status, 'PASS');
    now[1].msMedian = 200;
    assert.equal(trainTarget(now, base, 'b').status, 'PASS');
    assert.equal(trainTarget(now, null, 'none').status, 'N/A');
    // A baseline step that timed out bounds its speedup from below; a plain error leaves it N/A.
    const slow = [...now, step('conv', 1000, 900)];
    const timedOut = [...base, { ...step('conv', 0, 0), msMedian: undefined, cpuMsMedian: undefined, error: 'timed out after 150 s (--point-timeout)' }];
    const t = trainTarget(slow, timedOut, 'b');
    assert.equal(t.status, 'PASS');
    assert.match(t.detail, /conv: > x150\.00 \(the baseline step timed out after 150 s\)/);
    const failed = [...base, { ...step('conv', 0, 0), msMedian: undefined, cpuMsMedian: undefined, error: 'out of memory' }];
    assert.equal(trainTarget(slow, failed, 'b').status, 'N/A');
  });

  it('evaluateTargets lists the seven targets of the issues', () => {
    assert.deepEqual(
      evaluateTargets([], [], null, 'none').map((t) => t.id),
      ['layer-blas-fraction', 'linear-time-exponent', 'linear-memory-ratio', 'lrpe-overhead', 'spe-overhead', 'linear-vs-softmax', 'train-speedup'],
    );
  });

  /** The micro suite's q/k/v projection product at `gflops`. */
  const sgemm = (gflops: number): MicroPoint => ({
    name: 'matmul 2-D (qkv projection)',
    shape: '[4096x512] @ [512x1536]',
    flops: 1,
    msMedian: 1,
    gflops,
    gflopsCpu: gflops,
  });

  it('linearLayerFlops: the four projections 3·2·L·m·4m and the attention 3·2·2·H·L·D·(D+1), forward + backward', () => {
    const f = linearLayerFlops(8192);
    assert.equal(f.projections, 3 * 2 * 8192 * 512 * 4 * 512); // 51.54 GFLOP
    assert.equal(f.attention, 3 * 2 * 2 * 8 * 8192 * 64 * 65);
    assert.equal(Math.round((f.projections + f.attention) / 1e7) / 100, 54.81);
  });

  it('layer-blas-fraction: the plain bidirectional layer GFLOP/s over the micro suite sgemm GFLOP/s, N/A without either', () => {
    const flops = (({ projections, attention }) => projections + attention)(linearLayerFlops(8192));
    const at = (ms: number) => [pt('none', 'bidirectional', 8192, ms)];
    const pass = blasFractionTarget(at(flops / 1e6 / 150), [sgemm(200)]); // 150 GFLOP/s vs 200
    assert.equal(pass.status, 'PASS');
    assert.equal(pass.value, 0.75);
    assert.match(pass.detail, /54\.81 GFLOP in .* ms = 150\.00 GFLOP\/s; OpenBLAS \[4096x512\] @ \[512x1536\]: 200\.00 GFLOP\/s/);
    assert.equal(blasFractionTarget(at(flops / 1e6 / 100), [sgemm(200)]).status, 'FAIL');
    assert.equal(blasFractionTarget(at(100), []).status, 'N/A');
    assert.match(blasFractionTarget([], [sgemm(200)]).detail, /needs the layer at L = 8192/);
  });

  describe('vs-torch targets', () => {
    const layer = (encoding: string, direction: Dir, L: number, ratio?: number): VsTorchPoint => ({
      kind: 'layer',
      encoding,
      spec: encoding,
      direction,
      L,
      ...(ratio !== undefined ? { ratio, ratios: [ratio], msMedian: 100 * ratio, torchMsMedian: 100, pairs: 1 } : { skipped: 'budget' }),
    });
    const train = (encoding: string, ratio?: number): VsTorchPoint => ({
      kind: 'train',
      encoding,
      spec: encoding,
      ...(ratio !== undefined ? { ratio, msMedian: 10 * ratio, torchMsMedian: 10, tokensPerSec: 2048 / ratio, torchTokensPerSec: 2048 } : { error: 'boom' }),
    });
    const grid = (ratio: (e: string, L: number) => number | undefined, encodings = [...TORCH_LINEAR, 'softmax'], lengths = [512, 1024, 8192, 16384]) =>
      encodings.flatMap((e) => (['causal', 'bidirectional'] as Dir[]).flatMap((d) => lengths.map((L) => layer(e, d, L, ratio(e, L)))));
    const byId = (ts: ReturnType<typeof vsTorchTargets>) => Object.fromEntries(ts.map((t) => [t.id, t]));

    it('nothing measured: no vs-torch targets at all', () => {
      assert.deepEqual(vsTorchTargets([]), []);
    });

    it('PASS when every linear point is at most 0.5x, softmax at most 1.3x in 1k..8k, the step at least 3x', () => {
      const pts = [...grid((e, L) => (e === 'softmax' ? (L === 16384 ? 9 : 1.2) : 0.4)), train('none', 0.3), train('lrpe-unitary', 0.25)];
      const t = byId(vsTorchTargets(pts));
      assert.deepEqual([t['torch-linear-layers'].status, t['torch-softmax'].status, t['torch-train-step'].status], ['PASS', 'PASS', 'PASS']);
      assert.equal(t['torch-linear-layers'].value, 0.4);
      assert.equal(t['torch-softmax'].value, 1.2); // L = 16384 is outside the softmax target's range
      assert.ok(Math.abs(t['torch-train-step'].value! - 1 / 0.3) < 1e-9); // the worst encoding counts
    });

    it('FAIL on the worst point, named in the detail', () => {
      const pts = [...grid((e, L) => (e === 'spe-sine' && L === 8192 ? 0.7 : 0.4)), train('none', 0.5)];
      const t = byId(vsTorchTargets(pts));
      assert.equal(t['torch-linear-layers'].status, 'FAIL');
      assert.equal(t['torch-linear-layers'].value, 0.7);
      assert.match(t['torch-linear-layers'].detail, /38 of 40 points pass; worst spe-sine (causal|bidirectional) L=8192/);
      assert.equal(t['torch-train-step'].status, 'FAIL');
    });

    it('counts the failing linear points whose four projections alone, at the run sgemm rate, take more than half of PyTorch time', () => {
      // L = 8192: 51.54 GFLOP of projections, 257.7 ms at 200 GFLOP/s; PyTorch 100 ms (grid): out of reach. L = 512: 16.1 ms, within reach.
      const pts = [...grid((e, L) => (e === 'none' && (L === 8192 || L === 512) ? 0.9 : 0.4)), train('none', 0.2)];
      const t = byId(vsTorchTargets(pts, [512, 16384], [sgemm(200)]));
      assert.equal(t['torch-linear-layers'].status, 'FAIL');
      assert.match(
        t['torch-linear-layers'].detail,
        /2 of the 4 failing points are out of reach at this BLAS .*200\.00 GFLOP\/s: none causal L=8192, none bidirectional L=8192\)/,
      );
      assert.doesNotMatch(byId(vsTorchTargets(pts))['torch-linear-layers'].detail, /out of reach/, 'no micro suite, no claim');
    });

    it("counts the train step's products (27, 1.41 GFLOP) and says what 3x PyTorch leaves beside them at the run sgemm rate", () => {
      // 2 layers of width 64 (feed-forward 256), vocabulary 256, 2048 tokens: (2 x 201.3 + 67.1) MFLOP forward, x3 with the backward.
      const p = trainStepProducts();
      assert.equal(p.products, 27);
      assert.equal(p.flops, 3 * (2 * (2 * 2048 * 64 * 192 + 2 * 2048 * 64 * 64 + 2 * 2 * 2048 * 64 * 256) + 2 * 2048 * 64 * 256));
      assert.ok(Math.abs(p.flops - 1.4093e9) < 1e5);
      // At 200 GFLOP/s the products take 7.05 ms. none: PyTorch 39.3 ms, 3x -> 13.10 ms, leaving 6.05;
      // lrpe-unitary: PyTorch 18 ms -> 6 ms, less than the products.
      const pts = [
        ...grid(() => 0.4),
        { ...train('none', 0.5), msMedian: 19.65, torchMsMedian: 39.3 },
        { ...train('lrpe-unitary', 0.5), msMedian: 9, torchMsMedian: 18 },
      ];
      const t = byId(vsTorchTargets(pts, [512, 16384], [sgemm(200)]))['torch-train-step'];
      assert.equal(t.status, 'FAIL');
      assert.match(t.detail, /the step's 27 products \(1\.41 GFLOP, every encoding\) take 7\.05 ms at OpenBLAS's 200\.00 GFLOP\/s/);
      assert.match(t.detail, /none 6\.05 of 13\.10 ms \(its whole step now 19\.65 ms\)/);
      assert.match(t.detail, /lrpe-unitary nothing: its products alone exceed 6\.00 ms \(out of reach at this BLAS\)/);
      assert.doesNotMatch(byId(vsTorchTargets(pts))['torch-train-step'].detail, /products/, 'no micro suite, no claim');
      const passing = byId(vsTorchTargets([...grid(() => 0.4), train('none', 0.3)], [512, 16384], [sgemm(200)]))['torch-train-step'];
      assert.equal(passing.status, 'PASS');
      assert.doesNotMatch(passing.detail, /products/, 'nothing to explain when the target passes');
    });

    it('N/A when a length of the range, a softmax point or a training step was not measured', () => {
      const pts = [...grid((e, L) => (e === 'lrpe-unitary' && L === 16384 ? undefined : 0.4)), train('none', 0.2), train('spe-sine')];
      const t = byId(vsTorchTargets(pts));
      assert.equal(t['torch-linear-layers'].status, 'N/A');
      assert.match(t['torch-linear-layers'].detail, /not measured: lrpe-unitary causal L=16384, lrpe-unitary bidirectional L=16384/);
      assert.equal(t['torch-train-step'].status, 'N/A');
      assert.match(t['torch-train-step'].detail, /spe-sine: boom/);
    });
  });
});
