/**
 * Bad input, fuzzed (fast-check): random and mutated spec strings, random option objects for the
 * public constructors, truncated and corrupted IDX / MIDI / checkpoint / metrics files, and random
 * CLI argument lists. Each input either works or throws an Error whose message names the offending
 * parameter (or file) — never a crash of another kind, a hang, or a partial write left behind.
 *
 * The number of inputs per target is RUNS below (RPELAB_FUZZ_RUNS scales it); every failure
 * fast-check finds is shrunk to a minimal counterexample and printed with its seed.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import { tf, Rng } from '../src/backend';
import { parseSpec, formatSpec, AttentionLayer, FEATURE_MAPS } from '../src/attention';
import { Lrpe, SPE, RoPE, PermuteFormer, RelativePositionBias, SinusoidalAPE, LearnedAPE, listEncodings } from '../src/encodings';
import { CausalLM } from '../src/models';
import { parseIdx, encodeIdx } from '../src/data/idx';
import { parseMidiFile, midiToEvents } from '../src/data/midi';
import { readCheckpoint, saveCheckpoint, readJsonl, repairJsonl } from '../src/train';
import { Module, Linear } from '../src/nn';
import { main } from '../src/cli';
import { referenceMidi } from './data/fixtures';
import { EXAMPLE_SPECS } from './helpers';

const SCALE = Number(process.env.RPELAB_FUZZ_RUNS ?? 1);
const RUNS = {
  specRandom: Math.round(3000 * SCALE),
  specMutated: Math.round(3000 * SCALE),
  specValid: Math.round(1000 * SCALE),
  constructors: Math.round(150 * SCALE),
  loaders: Math.round(300 * SCALE),
  cli: Math.round(200 * SCALE),
};

/** The Error passes when its message names one of `names` as a parameter (`name:`, `name.`, `'name'`, `--name`, `name `). */
function namesOneOf(e: unknown, names: string[], what: string): void {
  assert.ok(e instanceof Error, `${what}: threw a non-Error ${String(e)}`);
  const re = new RegExp(`(^|[\\s'(.-])(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})([:.' )]|$)`);
  assert.ok(re.test(e.message), `${what}: the message does not name the parameter (${names.join(', ')}): ${e.message}\n${e.stack}`);
}

// ---------------------------------------------------------------------------------------------
// Spec strings

const VALID_SPECS = EXAMPLE_SPECS;
const SPEC_NAMES = ['spec', 'encoding', ...listEncodings().map((d) => d.name)];
const specChars = fc.constantFrom(...'linearsoftmaxperformerlrpespe()+:,=0123456789 -_KRPabcdefghijklmnopqrstuvwxyz'.split(''));

function checkSpec(s: string): void {
  let parsed;
  try {
    parsed = parseSpec(s);
  } catch (e) {
    namesOneOf(e, SPEC_NAMES, `parseSpec(${JSON.stringify(s)})`);
    return;
  }
  // Whatever parses has a canonical form that parses back to the same thing.
  assert.deepEqual(parseSpec(formatSpec(parsed)), parsed, `${s} -> ${formatSpec(parsed)}`);
}

/** One edit of a string: insert, delete or replace a character, or duplicate a slice. */
const mutation = (base: string) =>
  fc.tuple(fc.nat(base.length), fc.nat(base.length), fc.constantFrom('insert', 'delete', 'replace', 'duplicate'), specChars).map(([i, j, op, ch]) => {
    const [a, b] = [Math.min(i, j), Math.max(i, j)];
    if (op === 'insert') return base.slice(0, i) + ch + base.slice(i);
    if (op === 'delete') return base.slice(0, a) + base.slice(b);
    if (op === 'replace') return base.slice(0, i) + ch + base.slice(i + 1);
    return base.slice(0, b) + base.slice(a, b) + base.slice(b);
  });

