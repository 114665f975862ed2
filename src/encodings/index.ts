export type { QKEncoding, AbsoluteEncoding, EncodeOptions } from './types';
export * from './lrpe';
export * from './spe';
export { RoPE } from './rope';
export { PermuteFormer } from './permuteformer';
export { RelativePositionBias } from './relative-bias';
export { SinusoidalAPE, LearnedAPE } from './ape';
export { registerEncoding, getEncoding, listEncodings, resolveArgs, buildEncoding, buildAbsoluteEncoding } from './registry';
export type { EncodingDefinition, EncodingContext, EncodingArgs, EncodingRole, ParamDef } from './registry';
