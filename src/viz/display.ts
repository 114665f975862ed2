/**
 * Where `plot` and `showTable` send their output.
 *
 * In a tslab kernel the sink is tslab's own display (loaded lazily, so that importing rpelab
 * outside a notebook neither needs nor loads tslab). A figure goes out as one MIME bundle —
 * Plotly's JSON (`application/vnd.plotly.v1+json`, which Jupyter front ends with a Plotly
 * renderer draw) beside an HTML fallback — the way Jupyter kernels send rich outputs; tables go
 * out as HTML. Tests and other front ends install their own sink with `setDisplaySink`.
 */
import * as path from 'path';

/** One rich output: MIME type -> content (a string, or a JSON value for `*\/json` and `*+json` types). */
export type MimeBundle = Record<string, unknown>;

/** Receives rich outputs: HTML fragments, and (when it can) whole MIME bundles. */
export interface DisplaySink {
  html(fragment: string): void;
  /** Sends several representations of one output; a sink without it receives the bundle's `text/html`. */
  bundle?(data: MimeBundle): void;
}

let custom: DisplaySink | null = null;
let tslabSink: DisplaySink | null = null;

/** Installs `sink` as the destination of every `show*` / `plot` call; `null` restores tslab's display. */
export function setDisplaySink(sink: DisplaySink | null): void {
  if (sink !== null && (typeof sink !== 'object' || typeof sink.html !== 'function')) {
    throw new Error(`sink: expected an object with an html(fragment) method or null, got ${String(sink)}`);
  }
  if (sink !== null && sink.bundle !== undefined && typeof sink.bundle !== 'function') {
    throw new Error(`sink.bundle: expected a function (data) or undefined, got ${typeof sink.bundle}`);
  }
  custom = sink;
}

/** Sends a MIME bundle to `sink`: whole when the sink takes bundles, else its `text/html`. */
export function sendBundle(sink: DisplaySink, data: MimeBundle): void {
  if (sink.bundle) sink.bundle(data);
  else if (typeof data['text/html'] === 'string') sink.html(data['text/html']);
  else throw new Error(`display: the sink takes HTML only and the bundle has no text/html (it has ${Object.keys(data).join(', ')})`);
}

type WriteDisplayData = (content: { data: MimeBundle; metadata: Record<string, unknown>; transient: Record<string, unknown> }, update: boolean) => void;

function notebookError(e: unknown): Error {
  return new Error(
    `display: no notebook to display in (tslab says: ${(e as Error).message}); ` + 'run inside a tslab kernel (npm run notebook) or call setDisplaySink first',
  );
}

/** The sink in use: the one set by `setDisplaySink`, else tslab's display. */
export function displaySink(): DisplaySink {
  if (custom) return custom;
  if (!tslabSink) {
    let tslab: { display: { html(s: string): void } };
    let jupyter: { lastWriteDisplayData: WriteDisplayData | null } | null = null;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      tslab = require('tslab');
    } catch {
      throw new Error('display: tslab is not installed; run inside a tslab notebook (npm run notebook) or call setDisplaySink first');
    }
    try {
      // tslab's public display sends one MIME type per output; the kernel's writer (the module
      // behind it, the same instance) sends a whole display_data message, as Jupyter defines it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      jupyter = require(path.join(path.dirname(require.resolve('tslab')), 'jupyter'));
    } catch {
      jupyter = null;
    }
    const display = tslab.display;
    tslabSink = {
      html(fragment: string) {
        try {
          display.html(fragment);
        } catch (e) {
          throw notebookError(e);
        }
      },
    };
    if (jupyter && 'lastWriteDisplayData' in jupyter) {
      const kernel = jupyter;
      tslabSink.bundle = (data: MimeBundle) => {
        if (typeof kernel.lastWriteDisplayData !== 'function') throw notebookError(new Error('Not ready'));
        kernel.lastWriteDisplayData({ data, metadata: {}, transient: {} }, false);
      };
    }
  }
  return tslabSink;
}
