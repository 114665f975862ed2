export * from './feature-maps';
export * from './linear';
export * from './softmax';
export { linearAttentionReference, type LinearAttentionReferenceOptions } from './reference';
export { parseSpec, formatSpec, specKnobs, ATTENTION_KINDS, ATTENTION_OPTIONS, FEATURE_MAPS, PERFORMER_ALIAS, DEFAULT_FAVOR_FEATURES } from './spec';
export type { AttentionSpec, AttentionKind, SpecFeatureMap } from './spec';
export { AttentionLayer, disposeAttentionState } from './layer';
export type { AttentionLayerOptions, AttentionCallOptions, AttentionState } from './layer';
