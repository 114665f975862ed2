/**
 * Classification losses on logits, shared by models (training losses) and train/metrics
 * (evaluation measures).
 */
import { tf, assertSameShape } from '../backend';
import { fusedSoftmaxNll, hasFusedSoftmaxNll } from './cross-entropy-kernels';

/** Throws unless `targets` is int32 with the shape of `logits` minus its class axis. */
export function checkTargets(logits: tf.Tensor, targets: tf.Tensor, name: string): void {
  if (targets.dtype !== 'int32') throw new Error(`${name}: expected an int32 tensor, got dtype ${targets.dtype}`);
  const lead = logits.shape.slice(0, -1);
  if (logits.rank < 1 || targets.rank !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`${name}: expected shape [${lead.join(', ')}] (logits without the class axis), got [${targets.shape.join(', ')}]`);
  }
}

/** Mean of `x`, or its mean over positions where the 0/1 `mask` (same shape) is 1. */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor | undefined, name: string): tf.Scalar {
  return tf.tidy(() => {
    if (!mask) return x.mean() as tf.Scalar;
    assertSameShape(x, mask, 'values', name);
    const m = mask.toFloat();
    return x.mul(m).sum().div(m.sum()) as tf.Scalar;
  });
}

/**
 * Per-token negative log-likelihood in nats, the formula: −Σ_j onehot(t)_j · logsoftmax(z)_j.
 * logits: [..., V] float32; targets: int32 [...] (the leading shape of logits) -> [...].
 */
export function tokenNllReference(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  checkTargets(logits, targets, 'targets');
  return tf.tidy(() => {
    const v = logits.shape[logits.rank - 1];
    const logp = tf.logSoftmax(logits, -1);
    return logp.mul(tf.oneHot(targets.flatten(), v).reshape(logp.shape)).sum(-1).neg();
  });
}

/**
 * Per-token negative log-likelihood in nats: `tokenNllReference`, computed by one fused kernel
 * each way where it runs (wasm, cpu: `cross-entropy-kernels.ts`), by the formula elsewhere.
 * logits: [..., V] float32; targets: int32 [...] (the leading shape of logits) -> [...].
 */
export function tokenNll(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  checkTargets(logits, targets, 'targets');
  if (logits.dtype !== 'float32' || logits.rank < 1 || !hasFusedSoftmaxNll()) return tokenNllReference(logits, targets);
  return tf.tidy(() => {
    const v = logits.shape[logits.rank - 1];
    return fusedSoftmaxNll(logits.reshape([-1, v]) as tf.Tensor2D, targets.flatten() as tf.Tensor1D).reshape(targets.shape);
  });
}

/**
 * Mean cross-entropy (nats) as a training loss.
 * logits: [..., V]; targets: int32 [...]; mask: [...] of 0/1 (1 = counted), optional.
 */
export function crossEntropy(logits: tf.Tensor, targets: tf.Tensor, mask?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => maskedMean(tokenNll(logits, targets), mask, 'mask'));
}
