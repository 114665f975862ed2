import { strict as assert } from 'assert';
import { listExperiments, getExperiment, validateDefinition, planRuns, SCALES, resolveSpec } from '../../src/experiments';
import { parseSpec } from '../../src/attention/spec';
import { EXTRA_ROWS } from '../../src/experiments/rows';

describe('experiments: definitions', () => {
  it('every table of both papers is registered, each definition validates at every scale', () => {
    const names = listExperiments().map((d) => d.name);
    for (const n of [
      'lrpe-alm',
      'lrpe-p-ablation',
      'lrpe-blm',
      'lrpe-imdb',
      'lrpe-mnist',
      'lrpe-fashion-mnist',
      'spe-lra-listops',
      'spe-lra-text',
      'spe-lra-retrieval',
      'spe-lra-image',
      'extrapolation-midi',
      'extrapolation-text',
      'pe-quality',
    ]) {
      assert.ok(names.includes(n), `missing experiment ${n}`);
    }
    for (const d of listExperiments()) {
      validateDefinition(d);
      for (const scale of SCALES) {
        for (const v of Object.values(d.variants)) parseSpec(resolveSpec(v.attention, d.scales[scale].encoding));
      }
    }
  });

  it("smoke and quick run one seed; small runs three (one for the tables no claim uses); full uses the papers' sizes", () => {
    const oneSeed = ['lrpe-mnist', 'pe-quality'];
    for (const d of listExperiments()) {
      assert.equal(d.scales.smoke.seeds.length, 1, d.name);
      assert.equal(d.scales.quick.seeds.length, 1, d.name);
      assert.equal(d.scales.small.seeds.length, oneSeed.includes(d.name) ? 1 : 3, d.name);
    }
    const alm = getExperiment('lrpe-alm').scales.full;
    assert.deepEqual([alm.numLayers, alm.model, alm.numHeads, alm.hidden, alm.length], [6, 512, 8, 2048, 512]);
    const lo = getExperiment('spe-lra-listops').scales.full;
    assert.deepEqual([lo.numLayers, lo.model, lo.length, lo.steps, lo.encoding.R, lo.encoding.K, lo.encoding.P], [6, 512, 2000, 10000, 64, 10, 128]);
    assert.equal(getExperiment('spe-lra-image').scales.full.encoding.R, 32);
  });

  it('the LRPE ALM table has the ten expected rows and three normaliser controls, all on 1+elu linear attention', () => {
    const d = getExperiment('lrpe-alm');
    assert.deepEqual(Object.keys(d.variants), [
      'nope',
      'ape-sinusoidal',
      'ape-learned',
      'rope',
      'spe',
      'permuteformer',
      'lrpe-rotation',
      'lrpe-permutation',
      'lrpe-unitary',
      'lrpe-unitary-learned',
      'lrpe-unitary-learned-denominator',
      'rope-layernorm',
      'nope-layernorm',
      ...Object.keys(EXTRA_ROWS),
    ]);
    for (const v of Object.values(d.variants)) assert.match(v.attention, /^linear(\(norm=\w+\))?:elu\+/);
    // The controls differ from their row in the normaliser only.
    assert.equal(parseSpec(d.variants['lrpe-unitary-learned-denominator'].attention).normalize, 'denominator');
    assert.equal(parseSpec(d.variants['lrpe-unitary-learned'].attention).normalize, 'layernorm');
    assert.equal(parseSpec(d.variants['rope-layernorm'].attention).normalize, 'layernorm');
    assert.equal(parseSpec(d.variants.rope.attention).normalize, 'denominator');
    assert.equal(d.variants.nope.ape, 'none');
    assert.equal(d.variants['lrpe-rotation'].ape, 'sinusoidal', "APE is kept as in the authors' configs");
    assert.equal(Object.keys(getExperiment('lrpe-p-ablation').variants).length, 12);
  });

  it('LRPE paper numbers are unknown (no cell invented); SPE LRA numbers are SPE paper, Liutkus et al. 2021', () => {
    for (const d of listExperiments().filter((x) => x.paper === 'LRPE')) assert.equal(d.paperNumbers, undefined, d.name);
    const r = getExperiment('spe-lra-retrieval').paperNumbers!;
    assert.deepEqual(r['relu-sinespe'].test_acc, { mean: 62.39, std: 0.59, n: 3 });
    assert.deepEqual(r['performer-convspe'].test_acc, { mean: 57.22, std: null, n: 1 });
    assert.equal(getExperiment('spe-lra-text').paperNumbers!['performer-convspe'], undefined, 'no result file: shown as —');
    assert.deepEqual(getExperiment('spe-lra-listops').paperNumbers!['relu-convspe'].test_acc, { mean: 9.18, std: 1.45, n: 2 });
  });

  it('the SPE rows are gated, carry no APE, and fill R, K, P from the scale', () => {
    const d = getExperiment('spe-lra-text');
    const plans = planRuns({ experiments: ['spe-lra-text'], scale: 'full', only: ['performer-convspe', 'relu-sinespe'], seeds: [0] });
    assert.deepEqual(
      plans.map((p) => p.spec),
      ['linear(features=256):favor+spe(conv,P=128,R=64,gated)', 'linear:relu+spe(sine,K=10,R=64,gated)'],
    );
    assert.equal(d.variants['relu-sinespe'].ape, 'none');
    assert.equal(d.variants['relu-ape'].ape, 'sinusoidal');
  });

  it('image experiments give 2-D positions to RoPE and the rotation / unitary LRPE only', () => {
    const d = getExperiment('lrpe-mnist');
    const grid = Object.entries(d.variants)
      .filter(([, v]) => v.grid)
      .map(([k]) => k)
      .sort();
    assert.deepEqual(grid, ['lrpe-rotation', 'lrpe-unitary', 'lrpe-unitary-learned', 'rope']);
  });
});
