export { Module } from './module';
export { Linear, LayerNorm, Embedding, FeedForward, gelu, glorotUniform, normalInit, MAX_TENSOR_SIZE } from './layers';
export { dropout } from './dropout';
export type { LinearOptions } from './layers';
export { tokenNll, tokenNllReference, crossEntropy, maskedMean, checkTargets } from './losses';
export { NotebookScope, notebookScope } from './scope';
export type { Keepable } from './scope';
