import { strict as assert } from 'assert';
import { tf, Rng, useNative, nativeStatus, sinCos, nativeKernels, nativeThreads } from '../../src/backend';
import { copySlice, copyBox, reverseAxes, gatherRows } from '../../src/backend/fast-kernels';
import { assertClose, itOnKernelPaths, requireNative, requireBlasLibrary } from '../helpers';

/** Row-major flat index of `loc` in `shape`. */
const flat = (loc: number[], shape: readonly number[]) => loc.reduce((acc, l, i) => acc * shape[i] + l, 0);
const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The box [begin, begin + size) of a row-major array, element by element (the literal definition). */
function literalSlice(src: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const out: number[] = [];
  const loc = size.map(() => 0);
  for (let n = 0; n < sizeOf(size); n++) {
    out.push(
      src[
        flat(
          loc.map((l, i) => l + begin[i]),
          shape,
        )
      ],
    );
    for (let j = size.length - 1; j >= 0 && ++loc[j] === size[j]; j--) loc[j] = 0;
  }
  return out;
}

/** C[g] = op(A[g]) op(B[g]) in float64 from the definition Σ_k a_ik b_kj (batch 1 broadcasts). */
function literalMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): { values: number[]; shape: number[] } {
  const av = a.dataSync();
  const bv = b.dataSync();
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = ta ? [ca, ra] : [ra, ca];
  const n = tb ? rb : cb;
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  const batch = Math.max(batchA, batchB);
  const at = (g: number, i: number, p: number) => av[(batchA === 1 ? 0 : g) * ra * ca + (ta ? p * ca + i : i * ca + p)];
  const bt = (g: number, p: number, j: number) => bv[(batchB === 1 ? 0 : g) * rb * cb + (tb ? j * cb + p : p * cb + j)];
  const values: number[] = [];
  for (let g = 0; g < batch; g++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(g, i, p) * bt(g, p, j);
        values.push(s);
      }
    }
  }
  const lead = (a.rank >= b.rank ? a : b).shape.slice(0, -2);
  return { values, shape: [...lead, m, n] };
}

