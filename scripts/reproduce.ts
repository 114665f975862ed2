/**
 * `npm run reproduce`: executes every notebooks/*.ipynb headless, in name order, with the tslab
 * kernel, and writes each executed notebook and its HTML export to the reports directory.
 * (`npm run reproduce` first runs scripts/setup-jupyter.sh, which also builds dist/.)
 *
 *   npm run reproduce -- [--scale NAME] [--only A,B] [--out DIR] [--timeout SEC] [--dir DIR] [--fail-fast]
 *                        [--jobs N] [--no-experiments] [--no-build]
 *
 *   --scale     experiment scale the notebooks read from RPELAB_SCALE      env RPELAB_SCALE (default small)
 *   --only      notebooks to run: names or name prefixes, comma-separated   env RPELAB_NOTEBOOKS (default all)
 *   --out       output directory                                           env RPELAB_REPORTS_DIR (default reports)
 *   --timeout   per-cell timeout in seconds                                 env RPELAB_CELL_TIMEOUT (default 3600)
 *   --dir       directory of the notebooks (default notebooks; kernels start in it)
 *   --fail-fast stop at the first failing notebook
 *   --jobs      worker processes for the experiment runs              env RPELAB_JOBS (default: CPU count)
 *   --no-experiments  do not train the experiments first (the notebooks train what is missing, one run at a time)
 *   --no-build  skip `tsc -p tsconfig.json`
 *
 * Unless --only or --no-experiments is given, it first trains every experiment run that is not
 * finished at the scale (`rpelab run all --scale NAME --jobs N`: N runs at once, resumable, a
 * progress line per run), so the experiment notebooks 03-06 only load results.
 * Prints one line per notebook (name, status, wall time) and a summary; exits 1 when any cell
 * failed, naming the notebook and the cell. Kernels inherit the environment, so RPELAB_BACKEND
 * applies too, and get RPELAB_SCALE and RPELAB_REPORTS_DIR (absolute).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { withPlotlyBundle } from '../src/viz/plotly';

const ROOT = path.resolve(__dirname, '..');
const PYTHON = process.env.RPELAB_PYTHON ?? '/usr/bin/python3';

interface Options {
  scale: string;
  only: string[];
  dir: string;
  out: string;
  timeout: number;
  failFast: boolean;
  build: boolean;
  experiments: boolean;
  jobs: number;
}

function usage(msg: string): never {
  console.error(`reproduce: ${msg}`);
  console.error(
    'usage: npm run reproduce -- [--scale NAME] [--only A,B] [--out DIR] [--timeout SEC] [--dir DIR] [--fail-fast] [--jobs N] [--no-experiments] [--no-build]',
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const env = process.env;
  const o: Options = {
    scale: env.RPELAB_SCALE || 'small',
    only: (env.RPELAB_NOTEBOOKS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    dir: 'notebooks',
    out: env.RPELAB_REPORTS_DIR || 'reports',
    timeout: Number(env.RPELAB_CELL_TIMEOUT || 3600),
    failFast: false,
    build: true,
    experiments: true,
    jobs: Number(env.RPELAB_JOBS || os.cpus().length),
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    switch (flag) {
      case '--scale':
        o.scale = value();
        break;
      case '--only':
        o.only = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case '--out':
        o.out = value();
        break;
      case '--dir':
        o.dir = value();
        break;
      case '--timeout':
        o.timeout = Number(value());
        break;
      case '--fail-fast':
        o.failFast = true;
        break;
      case '--no-build':
        o.build = false;
        break;
      case '--no-experiments':
        o.experiments = false;
        break;
      case '--jobs':
        o.jobs = Number(value());
        break;
      case '-h':
      case '--help':
        console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
        process.exit(0);
      default:
        usage(`unknown option '${argv[i]}'`);
    }
  }
  if (!/^[a-z][a-z0-9-]*$/.test(o.scale)) usage(`--scale / RPELAB_SCALE: expected a scale name such as smoke, small or full, got '${o.scale}'`);
  if (!Number.isInteger(o.jobs) || o.jobs <= 0) usage(`--jobs / RPELAB_JOBS: expected a positive integer, got '${o.jobs}'`);
  if (!Number.isInteger(o.timeout) || o.timeout <= 0) usage(`--timeout / RPELAB_CELL_TIMEOUT: expected a positive number of seconds, got '${o.timeout}'`);
  return o;
}

/** Runs one notebook with nbclient and exports it to HTML; prints one JSON line (the result). */
const EXECUTOR = String.raw`
import json, re, sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

a = json.loads(sys.argv[1])
nb = nbformat.read(a["input"], as_version=4)
state = {"cell": None, "count": 0}

def on_start(cell, cell_index):
    state["cell"] = cell_index

def on_executed(cell, cell_index, execute_reply):
    # tslab does not report execution counts; number the cells so the export shows In [n].
    state["count"] += 1
    if cell.get("execution_count") is None:
        cell["execution_count"] = state["count"]

client = NotebookClient(nb, kernel_name=a["kernel"], timeout=a["timeout"], startup_timeout=120,
                        resources={"metadata": {"path": a["cwd"]}},
                        on_cell_start=on_start, on_cell_executed=on_executed)
result = {"status": "ok"}
try:
    client.execute()
except Exception as e:
    i = state["cell"]
    cell = nb.cells[i] if i is not None else None
    err = next((o for o in (cell.outputs if cell is not None and cell.cell_type == "code" else []) if o.output_type == "error"), None)
    if isinstance(e, CellTimeoutError):
        status, ename, evalue = "timeout", "CellTimeoutError", "no reply within %d s" % a["timeout"]
    elif isinstance(e, DeadKernelError):
        status, ename, evalue = "dead kernel", "DeadKernelError", str(e)
    elif err is not None:
        status, ename, evalue = "error", err.get("ename", ""), err.get("evalue", "")
    else:
        # tslab reports errors on stderr with no error output: compile errors as "3:14 - message"
        # lines, runtime errors as Node prints them ("evalmachine...", the line, "Error: message", stack).
        stderr = "".join(o.get("text", "") for o in (cell.outputs if cell is not None else []) if o.get("name") == "stderr").strip()
        compile_errors = [l for l in stderr.splitlines() if re.match(r"^\d+:\d+ - ", l)]
        thrown = next((l for l in stderr.splitlines() if re.match(r"^(?:[A-Za-z_$][\w$]*)?(?:Error|Exception)\b|^Uncaught ", l)), None)
        if compile_errors:
            status, ename, evalue = "error", "TypeScript", "\n".join(compile_errors)
        elif thrown:
            name, _, message = thrown.partition(": ")
            status, ename, evalue = "error", name, message
        else:
            status, ename, evalue = "error", type(e).__name__, stderr or str(e).strip()
    if cell is not None and cell.cell_type == "code" and err is None:
        # Record the failure in the notebook itself, so the saved notebook and its HTML show it.
        cell.outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[ename + ": " + evalue]))
    result = {"status": status, "cell": i, "source": cell.source if cell is not None else "",
              "executionCount": cell.get("execution_count") if cell is not None else None,
              "ename": ename, "evalue": evalue}
nbformat.write(nb, a["output"])
try:
    body, _ = HTMLExporter().from_notebook_node(nb)
    with open(a["html"], "w", encoding="utf-8") as f:
        f.write(body)
except Exception as e:
    result["htmlError"] = "%s: %s" % (type(e).__name__, e)
print("RPELAB_RESULT " + json.dumps(result))
`;

