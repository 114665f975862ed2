/**
 * LRA ListOps (Tay et al. 2021, after Nangia & Bowman 2018), generated: no package ships the data.
 * This follows the recipe of LRA's `lra_benchmarks/data/listops.py` (Apache-2.0), re-written here:
 *
 * - A node is an operator applied to 2..maxArgs arguments: `[MIN`, `[MAX`, `[MED` (median; for an
 *   even count the mean of the two middle values rounded down, as `int(np.median(...))`), `[SM`
 *   (sum mod 10); it is closed by `]`. Values are the digits 0..9.
 * - Tree generation from the root at depth 1: at depth < maxDepth an argument is a new subtree with
 *   probability `subtreeProb` (0.25), otherwise (and always at maxDepth) a uniform digit. A subtree
 *   draws its argument count uniformly in 2..maxArgs, then its arguments, then its operator.
 * - A tree is kept when minLength < (number of tokens) < maxLength (LRA: 500 < len < 2000), and
 *   only if its token sequence has not been kept before (de-duplication across all splits).
 *   LRA: maxDepth 10, maxArgs 10, 96 000 train / 2 000 valid / 2 000 test.
 * - Randomness only from the `Rng` passed in: the same seed gives the same data set.
 *
 * The closing brackets are kept. (The LRA input pipeline used by the SPE paper stripped every
 * non-alphanumeric character, brackets included, which made the task unsolvable: its ListOps
 * scores sit at the 17.8 % majority-class level. Upstream LRA later kept `]` and dropped the
 * parentheses; so does this module by default.) LRA's text files also wrap every binary step of
 * the tree in parentheses, `( ( ( [MAX 4 ) 3 ) ] )`; `parens: true` emits those as well, and then
 * the length limits count them too.
 *
 * Token ids (vocabulary of 18, `LISTOPS_VOCAB`):
 *   0 = padding, 1..10 = digits 0..9 (id = 1 + digit), 11 = `[MIN`, 12 = `[MAX`, 13 = `[MED`,
 *   14 = `[SM`, 15 = `]`, 16 = `(`, 17 = `)`. Labels are the value of the expression, 0..9.
 */
import { Rng } from '../backend/rng';
import { assertInt, assertNumber } from '../backend/checks';
import type { SequenceClassificationSet } from './types';

export const LISTOPS_OPERATORS = ['MIN', 'MAX', 'MED', 'SM'] as const;
export type ListOpsOperator = (typeof LISTOPS_OPERATORS)[number];

/** Token strings by id (see the module comment). */
export const LISTOPS_VOCAB = [
  '<pad>', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '[MIN', '[MAX', '[MED', '[SM', ']', '(', ')',
] as const;
export const LISTOPS_PAD = 0;
export const LISTOPS_DIGIT0 = 1;
export const LISTOPS_OP0 = 11;
export const LISTOPS_CLOSE = 15;
export const LISTOPS_LPAREN = 16;
export const LISTOPS_RPAREN = 17;

/** A ListOps expression: a digit, or an operator node with its arguments. */
export type ListOpsTree = number | { op: ListOpsOperator; args: ListOpsTree[] };

export interface ListOpsOptions {
  /** Depth at which arguments are always digits (root is depth 1). Default 10. */
  maxDepth?: number;
  /** Most arguments of one operator (at least 2). Default 10. */
  maxArgs?: number;
  /** Probability that an argument is a subtree. Default 0.25. */
  subtreeProb?: number;
  /** Keep trees with strictly more tokens than this. Default 500. */
  minLength?: number;
  /** Keep trees with strictly fewer tokens than this. Default 2000. */
  maxLength?: number;
  /** Also emit LRA's binary-step parentheses. Default false. */
  parens?: boolean;
}

/** A ListOps set: `SequenceClassificationSet` with row length `maxLength`, pad id 0, 18 tokens, 10 classes. */
export interface ListOpsSet extends SequenceClassificationSet {
  padId: 0;
}

