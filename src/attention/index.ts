export * from './feature-maps';
export * from './linear';
export * from './softmax';
export { linearAttentionReference, type LinearAttentionReferenceOptions } from './reference';
export { parseSpec, formatSpec, ATTENTION_KINDS, FEATURE_MAPS } from './spec';
export type { AttentionSpec, AttentionKind, SpecFeatureMap } from './spec';
export { AttentionLayer, disposeAttentionState } from './layer';
export type { AttentionLayerOptions, AttentionCallOptions, AttentionState } from './layer';
