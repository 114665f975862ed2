/** Stochastic Positional Encoding (Liutkus et al., ICML 2021): code generators, filter, encoding. */
export { SineSPE } from './sine';
export type { SineSPEOptions } from './sine';
export { ConvSPE } from './conv';
export type { ConvSPEOptions } from './conv';
export { SPEFilter } from './filter';
export type { SPEFilterOptions, GateOptions } from './filter';
export { sineSPEProject, sinusoidTable, headMixing, matMul2d } from './project';
export { SPE } from './spe';
export type { SPEOptions, SPEEncodeOptions } from './spe';
export { codeScale } from './common';
export type { SPECode, CodeOptions } from './common';
