/**
 * Learning curves and results tables of the experiment notebooks: line traces of `logCurves`
 * and the paper-vs-ours table of a report.
 */
import { formatCell, formatPaper, type ExperimentReport, type LogCurve } from '../experiments';
import type { MetricDefinition } from '../experiments/types';
import type { Trace } from './plotly';
import { paperVsOurs, type CaptionedTable, type ComparisonRow } from './table';

/** The notebooks' colours for the rows of a table, in row order. */
export const CURVE_PALETTE = [
  '#7f7f7f',
  '#bcbd22',
  '#8c564b',
  '#17becf',
  '#e377c2',
  '#aec7e8',
  '#d62728',
  '#ff7f0e',
  '#1f77b4',
  '#2ca02c',
  '#9467bd',
  '#000000',
];

/** Line traces of `logCurves` (markers for a single point), one colour per row; legend entries only when `legend`. */
export function curveTraces(curves: LogCurve[], legend = true, dash?: string, palette: readonly string[] = CURVE_PALETTE): Trace[] {
  return curves
    .filter((c) => c.steps.length > 0)
    .map((c, i) => ({
      type: 'scatter',
      mode: c.steps.length > 1 ? 'lines' : 'markers',
      name: c.label,
      legendgroup: c.variant,
      showlegend: legend,
      x: c.steps,
      y: c.values,
      line: { color: palette[i % palette.length], width: 1.5, dash },
      marker: { color: palette[i % palette.length] },
    }));
}

/** Paper vs ours for a report: one column pair per metric; '—' where the paper's number is unknown or a run is missing. */
export function comparisonTable(r: ExperimentReport, title: string, metrics: MetricDefinition[] = r.metrics, note = ''): CaptionedTable {
  const rows: ComparisonRow[] = r.rows.map((row) => ({
    name: row.label,
    paper: Object.fromEntries(metrics.map((m) => [m.label, row.paper[m.name] ? formatPaper(row.paper[m.name]) : null])),
    ours: Object.fromEntries(metrics.map((m) => [m.label, formatCell(row.cells[m.name])])),
  }));
  const status = `${r.runsFinished}/${r.runsTotal} runs finished (* = includes an unfinished run's last validation).`;
  return paperVsOurs(
    rows,
    {
      scale: r.scale,
      seeds: r.seeds,
      wallTimeSec: r.wallSec,
      title,
      aggregate: 'mean ± sample std over seeds',
      note: [status, note, ...r.notes].filter(Boolean).join(' '),
    },
    metrics.map((m) => m.label),
  );
}
