/**
 * Experiments: every table and figure of both papers as a named, resumable run
 * (definitions, registry, runner, report, PE-quality scores). The CLI (`src/cli.ts`) drives them.
 */
export * from './types';
export {
  registerExperiment,
  unregisterExperiment,
  getExperiment,
  listExperiments,
  experimentNames,
  validateDefinition,
  validateSettings,
  resolveSpec,
} from './registry';
export { planRuns, shardOf, remainingWork, requestedExperiments, defaultResultsDir, checkScale, checkSeeds, applyOverrides, scaleDirName } from './plan';
export type { RunRequest, RunPlan, RemainingWork } from './plan';
export {
  runExperiments,
  readSummary,
  runConfig,
  checkStoredConfigs,
  storedConfigDifference,
  SUMMARY_FILE,
  CONFIG_FILE,
  METRICS_FILE,
  CHECKPOINT_DIR,
} from './runner';
export type { RunInfo, RunSummary, RunnerEvent, RunnerOptions, RunnerOutcome } from './runner';
export { collectReport, formatReports, formatTable, formatCsv, formatCell, formatPaper, meanStd, REPORT_FORMATS } from './report';
export type { ExperimentReport, ReportRow, Cell, RunStatus, ReportFormat } from './report';
export { ensureReport, logCurves } from './notebook-helpers';
export type { LogCurve } from './notebook-helpers';
export { translationInvariance, monotonicity, countInversions, causalAttentionMaps, peQualityScores } from './pe-quality';
export type { AttentionMap } from './pe-quality';
export { buildTask } from './tasks';
export type { TaskInput, TaskRun, TaskResult } from './tasks';
export { clearDatasetCache, imageSequences } from './datasets';
export { SMOKE, QUICK, SMALL } from './scales';
export {
  CLAIMS,
  VERDICTS,
  CHANCE_MARGIN,
  claimRows,
  collectClaims,
  judgeComparison,
  combineVerdicts,
  validateClaims,
  claimExperiments,
  formatLedger,
} from './claims';
export type { ClaimDefinition, Comparison, ComparisonResult, ClaimResult, Ledger, Verdict, ExactCheck, ExactOutcome } from './claims';
export { tQuantile, pairedDifference, welchDifference, seedDifference, slopeInterval } from './stats';
export type { Interval } from './stats';
export { relativeDeviation, monteCarloConvergence, memoryExponent } from './exact-checks';
export type { MonteCarloResult, MemoryResult } from './exact-checks';
export { collectSweep, chooseRates, formatSweep, checkRates, sweepMetric } from './lr-sweep';
export type { SweepRow, SweepCell, SweepChoice } from './lr-sweep';
