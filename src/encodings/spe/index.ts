/** Stochastic Positional Encoding (Liutkus et al., ICML 2021): code generators, filter, encoding. */
export { SineSPE } from './sine';
export type { SineSPEOptions } from './sine';
export { ConvSPE } from './conv';
export type { ConvSPEOptions } from './conv';
export { SPEFilter, projectOnCode } from './filter';
export { projectOnCodeReference } from './reference';
export type { SPEFilterOptions, SPEGateOptions } from './filter';
export {
  sineSPEFeatureProject,
  sineFeatureNoise,
  type SineFeatureProjectOptions,
  sineSPECodeProject,
  sineProjectPath,
  nativeSharesCode,
  MAX_CODE_FLOATS,
  keySinusoids,
  headMixing,
  type SineProjectPath,
} from './project';
export { SPE, SPE_VARIANTS, speEncoding } from './spe';
export type { SPEOptions, SPEEncodeOptions } from './spe';
export type { SPECode, SPECodeOptions } from './common';
export { speKernel, toeplitz } from './kernel';