function resolve(opts: ListOpsOptions): Required<ListOpsOptions> {
  const o = { maxDepth: 10, maxArgs: 10, subtreeProb: 0.25, minLength: 500, maxLength: 2000, parens: false, ...opts };
  assertInt(o.maxDepth, 'maxDepth', 1);
  assertInt(o.maxArgs, 'maxArgs', 2);
  assertNumber(o.subtreeProb, 'subtreeProb', { min: 0, max: 1 });
  assertInt(o.minLength, 'minLength', 0);
  assertInt(o.maxLength, 'maxLength', o.minLength + 2);
  return o;
}

/**
 * Draws one tree (the recursion of LRA's `generate_tree`), with no length limit.
 * @param depth depth of this node; the root is 1.
 */
export function generateListOpsTree(rng: Rng, opts: ListOpsOptions = {}, depth = 1): ListOpsTree {
  const o = resolve(opts);
  const grow = (d: number): ListOpsTree => {
    const r = d < o.maxDepth ? rng.uniform() : 1;
    if (r >= o.subtreeProb) return rng.int(10);
    const n = 2 + rng.int(o.maxArgs - 1);
    const args: ListOpsTree[] = [];
    for (let i = 0; i < n; i++) args.push(grow(d + 1));
    return { op: LISTOPS_OPERATORS[rng.int(LISTOPS_OPERATORS.length)], args };
  };
  return grow(depth);
}

/** The value of an expression, 0..9. */
export function evaluateListOpsTree(tree: ListOpsTree): number {
  if (typeof tree === 'number') return tree;
  return applyOperator(tree.op, tree.args.map(evaluateListOpsTree));
}

function applyOperator(op: ListOpsOperator, xs: number[]): number {
  switch (op) {
    case 'MIN':
      return Math.min(...xs);
    case 'MAX':
      return Math.max(...xs);
    case 'MED': {
      const s = [...xs].sort((a, b) => a - b);
      const m = s.length >> 1;
      return s.length % 2 === 1 ? s[m] : Math.floor((s[m - 1] + s[m]) / 2);
    }
    case 'SM':
      return xs.reduce((a, b) => a + b, 0) % 10;
  }
}

/** Token ids of an expression (see the module comment for the id layout). */
export function listOpsTokens(tree: ListOpsTree, parens = false): Int32Array {
  const out: number[] = [];
  const emit = (t: ListOpsTree) => {
    if (typeof t === 'number') {
      out.push(LISTOPS_DIGIT0 + t);
      return;
    }
    // LRA's nesting: ((((op a0) a1) ...) ]) — one '(' per binary step, opened up front.
    if (parens) for (let i = 0; i <= t.args.length; i++) out.push(LISTOPS_LPAREN);
    out.push(LISTOPS_OP0 + LISTOPS_OPERATORS.indexOf(t.op));
    for (const a of t.args) {
      emit(a);
      if (parens) out.push(LISTOPS_RPAREN);
    }
    out.push(LISTOPS_CLOSE);
    if (parens) out.push(LISTOPS_RPAREN);
  };
  emit(tree);
  return Int32Array.from(out);
}

/** Token ids as the text LRA writes (`[MAX 4 3 ]`), stopping at the first padding id. */
export function listOpsToString(tokens: ArrayLike<number>): string {
  const words: string[] = [];
  for (let i = 0; i < tokens.length && tokens[i] !== LISTOPS_PAD; i++) {
    const w = LISTOPS_VOCAB[tokens[i]];
    if (w === undefined) throw new Error(`tokens[${i}]: expected a ListOps token id in [0, ${LISTOPS_VOCAB.length}), got ${tokens[i]}`);
    words.push(w);
  }
  return words.join(' ');
}

/**
 * Evaluates a token sequence with a stack (parentheses are ignored; evaluation stops at the first
 * padding id). Throws on a malformed sequence (unbalanced `]`, an operator with fewer than one
 * argument, trailing tokens).
 */
