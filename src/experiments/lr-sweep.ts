/**
 * Learning-rate sweeps: the peak learning rate chosen per task family from a small documented
 * sweep, not one value for all. `rpelab sweep-lr <experiments> --lrs 3e-3,1e-2,3e-2` trains each
 * chosen row at each rate (the `lr` override: results under `<scale>+lr=<rate>`), then this module
 * reads them back and picks, per task family (the experiment's task kind), the rate with the best
 * mean rank over the family's rows on the validation metric. The test metric is never looked at.
 * Tied values share their mean rank; a diverged run ranks after every finished one; a row with no
 * finished run does not vote, nor does a classification row at chance at every rate (its best
 * rate less than CHANCE_MARGIN points above chance: its differences are noise).
 */
import { collectReport } from './report';
import { chanceAccuracy, CHANCE_MARGIN } from './claims';
import { scaleDirName } from './plan';
import type { ExperimentDefinition, MetricDefinition, ScaleName } from './types';

/** One row of one experiment at one learning rate: its validation value (mean over seeds) or why none. */
export interface SweepCell {
  lr: number;
  value: number | null;
  /** Seeds that finished / diverged. */
  n: number;
  diverged: number;
}

export interface SweepRow {
  experiment: string;
  family: string;
  variant: string;
  metric: string;
  better: 'higher' | 'lower';
  cells: SweepCell[];
  /** Chance accuracy (%) of a classification experiment; the row votes only when some rate beats it by CHANCE_MARGIN. */
  chance?: number;
}

export interface SweepChoice {
  family: string;
  /** Chosen peak learning rate (null when no row of the family has a finished run). */
  lr: number | null;
  /** Mean rank of each rate over the family's voting rows (1 = best). */
  meanRank: Record<string, number>;
  rows: number;
  /** Rows left out because they were at chance at every rate. */
  atChance: number;
}

/** The validation metric a sweep compares: the experiment's first metric named val_*. */
export function sweepMetric(def: ExperimentDefinition): MetricDefinition {
  const m = def.metrics.find((x) => x.name.startsWith('val_'));
  if (!m) throw new Error(`${def.name}: no validation metric (val_*) to choose a learning rate on; metrics are ${def.metrics.map((x) => x.name).join(', ')}`);
  return m;
}

/** Checks and sorts the rates of `--lrs`. */
export function checkRates(lrs: number[]): number[] {
  if (!Array.isArray(lrs) || lrs.length < 2) throw new Error(`lrs: expected at least two learning rates, got ${JSON.stringify(lrs)}`);
  for (const lr of lrs) if (!(Number.isFinite(lr) && lr > 0 && lr < 1)) throw new Error(`lrs: expected learning rates in (0, 1), got ${lr}`);
  if (new Set(lrs).size !== lrs.length) throw new Error(`lrs: expected distinct learning rates, got ${lrs.join(', ')}`);
  return [...lrs].sort((a, b) => a - b);
}

/** The sweep's rows as found under `resultsDir` (every rate's `<scale>+lr=<rate>` directory). */
export function collectSweep(defs: ExperimentDefinition[], scale: ScaleName, lrs: number[], opts: { resultsDir?: string; only?: string[] } = {}): SweepRow[] {
  const rates = checkRates(lrs);
  const rows: SweepRow[] = [];
  for (const def of defs) {
    const metric = sweepMetric(def);
    const reports = rates.map((lr) => collectReport(def, scaleDirName(scale, { lr }), { resultsDir: opts.resultsDir }));
    const chance = chanceAccuracy(def.name);
    for (const variant of Object.keys(def.variants)) {
      if (opts.only && !opts.only.includes(variant)) continue;
      rows.push({
        experiment: def.name,
        family: def.task,
        variant,
        metric: metric.name,
        better: metric.better,
        ...(chance !== undefined && metric.better === 'higher' ? { chance } : {}),
        cells: rates.map((lr, i) => {
          const cell = reports[i].rows.find((r) => r.variant === variant)!.cells[metric.name];
          return { lr, value: cell.n - cell.unfinished > 0 ? cell.mean : null, n: cell.n - cell.unfinished, diverged: cell.diverged };
        }),
      });
    }
  }
  return rows;
}