/** Valid specs built from the registry's own declarations: every parameter at a random legal value. */
const validSpec = fc
  .record({
    kind: fc.constantFrom('linear', 'performer', 'softmax'),
    map: fc.constantFrom(...FEATURE_MAPS),
    norm: fc.option(fc.constantFrom('denominator', 'layernorm')),
    chunk: fc.option(fc.integer({ min: 1, max: 64 })),
    features: fc.option(fc.integer({ min: 1, max: 512 })),
    enc: fc.option(fc.constantFrom(...listEncodings().map((d) => d.name))),
    picks: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  })
  .map(({ kind, map, norm, chunk, features, enc, picks }) => {
    const opts: string[] = [];
    if (kind !== 'softmax' && norm && !(kind === 'linear' && map === 'identity' && norm === 'denominator')) opts.push(`norm=${norm}`);
    if (kind !== 'softmax' && chunk) opts.push(`chunk=${chunk}`);
    if ((kind === 'performer' || (kind === 'linear' && map === 'favor')) && features) opts.push(`features=${features}`);
    let s = kind + (opts.length ? `(${opts.join(',')})` : '') + (kind === 'linear' ? `:${map}` : '');
    const def = enc ? listEncodings().find((d) => d.name === enc)! : null;
    if (def && (def.role !== 'bias' || kind === 'softmax')) {
      const variant = def.params.find((p) => p.name === 'variant');
      const chosen: Record<string, string | number | boolean> = {};
      if (variant) chosen.variant = variant.choices![picks[7] % variant.choices!.length];
      const args = def.params.map((p, i) => {
        if (p.only && chosen[p.only.param] !== p.only.value) return null;
        if (p.name === 'variant') return `variant=${chosen.variant}`;
        if (p.type === 'choice') return `${p.name}=${p.choices![picks[i] % p.choices!.length]}`;
        if (p.type === 'bool') return `${p.name}=${picks[i] % 2 === 0}`;
        return `${p.name}=${(p.min ?? 1) + (picks[i] % 64)}`;
      });
      s += `+${def.name}(${args.filter((a) => a !== null).join(',')})`;
    }
    return s;
  });

// ---------------------------------------------------------------------------------------------
// Constructors

/** Junk and edge values for an option. */
const junk = fc.oneof(
  fc.constantFrom(-1, 0, 1, 2, 3, 5, 8, 1.5, NaN, Infinity, -Infinity, 100000, '8', 'rotation', 'sine', '', null, undefined, true, false, [], {}, [2, 3]),
  fc.string({ maxLength: 6 }),
);

interface Ctor {
  name: string;
  base: () => Record<string, unknown>;
  make: (o: Record<string, unknown>) => Module;
  /** Words an error about this constructor may name besides the option keys. */
  extra?: string[];
}

const CTORS: Ctor[] = [
  {
    name: 'Lrpe',
    base: () => ({ headDim: 8, core: 'rotation', p: 'householder', theta: 'fixed', base: 10000, rng: new Rng(1), fused: false }),
    make: (o) => new Lrpe(o as never),
  },
  {
    name: 'SPE',
    base: () => ({ variant: 'sine', numHeads: 2, headDim: 4, numRealizations: 8, numSines: 3, kernelSize: 5, ndim: 1, gated: true, rng: new Rng(1) }),
    make: (o) => new SPE(o as never),
  },
  { name: 'RoPE', base: () => ({ headDim: 8, base: 10000, layout: 'split-half' }), make: (o) => new RoPE(o as never) },
  { name: 'PermuteFormer', base: () => ({ headDim: 8, numHeads: 2, rng: new Rng(1) }), make: (o) => new PermuteFormer(o as never) },
  {
    name: 'RelativePositionBias',
    base: () => ({ numHeads: 2, maxDistance: 8, bidirectional: true, rng: new Rng(1), std: 0.02 }),
    make: (o) => new RelativePositionBias(o as never),
  },
  { name: 'SinusoidalAPE', base: () => ({ model: 8, maxLength: 16, base: 10000 }), make: (o) => new SinusoidalAPE(o as never) },
  { name: 'LearnedAPE', base: () => ({ model: 8, maxLength: 16, rng: new Rng(1), std: 0.02 }), make: (o) => new LearnedAPE(o as never) },
  {
    name: 'AttentionLayer',
    base: () => ({ model: 8, numHeads: 2, spec: 'linear:elu+lrpe', maxLength: 16, rng: new Rng(1) }),
    make: (o) => new AttentionLayer(o as never),
    extra: SPEC_NAMES,
  },
  {
    name: 'CausalLM',
    base: () => ({
      vocabSize: 10,
      model: 8,
      numLayers: 1,
      numHeads: 2,
      hidden: 16,
      maxLength: 16,
      attention: 'linear:elu+rope',
      ape: 'none',
      dropout: 0,
      activation: 'relu',
      seed: 1,
    }),
    make: (o) => new CausalLM(o as never),
    extra: ['config', ...SPEC_NAMES],
  },
];

// ---------------------------------------------------------------------------------------------

