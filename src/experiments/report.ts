/**
 * Reports: the results on disk of an experiment at one scale, aggregated over seeds per variant
 * and metric (mean ± sample std, ddof = 1, as the SPE table), with the paper's number beside ours
 * where it is known ('—' otherwise), as plain data and as aligned text, CSV or JSON.
 *
 * A cell that includes a run which has not finished is marked '*': its value is the run's last
 * validation (test metrics exist only for finished runs). Plain data only; `viz/` renders the
 * JSON in notebooks.
 */
import * as fs from 'fs';
import * as path from 'path';
import { formatDuration, readJsonl } from '../train';
import type { ExperimentDefinition, MetricDefinition, PaperNumber } from './types';
import { defaultResultsDir } from './plan';
import { claimRows } from './claim-list';
import { readSummary, type RunSummary, CONFIG_FILE, METRICS_FILE } from './runner';

/**
 * One aggregated number over the seeds of a row. Every planned seed is accounted for: its value
 * is in the mean (`n`, of which `unfinished` come from runs still training), or its run diverged
 * (a non-finite loss during training or a non-finite final metric: counted, never averaged), or
 * it is missing (not started).
 */
export interface Cell {
  mean: number | null;
  /** Sample std (ddof = 1); null when fewer than 2 values. */
  std: number | null;
  /** Values aggregated. */
  n: number;
  /** Of those, values from runs that have not finished (their last validation). */
  unfinished: number;
  /** Runs that diverged, or finished with a non-finite value of this metric. */
  diverged: number;
  /** Seeds with no run on disk, or an unfinished run without a validation yet. */
  missing: number;
  /** Seeds of the report (n + diverged + missing). */
  planned: number;
}

export interface RunStatus {
  seed: number;
  status: 'finished' | 'diverged' | 'unfinished' | 'missing';
  /** Updates done (last record) and planned. */
  step: number | null;
  totalSteps: number | null;
  wallSec: number | null;
}

export interface ReportRow {
  variant: string;
  label: string;
  cells: Record<string, Cell>;
  /** Per metric, the value of each seed whose run finished with a finite value (what claims pair by seed). */
  values: Record<string, Record<number, number>>;
  paper: Record<string, PaperNumber | null>;
  runs: RunStatus[];
  /** A row no claim compares, planned with the scale's first `supportSeeds` seeds only (plus any run on disk). */
  support: boolean;
}

export interface ExperimentReport {
  experiment: string;
  paper: string;
  title: string;
  source: string;
  task: string;
  dataset: string;
  scale: string;
  /** Seeds seen on disk (or, when none, the scale's default seeds). */
  seeds: number[];
  runsFinished: number;
  runsTotal: number;
  /** Sum of the runs' training + evaluation time (s). */
  wallSec: number;
  metrics: MetricDefinition[];
  rows: ReportRow[];
  /** Per variant: mean curve over finished seeds (extrapolation: NLL by position). */
  curves: Record<string, Record<string, number[]>>;
  /** Per variant and curve: one curve per finished seed (for bands over seeds). */
  curveSeeds: Record<string, Record<string, number[][]>>;
  notes: string[];
}

/** Mean and sample standard deviation (ddof = 1; null below 2 values) of finite values; a non-finite one throws. */
export function meanStd(values: number[]): { mean: number | null; std: number | null } {
  const bad = values.find((v) => !Number.isFinite(v));
  if (bad !== undefined) throw new Error(`values: expected finite numbers (count a diverged run separately), got ${bad}`);
  if (values.length === 0) return { mean: null, std: null };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, std: null };
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, std: Math.sqrt(v) };
}

