export { tf } from './tf';
export type { Tensor, Rank } from './tf';
export { initBackend, backendInfo, BACKEND_CHOICES } from './select';
export type { BackendChoice, BackendInfo } from './select';
import { registerWasmFallbacks, guardWasmMatMulCache } from './wasm-fallbacks';
import { registerFastKernels } from './fast-kernels';

// Kernel registration touches no tensor, so it is done once at import: any code that
// switches to wasm (initBackend, tf.setBackend) finds the delegated kernels there.
registerWasmFallbacks();
guardWasmMatMulCache();
// After the guard, which the fast BatchMatMul wraps: batched and transposed products on
// XNNPACK, strided slices as run copies (see fast-kernels.ts for the measurements).
registerFastKernels();
export { registerWasmFallbacks, guardWasmMatMulCache, registerFastKernels };
export { Rng } from './rng';
export type { RngState } from './rng';
export * from './checks';
export { matMul2d } from './ops';
export { sinCos } from './trig';
export { registerJsKernel, hasJsKernel, runJsKernel, fusedKernelPaysOff, heldValues, JS_KERNEL_BACKENDS } from './js-kernels';
export type { JsKernelSpec } from './js-kernels';
export { nativeKernels, nativeStatus, nativeThreads, useNative, NATIVE_ADDON_PATH } from './native';
export type { NativeKernels } from './native';
