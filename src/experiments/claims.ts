/**
 * The claims ledger: each claim of the two papers as one sentence, where the paper makes it, the
 * experiment rows that test it, the statistic, and a verdict computed from the finished runs
 * (or, for the claims that need no training, from an exact check run on the spot).
 *
 * Verdicts:
 * - supported: every comparison's 95 % interval lies on the claimed side (for "better": the
 *   improvement is above 0; for "equivalent": inside ±margin; for exact checks: the property
 *   holds within its stated tolerance).
 * - contradicted: some comparison's interval lies entirely on the other side.
 * - inconclusive: neither; the reason says which (an interval that contains 0, a task at chance,
 *   fewer than two finished seeds).
 * - not testable offline: the claim needs data or an experiment that cannot exist offline.
 * - not run: the rows it needs have no finished runs at this scale (or no experiment exists yet).
 *
 * Nothing here is typed in: every number comes from `collectReport` or an exact check.
 * Intervals: per-seed differences paired by seed (the seed fixes data order and held-out sets),
 * Welch's interval when the seeds do not overlap; t quantiles from stdlib (`stats.ts`).
 */
import type { ExperimentReport } from './report';
import { collectReport } from './report';
import { getExperiment } from './registry';
import { seedDifference, formatStatistic as fmt, type Interval } from './stats';
import { CLAIMS, VERDICTS, type Verdict, type Comparison, type ClaimDefinition } from './claim-list';

export { CLAIMS, VERDICTS, claimRows } from './claim-list';
export type { Verdict, Comparison, ExactCheck, ExactOutcome, ClaimDefinition } from './claim-list';

/** Chance accuracy (%) of the classification experiments: a balanced two-class task, or ten classes. */
const CHANCE: Record<string, number> = {
  'lrpe-imdb': 50,
  'lrpe-mnist': 10,
  'lrpe-fashion-mnist': 10,
  'spe-lra-text': 50,
  'spe-lra-retrieval': 50,
  'spe-lra-image': 10,
  'spe-lra-listops': 10,
};

/** A task counts as "at chance" when its best row is less than this many points above chance. */
export const CHANCE_MARGIN = 15;

/** Chance accuracy (%) of a classification experiment, or undefined for the others. */
export function chanceAccuracy(experiment: string): number | undefined {
  return CHANCE[experiment];
}

/** The result of one comparison. */
export interface ComparisonResult {
  comparison: Comparison;
  treatmentLabel: string;
  baselineLabel: string;
  /** Improvement of the treatment over the baseline (positive = better), with its interval; null when not computable. */
  interval: Interval | null;
  /** Mean of the baseline's (derived) metric over its finished seeds (null without any), the scale of a relative plot. */
  baselineMean: number | null;
  /** Seeds finished per side, and diverged runs per side. */
  n: [number, number];
  diverged: [number, number];
  verdict: Verdict;
  reason: string;
}

export interface ClaimResult {
  claim: ClaimDefinition;
  verdict: Verdict;
  reason: string;
  comparisons: ComparisonResult[];
  /** Exact checks: their lines. */
  lines: string[];
}