function seedsOnDisk(dir: string): number[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .map((d) => /^seed-(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
}

/** The last validation, step and time of an unfinished run, from its metrics log. */
function unfinishedState(dir: string): { metrics: Record<string, number>; step: number | null; totalSteps: number | null; wallSec: number | null } {
  const { records } = readJsonl(path.join(dir, METRICS_FILE));
  let metrics: Record<string, number> = {};
  let step: number | null = null;
  let totalSteps: number | null = null;
  let wallSec: number | null = null;
  for (const r of records) {
    if (typeof r.step === 'number') step = r.step;
    if (typeof r.elapsedSec === 'number') wallSec = r.elapsedSec;
    if (r.kind === 'start' && typeof r.totalSteps === 'number') totalSteps = r.totalSteps;
    if (r.kind === 'eval') {
      metrics = Object.fromEntries(Object.entries(r).filter(([k, v]) => typeof v === 'number' && !['step', 'elapsedSec'].includes(k))) as Record<
        string,
        number
      >;
    }
  }
  if (totalSteps === null && fs.existsSync(path.join(dir, CONFIG_FILE))) {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, CONFIG_FILE), 'utf8'));
    totalSteps = cfg?.settings?.steps ?? null;
  }
  return { metrics, step, totalSteps, wallSec };
}

/**
 * Aggregates the results of `def` at `scale` (a scale name, or a scale directory with overrides).
 * @param opts.resultsDir default `defaultResultsDir()`
 */
export function collectReport(def: ExperimentDefinition, scale: string, opts: { resultsDir?: string } = {}): ExperimentReport {
  const root = path.join(opts.resultsDir ?? defaultResultsDir(), def.name, scale);
  const variants = Object.keys(def.variants);
  const found = new Set<number>();
  for (const v of variants) seedsOnDisk(path.join(root, v)).forEach((s) => found.add(s));
  const baseScale = scale.split('+')[0] as keyof ExperimentDefinition['scales'];
  const seeds = found.size > 0 ? [...found].sort((a, b) => a - b) : (def.scales[baseScale]?.seeds ?? []);
  // Rows no claim compares are planned with the first `supportSeeds` seeds (plan.ts): their other
  // seeds are not missing, unless a run of them is on disk (`--seeds` ran them).
  const settings = def.scales[baseScale];
  const claimed = claimRows(def.name);
  const isSupport = (variant: string) => settings?.supportSeeds !== undefined && !claimed.has(variant);
  const rowSeeds = (variant: string) => {
    if (!isSupport(variant)) return seeds;
    const own = new Set([...settings!.seeds.slice(0, settings!.supportSeeds), ...seedsOnDisk(path.join(root, variant))]);
    return [...own].sort((a, b) => a - b);
  };
  let runsTotal = 0;

  let wallSec = 0;
  let runsFinished = 0;
  const curves: ExperimentReport['curves'] = {};
  const curveSeeds: ExperimentReport['curveSeeds'] = {};
  const rows: ReportRow[] = variants.map((variant) => {
    // Per metric and seed: a finite value (finished or unfinished run) or a divergence.
    const values: Record<string, Array<{ seed: number; v: number; unfinished: boolean }>> = {};
    const diverged: Record<string, number> = {};
    const runs: RunStatus[] = [];
    const curveRuns: Record<string, number[][]> = {};
    const planned = rowSeeds(variant);
    runsTotal += planned.length;
    for (const seed of planned) {
      const dir = path.join(root, variant, `seed-${seed}`);
      const summary: RunSummary | null = readSummary(dir);
      let metrics: Record<string, number | null> = {};
      if (summary?.status === 'diverged') {
        runs.push({ seed, status: 'diverged', step: summary.steps, totalSteps: null, wallSec: summary.trainSec });
        wallSec += summary.trainSec;
        for (const m of def.metrics) diverged[m.name] = (diverged[m.name] ?? 0) + 1;
        continue;
      }
      if (summary) {
        metrics = summary.metrics;
        runs.push({ seed, status: 'finished', step: summary.steps, totalSteps: summary.steps, wallSec: summary.trainSec + summary.evalSec });
        wallSec += summary.trainSec + summary.evalSec;
        runsFinished += 1;
        for (const [k, c] of Object.entries(summary.curves ?? {})) (curveRuns[k] ??= []).push(c);
      } else if (fs.existsSync(path.join(dir, METRICS_FILE))) {
        const u = unfinishedState(dir);
        metrics = u.metrics;
        runs.push({ seed, status: 'unfinished', step: u.step, totalSteps: u.totalSteps, wallSec: u.wallSec });
        wallSec += u.wallSec ?? 0;
      } else {
        runs.push({ seed, status: 'missing', step: null, totalSteps: null, wallSec: null });
        continue;
      }
      for (const m of def.metrics) {
        const v = metrics[m.name] as number | null | undefined;
        // A finished run whose metric is NaN / Infinity (stored as null) diverged at evaluation.
        if (summary && (v === null || (typeof v === 'number' && !Number.isFinite(v)))) diverged[m.name] = (diverged[m.name] ?? 0) + 1;
        else if (typeof v === 'number') (values[m.name] ??= []).push({ seed, v, unfinished: summary === null });
      }
    }
    const cells: Record<string, Cell> = {};
    const perSeed: ReportRow['values'] = {};
    const paper: Record<string, PaperNumber | null> = {};
    for (const m of def.metrics) {
      const vs = values[m.name] ?? [];
      const d = diverged[m.name] ?? 0;
      cells[m.name] = {
        ...meanStd(vs.map((x) => x.v)),
        n: vs.length,
        unfinished: vs.filter((x) => x.unfinished).length,
        diverged: d,
        missing: planned.length - vs.length - d,
        planned: planned.length,
      };
      perSeed[m.name] = Object.fromEntries(vs.filter((x) => !x.unfinished).map((x) => [x.seed, x.v]));
      paper[m.name] = def.paperNumbers?.[variant]?.[m.name] ?? null;
    }
    for (const [k, list] of Object.entries(curveRuns)) {
      const len = Math.min(...list.map((c) => c.length));
      (curves[variant] ??= {})[k] = Array.from({ length: len }, (_, i) => list.reduce((a, c) => a + c[i], 0) / list.length);
      (curveSeeds[variant] ??= {})[k] = list.map((c) => c.slice(0, len));
    }
    return { variant, label: def.variants[variant].label, cells, values: perSeed, paper, runs, support: isSupport(variant) };
  });

  return {
    experiment: def.name,
    paper: def.paper,
    title: def.title,
    source: def.source,
    task: def.task,
    dataset: def.dataset,
    scale,
    seeds,
    runsFinished,
    runsTotal,
    wallSec,
    metrics: def.metrics,
    rows,
    curves,
    curveSeeds,
    notes: def.notes ?? [],
  };
}

