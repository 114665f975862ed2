import { strict as assert } from 'assert';
import { parseSpec, formatSpec } from '../../src/attention/spec';
import { listEncodings } from '../../src/encodings/registry';
import { assertThrowsNaming, EXAMPLE_SPECS } from '../helpers';

describe('attention spec strings', () => {
  it('parses the LRPE example with positional arguments placed by their choices', () => {
    const s = parseSpec('linear:elu+lrpe(unitary,householder,learned)');
    assert.equal(s.kind, 'linear');
    assert.equal(s.featureMap, 'elu');
    assert.equal(s.normalize, 'layernorm', 'LRPE drops the denominator for LayerNorm, as the final code');
    assert.deepEqual(s.encoding, { name: 'lrpe', args: { core: 'unitary', p: 'householder', theta: 'learned' } });
  });

  it('parses the SPE example with aliases and flags', () => {
    const s = parseSpec('performer+spe(sine,K=10,R=64,gated)');
    assert.equal(s.kind, 'linear', 'performer is linear attention with the FAVOR+ feature map');
    assert.equal(s.featureMap, 'favor');
    assert.equal(s.normalize, 'denominator');
    assert.equal(s.numFeatures, 256);
    assert.deepEqual(s.encoding, { name: 'spe', args: { variant: 'sine', numSines: 10, numRealizations: 64, kernelSize: 128, gated: true } });
    assert.equal(parseSpec('linear:relu+spe(conv,P=16,ungated)').encoding!.args.gated, false);
  });

  it('reads attention options and defaults', () => {
    const s = parseSpec('linear(norm=denominator,chunk=32):relu+lrpe(rotation)');
    assert.equal(s.normalize, 'denominator');
    assert.equal(s.chunkSize, 32);
    assert.equal(s.featureMap, 'relu');
    assert.equal(parseSpec('linear:elu').encoding, null);
    assert.equal(parseSpec('linear:elu+none').encoding, null);
    assert.equal(parseSpec('performer(features=64)').numFeatures, 64);
    assert.deepEqual(parseSpec('performer(F=64)'), parseSpec('linear(features=64):favor'), 'F is the declared alias of features; performer is linear:favor');
    assert.equal(formatSpec(parseSpec('performer(features=64)+rope')), 'linear(features=64):favor+rope');
  });

  it('round-trips through the canonical form', () => {
    for (const spec of EXAMPLE_SPECS) {
      const parsed = parseSpec(spec);
      const canonical = formatSpec(parsed);
      assert.deepEqual(parseSpec(canonical), parsed, `${spec} -> ${canonical}`);
    }
    assert.equal(formatSpec(parseSpec('linear:elu+lrpe(rotation,householder,fixed)')), 'linear:elu+lrpe');
  });

  it('registers every encoding of both papers and the baselines, each declared in its own file', () => {
    const names = listEncodings().map((d) => d.name);
    for (const n of ['lrpe', 'spe', 'rope', 'permuteformer', 'relbias']) assert.ok(names.includes(n), `${n} is registered`);
  });

  it('refuses bad specs, naming the part and the valid choices', () => {
    assertThrowsNaming(() => parseSpec('quadratic+lrpe'), /unknown attention 'quadratic'/, /linear, softmax, performer/);
    assertThrowsNaming(() => parseSpec('linear:tanh'), /unknown feature map 'tanh'/);
    assertThrowsNaming(() => parseSpec('linear:elu+alibi'), /unknown encoding 'alibi'/, /'lrpe'/);
    assertThrowsNaming(() => parseSpec('linear:elu+lrpe(spiral)'), /lrpe: cannot place argument 'spiral'/, /core \(rotation\|mixed\|permutation\|unitary\)/);
    assertThrowsNaming(() => parseSpec('linear:elu+lrpe(rotation,core=unitary)'), /lrpe.core: given twice/);
    assertThrowsNaming(() => parseSpec('linear:elu+spe(R=0)'), /spe.numRealizations: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => parseSpec('linear:elu+spe(Q=3)'), /spe: unknown argument 'Q'/);
    assertThrowsNaming(() => parseSpec('linear:elu+relbias'), /needs 'softmax' attention/);
    assertThrowsNaming(() => parseSpec('performer:relu'), /applies to 'linear' only/);
    assertThrowsNaming(() => parseSpec('linear:elu+lrpe(rotation'), /unbalanced/);
    assertThrowsNaming(() => parseSpec(''), /spec: expected a non-empty string/);
  });

  it('refuses options and arguments that the chosen attention or variant does not take (never ignores them)', () => {
    assertThrowsNaming(() => parseSpec('linear:elu+spe(conv,K=5)'), /spe.numSines \(K\): applies only when variant is 'sine', not 'conv'/);
    assertThrowsNaming(() => parseSpec('linear:elu+spe(sine,P=16)'), /spe.kernelSize \(P\): applies only when variant is 'conv'/);
    assertThrowsNaming(() => parseSpec('linear(features=64)'), /features sets the FAVOR\+ random features; it needs the favor feature map/, /not 'elu'/);
    assertThrowsNaming(() => parseSpec('linear(depth=2)'), /unknown option 'depth' for linear attention/, /norm, chunk, features \(F\)/);
    assertThrowsNaming(() => parseSpec('performer(features=8,F=9)'), /option 'features' given twice/);
    assertThrowsNaming(() => parseSpec('softmax(norm=layernorm)'), /unknown option 'norm' for softmax attention/, /softmax takes block/);
    assertThrowsNaming(() => parseSpec('linear(chunk=4,chunk=8)'), /option 'chunk' given twice/);
    assertThrowsNaming(() => parseSpec('linear(norm)'), /option 'norm' needs a value/);
    assertThrowsNaming(() => parseSpec('linear(chunk=)'), /spec: chunk: expected an integer/);
    // The identity map has scores of any sign: it defaults to LayerNorm and refuses the denominator.
    assert.equal(parseSpec('linear:identity+rope').normalize, 'layernorm');
    assertThrowsNaming(() => parseSpec('linear(norm=denominator):identity'), /spec: norm=denominator needs positive features/);
    // Variant-specific sizes at their defaults are fine, whichever variant.
    assert.equal(parseSpec('linear:elu+spe(conv,P=16)').encoding!.args.kernelSize, 16);
  });
});
