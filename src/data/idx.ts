/**
 * The IDX file format of MNIST and Fashion-MNIST (LeCun et al.): a 4-byte magic number
 * `0x00 0x00 <type> <ndims>`, then `ndims` big-endian uint32 dimension sizes, then the data in
 * row-major order. Only type 0x08 (unsigned byte) is used by these datasets and supported here.
 * Gzipped files (magic 0x1f 0x8b) are inflated first.
 */
import * as zlib from 'zlib';

/** A parsed IDX array: `data` holds prod(dims) unsigned bytes in row-major order. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX (or gzipped IDX) buffer, checking the magic number, the type, the rank when
 * `expectRank` is given, and that the data is exactly prod(dims) bytes long (a truncated or
 * over-long file is an Error).
 * @param source a name for the buffer in error messages (usually the file path).
 */
export function parseIdx(buf: Uint8Array, source: string, expectRank?: number): IdxArray {
  let b = buf;
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      const g = zlib.gunzipSync(b);
      b = new Uint8Array(g.buffer, g.byteOffset, g.byteLength);
    } catch (e) {
      throw new Error(`idx: ${source}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  if (b.length < 4) throw new Error(`idx: ${source}: truncated file (${b.length} bytes, expected at least a 4-byte magic number)`);
  if (b[0] !== 0 || b[1] !== 0) {
    const hex = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join('');
    throw new Error(`idx: ${source}: bad magic number 0x${hex} (expected 0x0000<type><ndims>)`);
  }
  if (b[2] !== 0x08) throw new Error(`idx: ${source}: unsupported element type 0x${b[2].toString(16)} (only 0x08, unsigned byte)`);
  const rank = b[3];
  if (rank === 0) throw new Error(`idx: ${source}: bad magic number: rank 0`);
  if (expectRank !== undefined && rank !== expectRank) {
    throw new Error(`idx: ${source}: expected a rank-${expectRank} array (magic 0x0000080${expectRank}), got rank ${rank}`);
  }
  const headerBytes = 4 + 4 * rank;
  if (b.length < headerBytes) throw new Error(`idx: ${source}: truncated header (${b.length} bytes, expected ${headerBytes})`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, d) => a * d, 1);
  const have = b.length - headerBytes;
  if (have < size) throw new Error(`idx: ${source}: truncated data: dims [${dims.join(', ')}] need ${size} bytes, file has ${have}`);
  if (have > size) throw new Error(`idx: ${source}: ${have - size} unexpected trailing bytes after dims [${dims.join(', ')}]`);
  return { dims, data: b.subarray(headerBytes) };
}

/** Builds an unsigned-byte IDX buffer (the inverse of `parseIdx`; used to write fixtures). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const size = dims.reduce((a, d) => a * d, 1);
  if (data.length !== size) throw new Error(`data: expected ${size} bytes for dims [${dims.join(', ')}], got ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
