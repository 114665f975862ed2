/**
 * The encoding registry: it only collects definitions. Each encoding declares itself in the
 * file that defines it (name, role, stage, typed parameters whose choices come from that file's
 * own constants, defaults, its default normaliser) and registers that declaration when the
 * file is loaded (`src/encodings/index.ts` loads them all). A spec string such as
 * `lrpe(unitary,householder,learned)` is resolved against the declaration and built by it.
 *
 * Arguments: a positional argument is matched to the parameter whose `choices` contain it,
 * `key=value` sets a parameter by name (or alias), and a bare flag (`gated`, `ungated`) is a
 * choice of a flag parameter.
 */
import { Rng, assertInt } from '../backend';
import type { QKEncoding, BiasEncoding } from './types';

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

/** How an encoding enters attention: it transforms queries and keys ('qk'), or adds a bias to softmax logits ('bias'). */
export type EncodingRole = 'qk' | 'bias';

interface DefinitionBase {
  /** The name in spec strings. */
  name: string;
  doc: string;
  params: ParamDef[];
  /** The normaliser of linear attention with this encoding unless the spec sets one (default: the denominator). */
  defaultNormalize?: 'denominator' | 'layernorm';
  /**
   * How scores depend on positions, as the conformance suite checks it: 'exact' (only through t − s),
   * 'expectation' (through t − s in expectation over random codes: SPE).
   */
  relative: 'exact' | 'expectation';
  /** Argument lists the conformance suite builds it with (default: one, all defaults). */
  examples?: string[][];
}

/** An encoding of queries and keys (LRPE, SPE, RoPE, PermuteFormer, ...). */
export interface QKEncodingDefinition extends DefinitionBase {
  role: 'qk';
  /** 'pre' acts before the feature map (its headDim is the projection size), 'post' after it (its headDim is the feature size). */
  stage: 'pre' | 'post';
  build(args: EncodingArgs, ctx: EncodingContext): QKEncoding;
}

/** A bias added to softmax logits (quadratic attention only). */
export interface BiasEncodingDefinition extends DefinitionBase {
  role: 'bias';
  build(args: EncodingArgs, ctx: EncodingContext): BiasEncoding;
}

export type EncodingDefinition = QKEncodingDefinition | BiasEncodingDefinition;

const registry = new Map<string, EncodingDefinition>();

/** Adds `def` to the registry and returns it (an encoding's file exports what it registers). */
export function registerEncoding<D extends EncodingDefinition>(def: D): D {
  if (registry.has(def.name)) throw new Error(`name: encoding '${def.name}' is already registered`);
  for (const p of def.params) {
    if (p.only && !def.params.some((q) => q.name === p.only!.param))
      throw new Error(`${def.name}.${p.name}: 'only' refers to an unknown parameter '${p.only.param}'`);
  }
  registry.set(def.name, def);
  return def;
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
  return def.params.map((p) => `${p.name}${p.choices ? ` (${p.choices.join('|')})` : p.flags ? ` (${p.flags.join('|')})` : ` (${p.type})`}`).join(', ');
}

/** Builds the module for `name(args...)` in a layer described by `ctx`. */
export function buildEncoding(
  name: string,
  rawArgs: string[],
  ctx: EncodingContext,
): { def: EncodingDefinition; args: EncodingArgs; module: QKEncoding | BiasEncoding } {
  const def = getEncoding(name);
  const args = resolveArgs(def, rawArgs);
  return { def, args, module: def.build(args, ctx) };
}

/** Removes a registered encoding (tests that register their own). */
export function unregisterEncoding(name: string): void {
  registry.delete(name);
}
