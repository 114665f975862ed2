/**
 * A small seedable pseudo-random generator (xoshiro128**, seeded by splitmix32).
 *
 * rpelab draws every random number it needs (SPE noise, FAVOR+ projections,
 * Householder vectors, permutations, data order) from an `Rng`, so that a run
 * repeats exactly, draws are identical on every backend, and the generator's
 * state can be saved in a checkpoint and restored.
 */
import { assertInt } from './checks';
import { nativeKernels } from './native';

/** Serializable generator state (four 32-bit words plus a cached normal draw). */
export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Fewest draws `fillNormal` hands to the native kernels (below, a call costs more than it saves). */
const NATIVE_MIN_DRAWS = 64;

export class Rng {
  private s: Uint32Array = new Uint32Array(4);
  private spare: number | null = null;

  /** @param seed an integer in [0, 2^32); the same seed gives the same stream. */
  constructor(seed: number = 0) {
    assertInt(seed, 'seed', 0, 0xffffffff);
    const sm = splitmix32(seed);
    for (let i = 0; i < 4; i++) this.s[i] = sm();
  }

  /** A new independent generator derived from this one's seed stream and a label. */
  fork(label: string | number): Rng {
    const r = new Rng(0);
    const sm = splitmix32((this.nextUint32() ^ hashString(String(label))) >>> 0);
    for (let i = 0; i < 4; i++) r.s[i] = sm();
    return r;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    assertInt(n, 'n', 1);
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal draw (Box–Muller, pairs cached). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** `n` standard normal draws, scaled by `std` and shifted by `mean`. */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    this.fillNormal(out);
    if (mean !== 0 || std !== 1) for (let i = 0; i < n; i++) out[i] = mean + std * out[i];
    return out;
  }

  /**
   * Writes the next `end − start` standard normal draws to `out[start..end)`: exactly the values
   * (and the final generator state) of as many `normal()` calls, with the generator's state in
   * local variables (several times faster for the millions of draws of an SPE noise field).
   * With rpelab's native kernels loaded, whole pairs are drawn there (`native/src/normal.c`): the
   * same generator and arithmetic, with the C library's log, cos and sin instead of V8's, which
   * could differ in a double's last bit (none of 20 million draws differed in float32; tested).
   */
  fillNormal(out: Float32Array, start = 0, end = out.length): void {
    let i = start;
    if (i < end && this.spare !== null) {
      out[i++] = this.spare;
      this.spare = null;
    }
    if (i >= end) return;
    // With rpelab's native kernels, the whole pairs are drawn there (same generator and formula).
    const native = end - i >= NATIVE_MIN_DRAWS ? nativeKernels() : null;
    if (native) {
      const pairs = (end - i) >> 1;
      native.normalPairs(this.s, out.subarray(i, i + 2 * pairs), pairs);
      i += 2 * pairs;
      if (i >= end) return;
    }
    const st = this.s;
    let s0 = st[0] | 0,
      s1 = st[1] | 0,
      s2 = st[2] | 0,
      s3 = st[3] | 0;
    let spare: number | null = null;
    while (i < end) {
      let u = 0;
      let v = 0;
      for (let k = 0; k < 2; k++) {
        // u (redrawn while 0), then v: two nextUint32 steps
        let x: number;
        do {
          const m = Math.imul(s1, 5);
          x = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
          const t = s1 << 9;
          s2 ^= s0;
          s3 ^= s1;
          s1 ^= s2;
          s0 ^= s3;
          s2 ^= t;
          s3 = (s3 << 11) | (s3 >>> 21);
        } while (k === 0 && x === 0);
        if (k === 0) u = x / 4294967296;
        else v = x / 4294967296;
      }
      const r = Math.sqrt(-2 * Math.log(u));
      const a = 2 * Math.PI * v;
      out[i++] = r * Math.cos(a);
      if (i < end) out[i++] = r * Math.sin(a);
      else spare = r * Math.sin(a);
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
    this.spare = spare;
  }

  /** Advances the generator exactly as `n` calls of `normal()` would, without computing them. */
  skipNormals(n: number): void {
    assertInt(n, 'n', 0);
    if (n > 0 && this.spare !== null) {
      this.spare = null;
      n--;
    }
    for (; n >= 2; n -= 2) {
      while (this.nextUint32() === 0);
      this.nextUint32();
    }
    if (n === 1) this.fillNormal(new Float32Array(1)); // leaves the pair's second draw as the spare
  }

  /** `n` uniform draws in [lo, hi). */
  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    assertInt(n, 'n', 0);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  getState(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }

  setState(state: RngState): void {
    if (!state || !Array.isArray(state.s) || state.s.length !== 4) {
      throw new Error(`state: expected {s: [4 uint32], spare}, got ${JSON.stringify(state)}`);
    }
    for (let i = 0; i < 4; i++) this.s[i] = state.s[i] >>> 0;
    this.spare = state.spare ?? null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