// ---------------------------------------------------------------------------------------------
// Formatting

/** Decimals for a value: 1 from 100, 2 from 1, else 3 significant digits. */
function decimals(x: number): number {
  const a = Math.abs(x);
  if (a >= 100) return 1;
  if (a >= 1) return 2;
  if (a === 0) return 2;
  return Math.min(6, Math.max(2, 2 - Math.floor(Math.log10(a))));
}

/**
 * '3.12 ± 0.05 (n=3)'; '3.12 ± 0.05 (n=2 of 3, 1 diverged)'; '3.12 (n=1 of 3, 2 missing)';
 * '— (0 of 3, 3 diverged)'; '*' after the value when an unfinished run is included.
 */
export function formatCell(c: Cell): string {
  const lost = [c.diverged > 0 ? `${c.diverged} diverged` : '', c.missing > 0 ? `${c.missing} missing` : ''].filter(Boolean).join(', ');
  const count = lost ? `n=${c.n} of ${c.planned}, ${lost}` : `n=${c.n}`;
  if (c.mean === null) return lost ? `— (${count})` : '—';
  const d = decimals(c.mean);
  const s = c.std === null ? c.mean.toFixed(d) : `${c.mean.toFixed(d)} ± ${c.std.toFixed(d)}`;
  return `${s}${c.unfinished > 0 ? '*' : ''} (${count})`;
}

/** '62.58 ± 0.22 (n=3)', '57.22 (n=1)', or '—'. */
export function formatPaper(p: PaperNumber | null): string {
  if (p === null) return '—';
  const d = decimals(p.mean);
  return `${p.std === null ? p.mean.toFixed(d) : `${p.mean.toFixed(d)} ± ${p.std.toFixed(d)}`} (n=${p.n})`;
}

