/**
 * rpelab's extension for the classic Jupyter Notebook: a renderer for Plotly figures.
 *
 * rpelab's `plot` sends each figure as a MIME bundle whose first type is Plotly's JSON
 * (`application/vnd.plotly.v1+json`). This extension registers a renderer for that type, placed
 * before HTML, which draws the figure with the copy of plotly.js-dist that
 * `scripts/setup-jupyter.sh` links beside this file. The figure is data, not script, so it draws
 * in untrusted notebooks too, after a page reload and in a new tab. Outputs that were drawn
 * before the extension had loaded (the page renders saved outputs while extensions load) are
 * drawn again with it.
 */
define(['require', 'jquery', 'notebook/js/outputarea', 'base/js/namespace'], function (require, $, outputarea, Jupyter) {
  'use strict';
  var MIME = 'application/vnd.plotly.v1+json';
  var FIGURE_CLASS = 'rpelab-plotly';
  var OutputArea = outputarea.OutputArea;

  /**
   * plotly.js, loaded once per page by a <script> beside this file (plotly.js 3 sets window.Plotly
   * and defines no AMD module); the promise is shared with the HTML fallback of rpelab's figures.
   */
  function plotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!window.__rpelabPlotlyLoad) {
      var src = require.toUrl('./plotly.js');
      window.__rpelabPlotlyLoad = new Promise(function (resolve, reject) {
        var s = document.createElement('script');
        s.src = src;
        s.onload = function () {
          if (window.Plotly) resolve(window.Plotly);
          else reject(new Error('no window.Plotly after loading ' + src));
        };
        s.onerror = function () {
          reject(new Error('cannot load ' + src));
        };
        document.head.appendChild(s);
      });
    }
    return window.__rpelabPlotlyLoad;
  }

  function size(value, fallback) {
    return typeof value === 'number' ? value + 'px' : fallback;
  }

  /** Appends one figure; `this` is the OutputArea. Plotly mutates what it draws, so it gets a copy. */
  function appendPlotly(json, md, element) {
    var fig = JSON.parse(JSON.stringify(json || {}));
    var layout = fig.layout || {};
    var toinsert = this.create_output_subarea(md, 'output_html rendered_html', MIME);
    var div = $('<div/>')
      .addClass(FIGURE_CLASS)
      .css({ width: size(layout.width, '100%'), height: size(layout.height, '450px') });
    toinsert.append(div);
    element.append(toinsert);
    plotly()
      .then(function (Plotly) {
        return Plotly.newPlot(div[0], fig.data || [], layout, fig.config || {});
      })
      .catch(function (err) {
        div.text('This figure could not be drawn (' + err + "); if plotly.js is missing, run bash scripts/setup-jupyter.sh");
      });
    return toinsert;
  }

  /** Draws again, with this renderer, the outputs of cells rendered before it was registered. */
  function redrawEarlierOutputs() {
    if (!Jupyter.notebook || !Jupyter.notebook.get_cells) return;
    Jupyter.notebook.get_cells().forEach(function (cell) {
      var area = cell.output_area;
      if (!area || !area.outputs) return;
      var has = area.outputs.some(function (o) {
        return o.data && o.data[MIME] !== undefined;
      });
      if (!has) return;
      var outputs = area.toJSON();
      var trusted = area.trusted;
      area.clear_output(false, true);
      area.trusted = trusted;
      area.fromJSON(outputs, cell.metadata);
    });
  }

  function load_ipython_extension() {
    if (OutputArea.append_map[MIME] !== appendPlotly) {
      OutputArea.prototype.register_mime_type(MIME, appendPlotly, { safe: true, index: 0 });
    }
    redrawEarlierOutputs();
  }

  return { load_ipython_extension: load_ipython_extension };
});
