/**
 * The encoding registry: one line per encoding turns a name and its arguments
 * (from a spec string such as `lrpe(unitary,householder,learned)`) into a module.
 *
 * A new encoding is one file plus one `registerEncoding` call below.
 * Arguments are declared once per encoding; a positional argument is matched to
 * the parameter whose `choices` contain it, `key=value` sets a parameter by name,
 * and a bare flag (`gated`, `ungated`) is a choice of a flag parameter.
 */
import { Rng, assertInt } from '../backend';
import type { Module } from '../nn';
import type { QKEncoding, AbsoluteEncoding } from './types';
import { Lrpe, type LrpeCore, type LrpeP } from './lrpe';
import { SPE } from './spe';
import { RoPE } from './rope';
import { PermuteFormer } from './permuteformer';
import { RelativePositionBias } from './relative-bias';
import { SinusoidalAPE, LearnedAPE } from './ape';

/** One declared argument of an encoding. */
export interface ParamDef {
  name: string;
  /** 'choice': a string among `choices`; 'int': an integer >= `min`; 'bool': true/false (or a flag pair). */
  type: 'choice' | 'int' | 'bool';
  choices?: readonly string[];
  /** For 'bool': the bare words meaning true / false, e.g. ['gated', 'ungated']. */
  flags?: readonly [string, string];
  /** Other spellings accepted for `key=` (e.g. 'K' for numSines). */
  aliases?: readonly string[];
  min?: number;
  default: string | number | boolean;
  /** The parameter only means something when another parameter has this value (e.g. K only for variant sine); setting it otherwise is an error. */
  only?: { param: string; value: string | boolean };
  doc: string;
}

/** What a factory needs to know about the layer it serves. */
export interface EncodingContext {
  numHeads: number;
  headDim: number;
  /** Longest sequence the layer will see, when known (tables, learned APE). */
  maxLength?: number;
  rng: Rng;
}

export type EncodingArgs = Record<string, string | number | boolean>;

/** How an encoding enters attention. */
export type EncodingRole = 'qk' | 'bias' | 'absolute';

export interface EncodingDefinition {
  name: string;
  role: EncodingRole;
  /** For role 'qk': 'pre' acts before the feature map (its headDim is the projection size), 'post' after it (its headDim is the feature size). */
  stage?: 'pre' | 'post';
  doc: string;
  params: ParamDef[];
  build(args: EncodingArgs, ctx: EncodingContext): Module;
}

const registry = new Map<string, EncodingDefinition>();

export function registerEncoding(def: EncodingDefinition): void {
  if (registry.has(def.name)) throw new Error(`name: encoding '${def.name}' is already registered`);
  registry.set(def.name, def);
}

export function getEncoding(name: string): EncodingDefinition {
  const def = registry.get(name);
  if (!def) throw new Error(`encoding: unknown encoding '${name}'; expected one of ${[...registry.keys()].map((n) => `'${n}'`).join(', ')}`);
  return def;
}

export function listEncodings(): EncodingDefinition[] {
  return [...registry.values()];
}

/**
 * Resolves raw spec arguments (`['unitary', 'p=dct', 'learned']`) against the
 * encoding's declared parameters. Unknown or ambiguous arguments throw, naming them.
 */
export function resolveArgs(def: EncodingDefinition, raw: string[]): EncodingArgs {
  const out: EncodingArgs = {};
  for (const p of def.params) out[p.name] = p.default;
  const set = new Set<string>();
  const assign = (p: ParamDef, value: string, original: string) => {
    if (set.has(p.name)) throw new Error(`${def.name}.${p.name}: given twice (at '${original}')`);
    set.add(p.name);
    out[p.name] = parseValue(def, p, value);
  };
  for (const arg of raw) {
    const a = arg.trim();
    if (a === '') continue;
    const eq = a.indexOf('=');
    if (eq >= 0) {
      const key = a.slice(0, eq).trim();
      const p = def.params.find((q) => q.name === key || q.aliases?.includes(key));
      if (!p) throw new Error(`${def.name}: unknown argument '${key}'; expected one of ${describeParams(def)}`);
      assign(p, a.slice(eq + 1).trim(), a);
      continue;
    }
    const matches = def.params.filter((p) => p.choices?.includes(a) || p.flags?.includes(a));
    if (matches.length === 0) throw new Error(`${def.name}: cannot place argument '${a}'; expected one of ${describeParams(def)}`);
    if (matches.length > 1) throw new Error(`${def.name}: argument '${a}' is ambiguous (${matches.map((m) => m.name).join(', ')}); write it as name=${a}`);
    const p = matches[0];
    assign(p, p.type === 'bool' ? String(p.flags![0] === a) : a, a);
  }
  for (const p of def.params) {
    if (p.only && set.has(p.name) && out[p.only.param] !== p.only.value) {
      const alias = p.aliases?.length ? ` (${p.aliases.join(', ')})` : '';
      throw new Error(`${def.name}.${p.name}${alias}: applies only when ${p.only.param} is '${p.only.value}', not '${out[p.only.param]}'; remove it`);
    }
  }
  return out;
}

function parseValue(def: EncodingDefinition, p: ParamDef, v: string): string | number | boolean {
  const where = `${def.name}.${p.name}`;
  if (p.type === 'int') {
    const n = Number(v);
    assertInt(n, where, p.min ?? 1);
    return n;
  }
  if (p.type === 'bool') {
    if (v === 'true' || v === p.flags?.[0]) return true;
    if (v === 'false' || v === p.flags?.[1]) return false;
    throw new Error(`${where}: expected true or false${p.flags ? ` (or ${p.flags.join('/')})` : ''}, got '${v}'`);
  }
  if (!p.choices!.includes(v)) throw new Error(`${where}: expected one of ${p.choices!.map((c) => `'${c}'`).join(', ')}, got '${v}'`);
  return v;
}