interface NotebookResult {
  notebook: string;
  status: string;
  seconds: number;
  /** 0-based index of the failing cell among all cells, and its In [n] number. */
  cell?: number | null;
  executionCount?: number | null;
  source?: string;
  ename?: string;
  evalue?: string;
  htmlError?: string;
  output: string;
  html: string;
}

/** A path relative to the repo when inside it, else absolute. */
function shown(p: string): string {
  const rel = path.relative(ROOT, p);
  return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}m ${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
}

function selectNotebooks(dir: string, only: string[]): string[] {
  const all = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.ipynb'))
        .sort()
    : [];
  if (all.length === 0) usage(`no notebooks in ${dir}`);
  if (only.length === 0) return all;
  const picked = new Set<string>();
  for (const want of only) {
    const w = want.replace(/\.ipynb$/, '');
    const hits = all.filter((f) => f.replace(/\.ipynb$/, '') === w || f.startsWith(w));
    if (hits.length === 0) usage(`--only / RPELAB_NOTEBOOKS: no notebook matches '${want}'; have ${all.join(', ')}`);
    hits.forEach((h) => picked.add(h));
  }
  return all.filter((f) => picked.has(f));
}

function runNotebook(name: string, o: Options, outDir: string, kernel: string): NotebookResult {
  const base = name.replace(/\.ipynb$/, '');
  const output = path.join(outDir, `${base}.ipynb`);
  const html = path.join(outDir, `${base}.html`);
  const dir = path.resolve(ROOT, o.dir);
  const args = { input: path.join(dir, name), output, html, cwd: dir, kernel, timeout: o.timeout };
  const t0 = Date.now();
  const run = spawnSync(PYTHON, ['-c', EXECUTOR, JSON.stringify(args)], {
    cwd: ROOT,
    env: { ...process.env, RPELAB_SCALE: o.scale, RPELAB_REPORTS_DIR: outDir },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = (Date.now() - t0) / 1000;
  const line = (run.stdout ?? '').split('\n').find((l) => l.startsWith('RPELAB_RESULT '));
  if (!line) {
    const why = run.error ? run.error.message : (run.stderr ?? '').trim().split('\n').slice(-5).join('\n    ');
    return { notebook: name, status: 'error', seconds, ename: 'ExecutorError', evalue: `the executor failed: ${why}`, output, html };
  }
  const result: NotebookResult = { notebook: name, seconds, output, html, ...JSON.parse(line.slice('RPELAB_RESULT '.length)) };
  // The notebook's outputs stand alone (each figure loads plotly.js where it is shown); the HTML
  // export is a file with no server, so it carries plotly.js once.
  if (!result.htmlError && fs.existsSync(html)) {
    try {
      fs.writeFileSync(html, withPlotlyBundle(fs.readFileSync(html, 'utf8')));
    } catch (e) {
      result.htmlError = `embedding plotly.js: ${(e as Error).message}`;
    }
  }
  return result;
}

function describeFailure(r: NotebookResult): string[] {
  const lines: string[] = [];
  const where = r.cell == null ? '' : `cell ${r.cell + 1}${r.executionCount != null ? ` (In [${r.executionCount}])` : ''}`;
  const message = (r.evalue ?? '').split('\n').filter(Boolean);
  lines.push(`    ${r.notebook}${where ? ` ${where}` : ''}: ${r.ename ?? ''}${message.length ? `: ${message[0]}` : ''}`);
  for (const m of message.slice(1, 6)) lines.push(`      ${m}`);
  if (message.length > 6) lines.push(`      ... (${message.length - 6} more lines)`);
  if (r.source) {
    const src = r.source.split('\n');
    for (const s of src.slice(0, 4)) lines.push(`      | ${s}`);
    if (src.length > 4) lines.push(`      | ... (${src.length - 4} more lines)`);
  }
  if (r.status !== 'ok' || r.htmlError) lines.push(`    see ${shown(r.html)}`);
  return lines;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const kernel = process.env.RPELAB_KERNEL || 'tslab';
  const notebooks = selectNotebooks(path.resolve(ROOT, o.dir), o.only);
  const outDir = path.resolve(ROOT, o.out);
  fs.mkdirSync(outDir, { recursive: true });

  if (o.build) {
    const b = spawnSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) {
      console.error('[rpelab] reproduce: the build failed (npx tsc -p tsconfig.json); fix it or pass --no-build');
      process.exit(1);
    }
  }

  const t0 = Date.now();
  let experimentSeconds: number | null = null;
  if (o.experiments && o.only.length === 0) {
    console.log(`[rpelab] reproduce: training every unfinished experiment run at scale ${o.scale} with ${o.jobs} worker(s) (rpelab run all)`);
    const e = spawnSync('npx', ['--no-install', 'tsx', 'src/cli.ts', 'run', 'all', '--scale', o.scale, '--jobs', String(o.jobs)], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    experimentSeconds = (Date.now() - t0) / 1000;
    if (e.status !== 0) {
      console.error(
        `[rpelab] reproduce: \`rpelab run all --scale ${o.scale}\` failed (exit ${e.status ?? e.signal}); run it again to resume, or pass --no-experiments`,
      );
      process.exit(1);
    }
    console.log(`[rpelab] reproduce: experiments done in ${formatSeconds(experimentSeconds)}`);
  }
  console.log(`[rpelab] reproduce: ${notebooks.length} notebook(s), scale ${o.scale}, cell timeout ${o.timeout} s, output ${shown(outDir)}/`);
  const results: NotebookResult[] = [];
  const tNotebooks = Date.now();
  const width = Math.max(...notebooks.map((n) => n.length));
  for (const [i, name] of notebooks.entries()) {
    process.stdout.write(`[${i + 1}/${notebooks.length}] ${name.padEnd(width)}  `);
    const r = runNotebook(name, o, outDir, kernel);
    results.push(r);
    const status =
      r.status === 'ok' ? (r.htmlError ? 'ok (HTML export failed)' : 'ok') : `FAILED (${r.status}${r.cell != null ? ` in cell ${r.cell + 1}` : ''})`;
    process.stdout.write(`${status.padEnd(12)} ${formatSeconds(r.seconds)}\n`);
    if (r.status !== 'ok' || r.htmlError) {
      for (const l of describeFailure(r)) console.log(l);
      if (r.htmlError) console.log(`    HTML export: ${r.htmlError}`);
    }
    if (r.status !== 'ok' && o.failFast) break;
  }
  const total = (Date.now() - t0) / 1000;
  const notebookSeconds = (Date.now() - tNotebooks) / 1000;
  fs.writeFileSync(
    path.join(outDir, 'reproduce-summary.json'),
    JSON.stringify(
      { scale: o.scale, cellTimeoutSec: o.timeout, jobs: o.jobs, experimentSeconds, notebookSeconds, totalSeconds: total, notebooks: results },
      null,
      2,
    ) + '\n',
  );
  const failed = results.filter((r) => r.status !== 'ok' || r.htmlError);
  const skipped = notebooks.length - results.length;
  console.log(
    `[rpelab] reproduce (scale ${o.scale}): ${results.length - failed.length} ok, ${failed.length} failed` +
      `${skipped ? `, ${skipped} not run` : ''} in ${formatSeconds(total)}` +
      `${experimentSeconds !== null ? ` (experiments ${formatSeconds(experimentSeconds)}, notebooks ${formatSeconds(notebookSeconds)})` : ''}; executed notebooks and HTML in ${shown(outDir)}/`,
  );
  if (failed.length) {
    console.log('[rpelab] failures:');
    for (const r of failed) console.log(describeFailure(r)[0]);
    process.exit(1);
  }
}

main();
