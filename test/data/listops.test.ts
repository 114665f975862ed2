import { strict as assert } from 'assert';
import {
  LISTOPS_VOCAB, generateListOps, generateListOpsTree, listOpsSplits, listOpsTokens, listOpsToString,
  evaluateListOps, evaluateListOpsTree,
} from '../../src/data';
import { Rng } from '../../src/backend/rng';
import { assertThrowsNaming } from '../helpers';

/**
 * An evaluator independent of the library's: rewrites the innermost `[OP d d ... ]` of the text
 * form to its value until one digit is left (parentheses removed first).
 */
function rewriteEvaluate(text: string): number {
  let s = text.replace(/[()]/g, ' ').replace(/\s+/g, ' ').trim();
  const inner = /\[(MIN|MAX|MED|SM)((?: \d)+) \]/;
  for (let m = inner.exec(s); m; m = inner.exec(s)) {
    const xs = m[2].trim().split(' ').map(Number);
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const v = {
      MIN: Math.min(...xs),
      MAX: Math.max(...xs),
      MED: sorted.length % 2 ? sorted[mid] : Math.floor((sorted[mid - 1] + sorted[mid]) / 2),
      SM: xs.reduce((a, b) => a + b, 0) % 10,
    }[m[1] as 'MIN' | 'MAX' | 'MED' | 'SM'];
    s = s.slice(0, m.index) + String(v) + s.slice(m.index + m[0].length);
  }
  assert.match(s, /^\d$/, `did not reduce to a digit: ${s.slice(0, 80)}`);
  return Number(s);
}

const row = (set: { tokens: Int32Array; length: number; lengths: Int32Array }, i: number) =>
  set.tokens.subarray(i * set.length, i * set.length + set.lengths[i]);

