// Keeps docs/hooks.md and createHooks() in sync: one `## <hookName>` section per hook, in order.
// Other sections of the page have headings of several words, which never look like a hook name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pino } from 'pino';
import { createHooks } from '../../core/hooks.ts';

const markdown = readFileSync(new URL('../../docs/hooks.md', import.meta.url), 'utf8');
const sections = [...markdown.matchAll(/^## ([A-Za-z]\w*)\s*$/gm)].map((m) => m[1]);
const hooks = Object.keys(createHooks(pino({ level: 'silent' })));

test('docs/hooks.md has one "## <name>" section per hook, and none for hooks that do not exist', () => {
  const missing = hooks.filter((h) => !sections.includes(h));
  const extra = sections.filter((s) => !hooks.includes(s));
  assert.deepEqual(new Set(sections), new Set(hooks), [
    'docs/hooks.md and createHooks() differ:',
    ...missing.map((h) => `  no "## ${h}" section in docs/hooks.md`),
    ...extra.map((s) => `  "## ${s}" documents a hook createHooks() does not have`),
  ].join('\n'));
});

test('docs/hooks.md sections follow the order of core/hooks.ts, once each', () => {
  assert.deepEqual(sections, hooks);
});
