/**
 * The NLL-by-position figure of an extrapolation report: per row, the NLL averaged over
 * log-spaced bins of positions (so the first positions and the far range are both readable),
 * the mean over seeds as a line and mean ± one std over seeds as a band, the training length
 * marked. Two panels: APE, NoPE and SPE; APE, RoPE, PermuteFormer and LRPE.
 */
import type { ExperimentReport } from '../experiments/report';
import { figure, type Figure, type Trace } from './plotly';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];

/**
 * Bin edges [0, e_1, ..., length] with `perOctave` bins per doubling of the position (the first
 * bins one position wide), so a curve over `length` positions gets about perOctave·log2(length) bins.
 */
export function logBins(length: number, perOctave = 6): number[] {
  if (!(Number.isInteger(length) && length >= 1)) throw new Error(`length: expected an integer >= 1, got ${length}`);
  if (!(Number.isInteger(perOctave) && perOctave >= 1)) throw new Error(`perOctave: expected an integer >= 1, got ${perOctave}`);
  const edges = [0];
  for (let k = 1; edges[edges.length - 1] < length; k++) {
    const e = Math.min(length, Math.max(edges[edges.length - 1] + 1, Math.round(2 ** (k / perOctave))));
    edges.push(e);
  }
  return edges;
}

/** Mean of `curve` over each bin [edges[i], edges[i+1]); NaN values are skipped. */
export function binMeans(curve: ArrayLike<number>, edges: number[]): number[] {
  return edges.slice(0, -1).map((from, i) => {
    let s = 0;
    let n = 0;
    for (let t = from; t < edges[i + 1] && t < curve.length; t++) {
      if (Number.isFinite(curve[t])) {
        s += curve[t];
        n += 1;
      }
    }
    return n > 0 ? s / n : NaN;
  });
}

/**
 * @param report an extrapolation report (curves 'nll_by_position')
 * @param opts.trainLength L, marked on the x axis
 */
export function nllByPositionFigure(report: ExperimentReport, opts: { trainLength: number; title?: string; perOctave?: number }): Figure {
  const groups = [
    { title: 'APE, NoPE and SPE (ungated: dotted)', keep: (v: string) => ['ape', 'nope'].includes(v) || v.includes('spe') },
    { title: 'APE, RoPE, PermuteFormer and LRPE', keep: (v: string) => ['ape', 'rope', 'permuteformer'].includes(v) || v.startsWith('lrpe') },
  ];
  const data: Trace[] = [];
  const shown = new Set<string>();
  groups.forEach((g, panel) => {
    const axes = panel === 0 ? { xaxis: 'x', yaxis: 'y' } : { xaxis: 'x2', yaxis: 'y2' };
    report.rows.forEach((row, i) => {
      const seeds = report.curveSeeds[row.variant]?.nll_by_position;
      if (!g.keep(row.variant) || !seeds || seeds.length === 0) return;
      const edges = logBins(seeds[0].length, opts.perOctave ?? 6);
      const centres = edges.slice(0, -1).map((a, k) => (a + edges[k + 1] - 1) / 2 + 1); // 1-based position, for the log axis
      const binned = seeds.map((c) => binMeans(c, edges));
      const mean = centres.map((_, k) => binned.reduce((a, c) => a + c[k], 0) / binned.length);
      const std = centres.map((_, k) => (binned.length < 2 ? 0 : Math.sqrt(binned.reduce((a, c) => a + (c[k] - mean[k]) ** 2, 0) / (binned.length - 1))));
      const colour = PALETTE[i % PALETTE.length];
      const dash = row.variant.endsWith('ungated') ? 'dot' : 'solid';
      data.push({
        type: 'scatter',
        mode: 'lines',
        ...axes,
        x: [...centres, ...[...centres].reverse()],
        y: [...mean.map((m, k) => m + std[k]), ...mean.map((m, k) => m - std[k]).reverse()],
        fill: 'toself',
        fillcolor: colour,
        opacity: 0.15,
        line: { width: 0 },
        hoverinfo: 'skip',
        showlegend: false,
        legendgroup: row.variant,
      });
      data.push({
        type: 'scatter',
        mode: 'lines',
        ...axes,
        name: `${row.label} (n=${seeds.length})`,
        legendgroup: row.variant,
        showlegend: !shown.has(row.variant),
        x: centres,
        y: mean,
        line: { color: colour, dash, width: 1.8 },
      });
      shown.add(row.variant);
    });
  });
  const L = opts.trainLength;
  const annotations = groups.map((g, panel) => ({
    text: g.title,
    showarrow: false,
    xref: `x${panel ? 2 : ''} domain`,
    yref: `y${panel ? 2 : ''} domain`,
    x: 0.5,
    y: 1.0,
    yanchor: 'bottom',
    font: { size: 13 },
  }));
  const xaxis = (domain: number[], anchor: string) => ({ type: 'log', domain, anchor, title: { text: 'position (log scale)' } });
  return figure(data, {
    title: { text: opts.title ?? `${report.experiment}: NLL by position, trained at L = ${L} (dashed), scale ${report.scale}; band: ± 1 std over seeds` },
    xaxis: xaxis([0, 0.47], 'y'),
    xaxis2: xaxis([0.53, 1], 'y2'),
    yaxis: { title: { text: 'NLL (nats), log-spaced bins' } },
    yaxis2: { anchor: 'x2' },
    annotations,
    shapes: ['x', 'x2'].map((x) => ({
      type: 'line',
      xref: x,
      yref: `${x.replace('x', 'y')} domain`,
      x0: L,
      x1: L,
      y0: 0,
      y1: 1,
      line: { dash: 'dash', color: 'black', width: 1 },
    })),
    height: 520,
    legend: { orientation: 'h', y: -0.2 },
    margin: { t: 80, l: 60, r: 20, b: 60 },
  });
}
