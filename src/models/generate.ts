/**
 * Autoregressive generation through the layers' recurrent step: each new token costs the same
 * whatever the prefix length (linear attention keeps an O(1) state per layer).
 */
import { tf, Rng, assertInt, assertNumber } from '../backend';
import type { CausalLM } from './transformer';
import { disposeAttentionState } from '../attention/layer';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 'greedy' (argmax) or 'sample' (temperature + nucleus). Default 'sample'. */
  strategy?: 'greedy' | 'sample';
  /** Softmax temperature (> 0). Default 1. */
  temperature?: number;
  /** Nucleus mass in (0, 1]. Default 1 (no truncation). */
  topP?: number;
  /** Draws for sampling and for the fixed SPE code of this generation. */
  rng?: Rng;
  /** Fixed positional-code seed (see ForwardOptions.codeSeed); drawn from rng when absent. */
  codeSeed?: number;
  /** Called after each token with its index and id (progress). */
  onToken?: (index: number, id: number) => void;
}

/** Samples an index from probabilities `p` restricted to the smallest set with mass >= topP. */
export function sampleTopP(p: Float32Array, topP: number, rng: Rng): number {
  const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
  let mass = 0;
  let cut = order.length;
  for (let i = 0; i < order.length; i++) {
    mass += p[order[i]];
    if (mass >= topP) {
      cut = i + 1;
      break;
    }
  }
  const kept = order.slice(0, cut);
  const total = kept.reduce((s, i) => s + p[i], 0);
  let u = rng.uniform() * total;
  for (const i of kept) {
    u -= p[i];
    if (u <= 0) return i;
  }
  return kept[kept.length - 1];
}

/**
 * Continues each prompt.
 * @param prompts token ids, one array per sequence, all of the same length (>= 1)
 * @returns the generated continuations, [batch][maxNewTokens]
 */
export function generate(lm: CausalLM, prompts: ArrayLike<number>[], opts: GenerateOptions): number[][] {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new Error('prompts: expected a non-empty array of token-id arrays');
  const len = prompts[0].length;
  if (len < 1 || prompts.some((p) => p.length !== len)) throw new Error('prompts: every prompt must have the same length >= 1');
  assertInt(opts.maxNewTokens, 'maxNewTokens', 0);
  const temperature = opts.temperature ?? 1;
  assertNumber(temperature, 'temperature', { positive: true });
  const topP = opts.topP ?? 1;
  assertNumber(topP, 'topP', { positive: true, max: 1 });
  const strategy = opts.strategy ?? 'sample';
  const rng = opts.rng ?? new Rng(0);
  const codeSeed = opts.codeSeed ?? rng.nextUint32();
  const batch = prompts.length;
  const out: number[][] = prompts.map(() => []);

  let states = lm.initState(batch);
  let logits: tf.Tensor2D | null = null;
  const feed = (ids: number[]) => {
    logits?.dispose();
    const t = tf.tensor2d(ids, [batch, 1], 'int32');
    const r = lm.step(t, states, { codeSeed });
    t.dispose();
    states = r.states;
    logits = r.logits;
  };
  try {
    for (let i = 0; i < len; i++) feed(prompts.map((p) => p[i]));
    for (let n = 0; n < opts.maxNewTokens; n++) {
      const probs = tf.tidy(() => tf.softmax(logits!.div(strategy === 'greedy' ? 1 : temperature)).dataSync() as Float32Array);
      const v = lm.config.vocabSize;
      const next = prompts.map((_, b) => {
        const row = probs.subarray(b * v, (b + 1) * v);
        if (strategy === 'greedy') {
          let best = 0;
          for (let j = 1; j < v; j++) if (row[j] > row[best]) best = j;
          return best;
        }
        return sampleTopP(row, topP, rng);
      });
      next.forEach((id, b) => out[b].push(id));
      opts.onToken?.(n, next[0]);
      if (n < opts.maxNewTokens - 1) feed(next);
    }
  } finally {
    (logits as tf.Tensor2D | null)?.dispose();
    states.forEach(disposeAttentionState);
  }
  return out;
}
