/**
 * The workbook as a researcher uses it: `npm run notebook`, driven in Debian's Chromium through
 * Jupyter's own menus and keys (playwright-core; never a browser download).
 *
 *   npx tsx test/notebooks/jupyter-ui.ts [--keep-server] [--port N]
 *
 * It copies `00-quickstart` and `02-spe` to reports/ui/notebooks/ (inside the checkout, so that
 * 'rpelab' resolves; the committed notebooks are never saved over), serves that folder with
 * scripts/notebook.sh at RPELAB_SCALE=smoke (or the scale set), and walks through:
 *   1. quickstart: Cell > Run All;
 *   2. edit the LRPE cell (P = DCT instead of Householder), Shift+Enter, then re-run later cells;
 *   3. File > Save, reload the page (the kernel keeps running): the saved figures draw; Run All again;
 *   4. a new tab on the saved notebook: its figures draw;
 *   5. 02-spe: Run All.
 * After each step: no error output, no TypeScript or runtime error on stderr, no uncaught page
 * error, and every plotly figure drawn (an SVG of non-zero size), at least as many as the notebook
 * declares (`metadata.rpelab.expect.figures`). Screenshots go to reports/ui/. Exits 1 on a
 * problem; with RPELAB_TEST_SUMMARY set, appends {backend: 'jupyter-ui', passed, failed}.
 * Chromium: `bash scripts/setup-jupyter.sh --with-chromium` (or RPELAB_CHROMIUM).
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { chromium, type Browser, type Page } from 'playwright-core';
import { findChromium, HEADLESS_CHROMIUM_FLAGS } from '../../src/viz/png';
import { FIGURE_CLASS } from '../../src/viz/plotly';
import { appendSummary } from './check-executed';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.join(ROOT, 'reports', 'ui');
const NOTEBOOKS = ['00-quickstart.ipynb', '02-spe.ipynb'];
const RUN_TIMEOUT_MS = 600_000;

/** The part of the classic Notebook's page API this walk-through reads (types only: page functions run in the browser). */
interface NotebookCell {
  cell_type: string;
  input_prompt_number?: unknown;
  get_text(): string;
  code_mirror: { setValue(s: string): void };
}
interface NotebookWindow {
  Jupyter: {
    notebook: {
      _fully_loaded?: boolean;
      dirty: boolean;
      kernel?: { is_connected(): boolean };
      get_cells(): NotebookCell[];
      get_cell(i: number): NotebookCell;
      select(i: number): void;
    };
  };
}

