export { Module } from './module';
export { Linear, LayerNorm, Embedding, glorotUniform, normalInit } from './layers';
export type { LinearOptions } from './layers';