function describeParams(def: EncodingDefinition): string {
  return def.params
    .map((p) => `${p.name}${p.choices ? ` (${p.choices.join('|')})` : p.flags ? ` (${p.flags.join('|')})` : ` (${p.type})`}`)
    .join(', ');
}

/** Builds the module for `name(args...)` in a layer described by `ctx`. */
export function buildEncoding(name: string, rawArgs: string[], ctx: EncodingContext): { def: EncodingDefinition; args: EncodingArgs; module: Module } {
  const def = getEncoding(name);
  const args = resolveArgs(def, rawArgs);
  return { def, args, module: def.build(args, ctx) };
}

// ---------------------------------------------------------------------------------------------
// The encodings of both papers and their baselines. One line (one call) per encoding.

const LRPE_CORES = ['rotation', 'mixed', 'permutation', 'unitary'] as const;
const LRPE_PS = ['identity', 'householder', 'householder-learned', 'dct', 'odd-even'] as const;

registerEncoding({
  name: 'lrpe',
  role: 'qk',
  stage: 'post',
  doc: 'Linearized Relative Positional Encoding (Qin et al. 2023): M_s = Λ^(s) P, applied after the feature map',
  params: [
    { name: 'core', type: 'choice', choices: LRPE_CORES, default: 'rotation', doc: 'Λ: rotation | mixed | permutation | unitary' },
    { name: 'p', type: 'choice', choices: LRPE_PS, default: 'householder', doc: 'P: the shared orthogonal basis change' },
    { name: 'theta', type: 'choice', choices: ['fixed', 'learned'], default: 'fixed', doc: 'θ fixed at 10000^(-2k/e) or learned from it' },
  ],
  build: (a, ctx) =>
    new Lrpe({
      headDim: ctx.headDim,
      core: a.core as LrpeCore,
      p: a.p as LrpeP,
      theta: a.theta as 'fixed' | 'learned',
      rng: ctx.rng,
    }),
});

registerEncoding({
  name: 'spe',
  role: 'qk',
  stage: 'pre',
  doc: 'Stochastic Positional Encoding (Liutkus et al. 2021): sine or conv codes + (gated) filter, before the feature map',
  params: [
    { name: 'variant', type: 'choice', choices: ['sine', 'conv'], default: 'sine', doc: 'sineSPE or convSPE' },
    { name: 'numSines', type: 'int', aliases: ['K'], min: 1, default: 10, only: { param: 'variant', value: 'sine' }, doc: 'K, sinusoids per feature (sine)' },
    { name: 'numRealizations', type: 'int', aliases: ['R'], min: 1, default: 64, doc: 'R, realizations = new q/k dim' },
    { name: 'kernelSize', type: 'int', aliases: ['P'], min: 1, default: 128, only: { param: 'variant', value: 'conv' }, doc: 'P, conv filter length (conv)' },
    { name: 'gated', type: 'bool', flags: ['gated', 'ungated'], default: true, doc: 'gated filter' },
  ],
  build: (a, ctx) =>
    new SPE({
      variant: a.variant as 'sine' | 'conv',
      numHeads: ctx.numHeads,
      headDim: ctx.headDim,
      numRealizations: a.numRealizations as number,
      // Each variant takes only its own size: K for sine, P for conv.
      ...(a.variant === 'sine' ? { numSines: a.numSines as number } : { kernelSize: a.kernelSize as number }),
      gated: a.gated as boolean,
      rng: ctx.rng,
    }),
});

registerEncoding({
  name: 'rope',
  role: 'qk',
  stage: 'post',
  doc: 'Rotary position embedding (Su et al.), applied after the feature map as in the LRPE baselines',
  params: [{ name: 'layout', type: 'choice', choices: ['split-half', 'interleaved'], default: 'split-half', doc: 'pairing of dimensions' }],
  build: (a, ctx) => new RoPE({ headDim: ctx.headDim, layout: a.layout as 'split-half' | 'interleaved' }),
});

registerEncoding({
  name: 'permuteformer',
  role: 'qk',
  stage: 'post',
  doc: 'PermuteFormer (Chen 2021): Π^s on q and k with a per-head decay r^(s-t) inside attention',
  params: [],
  build: (_a, ctx) => new PermuteFormer({ headDim: ctx.headDim, numHeads: ctx.numHeads, rng: ctx.rng }),
});

registerEncoding({
  name: 'relbias',
  role: 'bias',
  doc: 'Learnable relative position bias b[h, t-s] added to softmax logits (quadratic attention only)',
  params: [{ name: 'maxDistance', type: 'int', aliases: ['max'], min: 1, default: 128, doc: 'offsets clipped to ±(max-1)' }],
  build: (a, ctx) => new RelativePositionBias({ numHeads: ctx.numHeads, maxDistance: a.maxDistance as number, bidirectional: true, rng: ctx.rng }),
});

/** Absolute encodings used by models (not part of attention specs). */
export function buildAbsoluteEncoding(kind: 'none' | 'sinusoidal' | 'learned', model: number, maxLength: number, rng: Rng): AbsoluteEncoding | null {
  if (kind === 'none') return null;
  if (kind === 'sinusoidal') return new SinusoidalAPE({ model });
  if (kind === 'learned') return new LearnedAPE({ model, maxLength, rng });
  throw new Error(`ape: expected 'none', 'sinusoidal' or 'learned', got ${JSON.stringify(kind)}`);
}


