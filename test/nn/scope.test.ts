import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { Linear, NotebookScope, notebookScope } from '../../src/nn';
import { assertThrowsNaming } from '../helpers';

describe('NotebookScope (what a notebook keeps across cells, by name)', () => {
  it('re-running a cell frees what it kept before under that name and nothing else; a value kept again is not freed', () => {
    const start = tf.memory().numTensors;
    const scope = new NotebookScope();
    const a = scope.keep('a', tf.ones([2]));
    const cell = () => scope.keep('b', [tf.zeros([3]), new Linear(2, 2, { rng: new Rng(1) })] as const);
    const first = cell();
    assert.equal(scope.tensorCount(), 1 + 1 + first[1].namedVariables().length);
    const second = cell(); // the same cell again
    assert.ok(first[0].isDisposed, "the first run's tensor is freed");
    assert.ok(!a.isDisposed && !second[0].isDisposed, 'other names and the new value are kept');
    assert.equal(tf.memory().numTensors - start, scope.tensorCount());
    scope.keep('a', [a, tf.ones([1])]); // a kept again inside a list: not freed
    assert.ok(!a.isDisposed);
    assert.deepEqual(scope.names(), ['a', 'b']);
    assert.match(scope.summary(), /the notebook holds \d+ tensor\(s\) under 2 name\(s\) \(a, b\)/);
    scope.dispose();
    assert.equal(tf.memory().numTensors, start);
    assert.deepEqual(scope.names(), []);
  });

  it('notebookScope() is one object per process; bad input names the parameter', () => {
    assert.equal(notebookScope(), notebookScope());
    const scope = new NotebookScope();
    const one = tf.scalar(1);
    assertThrowsNaming(() => scope.keep('', one), /name: expected a non-empty string/);
    one.dispose();
    assertThrowsNaming(() => scope.keep('x', 3 as never), /value: expected a tensor, a Module or a list of them for 'x', got 3/);
    scope.dispose();
  });
});