describe('fast kernels (batched/transposed matmul on XNNPACK, strided slices)', () => {
  const rnd = (rng: Rng, shape: number[]) => tf.tensor(rng.normalArray(sizeOf(shape)), shape);

  it('copySlice copies exactly the box of the literal index formula (ranks 1-6)', () => {
    const rng = new Rng(1);
    for (let trial = 0; trial < 60; trial++) {
      const rank = 1 + (trial % 6);
      // Long rows for low ranks, so both the per-element and the block copy of a run are exercised.
      const shape = Array.from({ length: rank }, () => 1 + rng.int(rank <= 2 ? 40 : 5));
      const begin = shape.map((d) => rng.int(d));
      const size = shape.map((d, i) => 1 + rng.int(d - begin[i]));
      const src = Float32Array.from({ length: sizeOf(shape) }, (_, i) => i);
      const dst = new Float32Array(sizeOf(size));
      copySlice(src, shape, begin, size, dst);
      assert.deepEqual(Array.from(dst), literalSlice(src, shape, begin, size), `shape ${shape} begin ${begin} size ${size}`);
    }
  });

  for (const native of [true, false]) {
    it(`copyBox puts the box of one array at any place of another, as the literal index formula (ranks 1-6, ${native ? 'native memcpy' : 'JavaScript runs'})`, function () {
      if (native && !nativeKernels()) this.skip();
      const was = useNative(native);
      try {
        const rng = new Rng(3);
        for (let trial = 0; trial < 60; trial++) {
          const rank = 1 + (trial % 6);
          const box = Array.from({ length: rank }, () => 1 + rng.int(rank <= 2 ? 30 : 4));
          const srcShape = box.map((d) => d + rng.int(3));
          const dstShape = box.map((d) => d + rng.int(3));
          const srcBegin = box.map((d, i) => rng.int(srcShape[i] - d + 1));
          const dstBegin = box.map((d, i) => rng.int(dstShape[i] - d + 1));
          const src = Float32Array.from({ length: sizeOf(srcShape) }, (_, i) => i + 1);
          const dst = new Float32Array(sizeOf(dstShape));
          copyBox(src, srcShape, srcBegin, dst, dstShape, dstBegin, box);
          const want = new Array<number>(dst.length).fill(0);
          const loc = box.map(() => 0);
          for (let n = 0; n < sizeOf(box); n++) {
            want[
              flat(
                loc.map((l, i) => l + dstBegin[i]),
                dstShape,
              )
            ] =
              src[
                flat(
                  loc.map((l, i) => l + srcBegin[i]),
                  srcShape,
                )
              ];
            for (let j = rank - 1; j >= 0 && ++loc[j] === box[j]; j--) loc[j] = 0;
          }
          assert.deepEqual(Array.from(dst), want, `box ${box} from ${srcShape}@${srcBegin} to ${dstShape}@${dstBegin}`);
        }
      } finally {
        useNative(was);
      }
    });
  }

  it('concat and stack (every axis; float32, int32 and bool) equal the literal layout', () => {
    tf.tidy(() => {
      const rng = new Rng(4);
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const make = (shape: number[]) =>
          tf.tensor(
            Array.from({ length: sizeOf(shape) }, () => (dtype === 'bool' ? rng.int(2) : rng.int(1000))),
            shape,
            dtype,
          );
        for (let axis = 0; axis <= 2; axis++) {
          // Three parts of [2, 3, 4] with 3, 1 and 5 along `axis`.
          const parts = [3, 1, 5].map((d) => make([2, 3, 4].map((n, i) => (i === axis ? d : n))));
          const joined = tf.concat(parts, axis);
          assert.equal(joined.dtype, dtype);
          const jv = joined.dataSync();
          let at = 0;
          parts.forEach((t) => {
            const tv = t.dataSync();
            const [, d1, d2] = t.shape as [number, number, number];
            for (let n = 0; n < t.size; n++) {
              const loc = [Math.floor(n / (d1 * d2)), Math.floor(n / d2) % d1, n % d2];
              loc[axis] += at;
              assert.equal(jv[flat(loc, joined.shape)], tv[n], `${dtype} concat axis ${axis}`);
            }
            at += t.shape[axis];
          });
        }
        const same = [make([3, 2, 5]), make([3, 2, 5])];
        for (let axis = 0; axis <= 3; axis++) {
          const stacked = tf.stack(same, axis);
          const sv = stacked.dataSync();
          same.forEach((t, c) => {
            const tv = t.dataSync();
            for (let n = 0; n < 30; n++) {
              const loc = [Math.floor(n / 10), Math.floor(n / 5) % 2, n % 5];
              loc.splice(axis, 0, c);
              assert.equal(sv[flat(loc, stacked.shape)], tv[n], `${dtype} stack axis ${axis}`);
            }
          });
        }
      }
    });
  });

  it('cast to the dtype a tensor has shares its buffer and keeps the values after the original is disposed; other casts convert', () => {
    const x = tf.tensor1d([1.5, -2.25, 3]);
    const y = tf.cast(x, 'float32');
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1.5, -2.25, 3]);
    const i = tf.cast(y, 'int32');
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(Array.from(i.dataSync()), [1, -2, 3]);
    tf.dispose([y, i]);
  });

  it('Slice, Unpack and SplitV of a rank-5 tensor equal the literal slices exactly', () => {
    tf.tidy(() => {
      const shape = [2, 5, 3, 4, 6];
      const x = rnd(new Rng(2), shape);
      const xv = x.dataSync();
      const s = x.slice([1, 1, 0, 1, 2], [1, 3, 3, 2, 3]);
      assert.deepEqual(Array.from(s.dataSync()), literalSlice(xv, shape, [1, 1, 0, 1, 2], [1, 3, 3, 2, 3]));
      tf.unstack(x, 2).forEach((t, c) => {
        assert.deepEqual(t.shape, [2, 5, 4, 6]);
        assert.deepEqual(Array.from(t.dataSync()), literalSlice(xv, shape, [0, 0, c, 0, 0], [2, 5, 1, 4, 6]));
      });
      const [p0, p1] = tf.split(x, [1, 3], 3);
      assert.deepEqual(Array.from(p0.dataSync()), literalSlice(xv, shape, [0, 0, 0, 0, 0], [2, 5, 3, 1, 6]));
      assert.deepEqual(Array.from(p1.dataSync()), literalSlice(xv, shape, [0, 0, 0, 1, 0], [2, 5, 3, 3, 6]));
      const ints = tf.range(0, 24, 1, 'int32').reshape([2, 3, 4]);
      assert.deepEqual(Array.from(ints.slice([0, 1, 1], [2, 2, 2]).dataSync()), [5, 6, 9, 10, 17, 18, 21, 22]);
    });
  });

  itOnKernelPaths('reverseAxes and gatherRows equal the literal index formulas (ranks 1-5, short and long runs)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 60; trial++) {
      const rank = 1 + (trial % 5);
      const shape = Array.from({ length: rank }, () => 1 + rng.int(rank <= 2 ? 40 : 5));
      const axes = shape.map((_, i) => i).filter(() => rng.int(2) === 1);
      const src = Float32Array.from({ length: sizeOf(shape) }, (_, i) => i);
      const dst = new Float32Array(src.length);
      reverseAxes(src, shape, axes, dst);
      const want: number[] = [];
      const loc = shape.map(() => 0);
      for (let n = 0; n < src.length; n++) {
        want.push(
          src[
            flat(
              loc.map((l, i) => (axes.includes(i) ? shape[i] - 1 - l : l)),
              shape,
            )
          ],
        );
        for (let j = rank - 1; j >= 0 && ++loc[j] === shape[j]; j--) loc[j] = 0;
      }
      assert.deepEqual(Array.from(dst), want, `shape ${shape} axes ${axes}`);
      const [outer, dim, inner] = [1 + rng.int(3), 1 + rng.int(6), 1 + rng.int(trial % 2 ? 1 : 30)];
      const x = Float32Array.from({ length: outer * dim * inner }, (_, i) => i);
      const ids = Int32Array.from({ length: 1 + rng.int(8) }, () => rng.int(dim));
      const got = new Float32Array(outer * ids.length * inner);
      gatherRows(x, outer, dim, inner, ids, got);
      const expect: number[] = [];
      for (let o = 0; o < outer; o++) for (const i of ids) for (let j = 0; j < inner; j++) expect.push(x[(o * dim + i) * inner + j]);
      assert.deepEqual(Array.from(got), expect, `gather [${outer}, ${dim}, ${inner}] ids ${ids}`);
      const ints = Int32Array.from(x, (v) => v - 7);
      const gotInts = new Int32Array(got.length);
      gatherRows(ints, outer, dim, inner, ids, gotInts);
      assert.deepEqual(
        Array.from(gotInts),
        expect.map((v) => v - 7),
        'int32 gather',
      );
    }
  });

  it('the native row gather refuses an id outside [0, dim) and arrays of the wrong size, naming them', function () {
    requireNative(this);
    const k = nativeKernels()!;
    const src = new Float32Array(12);
    assert.throws(() => k.gatherRows(src, Int32Array.from([0, 3]), new Float32Array(8), 1, 3, 4), /gatherRows: an id is outside \[0, dim\)/);
    assert.throws(() => k.gatherRows(src, Int32Array.from([0, 2]), new Float32Array(9), 1, 3, 4), /gatherRows: array sizes do not match/);
    assert.throws(() => k.scatterAddRows(src, Int32Array.from([0, 1, 2, 0, 1]), new Float32Array(4), 2), /scatterAddRows: array sizes do not match/);
  });

  it('tf.reverse and tf.gather give the literal results through the kernels, and an index out of range still throws', () => {
    tf.tidy(() => {
      const shape = [2, 5, 3, 4];
      const x = rnd(new Rng(6), shape);
      const xv = x.dataSync();
      const r = tf.reverse(x, [1, 3]).dataSync();
      const loc = [1, 2, 0, 3];
      assert.equal(r[flat(loc, shape)], xv[flat([1, 2, 0, 0], shape)]);
      assert.equal(r[flat([0, 0, 2, 1], shape)], xv[flat([0, 4, 2, 2], shape)]);
      const g = tf.gather(x, tf.tensor2d([4, 0, 2, 2], [2, 2], 'int32'), 1);
      assert.deepEqual(g.shape, [2, 2, 2, 3, 4]);
      assert.deepEqual(Array.from(g.slice([1, 1, 0], [1, 1, 1]).dataSync()), literalSlice(xv, shape, [1, 2, 0, 0], [1, 1, 3, 4]));
      const ints = tf.tensor1d([10, 11, 12], 'int32');
      assert.deepEqual(Array.from(tf.gather(ints, tf.tensor1d([2, 0], 'int32')).dataSync()), [12, 10]);
      assert.throws(() => tf.gather(x, tf.tensor1d([5], 'int32'), 1).dataSync(), /index value 5 is not in \[0, 4\]/);
    });
  });

  it('the native kernels are built and loaded when RPELAB_REQUIRE_NATIVE=1 (CI sets it; a failed build then fails too)', function () {
    if (process.env.RPELAB_REQUIRE_NATIVE !== '1') this.skip();
    const status = nativeStatus();
    assert.ok(status.active, `native kernels: ${status.detail}`);
  });

  for (const native of [true, false]) {
    it(`BatchMatMul equals Σ_k a_ik b_kj for batched, transposed and broadcast operands (${native ? 'native kernels' : 'tfjs/XNNPACK'})`, function () {
      if (native) requireNative(this);
      const was = useNative(native);
      try {
        const rng = new Rng(3);
        const cases: Array<[number[], number[], boolean, boolean]> = [
          [[5, 7], [7, 3], false, false],
          [[7, 5], [7, 3], true, false],
          [[5, 7], [3, 7], false, true],
          [[7, 5], [3, 7], true, true],
          [[4, 5, 7], [4, 7, 3], false, false],
          [[4, 7, 5], [4, 7, 3], true, false],
          [[4, 5, 7], [4, 3, 7], false, true],
          [[4, 7, 5], [4, 3, 7], true, true],
          [[4, 5, 7], [7, 3], false, false],
          [[4, 5, 7], [1, 7, 3], false, false],
          [[4, 7, 5], [1, 3, 7], true, true],
          [[5, 7], [4, 7, 3], false, false],
          [[2, 3, 5, 7], [2, 3, 3, 7], false, true],
          [[6, 33, 40], [6, 40, 17], false, false],
          // A thin a against a large fresh b: computed as (bᵀaᵀ)ᵀ (see cheaperFlipped).
          [[2, 300], [300, 400], false, false],
          [[300, 2], [300, 400], true, false],
          [[2, 300], [400, 300], false, true],
          [[300, 2], [400, 300], true, true],
          // Past the native kernel's blocks (rows 72, depth 256, columns 16) and their remainders.
          [[75, 520], [520, 37], false, false],
          [[520, 75], [37, 520], true, true],
          [[2, 150, 257], [2, 257, 33], false, false],
        ];
        for (const [sa, sb, ta, tb] of cases) {
          tf.tidy(() => {
            const a = rnd(rng, sa);
            const b = rnd(rng, sb);
            const want = literalMatMul(a, b, ta, tb);
            // Twice: the second product may take another path (a right operand seen before is kept packed).
            for (const call of ['first', 'second']) {
              const got = tf.matMul(a, b, ta, tb);
              assert.deepEqual(got.shape, want.shape, `${sa} x ${sb} (${ta}, ${tb})`);
              assertClose(got, want.values, 1e-4, 1e-5, `${sa} x ${sb} (${ta}, ${tb}), ${call} call`);
            }
          });
        }
      } finally {
        useNative(was);
      }
    });
  }

  it('native matMul: OpenBLAS and the builtin sgemm both equal the literal product (transposes, shared and batched operands, blocks of rows or columns on 1-3 threads)', function () {
    requireBlasLibrary(this);
    const k = nativeKernels()!;
    const rng = new Rng(11);
    // [batch, batchA, batchB, m, n, k]: past OpenBLAS's and the builtin's blocks, one thread's size limit
    // (one product above it is cut into blocks of rows, or of columns when n > m, edges off the 16-grid
    // on 3 threads), k = 0, empty.
    const shapes: number[][] = [
      [1, 1, 1, 5, 3, 7],
      [1, 1, 1, 300, 260, 513],
      [1, 1, 1, 40, 700, 300],
      [6, 6, 6, 33, 17, 40],
      [4, 1, 4, 64, 64, 700],
      [4, 4, 1, 70, 50, 300],
      [1, 1, 1, 4, 5, 0],
      [2, 2, 2, 0, 5, 3],
    ];
    try {
      for (const [batch, ba, bb, m, n, kk] of shapes)
        for (const ta of [0, 1] as const)
          for (const tb of [0, 1] as const) {
            const a = Float32Array.from({ length: ba * m * kk }, () => rng.normal());
            const b = Float32Array.from({ length: bb * kk * n }, () => rng.normal());
            const want = new Float64Array(batch * m * n);
            for (let g = 0; g < batch; g++)
              for (let i = 0; i < m; i++)
                for (let j = 0; j < n; j++) {
                  let acc = 0;
                  for (let p = 0; p < kk; p++) {
                    const av = a[(ba === 1 ? 0 : g) * m * kk + (ta ? p * m + i : i * kk + p)];
                    const bv = b[(bb === 1 ? 0 : g) * kk * n + (tb ? j * kk + p : p * n + j)];
                    acc += av * bv;
                  }
                  want[(g * m + i) * n + j] = acc;
                }
            for (const library of [1, 0] as const)
              for (const threads of [1, 2, 3]) {
                k.useBlasLibrary(library);
                k.setThreads(threads);
                const out = new Float32Array(batch * m * n).fill(NaN);
                k.matMul(a, b, out, batch, ba, bb, m, n, kk, ta, tb);
                const what = `${library ? k.blas() : 'builtin'}, ${threads} thread(s): [${batch}, ${m}, ${kk}] x [${kk}, ${n}] (batchA ${ba}, batchB ${bb}, transA ${ta}, transB ${tb})`;
                let worst = 0;
                for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - want[i]) / (1 + Math.abs(want[i])));
                assert.ok(worst < 1e-4, `${what}: largest relative error ${worst}`);
              }
          }
    } finally {
      k.useBlasLibrary(1);
      k.setThreads(nativeThreads());
    }
    assert.throws(() => k.useBlasLibrary(2 as 0), /useBlasLibrary: expected 0 or 1/);
  });

  it("native matMul with a bias (and ReLU): each block's bias gives the bits of the product followed by a bias pass, on either product, any threads", function () {
    requireBlasLibrary(this);
    const k = nativeKernels()!;
    const rng = new Rng(13);
    // [batch, m, n, k]: one product cut into blocks of rows (m >= n) or of columns (n > m) on 2 and 3
    // threads (edges off the 16-grid), one below a thread's size limit, a batch (the pass after the
    // products), k = 0 (the bias alone), empty.
    const shapes: number[][] = [
      [1, 300, 72, 256],
      [1, 40, 700, 300],
      [1, 5, 3, 7],
      [3, 70, 50, 40],
      [1, 9, 20, 0],
      [1, 0, 8, 4],
    ];
    try {
      for (const [batch, m, n, kk] of shapes)
        for (const tb of [0, 1] as const) {
          const a = Float32Array.from({ length: batch * m * kk }, () => rng.normal());
          const b = Float32Array.from({ length: kk * n }, () => rng.normal());
          const bias = Float32Array.from({ length: n }, () => rng.normal());
          for (const library of [1, 0] as const)
            for (const threads of [1, 2, 3]) {
              k.useBlasLibrary(library);
              k.setThreads(threads);
              const product = new Float32Array(batch * m * n).fill(NaN);
              k.matMul(a, b, product, batch, batch, 1, m, n, kk, 0, tb);
              for (const relu of [0, 1] as const) {
                // y + bias[j] in float32, then max(·, 0): the pass the fused kernel used to make after the product
                const want = product.map((y, i) => {
                  const v = Math.fround(y + bias[i % n]);
                  return relu && !(v > 0) ? 0 : v;
                });
                const got = new Float32Array(batch * m * n).fill(NaN);
                k.matMul(a, b, got, batch, batch, 1, m, n, kk, 0, tb, bias, relu);
                const what = `${library ? k.blas() : 'builtin'}, ${threads} thread(s): [${batch}, ${m}, ${kk}] x [${kk}, ${n}] transB ${tb} relu ${relu}`;
                const differ = got.findIndex((v, i) => !Object.is(v, want[i]));
                assert.equal(differ, -1, `${what}: element ${differ} is ${got[differ]}, want ${want[differ]}`);
              }
            }
        }
      assert.throws(
        () => k.matMul(new Float32Array(6), new Float32Array(6), new Float32Array(4), 1, 1, 1, 2, 2, 3, 0, 0, new Float32Array(1), 0),
        /matMul: bias must be a Float32Array of n values and relu 0 or 1/,
      );
      assert.throws(
        () => k.matMul(new Float32Array(6), new Float32Array(6), new Float32Array(4), 1, 1, 1, 2, 2, 3, 0, 0, new Float32Array(2), 2 as 1),
        /relu 0 or 1/,
      );
    } finally {
      k.useBlasLibrary(1);
      k.setThreads(nativeThreads());
    }
  });

  it("native matMul on rpelab's pool: calls back to back and after pauses around the threads' spin (0-400 µs) give the same bits every time", function () {
    const k = nativeKernels();
    if (!k) this.skip();
    const rng = new Rng(12);
    // Big enough to be cut into blocks on 2 or 3 threads; each block's bits do not depend on the thread.
    const [m, n, kk] = [600, 64, 128];
    const a = Float32Array.from({ length: m * kk }, () => rng.normal());
    const b = Float32Array.from({ length: kk * n }, () => rng.normal());
    const want = new Float32Array(m * n);
    const out = new Float32Array(m * n);
    try {
      for (const threads of [2, 3]) {
        k.setThreads(threads);
        k.matMul(a, b, want, 1, 1, 1, m, n, kk, 0, 0);
        for (let i = 0; i < 400; i++) {
          const pause = i % 2 === 0 ? 0 : (i % 9) * 50; // µs, below and above the 200 µs spin
          const t0 = performance.now();
          while (performance.now() - t0 < pause / 1000);
          out.fill(NaN);
          k.matMul(a, b, out, 1, 1, 1, m, n, kk, 0, 0);
          const bad = out.findIndex((x, j) => x !== want[j]);
          assert.equal(bad, -1, `${threads} threads, call ${i} after ${pause} µs: element ${bad} is ${out[bad]}, expected ${want[bad]}`);
        }
      }
    } finally {
      k.setThreads(nativeThreads());
    }
  });

  itOnKernelPaths('UnsortedSegmentSum (the gradient of gather) is one scatter-add equal to the literal sum per segment, ids dropped outside [0, n)', () => {
    const rng = new Rng(12);
    const cases: Array<[number[], number[], number]> = [
      [[7, 3], [7], 4],
      [[2, 5, 4], [2, 5], 3],
      [[6], [6], 9],
      [[300, 16], [300], 1000],
    ];
    for (const [xs, is, n] of cases) {
      tf.tidy(() => {
        const x = rnd(rng, xs);
        const ids = Int32Array.from({ length: is.reduce((a, b) => a * b, 1) }, (_, i) => (i % 5 === 4 ? -1 : rng.int(n)));
        const segs = tf.tensor(ids, is, 'int32');
        const got = tf.unsortedSegmentSum(x, segs as tf.Tensor1D, n);
        const inner = xs.slice(is.length).reduce((a, b) => a * b, 1);
        const want = new Float32Array(n * inner);
        const xv = x.dataSync();
        ids.forEach((s, i) => {
          if (s >= 0 && s < n) for (let j = 0; j < inner; j++) want[s * inner + j] += xv[i * inner + j];
        });
        assert.deepEqual(got.shape, [n, ...xs.slice(is.length)]);
        // The same float32 additions in the same order: the same bits.
        assertClose(got, want, 0, 0, `x [${xs}], ids [${is}], ${n} segments`);
      });
    }
    // The embedding gradient of a 4096-row table through gather (107 s before, on wasm's cpu-delegated kernel).
    tf.tidy(() => {
      const table = rnd(rng, [4096, 8]);
      const ids = tf.tensor1d(
        Int32Array.from({ length: 512 }, () => rng.int(4096)),
        'int32',
      );
      const g = tf.grad((t: tf.Tensor) => tf.gather(t, ids).sum())(table);
      const want = new Float32Array(4096 * 8);
      ids.dataSync().forEach((r) => {
        for (let j = 0; j < 8; j++) want[r * 8 + j] += 1;
      });
      assertClose(g, want, 0, 0, 'gather gradient counts each lookup');
    });
  });

  it("native depthwise convolution and both its gradients equal tfjs's kernels (1-D and 2-D filters; strided and padded cases fall back)", function () {
    requireNative(this);
    const cases: Array<[number[], number[], number, 'valid' | 'same']> = [
      [[2, 1, 40, 6], [1, 7, 6, 1], 1, 'valid'], // convSPE 1-D: one row per realization
      [[1, 9, 8, 4], [3, 2, 4, 1], 1, 'valid'], // convSPE 2-D
      [[1, 9, 8, 4], [3, 3, 4, 1], 2, 'valid'], // stride 2: tfjs's kernels
      [[1, 9, 8, 4], [3, 3, 4, 1], 1, 'same'], // padding: tfjs's kernels
    ];
    const rng = new Rng(8);
    for (const [xs, fs, stride, pad] of cases) {
      const x = rnd(rng, xs);
      const f = rnd(rng, fs);
      const run = (native: boolean) => {
        const was = useNative(native);
        try {
          const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
            tf
              .depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad)
              .square()
              .sum(),
          )([x, f]);
          const y = tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, stride, pad);
          return [y, value, ...grads];
        } finally {
          useNative(was);
        }
      };
      tf.tidy(() => {
        const want = run(false);
        const got = run(true);
        ['y', 'loss', 'dx', 'df'].forEach((name, i) => {
          assert.deepEqual(got[i].shape, want[i].shape);
          assertClose(got[i], want[i], 1e-4, 1e-4, `${name}: x [${xs}], f [${fs}], stride ${stride}, ${pad}`);
        });
      });
      tf.dispose([x, f]);
    }
  });

  it('matMul gradients equal dA = dY Bᵀ and dB = Aᵀ dY (batched)', () => {
    tf.tidy(() => {
      const rng = new Rng(4);
      const [a, b, dy] = [rnd(rng, [3, 6, 5]), rnd(rng, [3, 5, 4]), rnd(rng, [3, 6, 4])];
      const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y).mul(dy).sum())([a, b]);
      assertClose(da, literalMatMul(dy, b, false, true).values, 1e-5, 1e-5, 'dA');
      assertClose(db, literalMatMul(a, dy, true, false).values, 1e-5, 1e-5, 'dB');
    });
  });

  it('fused matMul with a bias (and ReLU) is one native kernel equal to the literal product plus the bias, gradients too; other activations keep their results', async function () {
    requireNative(this);
    const rng = new Rng(5);
    const [a, b, bias, dy] = [rnd(rng, [7, 5]), rnd(rng, [5, 4]), rnd(rng, [4]), rnd(rng, [7, 4])];
    const profile = await tf.profile(() => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias }));
    assert.ok(profile.kernelNames.includes('_FusedMatMul') && !profile.kernelNames.some((k) => k === 'Add' || k === 'BatchMatMul'), 'one kernel, no Add');
    tf.tidy(() => {
      const literal = literalMatMul(a, b, false, false).values.map((v, i) => v + bias.dataSync()[i % 4]);
      assertClose(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias }), literal, 1e-5, 1e-5, 'a·b + bias');
      const [da, db, dbias] = tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) =>
        tf.fused
          .matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: c })
          .mul(dy)
          .sum(),
      )([a, b, bias]);
      assertClose(da, literalMatMul(dy, b, false, true).values, 1e-5, 1e-5, 'dA');
      assertClose(db, literalMatMul(a, dy, true, false).values, 1e-5, 1e-5, 'dB');
      const dyv = dy.dataSync();
      assertClose(
        dbias,
        [0, 1, 2, 3].map((j) => Array.from({ length: 7 }, (_, i) => dyv[i * 4 + j]).reduce((x, v) => x + v, 0)),
        1e-5,
        1e-5,
        'dBias',
      );
      // A [1, n] bias (which tfjs's wasm kernel refuses: only rank 1), a transposed operand and ReLU: the same kernel; another activation: tfjs's kernel.
      assertClose(tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias: bias.reshape([1, 4]) }), literal, 1e-5, 1e-5, '[1, n] bias');
      assertClose(tf.fused.matMul({ a: a as tf.Tensor2D, b: b.transpose() as tf.Tensor2D, bias, transposeB: true }), literal, 1e-5, 1e-5, 'transposed b');
      assertClose(
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'relu' }),
        literal.map((v) => Math.max(v, 0)),
        1e-5,
        1e-5,
        'relu',
      );
      assertClose(
        tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, activation: 'elu' }),
        literal.map((v) => (v > 0 ? v : Math.expm1(v))),
        1e-5,
        1e-5,
        'elu (tfjs kernel)',
      );
    });
    tf.dispose([a, b, bias, dy]);
  });

  it('a right operand reused in another shape, or reassigned, gives fresh results', () => {
    const rng = new Rng(5);
    const v = tf.variable(rnd(rng, [2, 6, 4]));
    try {
      tf.tidy(() => {
        const a = rnd(rng, [2, 3, 6]);
        assertClose(tf.matMul(a, v), literalMatMul(a, v, false, false).values, 1e-5, 1e-5, 'first use');
        const v2 = v.reshape([4, 3, 4]);
        const a2 = rnd(rng, [4, 2, 3]);
        assertClose(tf.matMul(a2, v2), literalMatMul(a2, v2, false, false).values, 1e-5, 1e-5, 'reshaped');
        v.assign(rnd(rng, [2, 6, 4]));
        assertClose(tf.matMul(a, v), literalMatMul(a, v, false, false).values, 1e-5, 1e-5, 'after assign');
      });
    } finally {
      v.dispose();
    }
  });

  itOnKernelPaths('Sum over leading axes is the sequential float32 sum of the rows (bit-exact on wasm)', () => {
    tf.tidy(() => {
      const shape = [3, 4, 5];
      const x = rnd(new Rng(7), shape);
      const xv = x.dataSync();
      for (const [axes, keep] of [
        [[0], false],
        [[0, 1], true],
        [[1, 0], false],
      ] as Array<[number[], boolean]>) {
        const rows = axes.length === 1 ? 3 : 12;
        const cols = 60 / rows;
        const want = Array.from({ length: cols }, (_, j) => {
          let acc = 0;
          for (let i = 0; i < rows; i++) acc = Math.fround(acc + xv[i * cols + j]);
          return acc;
        });
        const got = x.sum(axes, keep);
        assert.deepEqual(got.shape, keep ? [1, 1, 5] : shape.slice(axes.length));
        if (tf.getBackend() === 'wasm') assert.deepEqual(Array.from(got.dataSync()), want, `axes ${axes}`);
        else assertClose(got.dataSync(), want, 1e-6, 1e-6, `axes ${axes}`);
      }
      // Other reductions are left to the backend's own kernel.
      assertClose(
        x.sum(2),
        tf.tensor(
          Array.from({ length: 12 }, (_, i) => [0, 1, 2, 3, 4].reduce((a, k) => a + xv[i * 5 + k], 0)),
          [3, 4],
        ),
        1e-5,
        1e-5,
      );
    });
  });

  itOnKernelPaths('sinCos equals Math.cos / Math.sin with the gradient of tf.cos / tf.sin, without leaks', (native) => {
    const r = new Rng(31);
    const xs = r.normalArray(40000).map((v) => v * 500); // > 2^14 elements: the native kernel splits them over its threads
    const x = tf.tensor2d(xs, [200, 200]);
    const w = tf.tensor2d(r.normalArray(40000), [200, 200]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const [c, s] = sinCos(x);
      assert.deepEqual(c.shape, [200, 200]);
      assertClose(c, xs.map(Math.cos), 2e-6, 0, `cos (${native ? 'native' : 'JavaScript'})`);
      assertClose(s, xs.map(Math.sin), 2e-6, 0, `sin (${native ? 'native' : 'JavaScript'})`);
      const loss = (f: (t: tf.Tensor) => [tf.Tensor, tf.Tensor]) => (t: tf.Tensor) => {
        const [cc, ss] = f(t);
        return cc.mul(w).add(ss.square()).sum();
      };
      const got = tf.grad(loss((t) => sinCos(t)))(x);
      const want = tf.grad(loss((t) => [tf.cos(t), tf.sin(t)]))(x);
      assertClose(got, want, 1e-4, 1e-4, `gradient (${native ? 'native' : 'JavaScript'})`);
    });
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, w]);
  });

  it('Identity (clone) and a transpose by the identity permutation keep the values after the original is disposed; other permutations transpose', () => {
    for (const op of [(t: tf.Tensor) => t.clone(), (t: tf.Tensor) => t.transpose([0, 1])]) {
      const x = rnd(new Rng(8), [4, 3]);
      const want = Array.from(x.dataSync());
      const y = op(x);
      x.dispose();
      assert.deepEqual(Array.from(y.dataSync()), want);
      y.dispose();
    }
    tf.tidy(() => {
      const x = rnd(new Rng(9), [2, 3]);
      const v = x.arraySync() as number[][];
      assert.deepEqual(
        x.transpose([1, 0]).arraySync(),
        [0, 1, 2].map((j) => [v[0][j], v[1][j]]),
      );
    });
  });

  itOnKernelPaths('tf.transpose equals the literal index formula for every permutation of ranks 1-6 (float32 and int32; tiles of 16 and their edges)', () => {
    const rng = new Rng(17);
    for (let trial = 0; trial < 120; trial++) {
      const rank = 1 + (trial % 6);
      const shape = Array.from({ length: rank }, () => (rng.int(8) === 0 ? 1 : 1 + rng.int(rank <= 2 ? 40 : 6)));
      const perm = Array.from(rng.permutation(rank));
      const n = sizeOf(shape);
      const dtype = trial % 3 === 0 ? 'int32' : 'float32';
      tf.tidy(() => {
        const x = tf.tensor(
          Float32Array.from({ length: n }, (_, i) => i),
          shape,
          dtype,
        );
        const got = x.transpose(perm);
        const outShape = perm.map((p) => shape[p]);
        assert.deepEqual(got.shape, outShape);
        assert.equal(got.dtype, dtype);
        const want: number[] = [];
        const idx = outShape.map(() => 0);
        for (let o = 0; o < n; o++) {
          const src = shape.map(() => 0);
          perm.forEach((p, k) => (src[p] = idx[k]));
          want.push(flat(src, shape));
          for (let k = rank - 1; k >= 0 && ++idx[k] === outShape[k]; k--) idx[k] = 0;
        }
        assert.deepEqual(Array.from(got.dataSync()), want, `shape [${shape}] perm [${perm}] ${dtype}`);
      });
    }
  });

  it('leaves no tensors and no backend buffers behind', () => {
    const rng = new Rng(6);
    const [a, b] = [rnd(rng, [4, 8, 8]), rnd(rng, [4, 8, 8])];
    const run = () =>
      tf
        .tidy(() => {
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, false, true).sum())([a, b]);
          tf.unstack(a.reshape([2, 2, 8, 8, 1]), 2);
          a.clone().sum([0, 1]);
          return g[0].add(g[1]).sum();
        })
        .dispose();
    run();
    const tensors = tf.memory().numTensors;
    const buffers = tf.backend().numDataIds();
    for (let i = 0; i < 3; i++) run();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(tf.backend().numDataIds(), buffers);
    tf.dispose([a, b]);
  });
});
