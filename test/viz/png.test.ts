import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { toPng, findChromium, heatmap } from '../../src/viz';
import { assertThrowsNaming } from '../helpers';

function hasChromium(): boolean {
  try {
    findChromium();
    return true;
  } catch {
    return false;
  }
}

/** Width, height and mean brightness information from a PNG's IHDR (no decoder needed). */
function pngSize(file: string): { width: number; height: number } {
  const b = fs.readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(b.subarray(12, 16).toString('ascii'), 'IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('viz/png', () => {
  it('toPng renders a figure to a PNG of the layout size times the device scale (headless Chromium)', async function () {
    if (!hasChromium()) this.skip(); // bash scripts/setup-jupyter.sh --with-chromium
    this.timeout(120000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-png-test-'));
    try {
      const file = await toPng(
        heatmap(
          [
            [0, 1, 2],
            [2, 1, 0],
          ],
          { title: 'png' },
        ),
        path.join(dir, 'sub', 'fig.png'),
        { width: 320, height: 200, scale: 1 },
      );
      assert.deepEqual(pngSize(file), { width: 320, height: 200 });
      // A drawn plot is far from a blank page: a blank 320x200 PNG compresses to well under 1 kB.
      assert.ok(fs.statSync(file).size > 3000, `PNG is only ${fs.statSync(file).size} bytes`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('findChromium says how to install Chromium when it is absent', () => {
    assertThrowsNaming(() => findChromium('/nonexistent/chromium'), /chromium: no Chromium found \(tried \/nonexistent\/chromium\)/, /--with-chromium/);
  });
});
