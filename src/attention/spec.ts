/**
 * Attention spec strings <-> plain data.
 *
 *   spec      := attention [ '+' encoding ]
 *   attention := ('linear' | 'softmax' | 'performer') [ '(' key=value, ... ')' ] [ ':' featureMap ]
 *   featureMap:= 'elu' (φ = elu + 1, the default) | 'relu' (relu + 1e-3) | 'identity'
 *              | 'favor' (FAVOR+, the Performer's positive random features)   (linear only)
 *   encoding  := name [ '(' arg, ... ')' ]      name from the encoding registry, or 'none'
 *
 * `performer` is the Performer's name for linear attention with the FAVOR+ feature map:
 * `performer(features=64)` reads as `linear(features=64):favor`, and specs are written back in
 * that canonical form. One vocabulary with the code: FAVOR+ is a feature map (`FavorPlus`, named
 * 'favor': a '+' in the name would read as the encoding separator).
 *
 * Attention options (`ATTENTION_OPTIONS`, declared like encoding parameters): `norm=denominator|
 * layernorm` (default: layernorm for LRPE, as the authors' final code, and for the identity
 * feature map, whose scores have any sign so it cannot take the denominator; denominator
 * otherwise), `chunk=N` (causal chunk length of the tf-op form; the native scan has none), `features=N` or `F=N` (FAVOR+ random features,
 * default 256; favor only); softmax: `block=N` (keys per block of the O(L)-memory blockwise form,
 * which it otherwise takes past 2^25 scores).
 *
 * Examples: `linear:elu+lrpe(unitary,householder,learned)`, `performer+spe(sine,K=10,R=64,gated)`,
 * `linear:relu+spe(conv,P=128)`, `softmax+relbias(max=128)`, `linear:elu+none`.
 */
import { assertInt } from '../backend';
import { getEncoding, listEncodings, resolveArgs, type EncodingArgs, type ParamDef } from '../encodings';
import { FEATURE_MAP_NAMES } from './feature-maps';

export const ATTENTION_KINDS = ['linear', 'softmax'] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];
/** Accepted for the paper's name: `performer(...)` is `linear(...):favor`. */
export const PERFORMER_ALIAS = 'performer';
/** The feature maps of linear attention: the deterministic ones and FAVOR+ (`favor`). */
export const FEATURE_MAPS = [...FEATURE_MAP_NAMES, 'favor'] as const;
export type SpecFeatureMap = (typeof FEATURE_MAPS)[number];
/** FAVOR+ random features when the spec sets none. */
export const DEFAULT_FAVOR_FEATURES = 256;

/** The options each attention kind takes inside its parentheses. Softmax has no normaliser choice and no chunking. */
export const ATTENTION_OPTIONS: Record<AttentionKind, readonly ParamDef[]> = {
  linear: [
    { name: 'norm', type: 'choice', choices: ['denominator', 'layernorm'], default: 'denominator', doc: 'normaliser (default per encoding and feature map)' },
    {
      name: 'chunk',
      type: 'int',
      min: 1,
      default: 0,
      doc: "causal chunk length of the tf-op form (default: the attention module's; the native scan has no chunks)",
    },
    { name: 'features', type: 'int', aliases: ['F'], min: 1, default: DEFAULT_FAVOR_FEATURES, doc: 'FAVOR+ random features (favor only)' },
  ],
  softmax: [
    {
      name: 'block',
      type: 'int',
      min: 1,
      default: 0,
      doc: 'keys per block of the O(L)-memory blockwise form (default: quadratic up to 2^25 scores, blockwise past them)',
    },
  ],
};

function describeOptions(kind: AttentionKind): string {
  const o = ATTENTION_OPTIONS[kind];
  return o.length ? o.map((p) => p.name + (p.aliases?.length ? ` (${p.aliases.join(', ')})` : '')).join(', ') : 'no options';
}

/**
 * The integer parameters a spec template may leave as `{name}` placeholders (experiment and
 * bench knobs), from the declarations: every integer parameter of every registered encoding and
 * of the attention options, by name and by alias (`R`, `K`, `P`, `F`, `numRealizations`, ...),
 * each mapped to where it is declared ('spe.numRealizations', 'linear.features').
 */
