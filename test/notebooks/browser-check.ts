/**
 * Opens HTML exports in a real browser (Debian's headless Chromium) and checks that every
 * plotly figure was drawn: its div became a Plotly plot holding an SVG of non-zero size.
 *
 *   npx tsx test/notebooks/browser-check.ts [FILE.html ...] [--screenshot OUT.png]
 *   (default: reports/00-quickstart.html)
 *
 * Chromium: `bash scripts/setup-jupyter.sh --with-chromium` (or RPELAB_CHROMIUM). It runs with
 * --headless --no-sandbox --disable-gpu, no network services and a fresh profile, and dumps the
 * DOM after a virtual-time budget, so the check needs no DevTools client. Exits 1 on a problem;
 * with RPELAB_TEST_SUMMARY set, appends {backend: 'chromium', passed, failed} to that file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { runHeadlessChromium } from '../../src/viz/png';
import { FIGURE_CLASS } from '../../src/viz/plotly';
import { appendSummary } from './check-executed';

/** One figure as found in the rendered DOM. */
export interface RenderedFigure {
  id: string;
  drawn: boolean;
  width: number;
  height: number;
}

/**
 * Finds every figure div in a DOM dump and the size of the first Plotly SVG inside it.
 * A figure is drawn when Plotly marked its div (class js-plotly-plot) and its main SVG has
 * non-zero width and height.
 */
export function renderedFigures(dom: string): RenderedFigure[] {
  const opens = [...dom.matchAll(new RegExp(`<div id="([^"]+)" class="${FIGURE_CLASS}([^"]*)"`, 'g'))];
  return opens.map((m, i) => {
    const end = i + 1 < opens.length ? opens[i + 1].index! : dom.length;
    const inside = dom.slice(m.index!, end);
    const svg = inside.match(/<svg class="main-svg"[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/);
    return {
      id: m[1],
      drawn: /\bjs-plotly-plot\b/.test(m[2]) && svg !== null,
      width: svg ? Number(svg[1]) : 0,
      height: svg ? Number(svg[2]) : 0,
    };
  });
}

/** Renders `file` in headless Chromium and returns its figures (optionally saves a screenshot). */
export async function checkInBrowser(file: string, screenshot?: string): Promise<RenderedFigure[]> {
  const url = pathToFileURL(path.resolve(file)).href;
  const budget = ['--virtual-time-budget=20000', '--window-size=1200,900'];
  const dom = await runHeadlessChromium([...budget, '--dump-dom', url], { timeoutMs: 180000 });
  if (screenshot) await runHeadlessChromium([...budget.slice(0, 1), '--window-size=1200,4000', `--screenshot=${path.resolve(screenshot)}`, url], { timeoutMs: 180000 });
  return renderedFigures(dom);
}

async function main(argv: string[]): Promise<number> {
  let screenshot: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--screenshot') screenshot = argv[++i];
    else files.push(argv[i]);
  }
  if (files.length === 0) files.push('reports/00-quickstart.html');
  let bad = 0;
  for (const file of files) {
    if (!fs.existsSync(file)) {
      console.log(`FAIL ${file}: no such file (run npm run reproduce first)`);
      bad++;
      continue;
    }
    const expected = (fs.readFileSync(file, 'utf8').match(new RegExp(`class="${FIGURE_CLASS}"`, 'g')) ?? []).length;
    const figs = await checkInBrowser(file, files.length === 1 ? screenshot : undefined);
    const ok = figs.filter((f) => f.drawn && f.width > 0 && f.height > 0);
    const sizes = figs.map((f) => (f.drawn ? `${f.width}x${f.height}` : 'not drawn')).join(', ');
    if (expected === 0 || figs.length !== expected || ok.length !== expected) {
      bad++;
      console.log(`FAIL ${file}: ${ok.length} of ${expected} figures drawn with non-zero size in Chromium (${sizes || 'none found'})`);
    } else console.log(`ok   ${file}: ${ok.length} of ${expected} figures drawn in Chromium (${sizes})`);
  }
  console.log(`[rpelab] browser check: ${files.length - bad} ok, ${bad} with problems`);
  appendSummary('chromium', files.length - bad, bad);
  return bad ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`[rpelab] browser check: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
