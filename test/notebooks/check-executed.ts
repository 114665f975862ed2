/**
 * Checks executed notebooks (the output of `npm run reproduce`):
 *
 *   npx tsx test/notebooks/check-executed.ts [FILE.ipynb | DIR ...]     (default: reports/)
 *
 * For each notebook: every non-empty code cell ran (has an execution count), no output is an
 * error (nor a TypeScript compile error that tslab printed on stderr), every figure is its own
 * MIME bundle (Plotly's JSON beside an HTML fallback that draws the same figure) and no output
 * embeds plotly.js (outputs stand alone), and there are at least the figures and tables the
 * notebook declares in its metadata `rpelab.expect = {figures, tables}` (required). When the HTML
 * export beside it exists (`--no-html` skips this), it must hold the same figures and tables
 * and plotly.js once. Exits 1 if any notebook has a problem. With RPELAB_TEST_SUMMARY set (as in
 * scripts/test.sh), appends {backend: 'notebooks', passed, failed} to that file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FIGURE_CLASS, BUNDLE_MARKER, PLOTLY_MIME } from '../../src/viz/plotly';
import { TABLE_CLASS } from '../../src/viz/table';

type Source = string | string[];
interface Output {
  output_type: string;
  name?: string;
  text?: Source;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}
interface Cell {
  cell_type: string;
  source: Source;
  execution_count?: number | null;
  outputs?: Output[];
}
export interface NotebookJson {
  nbformat: number;
  metadata: { kernelspec?: { name?: string }; rpelab?: { expect?: { figures?: number; tables?: number } } };
  cells: Cell[];
}

/** What was found in one notebook, and what is wrong with it. */
export interface NotebookReport {
  cellsRun: number;
  figures: number;
  tables: number;
  bundles: number;
  problems: string[];
}

const text = (s: unknown): string => (Array.isArray(s) ? s.join('') : typeof s === 'string' ? s : '');

function count(haystack: string, needle: RegExp): number {
  return (haystack.match(needle) ?? []).length;
}

const FIGURE_RE = new RegExp(`class="${FIGURE_CLASS}[" ]`, 'g');
const TABLE_RE = new RegExp(`<table class="${TABLE_CLASS}"`, 'g');
const BUNDLE_RE = new RegExp(`<!-- ${BUNDLE_MARKER} `, 'g');

/** Counts figures, tables and bundles in an HTML page or fragment. */
export function countHtml(html: string): { figures: number; tables: number; bundles: number } {
  return { figures: count(html, FIGURE_RE), tables: count(html, TABLE_RE), bundles: count(html, BUNDLE_RE) };
}

/** Checks one executed notebook (parsed JSON). */
export function checkNotebook(nb: NotebookJson): NotebookReport {
  const problems: string[] = [];
  if (nb?.nbformat !== 4 || !Array.isArray(nb.cells)) {
    return { cellsRun: 0, figures: 0, tables: 0, bundles: 0, problems: ['not an nbformat-4 notebook'] };
  }
  if (nb.metadata?.kernelspec?.name !== 'tslab') problems.push(`kernelspec is '${nb.metadata?.kernelspec?.name}', expected 'tslab'`);
  let cellsRun = 0;
  let figures = 0;
  let tables = 0;
  let bundles = 0;
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== 'code') return;
    const where = `cell ${i + 1}`;
    if (text(cell.source).trim() !== '') {
      if (typeof cell.execution_count === 'number') cellsRun++;
      else problems.push(`${where} was not executed`);
    }
    for (const out of cell.outputs ?? []) {
      if (out.output_type === 'error') problems.push(`${where} has an error output: ${out.ename}: ${String(out.evalue).split('\n')[0]}`);
      // tslab prints TypeScript compile errors ("3:14 - message") on stderr, with no error output.
      const compileError = out.output_type === 'stream' && out.name === 'stderr' ? text(out.text).match(/^\d+:\d+ - .*$/m) : null;
      if (compileError) problems.push(`${where} has a TypeScript error: ${compileError[0]}`);
      const html = text(out.data?.['text/html']);
      if (!html) continue;
      const c = countHtml(html);
      if (c.figures > 0) {
        const json = out.data?.[PLOTLY_MIME] as { data?: unknown } | undefined;
        if (c.figures !== 1 || !json || !Array.isArray(json.data)) {
          problems.push(`${where}: a figure output must be one figure with its ${PLOTLY_MIME} beside the HTML (found ${c.figures} figure(s), JSON ${json ? 'without data' : 'missing'})`);
        }
      }
      figures += c.figures;
      tables += c.tables;
      bundles += c.bundles;
    }
  });
  if (bundles > 0) problems.push(`plotly.js is embedded ${bundles} time(s) in the outputs, expected never (each figure loads it where it is shown)`);
  const expect = nb.metadata?.rpelab?.expect;
  if (!expect) problems.push('metadata.rpelab.expect = {figures, tables} is missing (declare what the notebook shows)');
  else {
    if (figures < (expect.figures ?? 0)) problems.push(`${figures} plotly figures, expected at least ${expect.figures}`);
    if (tables < (expect.tables ?? 0)) problems.push(`${tables} tables, expected at least ${expect.tables}`);
  }
  return { cellsRun, figures, tables, bundles, problems };
}

