export { Adam, AdamW, decayMatrices, clipGradNorm, globalNorm, lossAndGrads } from './optim';
export type { Optimizer, OptimizerState, AdamOptions, AdamWOptions, NamedGrads } from './optim';
export { constantLr, rsqrtWarmup, cosineWarmup, inverseSqrt, polynomialDecay, makeSchedule } from './schedule';
export type { Schedule, ScheduleConfig } from './schedule';
export {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  checkpointName,
  writeCheckpoint,
  readCheckpoint,
  saveCheckpoint,
  restoreCheckpoint,
  loadWeights,
  modelWeights,
  listCheckpoints,
  latestCheckpoint,
  removeTemporaries,
  scanCheckpoints,
  CheckpointError,
} from './checkpoint';
export { differingKeys, describeDifference, canonicalJson } from './config-diff';
export type { CheckpointContents, Snapshot, CheckpointEntry } from './checkpoint';
export {
  JsonlWriter,
  readJsonl,
  repairJsonl,
  filterJsonl,
  tokenNll,
  crossEntropy,
  accuracy,
  meanNll,
  perplexity,
  bitsPerByte,
  nllByPosition,
  windowedMeans,
} from './metrics';
export { formatProgress, formatDuration, formatCount, formatLr, progressBar, Throughput } from './progress';
export type { ProgressEvent } from './progress';
export { train, DivergenceError } from './loop';
export type { TrainConfig, TrainResult, StepContext } from './loop';
export { toHost, fromHost } from './host';
export type { HostTensor, HostTensors, HostDType } from './host';
