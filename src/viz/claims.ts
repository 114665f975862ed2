/**
 * The claims ledger as a figure: every comparison's improvement with its 95 % interval, in
 * percent of the baseline's mean (so perplexities, accuracies and NLL rises share one axis),
 * coloured by verdict, one row per comparison, grouped by claim.
 */
import type { Ledger, Verdict } from '../experiments/claims';
import { figure, type Figure, type Trace } from './plotly';

const COLOURS: Record<Verdict, string> = {
  supported: '#2ca02c',
  contradicted: '#d62728',
  inconclusive: '#7f7f7f',
  'not testable offline': '#9467bd',
  'not run': '#bcbd22',
};

/**
 * A forest plot of the ledger's comparisons that have an interval.
 * @returns a Plotly figure (rows: "claim · treatment vs baseline"; x: improvement in % of the baseline)
 */
export function ledgerFigure(ledger: Ledger, opts: { title?: string } = {}): Figure {
  const points: Array<{ y: string; x: number; lo: number; hi: number; verdict: Verdict; text: string }> = [];
  for (const r of ledger.claims) {
    for (const c of r.comparisons) {
      if (!c.interval || c.baselineMean === null || c.baselineMean === 0) continue;
      const k = 100 / Math.abs(c.baselineMean);
      points.push({
        y: `${r.claim.id} · ${c.treatmentLabel} vs ${c.baselineLabel}${c.comparison.experiment.startsWith('extrapolation-text') ? ' (text)' : ''}`,
        x: c.interval.estimate * k,
        lo: c.interval.lo * k,
        hi: c.interval.hi * k,
        verdict: c.verdict,
        text: c.reason,
      });
    }
  }
  const traces: Trace[] = (Object.keys(COLOURS) as Verdict[])
    .filter((v) => points.some((p) => p.verdict === v))
    .map((v) => {
      const ps = points.filter((p) => p.verdict === v);
      return {
        type: 'scatter',
        mode: 'markers',
        name: v,
        x: ps.map((p) => p.x),
        y: ps.map((p) => p.y),
        text: ps.map((p) => p.text),
        hovertemplate: '%{y}<br>%{x:.2f} %: %{text}<extra></extra>',
        marker: { color: COLOURS[v], size: 8 },
        error_x: { type: 'data', symmetric: false, array: ps.map((p) => p.hi - p.x), arrayminus: ps.map((p) => p.x - p.lo), color: COLOURS[v] },
      };
    });
  const rows = [...new Set(points.map((p) => p.y))];
  return figure(traces, {
    title: { text: opts.title ?? `Claims ledger at scale ${ledger.scale}: improvement of the claimed row over its baseline, 95 % interval over seeds` },
    xaxis: { title: { text: 'improvement, % of the baseline (right of 0: the claimed row is better)' }, zeroline: true, zerolinewidth: 2 },
    yaxis: { automargin: true, categoryorder: 'array', categoryarray: [...rows].reverse() },
    height: Math.max(300, 26 * rows.length + 160),
    margin: { l: 20, r: 20, t: 70, b: 60 },
    legend: { orientation: 'h', y: 1.02, yanchor: 'bottom' },
  });
}