export function evaluateListOps(tokens: ArrayLike<number>): number {
  const stack: Array<{ op: ListOpsOperator; args: number[] }> = [];
  let result: number | null = null;
  for (let i = 0; i < tokens.length && tokens[i] !== LISTOPS_PAD; i++) {
    const id = tokens[i];
    if (id === LISTOPS_LPAREN || id === LISTOPS_RPAREN) continue;
    if (result !== null) throw new Error(`tokens[${i}]: expected the end of the expression, got '${LISTOPS_VOCAB[id]}'`);
    let value: number | null = null;
    if (id >= LISTOPS_DIGIT0 && id < LISTOPS_DIGIT0 + 10) value = id - LISTOPS_DIGIT0;
    else if (id >= LISTOPS_OP0 && id < LISTOPS_OP0 + LISTOPS_OPERATORS.length) stack.push({ op: LISTOPS_OPERATORS[id - LISTOPS_OP0], args: [] });
    else if (id === LISTOPS_CLOSE) {
      const node = stack.pop();
      if (!node || node.args.length === 0) throw new Error(`tokens[${i}]: ']' without an open operator that has arguments`);
      value = applyOperator(node.op, node.args);
    } else throw new Error(`tokens[${i}]: expected a ListOps token id in [1, ${LISTOPS_VOCAB.length}), got ${id}`);
    if (value !== null) {
      if (stack.length > 0) stack[stack.length - 1].args.push(value);
      else result = value;
    }
  }
  if (stack.length > 0 || result === null) throw new Error(`tokens: incomplete expression (${stack.length} operator(s) left open)`);
  return result;
}

const MAX_CONSECUTIVE_MISSES = 100_000;

/**
 * Generates `count` distinct expressions within the length limits, as padded token rows.
 * @param rng advanced by the draws. @param opts.exclude token strings (ids joined by ',') already
 *   used elsewhere, e.g. by another split; new ones are added to it.
 * @returns tokens [count, maxLength] (pad 0), lengths, labels 0..9.
 */
export function generateListOps(count: number, rng: Rng, opts: ListOpsOptions & { exclude?: Set<string> } = {}): ListOpsSet {
  assertInt(count, 'count', 0);
  const o = resolve(opts);
  const seen = opts.exclude ?? new Set<string>();
  const length = o.maxLength;
  const tokens = new Int32Array(count * length);
  const lengths = new Int32Array(count);
  const labels = new Int32Array(count);
  let n = 0;
  let misses = 0;
  while (n < count) {
    if (misses > MAX_CONSECUTIVE_MISSES) {
      throw new Error(`generateListOps: no new expression with ${o.minLength} < tokens < ${o.maxLength} in ${MAX_CONSECUTIVE_MISSES} draws after ${n} of ${count}; widen the length limits or ask for fewer`);
    }
    const tree = generateListOpsTree(rng, o);
    const seq = listOpsTokens(tree, o.parens);
    const key = seq.length > o.minLength && seq.length < o.maxLength ? seq.join(',') : null;
    if (key === null || seen.has(key)) {
      misses++;
      continue;
    }
    misses = 0;
    seen.add(key);
    tokens.set(seq, n * length);
    lengths[n] = seq.length;
    labels[n] = evaluateListOpsTree(tree);
    n++;
  }
  return { tokens, lengths, labels, count, length, vocabSize: LISTOPS_VOCAB.length, numClasses: 10, padId: 0 };
}

/**
 * Train / valid / test ListOps sets from one seed, de-duplicated across the three
 * (drawn in that order from `new Rng(seed)`). LRA sizes: 96 000 / 2 000 / 2 000.
 */
export function listOpsSplits(
  sizes: { train: number; valid: number; test: number },
  opts: ListOpsOptions & { seed?: number } = {},
): { train: ListOpsSet; valid: ListOpsSet; test: ListOpsSet } {
  const rng = new Rng(opts.seed ?? 0);
  const exclude = new Set<string>();
  return {
    train: generateListOps(sizes.train, rng, { ...opts, exclude }),
    valid: generateListOps(sizes.valid, rng, { ...opts, exclude }),
    test: generateListOps(sizes.test, rng, { ...opts, exclude }),
  };
}
