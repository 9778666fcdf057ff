// docs/plugins.md tells users to paste its sticky-first-balancer table into the repository's
// tenement.toml. That used to fail with a TOML redefinition error (the file had its own
// [plugins.balancer]). Paste it as the page says, and load the result as ten serve would.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../core/config.ts';
import { preparePlugins } from '../../core/loader.ts';
import { BUILTINS } from '../../plugins/index.ts';

const ROOT = join(import.meta.dirname, '../..');

test("the sticky-first-balancer table of docs/plugins.md, pasted into tenement.toml, loads that balancer", async () => {
  const page = readFileSync(join(ROOT, 'docs/plugins.md'), 'utf8');
  const step = page.slice(page.indexOf('**5. Use it.**'));
  const block = /```toml\n([\s\S]*?)```/.exec(step)?.[1];
  assert.ok(block?.includes('sticky-first-balancer.js'), 'step 5 of the walk-through has a toml block naming the example');
  const toml = `${readFileSync(join(ROOT, 'tenement.toml'), 'utf8')}\n${block}`;
  const config = parseConfig(toml, join(ROOT, 'tenement.toml'));
  const balancer = (await preparePlugins(config, BUILTINS)).find((p) => p.slot === 'balancer');
  assert.equal(balancer?.def.name, 'sticky-first-balancer');
  assert.deepEqual(balancer?.options, { max_inflight: 50 });
});