export function specKnobs(): Map<string, string> {
  const out = new Map<string, string>();
  const add = (owner: string, p: ParamDef) => {
    if (p.type !== 'int') return;
    for (const key of [p.name, ...(p.aliases ?? [])]) {
      const where = `${owner}.${p.name}`;
      const prev = out.get(key);
      out.set(key, prev && prev !== where ? `${prev} / ${where}` : where);
    }
  };
  for (const kind of ATTENTION_KINDS) for (const p of ATTENTION_OPTIONS[kind]) add(kind, p);
  for (const def of listEncodings()) for (const p of def.params) add(def.name, p);
  return out;
}

/** A parsed spec: plain, JSON-serialisable data. */
export interface AttentionSpec {
  kind: AttentionKind;
  /** Linear attention's feature map, 'favor' (FAVOR+) for the Performer (ignored by softmax). */
  featureMap: SpecFeatureMap;
  normalize: 'denominator' | 'layernorm';
  /** Causal chunk length for linear attention; undefined = the attention module's default. */
  chunkSize?: number;
  /** Softmax: keys per block of the blockwise (FlashAttention) form; undefined = automatic (`quadraticSoftmaxMaxScores`). */
  blockSize?: number;
  /** FAVOR+ random features (used with the favor feature map). */
  numFeatures: number;
  /** null = no relative encoding. */
  encoding: { name: string; args: EncodingArgs } | null;
}

/**
 * The normaliser when the spec sets none: the identity feature map (scores of any sign) takes
 * LayerNorm; otherwise the encoding's declared default (LRPE: LayerNorm, as the authors' final
 * code, "norm linear for stable training"), else the denominator.
 */
function defaultNormalize(kind: AttentionKind, encoding: string | undefined, featureMap: SpecFeatureMap = 'elu'): AttentionSpec['normalize'] {
  if (kind === 'linear' && featureMap === 'identity') return 'layernorm';
  if (kind === 'softmax' || encoding === undefined) return 'denominator';
  return getEncoding(encoding).defaultNormalize ?? 'denominator';
}

/** Splits `s` on `sep` at parenthesis depth 0. */
function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new Error(`spec: unbalanced ')' in '${s}'`);
    if (ch === sep && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) throw new Error(`spec: unbalanced '(' in '${s}'`);
  parts.push(cur);
  return parts.map((p) => p.trim());
}

/** `name(a, b)` -> { name, args: ['a', 'b'] }. */
function call(s: string, what: string): { name: string; args: string[] } {
  const m = /^([A-Za-z][\w-]*)\s*(?:\((.*)\))?$/.exec(s.trim());
  if (!m) throw new Error(`spec: cannot read ${what} '${s}'; expected name or name(args)`);
  return { name: m[1], args: m[2] === undefined ? [] : splitTop(m[2], ',').filter((a) => a !== '') };
}

