import { strict as assert } from 'assert';
import { constantLr, cosineWarmup, inverseSqrt, makeSchedule, polynomialDecay, rsqrtWarmup } from '../../src/train';
import { assertThrowsNaming } from '../helpers';

const close = (a: number, b: number, msg: string) => assert.ok(Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${msg}: ${a} vs ${b}`);

describe('train/schedule', () => {
  it('constant', () => {
    const s = constantLr(3e-4);
    assert.equal(s(0), 3e-4);
    assert.equal(s(123456), 3e-4);
  });

  it('LRA rsqrt: lr·min(1, t/w)/√max(t, w) (ListOps: 0.0125, warmup 1000)', () => {
    const s = rsqrtWarmup({ lr: 0.0125, warmup: 1000 });
    assert.equal(s(0), 0);
    close(s(500), (0.0125 * 0.5) / Math.sqrt(1000), 't=500');
    close(s(1000), 0.0125 / Math.sqrt(1000), 't=1000 (peak)');
    close(s(4000), 0.0125 / Math.sqrt(4000), 't=4000');
    close(s(4000), s(1000) / 2, 'halves when t quadruples');
  });

  it('linear warmup + cosine to a floor (SPE pop piano: 2e-4, w 200, T 55 020, floor 5e-6)', () => {
    const s = cosineWarmup({ lr: 2e-4, warmup: 200, decaySteps: 55020, floor: 5e-6 });
    assert.equal(s(0), 0);
    close(s(100), 1e-4, 'mid-warmup');
    close(s(200), 2e-4, 'peak');
    close(s(200 + 27510), 5e-6 + (2e-4 - 5e-6) / 2, 'half-way');
    close(s(200 + 55020), 5e-6, 'end');
    close(s(1e6), 5e-6, 'stays at the floor');
    assert.ok(s(10000) < s(5000) && s(5000) < s(300));
  });

  it('fairseq inverse_sqrt with warmup-init (lr 5e-4, warmup 4000, init 1e-7)', () => {
    const s = inverseSqrt({ lr: 5e-4, warmup: 4000, warmupInitLr: 1e-7 });
    close(s(0), 1e-7, 't=0');
    close(s(2000), 1e-7 + (5e-4 - 1e-7) / 2, 't=2000');
    close(s(4000), 5e-4, 't=4000');
    close(s(16000), 2.5e-4, 't=16000');
  });

  it('fairseq polynomial decay (power 1: linear to end)', () => {
    const s = polynomialDecay({ lr: 5e-4, warmup: 3000, total: 50000 });
    close(s(1500), 2.5e-4, 'warmup');
    close(s(3000), 5e-4, 'peak');
    close(s(26500), 2.5e-4, 'half-way');
    assert.equal(s(50000), 0);
    assert.equal(s(60000), 0);
  });

  it('makeSchedule builds from plain data', () => {
    close(makeSchedule({ kind: 'rsqrt', lr: 0.005, warmup: 3000 })(3000), 0.005 / Math.sqrt(3000), 'rsqrt');
    close(makeSchedule({ kind: 'cosine', lr: 4e-4, warmup: 1000, decaySteps: 43184, floor: 2e-5 })(1000), 4e-4, 'cosine');
    assertThrowsNaming(() => makeSchedule({ kind: 'step' } as never), /cfg.kind: expected one of 'constant', 'rsqrt'/);
  });

  it('validates arguments and steps, naming them', () => {
    assertThrowsNaming(() => rsqrtWarmup({ lr: 0.1, warmup: 0 }), /warmup: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => constantLr(-1), /lr: expected a finite number >= 0, got -1/);
    assertThrowsNaming(() => cosineWarmup({ lr: 1e-4, warmup: 10, decaySteps: 100, floor: 1e-3 }), /floor: expected a finite number >= 0 and <= 0.0001/);
    assertThrowsNaming(() => polynomialDecay({ lr: 1, warmup: 10, total: 10 }), /total: expected an integer >= 11/);
    assertThrowsNaming(() => inverseSqrt({ lr: 1, warmup: 2.5 }), /warmup: expected an integer >= 1, got 2.5/);
    const s = constantLr(1);
    assertThrowsNaming(() => s(-1), /t: expected an integer >= 0, got -1/);
    assertThrowsNaming(() => s(1.5), /t: expected an integer >= 0, got 1.5/);
  });
});
