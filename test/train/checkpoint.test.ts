import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tf, Rng } from '../../src/backend';
import { Module, Linear } from '../../src/nn';
import {
  AdamW,
  CheckpointError,
  latestCheckpoint,
  listCheckpoints,
  lossAndGrads,
  readCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
  scanCheckpoints,
  writeCheckpoint,
} from '../../src/train';
import { assertThrowsNaming } from '../helpers';
import { weightsOf } from './fixtures/toy';

/** Linear 3 -> 2 (hidden width configurable) plus an int32 buffer, as encodings hold (e.g. a permutation). */
class Net extends Module {
  readonly fc: Linear;
  readonly perm: tf.Variable;
  constructor(seed: number, width = 2) {
    super();
    this.fc = this.addModule('fc', new Linear(3, width, { rng: new Rng(seed) }));
    this.perm = this.addBuffer('perm', tf.tensor1d(Array.from(new Rng(seed).permutation(5)), 'int32'));
  }
  loss(): tf.Scalar {
    return tf.tidy(
      () =>
        this.fc
          .apply(
            tf.tensor2d([
              [1, 2, 3],
              [-1, 0, 2],
            ]),
          )
          .square()
          .mean() as tf.Scalar,
    );
  }
}

function trained(seed: number, steps: number): { net: Net; opt: AdamW } {
  const net = new Net(seed);
  const opt = new AdamW(net, { weightDecay: 0.1 });
  for (let i = 0; i < steps; i++) tf.tidy(() => opt.apply(lossAndGrads(net, () => net.loss()).grads, 0.05));
  return { net, opt };
}

