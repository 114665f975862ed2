import { strict as assert } from 'assert';
import {
  figure,
  heatmap,
  plot,
  figureHtml,
  plotlyBundle,
  setDisplaySink,
  resetPlotlyBundle,
  FIGURE_CLASS,
  BUNDLE_MARKER,
  type DisplaySink,
  type Figure,
} from '../../src/viz';
import { assertThrowsNaming } from '../helpers';

/** A display sink that keeps what it was given. */
function recorder(): DisplaySink & { outputs: string[] } {
  const outputs: string[] = [];
  return { outputs, html: (s: string) => void outputs.push(s) };
}

/** The figure JSON a figure's script draws (the `var fig = ...;` line). */
function drawnFigure(html: string): Figure {
  const m = html.match(/var fig = (.*);\n/);
  assert.ok(m, 'figure script has no `var fig = ...;` line');
  return JSON.parse(m![1]);
}

const count = (s: string, needle: string) => s.split(needle).length - 1;

describe('viz/plotly', () => {
  afterEach(() => setDisplaySink(null));

  it('figure(traces, layout) is Plotly JSON {data, layout, config} that survives a JSON round trip', () => {
    const f = figure([{ type: 'scatter', x: [1, 2, 3], y: [4, 5, 6], name: 'loss' }], { title: { text: 't' } });
    assert.deepEqual(JSON.parse(JSON.stringify(f)), {
      data: [{ type: 'scatter', x: [1, 2, 3], y: [4, 5, 6], name: 'loss' }],
      layout: { title: { text: 't' } },
      config: { displaylogo: false, responsive: true },
    });
    // A single trace, and a figure with an extra layout, give the same schema.
    assert.deepEqual(figure({ type: 'bar', y: [1] }).data, [{ type: 'bar', y: [1] }]);
    assert.deepEqual(figure(f, { height: 300 }).layout, { title: { text: 't' }, height: 300 });
    assertThrowsNaming(() => figure(42 as never), /figure: expected a Plotly figure/);
    assertThrowsNaming(() => figure([1 as never]), /figure: expected trace 0 to be an object/);
  });

  it('heatmap holds z[row][col] in one heatmap trace with row 0 at the top', () => {
    const f = heatmap(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { title: 'A', xTitle: 'key', yTitle: 'query', zmin: 0 },
    );
    assert.equal(f.data.length, 1);
    assert.equal(f.data[0].type, 'heatmap');
    assert.deepEqual(f.data[0].z, [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.equal(f.data[0].zmin, 0);
    assert.equal((f.layout.yaxis as { autorange: unknown }).autorange, 'reversed');
    assert.deepEqual((f.layout.title as { text: string }).text, 'A');
    // Typed arrays (e.g. from tensor.dataSync rows) become plain arrays.
    assert.deepEqual(heatmap([new Float32Array([0.5, 1])]).data[0].z, [[0.5, 1]]);
    assertThrowsNaming(() => heatmap([[1, 2], [3]]), /z: expected every row to have 2 entries/, /row 1 has 1/);
    assertThrowsNaming(() => heatmap([]), /z: expected a non-empty matrix/);
  });

  it('plot embeds the plotly.js bundle once across two plots, then per new sink', () => {
    const sink = recorder();
    setDisplaySink(sink);
    const { source, version } = plotlyBundle();
    assert.ok(source.length > 1_000_000, `bundle is only ${source.length} chars`);
    assert.match(version, /^\d+\.\d+\.\d+/);
    plot(
      heatmap(
        [
          [0, 1],
          [1, 0],
        ],
        { title: 'first' },
      ),
    );
    plot([{ type: 'scatter', y: [3, 1, 2] }], { title: { text: 'second' } });
    assert.equal(sink.outputs.length, 2);
    const [first, second] = sink.outputs;
    assert.equal(count(first, BUNDLE_MARKER), 1);
    assert.equal(count(second, BUNDLE_MARKER), 0);
    assert.ok(first.includes(source.slice(0, 2000)) && first.includes(source.slice(-2000)), 'first output holds the whole bundle');
    assert.ok(first.length > source.length && second.length < 5000, `output sizes ${first.length}, ${second.length}`);
    assert.ok(first.indexOf(BUNDLE_MARKER) < first.indexOf(`class="${FIGURE_CLASS}"`), 'bundle comes before the first figure');
    for (const html of sink.outputs) assert.equal(count(html, `class="${FIGURE_CLASS}"`), 1);
    assert.deepEqual(drawnFigure(second).data, [{ type: 'scatter', y: [3, 1, 2] }]);
    assert.equal((drawnFigure(first).layout.title as { text: string }).text, 'first');

    const other = recorder();
    setDisplaySink(other);
    plot({ type: 'bar', y: [1] });
    assert.equal(count(other.outputs[0], BUNDLE_MARKER), 1, 'a new sink (a new notebook) gets the bundle again');
    resetPlotlyBundle();
    plot({ type: 'bar', y: [2] });
    assert.equal(count(other.outputs[1], BUNDLE_MARKER), 1, 'resetPlotlyBundle makes the next plot embed it');
  });

  it('figure JSON cannot close its <script> early', () => {
    const html = figureHtml(figure([{ type: 'scatter', y: [1], name: '</script><b>x</b>' }]), { id: 'f1' });
    assert.equal(count(html, '</script>'), 1);
    assert.equal(drawnFigure(html).data[0].name, '</script><b>x</b>');
    assert.match(html, /<div id="f1" class="rpelab-plotly" style="width:100%;height:450px;"><\/div>/);
    assertThrowsNaming(() => figureHtml(figure([]), { id: 'x" onload="y' }), /id: expected letters/);
  });

  it('plot outside a notebook says how to get one', () => {
    setDisplaySink(null);
    assertThrowsNaming(() => plot({ type: 'bar', y: [1] }), /display: no notebook to display in/, /npm run notebook|setDisplaySink/);
    assertThrowsNaming(() => setDisplaySink({} as DisplaySink), /sink: expected an object with an html\(fragment\) method/);
  });
});
