import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const dir = path.resolve(__dirname, '../../notebooks');
const notebooks = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort() : [];
const text = (s: string | string[]) => (Array.isArray(s) ? s.join('') : s);

// The workbook as committed: clean inputs that `npm run reproduce` can execute. Outputs (the
// plotly.js bundle alone is ~11 MB) belong in reports/, never in git.
describe('notebooks/ as committed', () => {
  it('holds the quickstart', () => {
    assert.ok(notebooks.includes('00-quickstart.ipynb'), `notebooks/: ${notebooks.join(', ')}`);
  });

  for (const name of notebooks) {
    it(`${name}: tslab kernel, no outputs, declared figures/tables, imports from 'rpelab'`, () => {
      const nb = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
      assert.equal(nb.nbformat, 4);
      assert.equal(nb.metadata?.kernelspec?.name, 'tslab');
      const expect = nb.metadata?.rpelab?.expect;
      assert.ok(expect && Number.isInteger(expect.figures) && Number.isInteger(expect.tables), 'metadata.rpelab.expect = {figures, tables}');
      const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
      assert.ok(code.length > 0, 'no code cells');
      for (const [i, c] of code.entries()) {
        assert.deepEqual(c.outputs, [], `code cell ${i + 1} has outputs (clear them before committing)`);
        assert.equal(c.execution_count, null, `code cell ${i + 1} has an execution count`);
        for (const m of text(c.source).matchAll(/from\s+'([^']+)'/g)) {
          assert.ok(!m[1].startsWith('.') && !m[1].startsWith('/'), `code cell ${i + 1} imports '${m[1]}': import from 'rpelab' as a user would`);
        }
      }
    });
  }
});