/** Is the row at chance at every rate (a classification row whose best finished value is below chance + CHANCE_MARGIN)? */
export function atChance(row: SweepRow): boolean {
  if (row.chance === undefined) return false;
  const values = row.cells.filter((c) => c.value !== null).map((c) => c.value!);
  return values.length > 0 && Math.max(...values) < row.chance + CHANCE_MARGIN;
}

/**
 * Ranks of the rates within one row (1 = best): finished runs by value, then diverged, then
 * missing; equal values (and the diverged, and the missing) share their mean rank. Null when the
 * row does not vote: no finished run, or at chance at every rate.
 */
export function rowRanks(row: SweepRow): number[] | null {
  if (row.cells.every((c) => c.value === null) || atChance(row)) return null;
  const key = (c: SweepCell) => (c.value !== null ? (row.better === 'higher' ? -c.value : c.value) : c.diverged > 0 ? Infinity : NaN);
  const keys = row.cells.map(key);
  const order = keys
    .map((k, i) => ({ i, k }))
    .sort((a, b) => (Number.isNaN(a.k) ? (Number.isNaN(b.k) ? 0 : 1) : Number.isNaN(b.k) ? -1 : a.k === b.k ? 0 : a.k < b.k ? -1 : 1));
  const ranks = new Array<number>(keys.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    const same = (x: number, y: number) => x === y || (Number.isNaN(x) && Number.isNaN(y));
    while (end < order.length && same(order[end].k, order[start].k)) end++;
    const mean = (start + 1 + end) / 2; // positions start+1 .. end share their mean
    for (let j = start; j < end; j++) ranks[order[j].i] = mean;
    start = end;
  }
  return ranks;
}

/** Per task family, the rate with the best mean rank over its voting rows (ties: the smaller rate). */
export function chooseRates(rows: SweepRow[]): SweepChoice[] {
  const families = [...new Set(rows.map((r) => r.family))];
  return families.map((family) => {
    const mine = rows.filter((r) => r.family === family);
    const rates = mine[0].cells.map((c) => c.lr);
    const chance = mine.filter(atChance).length;
    const votes = mine.map(rowRanks).filter((r): r is number[] => r !== null);
    const meanRank: Record<string, number> = {};
    if (votes.length === 0) return { family, lr: null, meanRank, rows: 0, atChance: chance };
    rates.forEach((lr, i) => (meanRank[String(lr)] = votes.reduce((a, r) => a + r[i], 0) / votes.length));
    let best = 0;
    rates.forEach((lr, i) => {
      if (meanRank[String(lr)] < meanRank[String(rates[best])]) best = i;
    });
    return { family, lr: rates[best], meanRank, rows: votes.length, atChance: chance };
  });
}

/** The sweep as a text table: one line per row, one column per rate, then the choice per family. */
export function formatSweep(rows: SweepRow[], choices: SweepChoice[]): string {
  if (rows.length === 0) return '(no rows)';
  const rates = rows[0].cells.map((c) => c.lr);
  const head = ['experiment / row', 'metric', ...rates.map((lr) => `lr ${lr}`)];
  const body = rows.map((r) => [
    `${r.experiment}/${r.variant}`,
    `${r.metric} (${r.better})`,
    ...r.cells.map((c) => (c.value !== null ? `${c.value.toPrecision(4)}${c.n > 1 ? ` (n=${c.n})` : ''}` : c.diverged > 0 ? `diverged (${c.diverged})` : '—')),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i])).join('  ');
  const out = [line(head), ...body.map(line), ''];
  const chanceNote = (c: SweepChoice) => (c.atChance > 0 ? `; ${c.atChance} row(s) at chance at every rate do not vote` : '');
  for (const c of choices)
    out.push(
      c.lr === null
        ? c.atChance > 0
          ? `${c.family}: no choice: every row is at chance at every rate (${c.atChance} row(s)); the rate cannot be chosen at this scale`
          : `${c.family}: no finished run`
        : `${c.family}: lr ${c.lr} (mean rank over ${c.rows} row(s): ${Object.entries(c.meanRank)
            .map(([lr, r]) => `${lr} -> ${r.toFixed(2)}`)
            .join(', ')}${chanceNote(c)})`,
    );
  return out.join('\n');
}
