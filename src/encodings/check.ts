/**
 * The argument check every q/k encoding starts with.
 */
import { tf, assertRank, assertDim, assertSameShape } from '../backend';

const LAYOUT = '[batch, length, heads, headDim]';

/**
 * Checks that q and k are both [batch, length, heads, headDim] with the encoding's headDim (and
 * numHeads, when it has per-head parameters) and the same shape; throws naming the argument.
 */
export function checkQK(q: tf.Tensor, k: tf.Tensor, headDim: number, numHeads?: number): void {
  assertRank(q, 4, 'q', LAYOUT);
  assertRank(k, 4, 'k', LAYOUT);
  if (numHeads !== undefined) assertDim(q, 2, numHeads, 'q', 'numHeads');
  assertDim(q, 3, headDim, 'q', 'headDim');
  assertSameShape(q, k, 'q', 'k');
}