/** Checks the HTML export of a notebook against the notebook's own counts. */
export function checkHtmlExport(html: string, nb: NotebookReport): string[] {
  const c = countHtml(html);
  const problems: string[] = [];
  if (c.figures !== nb.figures) problems.push(`HTML export has ${c.figures} figures, the notebook ${nb.figures}`);
  if (c.tables !== nb.tables) problems.push(`HTML export has ${c.tables} tables, the notebook ${nb.tables}`);
  if (c.figures > 0 && c.bundles !== 1) problems.push(`HTML export embeds plotly.js ${c.bundles} times, expected once`);
  if (c.figures === 0 && c.bundles > 0) problems.push(`HTML export embeds plotly.js ${c.bundles} times but has no figure`);
  return problems;
}

/** Adds this check's counts to scripts/test.sh's closing summary (when RPELAB_TEST_SUMMARY is set). */
export function appendSummary(name: string, passed: number, failed: number): void {
  const file = process.env.RPELAB_TEST_SUMMARY;
  if (file) fs.appendFileSync(file, JSON.stringify({ backend: name, passed, failed, skipped: 0 }) + '\n');
}

function notebookFiles(args: string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    if (!fs.existsSync(a)) throw new Error(`${a}: no such file or directory`);
    if (fs.statSync(a).isDirectory()) {
      files.push(...fs.readdirSync(a).filter((f) => f.endsWith('.ipynb')).sort().map((f) => path.join(a, f)));
    } else files.push(a);
  }
  return files;
}

function main(argv: string[]): number {
  const noHtml = argv.includes('--no-html');
  const args = argv.filter((a) => a !== '--no-html');
  const files = notebookFiles(args.length ? args : ['reports']);
  if (files.length === 0) {
    console.error(`[rpelab] check-executed: no executed notebooks in ${args.join(' ') || 'reports'} (run npm run reproduce first)`);
    return 1;
  }
  let bad = 0;
  for (const file of files) {
    const report = checkNotebook(JSON.parse(fs.readFileSync(file, 'utf8')));
    const htmlFile = file.replace(/\.ipynb$/, '.html');
    let htmlNote = '';
    if (!noHtml) {
      if (fs.existsSync(htmlFile)) {
        report.problems.push(...checkHtmlExport(fs.readFileSync(htmlFile, 'utf8'), report));
        htmlNote = '; HTML export agrees';
      } else report.problems.push(`no HTML export ${htmlFile}`);
    }
    const summary = `${report.cellsRun} cells run, ${report.figures} figures (plotly.js embedded ${report.bundles}x), ${report.tables} tables`;
    if (report.problems.length) {
      bad++;
      console.log(`FAIL ${file}: ${summary}`);
      for (const p of report.problems) console.log(`     - ${p}`);
    } else console.log(`ok   ${file}: ${summary}${htmlNote}`);
  }
  console.log(`[rpelab] executed notebooks checked: ${files.length - bad} ok, ${bad} with problems`);
  appendSummary('notebooks', files.length - bad, bad);
  return bad ? 1 : 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
