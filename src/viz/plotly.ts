/**
 * Plotly figures for notebooks.
 *
 * A figure is plain JSON in Plotly's own schema ({data, layout, config}); `plot` displays it
 * as an HTML output. The plotly.js bundle (plotly.js-dist, offline) is embedded once per
 * display sink, i.e. once per notebook kernel: the first figure's output carries it, later
 * figures only carry their JSON and a few lines that draw them. A figure drawn before the
 * bundle has loaded waits in a queue, so output order never matters within a page.
 */
import * as fs from 'fs';
import { displaySink, type DisplaySink } from './display';

/** One Plotly trace, e.g. {type: 'heatmap', z, colorscale} or {type: 'scatter', x, y, name}. */
export type Trace = { type?: string; name?: string } & Record<string, unknown>;
/** Plotly layout (title, axes, size, ...), in Plotly's schema. */
export type Layout = Record<string, unknown>;
/** Plotly config (displaylogo, responsive, staticPlot, ...). */
export type PlotConfig = Record<string, unknown>;

/** A complete Plotly figure, serialisable as JSON. */
export interface Figure {
  data: Trace[];
  layout: Layout;
  config?: PlotConfig;
}

/** CSS class of every figure's container div (checkers count these). */
export const FIGURE_CLASS = 'rpelab-plotly';
/** Marker comment that opens the embedded bundle (checkers count these; must be 1 per page). */
export const BUNDLE_MARKER = 'rpelab:plotly.js-bundle';

const DEFAULT_CONFIG: PlotConfig = { displaylogo: false, responsive: true };

/**
 * Builds a figure from traces and an optional layout; a figure passes through unchanged
 * (a layout given with a figure is merged over the figure's own).
 */
export function figure(figOrTraces: Figure | Trace | Trace[], layout: Layout = {}, config: PlotConfig = {}): Figure {
  let fig: Figure;
  if (Array.isArray(figOrTraces)) fig = { data: figOrTraces, layout: {} };
  else if (figOrTraces && typeof figOrTraces === 'object' && Array.isArray((figOrTraces as Figure).data)) fig = figOrTraces as Figure;
  else if (figOrTraces && typeof figOrTraces === 'object') fig = { data: [figOrTraces as Trace], layout: {} };
  else throw new Error(`figure: expected a Plotly figure {data, layout}, a trace or an array of traces, got ${String(figOrTraces)}`);
  fig.data.forEach((t, i) => {
    if (t == null || typeof t !== 'object' || Array.isArray(t)) throw new Error(`figure: expected trace ${i} to be an object, got ${JSON.stringify(t)}`);
  });
  return {
    data: fig.data,
    layout: { ...fig.layout, ...layout },
    config: { ...DEFAULT_CONFIG, ...fig.config, ...config },
  };
}

/** Options of `heatmap`. */
export interface HeatmapOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Plotly colorscale name or [[0, color], ..., [1, color]] (default 'Viridis'). */
  colorscale?: string | Array<[number, string]>;
  zmin?: number;
  zmax?: number;
  /** Row 0 at the top, as in an attention matrix (default true). */
  rowsTopDown?: boolean;
  /** Figure height in px (default 440). */
  height?: number;
}

/**
 * A heatmap figure of a matrix z[row][col], e.g. attention weights z[query][key]
 * ([length_q][length_k]); rows are drawn top-down by default.
 */
export function heatmap(z: ArrayLike<ArrayLike<number>>, opts: HeatmapOptions = {}): Figure {
  if (z == null || typeof z.length !== 'number' || z.length === 0) throw new Error(`z: expected a non-empty matrix (array of rows), got ${String(z)}`);
  const rows = Array.from(z, (row, i) => {
    if (row == null || typeof row.length !== 'number') throw new Error(`z: expected row ${i} to be an array of numbers, got ${String(row)}`);
    return Array.from(row, Number);
  });
  const cols = rows[0].length;
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new Error(`z: expected every row to have ${cols} entries (as row 0), row ${i} has ${r.length}`);
  });
  const trace: Trace = { type: 'heatmap', z: rows, colorscale: opts.colorscale ?? 'Viridis' };
  if (opts.zmin !== undefined) trace.zmin = opts.zmin;
  if (opts.zmax !== undefined) trace.zmax = opts.zmax;
  return figure([trace], {
    title: opts.title ? { text: opts.title, font: { size: 15 } } : undefined,
    height: opts.height ?? 440,
    margin: { t: opts.title ? 50 : 20, r: 20, b: 60, l: 70 },
    xaxis: { title: opts.xTitle ? { text: opts.xTitle } : undefined, constrain: 'domain' },
    yaxis: {
      title: opts.yTitle ? { text: opts.yTitle } : undefined,
      autorange: opts.rowsTopDown === false ? true : 'reversed',
      scaleanchor: 'x',
    },
  });
}

