export { tf } from './tf';
export type { Tensor, Rank } from './tf';
export { initBackend, backendInfo, BACKEND_CHOICES } from './select';
export type { BackendChoice, BackendInfo } from './select';
import { registerWasmFallbacks, guardWasmMatMulCache } from './wasm-fallbacks';

// Kernel registration touches no tensor, so it is done once at import: any code that
// switches to wasm (initBackend, tf.setBackend) finds the delegated kernels there.
registerWasmFallbacks();
guardWasmMatMulCache();
export { registerWasmFallbacks, guardWasmMatMulCache };
export { Rng } from './rng';
export type { RngState } from './rng';
export * from './checks';
export { matMul2d } from './ops';
