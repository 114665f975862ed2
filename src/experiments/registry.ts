/**
 * The experiment registry: every table and figure of both papers under a name
 * (`rpelab list` prints it). A new experiment is one definition plus one `registerExperiment`.
 */
import { parseSpec, specKnobs } from '../attention/spec';
import { APE_KINDS } from '../encodings';
import { validateConfig } from '../models';
import { makeSchedule } from '../train';
import { TASK_KINDS, DATASETS, SCALES, IMAGE_SIZES, type ExperimentDefinition, type ScaleSettings } from './types';
import { LRPE_EXPERIMENTS } from './lrpe';
import { SPE_EXPERIMENTS } from './spe';
import { CROSS_EXPERIMENTS } from './cross';

const registry = new Map<string, ExperimentDefinition>();

const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Fills the `{name}` placeholders of a spec template (`{R}`, `{K}`, ...) from the scale's encoding settings. */
export function resolveSpec(template: string, encoding: ScaleSettings['encoding']): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (whole, key: string) => {
    if (!Object.prototype.hasOwnProperty.call(encoding, key))
      throw new Error(
        `attention: unknown placeholder ${whole} in '${template}'; the settings give ${
          Object.keys(encoding)
            .map((k) => `{${k}}`)
            .join(', ') || 'none'
        }`,
      );
    return String(encoding[key]);
  });
}

/**
 * Checks the encoding knobs of a scale: every key a declared integer parameter (`specKnobs`),
 * every value an integer >= 1.
 */
export function checkKnobs(encoding: unknown, where: string): void {
  if (encoding === null || typeof encoding !== 'object' || Array.isArray(encoding))
    throw new Error(`${where}: expected an object of integer knobs like {R: 64, K: 8}, got ${JSON.stringify(encoding)}`);
  const knobs = specKnobs();
  for (const [k, v] of Object.entries(encoding)) {
    if (!knobs.has(k)) throw new Error(`${where}: unknown knob '${k}'; expected a declared integer parameter: ${[...knobs.keys()].join(', ')}`);
    if (!isInt(v, 1)) throw new Error(`${where}.${k} (${knobs.get(k)}): expected an integer >= 1, got ${JSON.stringify(v)}`);
  }
}

/** The conv kernel size P of a resolved spec, or null when it has no convSPE. */
export function convKernelSize(spec: string): number | null {
  const enc = parseSpec(spec).encoding;
  return enc && enc.name === 'spe' && enc.args.variant === 'conv' ? (enc.args.kernelSize as number) : null;
}

function isInt(x: unknown, min: number): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= min;
}

/**
 * Checks settings of one scale: positive sizes, R >= 1, heads divide the width, and the
 * experiment's specs parse with a conv kernel no longer than the training length.
 * Every problem names the field and what was expected.
 */
export function validateSettings(def: ExperimentDefinition, scale: string, s: ScaleSettings): void {
  const where = `${def.name}.scales.${scale}`;
  for (const k of ['model', 'numLayers', 'numHeads', 'hidden', 'length', 'batchSize', 'steps', 'evalEvery', 'evalSize', 'trainSize'] as const) {
    if (!isInt(s[k], 1)) throw new Error(`${where}.${k}: expected an integer >= 1, got ${JSON.stringify(s[k])}`);
  }
  if (s.model % s.numHeads !== 0) throw new Error(`${where}.numHeads: must divide model (${s.model}), got ${s.numHeads}`);
  if (!(typeof s.dropout === 'number' && s.dropout >= 0 && s.dropout < 1))
    throw new Error(`${where}.dropout: expected a number in [0, 1), got ${JSON.stringify(s.dropout)}`);
  if (!(typeof s.weightDecay === 'number' && s.weightDecay >= 0))
    throw new Error(`${where}.weightDecay: expected a number >= 0, got ${JSON.stringify(s.weightDecay)}`);
  if (!(typeof s.beta2 === 'number' && s.beta2 > 0 && s.beta2 < 1))
    throw new Error(`${where}.beta2: expected a number in (0, 1), got ${JSON.stringify(s.beta2)}`);
  if (s.clipNorm !== undefined && !(s.clipNorm > 0)) throw new Error(`${where}.clipNorm: expected a positive number, got ${JSON.stringify(s.clipNorm)}`);
  checkKnobs(s.encoding, `${where}.encoding`);
  if (s.imageSize !== undefined && !(IMAGE_SIZES as readonly number[]).includes(s.imageSize))
    throw new Error(`${where}.imageSize: expected one of ${IMAGE_SIZES.join(', ')}, got ${JSON.stringify(s.imageSize)}`);
  if (s.extrapolation !== undefined && !isInt(s.extrapolation, 1))
    throw new Error(`${where}.extrapolation: expected an integer >= 1, got ${JSON.stringify(s.extrapolation)}`);
  if (s.listopsDepth !== undefined && !isInt(s.listopsDepth, 1))
    throw new Error(`${where}.listopsDepth: expected an integer >= 1, got ${JSON.stringify(s.listopsDepth)}`);
  try {
    makeSchedule(s.schedule);
  } catch (e) {
    throw new Error(`${where}.schedule: expected a schedule object like {kind: 'cosine', lr, warmup, decaySteps}; ${(e as Error).message}`);
  }
  if (!Array.isArray(s.seeds) || s.seeds.length === 0 || !s.seeds.every((x) => isInt(x, 0)))
    throw new Error(`${where}.seeds: expected a non-empty list of integers >= 0, got ${JSON.stringify(s.seeds)}`);
  if (s.supportSeeds !== undefined && !(isInt(s.supportSeeds, 1) && s.supportSeeds <= s.seeds.length))
    throw new Error(`${where}.supportSeeds: expected an integer in [1, ${s.seeds.length}] (the number of seeds), got ${JSON.stringify(s.supportSeeds)}`);
  const length = def.dataset === 'mnist' || def.dataset === 'fashion-mnist' ? (s.imageSize ?? 32) ** 2 : s.length;
  for (const [vname, v] of Object.entries(def.variants)) {
    const spec = resolveSpec(v.attention, s.encoding);
    try {
      parseSpec(spec);
    } catch (e) {
      throw new Error(`${def.name}.variants.${vname}.attention: ${(e as Error).message}`);
    }
    const p = convKernelSize(spec);
    if (p !== null && p > length) {
      throw new Error(
        `${where}.encoding.P: the convSPE kernel size (${p}) is larger than the training length (${length}) of variant '${vname}'; expected P <= ${length}`,
      );
    }
    validateConfig({
      vocabSize: 2,
      model: s.model,
      numLayers: s.numLayers,
      numHeads: s.numHeads,
      hidden: s.hidden,
      maxLength: length + 1,
      attention: spec,
      ape: v.ape,
      dropout: s.dropout,
      seed: 0,
    });
  }
}