describe('train/checkpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips weights (float32 and int32), optimiser state, RNG states, config and metrics exactly', () => {
    const { net, opt } = trained(1, 3);
    const data = new Rng(11);
    data.normal(); // leaves a cached spare normal in the state
    const p = saveCheckpoint(dir, { step: 3, model: net, optimizer: opt, rngs: { data }, config: { lr: 0.05, spec: 'x' }, metrics: { loss: 1.25 } });
    assert.equal(path.basename(p), 'step-00000003');
    assert.deepEqual(fs.readdirSync(p).sort(), ['data.bin', 'manifest.json']);

    const other = new Net(2);
    const otherOpt = new AdamW(other, { weightDecay: 0.1 });
    const otherRng = new Rng(99);
    const c = restoreCheckpoint(p, { model: other, optimizer: otherOpt, rngs: { data: otherRng } });
    assert.equal(c.step, 3);
    assert.deepEqual(c.config, { lr: 0.05, spec: 'x' });
    assert.deepEqual(c.metrics, { loss: 1.25 });
    assert.deepEqual(weightsOf(other), weightsOf(net));
    assert.equal(other.perm.dtype, 'int32');
    const [sa, sb] = [opt.getState(), otherOpt.getState()];
    assert.equal(sb.step, 3);
    for (const k of Object.keys(sa.slots)) assert.deepEqual(Array.from(sb.slots[k].data), Array.from(sa.slots[k].data), k);
    assert.deepEqual(Array.from(otherRng.normalArray(5)), Array.from(data.normalArray(5)));
    // And training continues identically.
    for (const [n, o] of [
      [net, opt],
      [other, otherOpt],
    ] as const)
      tf.tidy(() => o.apply(lossAndGrads(n, () => n.loss()).grads, 0.05));
    assert.deepEqual(weightsOf(other), weightsOf(net));
    for (const m of [net, other]) m.dispose();
    for (const o of [opt, otherOpt]) o.dispose();
  });

  it('is atomic: a partial temp dir left by a crash is ignored (and cleaned up by the next save)', () => {
    const { net, opt } = trained(1, 1);
    saveCheckpoint(dir, { step: 10, model: net, optimizer: opt });
    saveCheckpoint(dir, { step: 20, model: net, optimizer: opt });
    // A crash mid-write of step 30: a temp dir with a data file and half a manifest.
    const tmp = path.join(dir, '.tmp-step-00000030-4242');
    fs.mkdirSync(tmp);
    fs.writeFileSync(path.join(tmp, 'data.bin'), Buffer.alloc(12));
    fs.writeFileSync(path.join(tmp, 'manifest.json'), '{"format":"rpelab-checkpoint","vers');
    // A step dir whose data file is short (not produced by writeCheckpoint, but a loader must not trust it).
    fs.cpSync(path.join(dir, 'step-00000020'), path.join(dir, 'step-00000040'), { recursive: true });
    fs.truncateSync(path.join(dir, 'step-00000040', 'data.bin'), 8);
    assert.deepEqual(
      listCheckpoints(dir).map((c) => c.step),
      [10, 20],
    );
    assert.equal(latestCheckpoint(dir), path.join(dir, 'step-00000020'));
    assert.equal(readCheckpoint(latestCheckpoint(dir)!).step, 20);
    assertThrowsNaming(() => readCheckpoint(path.join(dir, 'step-00000040')), /data.bin has 8 bytes, the manifest says/);
    saveCheckpoint(dir, { step: 30, model: net, optimizer: opt });
    assert.ok(!fs.readdirSync(dir).some((n) => n.startsWith('.tmp-')), 'temporaries removed');
    assert.equal(latestCheckpoint(dir), path.join(dir, 'step-00000030'), 'the short step-40 is still skipped');
    net.dispose();
    opt.dispose();
  });

  it('carries the SHA-256 of its data: one flipped byte is refused by name, and scanCheckpoints reports why', () => {
    const { net, opt } = trained(1, 3);
    const a = saveCheckpoint(dir, { step: 1, model: net, optimizer: opt });
    const b = saveCheckpoint(dir, { step: 2, model: net, optimizer: opt });
    const manifest = JSON.parse(fs.readFileSync(path.join(b, 'manifest.json'), 'utf8'));
    assert.match(manifest.dataSha256, /^[0-9a-f]{64}$/);
    const data = path.join(b, 'data.bin');
    const bytes = fs.readFileSync(data);
    bytes[5] ^= 0x40; // same size: a size check alone would accept it
    fs.writeFileSync(data, bytes);
    assert.throws(
      () => readCheckpoint(b),
      (e: unknown) => e instanceof CheckpointError && e.path === b && /does not match the SHA-256/.test(e.message),
    );
    const scan = scanCheckpoints(dir);
    assert.deepEqual(
      scan.map((c) => [c.step, c.problem === undefined]),
      [
        [1, true],
        [2, false],
      ],
    );
    assert.match(scan[1].problem!, /SHA-256/);
    assert.equal(readCheckpoint(a).step, 1);
    // A manifest without its checksum (version 2) is refused too.
    delete manifest.dataSha256;
    fs.writeFileSync(path.join(b, 'manifest.json'), JSON.stringify(manifest));
    assert.throws(() => readCheckpoint(b), /no valid dataSha256/);
    net.dispose();
    opt.dispose();
  });

  it('refuses a manifest whose tensors do not tile the data file (an edited offset cannot read other bytes)', () => {
    const { net, opt } = trained(1, 2);
    const ckpt = saveCheckpoint(path.join(dir, 'ck'), { step: 2, model: net, optimizer: opt });
    net.dispose();
    opt.dispose();
    const file = path.join(ckpt, 'manifest.json');
    const m = JSON.parse(fs.readFileSync(file, 'utf8'));
    const bias = m.weights.find((w: { name: string }) => w.name === 'fc.bias');
    bias.offset = 0; // inside the file, overlapping fc.weight
    fs.writeFileSync(file, JSON.stringify(m));
    assertThrowsNaming(() => readCheckpoint(ckpt), /checkpoint: weights 'fc.bias' starts at byte 0, expected \d+ \(the tensors must tile the data file\)/);
  });

  it('keepLast prunes old checkpoints; saving a step again replaces it', () => {
    const net = new Net(1);
    for (const s of [1, 2, 3, 4]) saveCheckpoint(dir, { step: s, model: net }, { keepLast: 2 });
    assert.deepEqual(
      listCheckpoints(dir).map((c) => c.step),
      [3, 4],
    );
    net.fc.weight.assign(tf.zerosLike(net.fc.weight));
    saveCheckpoint(dir, { step: 4, model: net }, { keepLast: 2 });
    assert.deepEqual(Array.from(readCheckpoint(path.join(dir, 'step-00000004')).weights['fc.weight'].data), [0, 0, 0, 0, 0, 0]);
    net.dispose();
  });

  it('load errors name the mismatching variable and leave the model unchanged', () => {
    const { net, opt } = trained(1, 2);
    const p = saveCheckpoint(dir, { step: 2, model: net, optimizer: opt });
    const wide = new Net(3, 4);
    const before = weightsOf(wide);
    assertThrowsNaming(
      () => restoreCheckpoint(p, { model: wide }),
      /variable 'fc.weight' is \[3, 2\] float32 in the checkpoint but \[3, 4\] float32 in the model/,
    );
    assert.deepEqual(weightsOf(wide), before);

    const c = readCheckpoint(p);
    class Extra extends Net {
      constructor() {
        super(4);
        this.addParameter('gain', tf.ones([2]));
      }
    }
    const extra = new Extra();
    assertThrowsNaming(() => restoreCheckpoint(p, { model: extra }), /variable 'gain' of the model is missing from the checkpoint/);
    const small = new Net(5);
    writeCheckpoint(dir, { ...c, step: 7, weights: { ...c.weights, 'fc.scale': { dtype: 'float32', shape: [1], data: new Float32Array(1) } } });
    assertThrowsNaming(
      () => restoreCheckpoint(path.join(dir, 'step-00000007'), { model: small }),
      /variable 'fc.scale' in the checkpoint does not exist in the model/,
    );
    writeCheckpoint(dir, { ...c, step: 8, weights: { ...c.weights, perm: { ...c.weights.perm, dtype: 'float32', data: new Float32Array(5) } } });
    assertThrowsNaming(
      () => restoreCheckpoint(path.join(dir, 'step-00000008'), { model: small }),
      /variable 'perm' is \[5\] float32 in the checkpoint but \[5\] int32 in the model/,
    );
    assertThrowsNaming(() => restoreCheckpoint(p, { model: small, rngs: { data: new Rng(0) } }), /generator 'data' has no saved state/);
    for (const m of [net, wide, extra, small]) m.dispose();
    opt.dispose();
  });
});