/** Parses a spec string; throws an Error naming the part that is wrong and the valid choices. */
export function parseSpec(spec: string): AttentionSpec {
  if (typeof spec !== 'string' || spec.trim() === '')
    throw new Error(`spec: expected a non-empty string like 'linear:elu+lrpe(rotation)', got ${JSON.stringify(spec)}`);
  const parts = splitTop(spec, '+');
  if (parts.length > 2) throw new Error(`spec: at most one encoding per layer, got '${spec}'`);
  const [head, enc] = parts;
  const colon = splitTop(head, ':');
  if (colon.length > 2) throw new Error(`spec: more than one ':' in '${head}'`);
  const att = call(colon[0], 'attention');
  const performer = att.name === PERFORMER_ALIAS;
  if (!performer && !(ATTENTION_KINDS as readonly string[]).includes(att.name)) {
    throw new Error(`spec: unknown attention '${att.name}'; expected one of ${[...ATTENTION_KINDS, PERFORMER_ALIAS].join(', ')} (performer = linear:favor)`);
  }
  const kind: AttentionKind = performer ? 'linear' : (att.name as AttentionKind);
  let featureMap: SpecFeatureMap = performer ? 'favor' : 'elu';
  if (colon.length === 2) {
    if (att.name !== 'linear')
      throw new Error(
        `spec: a feature map (':${colon[1]}') applies to 'linear' only, not '${att.name}'${performer ? ' (performer is linear:favor already)' : ''}`,
      );
    if (!(FEATURE_MAPS as readonly string[]).includes(colon[1])) {
      throw new Error(`spec: unknown feature map '${colon[1]}'; expected one of ${FEATURE_MAPS.join(', ')} (elu means elu+1)`);
    }
    featureMap = colon[1] as SpecFeatureMap;
  }

  let encoding: AttentionSpec['encoding'] = null;
  if (enc !== undefined && enc !== 'none') {
    const e = call(enc, 'encoding');
    const def = getEncoding(e.name);
    if (def.role === 'bias' && kind !== 'softmax')
      throw new Error(`spec: '${e.name}' adds a bias to softmax logits; it needs 'softmax' attention, not '${kind}'`);
    encoding = { name: e.name, args: resolveArgs(def, e.args) };
  }

  let normalize = defaultNormalize(kind, encoding?.name, featureMap);
  let chunkSize: number | undefined;
  let blockSize: number | undefined;
  let numFeatures = DEFAULT_FAVOR_FEATURES;
  const allowed = ATTENTION_OPTIONS[kind];
  const seen = new Set<string>();
  for (const a of att.args) {
    const eq = a.indexOf('=');
    if (eq < 0) throw new Error(`spec: attention option '${a}' needs a value (key=value); ${att.name} takes ${describeOptions(kind)}`);
    const key = a.slice(0, eq).trim();
    const value = a.slice(eq + 1).trim();
    const opt = allowed.find((p) => p.name === key || p.aliases?.includes(key));
    if (!opt) throw new Error(`spec: unknown option '${key}' for ${att.name} attention; ${att.name} takes ${describeOptions(kind)}`);
    if (seen.has(opt.name)) throw new Error(`spec: ${att.name} option '${opt.name}' given twice`);
    seen.add(opt.name);
    if (opt.name === 'norm') {
      if (!opt.choices!.includes(value)) throw new Error(`spec: norm expected 'denominator' or 'layernorm', got '${value}'`);
      normalize = value as AttentionSpec['normalize'];
    } else if (opt.name === 'chunk') {
      chunkSize = Number(value === '' ? NaN : value);
      assertInt(chunkSize, 'spec: chunk');
    } else if (opt.name === 'block') {
      blockSize = Number(value === '' ? NaN : value);
      assertInt(blockSize, 'spec: block');
    } else {
      if (featureMap !== 'favor')
        throw new Error(
          `spec: features sets the FAVOR+ random features; it needs the favor feature map (linear(features=N):favor or performer(features=N)), not '${featureMap}'`,
        );
      numFeatures = Number(value === '' ? NaN : value);
      assertInt(numFeatures, 'spec: features');
    }
  }
  if (kind === 'linear' && featureMap === 'identity' && normalize === 'denominator') {
    // Features of any sign: Σ_t q_s·k_t can be zero or negative, and a clamped denominator gives outputs of any size.
    throw new Error(
      `spec: norm=denominator needs positive features, and the identity feature map has scores of any sign (the denominator can be 0 or negative); use norm=layernorm (its default) or the elu / relu map`,
    );
  }
  return { kind, featureMap, normalize, chunkSize, ...(blockSize !== undefined ? { blockSize } : {}), numFeatures, encoding };
}

/** The canonical spec string of `s` (parseSpec(formatSpec(s)) deep-equals s). */
export function formatSpec(s: AttentionSpec): string {
  const opts: string[] = [];
  if (s.normalize !== defaultNormalize(s.kind, s.encoding?.name, s.featureMap)) opts.push(`norm=${s.normalize}`);
  if (s.chunkSize !== undefined) opts.push(`chunk=${s.chunkSize}`);
  if (s.blockSize !== undefined) opts.push(`block=${s.blockSize}`);
  if (s.featureMap === 'favor' && s.numFeatures !== DEFAULT_FAVOR_FEATURES) opts.push(`features=${s.numFeatures}`);
  let out = s.kind + (opts.length ? `(${opts.join(',')})` : '');
  if (s.kind === 'linear') out += `:${s.featureMap}`;
  if (s.encoding) {
    const def = getEncoding(s.encoding.name);
    const args = def.params
      .filter((p) => s.encoding!.args[p.name] !== p.default)
      .map((p) => {
        const v = s.encoding!.args[p.name];
        if (p.type === 'bool' && p.flags) return v ? p.flags[0] : p.flags[1];
        return `${p.name}=${v}`;
      });
    out += `+${s.encoding.name}${args.length ? `(${args.join(',')})` : ''}`;
  } else out += '+none';
  return out;
}
