/**
 * Data: offline corpora (Gutenberg, IMDB, MNIST, Fashion-MNIST, a small MIDI corpus), generated
 * benchmarks (ListOps, the Gutenberg same-book retrieval stand-in) and LM batching.
 * Install the data with `bash scripts/install-data.sh`; nothing here downloads.
 */
export * from './types';
export { dataDir, packageDir, systemDir, missingDataError, INSTALL_DATA_HINT } from './paths';
export * from './gutenberg';
export * from './imdb';
export * from './subwords';
export * from './idx';
export * from './mnist';
export * from './listops';
export * from './retrieval';
export * from './wad';
export * from './midi';
export * from './batching';
