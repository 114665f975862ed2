import { strict as assert } from 'assert';
import { checkNotebook, checkHtmlExport, countHtml, type NotebookJson } from './check-executed';
import { renderedFigures } from './browser-check';
import { figure, figureBundle, figureHtml, bundleHtml, withPlotlyBundle, tableHtml, dataFrame } from '../../src/viz';

/** An executed notebook: one code cell per output, as tslab + `npm run reproduce` write it. */
function executed(outputs: object[][], expect: object | null = { figures: 2, tables: 1 }): NotebookJson {
  return {
    nbformat: 4,
    metadata: { kernelspec: { name: 'tslab' }, ...(expect ? { rpelab: { expect } } : {}) },
    cells: [
      { cell_type: 'markdown', source: '# t' },
      ...outputs.map((outs, i) => ({ cell_type: 'code', source: `cell${i}()`, execution_count: i + 1, outputs: outs })),
    ],
  } as NotebookJson;
}
const html = (s: string) => ({ output_type: 'display_data', data: { 'text/html': s }, metadata: {} });
const bundleOutput = (data: object) => ({ output_type: 'display_data', data, metadata: {} });

describe('notebooks/check-executed', () => {
  // Outputs made by the viz library itself, so checker and library agree on the markers.
  let first: object, second: object, table: object;
  before(() => {
    const fig = figure([{ type: 'scatter', y: [1, 2] }]);
    first = bundleOutput(figureBundle(fig));
    second = bundleOutput(figureBundle(fig, { title: { text: 'two' } }));
    table = html(tableHtml(dataFrame([{ a: 1 }]), { caption: 'c' }));
  });

  it('passes a notebook with its figures (each a MIME bundle, none carrying plotly.js) and its table', () => {
    const r = checkNotebook(executed([[first], [second], [table]]));
    assert.deepEqual(r, { cellsRun: 3, figures: 2, tables: 1, bundles: 0, problems: [] });
  });

  it('reports an error output or a TypeScript error, naming the cell', () => {
    const r = checkNotebook(executed([[first], [second], [table, { output_type: 'error', ename: 'TypeError', evalue: 'x is undefined', traceback: [] }]]));
    assert.deepEqual(r.problems, ['cell 4 has an error output: TypeError: x is undefined']);
    const stderr = (t: string) => ({ output_type: 'stream', name: 'stderr', text: t });
    const tsError = checkNotebook(executed([[first], [second, stderr("1:32 - Module '\"rpelab\"' has no exported member 'Lrpe'.\n")], [table, stderr('a warning\n')]]));
    assert.deepEqual(tsError.problems, [`cell 3 has a TypeScript error: 1:32 - Module '"rpelab"' has no exported member 'Lrpe'.`]);
  });

  it('reports a figure without its Plotly JSON, and plotly.js embedded in an output', () => {
    const fig = figure([{ type: 'bar', y: [1] }]);
    assert.deepEqual(checkNotebook(executed([[first], [html(figureHtml(fig))], [table]])).problems, [
      'cell 3: a figure output must be one figure with its application/vnd.plotly.v1+json beside the HTML (found 1 figure(s), JSON missing)',
    ]);
    const heavy = bundleOutput({ ...figureBundle(fig), 'text/html': figureHtml(fig, { includeBundle: true }) });
    assert.deepEqual(checkNotebook(executed([[first], [heavy], [table]])).problems, [
      'plotly.js is embedded 1 time(s) in the outputs, expected never (each figure loads it where it is shown)',
    ]);
  });

  it('reports fewer figures or tables than declared, an undeclared notebook and an unexecuted cell', () => {
    assert.deepEqual(checkNotebook(executed([[first], [table]])).problems, ['1 plotly figures, expected at least 2']);
    assert.deepEqual(checkNotebook(executed([[first], [second]])).problems, ['0 tables, expected at least 1']);
    assert.match(checkNotebook(executed([[first], [second], [table]], null)).problems.join(), /metadata\.rpelab\.expect = \{figures, tables\} is missing/);
    const nb = executed([[first], [second], [table]]);
    nb.cells[2].execution_count = null;
    assert.deepEqual(checkNotebook(nb).problems, ['cell 3 was not executed']);
  });

  it('compares the HTML export with the notebook: the same figures and tables, plotly.js once', () => {
    const report = checkNotebook(executed([[first], [second], [table]]));
    const body = (outs: object[]) => outs.map((o) => (o as { data: { 'text/html': string } }).data['text/html']).join('\n');
    const page = (outs: object[]) => withPlotlyBundle(`<html><head></head><body>${body(outs)}</body></html>`);
    assert.deepEqual(countHtml(page([first, second, table])), { figures: 2, tables: 1, bundles: 1 });
    assert.deepEqual(checkHtmlExport(page([first, second, table]), report), []);
    assert.deepEqual(checkHtmlExport(page([first, table]), report), ['HTML export has 1 figures, the notebook 2']);
    assert.deepEqual(checkHtmlExport(body([first, second, table]), report), ['HTML export embeds plotly.js 0 times, expected once']);
    assert.deepEqual(checkHtmlExport(bundleHtml() + body([table]), checkNotebook(executed([[table]], { tables: 1 }))), [
      'HTML export embeds plotly.js 1 times but has no figure',
    ]);
  });

  it('browser check: finds drawn figures and their SVG size in a DOM dump', () => {
    const dom =
      '<div id="a" class="rpelab-plotly js-plotly-plot" style=""><div class="plot-container"><svg class="main-svg" xmlns="x" width="623" height="420"></svg></div></div>' +
      '<div id="b" class="rpelab-plotly" style=""></div>';
    assert.deepEqual(renderedFigures(dom), [
      { id: 'a', drawn: true, width: 623, height: 420 },
      { id: 'b', drawn: false, width: 0, height: 0 },
    ]);
  });
});
