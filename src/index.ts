/**
 * rpelab: relative positional encodings for linear-complexity transformers.
 * Public API. Tensor layout: [batch, length, heads, dim] unless a doc comment says otherwise.
 */
export * from './backend';
export * from './nn';
export * from './encodings';
export * from './attention';
export * from './models';
export * from './data';
export * from './train';
export * from './viz';
export * from './experiments';
