// docs/cli.md's reference parts are what the CLI's own definitions make (cli/reference.ts), so they
// cannot drift from what `ten` accepts (issue 13). `npm run docs:cli` rewrites them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { commandModels } from '../../cli/help.ts';
import { buildCli } from '../../cli/index.ts';
import { renderReference } from '../../cli/reference.ts';

const DOC = join(import.meta.dirname, '../../docs/cli.md');
const commands = commandModels(buildCli());

test('docs/cli.md has the generated reference of every command, as the definitions make it', () => {
  const doc = readFileSync(DOC, 'utf8');
  assert.equal(renderReference(doc, commands), doc, 'docs/cli.md is out of date: run `npm run docs:cli`');
  for (const c of commands) assert.ok(doc.includes(`<!-- generated: ten ${c.path[0]}`), `ten ${c.path.join(' ')}`);
});

test('a hand edit of a generated part is undone, a command without a section is refused', () => {
  const doc = readFileSync(DOC, 'utf8');
  const edited = doc.replace('| `--no-wait` | Return at once', '| `--wait` | Return at once');
  assert.notEqual(edited, doc);
  assert.equal(renderReference(edited, commands), doc);
  const without = doc.replace('### `ten completion`', '### Completion');
  assert.throws(() => renderReference(without, commands), /has no section \(### `ten …`\) for ten completion/);
});
