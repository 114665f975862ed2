/**
 * Plotly subplots: one figure, panels on a grid (row-major), each with its own title, traces and
 * axes. The panel titles are annotations placed above each panel's own domain, so they never
 * overlap a neighbouring panel.
 */
import { figure, type Figure, type Trace } from './plotly';

/** One panel: its title, traces and axis settings (Plotly axis objects). */
export interface Panel {
  title: string;
  traces: Trace[];
  x?: Record<string, unknown>;
  y?: Record<string, unknown>;
}

/**
 * @param panels the panels, row-major.
 * @param cols panels per row.
 * @param layout extra layout (title, height, legend, ...), merged last.
 */
export function subplots(panels: Panel[], cols: number, layout: Record<string, unknown> = {}): Figure {
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`cols: expected an integer >= 1, got ${JSON.stringify(cols)}`);
  if (!Array.isArray(panels) || panels.length === 0) throw new Error('panels: expected a non-empty list of panels');
  const rows = Math.ceil(panels.length / cols);
  const data: Trace[] = [];
  const annotations: unknown[] = [];
  const lay: Record<string, unknown> = {
    grid: { rows, columns: cols, pattern: 'independent', ygap: 0.35, xgap: 0.12 },
    margin: { t: 70, l: 60, r: 20, b: 50 },
  };
  panels.forEach((p, i) => {
    const n = i === 0 ? '' : String(i + 1);
    for (const t of p.traces) data.push({ ...t, xaxis: `x${n}`, yaxis: `y${n}` });
    lay[`xaxis${n}`] = { ...p.x };
    lay[`yaxis${n}`] = { ...p.y };
    annotations.push({ text: p.title, showarrow: false, xref: `x${n} domain`, yref: `y${n} domain`, x: 0.5, y: 1.0, yanchor: 'bottom', font: { size: 13 } });
  });
  return figure(data, { ...lay, annotations, ...layout });
}
