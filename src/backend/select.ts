/**
 * Choosing the compute backend.
 *
 * `RPELAB_BACKEND` (or the `choice` argument) is one of
 * - `auto` (default): tfjs-node (`tensorflow`) when `@tensorflow/tfjs-node-gpu` (CUDA) or
 *   `@tensorflow/tfjs-node` is installed, otherwise `wasm`, otherwise `cpu`;
 * - `tensorflow`: require one of them (an Error says how to install it if absent);
 * - `wasm`: the WebAssembly backend, with cpu-delegated fallbacks for the
 *   kernels it lacks (see `wasm-fallbacks.ts`);
 * - `cpu`: the pure-JavaScript backend.
 */
import { tf } from './tf';
import { assertOneOf } from './checks';
import { registerWasmFallbacks } from './wasm-fallbacks';
import { nativeStatus } from './native';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** What `initBackend` selected and why. */
export interface BackendInfo {
  /** The tfjs backend now active: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** What was asked for. */
  requested: BackendChoice;
  /** Kernels supplied to wasm by delegation to cpu (empty on other backends). */
  fallbackKernels: string[];
  /** Why a preferred backend was skipped under `auto`, if it was. */
  notes: string[];
  /**
   * Whether rpelab's native kernels (`native.ts`: matmul and fused kernels on wasm and cpu) are in
   * use, and where from or why not. Not used on tfjs-node, which has its own native kernels.
   */
  native: { active: boolean; detail: string };
}

let current: BackendInfo | null = null;

/** The native TensorFlow bindings rpelab looks for, in order: the CUDA build first. */
export const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Loads tfjs-node-gpu or tfjs-node, whichever the user installed; null on success, else why not. */
function tryLoadTfjsNode(): string | null {
  const why: string[] = [];
  for (const pkg of TFJS_NODE_PACKAGES) {
    // danfojs-node's dependency on tfjs-node is aliased to plain @tensorflow/tfjs (see package.json
    // "overrides"), so a resolvable package is only the real thing if its name says so.
    let name: string;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      name = require(`${pkg}/package.json`).name;
    } catch {
      why.push(`${pkg} is not installed`);
      continue;
    }
    if (name !== pkg) {
      why.push(`${pkg} resolves to ${name} (the npm alias rpelab installs for danfojs-node), not the native backend`);
      continue;
    }
    try {
      // Optional: never a dependency of rpelab; used when the user installed it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(pkg);
    } catch (e) {
      why.push(`${pkg} is not installed (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      why.push(`${pkg} loaded but registered its backend with another copy of @tensorflow/tfjs-core`);
      continue;
    }
    return null;
  }
  return why.join('; ');
}

/**
 * Selects and initialises the backend. Safe to call again (re-selects).
 * @param choice defaults to `process.env.RPELAB_BACKEND` or `auto`.
 */
export async function initBackend(choice?: string): Promise<BackendInfo> {
  const requested = assertOneOf(choice ?? process.env.RPELAB_BACKEND ?? 'auto', BACKEND_CHOICES, choice !== undefined ? 'choice' : 'RPELAB_BACKEND');
  const notes: string[] = [];
  const order: string[] = [];
  if (requested === 'auto' || requested === 'tensorflow') {
    const why = tryLoadTfjsNode();
    if (why === null) order.push('tensorflow');
    else if (requested === 'tensorflow') {
      throw new Error(
        `RPELAB_BACKEND: 'tensorflow' needs @tensorflow/tfjs-node@4.22.0 or, with CUDA, @tensorflow/tfjs-node-gpu@4.22.0 (npm install one of them); ${why}`,
      );
    } else notes.push(why);
  }
  if (requested === 'auto' || requested === 'wasm') order.push('wasm');
  if (requested === 'auto' || requested === 'cpu') order.push('cpu');

  for (const name of order) {
    let ok = false;
    try {
      ok = await tf.setBackend(name);
      await tf.ready();
    } catch (e) {
      notes.push(`${name} failed to initialise: ${(e as Error).message}`);
      ok = false;
    }
    if (ok && tf.getBackend() === name) {
      const fallbackKernels = name === 'wasm' ? registerWasmFallbacks() : []; // idempotent
      const native = name === 'tensorflow' ? { active: false, detail: 'not used on tfjs-node' } : nativeStatus();
      current = { name, requested, fallbackKernels, notes, native };
      return current;
    }
    if (requested !== 'auto') throw new Error(`RPELAB_BACKEND: backend '${name}' could not be initialised: ${notes.join('; ')}`);
  }
  throw new Error(`RPELAB_BACKEND: no backend could be initialised (${notes.join('; ')})`);
}

/** The selection made by the last `initBackend` call, or null before it. */
export function backendInfo(): BackendInfo | null {
  return current;
}
