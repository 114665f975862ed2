/**
 * Shapes shared by the data modules. Every token array is a flat row-major Int32Array, ready for
 * `tf.tensor2d(tokens, [count, length], 'int32')`.
 */

/** Fixed-length token sequences with one class label each (LRA Text, Image, ListOps). */
export interface SequenceClassificationSet {
  /** Token ids, [count * length] (row-major [count, length]); rows shorter than `length` are right-padded. */
  tokens: Int32Array;
  /** Unpadded length of every row (<= length), [count]. */
  lengths: Int32Array;
  /** Class ids, [count]. */
  labels: Int32Array;
  count: number;
  length: number;
  /** Token ids are in [0, vocabSize). */
  vocabSize: number;
  /** Number of classes; labels are in [0, numClasses). */
  numClasses: number;
}
