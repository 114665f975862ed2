/**
 * Tables for notebooks: danfojs DataFrames rendered as HTML, and the "paper vs ours"
 * comparison that every experiment notebook ends with.
 *
 * danfojs-node is loaded on first use (it takes a second or two), so importing rpelab stays fast.
 */
import type { DataFrame } from 'danfojs-node';
import { displaySink } from './display';

/** A table cell: numbers are formatted with `digits`; null / NaN / undefined show as an em dash. */
export type TableCell = number | string | boolean | null | undefined;

/** CSS class of every table rendered by `tableHtml` (checkers count these). */
export const TABLE_CLASS = 'rpelab-table';

type Danfo = typeof import('danfojs-node');
let danfo: Danfo | null = null;
function loadDanfo(): Danfo {
  if (!danfo) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      danfo = require('danfojs-node') as Danfo;
    } catch (e) {
      throw new Error(
        `tables (dataFrame, showTable, paperVsOurs) need danfojs-node, an optional dependency of rpelab that is not installed here (${(e as Error).message.split('\n')[0]}); ` +
          `install it as rpelab's README says ("Using rpelab as a dependency"); everything else of rpelab works without it`,
      );
    }
  }
  return danfo;
}

/**
 * A DataFrame from rows (one record per row). Columns are `opts.columns`, else every key in
 * order of first appearance; a key missing from a row gives null.
 */
export function dataFrame(rows: Array<Record<string, TableCell>>, opts: { columns?: string[] } = {}): DataFrame {
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`rows: expected a non-empty array of records, got ${JSON.stringify(rows)}`);
  rows.forEach((r, i) => {
    if (r == null || typeof r !== 'object' || Array.isArray(r))
      throw new Error(`rows: expected row ${i} to be a record {column: value}, got ${JSON.stringify(r)}`);
  });
  const columns = opts.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (columns.length === 0) throw new Error('columns: expected at least one column');
  const values = rows.map((r) => columns.map((c) => (r[c] === undefined ? null : r[c])));
  return new (loadDanfo().DataFrame)(values, { columns });
}

/** A header row above the column names: `label` spans `span` columns ('' for none). */
export interface HeaderGroup {
  label: string;
  span: number;
}

