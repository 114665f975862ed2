/**
 * The README's usage example runs as written: the "Ten lines" block is extracted, its
 * `from 'rpelab'` import pointed at the source, and run in a child process.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

describe('README', () => {
  it('the ten-line usage example runs as written', function () {
    this.timeout(120000);
    const root = path.resolve(__dirname, '..');
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const m = /## Ten lines\s+```ts\n([\s\S]*?)```/.exec(readme);
    assert.ok(m, 'README has a "Ten lines" ts block');
    const code = m![1];
    assert.ok(code.split('\n').filter((l) => l.trim() !== '').length <= 10, 'the example is at most ten lines');
    const src = path.join(root, 'src', 'index.ts').replace(/\\/g, '/');
    const body = code.replace("from 'rpelab'", `from '${src}'`);
    const [imports, ...rest] = body.split('\n');
    const script = `${imports}\n(async () => {\n${rest.join('\n')}\nconsole.log(JSON.stringify({ y: y.shape, o: o.shape, backend: tf.getBackend() }));\n})().catch((e) => { console.error(e); process.exit(1); });\n`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-readme-'));
    const file = path.join(dir, 'example.ts');
    fs.writeFileSync(file, script);
    let out: string;
    try {
      out = execFileSync(path.join(root, 'node_modules', '.bin', 'tsx'), [file], {
        cwd: root,
        env: { ...process.env },
        encoding: 'utf8',
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const last = JSON.parse(out.trim().split('\n').pop()!);
    assert.deepEqual(last.y, [2, 128, 64]);
    assert.deepEqual(last.o, [1, 32, 4, 16]);
    const requested = process.env.RPELAB_BACKEND;
    if (requested && requested !== 'auto') assert.equal(last.backend, requested);
    else assert.ok(['tensorflow', 'wasm', 'cpu'].includes(last.backend), `backend ${last.backend}`);
  });
});
