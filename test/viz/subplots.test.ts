import { strict as assert } from 'assert';
import { subplots, curveTraces, CURVE_PALETTE } from '../../src/viz';
import { assertThrowsNaming } from '../helpers';

describe("viz: subplots and learning-curve traces (the notebooks' shared figure helpers)", () => {
  it('subplots puts each panel on its own axes of a row-major grid, its title above its own domain', () => {
    const line = (name: string) => ({ type: 'scatter', name, x: [1, 2], y: [3, 4] });
    const fig = subplots(
      [
        { title: 'a', traces: [line('p'), line('q')], y: { type: 'log' } },
        { title: 'b', traces: [line('r')] },
        { title: 'c', traces: [line('s')], x: { title: { text: 'L' } } },
      ],
      2,
      { height: 400 },
    );
    assert.deepEqual(
      fig.data.map((t) => [t.name, t.xaxis, t.yaxis]),
      [
        ['p', 'x', 'y'],
        ['q', 'x', 'y'],
        ['r', 'x2', 'y2'],
        ['s', 'x3', 'y3'],
      ],
    );
    const layout = fig.layout as Record<string, any>;
    assert.deepEqual(layout.grid, { rows: 2, columns: 2, pattern: 'independent', ygap: 0.35, xgap: 0.12 });
    assert.deepEqual(layout.yaxis, { type: 'log' });
    assert.deepEqual(layout.xaxis3, { title: { text: 'L' } });
    assert.equal(layout.height, 400);
    assert.deepEqual(
      layout.annotations.map((a: any) => [a.text, a.xref, a.yref]),
      [
        ['a', 'x domain', 'y domain'],
        ['b', 'x2 domain', 'y2 domain'],
        ['c', 'x3 domain', 'y3 domain'],
      ],
    );
    assertThrowsNaming(() => subplots([{ title: 'a', traces: [] }], 0), /cols: expected an integer >= 1, got 0/);
    assertThrowsNaming(() => subplots([], 2), /panels: expected a non-empty list/);
  });

  it('curveTraces: one trace per row with points (lines, or markers for a single point), colours by row, legend on request', () => {
    const curves = [
      { variant: 'a', label: 'A', steps: [1, 2, 3], values: [3, 2, 1] },
      { variant: 'b', label: 'B', steps: [], values: [] },
      { variant: 'c', label: 'C', steps: [5], values: [0.5] },
    ];
    const traces = curveTraces(curves, false, 'dot');
    assert.deepEqual(
      traces.map((t) => [t.name, t.mode, t.showlegend, (t.line as { dash: string }).dash]),
      [
        ['A', 'lines', false, 'dot'],
        ['C', 'markers', false, 'dot'],
      ],
    );
    assert.equal((traces[1].line as { color: string }).color, CURVE_PALETTE[1]);
  });
});
