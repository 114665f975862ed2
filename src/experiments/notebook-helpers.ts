/**
 * What the experiment notebooks (03–06) need from the results: a report whose missing runs are
 * trained first (`ensureReport`), and the learning curves of its runs (`logCurves`). Library code
 * never prints: progress goes to `onLine`, which a notebook points at `console.log`.
 */
import * as path from 'path';
import { formatDuration, readJsonl } from '../train';
import { runExperiments, METRICS_FILE } from './runner';
import { collectReport, type ExperimentReport } from './report';
import { getExperiment } from './registry';
import { defaultResultsDir } from './plan';

/**
 * The report of experiment `name` at `scale`. Runs that finished earlier are loaded from the
 * results directory, interrupted ones resume from their last checkpoint, missing ones are trained
 * now (the same runner as `rpelab run`).
 * @param opts.onLine one line per trained run and a last line with the counts (default: none)
 */
export async function ensureReport(
  name: string,
  scale: string,
  opts: { onLine?: (line: string) => void; resultsDir?: string } = {},
): Promise<ExperimentReport> {
  const say = opts.onLine ?? (() => undefined);
  const out = await runExperiments(
    { experiments: [name], scale, resultsDir: opts.resultsDir },
    {
      onEvent: (ev) => {
        if (ev.kind === 'run-end')
          say(`  [${ev.index + 1}/${ev.total}] ${ev.run.variant} seed ${ev.run.seed}: trained in ${formatDuration(ev.summary.trainSec + ev.summary.evalSec)}`);
      },
    },
  );
  say(`${name} at scale ${scale}: ${out.skipped.length} run(s) loaded from disk, ${out.finished.length} trained now (${formatDuration(out.wallSec)})`);
  return collectReport(getExperiment(name), scale, { resultsDir: opts.resultsDir });
}

/** One row's learning curve: the seed mean of a logged field by step. */
export interface LogCurve {
  variant: string;
  label: string;
  steps: number[];
  values: number[];
}

/**
 * Per row of `report`: the seed mean of `field` in the `kind` records ('train': loss; 'eval':
 * val_*) of each run's metrics.jsonl, by step (a resumed run that logged a step twice counts its
 * last record). Missing runs are left out; a row without records has empty steps.
 */
export function logCurves(report: ExperimentReport, kind: 'train' | 'eval', field: string, resultsDir = defaultResultsDir()): LogCurve[] {
  return report.rows.map((row) => {
    const byStep = new Map<number, number[]>();
    for (const run of row.runs) {
      if (run.status === 'missing') continue;
      const file = path.join(resultsDir, report.experiment, report.scale, row.variant, `seed-${run.seed}`, METRICS_FILE);
      const last = new Map<number, number>();
      for (const rec of readJsonl<Record<string, unknown>>(file).records) {
        if (rec.kind === kind && typeof rec.step === 'number' && typeof rec[field] === 'number') last.set(rec.step, rec[field] as number);
      }
      for (const [step, v] of last) {
        if (!byStep.has(step)) byStep.set(step, []);
        byStep.get(step)!.push(v);
      }
    }
    const steps = [...byStep.keys()].sort((a, b) => a - b);
    return { variant: row.variant, label: row.label, steps, values: steps.map((s) => byStep.get(s)!.reduce((a, b) => a + b, 0) / byStep.get(s)!.length) };
  });
}
