import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../src/cli';
import { getExperiment } from '../../src/experiments';

const ROOT = path.resolve(__dirname, '..', '..');

/** Runs `rpelab ...` through tsx in a child process (for the worker processes of --jobs). */
function spawnRpelab(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src', 'cli.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever happens. */
async function inTempDir<T>(prefix: string, fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `rpelab ...` in this process, capturing what it prints. */
async function rpelab(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [w1, w2] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => out.push(String(s)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

describe('experiments: the rpelab command line', function () {
  this.timeout(150000);

  it('list names every experiment; --help explains the commands', async () => {
    const r = await rpelab('list');
    assert.equal(r.code, 0, r.err);
    for (const n of ['lrpe-alm', 'spe-lra-retrieval', 'extrapolation-midi', 'pe-quality']) assert.match(r.out, new RegExp(`^${n} `, 'm'));
    assert.match((await rpelab('--help')).out, /rpelab run <experiment\|all>/);
    assert.match((await rpelab('list', 'spe-lra-text')).out, /relu-convspe\s+linear:relu\+spe\(conv,P=\{P\},R=\{R\},gated\)/);
  });

  it('a bad request exits 1 with the valid choices, before any training', async () => {
    const r = await rpelab('run', 'lrpe-alm', '--only', 'foo', '--scale', 'smoke');
    assert.equal(r.code, 1);
    assert.match(r.err, /unknown variant 'foo'.*nope, ape-sinusoidal/);
    assert.doesNotMatch(r.out, /backend:/, 'refused before selecting a backend');
    assert.match((await rpelab('run', 'lrpe-alm', '--seeds', '0,x')).err, /seeds: expected non-negative integers/);
    assert.match((await rpelab('report', 'all', '--format', 'xml')).err, /expected one of table, csv, json/);
    assert.match((await rpelab('run', 'lrpe-alm', '--colour', 'red')).err, /unknown option '--colour'/);
    assert.match((await rpelab('report', 'lrpe-alm', '--only', 'foo')).err, /only: unknown variant 'foo'; expected some of nope, /);
    assert.match((await rpelab('run', 'lrpe-alm', '--set', 'schedule=5')).err, /lrpe-alm\.scales\.small\+schedule=5\.schedule: expected a schedule object/);
    assert.match((await rpelab('run', 'spe-lra-listops', '--set', 'listopsDepth=0.5')).err, /listopsDepth: expected an integer >= 1, got 0\.5/);
    assert.match(
      (await rpelab('report', 'claims', '--format', 'csv')).err,
      /format: unknown format 'csv' for the claims ledger; expected one of table, markdown, json/,
    );
  });

  it('run --jobs 2 trains runs in worker processes; running again skips them; report shows the table', async () => {
    await inTempDir('rpelab-cli-', async (dir) => {
      const backend = process.env.RPELAB_BACKEND ?? 'wasm';
      // Three runs on two workers: one worker trains two of them in the same process.
      const args = ['lrpe-alm', '--scale', 'smoke', '--only', 'nope,lrpe-rotation,rope', '--set', 'steps=2', '--backend', backend, '--results', dir];
      const r = spawnRpelab('run', ...args, '--jobs', '2');
      assert.equal(r.code, 0, r.err);
      for (const v of ['nope', 'lrpe-rotation', 'rope']) {
        assert.match(r.out, new RegExp(`\\[lrpe-alm/${v}/seed-0\\] -> val_nll`), v);
        assert.ok(fs.existsSync(path.join(dir, 'lrpe-alm', 'smoke+steps=2', v, 'seed-0', 'summary.json')), v);
      }
      assert.doesNotMatch(r.out, /@@rpelab-worker-done/, "the workers' protocol lines are not printed");
      assert.doesNotMatch(r.out, /\] 1 run\(s\) planned/, "nor each worker's plan line");
      const again = await rpelab('run', ...args);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /0 run\(s\) trained, 3 already finished/);
      const rep = await rpelab('report', 'lrpe-alm', '--scale', 'smoke', '--set', 'steps=2', '--results', dir);
      assert.equal(rep.code, 0, rep.err);
      const rows = Object.keys(getExperiment('lrpe-alm').variants).length;
      assert.match(rep.out, new RegExp(`scale smoke\\+steps=2 · seeds 0 · 3/${rows} runs finished`));
      assert.match(rep.out, /^NoPE\s+\d+\.\d+ \(n=1\)\s+\d+\.\d+ \(n=1\)/m);
      assert.match(r.out, /\[sweep\] 3\/3 run\(s\) done; elapsed \S+, ETA 0s/, 'a whole-sweep progress line with an ETA');
    });
  });

  it('run --jobs replaces a worker by a fresh process at the next experiment, and every run still finishes', async () => {
    await inTempDir('rpelab-cli-next-', async (dir) => {
      const backend = process.env.RPELAB_BACKEND ?? 'wasm';
      // Four runs on two workers: the lrpe-blm runs go to workers that trained an lrpe-alm run.
      const r = spawnRpelab(
        'run',
        'lrpe-alm,lrpe-blm',
        '--scale',
        'smoke',
        '--only',
        'nope,rope',
        '--set',
        'steps=1',
        '--backend',
        backend,
        '--results',
        dir,
        '--jobs',
        '2',
      );
      assert.equal(r.code, 0, r.err);
      for (const e of ['lrpe-alm', 'lrpe-blm'])
        for (const v of ['nope', 'rope']) assert.ok(fs.existsSync(path.join(dir, e, 'smoke+steps=1', v, 'seed-0', 'summary.json')), `${e}/${v}`);
      assert.match(r.out, /\[sweep\] 4\/4 run\(s\) done/);
    });
  });

  it('rpelab worker trains one run per stdin line, answers each with its exit code, and names a bad request', async () => {
    await inTempDir('rpelab-worker-', async (dir) => {
      const backend = process.env.RPELAB_BACKEND ?? 'wasm';
      const jobs = [
        { experiment: 'lrpe-alm', variant: 'nope', seed: 0 },
        { experiment: 'lrpe-alm', variant: 'no-such-row', seed: 0 },
        { experiment: 'lrpe-alm', variant: 'rope', seed: 0 },
      ];
      const r = spawnSync(
        process.execPath,
        [
          require.resolve('tsx/cli'),
          path.join(ROOT, 'src', 'cli.ts'),
          'worker',
          '--scale',
          'smoke',
          '--set',
          'steps=1',
          '--backend',
          backend,
          '--results',
          dir,
        ],
        { cwd: ROOT, encoding: 'utf8', timeout: 120000, input: jobs.map((j) => JSON.stringify(j)).join('\n') + '\n' },
      );
      assert.equal(r.status, 0, r.stderr);
      const codes = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('@@rpelab-worker-done'))
        .map((l) => Number(l.split(' ')[1]));
      assert.deepEqual(codes, [0, 1, 0], r.stdout);
      assert.match(r.stderr, /only: unknown variant 'no-such-row'/);
      for (const v of ['nope', 'rope']) assert.ok(fs.existsSync(path.join(dir, 'lrpe-alm', 'smoke+steps=1', v, 'seed-0', 'summary.json')), v);
      // A run trained after another one in the same process gives what it gives in a process of its own.
      await inTempDir('rpelab-worker-alone-', async (alone) => {
        const r2 = spawnRpelab('run', 'lrpe-alm', '--scale', 'smoke', '--only', 'rope', '--set', 'steps=1', '--backend', backend, '--results', alone);
        assert.equal(r2.code, 0, r2.err);
        const metrics = (root: string) =>
          JSON.parse(fs.readFileSync(path.join(root, 'lrpe-alm', 'smoke+steps=1', 'rope', 'seed-0', 'summary.json'), 'utf8')).metrics;
        assert.deepEqual(metrics(dir), metrics(alone));
      });
    });
  });

  it('--shard i/n: three shard processes together train exactly the runs of the unsharded plan, none twice', async () => {
    await inTempDir('rpelab-shard-', async (dir) => {
      const backend = process.env.RPELAB_BACKEND ?? 'wasm';
      const args = [
        'lrpe-alm',
        '--scale',
        'smoke',
        '--only',
        'nope,rope,lrpe-rotation',
        '--seeds',
        '0,1',
        '--set',
        'steps=1',
        '--backend',
        backend,
        '--results',
        dir,
      ];
      const spawnAsync = (shard: string) =>
        new Promise<{ code: number; out: string }>((resolve) => {
          const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src', 'cli.ts'), 'run', ...args, '--shard', shard], {
            cwd: ROOT,
          });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d));
          child.stderr.on('data', (d: Buffer) => (out += d));
          child.on('close', (code: number | null) => resolve({ code: code ?? -1, out }));
        });
      const shards = await Promise.all(['1/3', '2/3', '3/3'].map(spawnAsync));
      for (const r of shards) assert.equal(r.code, 0, r.out);
      const trained = shards.map((r) => [...r.out.matchAll(/^\[\d+\/\d+\] lrpe-alm\/(\S+) seed (\d+) \(/gm)].map((m) => `${m[1]}/${m[2]}`));
      const all = trained.flat().sort();
      const expected = ['nope', 'rope', 'lrpe-rotation'].flatMap((v) => [0, 1].map((sd) => `${v}/${sd}`)).sort();
      assert.deepEqual(all, expected, 'every run exactly once over the shards');
      for (const t of trained) assert.equal(t.length, 2, 'round-robin: two runs per shard');
      const rep = await rpelab('report', 'lrpe-alm', '--scale', 'smoke', '--set', 'steps=1', '--only', 'nope,rope,lrpe-rotation', '--results', dir);
      assert.match(rep.out, /^NoPE\s+\d+\.\d+ ± \d+\.\d+ \(n=2\)/m, 'the report reads what every shard wrote');
      assert.match((await rpelab('run', 'lrpe-alm', '--shard', '4/3')).err, /shard: expected i\/n with 1 <= i <= n, like 2\/3; got '4\/3'/);
    });
  });
});