export interface Ledger {
  scale: string;
  claims: ClaimResult[];
  /** Counts per verdict. */
  counts: Record<Verdict, number>;
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/** Per-seed values of a (possibly derived) metric of a row of a report. */
function seedValues(report: ExperimentReport, variant: string, c: Comparison): Record<number, number> {
  const row = report.rows.find((r) => r.variant === variant);
  if (!row) throw new Error(`${c.experiment}: unknown variant '${variant}' in a claim; expected one of ${report.rows.map((r) => r.variant).join(', ')}`);
  const a = row.values[c.metric] ?? {};
  if (!c.minus) return a;
  const b = row.values[c.minus] ?? {};
  return Object.fromEntries(
    Object.keys(a)
      .filter((s) => s in b)
      .map((s) => [s, a[Number(s)] - b[Number(s)]]),
  );
}

function divergedRuns(report: ExperimentReport, variant: string): number {
  return report.rows.find((r) => r.variant === variant)?.runs.filter((x) => x.status === 'diverged').length ?? 0;
}

/** The best row's mean accuracy of a classification report, or null. */
function bestMean(report: ExperimentReport, metric: string): number | null {
  const means = report.rows.map((r) => r.cells[metric]?.mean).filter((m): m is number => typeof m === 'number');
  return means.length ? Math.max(...means) : null;
}

/**
 * The verdict of one comparison from a report of its experiment. Pure: the logic the tests
 * check on synthetic results.
 */
export function judgeComparison(c: Comparison, report: ExperimentReport): ComparisonResult {
  const def = report.metrics.find((m) => m.name === c.metric);
  if (!def) throw new Error(`${c.experiment}: unknown metric '${c.metric}' in a claim; expected one of ${report.metrics.map((m) => m.name).join(', ')}`);
  const better = c.better ?? def.better;
  const label = (v: string) => report.rows.find((r) => r.variant === v)?.label ?? v;
  const t = seedValues(report, c.treatment, c);
  const b = seedValues(report, c.baseline, c);
  const n: [number, number] = [Object.keys(t).length, Object.keys(b).length];
  const diverged: [number, number] = [divergedRuns(report, c.treatment), divergedRuns(report, c.baseline)];
  const bValues = Object.values(b);
  const baselineMean = bValues.length ? bValues.reduce((x, y) => x + y, 0) / bValues.length : null;
  const base = { comparison: c, treatmentLabel: label(c.treatment), baselineLabel: label(c.baseline), baselineMean, n, diverged };
  const lost = diverged[0] + diverged[1] > 0 ? `; diverged runs: ${diverged[0]} of the treatment, ${diverged[1]} of the baseline` : '';
  if (n[0] === 0 || n[1] === 0) {
    const who = n[0] === 0 ? c.treatment : c.baseline;
    const finished = report.rows.find((r) => r.variant === who)?.runs.some((x) => x.status === 'finished') ?? false;
    const metric = c.minus ? `${c.metric} − ${c.minus}` : c.metric;
    // Finished runs without the metric: this scale does not measure it (e.g. quick tests extrapolation to 4x, the claim compares at 8x).
    const reason = finished ? `the finished runs of ${label(who)} have no ${metric}: not measured at this scale` : `no finished run of ${label(who)}`;
    return { ...base, interval: null, verdict: 'not run', reason: `${reason}${lost}` };
  }
  const chance = CHANCE[c.experiment];
  if (chance !== undefined) {
    const best = bestMean(report, c.metric);
    if (best !== null && best < chance + CHANCE_MARGIN) {
      return {
        ...base,
        interval: null,
        verdict: 'inconclusive',
        reason: `at chance: the best row reaches ${fmt(best)} % against chance ${chance} % (needs ${chance + CHANCE_MARGIN} %)${lost}`,
      };
    }
  }
  // Improvement = treatment − baseline for higher-is-better metrics, baseline − treatment otherwise.
  const raw = better === 'higher' ? seedDifference(t, b) : seedDifference(b, t);
  if (raw === null) {
    return { ...base, interval: null, verdict: 'inconclusive', reason: `fewer than 2 finished seeds (${n[0]} and ${n[1]})${lost}` };
  }
  const iv = raw;
  const where = `improvement ${fmt(iv.estimate)} [${fmt(iv.lo)}, ${fmt(iv.hi)}]`;
  if (c.expect === 'better') {
    if (iv.lo > 0) return { ...base, interval: iv, verdict: 'supported', reason: `${where} excludes 0${lost}` };
    if (iv.hi < 0) return { ...base, interval: iv, verdict: 'contradicted', reason: `${where}: the baseline is better${lost}` };
    return { ...base, interval: iv, verdict: 'inconclusive', reason: `${where} contains 0${lost}` };
  }
  const margin = c.margin ?? 0.02;
  const delta = margin * Math.abs(baselineMean!);
  const band = `±${fmt(delta)} (${fmt(margin * 100)} % of the baseline)`;
  if (iv.lo > -delta && iv.hi < delta) return { ...base, interval: iv, verdict: 'supported', reason: `${where} inside ${band}${lost}` };
  if (iv.lo > delta || iv.hi < -delta) return { ...base, interval: iv, verdict: 'contradicted', reason: `${where} entirely outside ${band}${lost}` };
  return { ...base, interval: iv, verdict: 'inconclusive', reason: `${where} overlaps the edge of ${band}${lost}` };
}

/** A claim's verdict from its comparisons' verdicts. */
export function combineVerdicts(results: ComparisonResult[]): { verdict: Verdict; reason: string } {
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  const total = results.length;
  if (total === 0) throw new Error('comparisons: a claim needs at least one comparison');
  if (count('not run') === total) {
    const unmeasured = results.find((r) => r.reason.startsWith('the finished runs of'));
    return { verdict: 'not run', reason: unmeasured ? unmeasured.reason : 'no finished runs of its rows at this scale' };
  }
  const tally = VERDICTS.filter((v) => count(v) > 0)
    .map((v) => `${count(v)} ${v}`)
    .join(', ');
  if (count('contradicted') > 0) return { verdict: 'contradicted', reason: `${count('contradicted')} of ${total} comparisons contradict it (${tally})` };
  if (count('supported') === total) return { verdict: 'supported', reason: `all ${total} comparisons support it` };
  const atChance = results.filter((r) => r.reason.startsWith('at chance'));
  if (atChance.length > 0 && atChance.length + count('not run') === total)
    return { verdict: 'inconclusive', reason: `at chance: ${atChance[0].reason.slice('at chance: '.length)}` };
  return { verdict: 'inconclusive', reason: `${tally}` };
}

// ---------------------------------------------------------------------------------------------
// Evaluation and formatting

/** Checks the ledger's definitions against the experiment registry (experiments, variants, metrics). */
export function validateClaims(claims: ClaimDefinition[] = CLAIMS): void {
  const ids = new Set<string>();
  for (const c of claims) {
    if (ids.has(c.id)) throw new Error(`claims: duplicate id '${c.id}'`);
    ids.add(c.id);
    const kinds = [c.comparisons?.length ? 1 : 0, c.exact ? 1 : 0, c.untestable ? 1 : 0, c.notRun ? 1 : 0].reduce((a, b) => a + b, 0);
    if (kinds !== 1) throw new Error(`claims.${c.id}: expected exactly one of comparisons, exact, untestable or notRun`);
    for (const cmp of c.comparisons ?? []) {
      const def = getExperiment(cmp.experiment);
      for (const v of [cmp.treatment, cmp.baseline]) {
        if (!(v in def.variants))
          throw new Error(`claims.${c.id}: experiment '${cmp.experiment}' has no variant '${v}'; expected one of ${Object.keys(def.variants).join(', ')}`);
      }
      for (const m of [cmp.metric, ...(cmp.minus ? [cmp.minus] : [])]) {
        if (!def.metrics.some((d) => d.name === m))
          throw new Error(`claims.${c.id}: experiment '${cmp.experiment}' has no metric '${m}'; expected one of ${def.metrics.map((d) => d.name).join(', ')}`);
      }
    }
  }
}

/** The experiments the ledger reads. */
export function claimExperiments(claims: ClaimDefinition[] = CLAIMS): string[] {
  return [...new Set(claims.flatMap((c) => (c.comparisons ?? []).map((x) => x.experiment)))];
}

/**
 * Computes every claim's verdict at `scale` from the runs on disk (and the exact checks).
 * @param opts.exact run the exact checks (default true; a few seconds)
 * @param opts.reports reports to use instead of reading the results directory (tests)
 */
export async function collectClaims(
  scale: string,
  opts: { resultsDir?: string; exact?: boolean; claims?: ClaimDefinition[]; reports?: Record<string, ExperimentReport> } = {},
): Promise<Ledger> {
  const claims = opts.claims ?? CLAIMS;
  validateClaims(claims);
  const reports: Record<string, ExperimentReport> = { ...opts.reports };
  const report = (name: string) => (reports[name] ??= collectReport(getExperiment(name), scale, { resultsDir: opts.resultsDir }));
  const results: ClaimResult[] = [];
  for (const claim of claims) {
    if (claim.untestable) results.push({ claim, verdict: 'not testable offline', reason: claim.untestable, comparisons: [], lines: [] });
    else if (claim.notRun) results.push({ claim, verdict: 'not run', reason: claim.notRun, comparisons: [], lines: [] });
    else if (claim.exact) {
      if (opts.exact === false) results.push({ claim, verdict: 'not run', reason: 'exact checks skipped (exact: false)', comparisons: [], lines: [] });
      else {
        const o = await claim.exact.run();
        results.push({ claim, verdict: o.verdict, reason: `${o.reason}. Check: ${claim.exact.describe}`, comparisons: [], lines: o.lines });
      }
    } else {
      const comparisons = claim.comparisons!.map((c) => judgeComparison(c, report(c.experiment)));
      results.push({ claim, ...combineVerdicts(comparisons), comparisons, lines: [] });
    }
  }
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, results.filter((r) => r.verdict === v).length])) as Record<Verdict, number>;
  return { scale, claims: results, counts };
}

