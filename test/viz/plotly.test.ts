import { strict as assert } from 'assert';
import {
  figure,
  heatmap,
  plot,
  figureHtml,
  figureBundle,
  withPlotlyBundle,
  plotlyBundle,
  setDisplaySink,
  FIGURE_CLASS,
  BUNDLE_MARKER,
  PLOTLY_MIME,
  NBEXTENSION_PLOTLY,
  type DisplaySink,
  type MimeBundle,
  type Figure,
} from '../../src/viz';
import { assertThrowsNaming } from '../helpers';

/** A display sink that keeps what it was given (HTML only). */
function recorder(): DisplaySink & { outputs: string[] } {
  const outputs: string[] = [];
  return { outputs, html: (s: string) => void outputs.push(s) };
}

/** A display sink that takes whole MIME bundles, as tslab's kernel writer does. */
function bundleRecorder(): DisplaySink & { bundles: MimeBundle[] } {
  const bundles: MimeBundle[] = [];
  return { bundles, html: (s: string) => void bundles.push({ 'text/html': s }), bundle: (b: MimeBundle) => void bundles.push(b) };
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

  it('plot sends one self-contained MIME bundle per figure: Plotly JSON, an HTML fallback without plotly.js, text', () => {
    const sink = bundleRecorder();
    setDisplaySink(sink);
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
    assert.equal(sink.bundles.length, 2);
    for (const [i, b] of sink.bundles.entries()) {
      assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, 'text/html', 'text/plain']);
      const html = b['text/html'] as string;
      // Every output stands alone and is small: no output carries plotly.js for the others.
      assert.equal(count(html, BUNDLE_MARKER), 0, `output ${i} embeds plotly.js`);
      assert.ok(html.length < 5000, `output ${i} is ${html.length} chars`);
      assert.equal(count(html, `class="${FIGURE_CLASS}"`), 1);
      // The HTML fallback draws the same figure the JSON holds, and knows where the server keeps plotly.js.
      assert.deepEqual(drawnFigure(html), b[PLOTLY_MIME]);
      assert.ok(html.includes(NBEXTENSION_PLOTLY), 'the fallback loads plotly.js from the notebook server');
    }
    const [first, second] = sink.bundles.map((b) => b[PLOTLY_MIME] as Figure);
    assert.equal((first.layout.title as { text: string }).text, 'first');
    assert.deepEqual(second.data, [{ type: 'scatter', y: [3, 1, 2] }]);
    assert.equal(sink.bundles[0]['text/plain'], '<Plotly figure "first": 1 trace(s) (heatmap)>');
    // Two plots of one figure give two outputs with distinct div ids (a re-run cell never draws into an old div).
    const ids = [figureBundle(second), figureBundle(second)].map((b) => (b['text/html'] as string).match(/<div id="([^"]+)"/)![1]);
    assert.notEqual(ids[0], ids[1]);
  });

  it('a sink that takes only HTML gets the fallback; an HTML page gets plotly.js once, in its head', () => {
    const sink = recorder();
    setDisplaySink(sink);
    plot({ type: 'bar', y: [1] });
    assert.equal(sink.outputs.length, 1);
    assert.equal(count(sink.outputs[0], `class="${FIGURE_CLASS}"`), 1);
    assert.deepEqual(drawnFigure(sink.outputs[0]).data, [{ type: 'bar', y: [1] }]);

    const { source } = plotlyBundle();
    assert.ok(source.length > 1_000_000, `bundle is only ${source.length} chars`);
    const page = `<!DOCTYPE html><html><head><title>x</title></head><body>${sink.outputs[0]}${sink.outputs[0]}</body></html>`;
    const withBundle = withPlotlyBundle(page);
    assert.equal(count(withBundle, BUNDLE_MARKER), 1);
    assert.ok(withBundle.indexOf(BUNDLE_MARKER) < withBundle.indexOf('</head>'), 'the bundle is in the head, before every figure');
    assert.ok(withBundle.includes(source.slice(0, 2000)) && withBundle.includes(source.slice(-2000)), 'the page holds the whole bundle');
    assert.equal(withPlotlyBundle(withBundle), withBundle, 'a page that has it is unchanged');
    const noFigures = '<html><head></head><body><p>table</p></body></html>';
    assert.equal(withPlotlyBundle(noFigures), noFigures, 'a page without figures gets no bundle');
    assertThrowsNaming(() => withPlotlyBundle(`<body>${sink.outputs[0]}</body>`), /page: expected an HTML page with a <\/head>/);
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
    assertThrowsNaming(() => setDisplaySink({ html: () => {}, bundle: 3 } as unknown as DisplaySink), /sink.bundle: expected a function/);
  });
});
