/**
 * The positional encodings. Loading this module registers every encoding with the registry
 * (each file registers its own declaration): import encodings from here, not from their files,
 * wherever a spec string may name them.
 */
export type { QKEncoding, BiasEncoding, AbsoluteEncoding, EncodeOptions, LrpeRowMap } from './types';
export * from './lrpe';
export * from './spe';
export { RoPE, ropeEncoding, ROPE_LAYOUTS, ROPE_MAX_HEAD_DIM } from './rope';
export { PermuteFormer, permuteFormerEncoding } from './permuteformer';
export { Retention, retentionEncoding, retentionDecays } from './retnet';
export { RelativePositionBias, relativeBiasEncoding } from './relative-bias';
export { SinusoidalAPE, LearnedAPE, APE_KINDS, buildAbsoluteEncoding, type ApeKind } from './ape';
export { registerEncoding, unregisterEncoding, getEncoding, listEncodings, resolveArgs, buildEncoding } from './registry';
export type { EncodingDefinition, QKEncodingDefinition, BiasEncodingDefinition, EncodingContext, EncodingArgs, EncodingRole, ParamDef } from './registry';
