// Keeps docs/errors.md and the ERRORS catalog in core/errors.ts in sync: one table row per code,
// in catalog order, with the catalog's status.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ERRORS, type ErrorCode } from '../../core/errors.ts';

const DOC = new URL('../../docs/errors.md', import.meta.url);
const HEADER = /^\|\s*code\s*\|\s*status\s*\|\s*message\s*\|\s*what to do\s*\|\s*$/;

interface Row { code: string; status: string; line: number }

/** The rows of the catalog table: the table whose header is `| code | status | message | what to do |`. */
function catalogRows(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => HEADER.test(l));
  assert.notEqual(start, -1, 'docs/errors.md has no "| code | status | message | what to do |" table');
  const rows: Row[] = [];
  for (let i = start + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const cells = lines[i].split('|').slice(1, -1).map((c) => c.trim());
    const m = /^`([^`]+)`$/.exec(cells[0] ?? '');
    assert.ok(m, `docs/errors.md:${i + 1}: the code cell must be written as \`TEN_ERR_...\`, got ${JSON.stringify(cells[0])}`);
    assert.equal(cells.length, 4, `docs/errors.md:${i + 1}: expected 4 cells, got ${cells.length}`);
    rows.push({ code: m[1], status: cells[1], line: i + 1 });
  }
  return rows;
}

const rows = catalogRows(readFileSync(DOC, 'utf8'));
const documented = rows.map((r) => r.code);
const catalog = Object.keys(ERRORS);

describe('docs/errors.md', () => {
  test('documents exactly the codes of ERRORS', () => {
    const missing = catalog.filter((c) => !documented.includes(c));
    const extra = documented.filter((c) => !catalog.includes(c));
    const problems = [
      ...missing.map((c) => `  missing from docs/errors.md: ${c} (add a row)`),
      ...extra.map((c) => `  not in ERRORS (core/errors.ts): ${c} (remove the row or fix its spelling)`),
    ];
    assert.deepEqual(new Set(documented), new Set(catalog), `docs/errors.md and ERRORS differ:\n${problems.join('\n')}`);
  });

  test('lists each code once, in catalog order', () => {
    const dupes = documented.filter((c, i) => documented.indexOf(c) !== i);
    assert.deepEqual(dupes, [], `codes listed more than once: ${dupes.join(', ')}`);
    assert.deepEqual(documented, catalog.filter((c) => documented.includes(c)), 'rows are not in the order of ERRORS in core/errors.ts');
  });

  test('every code is TEN_ERR_<AREA>_<WHAT>', () => {
    for (const code of new Set([...catalog, ...documented])) {
      assert.match(code, /^TEN_ERR_[A-Z]+_[A-Z_]+$/, `bad code name ${code}`);
    }
  });

  test('the status column matches the catalog', () => {
    for (const r of rows) {
      if (!(r.code in ERRORS)) continue;
      const status = /\d+/.exec(r.status)?.[0];
      assert.equal(Number(status), ERRORS[r.code as ErrorCode].status, `docs/errors.md:${r.line}: status of ${r.code}`);
    }
  });
});