describe('fuzz: bad input is refused by name, never a crash', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-fuzz-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`parseSpec: ${RUNS.specRandom} random strings`, () => {
    fc.assert(fc.property(fc.stringOf(specChars, { maxLength: 40 }), checkSpec), { numRuns: RUNS.specRandom });
  });

  it(`parseSpec: ${RUNS.specMutated} mutations of valid specs (1-3 edits)`, () => {
    const mutated = fc
      .constantFrom(...VALID_SPECS)
      .chain((s) => mutation(s))
      .chain((s) => fc.oneof(fc.constant(s), mutation(s), mutation(s).chain(mutation)));
    fc.assert(fc.property(mutated, checkSpec), { numRuns: RUNS.specMutated });
  });

  it(`parse(format(x)) = x for ${RUNS.specValid} valid specs drawn from the registry's declarations`, () => {
    fc.assert(
      fc.property(validSpec, (s) => {
        const parsed = parseSpec(s); // valid by construction: must not throw
        assert.deepEqual(parseSpec(formatSpec(parsed)), parsed, `${s} -> ${formatSpec(parsed)}`);
      }),
      { numRuns: RUNS.specValid },
    );
  });

  for (const c of CTORS) {
    it(`new ${c.name}(opts): ${RUNS.constructors} option objects with 1-3 keys set to junk or removed`, () => {
      const keys = Object.keys(c.base());
      const edits = fc.array(fc.tuple(fc.constantFrom(...keys, 'bogusOption'), fc.oneof(junk, fc.constant('__delete__'))), { minLength: 1, maxLength: 3 });
      fc.assert(
        fc.property(edits, (es) => {
          const o = c.base();
          for (const [k, v] of es) {
            if (v === '__delete__') delete o[k];
            else o[k] = v;
          }
          const before = tf.memory().numTensors;
          let m: Module | null = null;
          try {
            m = c.make(o);
          } catch (e) {
            namesOneOf(e, [...keys, 'opts', ...(c.extra ?? [])], `new ${c.name}(${JSON.stringify(o)})`);
          }
          m?.dispose();
          assert.equal(tf.memory().numTensors, before, `new ${c.name}(${JSON.stringify(o)}) leaked tensors`);
        }),
        { numRuns: RUNS.constructors },
      );
    });
  }

  // -------------------------------------------------------------------------------------------
  // Loaders

  const corrupt = (bytes: Uint8Array) =>
    fc.oneof(
      fc.nat(bytes.length).map((n) => bytes.slice(0, n)), // truncated
      fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
        const b = bytes.slice();
        for (const [i, v] of edits) b[i] = v;
        return b;
      }),
      fc.uint8Array({ maxLength: 64 }).map((extra) => new Uint8Array([...bytes, ...extra])), // trailing garbage
    );

  it(`IDX: ${RUNS.loaders} truncated / corrupted / extended files`, () => {
    const good = encodeIdx(
      [3, 4, 5],
      new Uint8Array(60).map((_, i) => i),
    );
    fc.assert(
      fc.property(corrupt(good), (b) => {
        try {
          const a = parseIdx(b, 'images.idx');
          assert.equal(
            a.data.length,
            a.dims.reduce((x, y) => x * y, 1),
          );
        } catch (e) {
          namesOneOf(e, ['images.idx'], 'parseIdx');
        }
      }),
      { numRuns: RUNS.loaders },
    );
  });

  it(`MIDI: ${RUNS.loaders} truncated / corrupted / extended files`, () => {
    const good = referenceMidi();
    fc.assert(
      fc.property(corrupt(good), (b) => {
        try {
          parseMidiFile(b, 'song.mid');
          const ids = midiToEvents(b, 'song.mid');
          assert.ok(ids.every((x) => Number.isInteger(x) && x >= 0));
        } catch (e) {
          namesOneOf(e, ['song.mid'], 'MIDI');
        }
      }),
      { numRuns: RUNS.loaders },
    );
  });

  it(`checkpoints: ${RUNS.loaders} corrupted manifests and data files`, () => {
    class Net extends Module {
      constructor() {
        super();
        this.addModule('fc', new Linear(3, 2, { rng: new Rng(1) }));
      }
    }
    const net = new Net();
    const ckpt = saveCheckpoint(path.join(dir, 'ck'), { step: 3, model: net, config: { a: 1 } });
    net.dispose();
    const originalValues = Object.values(readCheckpoint(ckpt).weights)
      .flatMap((t) => Array.from(t.data))
      .sort((a, b) => a - b);
    const manifest = new Uint8Array(fs.readFileSync(path.join(ckpt, 'manifest.json')));
    const data = new Uint8Array(fs.readFileSync(path.join(ckpt, 'data.bin')));
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean().chain((m) => corrupt(m ? manifest : data)),
        (which, bytes) => {
          const d = path.join(dir, `ck-${Math.random().toString(36).slice(2)}`);
          fs.mkdirSync(d);
          fs.writeFileSync(path.join(d, 'manifest.json'), which ? bytes : manifest);
          fs.writeFileSync(path.join(d, 'data.bin'), which ? data : bytes);
          try {
            const c = readCheckpoint(d);
            // Anything that reads back holds exactly the saved numbers: the checksum guards the data file and the
            // tensors must tile it. Names and shapes are not guarded here (loading into a model checks them).
            const values = (w: Record<string, { data: ArrayLike<number> }>) =>
              Object.values(w)
                .flatMap((t) => Array.from(t.data))
                .sort((a, b) => a - b);
            assert.deepEqual(values(c.weights), originalValues);
          } catch (e) {
            namesOneOf(e, [d, 'checkpoint'], 'readCheckpoint');
          } finally {
            fs.rmSync(d, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: RUNS.loaders },
    );
  });

  it(`metrics logs: ${RUNS.loaders} truncated / corrupted JSON-lines files; repair keeps every complete record`, () => {
    const good = new TextEncoder().encode(Array.from({ length: 6 }, (_, i) => JSON.stringify({ kind: 'train', step: i, loss: 1 / (i + 1) })).join('\n') + '\n');
    fc.assert(
      fc.property(corrupt(good), (b) => {
        const f = path.join(dir, 'metrics.jsonl');
        fs.writeFileSync(f, b);
        try {
          const { records } = readJsonl(f);
          assert.ok(Array.isArray(records));
        } catch (e) {
          namesOneOf(e, [f], 'readJsonl');
          return;
        }
        repairJsonl(f);
        const after = fs.readFileSync(f, 'utf8');
        assert.ok(after === '' || after.endsWith('\n'), 'a repaired log ends with a newline');
      }),
      { numRuns: RUNS.loaders },
    );
  });

  // -------------------------------------------------------------------------------------------
  // CLI

  it(`rpelab run|report|list: ${RUNS.cli} random argument lists (run with --dry-run): exit 0, or exit 1 with a message naming the option`, async () => {
    const results = path.join(dir, 'results');
    fs.mkdirSync(results);
    const words = fc.constantFrom(
      'lrpe-alm',
      'spe-lra',
      'all',
      'nope',
      'bogus',
      'lrpe-alm,spe-lra',
      '--scale',
      'smoke',
      'quick',
      'huge',
      '--seeds',
      '0,1',
      '-1',
      'x',
      '--only',
      'rope',
      'lrpe-unitary',
      '--set',
      'steps=3',
      'steps=-1',
      'R=abc',
      'schedule=5',
      'length=7',
      '--format',
      'json',
      'csv',
      'markdown',
      'table',
      '--jobs',
      '2',
      '0',
      '--shard',
      '1/2',
      '3/2',
      '--backend',
      'wasm',
      'gpu',
      '--results',
      '--frob',
      '--set=steps=2',
      '--scale=smoke',
      '',
    );
    const argv = fc.tuple(fc.constantFrom('run', 'report', 'list', 'frobnicate'), fc.array(words, { maxLength: 7 }));
    const FLAG_NAMES = [
      'scale',
      'seeds',
      'only',
      'set',
      'format',
      'jobs',
      'shard',
      'backend',
      'results',
      'steps',
      'R',
      'schedule',
      'length',
      'experiment',
      'run',
      'report',
      'list',
      'report claims',
      'command',
      'option',
      'variant',
      'variants',
      'only',
    ];
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    await fc.assert(
      fc.asyncProperty(argv, async ([cmd, rest]) => {
        const args = [cmd, ...rest, '--results', results, ...(cmd === 'run' ? ['--dry-run'] : [])];
        let err = '';
        (process.stdout as { write: unknown }).write = () => true;
        (process.stderr as { write: unknown }).write = (s: string) => ((err += s), true);
        let code: number;
        try {
          code = await main(args);
        } finally {
          (process.stdout as { write: unknown }).write = write;
          (process.stderr as { write: unknown }).write = writeErr;
        }
        assert.ok(code === 0 || code === 1, `rpelab ${args.join(' ')}: exit ${code}`);
        if (code === 1 && cmd !== 'frobnicate' && err !== '') {
          assert.match(err, /^rpelab: /, `rpelab ${args.join(' ')}`);
          const named = FLAG_NAMES.some((n) => err.includes(`${n}:`) || err.includes(`'--${n}'`) || err.includes(`${n} `) || err.includes(`'${n}'`));
          assert.ok(named, `rpelab ${args.join(' ')}: the error does not name the option: ${err}`);
        }
        assert.deepEqual(fs.readdirSync(results), [], `rpelab ${args.join(' ')} left files in the results directory`);
      }),
      { numRuns: RUNS.cli },
    );
  });
});