/** Checks a definition completely (names, task, dataset, variants at every scale, paper numbers). */
export function validateDefinition(def: ExperimentDefinition): void {
  if (!def || typeof def.name !== 'string' || !NAME.test(def.name))
    throw new Error(`name: expected lower-case letters, digits and '-', got ${JSON.stringify(def?.name)}`);
  const w = def.name;
  if (!(TASK_KINDS as readonly string[]).includes(def.task))
    throw new Error(`${w}.task: expected one of ${TASK_KINDS.join(', ')}, got ${JSON.stringify(def.task)}`);
  if (!(DATASETS as readonly string[]).includes(def.dataset))
    throw new Error(`${w}.dataset: expected one of ${DATASETS.join(', ')}, got ${JSON.stringify(def.dataset)}`);
  const variants = Object.keys(def.variants ?? {});
  if (variants.length === 0) throw new Error(`${w}.variants: expected at least one variant`);
  for (const v of variants) {
    if (!NAME.test(v)) throw new Error(`${w}.variants: variant names are lower-case letters, digits and '-', got '${v}'`);
    const ape = def.variants[v].ape;
    if (!(APE_KINDS as readonly string[]).includes(ape))
      throw new Error(`${w}.variants.${v}.ape: expected one of ${APE_KINDS.map((k) => `'${k}'`).join(', ')}, got ${JSON.stringify(ape)}`);
  }
  if (!Array.isArray(def.metrics) || def.metrics.length === 0) throw new Error(`${w}.metrics: expected at least one metric`);
  for (const scale of SCALES) {
    if (!def.scales?.[scale]) throw new Error(`${w}.scales: missing scale '${scale}'; expected ${SCALES.join(', ')}`);
    validateSettings(def, scale, def.scales[scale]);
  }
  const metricNames = def.metrics.map((m) => m.name);
  for (const [v, row] of Object.entries(def.paperNumbers ?? {})) {
    if (!variants.includes(v)) throw new Error(`${w}.paperNumbers: unknown variant '${v}'; expected one of ${variants.join(', ')}`);
    for (const [m, num] of Object.entries(row)) {
      if (!metricNames.includes(m)) throw new Error(`${w}.paperNumbers.${v}: unknown metric '${m}'; expected one of ${metricNames.join(', ')}`);
      if (!(Number.isFinite(num.mean) && isInt(num.n, 1))) throw new Error(`${w}.paperNumbers.${v}.${m}: expected {mean, std, n >= 1}`);
    }
  }
}

/** Adds an experiment (validated); its name must be new. */
export function registerExperiment(def: ExperimentDefinition): void {
  validateDefinition(def);
  if (registry.has(def.name)) throw new Error(`name: experiment '${def.name}' is already registered`);
  registry.set(def.name, def);
}

/** Removes an experiment (tests register temporary ones). Returns whether it existed. */
export function unregisterExperiment(name: string): boolean {
  return registry.delete(name);
}

/** The experiment called `name`; an unknown name throws, listing the known ones. */
export function getExperiment(name: string): ExperimentDefinition {
  const def = registry.get(name);
  if (!def) throw new Error(`experiment: unknown experiment '${name}'; expected 'all' or one of ${experimentNames().join(', ')}`);
  return def;
}

/** Every registered experiment, in registration order. */
export function listExperiments(): ExperimentDefinition[] {
  return [...registry.values()];
}

export function experimentNames(): string[] {
  return [...registry.keys()];
}

for (const def of [...LRPE_EXPERIMENTS, ...SPE_EXPERIMENTS, ...CROSS_EXPERIMENTS]) registerExperiment(def);