function comparisonLine(r: ComparisonResult): string {
  const c = r.comparison;
  const metric = c.minus ? `${c.metric} − ${c.minus}` : c.metric;
  const what = c.expect === 'better' ? `${r.treatmentLabel} better than ${r.baselineLabel}` : `${r.treatmentLabel} ≈ ${r.baselineLabel}`;
  const iv = r.interval;
  const stat = iv
    ? `${fmt(iv.estimate)} [${fmt(iv.lo)}, ${fmt(iv.hi)}] (${iv.method}, n ${Array.isArray(iv.n) ? iv.n.join('+') : iv.n})`
    : `n ${r.n[0]}/${r.n[1]}`;
  return `${r.verdict.padEnd(12)} ${c.experiment} ${metric}: ${what}: ${stat}; ${r.reason}`;
}

/** The ledger as text (one block per claim) or markdown (a table and the comparisons) or JSON. */
export function formatLedger(ledger: Ledger, format: 'table' | 'markdown' | 'json' = 'table'): string {
  if (format === 'json') {
    return JSON.stringify(
      { ...ledger, claims: ledger.claims.map((r) => ({ ...r, claim: { ...r.claim, exact: r.claim.exact ? r.claim.exact.describe : undefined } })) },
      null,
      2,
    );
  }
  const counts = VERDICTS.map((v) => `${ledger.counts[v]} ${v}`).join(', ');
  if (format === 'markdown') {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    const out = [`Claims ledger at scale ${ledger.scale}: ${counts}.`, '', '| claim | where | verdict | why |', '|---|---|---|---|'];
    for (const r of ledger.claims) out.push(`| ${esc(r.claim.claim)} | ${esc(r.claim.where)} | **${r.verdict}** | ${esc(r.reason)} |`);
    return out.join('\n');
  }
  const out = [`Claims ledger at scale ${ledger.scale}: ${counts}`, 'Improvement = treatment better than baseline (positive), 95 % t interval over seeds.', ''];
  for (const r of ledger.claims) {
    out.push(`[${r.verdict.toUpperCase()}] ${r.claim.id} (${r.claim.paper}): ${r.claim.claim}`);
    out.push(`  where: ${r.claim.where}`);
    out.push(`  why: ${r.reason}`);
    for (const c of r.comparisons) out.push(`    ${comparisonLine(c)}`);
    for (const l of r.lines) out.push(`    ${l}`);
    out.push('');
  }
  return out.join('\n').trimEnd();
}
