/**
 * Notebook display: Plotly figures and danfojs tables. Functions return figures, HTML or
 * DataFrames; only `plot` and `show*` display (through tslab, or the sink set by `setDisplaySink`).
 */
export { setDisplaySink, displaySink, sendBundle } from './display';
export type { DisplaySink, MimeBundle } from './display';
export {
  figure,
  heatmap,
  plot,
  figureBundle,
  figureHtml,
  bundleHtml,
  withPlotlyBundle,
  plotlyBundle,
  plotlyBundlePath,
  FIGURE_CLASS,
  BUNDLE_MARKER,
  PLOTLY_MIME,
  NBEXTENSION_PLOTLY,
} from './plotly';
export type { Figure, Trace, Layout, PlotConfig, HeatmapOptions } from './plotly';
export { toPng, findChromium, runHeadlessChromium, HEADLESS_CHROMIUM_FLAGS } from './png';
export type { PngOptions } from './png';
export { dataFrame, tableHtml, showTable, paperVsOurs, formatTableCell, formatWallTime, TABLE_CLASS } from './table';
export type { TableCell, TableOptions, HeaderGroup, CaptionedTable, ComparisonRow, RunDescription } from './table';
export { ledgerFigure } from './claims';
export { nllByPositionFigure, logBins, binMeans } from './extrapolation';
export { subplots } from './subplots';
export type { Panel } from './subplots';
export { curveTraces, comparisonTable, CURVE_PALETTE } from './curves';
