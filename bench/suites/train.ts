/**
 * The training-step suite: one AdamW update of a small CausalLM (see `trainConfig`:
 * 2 layers, width 64, 4 heads, length 256, batch 8) per encoding, i.e. forward, loss,
 * backward and the optimiser update, reported as tokens per second.
 */
import { tf, Rng } from '../../src/backend';
import { CausalLM } from '../../src/models/transformer';
import { AdamW, lossAndGrads } from '../../src/train/optim';
import { TRAIN_SHAPE, trainConfig, type EncodingCase } from '../cases';
import { RssSampler, timeCalls, round } from '../measure';

/** Untimed steps before the timed ones. (The baseline of bench/results was recorded with one.) */
export const WARMUP_STEPS = 3;

export interface TrainPoint {
  encoding: string;
  spec: string;
  batch: number;
  length: number;
  params?: number;
  /** Wall time of each timed step, ms. */
  ms?: number[];
  msMedian?: number;
  cpuMs?: number[];
  cpuMsMedian?: number;
  tokensPerSec?: number;
  rssPeakMB?: number;
  error?: string;
}

/**
 * One AdamW update of the small LM with `c`'s attention on a fixed random batch of bytes:
 * `step()` runs it (no tensor kept), `dispose()` frees the model, the optimiser and the batch.
 */
export function trainStep(c: EncodingCase): { step: () => void; dispose: () => void; params: number } {
  const { batch, length } = TRAIN_SHAPE;
  const data = new Rng(3);
  const tokens = Int32Array.from({ length: batch * (length + 1) }, () => data.int(256));
  const seq = tf.tensor2d(tokens, [batch, length + 1], 'int32');
  const ids = seq.slice([0, 0], [batch, length]) as tf.Tensor2D;
  const targets = seq.slice([0, 1], [batch, length]) as tf.Tensor2D;
  seq.dispose();
  let model: CausalLM | null = null;
  let opt: AdamW | null = null;
  const dispose = () => {
    tf.dispose([ids, targets]);
    opt?.dispose();
    model?.dispose();
  };
  try {
    model = new CausalLM(trainConfig(c.spec));
    opt = new AdamW(model, { weightDecay: 0.01 });
    const m = model;
    const o = opt;
    const rng = new Rng(4);
    const step = () => {
      tf.tidy(() => {
        const { loss, grads } = lossAndGrads(m, () => m.loss(ids, targets, { training: true, rng }));
        o.apply(grads, 1e-3);
        tf.dispose([loss, ...Object.values(grads)]);
      });
    };
    return { step, dispose, params: m.numParameters() };
  } catch (e) {
    dispose();
    throw e;
  }
}

/**
 * Times `steps` training steps of the small LM with `c`'s attention, after three untimed warm-up
 * steps (a fresh process: the first steps also compile JavaScript and set up kernels, which
 * matters once a step takes a few hundred ms).
 */
export function runTrainCase(c: EncodingCase, steps: number, rss: RssSampler, log: (line: string) => void): TrainPoint {
  const { batch, length } = TRAIN_SHAPE;
  const base: TrainPoint = { encoding: c.name, spec: c.spec, batch, length };
  let run: ReturnType<typeof trainStep> | null = null;
  try {
    run = trainStep(c);
    for (let i = 0; i < WARMUP_STEPS; i++) run.step();
    const t = timeCalls(run.step, steps, Number.POSITIVE_INFINITY, rss);
    const point = {
      ...base,
      params: run.params,
      ms: t.ms,
      msMedian: t.msMedian,
      cpuMs: t.cpuMs,
      cpuMsMedian: t.cpuMsMedian,
      tokensPerSec: round((batch * length) / (t.msMedian / 1000), 1),
      rssPeakMB: t.rssPeakMB,
    };
    log(
      `  train ${c.name.padEnd(17)} ${point.msMedian.toFixed(1).padStart(9)} ms/step (cpu ${point.cpuMsMedian.toFixed(0)})  ${Math.round(point.tokensPerSec).toString().padStart(7)} tok/s  (${t.ms.length} steps)`,
    );
    return point;
  } catch (e) {
    const msg = ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);
    log(`  error train ${c.name}: ${msg}`);
    return { ...base, error: msg };
  } finally {
    run?.dispose();
  }
}
