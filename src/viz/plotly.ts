/**
 * Plotly figures for notebooks.
 *
 * A figure is plain JSON in Plotly's own schema ({data, layout, config}). `plot` displays it
 * as one MIME bundle, the way Jupyter's ecosystem ships Plotly figures:
 *   - `application/vnd.plotly.v1+json`: the figure itself, drawn by any front end with a Plotly
 *     renderer (rpelab's classic-notebook extension `jupyter/nbextension`, installed by
 *     `scripts/setup-jupyter.sh`; JupyterLab and VS Code have their own);
 *   - `text/html`: a self-contained fallback (a sized div and the figure's JSON) that draws with
 *     the page's plotly.js, loading it from the notebook server (the same extension's copy of
 *     plotly.js-dist) when the page has none; an HTML export carries the bundle once
 *     (`withPlotlyBundle`).
 * No output depends on another (no "first figure carries plotly.js"), so a figure draws after a
 * page reload, in a re-run cell, in a new tab and in the HTML export.
 */
import * as fs from 'fs';
import { displaySink, sendBundle, type MimeBundle } from './display';

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
/** Marker comment that opens the embedded bundle (checkers count these: 1 per HTML export, 0 in notebook outputs). */
export const BUNDLE_MARKER = 'rpelab:plotly.js-bundle';
/** The MIME type of a Plotly figure in Jupyter outputs (data, layout, config). */
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
/** Where the notebook server serves rpelab's copy of plotly.js (relative to its base URL; see jupyter/nbextension). */
export const NBEXTENSION_PLOTLY = 'nbextensions/rpelab/plotly.js';

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
 * exports and define are shadowed so that it always sets window.Plotly).
 */
export function bundleHtml(): string {
  const { version, source } = plotlyBundle();
  return `<!-- ${BUNDLE_MARKER} v${version} -->\n` + `<script type="text/javascript">(function () { var module, exports, define;\n${source}\n})();</script>\n`;
}

/**
 * A whole HTML page (e.g. nbconvert's export of an executed notebook) with plotly.js embedded
 * once in its <head>, so that its figures draw from a file with no server and no network.
 * A page without figures, or that already holds the bundle, is returned unchanged.
 */
export function withPlotlyBundle(page: string): string {
  if (typeof page !== 'string') throw new Error(`page: expected an HTML string, got ${typeof page}`);
  if (!page.includes(`class="${FIGURE_CLASS}"`) || page.includes(`<!-- ${BUNDLE_MARKER} `)) return page;
  const head = page.search(/<\/head>/i);
  if (head < 0) throw new Error('page: expected an HTML page with a </head> to put plotly.js in');
  return page.slice(0, head) + bundleHtml() + page.slice(head);
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
 * The HTML of one figure, self-contained: a sized div and a script that draws into it with the
 * page's window.Plotly; in a classic Jupyter page without it, the script loads plotly.js from
 * the notebook server (`NBEXTENSION_PLOTLY`, one <script> per page shared by every figure);
 * elsewhere it says what is missing after 10 s.
 * @param opts.includeBundle prepend `bundleHtml()` (default false: pages embed it once).
 * @param opts.id the div's id (default a fresh one).
 */
export function figureHtml(fig: Figure, opts: { includeBundle?: boolean; id?: string } = {}): string {
  const f = figure(fig);
  const id = opts.id ?? `rpelab-plot-${process.pid.toString(36)}-${Date.now().toString(36)}-${(++figureCounter).toString(36)}`;
  if (!/^[A-Za-z][\w-]*$/.test(id)) throw new Error(`id: expected letters, digits, '-' or '_' starting with a letter, got ${JSON.stringify(id)}`);
  const height = typeof f.layout.height === 'number' ? `${f.layout.height}px` : '450px';
  const width = typeof f.layout.width === 'number' ? `${f.layout.width}px` : '100%';
  const div = `<div id="${id}" class="${FIGURE_CLASS}" style="width:${width};height:${height};"></div>\n`;
  const script =
    `<script type="text/javascript">(function () {\n` +
    `  var fig = ${scriptJson(f)};\n` +
    `  var id = ${scriptJson(id)};\n` +
    `  function draw(Plotly) { var el = document.getElementById(id); if (!el || el.getAttribute('data-drawn')) return; ` +
    `el.setAttribute('data-drawn', '1'); Plotly.newPlot(el, fig.data, fig.layout, fig.config); }\n` +
    `  function fail(why) { var el = document.getElementById(id); if (el && !el.getAttribute('data-drawn')) el.textContent = ` +
    `'This figure needs plotly.js, which this page does not have (' + why + ').'; }\n` +
    `  if (window.Plotly) { draw(window.Plotly); return; }\n` +
    `  var base = document.body && document.body.getAttribute('data-base-url');\n` +
    `  if (base !== null && base !== undefined) {\n` +
    // One <script> per page, shared by every figure (plotly.js 3 sets window.Plotly; it defines no AMD module).
    `    var src = base + ${scriptJson(NBEXTENSION_PLOTLY)};\n` +
    `    window.__rpelabPlotlyLoad = window.__rpelabPlotlyLoad || new Promise(function (resolve, reject) {\n` +
    `      var s = document.createElement('script'); s.src = src;\n` +
    `      s.onload = function () { if (window.Plotly) resolve(window.Plotly); else reject(new Error('no window.Plotly')); };\n` +
    `      s.onerror = function () { reject(new Error('cannot load ' + src)); };\n` +
    `      document.head.appendChild(s);\n` +
    `    });\n` +
    `    window.__rpelabPlotlyLoad.then(draw, function () { fail("rpelab's notebook extension is not installed in this Jupyter: run bash scripts/setup-jupyter.sh"); });\n` +
    `    return;\n` +
    `  }\n` +
    `  setTimeout(function () { if (window.Plotly) draw(window.Plotly); else fail('open it in Jupyter with rpelab set up, or an HTML export made by npm run reproduce'); }, 10000);\n` +
    `})();</script>\n`;
  return (opts.includeBundle ? bundleHtml() : '') + div + script;
}

/** One line of text for front ends that show no HTML (and for `text/plain` in the bundle). */
function figureText(f: Figure): string {
  const title = (f.layout.title as { text?: string } | string | undefined) ?? '';
  const text = typeof title === 'string' ? title : (title.text ?? '');
  const kinds = [...new Set(f.data.map((t) => t.type ?? 'scatter'))].join(', ');
  return `<Plotly figure${text ? ` "${text}"` : ''}: ${f.data.length} trace(s) (${kinds})>`;
}

/**
 * The MIME bundle of one figure: Plotly's JSON, the self-contained HTML fallback and a line of
 * text. This is what `plot` displays.
 */
export function figureBundle(figOrTraces: Figure | Trace | Trace[], layout: Layout = {}): MimeBundle {
  const f = figure(figOrTraces, layout);
  return {
    [PLOTLY_MIME]: JSON.parse(JSON.stringify(f)),
    'text/html': figureHtml(f),
    'text/plain': figureText(f),
  };
}

/**
 * Displays a figure in the notebook (tslab display, or the sink set by `setDisplaySink`) as one
 * MIME bundle (`figureBundle`); every output stands alone.
 * @param figOrTraces a figure, one trace or an array of traces
 * @param layout merged over the figure's layout
 * Returns nothing, so that a notebook cell ending in `plot(...)` shows only the figure
 * (build a figure with `figure` / `heatmap` to keep it).
 */
export function plot(figOrTraces: Figure | Trace | Trace[], layout: Layout = {}): void {
  sendBundle(displaySink(), figureBundle(figOrTraces, layout));
}
