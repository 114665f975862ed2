/**
 * Where `plot` and `showTable` send their HTML.
 *
 * In a tslab kernel the sink is tslab's own `display` (loaded lazily, so that importing
 * rpelab outside a notebook neither needs nor loads tslab). Tests and other front ends
 * install their own sink with `setDisplaySink`.
 */

/** Receives one rich output (an HTML fragment) per call. */
export interface DisplaySink {
  html(fragment: string): void;
}

let custom: DisplaySink | null = null;
let tslabSink: DisplaySink | null = null;

/** Installs `sink` as the destination of every `show*` / `plot` call; `null` restores tslab's display. */
export function setDisplaySink(sink: DisplaySink | null): void {
  if (sink !== null && (typeof sink !== 'object' || typeof sink.html !== 'function')) {
    throw new Error(`sink: expected an object with an html(fragment) method or null, got ${String(sink)}`);
  }
  custom = sink;
}

/** The sink in use: the one set by `setDisplaySink`, else tslab's `display`. */
export function displaySink(): DisplaySink {
  if (custom) return custom;
  if (!tslabSink) {
    let tslab: { display: DisplaySink };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      tslab = require('tslab');
    } catch {
      throw new Error('display: tslab is not installed; run inside a tslab notebook (npm run notebook) or call setDisplaySink first');
    }
    const display = tslab.display;
    tslabSink = {
      html(fragment: string) {
        try {
          display.html(fragment);
        } catch (e) {
          throw new Error(
            `display: no notebook to display in (tslab says: ${(e as Error).message}); ` +
              'run inside a tslab kernel (npm run notebook) or call setDisplaySink first',
          );
        }
      },
    };
  }
  return tslabSink;
}
