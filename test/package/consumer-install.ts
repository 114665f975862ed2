/**
 * rpelab as another project's dependency: `npm pack`, then `npm install <tarball>` into a new
 * project (from the npm registry and cache; the optional notebook stack, danfojs-node and
 * plotly.js-dist, may fail to install there: danfojs-node names an xlsx tarball by URL and
 * depends on @tensorflow/tfjs-node), then run the README's example there, exactly as the README
 * shows it (the code blocks after `<!-- consumer: esm -->` and `<!-- consumer: cjs -->`), as an ES
 * module and as CommonJS in plain Node. Checks that the install succeeds, that both examples give
 * the documented shapes, and that a missing optional package gives a clear error; prints the
 * install's wall time and size. One summary line for `npm test` (RPELAB_TEST_SUMMARY).
 *   npx tsx test/package/consumer-install.ts [--keep]
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-consumer-'));
const keep = process.argv.includes('--keep');
const failures: string[] = [];
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });

/** The last line of `out` that is a JSON object. */
function lastJson(out: string): Record<string, unknown> {
  const line = out
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (!line) throw new Error(`expected a line of JSON in the output, got: ${out.slice(-500)}`);
  return JSON.parse(line);
}

/** Bytes on disk under `dir` (files, not links) and the number of installed packages (folders with a package.json right under a node_modules or a scope). */
function installedSize(dir: string): { bytes: number; packages: number } {
  let bytes = 0;
  let packages = 0;
  const walk = (d: string, depthInModules: number) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) continue;
      if (e.isDirectory()) {
        const isPackage = depthInModules === 0 && !e.name.startsWith('@') && !e.name.startsWith('.') && fs.existsSync(path.join(p, 'package.json'));
        if (isPackage) packages++;
        walk(p, e.name === 'node_modules' ? 0 : depthInModules === 0 && e.name.startsWith('@') ? 0 : depthInModules + 1);
      } else bytes += fs.statSync(p).size;
    }
  };
  walk(dir, 0);
  return { bytes, packages };
}

try {
  const packed = run('npm', ['pack', '--silent', '--pack-destination', dir], root).trim().split('\n').pop()!;
  const project = path.join(dir, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  console.log(`[consumer] npm install ${packed} into a new project (${project})`);
  const t0 = Date.now();
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, packed)], project);
  const seconds = (Date.now() - t0) / 1000;
  const { bytes, packages } = installedSize(path.join(project, 'node_modules'));
  console.log(
    `[consumer] installed in ${seconds.toFixed(1)} s: node_modules ${(bytes / 2 ** 20).toFixed(0)} MiB in ${packages} packages ` +
      `(tarball ${(fs.statSync(path.join(dir, packed)).size / 2 ** 20).toFixed(1)} MiB)`,
  );

  // The README's example, as an ES module and as CommonJS.
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  for (const [kind, file] of [
    ['esm', 'use.mjs'],
    ['cjs', 'use.cjs'],
  ] as const) {
    const block = readme.match(new RegExp(`<!-- consumer: ${kind} -->\\s*\`\`\`js\\n([\\s\\S]*?)\`\`\``));
    if (!block) {
      failures.push(`README.md has no js code block after <!-- consumer: ${kind} -->`);
      continue;
    }
    fs.writeFileSync(path.join(project, file), block[1]);
    const last = lastJson(run('node', [file], project));
    console.log(`[consumer] node ${file} (the README's ${kind === 'esm' ? 'ES module' : 'CommonJS'} example): ${JSON.stringify(last)}`);
    if (JSON.stringify(last.layer) !== '[1,8,16]') failures.push(`${file}: layer output shape ${JSON.stringify(last.layer)}, expected [1,8,16]`);
    if (JSON.stringify(last.logits) !== '[1,8,32]') failures.push(`${file}: CausalLM logits shape ${JSON.stringify(last.logits)}, expected [1,8,32]`);
  }

  // Without danfojs-node (which cannot install offline), tables say which package is missing.
  fs.writeFileSync(
    path.join(project, 'tables.cjs'),
    `const rpelab = require('rpelab');\nlet tables;\ntry { rpelab.dataFrame([{ a: 1 }]); tables = 'available'; } catch (e) { tables = e.message; }\nconsole.log(JSON.stringify({ tables }));\n`,
  );
  const tables = String(lastJson(run('node', ['tables.cjs'], project)).tables);
  console.log(`[consumer] tables: ${tables}`);
  if (tables !== 'available' && !/danfojs-node, an optional dependency of rpelab/.test(tables))
    failures.push(`without danfojs-node, tables should say so by name; got: ${tables}`);
} catch (e) {
  const err = e as { message: string; stderr?: string; stdout?: string };
  failures.push(`${err.message.split('\n')[0]}\n${(err.stderr ?? '').split('\n').slice(-15).join('\n')}`);
} finally {
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
}
const summary = process.env.RPELAB_TEST_SUMMARY;
if (summary)
  fs.appendFileSync(
    summary,
    JSON.stringify({ backend: 'consumer install', passed: failures.length ? 0 : 1, failed: failures.length ? 1 : 0, skipped: 0 }) + '\n',
  );
if (failures.length) {
  console.error(`[consumer] FAILED:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('[consumer] ok: rpelab installs into a new project and runs without the notebook stack');
