// Acceptance (issue 13): every shell session of README.md, docs/**/*.md and examples/*/README.md
// runs as written. Each page's ```console blocks run in order (test/docs/runner.ts) against a real
// ten serve started with the page's config, and each command must print what the page shows, once
// what varies is masked (test/docs/sessions.ts). A block that cannot run here says why in its
// header (`<!-- docs-run: skip — reason -->`); they are listed at the end with the counts:
// "docs-run: N blocks, M commands, 0 failed".
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT } from '../integration/harness.ts';
import { PageRun } from './runner.ts';
import { parsePage } from './sessions.ts';

/** The pages: README.md, docs/**\/*.md, examples/*\/README.md; or those of $DOCS_RUN (a filter). */
function pages(): string[] {
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []);
  const all = [join(ROOT, 'README.md'), ...walk(join(ROOT, 'docs')),
    ...readdirSync(join(ROOT, 'examples')).map((e) => join(ROOT, 'examples', e, 'README.md'))];
  const only = process.env.DOCS_RUN;
  return all.map((f) => relative(ROOT, f)).filter((f) => { try { readFileSync(join(ROOT, f)); return !only || f.includes(only); } catch { return false; } }).sort();
}

const counts = { blocks: 0, commands: 0, failed: 0 };
const skipped: string[] = [];
after(() => {
  console.log(`docs-run: ${counts.blocks} blocks, ${counts.commands} commands, ${counts.failed} failed; ${skipped.length} blocks skipped:`);
  for (const s of skipped.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) console.log(`  ${s}`);
});

describe('the docs\' shell sessions print what the docs show', { concurrency: 2 }, () => {
  for (const file of pages()) {
    const page = parsePage(readFileSync(join(ROOT, file), 'utf8'));
    if (page.blocks.length === 0) continue;
    test(file, async () => {
      const run = new PageRun(file, page);
      const failures: string[] = [];
      try {
        for (const block of page.blocks) {
          const where = `${file}:${block.line}`;
          if (block.header.skip !== undefined) { skipped.push(`${where}: ${block.header.skip}`); continue; }
          if (block.steps.length === 0) { failures.push(`${where}: a block with no \`$\` command needs a skip header saying why`); continue; }
          counts.blocks++;
          const results = await run.run(block).catch((err: Error) => { counts.failed++; failures.push(`${where}: ${err.message}`); return []; });
          for (const r of results) {
            counts.commands++;
            if (r.ok) continue;
            counts.failed++;
            failures.push(`${file}:${r.line}: \`${r.command}\` printed:\n${r.actual}\n--- the page shows:\n${r.expected}`);
          }
        }
      } finally {
        await run.close();
      }
      assert.equal(failures.length, 0, failures.join('\n\n'));
    });
  }
});
