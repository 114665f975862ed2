import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { findTorchPython, TorchServer } from '../../bench/suites/vs-torch';

const MIRROR = path.join(__dirname, '..', '..', 'bench', 'torch', 'mirror.py');

/** A Python with torch here, or null (the tests that need one are skipped, and counted as skipped). */
function torchPython(): string | null {
  const saved = process.env.RPELAB_TORCH_PYTHON;
  delete process.env.RPELAB_TORCH_PYTHON;
  try {
    for (const p of ['/usr/bin/python3', 'python3']) if (spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return p;
    return null;
  } finally {
    if (saved !== undefined) process.env.RPELAB_TORCH_PYTHON = saved;
  }
}

describe('bench/vs-torch', () => {
  it('RPELAB_TORCH_PYTHON that cannot import torch is refused, naming the variable', () => {
    const saved = process.env.RPELAB_TORCH_PYTHON;
    process.env.RPELAB_TORCH_PYTHON = '/bin/false';
    try {
      assert.throws(() => findTorchPython(() => undefined), /RPELAB_TORCH_PYTHON: expected a Python that can 'import torch', got \/bin\/false/);
    } finally {
      if (saved === undefined) delete process.env.RPELAB_TORCH_PYTHON;
      else process.env.RPELAB_TORCH_PYTHON = saved;
    }
  });

  describe('the PyTorch mirror (needs python3-torch)', function () {
    this.timeout(120000);
    let python: string | null = null;
    before(function () {
      python = torchPython();
      if (!python) this.skip();
    });

    it("mirror.py's fast forms match the plain formulas (chunked causal sums, relative LRPE, permutation powers)", () => {
      const r = spawnSync(python!, [MIRROR, '--check'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'ok');
    });

    it('serves layers and training steps, times them, and reports errors without stopping', async () => {
      const server = new TorchServer(python!, 1);
      try {
        const info = await server.info();
        assert.match(info.torch, /^\d+\.\d+/);
        assert.equal(info.threads, 1);
        for (const encoding of ['none', 'lrpe-rotation', 'lrpe-permutation', 'lrpe-unitary', 'spe-sine', 'softmax']) {
          for (const causal of [false, true]) {
            await server.request({ op: 'layer', id: 'x', encoding, L: 70, causal });
            const t = await server.request<{ ms: number[] }>({ op: 'time', id: 'x', calls: 2 });
            assert.equal(t.ms.length, 2, encoding);
            assert.ok(
              t.ms.every((m) => m > 0 && Number.isFinite(m)),
              encoding,
            );
          }
        }
        const tr = await server.request<{ params: number }>({ op: 'train', id: 't', encoding: 'lrpe-unitary' });
        assert.ok(tr.params > 0);
        assert.equal((await server.request<{ ms: number[] }>({ op: 'time', id: 't', calls: 1 })).ms.length, 1);
        await assert.rejects(server.request({ op: 'time', id: 'missing' }), /torch: KeyError/);
        await assert.rejects(server.request({ op: 'fly' }), /torch: op: unknown operation 'fly'/);
        assert.equal((await server.info()).threads, 1); // still serving
      } finally {
        server.close();
      }
    });
  });
});