describe('data/listops (LRA ListOps generator)', () => {
  it('token ids follow the documented layout (18 ids, pad 0, digits 1..10, operators 11..14, ] 15, ( 16, ) 17)', () => {
    assert.equal(LISTOPS_VOCAB.length, 18);
    const tree = { op: 'MAX' as const, args: [4, 3, { op: 'SM' as const, args: [7, 8] }] };
    assert.deepEqual(Array.from(listOpsTokens(tree)), [12, 5, 4, 14, 8, 9, 15, 15]);
    assert.equal(listOpsToString(listOpsTokens(tree)), '[MAX 4 3 [SM 7 8 ] ]');
    // LRA's binary-step parentheses: ( ( ( [MAX 4 ) 3 ) ] )
    assert.equal(listOpsToString(listOpsTokens({ op: 'MAX', args: [4, 3] }, true)), '( ( ( [MAX 4 ) 3 ) ] )');
    assert.equal(evaluateListOpsTree(tree), 5);
  });

  it('labels equal an independent rewriting evaluator and the stack evaluator on 300 LRA-sized samples', () => {
    const set = generateListOps(300, new Rng(11), { minLength: 500, maxLength: 2000 });
    for (let i = 0; i < set.count; i++) {
      const toks = row(set, i);
      assert.equal(set.labels[i], rewriteEvaluate(listOpsToString(toks)), `sample ${i}`);
      assert.equal(set.labels[i], evaluateListOps(toks), `sample ${i}`);
    }
    // MIN/MAX make 0 and 9 the most frequent labels (LRA's majority class is about 17.8 %)
    const hist = new Array(10).fill(0);
    set.labels.forEach((l) => hist[l]++);
    assert.ok(hist.every((h) => h > 0), `label histogram ${hist}`);
  });

  it('keeps the brackets: every sample has as many ] as operators, and parses only with them', () => {
    const set = generateListOps(50, new Rng(3), { minLength: 20, maxLength: 200 });
    for (let i = 0; i < set.count; i++) {
      const toks = Array.from(row(set, i));
      const ops = toks.filter((t) => t >= 11 && t <= 14).length;
      assert.ok(ops >= 1);
      assert.equal(toks.filter((t) => t === 15).length, ops);
    }
    // the LRA pipeline bug: with the brackets stripped the expression no longer parses
    const stripped = Array.from(row(set, 0)).filter((t) => t !== 15);
    assertThrowsNaming(() => evaluateListOps(stripped), /tokens: incomplete expression/);
    assertThrowsNaming(() => evaluateListOps(Int32Array.from([12, 15])), /tokens\[1\]: ']' without an open operator that has arguments/);
    assertThrowsNaming(() => evaluateListOps(Int32Array.from([12, 5, 4, 15, 15])), /tokens\[4\]: expected the end of the expression, got ']'/);
    assertThrowsNaming(() => evaluateListOps(Int32Array.from([12, 5, 4])), /tokens: incomplete expression \(1 operator\(s\) left open\)/);
  });

  it('respects the length limits strictly (minLength < tokens < maxLength), with and without parentheses', () => {
    for (const parens of [false, true]) {
      const set = generateListOps(100, new Rng(5), { minLength: 30, maxLength: 90, parens });
      assert.equal(set.length, 90);
      for (let i = 0; i < set.count; i++) {
        assert.ok(set.lengths[i] > 30 && set.lengths[i] < 90, `length ${set.lengths[i]}`);
        assert.ok(set.tokens.subarray(i * 90 + set.lengths[i], (i + 1) * 90).every((t) => t === 0), 'padding is 0');
        assert.equal(set.labels[i], rewriteEvaluate(listOpsToString(row(set, i))));
      }
    }
  });

  it('respects maxDepth and maxArgs', () => {
    const depth = (t: ReturnType<typeof generateListOpsTree>): number => (typeof t === 'number' ? 0 : 1 + Math.max(...t.args.map(depth)));
    const widest = (t: ReturnType<typeof generateListOpsTree>): number => (typeof t === 'number' ? 0 : Math.max(t.args.length, ...t.args.map(widest)));
    const rng = new Rng(8);
    let deepest = 0;
    for (let i = 0; i < 300; i++) {
      const t = generateListOpsTree(rng, { maxDepth: 4, maxArgs: 3, subtreeProb: 0.6 });
      deepest = Math.max(deepest, depth(t));
      assert.ok(widest(t) <= 3);
      if (typeof t !== 'number') assert.ok(t.args.length >= 2);
    }
    assert.equal(deepest, 3); // operator nodes at depths 1..3; depth 4 holds digits only
  });

  it('is de-duplicated within and across splits, and determined by the seed', () => {
    const opts = { minLength: 8, maxLength: 24, maxDepth: 3, maxArgs: 3, seed: 2 };
    const a = listOpsSplits({ train: 300, valid: 40, test: 40 }, opts);
    const keys = (['train', 'valid', 'test'] as const).flatMap((s) =>
      Array.from({ length: a[s].count }, (_, i) => Array.from(row(a[s], i)).join(',')));
    assert.equal(new Set(keys).size, 380);
    const b = listOpsSplits({ train: 300, valid: 40, test: 40 }, opts);
    assert.deepEqual(Array.from(b.test.tokens), Array.from(a.test.tokens));
    assert.deepEqual(Array.from(b.train.labels), Array.from(a.train.labels));
    const c = listOpsSplits({ train: 300, valid: 40, test: 40 }, { ...opts, seed: 3 });
    assert.notDeepEqual(Array.from(c.test.tokens), Array.from(a.test.tokens));
  });

  it('refuses impossible requests instead of looping, and bad options by name', () => {
    assertThrowsNaming(() => generateListOps(10, new Rng(0), { minLength: 4, maxLength: 6, maxDepth: 2, maxArgs: 2 }), /generateListOps: no new expression with 4 < tokens < 6/);
    assertThrowsNaming(() => generateListOps(1, new Rng(0), { maxArgs: 1 }), /maxArgs: expected an integer >= 2, got 1/);
    assertThrowsNaming(() => generateListOps(1, new Rng(0), { minLength: 10, maxLength: 11 }), /maxLength: expected an integer >= 12, got 11/);
  });
});
