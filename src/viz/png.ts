/**
 * PNG export of a figure (for README images), offline: headless Chromium (Debian's `chromium`)
 * opens a page holding plotly.js-dist and the figure, and takes a screenshot of it.
 * Install Chromium with `bash scripts/setup-jupyter.sh --with-chromium` or set RPELAB_CHROMIUM.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFile } from 'child_process';
import { pathToFileURL } from 'url';
import { figure, figureHtml, plotlyBundlePath, type Figure } from './plotly';
import { assertInt } from '../backend/checks';

/** Flags for a headless Chromium that touches no network and no profile but a fresh one. */
export const HEADLESS_CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--hide-scrollbars',
];

/** The Chromium executable: `explicit`, else $RPELAB_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH. */
export function findChromium(explicit?: string): string {
  const candidates = explicit ? [explicit] : process.env.RPELAB_CHROMIUM ? [process.env.RPELAB_CHROMIUM] : ['chromium', 'chromium-browser', 'google-chrome'];
  for (const c of candidates) {
    if (c.includes('/')) {
      if (isExecutable(c)) return c;
      continue;
    }
    for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
      const p = path.join(dir, c);
      if (isExecutable(p)) return p;
    }
  }
  throw new Error(
    `chromium: no Chromium found (tried ${candidates.join(', ')}); run \`bash scripts/setup-jupyter.sh --with-chromium\` ` +
      '(Debian: apt-get install chromium) or set RPELAB_CHROMIUM to its path',
  );
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Runs headless Chromium with the standard flags plus `args`, in a fresh profile; resolves with its stdout. */
export function runHeadlessChromium(args: string[], opts: { chromium?: string; timeoutMs?: number } = {}): Promise<string> {
  const exe = findChromium(opts.chromium);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-chromium-'));
  return new Promise<string>((resolve, reject) => {
    execFile(
      exe,
      [...HEADLESS_CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args],
      { timeout: opts.timeoutMs ?? 60000, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        fs.rmSync(profile, { recursive: true, force: true });
        if (err) reject(new Error(`chromium: ${exe} failed (${err.message.split('\n')[0]}): ${String(stderr).trim().split('\n').slice(-3).join(' | ')}`));
        else resolve(String(stdout));
      },
    );
  });
}

/** Options of `toPng`. */
export interface PngOptions {
  /** Image width and height in CSS px (default: the figure's layout width / height, else 800 x 500). */
  width?: number;
  height?: number;
  /** Device pixel ratio (default 2, for sharp README images). */
  scale?: number;
  chromium?: string;
  timeoutMs?: number;
}

/**
 * Writes `fig` as a PNG to `file` (directories are created) and resolves with its path.
 * The figure is drawn static (no mode bar) on a white page of exactly the image size.
 */
export async function toPng(fig: Figure, file: string, opts: PngOptions = {}): Promise<string> {
  const f = figure(fig);
  const width = opts.width ?? (typeof f.layout.width === 'number' ? f.layout.width : 800);
  const height = opts.height ?? (typeof f.layout.height === 'number' ? f.layout.height : 500);
  assertInt(width, 'width');
  assertInt(height, 'height');
  const scale = opts.scale ?? 2;
  if (!(scale > 0)) throw new Error(`scale: expected a positive device pixel ratio, got ${scale}`);
  const out = path.resolve(file);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-png-'));
  try {
    const page = path.join(dir, 'figure.html');
    const staticFig: Figure = { ...f, layout: { ...f.layout, width, height }, config: { ...f.config, staticPlot: true, responsive: false } };
    fs.writeFileSync(
      page,
      `<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0;background:#fff;}</style>` +
        `<script src="${pathToFileURL(plotlyBundlePath()).href}"></script></head><body>` +
        figureHtml(staticFig, { id: 'figure' }) +
        `</body></html>`,
    );
    await runHeadlessChromium(
      [
        `--window-size=${width},${height}`,
        `--force-device-scale-factor=${scale}`,
        '--virtual-time-budget=15000',
        '--allow-file-access-from-files',
        `--screenshot=${out}`,
        pathToFileURL(page).href,
      ],
      opts,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (!fs.existsSync(out) || fs.statSync(out).size === 0) throw new Error(`file: chromium wrote no screenshot to ${out}`);
  return out;
}
