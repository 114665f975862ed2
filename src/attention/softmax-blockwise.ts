/**
 * Softmax attention in O(L) memory: the blockwise online softmax of FlashAttention (Dao et al. 2022;
 * the loop order of FlashAttention-2), composed from tf ops. The same function as the quadratic
 * reference `softmaxAttention` (./softmax.ts), which the tests compare it with, values and gradients:
 *
 *   o_s = Σ_t softmax_t(scale · q_s·k_t + bias_st + mask_st) v_t
 *
 * Keys are taken `blockSize` at a time. For each key block every query keeps a running maximum m,
 * a running sum ℓ and an unnormalised output a:
 *
 *   S = scale · Q K_jᵀ + bias_j + mask_j,   m' = max(m, rowmax S),   P = exp(S − m'),
 *   ℓ ← e^(m − m') ℓ + rowsum P,   a ← e^(m − m') a + P V_j,   m ← m',     o = a / ℓ,
 *
 * so no more than [batch·heads, Lq, blockSize] scores exist at once. The backward pass recomputes
 * each block's P = exp(S − lse) from the saved log-sum-exp lse = m + log ℓ instead of storing it:
 * with δ = rowsum(dO ⊙ O), dV_j = Pᵀ dO, dS = P ⊙ (dO V_jᵀ − δ), dQ += scale · dS K_j,
 * dK_j = scale · dSᵀ Q, and the bias parameters receive Σ_batch dS through the bias's own gradient
 * (`BlockBias.grad`: no gradient tape runs inside a backward pass).
 *
 * Where the native kernels are built with OpenBLAS and there is no bias and no key mask, the whole
 * forward and backward pass is one native call each way instead (./softmax-flash.ts).
 *
 * Layout: q [batch, Lq, heads, D]; k [batch, Lk, heads, D]; v [batch, Lk, heads, Dv]; out [batch, Lq, heads, Dv].
 */
import { tf, assertRank, assertInt } from '../backend';
import { checkSoftmaxInputs } from './softmax';
import { nativeFlashApplies, nativeFlashAttention } from './softmax-flash';
import type { BiasEncoding } from '../encodings';

/** A relative bias computed block by block (never as a whole [heads, Lq, Lk] matrix). */
export interface BlockBias {
  /** The trainable tensors the bias depends on: they receive its gradient. */
  params: tf.Variable[];
  /**
   * Additive logits [heads, rows, cols] for the queries at positions q0 .. q0+rows−1 and the keys
   * at positions k0 .. k0+cols−1 (a differentiable function of `params`).
   */
  block(q0: number, rows: number, k0: number, cols: number): tf.Tensor3D;
  /** The gradients of `params` (in order) for an upstream gradient dBias [heads, rows, cols] of that block (no tape runs here). */
  grad(q0: number, rows: number, k0: number, cols: number, dBias: tf.Tensor3D): tf.Tensor[];
}

/** A `BiasEncoding` (relbias) as a `BlockBias`: its block at (q0, k0) is its bias with the queries offset by q0 − k0. */
export function blockBiasOf(enc: BiasEncoding): BlockBias {
  return {
    params: enc.trainableVariables(),
    block: (q0, rows, k0, cols) => enc.bias(rows, cols, { offset: q0 - k0 }),
    grad: (q0, _rows, k0, _cols, dBias) => enc.biasGradients(dBias, { offset: q0 - k0 }),
  };
}

export interface BlockwiseSoftmaxOptions {
  /** Query at position p attends only to keys at positions ≤ p (default false). */
  causal?: boolean;
  /** Relative bias added to the logits, computed per block. */
  bias?: BlockBias;
  /** 1 for the keys to attend to, 0 for padding, [batch, Lk] (default: all keys). */
  keyMask?: tf.Tensor2D;
  /** Logit scale (default 1/√D). */
  scale?: number;
  /** Position of the first query; keys are at 0 .. Lk−1 (default Lk − Lq: the queries are the last Lq positions). */
  offset?: number;
  /** Keys per block (default 256); any length works, the last block may be shorter. */
  blockSize?: number;
}

/** Keys per block unless the caller says otherwise. */
export const DEFAULT_SOFTMAX_BLOCK = 256;

/** Added to masked logits (as in ./softmax.ts): exp(−1e9 − max) is exactly 0 in float32. */
const MASKED = -1e9;

/**
 * Multi-head softmax attention, blockwise over keys, O(batch · heads · Lq · blockSize) memory in
 * the forward and the backward pass.
 * @param q [batch, Lq, heads, D]
 * @param k [batch, Lk, heads, D]
 * @param v [batch, Lk, heads, Dv]
 * @returns [batch, Lq, heads, Dv]
 */
