/**
 * Mocha root hooks: selects the backend from RPELAB_BACKEND (default auto)
 * once before any test, and says which one runs.
 */
import { initBackend } from '../src/backend';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(60000);
    const info = await initBackend();
    // Tests may print; library code may not.
    console.log(
      `  [rpelab] backend: ${info.name} (requested ${info.requested}); native kernels: ${info.native.active ? info.native.detail : `off, ${info.native.detail}`}` +
        (info.fallbackKernels.length ? `; cpu-delegated kernels: ${info.fallbackKernels.join(', ')}` : ''),
    );
  },
};