/** What one step found in the page. */
export interface PageState {
  figures: { drawn: boolean; width: number; height: number; title: string }[];
  errors: string[];
  pending: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `npm run notebook`'s script on `dir`; resolves with the server and its token once it answers. */
async function startServer(dir: string, port: number): Promise<{ proc: ChildProcess; base: string; token: string; log: () => string }> {
  const proc = spawn('bash', ['scripts/notebook.sh', '--port', String(port), '--dir', dir], {
    cwd: ROOT,
    env: { ...process.env, RPELAB_SCALE: process.env.RPELAB_SCALE ?? 'smoke' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    const token = log.match(/token=([0-9a-f]+)/)?.[1];
    if (token) {
      try {
        const r = await fetch(`${base}/api/status?token=${token}`);
        if (r.ok) return { proc, base, token, log: () => log };
      } catch {
        // not listening yet
      }
    }
    if (proc.exitCode !== null) throw new Error(`notebook server exited (${proc.exitCode}):\n${log}`);
    if (Date.now() > deadline) throw new Error(`notebook server did not answer within 180 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function stopServer(proc: ChildProcess): void {
  try {
    process.kill(-proc.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** Waits until the notebook page has loaded its notebook and its kernel is connected and idle. */
async function waitForNotebook(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const J = (window as unknown as Partial<NotebookWindow>).Jupyter;
      const idle = document.querySelector('#kernel_indicator_icon.kernel_idle_icon');
      return !!(J && J.notebook && J.notebook._fully_loaded && J.notebook.kernel && J.notebook.kernel.is_connected() && idle);
    },
    undefined,
    { timeout: 180_000, polling: 250 },
  );
}

/** The highest In [n] so far (0 when none). */
function maxPrompt(page: Page): Promise<number> {
  return page.evaluate(() => {
    const cells = (window as unknown as NotebookWindow).Jupyter.notebook.get_cells();
    return Math.max(0, ...cells.map((c) => (typeof c.input_prompt_number === 'number' ? c.input_prompt_number : 0)));
  });
}

/** Waits until every code cell in `indices` (all non-empty ones by default) ran after In [after] and the kernel is idle. */
async function waitForRun(page: Page, after: number, indices?: number[]): Promise<void> {
  await page.waitForFunction(
    ({ after, indices }) => {
      const nb = (
        window as unknown as NotebookWindow
      ).Jupyter.notebook;
      const cells = nb.get_cells();
      const want = indices ?? cells.map((_, i) => i).filter((i) => cells[i].cell_type === 'code' && cells[i].get_text().trim() !== '');
      const ran = want.every((i) => typeof cells[i].input_prompt_number === 'number' && (cells[i].input_prompt_number as number) > after);
      const stopped = document.querySelectorAll('.output_error').length > 0 && !cells.some((c) => c.input_prompt_number === '*');
      return (ran || stopped) && !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon');
    },
    { after, indices },
    { timeout: RUN_TIMEOUT_MS, polling: 500 },
  );
  // Plotly draws asynchronously (the renderer first loads plotly.js once per page).
  await page
    .waitForFunction(
      (cls) => Array.from(document.querySelectorAll(`.${cls}`)).every((el) => el.querySelector('svg.main-svg') || /needs plotly\.js|could not be drawn/.test(el.textContent ?? '')),
      FIGURE_CLASS,
      { timeout: 60_000, polling: 250 },
    )
    .catch(() => undefined);
}

/** Figures, errors and pending cells as the page shows them now. */
function pageState(page: Page): Promise<PageState> {
  return page.evaluate((cls) => {
    const figures = Array.from(document.querySelectorAll(`.${cls}`)).map((el) => {
      const svg = el.querySelector('svg.main-svg');
      const r = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      return { drawn: el.classList.contains('js-plotly-plot') && !!svg, width: Math.round(r.width), height: Math.round(r.height), title: el.querySelector('.gtitle')?.textContent ?? '' };
    });
    const errors: string[] = [];
    document.querySelectorAll('.output_error').forEach((el) => errors.push(`error output: ${(el.textContent ?? '').trim().split('\n')[0]}`));
    document.querySelectorAll('.output_stderr').forEach((el) => {
      const t = el.textContent ?? '';
      const line = t.split('\n').find((l) => /^\d+:\d+ - |(?:^|\s)(?:[A-Za-z]*Error|Uncaught)\b/.test(l));
      if (line) errors.push(`stderr: ${line.trim()}`);
    });
    const nb = (window as unknown as NotebookWindow).Jupyter.notebook;
    return { figures, errors, pending: nb.get_cells().filter((c) => c.input_prompt_number === '*').length };
  }, FIGURE_CLASS);
}

/** Opens a menu of Jupyter's menu bar and clicks one of its items, as a user does. */
async function menu(page: Page, menuId: string, itemId: string): Promise<void> {
  await page.click(`#${menuId}`);
  await page.click(`#${itemId} > a`);
}

/** File > Save and Checkpoint; resolves when the notebook is no longer dirty. */
async function save(page: Page): Promise<void> {
  await menu(page, 'filelink', 'save_checkpoint');
  await page.waitForFunction(() => !(window as unknown as NotebookWindow).Jupyter.notebook.dirty, undefined, { timeout: 60_000 });
}

interface Step {
  name: string;
  problems: string[];
}

async function check(page: Page, name: string, expectFigures: number, pageErrors: string[], extra: (s: PageState) => string[] = () => []): Promise<Step> {
  const s = await pageState(page);
  const problems = [...s.errors, ...pageErrors.splice(0)];
  if (s.pending) problems.push(`${s.pending} cell(s) still waiting to run`);
  const drawn = s.figures.filter((f) => f.drawn && f.width > 0 && f.height > 0);
  if (drawn.length < expectFigures || drawn.length !== s.figures.length) {
    problems.push(`${drawn.length} of ${s.figures.length} figures drawn with a size (expected at least ${expectFigures})`);
  }
  problems.push(...extra(s));
  // The notebook scrolls inside its own panel, so a full-page shot would show one screen: the
  // window is made as tall as the notebook for the shot.
  const shot = path.join(OUT, `${name}.png`);
  const tall = await page.evaluate(() => (document.querySelector('#notebook')?.scrollHeight ?? 800) + 150);
  await page.setViewportSize({ width: 1280, height: Math.min(Math.max(tall, 900), 16000) });
  await page.waitForTimeout(500);
  await page.screenshot({ path: shot });
  await page.setViewportSize({ width: 1280, height: 900 });
  console.log(`${problems.length ? 'FAIL' : 'ok  '} ${name}: ${drawn.length} figures drawn, ${s.errors.length} errors; screenshot ${path.relative(ROOT, shot)}`);
  for (const p of problems) console.log(`       ${p}`);
  return { name, problems };
}

function expectedFigures(file: string): number {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  return nb.metadata?.rpelab?.expect?.figures ?? 1;
}

async function openNotebook(browser: Browser, url: string, pageErrors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message.split('\n')[0]}`));
  await page.goto(url);
  await waitForNotebook(page);
  return page;
}

async function main(argv: string[]): Promise<number> {
  const keep = argv.includes('--keep-server');
  const portArg = argv.indexOf('--port');
  const port = portArg >= 0 ? Number(argv[portArg + 1]) : await freePort();
  if (!Number.isInteger(port) || port <= 0) throw new Error(`--port: expected a port number, got '${argv[portArg + 1]}'`);
  const dir = path.join(OUT, 'notebooks');
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const n of NOTEBOOKS) fs.copyFileSync(path.join(ROOT, 'notebooks', n), path.join(dir, n));

  const server = await startServer(path.relative(ROOT, dir), port);
  const browser = await chromium.launch({
    executablePath: findChromium(),
    headless: true,
    args: HEADLESS_CHROMIUM_FLAGS.filter((f) => f !== '--headless'),
  });
  const steps: Step[] = [];
  const pageErrors: string[] = [];
  try {
    const url = (name: string) => `${server.base}/notebooks/${name}?token=${server.token}`;
    const quickFigures = expectedFigures(path.join(dir, NOTEBOOKS[0]));

    // 1. Run All.
    let page = await openNotebook(browser, url(NOTEBOOKS[0]), pageErrors);
    let before = await maxPrompt(page);
    await menu(page, 'celllink', 'run_all_cells');
    await waitForRun(page, before);
    steps.push(await check(page, '1-quickstart-run-all', quickFigures, pageErrors));

    // 2. Edit the LRPE cell and re-run it, then later cells, in another order than the notebook's.
    const lrpeCell = await page.evaluate(() => {
      const cells = (window as unknown as NotebookWindow).Jupyter.notebook.get_cells();
      return cells.findIndex((c) => c.get_text().includes("p: 'householder'"));
    });
    if (lrpeCell < 0) throw new Error("00-quickstart: no cell holds p: 'householder' (the LRPE cell this test edits)");
    await page.evaluate((i) => {
      const nb = (window as unknown as NotebookWindow)
        .Jupyter.notebook;
      const cell = nb.get_cell(i);
      cell.code_mirror.setValue(cell.get_text().replace("p: 'householder'", "p: 'dct'"));
      nb.select(i);
    }, lrpeCell);
    await page.keyboard.press('Escape');
    before = await maxPrompt(page);
    await page.keyboard.press('Shift+Enter');
    await waitForRun(page, before, [lrpeCell]);
    const lastCells = await page.evaluate(() => {
      const cells = (window as unknown as NotebookWindow).Jupyter.notebook.get_cells();
      return cells.map((c, i) => (c.cell_type === 'code' ? i : -1)).filter((i) => i >= 0).slice(-2);
    });
    for (const i of [lastCells[1], lastCells[0], lrpeCell]) {
      before = await maxPrompt(page);
      await page.evaluate((j) => (window as unknown as NotebookWindow).Jupyter.notebook.select(j), i);
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+Enter');
      await waitForRun(page, before, [i]);
    }
    steps.push(
      await check(page, '2-quickstart-edit-rerun', quickFigures, pageErrors, (s) =>
        s.figures.some((f) => /P = dct/.test(f.title)) ? [] : [`no figure title says 'P = dct' after the edit (titles: ${s.figures.map((f) => f.title).join(' | ')})`],
      ),
    );

    // 3. Save, reload the page with the kernel running: the saved figures draw; then Run All again.
    await save(page);
    await page.reload();
    await waitForNotebook(page);
    await waitForRun(page, 0, []);
    steps.push(await check(page, '3a-quickstart-reloaded', quickFigures, pageErrors));
    before = await maxPrompt(page);
    await menu(page, 'celllink', 'run_all_cells');
    await waitForRun(page, before);
    steps.push(await check(page, '3b-quickstart-reloaded-run-all', quickFigures, pageErrors));
    await save(page);

    // 4. A new tab on the saved notebook.
    const tab = await openNotebook(browser, url(NOTEBOOKS[0]), pageErrors);
    await waitForRun(tab, 0, []);
    steps.push(await check(tab, '4-quickstart-new-tab', quickFigures, pageErrors));
    await tab.close();
    await page.close();

    // 5. 02-spe: Run All.
    page = await openNotebook(browser, url(NOTEBOOKS[1]), pageErrors);
    before = await maxPrompt(page);
    await menu(page, 'celllink', 'run_all_cells');
    await waitForRun(page, before);
    steps.push(await check(page, '5-spe-run-all', expectedFigures(path.join(dir, NOTEBOOKS[1])), pageErrors));
    await page.close();
  } catch (e) {
    steps.push({ name: 'walk-through', problems: [(e as Error).message.split('\n').slice(0, 3).join(' ')] });
    console.log(`FAIL walk-through: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
  } finally {
    await browser.close();
    if (keep) console.log(`[rpelab] server kept at ${server.base}/tree?token=${server.token}`);
    else stopServer(server.proc);
    fs.writeFileSync(path.join(OUT, 'server.log'), server.log());
  }
  const failed = steps.filter((s) => s.problems.length).length;
  console.log(`[rpelab] Jupyter UI walk-through: ${steps.length - failed} step(s) ok, ${failed} with problems (screenshots and server log in ${path.relative(ROOT, OUT)}/)`);
  appendSummary('jupyter-ui', steps.length - failed, failed);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`[rpelab] Jupyter UI walk-through: ${(e as Error).message}`);
      appendSummary('jupyter-ui', 0, 1);
      process.exit(1);
    },
  );
}