export function blockwiseSoftmaxAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: BlockwiseSoftmaxOptions = {}): tf.Tensor4D {
  const { lk, causal, scale, offset } = checkSoftmaxInputs(q, k, v, opts);
  if (opts.blockSize !== undefined) assertInt(opts.blockSize, 'blockSize'); // the native kernel keeps its own blocks, but a bad value is refused alike
  if (nativeFlashApplies({ bias: opts.bias, keyMask: opts.keyMask, lk, causal, offset })) return nativeFlashAttention(q, k, v, { scale, causal, offset });
  return blockwiseSoftmaxAttentionOps(q, k, v, opts);
}

/** `blockwiseSoftmaxAttention` composed from tf ops, whatever the native kernels (the form with bias and key mask). Shapes as there. */
export function blockwiseSoftmaxAttentionOps(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, opts: BlockwiseSoftmaxOptions = {}): tf.Tensor4D {
  const { b, lq, lk, h, d, dv, causal, scale, offset } = checkSoftmaxInputs(q, k, v, opts);
  const blockSize = opts.blockSize ?? DEFAULT_SOFTMAX_BLOCK;
  assertInt(blockSize, 'blockSize');
  const keyMask = opts.keyMask;
  if (keyMask !== undefined) {
    assertRank(keyMask, 2, 'keyMask', '[batch, Lk]');
    if (keyMask.shape[0] !== b || keyMask.shape[1] !== lk) throw new Error(`keyMask: expected shape [${b}, ${lk}], got [${keyMask.shape.join(', ')}]`);
  }
  const bias = opts.bias;
  const params = bias?.params ?? [];
  const blocks: Array<[number, number]> = [];
  for (let k0 = 0; k0 < lk; k0 += blockSize) {
    const cols = Math.min(blockSize, lk - k0);
    if (causal && k0 > offset + lq - 1) break; // every query precedes this block (and the later ones)
    blocks.push([k0, cols]);
  }

  // The first query row that sees key k0 (causal: the rows before it are masked for this block and every later one).
  const firstRow = (k0: number) => (causal ? Math.min(lq, Math.max(0, k0 - offset)) : 0);

  // Per block: the logits S [b·h, rows, cols] of the query rows r0 .. lq−1 against the key block at k0.
  const logits = (qh: tf.Tensor3D, kh: tf.Tensor3D, r0: number, k0: number, cols: number): tf.Tensor3D =>
    tf.tidy(() => {
      const rows = lq - r0;
      const qr = r0 === 0 ? qh : qh.slice([0, r0, 0], [b * h, rows, d]);
      let s: tf.Tensor = tf.matMul(qr, kh.slice([0, k0, 0], [b * h, cols, d]), false, true).mul(scale);
      let add: tf.Tensor | null = null;
      if (bias) add = bias.block(offset + r0, rows, k0, cols).expandDims(0); // [1, h, rows, cols]
      if (keyMask) {
        const pad = tf
          .sub(1, keyMask.slice([0, k0], [b, cols]).toFloat())
          .mul(MASKED)
          .reshape([b, 1, 1, cols]);
        add = add ? add.add(pad) : pad;
      }
      if (causal && k0 + cols - 1 > offset + r0) {
        const mask = causalBlock(rows, offset + r0, k0, cols);
        add = add ? add.add(mask) : mask;
      }
      if (add)
        s = s
          .reshape([b, h, rows, cols])
          .add(add)
          .reshape([b * h, rows, cols]);
      return s as tf.Tensor3D;
    });

  // Rows r0 .. lq−1 of x [b·h, lq, n] replaced by y [b·h, lq − r0, n].
  const withTail = (x: tf.Tensor, r0: number, y: tf.Tensor) => (r0 === 0 ? y : tf.concat([x.slice([0, 0, 0], [b * h, r0, x.shape[2]!]), y], 1));
  const tail = (x: tf.Tensor, r0: number) => (r0 === 0 ? x : x.slice([0, r0, 0], [b * h, lq - r0, x.shape[2]!]));

  const heads = (x: tf.Tensor4D, len: number, dim: number) => x.transpose([0, 2, 1, 3]).reshape([b * h, len, dim]) as tf.Tensor3D;

  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [qi, ki, vi] = args as tf.Tensor4D[];
    const [out, lse] = tf.tidy(() => {
      const [qh, kh, vh] = [heads(qi, lq, d), heads(ki, lk, d), heads(vi, lk, dv)];
      let m: tf.Tensor = tf.fill([b * h, lq, 1], -Infinity);
      let l: tf.Tensor = tf.zeros([b * h, lq, 1]);
      let acc: tf.Tensor = tf.zeros([b * h, lq, dv]);
      for (const [k0, cols] of blocks) {
        const r0 = firstRow(k0);
        const next = tf.tidy(() => {
          const s = logits(qh, kh, r0, k0, cols);
          const [mt, lt, at] = [tail(m, r0), tail(l, r0), tail(acc, r0)];
          const mNew = tf.maximum(mt, s.max(2, true));
          const p = tf.exp(s.sub(mNew));
          const decay = tf.exp(mt.sub(mNew));
          const aNew = at.mul(decay).add(tf.matMul(p, vh.slice([0, k0, 0], [b * h, cols, dv])));
          return [withTail(m, r0, mNew), withTail(l, r0, lt.mul(decay).add(p.sum(2, true))), withTail(acc, r0, aNew)];
        });
        tf.dispose([m, l, acc]);
        [m, l, acc] = next;
      }
      return [acc.div(l), m.add(tf.log(l))];
    });
    save([qi, ki, vi, out, lse]);
    return {
      value: out.reshape([b, h, lq, dv]).transpose([0, 2, 1, 3]) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sq, sk, sv, so, sl] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor3D, tf.Tensor3D];
          const [qh, kh, vh] = [heads(sq, lq, d), heads(sk, lk, d), heads(sv, lk, dv)];
          const dO = heads(dy as tf.Tensor4D, lq, dv);
          const delta = dO.mul(so).sum(2, true); // [b·h, lq, 1]
          let dQ: tf.Tensor = tf.zerosLike(qh);
          const dKs: tf.Tensor[] = [];
          const dVs: tf.Tensor[] = [];
          const dParams: tf.Tensor[] = params.map((p) => tf.zerosLike(p));
          for (const [k0, cols] of blocks) {
            const r0 = firstRow(k0);
            const rows = lq - r0;
            const [dq, dk, dv2, ...dp] = tf.tidy(() => {
              const p = tf.exp(logits(qh, kh, r0, k0, cols).sub(tail(sl, r0))); // [b·h, rows, cols]
              const vj = vh.slice([0, k0, 0], [b * h, cols, dv]);
              const dOr = tail(dO, r0);
              const dS = p.mul(tf.matMul(dOr, vj, false, true).sub(tail(delta, r0)));
              const dqr = tf.matMul(dS, kh.slice([0, k0, 0], [b * h, cols, d])).mul(scale);
              const grads = [
                r0 === 0 ? dqr : tf.concat([tf.zeros([b * h, r0, d]), dqr], 1),
                tf.matMul(dS, tail(qh, r0), true, false).mul(scale),
                tf.matMul(p, dOr, true, false),
              ];
              if (bias && params.length > 0) {
                grads.push(...bias.grad(offset + r0, rows, k0, cols, dS.reshape([b, h, rows, cols]).sum(0) as tf.Tensor3D));
              }
              return grads;
            });
            const summed = dQ.add(dq);
            dQ.dispose();
            dq.dispose();
            dQ = summed;
            dKs.push(dk);
            dVs.push(dv2);
            dp.forEach((g, i) => {
              const s = dParams[i].add(g);
              tf.dispose([dParams[i], g]);
              dParams[i] = s;
            });
          }
          // Blocks past the last query of a causal call get no gradient (they were never read).
          const pad = (parts: tf.Tensor[], dim: number) => {
            const seen = parts.reduce((n, t) => n + t.shape[1]!, 0);
            const all = seen < lk ? [...parts, tf.zeros([b * h, lk - seen, dim])] : parts;
            return all.length === 1 ? all[0] : tf.concat(all, 1);
          };
          const back = (x: tf.Tensor, len: number, dim: number) => x.reshape([b, h, len, dim]).transpose([0, 2, 1, 3]);
          return [back(dQ, lq, d), back(pad(dKs, d), lk, d), back(pad(dVs, dv), lk, dv), ...dParams];
        }),
    };
  });
  return (op as unknown as (...xs: tf.Tensor[]) => tf.Tensor4D)(q, k, v, ...params);
}

/** [lq, cols] for queries at offset + i: 0 where key k0 + j ≤ offset + i, else −1e9. */
function causalBlock(lq: number, offset: number, k0: number, cols: number): tf.Tensor2D {
  const m = new Float32Array(lq * cols);
  for (let i = 0; i < lq; i++) for (let j = Math.max(0, offset + i + 1 - k0); j < cols; j++) m[i * cols + j] = MASKED;
  return tf.tensor2d(m, [lq, cols]);
}
