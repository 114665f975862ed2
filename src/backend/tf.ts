/**
 * The single place rpelab imports TensorFlow.js from. Every other module does
 * `import { tf } from '../backend'` so that the backend choice (see `select.ts`)
 * and the wasm kernel fallbacks (see `wasm-fallbacks.ts`) apply to all of them.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
export type Tensor = tf.Tensor;
export type Rank = tf.Rank;