/** Options of `tableHtml` / `showTable`. */
export interface TableOptions {
  caption?: string;
  /** Fraction digits of non-integer numbers (default: see `formatTableCell`). */
  digits?: number;
  /** An extra header row of column groups (spans must add up to the number of columns). */
  groups?: HeaderGroup[];
  /** Header labels to show instead of the DataFrame's column names. */
  labels?: string[];
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Formats one cell as text. Numbers: integers as they are; others with `digits` fraction
 * digits, or by default with at most 3 (trailing zeros dropped), or 3 significant digits
 * in exponent form when smaller than 1e-3.
 */
export function formatTableCell(v: TableCell, digits?: number): string {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '—';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  if (digits !== undefined) return v.toFixed(digits);
  return Math.abs(v) < 1e-3 ? v.toExponential(2) : String(Number(v.toFixed(3)));
}

/**
 * The HTML of a DataFrame: a <table class="rpelab-table"> with an optional group header row,
 * followed by its caption in a <figcaption> (as wide as the text needs, not the table), both
 * in one <figure>.
 */
export function tableHtml(df: DataFrame, opts: TableOptions = {}): string {
  if (df == null || !Array.isArray(df.columns)) throw new Error(`df: expected a danfojs DataFrame, got ${String(df)}`);
  const digits = opts.digits;
  const columns = df.columns as string[];
  const labels = opts.labels ?? columns;
  if (labels.length !== columns.length) throw new Error(`labels: expected ${columns.length} labels (one per column), got ${labels.length}`);
  const rows = df.values as TableCell[][];
  const isNumeric = columns.map((_, j) => rows.every((r) => r[j] == null || typeof r[j] === 'number'));
  const align = (j: number) => (isNumeric[j] ? ' style="text-align:right"' : ' style="text-align:left"');
  const parts = ['<figure style="margin:0.5em 0">', `<table class="${TABLE_CLASS}">`, '<thead>'];
  if (opts.groups) {
    const total = opts.groups.reduce((n, g) => n + g.span, 0);
    if (total !== columns.length) throw new Error(`groups: expected spans adding up to ${columns.length} columns, got ${total}`);
    parts.push('<tr>' + opts.groups.map((g) => `<th colspan="${g.span}" style="text-align:center">${escapeHtml(g.label)}</th>`).join('') + '</tr>');
  }
  parts.push('<tr>' + labels.map((c, j) => `<th${align(j)}>${escapeHtml(c)}</th>`).join('') + '</tr>', '</thead>', '<tbody>');
  for (const r of rows) parts.push('<tr>' + r.map((v, j) => `<td${align(j)}>${escapeHtml(formatTableCell(v, digits))}</td>`).join('') + '</tr>');
  parts.push('</tbody>', '</table>');
  if (opts.caption) parts.push(`<figcaption style="max-width:48em;font-size:0.9em;margin-top:0.4em">${escapeHtml(opts.caption)}</figcaption>`);
  parts.push('</figure>');
  return parts.join('\n');
}

/** A DataFrame with the caption and header groups it is meant to be shown with. */
export interface CaptionedTable {
  df: DataFrame;
  caption: string;
  groups?: HeaderGroup[];
  labels?: string[];
}

function isCaptioned(t: DataFrame | CaptionedTable): t is CaptionedTable {
  return t != null && typeof t === 'object' && 'df' in t && 'caption' in t;
}

/**
 * Displays a table in the notebook (returns nothing, so the cell shows only the table).
 * Options override a captioned table's own caption, groups and labels.
 */
export function showTable(table: DataFrame | CaptionedTable, opts: TableOptions = {}): void {
  const html = isCaptioned(table)
    ? tableHtml(table.df, { caption: table.caption, groups: table.groups, labels: table.labels, ...opts })
    : tableHtml(table, opts);
  displaySink().html(html);
}

/** One compared setting: the paper's numbers and ours, keyed by metric. */
export interface ComparisonRow {
  /** The setting, e.g. a model or encoding name ('LRPE-d (unitary)'). */
  name: string;
  /** Paper values; null where the paper gives none. */
  paper: Record<string, TableCell>;
  /** Our values (numbers, or preformatted strings such as '87.1 ± 0.3'); null where not run. */
  ours: Record<string, TableCell>;
}

/** How our numbers were made, stated in the caption. */
export interface RunDescription {
  /** Experiment scale, e.g. 'smoke' | 'small' | 'full'. */
  scale: string;
  /** Seeds our numbers aggregate over. */
  seeds: number[];
  /** Wall time of our runs, in seconds. */
  wallTimeSec: number;
  /** Title that opens the caption, e.g. 'Table 2: WikiText-103 perplexity'. */
  title?: string;
  /** How seeds were aggregated (default 'mean over seeds' when there are several). */
  aggregate?: string;
  /** Free text appended to the caption (source of paper numbers, deviations). */
  note?: string;
}

/** A wall time as '2h 05m', '3m 07s' or '12.4 s'. */
export function formatWallTime(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) throw new Error(`wallTimeSec: expected a finite number >= 0, got ${sec}`);
  if (sec < 60) return `${sec.toFixed(1)} s`;
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(r).padStart(2, '0')}s`;
}

/**
 * The "paper vs ours" table: one row per setting, and for each metric a paper column and an
 * ours column side by side (columns named '<metric> (paper)' and '<metric> (ours)', shown
 * under a '<metric>' group header). The caption states scale, seeds and wall time.
 * @param metrics column order (default: every metric in order of first appearance)
 */
export function paperVsOurs(rows: ComparisonRow[], run: RunDescription, metrics?: string[]): CaptionedTable {
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`rows: expected a non-empty array of {name, paper, ours}, got ${JSON.stringify(rows)}`);
  rows.forEach((r, i) => {
    if (!r || typeof r.name !== 'string' || typeof r.paper !== 'object' || typeof r.ours !== 'object' || !r.paper || !r.ours) {
      throw new Error(`rows: expected row ${i} to be {name: string, paper: {...}, ours: {...}}, got ${JSON.stringify(r)}`);
    }
  });
  if (typeof run?.scale !== 'string' || run.scale === '') throw new Error(`run.scale: expected the scale name, got ${JSON.stringify(run?.scale)}`);
  if (!Array.isArray(run.seeds) || run.seeds.length === 0 || !run.seeds.every(Number.isInteger)) {
    throw new Error(`run.seeds: expected a non-empty array of integer seeds, got ${JSON.stringify(run.seeds)}`);
  }
  const ms = metrics ?? [...new Set(rows.flatMap((r) => [...Object.keys(r.paper), ...Object.keys(r.ours)]))];
  if (ms.length === 0) throw new Error('metrics: expected at least one metric');
  const columns = ['setting', ...ms.flatMap((m) => [`${m} (paper)`, `${m} (ours)`])];
  const records = rows.map((r) => {
    const rec: Record<string, TableCell> = { setting: r.name };
    for (const m of ms) {
      rec[`${m} (paper)`] = r.paper[m] ?? null;
      rec[`${m} (ours)`] = r.ours[m] ?? null;
    }
    return rec;
  });
  const seeds = run.seeds.length === 1 ? `seed ${run.seeds[0]}` : `${run.seeds.length} seeds (${run.seeds.join(', ')}), ${run.aggregate ?? 'mean over seeds'}`;
  const caption = [run.title ? `${run.title}.` : '', `Ours: scale ${run.scale}, ${seeds}, wall time ${formatWallTime(run.wallTimeSec)}.`, run.note ?? '']
    .filter(Boolean)
    .join(' ');
  return {
    df: dataFrame(records, { columns }),
    caption,
    groups: [{ label: '', span: 1 }, ...ms.map((m) => ({ label: m, span: 2 }))],
    labels: ['setting', ...ms.flatMap(() => ['paper', 'ours'])],
  };
}