/** The columns of a report: ours per metric, each followed by the paper's when the paper has one; else one '—' paper column. */
function columns(r: ExperimentReport): Array<{ header: string; cell: (row: ReportRow) => string }> {
  const cols: Array<{ header: string; cell: (row: ReportRow) => string }> = [];
  const paperMetrics = new Set(
    r.rows.flatMap((row) =>
      Object.entries(row.paper)
        .filter(([, p]) => p !== null)
        .map(([m]) => m),
    ),
  );
  for (const m of r.metrics) {
    cols.push({ header: m.label, cell: (row) => formatCell(row.cells[m.name]) });
    if (paperMetrics.has(m.name)) cols.push({ header: `paper ${m.label}`, cell: (row) => formatPaper(row.paper[m.name]) });
  }
  if (paperMetrics.size === 0) cols.push({ header: 'paper', cell: () => '—' });
  return cols;
}

/** Aligned text table with a header line (scale, seeds, runs, wall time) and the notes. */
export function formatTable(r: ExperimentReport): string {
  const cols = columns(r);
  const header = ['variant', ...cols.map((c) => c.header)];
  const body = r.rows.map((row) => [row.label, ...cols.map((c) => c.cell(row))]);
  const widths = header.map((h, i) => Math.max([...h].length, ...body.map((b) => [...b[i]].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(widths[i] - [...c].length))
      .join('  ')
      .trimEnd();
  const out = [
    `${r.experiment}: ${r.title}`,
    `  ${r.paper} · ${r.source} · task ${r.task} on ${r.dataset}`,
    `  scale ${r.scale} · seeds ${r.seeds.join(',') || '—'} · ${r.runsFinished}/${r.runsTotal} runs finished · wall ${formatDuration(r.wallSec)} (sum over runs)`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
  ];
  const unfinished = r.rows.flatMap((row) =>
    row.runs.filter((x) => x.status === 'unfinished').map((x) => `${row.variant} seed ${x.seed} at step ${x.step ?? 0}/${x.totalSteps ?? '?'}`),
  );
  if (unfinished.length > 0) out.push('', `* includes unfinished runs (their last validation; no test numbers yet): ${unfinished.join('; ')}`);
  const missing = r.rows.reduce((a, row) => a + row.runs.filter((x) => x.status === 'missing').length, 0);
  if (missing > 0) out.push(`  ${missing} run(s) not started.`);
  const diverged = r.rows.flatMap((row) => row.runs.filter((x) => x.status === 'diverged').map((x) => `${row.variant} seed ${x.seed} at step ${x.step}`));
  if (diverged.length > 0) out.push(`  diverged (counted in n, never averaged): ${diverged.join('; ')}`);
  const support = r.rows.filter((row) => row.support && row.runs.length < r.seeds.length).map((row) => row.label);
  if (support.length > 0) out.push(`  fewer seeds by design (no claim compares these rows; supportSeeds): ${support.join(', ')}`);
  if (r.notes.length) out.push('', ...r.notes.map((n) => `  note: ${n}`));
  return out.join('\n');
}

const CSV_HEADER = [
  'experiment',
  'scale',
  'variant',
  'label',
  'metric',
  'mean',
  'std',
  'n',
  'unfinished',
  'diverged',
  'missing',
  'planned',
  'paper_mean',
  'paper_std',
  'paper_n',
];

function csvField(x: unknown): string {
  const s = x === null || x === undefined ? '' : String(x);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line per (experiment, variant, metric). */
export function formatCsv(reports: ExperimentReport[]): string {
  const lines = [CSV_HEADER.join(',')];
  for (const r of reports) {
    for (const row of r.rows) {
      for (const m of r.metrics) {
        const c = row.cells[m.name];
        const p = row.paper[m.name];
        lines.push(
          [r.experiment, r.scale, row.variant, row.label, m.name, c.mean, c.std, c.n, c.unfinished, c.diverged, c.missing, c.planned, p?.mean, p?.std, p?.n]
            .map(csvField)
            .join(','),
        );
      }
    }
  }
  return lines.join('\n');
}

export const REPORT_FORMATS = ['table', 'csv', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Reports as text in `format` ('table': one table per experiment; 'json': the report objects). */
export function formatReports(reports: ExperimentReport[], format: ReportFormat): string {
  if (format === 'table') return reports.map(formatTable).join('\n\n');
  if (format === 'csv') return formatCsv(reports);
  if (format === 'json') return JSON.stringify(reports, null, 2);
  throw new Error(`format: unknown format ${JSON.stringify(format)}; expected one of ${REPORT_FORMATS.join(', ')}`);
}
