export { CausalLM, Encoder, DualEncoder, Transformer, Block, validateConfig } from './transformer';
export type { TransformerConfig, ForwardOptions } from './transformer';
export { generate, sampleTopP } from './generate';
export type { GenerateOptions } from './generate';