let bundleCache: { version: string; source: string } | null = null;

/** The plotly.js bundle shipped in plotly.js-dist (read once per process). */
export function plotlyBundle(): { version: string; source: string } {
  if (!bundleCache) {
    const file = plotlyBundlePath();
    const source = fs.readFileSync(file, 'utf8');
    if (/<\/script/i.test(source)) throw new Error(`plotly.js: ${file} contains '</script' and cannot be inlined in HTML`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const version: string = require('plotly.js-dist/package.json').version;
    bundleCache = { version, source };
  }
  return bundleCache;
}

/** Path of the plotly.js bundle file. */
export function plotlyBundlePath(): string {
  try {
    return require.resolve('plotly.js-dist');
  } catch (e) {
    throw new Error(
      `figures in notebooks and HTML need plotly.js-dist, an optional dependency of rpelab that is not installed here (${(e as Error).message.split('\n')[0]}); ` +
        `npm install plotly.js-dist; everything else of rpelab works without it`,
    );
  }
}

/**
 * The HTML that loads plotly.js into a page: the whole bundle in one inline script (module,
 * exports and define are shadowed so that it always sets window.Plotly), then draws the
 * figures that were waiting for it.
 */
export function bundleHtml(): string {
  const { version, source } = plotlyBundle();
  return (
    `<!-- ${BUNDLE_MARKER} v${version} (embedded once per notebook) -->\n` +
    `<script type="text/javascript">(function () { var module, exports, define;\n${source}\n})();\n` +
    `(function () { var q = window.__rpelabPlotlyQueue || []; window.__rpelabPlotlyQueue = []; q.forEach(function (draw) { draw(); }); })();</script>\n`
  );
}

let figureCounter = 0;

/** JSON safe inside an inline <script>: '<' is written as \u003c. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The HTML of one figure: a sized div and a script that draws into it with the page's
 * window.Plotly (or queues the drawing until the bundle has loaded).
 * @param opts.includeBundle prepend `bundleHtml()` (default false).
 * @param opts.id the div's id (default a fresh one).
 */
export function figureHtml(fig: Figure, opts: { includeBundle?: boolean; id?: string } = {}): string {
  const f = figure(fig);
  const id = opts.id ?? `rpelab-plot-${process.pid.toString(36)}-${(++figureCounter).toString(36)}`;
  if (!/^[A-Za-z][\w-]*$/.test(id)) throw new Error(`id: expected letters, digits, '-' or '_' starting with a letter, got ${JSON.stringify(id)}`);
  const height = typeof f.layout.height === 'number' ? `${f.layout.height}px` : '450px';
  const width = typeof f.layout.width === 'number' ? `${f.layout.width}px` : '100%';
  const div = `<div id="${id}" class="${FIGURE_CLASS}" style="width:${width};height:${height};"></div>\n`;
  const script =
    `<script type="text/javascript">(function () {\n` +
    `  var fig = ${scriptJson(f)};\n` +
    `  var drawn = false;\n` +
    `  function draw() { var el = document.getElementById(${scriptJson(id)}); if (!el || drawn) return; drawn = true; window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); }\n` +
    `  if (window.Plotly) { draw(); return; }\n` +
    `  (window.__rpelabPlotlyQueue = window.__rpelabPlotlyQueue || []).push(draw);\n` +
    `  setTimeout(function () { var el = document.getElementById(${scriptJson(id)}); if (!drawn && el) el.textContent = ` +
    `'plotly.js is not loaded in this page: run the notebook from the top (its first figure embeds plotly.js).'; }, 10000);\n` +
    `})();</script>\n`;
  return (opts.includeBundle ? bundleHtml() : '') + div + script;
}

const sinksWithBundle = new WeakSet<DisplaySink>();

/**
 * Displays a figure in the notebook (tslab display, or the sink set by `setDisplaySink`).
 * The first figure shown in a kernel also carries the plotly.js bundle.
 * @param figOrTraces a figure, one trace or an array of traces
 * Returns nothing, so that a notebook cell ending in `plot(...)` shows only the figure
 * (build a figure with `figure` / `heatmap` to keep it).
 * @param layout merged over the figure's layout
 */
export function plot(figOrTraces: Figure | Trace | Trace[], layout: Layout = {}): void {
  const fig = figure(figOrTraces, layout);
  const sink = displaySink();
  const includeBundle = !sinksWithBundle.has(sink);
  sink.html(figureHtml(fig, { includeBundle }));
  sinksWithBundle.add(sink);
}

/** Makes the next `plot` embed plotly.js again (e.g. after clearing the cell that held it). */
export function resetPlotlyBundle(): void {
  sinksWithBundle.delete(displaySink());
}
